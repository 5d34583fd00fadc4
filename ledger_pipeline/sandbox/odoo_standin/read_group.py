"""Grouped reads as Odoo answers them: `read_group` (Odoo 18; still in 19, deprecated) and
`formatted_read_group` (Odoo 19).

Modelled on Odoo's public source (18.0 `odoo/models.py` `read_group`, 19.0 `odoo/orm/models.py`
`_read_group` and `addons/web/models/models.py` `formatted_read_group`), not on a recorded
answer: no recorded Odoo transcript (ledger_pipeline_tests/fixtures/odoo*-transcript.json) holds a
grouped read.

Both group the records a domain matches by plain stored fields: a many2one group's value is
[id, display_name] (False for none), aggregates are "field:function" over the group's non-empty
values (an empty group's SUM is False, as PostgreSQL's NULL is), and the groups come ordered by
their values (a many2one by its model's `_order`), empty values last. `read_group` keys an
aggregate by its field name ("balance"), counts in `__count` (or `<field>_count` when lazy with
one groupby) and gives each group its `__domain`; `formatted_read_group` keys an aggregate by
its spec ("balance:sum"), counts only when "__count" is asked and gives `__extra_domain`.
Both domains are written as Odoo 18's `expression.AND` writes them (explicit `&` prefixes); 19
builds them with its `Domain` class, whose list form may be ordered or simplified differently
while selecting the same records.
Date granularities, dotted groupbys and `having` are not played: asked for, the stand-in says
so in a server error rather than answer differently from Odoo.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import Decimal

from .errors import value_error

# Odoo's own patterns (odoo/models.py): `regex_field_agg` for read_group's `fields`,
# `regex_read_group_spec` for groupby and aggregate specs.
FIELD_AGG = re.compile(r"(\w+)(?::(\w+)(?:\((\w+)\))?)?")
GROUP_SPEC = re.compile(r"(\w+)(\.([\w\.]+))?(?::(\w+))?$")
AGGREGATES = frozenset(
    {"sum", "avg", "max", "min", "bool_and", "bool_or", "array_agg", "array_agg_distinct",
     "recordset", "count", "count_distinct"}
)  # fmt: skip
SUMMED_TYPES = ("integer", "float", "monetary")  # the types whose default aggregator is "sum"
TRUE_LEAF = (1, "=", 1)
ARITY = {"!": 1, "&": 2, "|": 2}


def read_group(model, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True):
    """`BaseModel.read_group`: one dict per group."""
    groupby = [groupby] if isinstance(groupby, str) else list(groupby or [])
    lazy_groupby = groupby[:1] if lazy else groupby
    annotated_groupby: dict[str, str] = {}
    for spec in lazy_groupby:
        name, path, granularity = _parse_spec(spec)
        spec_field = _field(model, name)
        if path:
            raise value_error(f"Property name {path!r} has to be used on a property field.")
        if spec_field.type in ("date", "datetime"):
            granularity = granularity or "month"
        annotated_groupby[spec] = f"{name}:{granularity}" if granularity else spec
    count_key = f"{lazy_groupby[0].split(':')[0]}_count" if lazy and len(lazy_groupby) == 1 else ""
    aggregates: dict[str, str] = {count_key or "__count": "__count"}
    for spec in fields or []:
        if spec == "__count":
            continue
        found = FIELD_AGG.match(spec)
        if not found:
            raise value_error(f"Invalid field specification {spec!r}.")
        name, function, source = found.groups()
        if source:
            aggregates[name] = f"{source}:{function}"
        elif function:
            aggregates[name] = f"{name}:{function}"
        else:
            spec_field = _field(model, name)
            summed = spec_field.type in SUMMED_TYPES and name != "id"
            if spec_field.store and summed and spec not in annotated_groupby:
                aggregates[name] = f"{name}:sum"
    if orderby:
        orderby = ",".join(_annotated_order(term, annotated_groupby, aggregates) for term in
                           orderby.split(","))  # fmt: skip
    else:
        orderby = ",".join(annotated_groupby.values())
    rows = grouped_rows(
        model, domain, list(annotated_groupby.values()), list(aggregates.values()),
        offset=offset, limit=limit, order=orderby,
    )  # fmt: skip
    keys = [*annotated_groupby, *aggregates]
    result = []
    for row in rows:
        group = dict(zip(keys, row, strict=True))
        group_domain = list(domain or [])
        for spec in lazy_groupby:
            value, extra = _format_value(model, spec, group[spec])
            group[spec] = value
            group_domain = and_domains([group_domain, extra])
        group["__domain"] = group_domain
        if len(lazy_groupby) < len(groupby):
            group["__context"] = {"group_by": groupby[len(lazy_groupby) :]}
        result.append(group)
    return result


def formatted_read_group(
    model, domain, groupby=(), aggregates=(), having=(), offset=0, limit=None, order=None
):
    """Odoo 19's `formatted_read_group`: one dict per group, aggregates keyed by their spec."""
    groupby = tuple(groupby or ())
    aggregates = tuple(spec.replace(":recordset", ":array_agg") for spec in aggregates or ())
    if having:
        raise value_error("the Odoo stand-in does not evaluate `having` in a grouped read")
    rows = grouped_rows(
        model, domain, list(groupby), list(aggregates),
        offset=offset, limit=limit, order=order or ", ".join(groupby),
    )  # fmt: skip
    result = []
    for row in rows:
        group: dict = {}
        extras = []
        for spec, value in zip(groupby, row, strict=False):
            group[spec], extra = _format_value(model, spec, value)
            extras.append(extra)
        group["__extra_domain"] = and_domains(extras)
        for spec, value in zip(aggregates, row[len(groupby) :], strict=True):
            group[spec] = value
        result.append(group)
    return result


def grouped_rows(model, domain, groupby: list[str], aggregates: list[str], *, offset=0,
                 limit=None, order=None) -> list[tuple]:  # fmt: skip
    """`BaseModel._read_group`: (group values…, aggregate values…) per group; a many2one's
    value is its id (None when empty). The specs are checked before any record is read, as
    Odoo builds its SQL before running it."""
    group_keys = [_group_key(model, spec) for spec in groupby]
    folds = [_aggregate(model, spec) for spec in aggregates]
    records = [model.record(rid) for rid in model.search_ids(domain or [])]
    if not groupby:
        return [tuple(fold(records) for fold in folds)]
    groups: dict[tuple, list[dict]] = {}
    for record in sorted(records, key=lambda r: r["id"]):
        groups.setdefault(tuple(key(record) for key in group_keys), []).append(record)
    rows = [(*values, *(fold(members) for fold in folds)) for values, members in groups.items()]
    rows = _ordered(model, rows, groupby, aggregates, order)
    end = offset + limit if limit else None
    return rows[offset or 0 : end]


def and_domains(domains: Sequence[list]) -> list:
    """`odoo.osv.expression.AND`: the domains' normalized terms behind one `&` per join."""
    result: list = []
    count = 0
    for domain in domains:
        if domain:
            result += normalize_domain(domain)
            count += 1
    return ["&"] * (count - 1) + result or [TRUE_LEAF]


def normalize_domain(domain: list) -> list:
    """`odoo.osv.expression.normalize_domain`: the implicit `&` between terms made explicit."""
    if not domain:
        return [TRUE_LEAF]
    result: list = []
    expected = 1
    for token in domain:
        if expected == 0:  # one more term than the operators ask for: an implicit AND
            result[0:0] = ["&"]
            expected = 1
        if isinstance(token, list | tuple):
            expected -= 1
            token = tuple(token)
        else:
            expected += ARITY.get(token, 0) - 1
        result.append(token)
    return result


# -- specs -------------------------------------------------------------------------------------


def _parse_spec(spec: str) -> tuple[str, str | None, str | None]:
    found = GROUP_SPEC.match(spec) if isinstance(spec, str) else None
    if not found:
        raise value_error(
            f"Invalid aggregate/groupby specification {spec!r}.\n"
            '- Valid aggregate specification looks like "<field_name>:<agg>" example: '
            '"quantity:sum".\n'
            '- Valid groupby specification looks like "<no_datish_field_name>" or '
            '"<datish_field_name>:<granularity>" example: "date:month" or '
            '"<properties_field_name>.<property>:<granularity>".'
        )
    return found.group(1), found.group(3), found.group(4)


def _field(model, name: str, spec: str | None = None):
    field = model.fields.get(name)
    if field is None:
        suffix = f" for {spec!r}." if spec else ""
        raise value_error(f"Invalid field {name!r} on model {model._name!r}{suffix}")
    return field


def _stored(model, name: str, field) -> None:
    if not field.store:
        raise value_error(f"Cannot convert {model._name}.{name} to SQL because it is not stored")


def _group_key(model, spec: str) -> Callable[[dict], object]:
    name, path, granularity = _parse_spec(spec)
    field = _field(model, name)
    if path or granularity or field.type in ("date", "datetime", "many2many", "one2many"):
        raise value_error(
            f"the Odoo stand-in groups by plain stored fields only, not by {spec!r}"
        )  # Odoo would group by it; the stand-in refuses rather than answer otherwise
    _stored(model, name, field)
    if field.type == "boolean":
        return lambda record: bool(model.value(record, name))
    return lambda record: _empty_as_none(model.value(record, name))


def _aggregate(model, spec: str) -> Callable[[list[dict]], object]:
    if spec == "__count":
        return len
    name, path, function = _parse_spec(spec)
    if path:
        raise value_error(f"Invalid {spec!r}, this dot notation is not supported")
    field = _field(model, name, spec)
    if not function:
        raise value_error(f"Aggregate method is mandatory for {name!r}")
    if function not in AGGREGATES:
        raise value_error(f"Invalid aggregate method {function!r} for {spec!r}.")
    _stored(model, name, field)

    def fold(records: list[dict]) -> object:
        values = [_empty_as_none(model.value(r, name)) for r in records]
        present = [v for v in values if v is not None]
        if function == "count":
            return len(present)
        if function == "count_distinct":
            return len(set(present))
        if function in ("array_agg", "recordset"):
            return values
        if function == "array_agg_distinct":
            return sorted(set(present), key=_sortable)
        if not present:
            return False  # PostgreSQL's NULL, which Odoo answers as False
        if function == "sum":
            return sum(present, Decimal(0) if field.type == "monetary" else 0)
        if function == "avg":
            return sum(Decimal(str(v)) for v in present) / len(present)
        if function == "min":
            return min(present, key=_sortable)
        if function == "max":
            return max(present, key=_sortable)
        if function == "bool_and":
            return all(present)
        return any(present)  # bool_or

    return fold


def _annotated_order(term: str, groupby: dict[str, str], aggregates: dict[str, str]) -> str:
    """read_group's `orderby` in `_read_group` terms ("balance desc" → "balance:sum desc")."""
    term = term.strip()
    for key, annotated in [*reversed(groupby.items()), *aggregates.items()]:
        key = key.split(":")[0]
        if term.startswith(f"{key} ") or term == key:
            return term.replace(key, annotated)
    return term


def _ordered(model, rows: list[tuple], groupby, aggregates, order: str | None) -> list[tuple]:
    """Rows sorted by `order`: groupby or aggregate specs, each `asc` (empty last) or `desc`;
    a many2one in its model's `_order`, as Odoo's SQL orders it."""
    positions = {spec: i for i, spec in enumerate([*groupby, *aggregates])}
    keys = []
    for part in (order or "").split(","):
        words = part.split()
        if not words:
            continue
        spec, descending = words[0], len(words) > 1 and words[1].lower() == "desc"
        if spec not in positions:
            raise value_error(
                f"Order term {part.strip()!r} is not a valid aggregate nor valid groupby"
            )
        index = positions[spec]
        grouped = spec in groupby
        rank = _many2one_rank(model, spec, [row[index] for row in rows]) if grouped else None
        boolean = grouped and model.fields[spec].type == "boolean"
        keys.append((index, rank, descending, boolean))
    for index, rank, descending, boolean in reversed(keys):  # stable sorts, least significant 1st

        def empty(row, index=index, boolean=boolean) -> bool:
            return row[index] is None or (row[index] is False and not boolean)

        present = [row for row in rows if not empty(row)]
        empties = [row for row in rows if empty(row)]

        def value(row, index=index, rank=rank):
            return rank[row[index]] if rank is not None else _sortable(row[index])

        present.sort(key=value, reverse=descending)
        rows = empties + present if descending else present + empties
    return rows


def _many2one_rank(model, spec: str, values: list) -> dict | None:
    field = model.fields[spec]
    if field.type != "many2one":
        return None
    comodel = model.env[field.relation]
    ids = sorted({v for v in values if v})
    return {rid: position for position, rid in enumerate(comodel.sorted_ids(ids))}


def _format_value(model, spec: str, value: object) -> tuple[object, list]:
    """A group's value as Odoo answers it, and the domain term that selects its records."""
    name = spec.split(":")[0]
    field = model.fields[name]
    if field.type == "many2one":
        if not value:
            return False, [(name, "=", False)]
        return [value, model.env[field.relation].display_name(value)], [(name, "=", value)]
    value = False if value is None else value
    return value, [(name, "=", value)]


def _empty_as_none(value: object) -> object:
    return None if value is False or value == "" else value


def _sortable(value: object) -> object:
    return Decimal(str(value)) if isinstance(value, float) else value
