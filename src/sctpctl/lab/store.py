"""The lab's durable object store: SQLite in WAL mode, one row per object, one global counter.

Every write is one SQLite transaction that stores the object *and* the new value of the global
resourceVersion counter, committed before the caller hears of success. So:

- a restart, or a ``kill -9`` at any moment, loses no acknowledged write (WAL with
  ``synchronous=NORMAL`` is durable across process crashes; only a power loss may roll back the
  last transactions, which a lab on one machine can live with, and ``durable=True`` makes every
  commit fsync for those who cannot);
- resourceVersions keep increasing across restarts, because the counter lives in the same file;
- a multi-object change (a namespace and everything in it) commits all or nothing
  (:meth:`Store.transaction`).

A full copy of the objects is kept in memory: the lab holds hundreds of objects, not millions, and
reads (lists with selectors, watches) then cost no I/O. The store knows nothing of Kubernetes
semantics; :mod:`sctpctl.lab.registry` builds those on top.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Key = tuple[str, str, str]
"(resource, namespace, name): ``resource`` is ``<group>/<plural>``, namespace ```` if none."

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    resource  TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    rv        INTEGER NOT NULL,
    body      TEXT NOT NULL,
    PRIMARY KEY (resource, namespace, name)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('resourceVersion', 0);
"""


class Store:
    """Objects by key, persisted in one SQLite file (``:memory:`` for throw-away stores)."""

    def __init__(self, path: Path | str, *, durable: bool = False) -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.executescript(_SCHEMA)
        self._objects: dict[Key, dict[str, Any]] = {}
        for resource, namespace, name, body in self._db.execute(
            "SELECT resource, namespace, name, body FROM objects"
        ):
            self._objects[(resource, namespace, name)] = json.loads(body)
        row = self._db.execute(
            "SELECT value FROM counters WHERE name = 'resourceVersion'"
        ).fetchone()
        self._rv: int = row[0]
        self._depth = 0
        self._undo: dict[Key, dict[str, Any] | None] = {}

    @property
    def resource_version(self) -> int:
        """The last resourceVersion handed out (the counter never goes back)."""
        return self._rv

    def close(self) -> None:
        self._db.close()

    def get(self, key: Key) -> dict[str, Any] | None:
        return self._objects.get(key)

    def items(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """The objects of one resource, in one namespace or all, ordered by namespace and name."""
        found = [
            (key, obj)
            for key, obj in self._objects.items()
            if key[0] == resource and (namespace is None or key[1] == namespace)
        ]
        found.sort(key=lambda pair: pair[0])
        return [obj for _key, obj in found]

    def keys_in_namespace(self, namespace: str) -> list[Key]:
        return sorted(key for key in self._objects if key[1] == namespace)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all of them are committed together, or none (on an exception)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        snapshot_rv = self._rv
        undo: dict[Key, dict[str, Any] | None] = {}
        self._undo = undo
        # No savepoints: an exception raised inside a nested block must reach the outermost
        # block to roll back, which is how the registry uses them.
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
            self._db.execute(
                "UPDATE counters SET value = ? WHERE name = 'resourceVersion'", (self._rv,)
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            self._rv = snapshot_rv
            for key, old in undo.items():
                if old is None:
                    self._objects.pop(key, None)
                else:
                    self._objects[key] = old
            raise
        finally:
            self._depth = 0

    def next_resource_version(self) -> int:
        """Take the next resourceVersion; it is persisted with the write that uses it."""
        self._rv += 1
        return self._rv

    def put(self, key: Key, obj: dict[str, Any], rv: int) -> None:
        """Store ``obj`` (whose metadata already carries ``rv``) under ``key``."""
        with self.transaction():
            self._undo.setdefault(key, self._objects.get(key))
            self._db.execute(
                "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?)",
                (*key, rv, json.dumps(obj, separators=(",", ":"))),
            )
            self._objects[key] = obj

    def delete(self, key: Key) -> None:
        with self.transaction():
            self._undo.setdefault(key, self._objects.get(key))
            self._db.execute(
                "DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?", key
            )
            self._objects.pop(key, None)

    def bump(self) -> int:
        """Take and persist a resourceVersion that no object carries (e.g. for a bookmark)."""
        with self.transaction():
            return self.next_resource_version()
