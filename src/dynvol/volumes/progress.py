"""A byte progress bar on stderr (rich), or nothing.

It runs a refresh thread, which is fine here: backup, restore, clone and
migrate never enter namespaces (see STYLE.md section 2).
"""

from __future__ import annotations

import sys


class NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def advance(self, n: int) -> None:
        pass

    def total(self, n: int | None) -> None:
        pass


class Bar(NoProgress):
    def __init__(self, description: str, total: int | None):
        from rich.console import Console
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                   TransferSpeedColumn)

        self._p = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                           TransferSpeedColumn(), TimeRemainingColumn(),
                           console=Console(file=sys.stderr), transient=True)
        self._task = self._p.add_task(description, total=total)

    def __enter__(self):
        self._p.start()
        return self

    def __exit__(self, *exc):
        self._p.stop()
        return False

    def advance(self, n: int) -> None:
        self._p.advance(self._task, n)

    def total(self, n: int | None) -> None:
        self._p.update(self._task, total=n)


def enabled(*, quiet: bool = False, as_json: bool = False) -> bool:
    return not quiet and not as_json and sys.stderr.isatty()


def bar(description: str, total: int | None, *, show: bool):
    return Bar(description, total) if show else NoProgress()


def tree_bytes(path: str) -> int:
    """Apparent bytes under ``path`` (what tar will read), for the bar's total and ETA."""
    import os

    total = 0
    stack = [path]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    try:
                        if e.is_dir(follow_symlinks=False):
                            stack.append(e.path)
                        elif e.is_file(follow_symlinks=False):
                            st = e.stat(follow_symlinks=False)
                            total += min(st.st_size, st.st_blocks * 512) + 512
                    except OSError:
                        continue
        except OSError:
            continue
    return total
