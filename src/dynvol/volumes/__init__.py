"""Data volumes: backup, restore, verify, clone and migrate.

Layout of this package (plain Python above the engine layer; it never imports
the Docker SDK):

- :mod:`archive`  the archive format: manifest, trailer, tar framing, the
  streaming tar scanner, compression;
- :mod:`access`   how to reach a volume's files: straight from the host, or
  through a short-lived helper container (local or remote engine);
- :mod:`streams`  GNU tar readers (volume -> tar stream) and sinks
  (tar stream -> staging directory -> swap);
- :mod:`quiesce`  pause/stop the containers using a volume, always resumed;
- :mod:`backup`, :mod:`restore`, :mod:`transfer` (clone, migrate),
  :mod:`inventory` (ls, inspect), :mod:`progress`.
"""
