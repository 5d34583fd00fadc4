"""Field definitions, the RPC signature marker, and conversions of written values."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from .errors import value_error

RELATIONAL = ("many2one", "one2many", "many2many")
NUMERIC = ("integer", "float", "monetary")


@dataclass(frozen=True)
class Field:
    type: str
    string: str = ""
    relation: str | None = None
    inverse: str | None = None  # one2many: the many2one on `relation` that points back
    required: bool = False
    readonly: bool = False
    store: bool = True  # as Odoo reports it
    searchable: bool | tuple[int, ...] | None = None  # defaults to `store`; or the versions
    compute: str | None = None  # name of a model method (record) -> value
    setter: str | None = None  # name of a model method (record id, value) -> None (an inverse)
    selection: tuple = ()
    company_dependent: bool = False
    digits: int | None = None
    default: object = None
    versions: tuple[int, ...] = (18, 19)
    name: str = ""

    def can_search(self, version: int) -> bool:
        if self.searchable is None:
            return self.store
        if isinstance(self.searchable, tuple):
            return version in self.searchable
        return self.searchable


MAGIC_FIELDS = {
    "id": Field("integer", "ID", readonly=True),
    "display_name": Field("char", "Display Name", store=False, compute="_compute_display_name"),
    "create_uid": Field("many2one", "Created by", relation="res.users", readonly=True),
    "create_date": Field("datetime", "Created on", readonly=True),
    "write_uid": Field("many2one", "Last Updated by", relation="res.users", readonly=True),
    "write_date": Field("datetime", "Last Updated on", readonly=True),
}

CUSTOM_FIELD_TYPES = {
    "char", "text", "html", "integer", "float", "monetary", "boolean", "date", "datetime",
    "many2one",
}  # fmt: skip


def api(*required: str, model: bool = False, var_kwargs: bool = False, names=None, **optional):
    """Marks a model method as callable over RPC, with Odoo's parameter names.

    `model` marks an @api.model method (called without ids); `names` renames parameters per
    version where Odoo's signature differs (e.g. 18's `ResCompany.write(values)`).
    """

    def mark(method: Callable) -> Callable:
        method.rpc = Signature(required, optional, model, var_kwargs, names or {})
        return method

    return mark


@dataclass(frozen=True)
class Signature:
    required: tuple[str, ...]
    optional: dict
    model: bool
    var_kwargs: bool
    names: dict = field(default_factory=dict)

    def parameters(self, version: int) -> list[tuple[str, str]]:
        """(name Odoo exposes, Python parameter) pairs, in positional order."""
        renames = self.names.get(version, {})
        return [(renames.get(p, p), p) for p in (*self.required, *self.optional)]


def round_decimal(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def to_decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        return Decimal(int(bool(value)))
    if isinstance(value, int | str):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    raise value_error(f"could not convert {value!r} to a number")


def parse_command(command) -> tuple[int, int, object]:
    if not isinstance(command, list | tuple) or not command:
        raise value_error(f"Invalid x2many command {command!r}")
    code = command[0]
    rid = command[1] if len(command) > 1 else 0
    payload = command[2] if len(command) > 2 else None
    return code, rid, payload


def parse_date(value: object, kind: str) -> str | None:
    if not value:
        return None
    text = str(value)
    try:
        if kind == "date":
            return datetime.date.fromisoformat(text[:10]).isoformat()
        return datetime.datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        pattern = "%Y-%m-%d" if kind == "date" else "%Y-%m-%d %H:%M:%S"
        raise value_error(f"time data {text!r} does not match format {pattern!r}") from None
