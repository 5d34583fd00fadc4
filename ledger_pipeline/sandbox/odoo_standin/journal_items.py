"""Journal items (`account.move.line`) and how an invoice keeps them in step.

An invoice's product lines carry price, quantity and taxes; Odoo derives their amounts, one tax
line per tax, and the receivable line (`payment_term`) that balances the entry. In a draft that
happens whenever a priced line, the partner, currency, date or type changes; a manual change to a
tax line (or `tax_totals`) stays until the taxes are computed again (odoo19-contract Q12). A
posted invoice keeps its amounts, but a journal item's amount can still be written: Odoo then
rebalances the receivable (contract §7).
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from . import reconcile, texts
from .errors import UserError
from .fields import Field, api, round_decimal
from .orm import Model
from .taxes import TaxedLine, leaf_taxes, line_total, raw_base, tax_amounts

INVOICE_TYPES = ("out_invoice", "out_refund")
# -1: the document's amounts are credits (a customer invoice), +1: debits (a credit note)
DIRECTION = {"out_invoice": -1, "out_refund": 1, "entry": 1}
PRICE_FIELDS = ("price_unit", "quantity", "discount", "tax_ids")
AMOUNT_FIELDS = ("balance", "amount_currency", "debit", "credit")
HASH_GUARDED = {  # what a hash-locked posted entry refuses, with Odoo's field labels
    "debit": "Debit", "credit": "Credit", "balance": "Balance",
    "amount_currency": "Amount in Currency", "account_id": "Account", "partner_id": "Partner",
}  # fmt: skip
ZERO = Decimal(0)


def move_lines(store, move_id: int) -> list[dict]:
    return [
        store.get("account.move.line", rid)
        for rid in store.lookup("account.move.line", "move_id", move_id)
    ]


def move_rate(env, move: dict) -> Decimal:
    return env["res.currency"].rate_at(
        move["currency_id"], move.get("invoice_date") or move["date"]
    )


def currency_places(env, move: dict) -> int:
    return env["res.currency"].places(move["currency_id"])


def taxed_line(store, line: dict) -> TaxedLine:
    base = raw_base(line["price_unit"], line["quantity"], line["discount"])
    return TaxedLine(base, line["quantity"], leaf_taxes(store, line.get("tax_ids") or ()))


def sync_move(env, move_id: int, *, products: bool = False, taxes: bool = False) -> None:
    """Bring an invoice's derived journal items up to date, then rebalance it."""
    store = env.store
    move = store.get("account.move", move_id)
    if move["move_type"] not in INVOICE_TYPES:
        return
    if move["state"] == "draft":
        rate, places = move_rate(env, move), currency_places(env, move)
        sign = DIRECTION[move["move_type"]]
        kept: dict[int, dict] = {}  # tax id -> its first tax line
        for line in move_lines(store, move_id):
            if line["display_type"] == "product" and products:
                subtotal = round_decimal(taxed_line(store, line).raw_base, places)
                _set_amount(store, line, sign * subtotal, rate, move)
            elif line["display_type"] == "tax" and products and not taxes:
                # amounts kept (a manual adjustment too), one line per tax: Odoo folds them
                first = kept.setdefault(line["tax_line_id"], line)
                if first is not line:
                    total = first["amount_currency"] + line["amount_currency"]
                    first = kept[line["tax_line_id"]] = {**first, "amount_currency": total}
                    store.delete("account.move.line", line["id"])
                _set_amount(store, first, first["amount_currency"], rate, move)
            elif line["display_type"] in ("product", "tax"):  # the rate may have changed
                _set_amount(store, line, line["amount_currency"], rate, move)
        if taxes:
            _compute_tax_lines(env, move, rate, places, sign)
    rebalance(env, move_id)


def _set_amount(store, line: dict, amount_currency: Decimal, rate: Decimal, move: dict) -> None:
    store.update(
        "account.move.line",
        line["id"],
        {
            "amount_currency": amount_currency,
            "balance": round_decimal(amount_currency / rate, 2),
            "currency_id": move["currency_id"],
        },
    )


def _compute_tax_lines(env, move: dict, rate: Decimal, places: int, sign: int) -> None:
    store = env.store
    lines = move_lines(store, move["id"])
    company = store.get("res.company", env.company_id)
    amounts = tax_amounts(
        [taxed_line(store, line) for line in lines if line["display_type"] == "product"],
        company["tax_calculation_rounding_method"],
        places,
    )
    existing: dict[int, list[dict]] = {}
    for line in lines:
        if line["display_type"] == "tax":
            existing.setdefault(line["tax_line_id"], []).append(line)
    items = env["account.move.line"]
    for tax_id, amount in amounts.items():
        if amount == 0:
            continue
        current = existing.pop(tax_id, [])
        if current:
            _set_amount(store, current[0], sign * amount, rate, move)
            for extra in current[1:]:
                store.delete("account.move.line", extra["id"])
            continue
        line_id = items.create_record(
            {
                "move_id": move["id"],
                "display_type": "tax",
                "name": store.get("account.tax", tax_id)["name"],
                "tax_repartition_line_id": env["account.tax"].distribution(
                    tax_id, refund=move["move_type"] == "out_refund"
                ),
                "quantity": 1,
            }
        )
        _set_amount(store, store.get("account.move.line", line_id), sign * amount, rate, move)
    for stale in existing.values():
        for line in stale:
            store.delete("account.move.line", line["id"])


def rebalance(env, move_id: int) -> None:
    """Make the receivable line carry the opposite of every other line (Odoo's payment terms,
    here always "immediate": one receivable line)."""
    store = env.store
    move = store.get("account.move", move_id)
    if move["move_type"] not in INVOICE_TYPES:
        return
    lines = move_lines(store, move_id)
    terms = [line for line in lines if line["display_type"] == "payment_term"]
    others = [line for line in lines if line["display_type"] in ("product", "tax")]
    if not others:
        for line in terms:
            store.delete("account.move.line", line["id"])
        return
    values = {
        "amount_currency": -sum((line["amount_currency"] for line in others), ZERO),
        "balance": -sum((line["balance"] for line in others), ZERO),
        "partner_id": move.get("partner_id"),
        "currency_id": move["currency_id"],
        "date_maturity": move.get("invoice_date") or move["date"],
    }
    if terms:
        store.update("account.move.line", terms[0]["id"], values)
        return
    env["account.move.line"].create_record(
        {
            "move_id": move_id,
            "display_type": "payment_term",
            "name": "" if env.version == 18 else False,
            "account_id": env.database.chart.receivable_account_id,
            **values,
        }
    )


class AccountMoveLine(Model):
    _name = "account.move.line"
    _description = "Journal Item"
    _order = "date desc, move_name desc, id"
    _fields: ClassVar[dict[str, Field]] = {
        "move_id": Field("many2one", "Journal Entry", relation="account.move", required=True),
        "sequence": Field("integer", "Sequence", default=10),
        "name": Field("char", "Label"),
        "display_type": Field(
            "selection",
            "Display Type",
            required=True,
            selection=(
                ("product", "Product"),
                ("tax", "Tax"),
                ("payment_term", "Payment Term"),
                ("line_section", "Section"),
                ("line_note", "Note"),
                ("rounding", "Rounding"),
            ),
        ),
        "account_id": Field("many2one", "Account", relation="account.account"),
        "account_type": Field(
            "selection", "Internal Type", compute="_compute_account_type", searchable=True
        ),
        "partner_id": Field("many2one", "Partner", relation="res.partner"),
        "quantity": Field("float", "Quantity", digits=2),
        "price_unit": Field("float", "Unit Price", digits=2),
        "discount": Field("float", "Discount (%)", digits=2),
        "tax_ids": Field("many2many", "Taxes", relation="account.tax"),
        "tax_line_id": Field("many2one", "Originator Tax", relation="account.tax"),
        "tax_repartition_line_id": Field(
            "many2one", "Originator Tax Distribution Line", relation="account.tax.repartition.line"
        ),
        "tax_group_id": Field(
            "many2one",
            "Originator tax group",
            relation="account.tax.group",
            compute="_compute_tax_group",
        ),
        "price_subtotal": Field("monetary", "Subtotal", compute="_compute_subtotal"),
        "price_total": Field("monetary", "Total", compute="_compute_total"),
        "amount_currency": Field("monetary", "Amount in Currency"),
        "balance": Field("monetary", "Balance"),
        "debit": Field("monetary", "Debit", compute="_compute_debit"),
        "credit": Field("monetary", "Credit", compute="_compute_credit"),
        "currency_id": Field("many2one", "Currency", relation="res.currency"),
        "company_currency_id": Field(
            "many2one",
            "Company Currency",
            relation="res.currency",
            compute="_compute_company_currency",
        ),
        "company_id": Field("many2one", "Company", relation="res.company", default=1),
        "date": Field("date", "Date", compute="_compute_date"),
        "date_maturity": Field("date", "Due Date"),
        "move_name": Field("char", "Number", compute="_compute_move_name"),
        "parent_state": Field(
            "selection",
            "Status",
            compute="_compute_parent_state",
            selection=(("draft", "Draft"), ("posted", "Posted"), ("cancel", "Cancelled")),
        ),
        "journal_id": Field(
            "many2one", "Journal", relation="account.journal", compute="_compute_journal"
        ),
        "ref": Field("char", "Reference", compute="_compute_ref"),
        "payment_id": Field(
            "many2one", "Originator Payment", relation="account.payment", compute="_compute_payment"
        ),
        "amount_residual": Field("monetary", "Residual Amount", compute="_compute_residual"),
        "amount_residual_currency": Field(
            "monetary", "Residual Amount in Currency", compute="_compute_residual_currency"
        ),
        "reconciled": Field("boolean", "Reconciled", compute="_compute_reconciled"),
        "matching_number": Field("char", "Matching #", compute="_compute_matching_number"),
        "full_reconcile_id": Field("many2one", "Matching", relation="account.full.reconcile"),
        "matched_debit_ids": Field(
            "one2many",
            "Matched Debits",
            relation="account.partial.reconcile",
            inverse="credit_move_id",
        ),
        "matched_credit_ids": Field(
            "one2many",
            "Matched Credits",
            relation="account.partial.reconcile",
            inverse="debit_move_id",
        ),
    }

    # -- computed values ------------------------------------------------------------------------
    def _move(self, record: dict) -> dict:
        return self.store.get("account.move", record["move_id"])

    def _compute_display_name(self, record: dict) -> str:
        move_name = self._move(record).get("name") or ""
        return " ".join(part for part in (move_name, record.get("name") or "") if part)

    def _compute_account_type(self, record: dict) -> str | None:
        account = self.store.get("account.account", record.get("account_id"))
        return account["account_type"] if account else None

    def _compute_tax_group(self, record: dict) -> int | None:
        tax = self.store.get("account.tax", record.get("tax_line_id"))
        return tax["tax_group_id"] if tax else None

    def _compute_subtotal(self, record: dict) -> Decimal:
        if record["display_type"] != "product":
            return ZERO
        places = currency_places(self.env, self._move(record))
        return round_decimal(taxed_line(self.store, record).raw_base, places)

    def _compute_total(self, record: dict) -> Decimal:
        if record["display_type"] != "product":
            return ZERO
        places = currency_places(self.env, self._move(record))
        line = taxed_line(self.store, record)
        return line_total(line, round_decimal(line.raw_base, places), places)

    def _compute_debit(self, record: dict) -> Decimal:
        return max(record["balance"], ZERO)

    def _compute_credit(self, record: dict) -> Decimal:
        return max(-record["balance"], ZERO)

    def _compute_company_currency(self, record: dict) -> int:
        return self.store.get("res.company", self.env.company_id)["currency_id"]

    def _compute_date(self, record: dict) -> str:
        return self._move(record)["date"]

    def _compute_move_name(self, record: dict) -> str | None:
        return self._move(record).get("name")

    def _compute_parent_state(self, record: dict) -> str:
        return self._move(record)["state"]

    def _compute_journal(self, record: dict) -> int:
        return self._move(record)["journal_id"]

    def _compute_ref(self, record: dict) -> str | None:
        return self._move(record).get("ref")

    def _compute_payment(self, record: dict) -> int | None:
        return self._move(record).get("origin_payment_id")

    def _compute_residual(self, record: dict) -> Decimal:
        return reconcile.residuals(self.store, record)[0]

    def _compute_residual_currency(self, record: dict) -> Decimal:
        return reconcile.residuals(self.store, record)[1]

    def _compute_reconciled(self, record: dict) -> bool:
        return reconcile.is_settled(self.store, record)

    def _compute_matching_number(self, record: dict) -> str | bool:
        return reconcile.matching_number(self.store, record)

    # -- creation and changes -------------------------------------------------------------------
    def defaults(self, vals: dict) -> dict:
        move = self.store.get("account.move", vals.get("move_id") or 0)
        if move is None:
            raise self.foreign_key_error(self.fields["move_id"])
        vals.setdefault("display_type", "product")
        vals.setdefault("quantity", 1)
        vals.setdefault("price_unit", 0)
        vals.setdefault("discount", 0)
        vals.setdefault("currency_id", move["currency_id"])
        vals.setdefault("partner_id", move.get("partner_id"))
        vals.setdefault("amount_currency", 0)
        vals.setdefault("balance", 0)
        repartition = self.store.get(
            "account.tax.repartition.line", vals.get("tax_repartition_line_id") or 0
        )
        if repartition and repartition["repartition_type"] == "tax":
            vals.setdefault("tax_line_id", repartition["tax_id"])
            vals.setdefault("account_id", repartition["account_id"])
        if not vals.get("account_id") and vals["display_type"] == "product":
            journal = self.store.get("account.journal", move["journal_id"])
            vals["account_id"] = journal.get("default_account_id")
        return vals

    def set_amounts(self, rid: int, vals: dict) -> None:
        """Apply a written debit, credit, balance or amount in currency to one journal item."""
        line = self.record(rid)
        move = self._move(line)
        name = next(name for name in AMOUNT_FIELDS if name in vals)
        amount = self.convert(self.fields["balance"], vals[name])
        rate = move_rate(self.env, move)
        if name == "amount_currency":
            values = {"amount_currency": amount, "balance": round_decimal(amount / rate, 2)}
        else:
            balance = {"debit": amount, "credit": -amount}.get(name, amount)
            values = {"balance": balance, "amount_currency": round_decimal(balance * rate, 2)}
        self.store.update(self._name, rid, values)

    def set_entry_amounts(self, rid: int, vals: dict) -> None:
        """A journal entry's line as written: debit and credit (or balance) in company
        currency, the amount in currency at the move's rate unless given."""

        def convert(name: str) -> Decimal:
            return self.convert(self.fields["balance"], vals.get(name) or 0)

        balance = convert("balance") if "balance" in vals else convert("debit") - convert("credit")
        rate = move_rate(self.env, self._move(self.record(rid)))
        amount_currency = (
            convert("amount_currency")
            if "amount_currency" in vals
            else round_decimal(balance * rate, 2)
        )
        self.store.update(self._name, rid, {"balance": balance, "amount_currency": amount_currency})

    @api("vals_list", model=True)
    def create(self, vals_list):
        if isinstance(vals_list, dict):
            vals_list = [vals_list]
        ids = []
        for vals in vals_list:
            move = self.store.get("account.move", vals.get("move_id") or 0)
            if move and move["state"] != "draft":
                raise UserError(texts.POSTED_READONLY.format(fields="line_ids"))
            self.check_field_names(vals)
            plain = {k: v for k, v in vals.items() if k not in AMOUNT_FIELDS}
            rid = self.create_record(plain)
            if any(name in vals for name in AMOUNT_FIELDS):
                self.set_amounts(rid, vals)
            line = self.record(rid)
            sync_move(
                self.env,
                line["move_id"],
                products=line["display_type"] == "product",
                taxes=bool(line.get("tax_ids")),
            )
            ids.append(rid)
        return ids

    @api("vals")
    def write(self, ids, vals):
        ids = self.ensure(ids)
        self.check_field_names(vals)
        touched: dict[int, bool] = {}
        for rid in ids:
            line = self.record(rid)
            move = self._move(line)
            if move["state"] == "posted":
                self._check_posted_change(move, vals)
            had_taxes = bool(line.get("tax_ids"))
            self.write_fields(rid, {k: v for k, v in vals.items() if k not in AMOUNT_FIELDS})
            if any(name in vals for name in AMOUNT_FIELDS):
                self.set_amounts(rid, vals)
            priced = any(name in vals for name in PRICE_FIELDS)
            taxed = priced and (had_taxes or bool(self.record(rid).get("tax_ids")))
            touched[move["id"]] = touched.get(move["id"], False) or taxed
        if self.env.context.get("skip_invoice_sync"):  # the trap of Q12 M10: nothing rebalances
            return True
        for move_id, taxed in touched.items():
            products = any(name in vals for name in PRICE_FIELDS)
            sync_move(self.env, move_id, products=products, taxes=taxed)
        return True

    def _check_posted_change(self, move: dict, vals: dict) -> None:
        if "tax_ids" in vals:
            raise UserError(texts.POSTED_TAXES)
        guarded = [label for name, label in HASH_GUARDED.items() if name in vals]
        if move.get("inalterable_hash") and guarded:
            raise UserError(
                texts.HASHED_FIELDS.format(fields=", ".join(guarded), names=move["name"])
            )

    @api()
    def unlink(self, ids):
        ids = self.ensure(ids)
        moves: dict[int, bool] = {}
        for rid in ids:
            line = self.record(rid)
            if self._move(line)["state"] == "posted":
                raise UserError(texts.POSTED_DELETE)
            moves[line["move_id"]] = moves.get(line["move_id"], False) or bool(line.get("tax_ids"))
            reconcile.unreconcile(self.env, [rid])
            self.store.delete(self._name, rid)
        for move_id, taxed in moves.items():
            if self.store.get("account.move", move_id):
                sync_move(self.env, move_id, taxes=taxed)
        return True

    @api()
    def reconcile(self, ids):
        ids = self.ensure(ids)
        reconcile.reconcile_lines(self.env, ids)
        self.env["account.payment"].settle_states(ids)
