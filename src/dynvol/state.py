"""A small SQLite store of what dynvol attached.

It is a cache, not the truth: every reader reconciles it with the container's
mountinfo (see :mod:`dynvol.attach`). A row is written *before* the mount is
moved into the container, keyed by the detached mount's ID, so a crash at any
point leaves either a live mount with its row or a row that reconciliation
prunes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass, field

DEFAULT_DIR = "/var/lib/dynvol"
_connections: dict[str, sqlite3.Connection] = {}  # one per database file, reused by every Store
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS attachments (
    id            INTEGER PRIMARY KEY,
    container_id  TEXT NOT NULL,
    container     TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    target        TEXT NOT NULL,
    type          TEXT NOT NULL,
    source        TEXT NOT NULL,
    host_path     TEXT NOT NULL,
    options       TEXT NOT NULL,
    mnt_id        INTEGER NOT NULL,
    mnt_unique    INTEGER,
    dev           TEXT NOT NULL,
    attached_at   REAL NOT NULL,
    extra         TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS attachments_container ON attachments(container_id);
"""


@dataclass
class Attachment:
    container_id: str
    container: str
    started_at: str
    target: str
    type: str
    source: str
    host_path: str
    options: list[str]
    mnt_id: int
    mnt_unique: int | None
    dev: str
    attached_at: float = field(default_factory=time.time)
    extra: dict = field(default_factory=dict)
    id: int | None = None

    def to_dict(self) -> dict:
        return {"container": self.container, "container_id": self.container_id, "target": self.target,
                "source": self.source, "type": self.type, "host_path": self.host_path,
                "options": self.options, "mount_id": self.mnt_id,
                "attached_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.attached_at)),
                **({"extra": self.extra} if self.extra else {})}


def state_dir() -> str:
    return os.environ.get("DYNVOL_STATE_DIR") or DEFAULT_DIR


class Store:
    def __init__(self, directory: str | None = None):
        self.directory = directory or state_dir()
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            path = os.path.join(self.directory, "state.db")
            db = _connections.get(path)
            if db is None:
                db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA synchronous=NORMAL")
                if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                    db.execute("PRAGMA journal_mode=WAL")  # persistent: set once, with the schema
                    db.executescript(_SCHEMA)
                    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                _connections[path] = db
            self._db = db
        return self._db

    def exists(self) -> bool:
        return self._db is not None or os.path.exists(os.path.join(self.directory, "state.db"))

    def add(self, a: Attachment) -> Attachment:
        cur = self.db.execute(
            "INSERT INTO attachments (container_id, container, started_at, target, type, source,"
            " host_path, options, mnt_id, mnt_unique, dev, attached_at, extra)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (a.container_id, a.container, a.started_at, a.target, a.type, a.source, a.host_path,
             json.dumps(a.options), a.mnt_id, a.mnt_unique, a.dev, a.attached_at, json.dumps(a.extra)))
        a.id = cur.lastrowid
        return a

    def update_target(self, row_id: int, target: str) -> None:
        self.db.execute("UPDATE attachments SET target=? WHERE id=?", (target, row_id))

    def remove(self, ids: list[int]) -> None:
        if ids:
            self.db.executemany("DELETE FROM attachments WHERE id=?", [(i,) for i in ids])

    def list(self, container_id: str | None = None) -> list[Attachment]:
        if not self.exists():
            return []
        q = "SELECT id, container_id, container, started_at, target, type, source, host_path, options," \
            " mnt_id, mnt_unique, dev, attached_at, extra FROM attachments"
        args: tuple = ()
        if container_id:
            q += " WHERE container_id=?"
            args = (container_id,)
        out = []
        for r in self.db.execute(q + " ORDER BY attached_at, id", args):
            out.append(Attachment(id=r[0], container_id=r[1], container=r[2], started_at=r[3], target=r[4],
                                  type=r[5], source=r[6], host_path=r[7], options=json.loads(r[8]),
                                  mnt_id=r[9], mnt_unique=r[10], dev=r[11], attached_at=r[12],
                                  extra=json.loads(r[13])))
        return out

    def container_ids(self) -> list[str]:
        if not self.exists():
            return []
        return [r[0] for r in self.db.execute("SELECT DISTINCT container_id FROM attachments")]
