"""The privileged step: enter a container's mount namespace and place or remove mounts.

It runs in a process that has exactly one thread (a forked child, or a fresh
interpreter started as ``python -m dynvol.helper``), because ``setns`` into a
mount namespace fails once a process has a second thread. The process that
calls :func:`dynvol.helper.runner.run` never changes namespace.

The request is a small JSON-serializable dict (:mod:`dynvol.helper.request`),
so the same step can later run in a short-lived privileged helper container.
"""
