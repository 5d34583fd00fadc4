"""The stand-in's database: in-memory tables with an undo journal.

Every Odoo RPC call is one transaction; `transaction()` undoes everything a failing call changed.
Record dicts are never changed in place outside this module, so the journal sees every change.
Ids are not given back on rollback, like PostgreSQL sequences.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


class Store:
    def __init__(self) -> None:
        self._tables: dict[str, dict[int, dict]] = defaultdict(dict)
        self._next_id: dict[str, int] = defaultdict(lambda: 1)
        # (model, field) -> value -> ids; a tuple value (many2many) is indexed per element
        self._indexes: dict[tuple[str, str], dict[object, set[int]]] = {}
        self._undo: list[tuple] | None = None
        self._changes: dict[str, int] = defaultdict(int)  # per table, for caches built on it

    # -- structure ------------------------------------------------------------------------------
    def add_index(self, model: str, field: str) -> None:
        index: dict[object, set[int]] = defaultdict(set)
        for rid, record in self._tables[model].items():
            for key in _keys(record.get(field)):
                index[key].add(rid)
        self._indexes[(model, field)] = index

    def start_ids_at(self, model: str, next_id: int) -> None:
        self._next_id[model] = max(self._next_id[model], next_id)

    # -- reading --------------------------------------------------------------------------------
    def get(self, model: str, rid: int) -> dict | None:
        return self._tables[model].get(rid)

    def all(self, model: str) -> Iterator[dict]:
        return iter(list(self._tables[model].values()))

    def lookup(self, model: str, field: str, value: object) -> list[int]:
        return sorted(self._indexes[(model, field)].get(value, ()))

    def changes(self, model: str) -> int:
        """A number that moves whenever the table changes."""
        return self._changes[model]

    # -- writing --------------------------------------------------------------------------------
    def new_id(self, model: str) -> int:
        rid = self._next_id[model]
        self._next_id[model] = rid + 1
        return rid

    def insert(self, model: str, values: dict) -> int:
        rid = values.get("id") or self.new_id(model)
        self.start_ids_at(model, rid + 1)
        self._put(model, {**values, "id": rid})
        self._log(("insert", model, rid))
        return rid

    def update(self, model: str, rid: int, changes: dict) -> None:
        record = self._tables[model][rid]
        changes = {k: v for k, v in changes.items() if record.get(k, _ABSENT) != v}
        if not changes:
            return
        self._log(("update", model, rid, {k: record.get(k, _ABSENT) for k in changes}))
        self._change(model, rid, changes)

    def delete(self, model: str, rid: int) -> None:
        record = self._tables[model][rid]
        self._log(("delete", model, rid, record))
        self._drop(model, rid)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._undo = []
        try:
            yield
        except BaseException:
            for entry in reversed(self._undo):
                self._revert(entry)
            raise
        finally:
            self._undo = None

    # -- internals ------------------------------------------------------------------------------
    def _log(self, entry: tuple) -> None:
        if self._undo is not None:
            self._undo.append(entry)

    def _revert(self, entry: tuple) -> None:
        kind, model, rid = entry[:3]
        if kind == "insert":
            self._drop(model, rid)
        elif kind == "delete":
            self._put(model, entry[3])
        else:
            self._change(model, rid, entry[3])

    def _put(self, model: str, record: dict) -> None:
        self._changes[model] += 1
        self._tables[model][record["id"]] = record
        for (indexed_model, field), index in self._indexes.items():
            if indexed_model == model:
                for key in _keys(record.get(field)):
                    index[key].add(record["id"])

    def _drop(self, model: str, rid: int) -> None:
        self._changes[model] += 1
        record = self._tables[model].pop(rid)
        for (indexed_model, field), index in self._indexes.items():
            if indexed_model == model:
                for key in _keys(record.get(field)):
                    index[key].discard(rid)

    def _change(self, model: str, rid: int, changes: dict) -> None:
        self._changes[model] += 1
        old = self._tables[model][rid]
        new = {k: v for k, v in {**old, **changes}.items() if v is not _ABSENT}
        for (indexed_model, field), index in self._indexes.items():
            if indexed_model == model and field in changes:
                for key in _keys(old.get(field)):
                    index[key].discard(rid)
                for key in _keys(new.get(field)):
                    index[key].add(rid)
        self._tables[model][rid] = new


_ABSENT = object()


def _keys(value: object) -> Iterable[object]:
    if value is None or value is _ABSENT:
        return ()
    if isinstance(value, tuple):
        return value
    return (value,)
