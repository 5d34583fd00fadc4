"""A small ORM over the store: models and the methods every Odoo model answers over RPC
(search, search_read, search_count, read, create, write, unlink, fields_get, external ids, load).

A model class is stateless: `env[model]` binds it to the call's environment and methods take
record ids. Stored values are plain Python (ids, tuples of ids, Decimal, "YYYY-MM-DD" strings);
`read` turns them into what Odoo returns (many2one as [id, name], None as False, Decimal as float).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import ClassVar

from . import domains, texts
from . import read_group as grouping
from .errors import MissingError, ServerError, ValidationError, type_error, value_error
from .fields import (
    MAGIC_FIELDS,
    NUMERIC,
    RELATIONAL,
    Field,
    api,
    parse_command,
    parse_date,
    round_decimal,
    to_decimal,
)
from .store import Store


class Registry:
    """The models one database serves, with the fields of its version plus its custom fields."""

    def __init__(self, version: int, store: Store, classes: list[type[Model]]):
        self.store = store
        self.models = {cls._name: cls for cls in classes}
        self._with_custom: dict[str, tuple] = {}
        self._static = {
            cls._name: {
                name: replace(spec, name=name)
                for name, spec in {**MAGIC_FIELDS, **_declared_fields(cls)}.items()
                if version in spec.versions
            }
            for cls in classes
        }
        for cls in classes:
            for spec in self._static[cls._name].values():
                if spec.type == "one2many":
                    store.add_index(spec.relation, spec.inverse)
            for name in cls._indexes:
                store.add_index(cls._name, name)

    def fields(self, model: str) -> dict[str, Field]:
        """The model's fields; custom ones are read from ir.model.fields, so a rolled-back call
        also takes back the fields it created."""
        stamp = self.store.changes("ir.model.fields")
        cached = self._with_custom.get(model)
        if cached and cached[0] == stamp:
            return cached[1]
        fields = dict(self._static[model])
        for rid in self.store.lookup("ir.model.fields", "model", model):
            record = self.store.get("ir.model.fields", rid)
            fields[record["name"]] = Field(
                record["ttype"],
                record.get("field_description") or record["name"],
                relation=record.get("relation"),
                name=record["name"],
            )
        self._with_custom[model] = (stamp, fields)
        return fields


def _declared_fields(cls: type) -> dict[str, Field]:
    fields: dict[str, Field] = {}
    for klass in reversed(cls.__mro__):
        fields.update(klass.__dict__.get("_fields", {}))
    return fields


class Env:
    """What one RPC call runs with: the database, the caller's context, today's date."""

    def __init__(self, database, context: dict | None = None):
        self.database = database
        self.store: Store = database.store
        self.version: int = database.version
        self.registry: Registry = database.registry
        self.context: dict = dict(context or {})
        self.uid = 2
        self.company_id = 1

    def __getitem__(self, model: str) -> Model:
        return self.registry.models[model](self)

    def text(self, key: str, **values) -> str:
        return texts.text(self.version, key, **values)

    def today(self) -> str:
        """The server's date: the real one unless the database was given another (tests replay
        a recording whose server today was 2026-11-30)."""
        return getattr(self.database, "today", None) or datetime.date.today().isoformat()

    def now(self) -> str:
        return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


class Model:
    _name = ""
    _description = ""
    _order = "id"
    _rec_name = "name"
    _fields: ClassVar[dict[str, Field]] = {}
    _indexes: tuple[str, ...] = ()

    def __init__(self, env: Env):
        self.env = env
        self.store = env.store

    # -- metadata -------------------------------------------------------------------------------
    @property
    def fields(self) -> dict[str, Field]:
        return self.env.registry.fields(self._name)

    def record(self, rid: int) -> dict:
        return self.store.get(self._name, rid)

    def existing(self, ids) -> list[int]:
        """The ids given that exist, in order, once each (what Odoo's `read` returns)."""
        seen: dict[int, None] = {}
        for rid in _as_ids(ids):
            if self.store.get(self._name, rid) is not None:
                seen.setdefault(rid)
        return list(seen)

    def ensure(self, ids) -> list[int]:
        """The ids given, or MissingError when one does not exist (Odoo's write/unlink/actions)."""
        ids = _as_ids(ids)
        missing = [rid for rid in ids if self.store.get(self._name, rid) is None]
        if missing:
            listed = "".join(f"{rid}," for rid in missing)
            raise MissingError(texts.MISSING_RECORD.format(model=self._name, ids=listed))
        return list(dict.fromkeys(ids))

    # -- values ---------------------------------------------------------------------------------
    def value(self, record: dict, name: str) -> object:
        spec = self.fields[name]
        if spec.compute:
            return getattr(self, spec.compute)(record)
        if spec.type == "one2many":
            return tuple(
                self.env[spec.relation].sorted_ids(
                    self.store.lookup(spec.relation, spec.inverse, record["id"])
                )
            )
        raw = record.get(name)
        if spec.type == "boolean":
            return bool(raw)
        return raw

    def get(self, rid: int, name: str) -> object:
        return self.value(self.record(rid), name)

    def display_name(self, rid: int | None) -> str | bool:
        record = self.store.get(self._name, rid) if rid else None
        return self._compute_display_name(record) if record else False

    def _compute_display_name(self, record: dict) -> str:
        return record.get(self._rec_name) or ""

    def export(self, spec: Field, raw: object) -> object:
        if spec.type == "many2one":
            name = self.env[spec.relation].display_name(raw)
            return [raw, name] if name is not False else False
        if spec.type in ("one2many", "many2many"):
            if not spec.store:  # a computed relation reads in the order it was computed
                return list(raw or ())
            return list(self.env[spec.relation].sorted_ids(raw or ()))
        if spec.type in NUMERIC:
            return raw if raw is not None else (0 if spec.type == "integer" else 0.0)
        if spec.type == "boolean":
            return bool(raw)
        return False if raw is None else raw

    # -- search ---------------------------------------------------------------------------------
    def search_ids(self, domain, offset=0, limit=None, order=None, active_test=None) -> list[int]:
        predicate = self.compile_domain(domain, active_test)
        records = [record for record in self.store.all(self._name) if predicate(record)]
        records = self.sort(records, order or self._order)
        end = offset + limit if limit else None
        return [record["id"] for record in records[offset or 0 : end]]

    def sorted_ids(self, ids) -> list[int]:
        records = [self.store.get(self._name, rid) for rid in ids]
        return [r["id"] for r in self.sort([r for r in records if r], self._order)]

    def sort(self, records: list[dict], order: str) -> list[dict]:
        keys = []
        for part in order.split(","):
            words = part.split()
            if not words:
                continue
            name = words[0]
            if name not in self.fields:
                raise value_error(self.env.text("invalid_field_read", field=name, model=self._name))
            descending = len(words) > 1 and words[1].lower() == "desc"
            keys.append((lambda record, name=name: _sort_key(self.value(record, name)), descending))
        records = sorted(records, key=lambda record: record["id"])
        return domains.sort_records(records, keys)

    def compile_domain(self, domain, active_test=None) -> domains.Predicate:
        try:
            tree = domains.parse(domain)
        except ValueError as error:
            raise value_error(str(error)) from None
        if active_test is None:
            active_test = self.env.context.get("active_test", True)
        if active_test and "active" in self.fields and not _mentions_active(domain):
            tree = ("and", [tree, ("leaf", ("active", "=", True))])
        return domains.compile_tree(tree, self._compile_leaf)

    def _compile_leaf(self, leaf: tuple) -> domains.Predicate:
        path, operator, target = leaf
        if not isinstance(path, str) or operator not in domains.OPERATORS:
            raise value_error(f"Invalid leaf {leaf!r}")
        model, specs = self, []
        for position, name in enumerate(path.split(".")):
            spec = model.fields.get(name)
            if spec is None:
                raise value_error(
                    self.env.text(
                        "invalid_leaf", model=model._name, field=name, leaf=repr(tuple(leaf))
                    )
                )
            if not spec.can_search(self.env.version):
                if self.env.version >= 19:
                    raise value_error(texts.UNSTORED_LEAF.format(model=model._name, field=name))
                return lambda record: True  # 18 logs an error and drops the condition
            specs.append((model, spec))
            if position < len(path.split(".")) - 1:
                if spec.type not in RELATIONAL:
                    raise value_error(
                        self.env.text(
                            "invalid_leaf", model=model._name, field=path, leaf=repr(tuple(leaf))
                        )
                    )
                model = self.env[spec.relation]
        test = self._leaf_test(specs[-1][1], operator, target)

        def holds(record: dict) -> bool:
            return test(_values_at(record, specs))

        return holds

    def _leaf_test(self, spec: Field, operator: str, target) -> Callable:
        if operator in ("any", "not any"):
            matching = set(self.env[spec.relation].search_ids(target, active_test=False))
            positive = lambda values: any(v in matching for v in values)  # noqa: E731
            return positive if operator == "any" else (lambda values: not positive(values))
        if spec.type == "integer":  # PostgreSQL refuses text for an integer column
            for item in target if isinstance(target, list | tuple) else [target]:
                if isinstance(item, str) and not item.lstrip("-").isdigit():
                    raise ServerError(
                        "psycopg2.errors.InvalidTextRepresentation",
                        texts.INTEGER_SYNTAX.format(value=item),
                    )
        if spec.type in RELATIONAL and _is_text(target):
            comodel = self.env[spec.relation]
            positive = domains.NEGATIVE.get(operator, operator)
            names = comodel.search_ids([(comodel._rec_name, positive, target)], active_test=False)
            operator = "not in" if operator in domains.NEGATIVE else "in"
            target = names
        return domains.match(operator, target, spec.type == "boolean")

    # -- conversion of written values -----------------------------------------------------------
    def check_field_names(self, vals: dict) -> None:
        for name in vals:
            if name not in self.fields:
                raise value_error(
                    self.env.text("invalid_field_write", field=name, model=self._name)
                )

    def convert(self, spec: Field, value: object, current: tuple = ()) -> object:
        kind = spec.type
        if kind in ("char", "text", "html"):
            return None if value is None or value is False else str(value)
        if kind == "selection":
            if value is None or value is False:
                return None
            if spec.selection and value not in dict(spec.selection):
                raise value_error(f"Wrong value for {self._name}.{spec.name}: {value!r}")
            return value
        if kind == "integer":
            return int(value or 0)
        if kind in ("float", "monetary"):
            number = to_decimal(value or 0)
            places = spec.digits if spec.digits is not None else (2 if kind == "monetary" else None)
            return round_decimal(number, places) if places is not None else number
        if kind == "boolean":
            return bool(value)
        if kind in ("date", "datetime"):
            return parse_date(value, kind)
        if kind == "many2one":
            if not value:
                return None
            rid = int(value)
            if self.store.get(spec.relation, rid) is None:
                raise self.foreign_key_error(spec)
            return rid
        if kind == "many2many":
            return self._apply_many2many(spec, value, current)
        return value

    def foreign_key_error(self, spec: Field) -> ValidationError:
        return ValidationError(
            texts.FOREIGN_KEY.format(
                model_name=self._description,
                model=self._name,
                constraint=f"{self._name.replace('.', '_')}_{spec.name}_fkey",
            )
        )

    def _apply_many2many(self, spec: Field, commands, current: tuple) -> tuple:
        comodel = self.env[spec.relation]
        ids = list(current)
        if not commands:
            return ()
        if all(isinstance(c, int) and not isinstance(c, bool) for c in commands):
            commands = [(6, 0, commands)]
        for command in commands:
            code, rid, payload = parse_command(command)
            if code == 0:
                ids.append(comodel.create_record(payload))
            elif code == 1:
                comodel.write([rid], payload)
            elif code in (2, 3):
                if code == 2:
                    comodel.unlink([rid])
                ids = [i for i in ids if i != rid]
            elif code == 4:
                comodel.ensure([rid])
                ids.append(rid)
            elif code == 5:
                ids = []
            elif code == 6:
                ids = list(comodel.ensure(payload or []))
        return tuple(dict.fromkeys(ids))

    def apply_one2many(self, rid: int, spec: Field, commands) -> None:
        comodel = self.env[spec.relation]
        children = lambda: self.store.lookup(spec.relation, spec.inverse, rid)  # noqa: E731
        for command in commands or ():
            code, child, payload = parse_command(command)
            if code == 0:
                comodel.create_record({**payload, spec.inverse: rid})
            elif code == 1:
                comodel.write([child], payload)
            elif code in (2, 3):
                comodel.unlink([child])
            elif code == 4:
                comodel.write([child], {spec.inverse: rid})
            elif code == 5:
                comodel.unlink(children())
            elif code == 6:
                keep = set(payload or [])
                comodel.unlink([c for c in children() if c not in keep])
                comodel.write(sorted(keep), {spec.inverse: rid})

    # -- create / write / unlink building blocks --------------------------------------------------
    def defaults(self, vals: dict) -> dict:
        """Values a new record gets when `vals` leaves them out (overridden per model)."""
        return vals

    def create_record(self, vals: dict) -> int:
        self.check_field_names(vals)
        rid = self.store.new_id(self._name)  # like a PostgreSQL sequence: a failed insert uses one
        vals = self.defaults(dict(vals))
        fields = self.fields
        record: dict = {}
        later: dict = {}
        for name, value in vals.items():
            spec = fields[name]
            if spec.type == "one2many" or spec.setter:
                later[name] = value
            elif not spec.compute and name != "id":
                record[name] = self.convert(spec, value)
        for name, spec in fields.items():
            if name not in record and spec.default is not None and not spec.compute:
                record[name] = spec.default
        self.check_required(record)
        now = self.env.now()
        record.update(id=rid, create_uid=2, write_uid=2, create_date=now, write_date=now)
        self.store.insert(self._name, record)
        for name, value in later.items():
            self._write_later(rid, fields[name], value)
        return rid

    def write_fields(self, rid: int, vals: dict) -> None:
        """Store `vals` on one record: plain fields, then x2many commands and inverses."""
        fields = self.fields
        record = self.record(rid)
        changes: dict = {}
        later: dict = {}
        for name, value in vals.items():
            spec = fields[name]
            if spec.type == "one2many" or spec.setter:
                later[name] = value
            elif not spec.compute and name != "id":
                changes[name] = self.convert(spec, value, record.get(name) or ())
        if changes:
            self.check_required({**record, **changes})
            self.store.update(self._name, rid, {**changes, "write_date": self.env.now()})
        for name, value in later.items():
            self._write_later(rid, fields[name], value)

    def _write_later(self, rid: int, spec: Field, value: object) -> None:
        if spec.setter:
            getattr(self, spec.setter)(rid, value)
        else:
            self.apply_one2many(rid, spec, value)

    def check_required(self, record: dict) -> None:
        for name, spec in self.fields.items():
            if spec.required and spec.store and not spec.compute and record.get(name) in (None, ""):
                raise ValidationError(
                    texts.NOT_NULL.format(
                        model_name=self._description,
                        model=self._name,
                        field_name=spec.string,
                        field=name,
                    )
                )

    def delete_record(self, rid: int) -> None:
        """Delete one record: children that cannot exist without it go too, others let go."""
        for spec in self.fields.values():
            if spec.type != "one2many" or spec.compute:
                continue
            comodel = self.env[spec.relation]
            children = self.store.lookup(spec.relation, spec.inverse, rid)
            if comodel.fields[spec.inverse].required:
                comodel.unlink(children)
            else:
                for child in children:
                    self.store.update(spec.relation, child, {spec.inverse: None})
        for xmlid in self.store.lookup("ir.model.data", "res_id", rid):
            if self.store.get("ir.model.data", xmlid)["model"] == self._name:
                self.store.delete("ir.model.data", xmlid)
        self.store.delete(self._name, rid)

    # -- the methods every model answers --------------------------------------------------------
    @api("domain", model=True, offset=0, limit=None, order=None)
    def search(self, domain, offset=0, limit=None, order=None):
        return self.search_ids(domain, offset, limit, order)

    @api(model=True, var_kwargs=True, domain=None, fields=None, offset=0, limit=None, order=None)
    def search_read(self, domain=None, fields=None, offset=0, limit=None, order=None, **extra):
        if extra:
            raise type_error(
                f"BaseModel._read_format() got an unexpected keyword argument '{next(iter(extra))}'"
            )
        return self.read(self.search_ids(domain or [], offset, limit, order), fields)

    @api("domain", model=True, limit=None)
    def search_count(self, domain, limit=None):
        return len(self.search_ids(domain, limit=limit))

    @api(fields=None, load="_classic_read")
    def read(self, ids, fields=None, load="_classic_read"):
        specs = self.fields
        names = [name for name in (fields or specs) if name != "id"]
        for name in names:
            if name not in specs:
                raise value_error(self.env.text("invalid_field_read", field=name, model=self._name))
        rows = []
        for rid in self.existing(ids):
            record = self.record(rid)
            row = {"id": rid}
            for name in names:
                row[name] = self.export(specs[name], self.value(record, name))
            rows.append(row)
        return rows

    @api("domain", "fields", "groupby", model=True, offset=0, limit=None, orderby=False, lazy=True)
    def read_group(self, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True):
        return grouping.read_group(self, domain, fields, groupby, offset, limit, orderby, lazy)

    @api("domain", model=True, groupby=(), aggregates=(), having=(), offset=0, limit=None,
         order=None)  # fmt: skip
    def formatted_read_group(
        self, domain, groupby=(), aggregates=(), having=(), offset=0, limit=None, order=None
    ):
        return grouping.formatted_read_group(
            self, domain, groupby, aggregates, having, offset, limit, order
        )

    formatted_read_group.rpc_versions = (19,)  # new in Odoo 19 (read_group is 18's)

    @api("vals_list", model=True)
    def create(self, vals_list):
        if isinstance(vals_list, dict):
            vals_list = [vals_list]
        return [self.create_record(vals) for vals in vals_list]

    @api("vals")
    def write(self, ids, vals):
        ids = self.ensure(ids)
        self.check_field_names(vals)
        for rid in ids:
            self.write_fields(rid, vals)
        return True

    @api()
    def unlink(self, ids):
        for rid in self.ensure(ids):
            if self.store.get(self._name, rid) is not None:
                self.delete_record(rid)
        return True

    @api(model=True, allfields=None, attributes=None)
    def fields_get(self, allfields=None, attributes=None):
        result = {}
        for name, spec in self.fields.items():
            if allfields and name not in allfields:
                continue
            description = {
                "type": spec.type,
                "string": spec.string or name,
                "required": spec.required,
                "readonly": spec.readonly or bool(spec.compute and not spec.setter),
                "store": spec.store,
                "company_dependent": spec.company_dependent,
                "searchable": spec.can_search(self.env.version),
            }
            if spec.relation:
                description["relation"] = spec.relation
            if spec.selection:
                description["selection"] = [list(pair) for pair in spec.selection]
            if attributes:
                description = {k: v for k, v in description.items() if k in attributes}
            result[name] = description
        return result

    @api("vals", "specification", next_id=None)
    def web_save(self, ids, vals, specification, next_id=None):
        """The form view's save: create or write, then read back the fields it shows."""
        if ids:
            self.write(ids, vals)
        else:
            ids = self.create(vals)
        return self.read(ids, list(specification))

    @api()
    def get_external_id(self, ids):
        return {str(rid): next(iter(self._xmlids(rid)), ("",))[0] for rid in self.existing(ids)}

    @api()
    def get_metadata(self, ids):
        rows = []
        for rid in self.existing(ids):
            record = self.record(rid)
            xmlids = self._xmlids(rid)
            rows.append(
                {
                    "id": rid,
                    "create_uid": [2, "Administrator"],
                    "create_date": record.get("create_date"),
                    "write_uid": [2, "Administrator"],
                    "write_date": record.get("write_date"),
                    "xmlid": xmlids[0][0] if xmlids else False,
                    "noupdate": xmlids[0][1] if xmlids else False,
                    "xmlids": [{"xmlid": x, "noupdate": n} for x, n in xmlids],
                }
            )
        return rows

    def _xmlids(self, rid: int) -> list[tuple[str, bool]]:
        rows = [
            self.store.get("ir.model.data", i)
            for i in self.store.lookup("ir.model.data", "res_id", rid)
        ]
        return [
            (f"{row['module']}.{row['name']}", bool(row.get("noupdate")))
            for row in rows
            if row["model"] == self._name
        ]

    @api("fields", "data", model=True)
    def load(self, fields, data):
        ids = []
        for row in data:
            values = dict(zip(fields, row, strict=False))
            xmlid = values.pop("id", None)
            vals = {name: self._load_value(name, value) for name, value in values.items()}
            rid = self.env["ir.model.data"].upsert_record(self._name, xmlid, vals)
            ids.append(rid)
        return {"ids": ids, "messages": [], "nextrow": 0}

    def _load_value(self, name: str, value: object) -> object:
        if name.endswith("/id"):
            module, _, xml = str(value).partition(".")
            return self.env["ir.model.data"].check_object_reference(module, xml)[1]
        spec = self.fields.get(name)
        if spec is None:
            raise value_error(self.env.text("invalid_field_write", field=name, model=self._name))
        if spec.type == "boolean" and isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes")
        return value


def _as_ids(ids) -> list[int]:
    if ids is None or ids is False:
        return []
    if isinstance(ids, int):
        return [ids]
    return [int(rid) for rid in ids]


def _is_text(target: object) -> bool:
    if isinstance(target, str):
        return True
    return (
        isinstance(target, list | tuple)
        and bool(target)
        and all(isinstance(item, str) for item in target)
    )


def _mentions_active(domain) -> bool:
    return any(
        isinstance(term, list | tuple) and term and str(term[0]).split(".")[0] == "active"
        for term in domain or []
    )


def _values_at(record: dict, specs: list) -> list:
    """The values a record holds at a field path, following relations (any of many)."""
    current = [(specs[0][0], record)]
    for position, (model, spec) in enumerate(specs):
        values = []
        for owner, row in current:
            raw = owner.value(row, spec.name)
            if spec.type in ("one2many", "many2many"):
                values.extend(raw or ())
            else:
                values.append(raw)
        if position == len(specs) - 1:
            return values
        comodel = model.env[spec.relation]
        current = [(comodel, comodel.record(v)) for v in values if v and comodel.record(v)]
    return []


def _sort_key(value: object) -> object:
    if value is None or value is False:
        return None
    if isinstance(value, tuple):
        return value[0] if value else None
    if isinstance(value, float):
        return Decimal(str(value))
    return value
