"""The chart's building blocks: accounts (with Odoo's code rules), taxes and tax groups,
journals, and the payment methods of bank journals."""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import ClassVar

from . import texts
from .errors import UserError, ValidationError
from .fields import Field, api
from .orm import Model

ACCOUNT_CODE = re.compile(r"^[A-Za-z0-9.]+$")  # ACCOUNT_CODE_REGEX in account_account.py
ACCOUNT_TYPES = (
    ("asset_receivable", "Receivable"), ("asset_cash", "Bank and Cash"),
    ("asset_current", "Current Assets"), ("asset_non_current", "Non-current Assets"),
    ("asset_prepayments", "Prepayments"), ("asset_fixed", "Fixed Assets"),
    ("liability_payable", "Payable"), ("liability_credit_card", "Credit Card"),
    ("liability_current", "Current Liabilities"),
    ("liability_non_current", "Non-current Liabilities"),
    ("equity", "Equity"), ("equity_unaffected", "Current Year Earnings"),
    ("income", "Income"), ("income_other", "Other Income"), ("expense", "Expenses"),
    ("expense_other", "Other Expenses"), ("expense_depreciation", "Depreciation"),
    ("expense_direct_cost", "Cost of Revenue"), ("off_balance", "Off-Balance Sheet"),
)  # fmt: skip
RECONCILED_TYPES = ("asset_receivable", "liability_payable")


class AccountAccount(Model):
    _name = "account.account"
    _description = "Account"
    _order = "code, placeholder_code"
    _fields: ClassVar[dict[str, Field]] = {
        "name": Field("char", "Account Name", required=True),
        # `code` is computed over the per-company `code_store` in Odoo: not stored, but searchable
        "code": Field("char", "Code", store=False, searchable=True),
        "code_store": Field(
            "char",
            "Code Store",
            company_dependent=True,
            compute="_compute_code",
            setter="_set_code",
        ),
        "placeholder_code": Field("char", "Display code", store=False, compute="_compute_code"),
        "account_type": Field("selection", "Type", required=True, selection=ACCOUNT_TYPES),
        "reconcile": Field("boolean", "Allow Reconciliation"),
        "company_ids": Field("many2many", "Companies", relation="res.company", required=True),
        "currency_id": Field("many2one", "Account Currency", relation="res.currency"),
        "tax_ids": Field("many2many", "Default Taxes", relation="account.tax"),
        "active": Field("boolean", "Active", default=True, versions=(19,)),
        "deprecated": Field("boolean", "Deprecated", default=False, versions=(18,)),
        "note": Field("text", "Internal Notes"),
    }

    def _compute_display_name(self, record: dict) -> str:
        return f"{record['code']} {record['name']}"

    def _compute_code(self, record: dict) -> str:
        return record.get("code")

    def _set_code(self, rid: int, code) -> None:
        self.write([rid], {"code": code})

    def defaults(self, vals: dict) -> dict:
        self._check_code(vals.get("code"))
        vals.setdefault("company_ids", [[6, 0, [self.env.company_id]]])
        if not vals.get("account_type"):
            vals["account_type"] = self._closest_type(vals["code"])
        vals.setdefault("reconcile", vals["account_type"] in RECONCILED_TYPES)
        return vals

    @api("vals")
    def write(self, ids, vals):
        if "code" in vals:
            for rid in self.ensure(ids):
                self._check_code(vals["code"], rid)
        return super().write(ids, vals)

    def _check_code(self, code, rid: int | None = None) -> None:
        if not code:
            raise ValidationError(texts.ACCOUNT_CODE_MISSING)
        if not ACCOUNT_CODE.match(str(code)):
            raise ValidationError(texts.ACCOUNT_CODE_CHARS)
        if any(r["code"] == code and r["id"] != rid for r in self.store.all(self._name)):
            raise ValidationError(texts.ACCOUNT_CODE_UNIQUE.format(codes=code))

    def _closest_type(self, code: str) -> str:
        """The type of the account just before `code` in code order (Odoo's "closest parent")."""
        accounts = sorted(self.store.all(self._name), key=lambda r: r["code"])
        position = bisect_left([r["code"] for r in accounts], code) - 1
        return accounts[position]["account_type"] if position >= 0 else "asset_current"


class AccountTaxGroup(Model):
    _name = "account.tax.group"
    _description = "Tax Group"
    _order = "sequence asc, id"
    _fields: ClassVar[dict[str, Field]] = {
        "name": Field("char", "Name", required=True),
        "sequence": Field("integer", "Sequence", default=10),
        "country_id": Field("many2one", "Country", relation="res.country"),
    }


class AccountTax(Model):
    _name = "account.tax"
    _description = "Tax"
    _order = "sequence,id"
    _fields: ClassVar[dict[str, Field]] = {
        "name": Field("char", "Tax Name", required=True),
        "amount": Field("float", "Amount", required=True, digits=4),
        "amount_type": Field(
            "selection",
            "Tax Computation",
            required=True,
            default="percent",
            selection=(
                ("group", "Group of Taxes"),
                ("fixed", "Fixed"),
                ("percent", "Percentage"),
                ("division", "Percentage Tax Included"),
            ),
        ),
        "type_tax_use": Field(
            "selection",
            "Tax Type",
            required=True,
            default="sale",
            selection=(("sale", "Sales"), ("purchase", "Purchases"), ("none", "None")),
        ),
        "tax_scope": Field(
            "selection", "Tax Scope", selection=(("service", "Services"), ("consu", "Goods"))
        ),
        "price_include": Field("boolean", "Included in Price", compute="_compute_price_include"),
        "price_include_override": Field(
            "selection",
            "Included in Price",
            selection=(("tax_included", "Tax Included"), ("tax_excluded", "Tax Excluded")),
        ),
        "tax_group_id": Field("many2one", "Tax Group", relation="account.tax.group", required=True),
        "children_tax_ids": Field("many2many", "Children Taxes", relation="account.tax"),
        "active": Field("boolean", "Active", default=True),
        "sequence": Field("integer", "Sequence", default=1),
        "description": Field("html", "Description"),
        "invoice_label": Field("char", "Label on Invoices"),
        "country_id": Field("many2one", "Country", relation="res.country"),
        "company_id": Field("many2one", "Company", relation="res.company", default=1),
    }

    def _compute_price_include(self, record: dict) -> bool:
        return record.get("price_include_override") == "tax_included"

    def distribution(self, tax_id: int, refund: bool) -> int:
        """The repartition line a tax's amount is booked through (it holds the tax account)."""
        document = "refund" if refund else "invoice"
        lines = self.env["account.tax.repartition.line"]
        return next(
            rid
            for rid in self.store.lookup(lines._name, "tax_id", tax_id)
            if lines.record(rid)["document_type"] == document
            and lines.record(rid)["repartition_type"] == "tax"
        )


class AccountTaxRepartitionLine(Model):
    _name = "account.tax.repartition.line"
    _description = "Tax Repartition Line"
    _indexes = ("tax_id",)
    _fields: ClassVar[dict[str, Field]] = {
        "tax_id": Field("many2one", "Tax", relation="account.tax"),
        "document_type": Field(
            "selection", "Related to", selection=(("invoice", "Invoice"), ("refund", "Refund"))
        ),
        "repartition_type": Field(
            "selection", "Based On", selection=(("base", "Base"), ("tax", "of tax"))
        ),
        "factor_percent": Field("float", "%"),
        "account_id": Field("many2one", "Account", relation="account.account"),
    }


class AccountJournal(Model):
    _name = "account.journal"
    _description = "Journal"
    _order = "sequence, type, code"
    _fields: ClassVar[dict[str, Field]] = {
        "name": Field("char", "Journal Name", required=True),
        "code": Field("char", "Short Code", required=True),
        "type": Field(
            "selection",
            "Type",
            required=True,
            selection=(
                ("sale", "Sales"),
                ("purchase", "Purchase"),
                ("cash", "Cash"),
                ("bank", "Bank"),
                ("credit", "Credit Card"),
                ("general", "Miscellaneous"),
            ),
        ),
        "active": Field("boolean", "Active", default=True),
        "sequence": Field("integer", "Sequence", default=10),
        "currency_id": Field("many2one", "Currency", relation="res.currency"),
        "company_id": Field("many2one", "Company", relation="res.company", default=1),
        "default_account_id": Field("many2one", "Default Account", relation="account.account"),
        "suspense_account_id": Field("many2one", "Suspense Account", relation="account.account"),
        "restrict_mode_hash_table": Field("boolean", "Secure Posted Entries with Hash"),
        "refund_sequence": Field("boolean", "Dedicated Credit Note Sequence"),
        "payment_sequence": Field("boolean", "Dedicated Payment Sequence"),
        "inbound_payment_method_line_ids": Field(
            "one2many",
            "Inbound Payment Methods",
            relation="account.payment.method.line",
            store=False,
            compute="_compute_inbound_lines",
        ),
        "outbound_payment_method_line_ids": Field(
            "one2many",
            "Outbound Payment Methods",
            relation="account.payment.method.line",
            store=False,
            compute="_compute_outbound_lines",
        ),
    }

    def defaults(self, vals: dict) -> dict:
        code = vals.get("code")
        if any(r["code"] == code for r in self.store.all(self._name)):
            raise ValidationError(texts.CANNOT_COMPLETE.format(detail=texts.DUPLICATE_JOURNAL_CODE))
        kind = vals.get("type")
        vals.setdefault("refund_sequence", kind in ("sale", "purchase"))
        vals.setdefault("payment_sequence", kind in ("bank", "cash", "credit"))
        if kind in ("bank", "cash", "credit"):
            chart = self.env.database.chart
            vals.setdefault("suspense_account_id", chart.suspense_account_id)
            if not vals.get("default_account_id"):
                vals["default_account_id"] = self._new_liquidity_account(vals.get("name") or code)
        return vals

    def create_record(self, vals: dict) -> int:
        rid = super().create_record(vals)
        if self.record(rid)["type"] in ("bank", "cash", "credit"):
            lines = self.env["account.payment.method.line"]
            for method in self.store.all("account.payment.method"):
                lines.create_record(
                    {"name": method["name"], "payment_method_id": method["id"], "journal_id": rid}
                )
        return rid

    def _new_liquidity_account(self, name: str) -> int:
        """A bank account under the chart's bank prefix, at the first free code (Odoo's
        `_search_new_account_code`; the exact code was not recorded)."""
        codes = {r["code"] for r in self.store.all("account.account")}
        prefix = self.env.database.chart.bank_code_prefix
        code = next(f"{prefix}{n:02d}" for n in range(11, 100) if f"{prefix}{n:02d}" not in codes)
        return self.env["account.account"].create_record(
            {"code": code, "name": name, "account_type": "asset_cash"}
        )

    @api("vals")
    def write(self, ids, vals):
        if vals.get("restrict_mode_hash_table") is False:
            for rid in self.ensure(ids):
                posted = self.env["account.move"].search_ids(
                    [("journal_id", "=", rid), ("state", "=", "posted")], limit=1
                )
                if self.record(rid).get("restrict_mode_hash_table") and posted:
                    raise UserError(texts.HASH_FLAG_LOCKED)
        return super().write(ids, vals)

    def _method_lines(self, record: dict, kind: str) -> tuple:
        lines = self.env["account.payment.method.line"]
        ids = self.store.lookup("account.payment.method.line", "journal_id", record["id"])
        return tuple(i for i in lines.sorted_ids(ids) if lines.get(i, "payment_type") == kind)

    def _compute_inbound_lines(self, record: dict) -> tuple:
        return self._method_lines(record, "inbound")

    def _compute_outbound_lines(self, record: dict) -> tuple:
        return self._method_lines(record, "outbound")

    def first_method_line(self, journal_id: int, kind: str) -> int | None:
        return next(iter(self._method_lines(self.record(journal_id), kind)), None)


class AccountPaymentMethod(Model):
    _name = "account.payment.method"
    _description = "Payment Methods"
    _fields: ClassVar[dict[str, Field]] = {
        "name": Field("char", "Name", required=True),
        "code": Field("char", "Code", required=True),
        "payment_type": Field(
            "selection",
            "Payment Type",
            required=True,
            selection=(("inbound", "Inbound"), ("outbound", "Outbound")),
        ),
    }


class AccountPaymentMethodLine(Model):
    _name = "account.payment.method.line"
    _description = "Payment Methods"
    _order = "sequence, id"
    _indexes = ("journal_id",)
    _fields: ClassVar[dict[str, Field]] = {
        "name": Field("char", "Name"),
        "sequence": Field("integer", "Sequence", default=10),
        "payment_method_id": Field(
            "many2one", "Payment Method", relation="account.payment.method", required=True
        ),
        "payment_type": Field(
            "selection",
            "Payment Type",
            compute="_compute_payment_type",
            selection=(("inbound", "Inbound"), ("outbound", "Outbound")),
        ),
        "journal_id": Field("many2one", "Journal", relation="account.journal"),
        "payment_account_id": Field(
            "many2one", "Outstanding Receipts/Payments Account", relation="account.account"
        ),
    }

    def _compute_payment_type(self, record: dict) -> str:
        return self.store.get("account.payment.method", record["payment_method_id"])["payment_type"]

    def _compute_display_name(self, record: dict) -> str:
        journal = self.store.get("account.journal", record.get("journal_id"))
        return f"{record['name']} ({journal['name']})" if journal else record["name"]
