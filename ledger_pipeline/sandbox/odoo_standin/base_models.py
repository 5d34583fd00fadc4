"""The `res.*` and `ir.*` models: users, company, countries, currencies and rates, partners, the
metadata models the pipeline uses for setup (ir.model, ir.model.fields, ir.model.data), and the
system parameters its writer's lease lives in (ir.config_parameter)."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from . import locks, texts
from .errors import UserError, ValidationError, value_error
from .fields import CUSTOM_FIELD_TYPES, Field, api, to_decimal
from .orm import Model


def _cannot_complete(detail: str) -> ValidationError:
    return ValidationError(texts.CANNOT_COMPLETE.format(detail=detail))


class ResUsers(Model):
    _name = "res.users"
    _description = "User"
    _fields: ClassVar[dict[str, Field]] = {
        "name": Field("char", "Name", required=True),
        "login": Field("char", "Login", required=True),
        "company_id": Field("many2one", "Company", relation="res.company"),
        "partner_id": Field("many2one", "Related Partner", relation="res.partner"),
        "active": Field("boolean", "Active", default=True),
    }

    @api(model=True)
    def context_get(self):
        return {"lang": "en_US", "tz": False, "uid": self.env.uid}


class ResCompany(Model):
    _name = "res.company"
    _description = "Companies"
    _order = "sequence, name"
    _fields: ClassVar[dict[str, Field]] = {
        "name": Field("char", "Company Name", required=True),
        "sequence": Field("integer", "Sequence", default=10),
        "partner_id": Field("many2one", "Partner", relation="res.partner"),
        "currency_id": Field("many2one", "Currency", relation="res.currency", required=True),
        "country_id": Field("many2one", "Country", relation="res.country"),
        "state_id": Field("many2one", "Fed. State", relation="res.country.state"),
        "chart_template": Field("selection", "Chart Template", selection=(("ca_2023", "Canada"),)),
        "account_sale_tax_id": Field("many2one", "Default Sale Tax", relation="account.tax"),
        "account_fiscal_country_id": Field("many2one", "Fiscal Country", relation="res.country"),
        "tax_calculation_rounding_method": Field(
            "selection",
            "Tax Calculation Rounding Method",
            selection=(("round_per_line", "Round per Line"), ("round_globally", "Round Globally")),
        ),
        "transfer_account_id": Field(
            "many2one", "Inter-Banks Transfer Account", relation="account.account"
        ),
        # The chart's exchange-difference and default outstanding accounts (same fields on 18
        # and 19); only 19's transfer and outstanding receipts values were recorded (chart.py).
        "income_currency_exchange_account_id": Field(
            "many2one", "Gain Exchange Rate Account", relation="account.account"
        ),
        "expense_currency_exchange_account_id": Field(
            "many2one", "Loss Exchange Rate Account", relation="account.account"
        ),
        "account_journal_payment_debit_account_id": Field(
            "many2one", "Journal Outstanding Receipts", relation="account.account"
        ),
        "account_journal_payment_credit_account_id": Field(
            "many2one", "Journal Outstanding Payments", relation="account.account"
        ),
        # The five lock dates of both versions (odoo-corrections.md §D.0); no period_lock_date.
        "fiscalyear_lock_date": Field("date", "Global Lock Date"),
        "tax_lock_date": Field("date", "Tax Return Lock Date"),
        "sale_lock_date": Field("date", "Sales Lock Date"),
        "purchase_lock_date": Field("date", "Purchase Lock date"),
        "hard_lock_date": Field("date", "Hard Lock Date"),
        "user_fiscalyear_lock_date": Field(
            "date", "Fiscal Year Lock Date For Current User", compute="_compute_user_lock"
        ),
        "user_hard_lock_date": Field(
            "date", "Hard Lock Date For Current User", compute="_compute_user_hard_lock"
        ),
    }

    def _compute_user_lock(self, record: dict) -> str:
        dates = [record.get(name) for name in ("fiscalyear_lock_date", "hard_lock_date")]
        return max((d for d in dates if d), default=locks.NO_DATE)

    def _compute_user_hard_lock(self, record: dict) -> str:
        return record.get("hard_lock_date") or locks.NO_DATE

    @api("vals", names={18: {"vals": "values"}})
    def write(self, ids, vals):
        if "hard_lock_date" in vals:
            for rid in self.ensure(ids):
                self._check_hard_lock(self.record(rid).get("hard_lock_date"), vals)
        return super().write(ids, vals)

    def _check_hard_lock(self, current: str | None, vals: dict) -> None:
        """`_validate_locks`: the Hard Lock Date can only move forward (odoo-corrections §D)."""
        if not current:
            return
        if not vals["hard_lock_date"]:
            raise UserError(texts.HARD_LOCK_REMOVED)
        wanted = self.convert(self.fields["hard_lock_date"], vals["hard_lock_date"])
        if wanted < current:
            raise UserError(texts.HARD_LOCK_LOWERED)


class ResCountry(Model):
    _name = "res.country"
    _description = "Country"
    _fields: ClassVar[dict[str, Field]] = {
        "name": Field("char", "Country Name", required=True),
        "code": Field("char", "Code"),
    }


class ResCountryState(Model):
    _name = "res.country.state"
    _description = "Country state"
    _fields: ClassVar[dict[str, Field]] = {
        "name": Field("char", "State Name", required=True),
        "code": Field("char", "State Code", required=True),
        "country_id": Field("many2one", "Country", relation="res.country", required=True),
    }

    def _compute_display_name(self, record: dict) -> str:
        country = self.store.get("res.country", record["country_id"])
        return f"{record['name']} ({country['code']})"


class ResCurrency(Model):
    _name = "res.currency"
    _description = "Currency"
    _order = "active desc, name"
    _fields: ClassVar[dict[str, Field]] = {
        "name": Field("char", "Currency", required=True),
        "full_name": Field("char", "Name"),
        "symbol": Field("char", "Symbol"),
        "active": Field("boolean", "Active", default=True),
        "rounding": Field("float", "Rounding Factor"),
        "decimal_places": Field("integer", "Decimal Places"),
        "rate": Field("float", "Current Rate", store=False, compute="_compute_rate"),
        "inverse_rate": Field("float", "Inverse Rate", store=False, compute="_compute_inverse"),
        "rate_ids": Field("one2many", "Rates", relation="res.currency.rate", inverse="currency_id"),
    }

    def _compute_rate(self, record: dict) -> Decimal:
        return self.rate_at(record["id"], self.env.today())

    def _compute_inverse(self, record: dict) -> Decimal:
        return 1 / self._compute_rate(record)

    def rate_at(self, currency_id: int, date: str) -> Decimal:
        """Units of `currency_id` per unit of company currency on `date`: the latest rate on or
        before it, else the earliest rate there is (source: `_get_rates`), else 1."""
        if currency_id == self.env["res.company"].record(self.env.company_id)["currency_id"]:
            return Decimal(1)
        rates = sorted(
            (
                self.store.get("res.currency.rate", rid)
                for rid in self.store.lookup("res.currency.rate", "currency_id", currency_id)
            ),
            key=lambda rate: rate["name"],
        )
        before = [rate for rate in rates if rate["name"] <= date]
        chosen = before[-1] if before else (rates[0] if rates else None)
        return chosen["rate"] if chosen else Decimal(1)

    def places(self, currency_id: int) -> int:
        return self.record(currency_id)["decimal_places"]


class ResCurrencyRate(Model):
    _name = "res.currency.rate"
    _description = "Currency Rate"
    _order = "name desc"
    _rec_name = "name"
    _fields: ClassVar[dict[str, Field]] = {
        "name": Field("date", "Date", required=True),
        "rate": Field("float", "Technical Rate"),
        "company_rate": Field("float", "Unit per CAD", store=False, compute="_compute_rate"),
        "inverse_company_rate": Field(
            "float",
            "CAD per Unit",
            store=False,
            compute="_compute_inverse",
            setter="_set_inverse",
        ),
        "currency_id": Field("many2one", "Currency", relation="res.currency", required=True),
        "company_id": Field("many2one", "Company", relation="res.company", default=1),
    }

    def defaults(self, vals: dict) -> dict:
        vals.setdefault("name", self.env.today())
        duplicate = any(
            rate["name"] == str(vals["name"])[:10]
            and rate.get("company_id") == vals.get("company_id", 1)
            for rate in (
                self.store.get(self._name, rid)
                for rid in self.store.lookup(self._name, "currency_id", vals.get("currency_id"))
            )
        )
        if duplicate:
            raise _cannot_complete(texts.DUPLICATE_RATE)
        if "inverse_company_rate" not in vals:
            vals.setdefault("rate", 1)
        return vals

    def _compute_rate(self, record: dict) -> Decimal:
        return record.get("rate") or Decimal(1)

    def _compute_inverse(self, record: dict) -> Decimal:
        return 1 / self._compute_rate(record)

    def _set_inverse(self, rid: int, value) -> None:
        self.store.update(self._name, rid, {"rate": 1 / to_decimal(value)})


class ResPartner(Model):
    _name = "res.partner"
    _description = "Contact"
    _order = "complete_name, id desc"
    _fields: ClassVar[dict[str, Field]] = {
        "name": Field("char", "Name"),
        "complete_name": Field("char", "Complete Name", compute="_compute_display_name"),
        "is_company": Field("boolean", "Is a Company", default=False),
        "company_type": Field(
            "selection",
            "Company Type",
            store=False,
            compute="_compute_company_type",
            selection=(("person", "Individual"), ("company", "Company")),
        ),
        "type": Field(
            "selection",
            "Address Type",
            default="contact",
            selection=(
                ("contact", "Contact"),
                ("invoice", "Invoice Address"),
                ("delivery", "Delivery Address"),
                ("other", "Other Address"),
            ),
        ),
        "parent_id": Field("many2one", "Related Company", relation="res.partner"),
        "commercial_partner_id": Field(
            "many2one", "Commercial Entity", relation="res.partner", compute="_compute_commercial"
        ),
        "ref": Field("char", "Reference"),
        "email": Field("char", "Email"),
        "phone": Field("char", "Phone"),
        "mobile": Field("char", "Mobile", versions=(18,)),
        "vat": Field("char", "Tax ID"),
        "website": Field("char", "Website Link"),
        "street": Field("char", "Street"),
        "street2": Field("char", "Street2"),
        "city": Field("char", "City"),
        "zip": Field("char", "Zip"),
        "state_id": Field("many2one", "State", relation="res.country.state"),
        "country_id": Field("many2one", "Country", relation="res.country"),
        "lang": Field("char", "Language", default="en_US"),
        "comment": Field("html", "Notes"),
        "active": Field("boolean", "Active", default=True),
        "customer_rank": Field("integer", "Customer Rank", default=0),
        "company_id": Field("many2one", "Company", relation="res.company"),
        "property_account_receivable_id": Field(
            "many2one",
            "Account Receivable",
            relation="account.account",
            company_dependent=True,
            store=False,
            searchable=True,
            compute="_compute_receivable",
        ),
    }

    def _compute_company_type(self, record: dict) -> str:
        return "company" if record.get("is_company") else "person"

    def _compute_commercial(self, record: dict) -> int:
        return record.get("parent_id") or record["id"]

    def _compute_receivable(self, record: dict) -> int:
        return self.env.database.chart.receivable_account_id


class IrModel(Model):
    _name = "ir.model"
    _description = "Models"
    _order = "model"
    _fields: ClassVar[dict[str, Field]] = {
        "name": Field("char", "Model Description", required=True),
        "model": Field("char", "Model", required=True),
        "state": Field(
            "selection", "Type", selection=(("manual", "Custom Object"), ("base", "Base Object"))
        ),
    }


class IrModelFields(Model):
    _name = "ir.model.fields"
    _description = "Fields"
    _order = "name"
    _indexes = ("model",)
    _fields: ClassVar[dict[str, Field]] = {
        "name": Field("char", "Field Name", required=True),
        "model": Field("char", "Model Name"),
        "model_id": Field("many2one", "Model", relation="ir.model", required=True),
        "field_description": Field("char", "Field Label"),
        "ttype": Field(
            "selection",
            "Field Type",
            required=True,
            selection=tuple((kind, kind) for kind in sorted(CUSTOM_FIELD_TYPES)),
        ),
        "relation": Field("char", "Related Model"),
        "state": Field(
            "selection",
            "Type",
            default="manual",
            selection=(("manual", "Custom Field"), ("base", "Base Field")),
        ),
        "index": Field("boolean", "Indexed"),
        "copied": Field("boolean", "Copied"),
        "store": Field("boolean", "Stored", default=True),
        "required": Field("boolean", "Required"),
        "readonly": Field("boolean", "Readonly"),
    }

    def defaults(self, vals: dict) -> dict:
        name = str(vals.get("name") or "")
        if vals.get("state", "manual") == "manual" and not name.startswith("x_"):
            raise _cannot_complete(texts.CUSTOM_FIELD_PREFIX)
        model = self.env["ir.model"].record(vals.get("model_id") or 0)
        if model is None:
            raise self.foreign_key_error(self.fields["model_id"])
        vals["model"] = model["model"]
        if name in self.env.registry.fields(model["model"]):
            raise _cannot_complete(texts.DUPLICATE_FIELD)
        vals.setdefault("field_description", name)
        return vals


class IrModelData(Model):
    _name = "ir.model.data"
    _description = "Model Data"
    _order = "module, model, name"
    _indexes = ("res_id", "name")
    _fields: ClassVar[dict[str, Field]] = {
        "name": Field("char", "External Identifier", required=True),
        "module": Field("char", "Module", required=True),
        "model": Field("char", "Model Name", required=True),
        "res_id": Field("integer", "Record ID"),
        "noupdate": Field("boolean", "Non Updatable", default=False),
        "complete_name": Field(
            "char", "Complete ID", store=False, compute="_compute_complete_name"
        ),
    }

    def _compute_complete_name(self, record: dict) -> str:
        return f"{record['module']}.{record['name']}"

    _compute_display_name = _compute_complete_name

    def defaults(self, vals: dict) -> dict:
        if self._find(vals.get("module"), vals.get("name")):
            raise _cannot_complete(
                texts.DUPLICATE_XMLID.format(module=vals.get("module"), name=vals.get("name"))
            )
        return vals

    @api()
    def unlink(self, ids):
        """An id already gone is no error here (odoo-corrections §A.3): nothing reads it first."""
        for rid in self.existing(ids):
            self.delete_record(rid)
        return True

    def _find(self, module: str, name: str) -> dict | None:
        rows = (
            self.store.get(self._name, rid) for rid in self.store.lookup(self._name, "name", name)
        )
        return next((row for row in rows if row["module"] == module), None)

    @api("module", "xml_id", model=True, raise_on_access_error=False)
    def check_object_reference(self, module, xml_id, raise_on_access_error=False):
        row = self._find(module, xml_id)
        if row is None:
            raise value_error(texts.XMLID_NOT_FOUND.format(module=module, name=xml_id))
        target = self.store.get(row["model"], row["res_id"])
        visible = target is not None and target.get("active", True) is not False
        return [row["model"], row["res_id"] if visible else False]

    def upsert_record(self, model: str, xmlid: str | None, vals: dict) -> int:
        """`load()`'s use of an external id: update the record it names, or create both."""
        module, _, name = (xmlid or "").partition(".")
        row = self._find(module, name) if xmlid else None
        if row is not None and self.store.get(model, row["res_id"]) is not None:
            self.env[model].write([row["res_id"]], vals)
            self.store.new_id(self._name)  # Odoo's upsert (INSERT … ON CONFLICT) uses an id
            return row["res_id"]
        rid = self.env[model].create_record(vals)
        if xmlid:
            self.create_record({"module": module, "name": name, "model": model, "res_id": rid})
        return rid


class IrModuleModule(Model):
    _name = "ir.module.module"
    _description = "Module"
    _order = "name"
    _fields: ClassVar[dict[str, Field]] = {
        "name": Field("char", "Technical Name", required=True),
        "shortdesc": Field("char", "Module Name"),
        "state": Field(
            "selection",
            "Status",
            selection=(
                ("uninstallable", "Uninstallable"),
                ("uninstalled", "Not Installed"),
                ("installed", "Installed"),
            ),
        ),
        "latest_version": Field("char", "Installed Version"),
        "license": Field("char", "License"),
    }


class IrConfigParameter(Model):
    """System parameters. `UNIQUE(key)` makes `create` an atomic test-and-set (odoo-corrections
    §A.1): a duplicate is a ValidationError, `unlink` of a gone id a MissingError (its ondelete
    reads `key`), but `write` on a gone id answers true (it checks access, not existence)."""

    _name = "ir.config_parameter"
    _description = "System Parameter"
    _order = "key"
    _rec_name = "key"
    _indexes = ("key",)
    _fields: ClassVar[dict[str, Field]] = {
        "key": Field("char", "Key", required=True),
        "value": Field("text", "Value", required=True),
    }

    def defaults(self, vals: dict) -> dict:
        self._check_unique(vals.get("key"))
        return vals

    def _check_unique(self, key, rid: int | None = None) -> None:
        if any(other != rid for other in self.store.lookup(self._name, "key", key)):
            raise _cannot_complete(texts.KEY_UNIQUE)

    @api("vals")
    def write(self, ids, vals):
        ids = self.existing(ids)  # the UPDATE touches 0 rows for a deleted id: still true
        self.check_field_names(vals)
        for rid in ids:
            if "key" in vals:
                self._check_unique(vals["key"], rid)
            self.write_fields(rid, vals)
        return True

    def _find(self, key) -> int | None:
        return next(iter(self.store.lookup(self._name, "key", key)), None)

    @api("key", model=True, default=False)
    def get_param(self, key, default=False):
        rid = self._find(key)
        return self.record(rid)["value"] if rid else default

    @api("key", "value", model=True)
    def set_param(self, key, value):
        """Odoo's silent upsert: overwrites whoever holds the key, returns the old value."""
        rid = self._find(key)
        if rid is None:
            if value is not False and value is not None:
                self.create_record({"key": key, "value": value})
            return False
        old = self.record(rid)["value"]
        if value is False or value is None:
            self.unlink([rid])
        elif str(value) != old:
            self.write_fields(rid, {"value": str(value)})
        return old
