"""Odoo domains: prefix `&`, `|`, `!` with an implicit AND between terms, and leaf operators.

`parse` turns a domain into a tree, `compile_tree` into a predicate over records, given a function
that compiles one leaf (the ORM knows the fields). `match` gives a leaf operator's meaning over the
values a record holds at a path: several for a many2many, so positive operators mean "any value
matches" and negative ones "no value matches", as Odoo's SQL does.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from decimal import Decimal
from functools import cmp_to_key

Predicate = Callable[[dict], bool]

OPERATORS = frozenset(
    {"=", "!=", "<>", "in", "not in", "like", "ilike", "not like", "not ilike", "=like", "=ilike",
     "<", ">", "<=", ">=", "=?", "any", "not any"}
)  # fmt: skip
NEGATIVE = {"!=": "=", "<>": "=", "not in": "in", "not like": "like", "not ilike": "ilike"}
TRUE_LEAF = (1, "=", 1)
FALSE_LEAF = (0, "=", 1)


def parse(domain: list) -> tuple:
    """A domain as a tree of ("and"|"or", [nodes]), ("not", node) and ("leaf", leaf)."""
    if domain is None or domain is False:
        domain = []
    if not isinstance(domain, list | tuple):
        raise ValueError(f"Invalid domain: {domain!r}")
    terms = list(domain)
    position = 0

    def node() -> tuple:
        nonlocal position
        if position >= len(terms):
            raise ValueError(f"Invalid domain: {domain!r}")
        term = terms[position]
        position += 1
        if term in ("&", "|"):
            left, right = node(), node()
            return ("and" if term == "&" else "or", [left, right])
        if term == "!":
            return ("not", node())
        if not isinstance(term, list | tuple) or len(term) != 3:
            raise ValueError(f"Invalid leaf {term!r}")
        return ("leaf", tuple(term))

    nodes = []
    while position < len(terms):
        nodes.append(node())
    return ("and", nodes)


def compile_tree(tree: tuple, compile_leaf: Callable[[tuple], Predicate]) -> Predicate:
    kind, body = tree
    if kind == "leaf":
        if body in (TRUE_LEAF, list(TRUE_LEAF)):
            return lambda record: True
        if body in (FALSE_LEAF, list(FALSE_LEAF)):
            return lambda record: False
        return compile_leaf(body)
    if kind == "not":
        inner = compile_tree(body, compile_leaf)
        return lambda record: not inner(record)
    parts = [compile_tree(child, compile_leaf) for child in body]
    if kind == "and":
        return lambda record: all(part(record) for part in parts)
    return lambda record: any(part(record) for part in parts)


def match(operator: str, target: object, boolean: bool) -> Callable[[list], bool]:
    """A test on the list of values a record holds for one leaf."""
    if operator in NEGATIVE:
        positive = match(NEGATIVE[operator], target, boolean)
        return lambda values: not positive(values)
    if operator == "=?":
        return (lambda values: True) if target in (None, False) else match("=", target, boolean)
    if operator in ("=", "in"):
        wanted = list(target) if operator == "in" and isinstance(target, list | tuple) else [target]
        nulls = not boolean and any(w is False or w is None for w in wanted)
        wanted = [w for w in wanted if boolean or (w is not False and w is not None)]
        # Ids and strings compare by hash: a 500-id `in` costs one lookup per value, not 500
        # comparisons (numeric hashes agree across int, float and Decimal, as `_same` does).
        lookup = frozenset(wanted) if all(type(w) in (int, str) for w in wanted) else None

        def equal(values: list) -> bool:
            present = [v for v in values if v is not None]
            if nulls and not present:
                return True
            if lookup is not None:
                with contextlib.suppress(TypeError):  # an unhashable value: compare one by one
                    return any(v in lookup for v in present)
            return any(_same(v, w) for v in present for w in wanted)

        return equal
    if operator in ("like", "ilike", "=like", "=ilike"):
        text = "" if target in (None, False) else str(target)
        pattern = text if operator.startswith("=") else f"%{text}%"
        regex = _like_regex(pattern, ignore_case=operator.endswith("ilike"))
        return lambda values: any(v is not None and regex.fullmatch(str(v)) for v in values)
    if operator in ("<", ">", "<=", ">="):
        compare = {
            "<": lambda a, b: a < b,
            ">": lambda a, b: a > b,
            "<=": lambda a, b: a <= b,
            ">=": lambda a, b: a >= b,
        }[operator]
        return lambda values: any(
            v is not None and target not in (None, False) and compare(_num(v), _num(target))
            for v in values
        )
    raise ValueError(f"Invalid leaf operator {operator!r}")


def _same(value: object, wanted: object) -> bool:
    if isinstance(value, Decimal | int | float) and isinstance(wanted, Decimal | int | float):
        if isinstance(value, bool) or isinstance(wanted, bool):
            return value is wanted or value == wanted
        return _num(value) == _num(wanted)
    return value == wanted


def _num(value: object) -> object:
    if isinstance(value, float):
        return Decimal(str(value))
    return value


def _like_regex(pattern: str, ignore_case: bool) -> re.Pattern:
    parts = []
    for char in pattern:
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def sort_records(records: list[dict], keys: list[tuple[Callable[[dict], object], bool]]) -> list:
    """Sort by (key, descending) pairs; empty values last ascending and first descending, as
    PostgreSQL does."""

    def compare(a: dict, b: dict) -> int:
        for key, descending in keys:
            x, y = key(a), key(b)
            if x == y:
                continue
            after = x is None if x is None or y is None else x > y  # empty values sort last
            return (-1 if after else 1) if descending else (1 if after else -1)
        return 0

    return sorted(records, key=cmp_to_key(compare))
