"""dynvol: hot-plug volumes into running containers and manage Docker data volumes.

The in-process API lives in :mod:`dynvol.api`; it is imported lazily so that
``import dynvol`` stays cheap for the CLI.
"""

__version__ = "0.1.0"
