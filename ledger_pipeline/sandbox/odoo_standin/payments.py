"""Customer payments: stand-alone `account.payment` records and the `account.payment.register`
wizard, as recorded in odoo-contract §6 (18), odoo19-contract Q8 and odoo-payments.md.

A payment books a journal entry (Dr outstanding receipts / Cr receivable) only when it has an
outstanding account: the method line's `payment_account_id`, or on 19 the chart's 111313. On 18
without one it books nothing, and the invoices it is matched with read paid (Community) whatever
the amount. Payments stay `in_process` on 18 until `action_validate`; on 19 they become `paid`
once every invoice they are reconciled with is paid.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from . import reconcile, texts
from .errors import UserError
from .fields import Field, api, round_decimal
from .journal_items import move_lines
from .orm import Model

ZERO = Decimal(0)
SETTLED_INVOICE = ("paid", "in_payment", "reversed")
PAYMENT_STATES = (
    ("draft", "Draft"), ("in_process", "In Process"), ("paid", "Paid"),
    ("canceled", "Canceled"), ("rejected", "Rejected"),
)  # fmt: skip
DIRECTIONS = (("inbound", "Receive"), ("outbound", "Send"))


class AccountPayment(Model):
    _name = "account.payment"
    _description = "Payments"
    _order = "date desc, name desc"
    _indexes = ("invoice_ids",)
    _fields: ClassVar[dict[str, Field]] = {
        "name": Field("char", "Number"),
        "state": Field(
            "selection", "Status", required=True, default="draft", selection=PAYMENT_STATES
        ),
        "payment_type": Field(
            "selection", "Payment Type", required=True, default="inbound", selection=DIRECTIONS
        ),
        "partner_type": Field(
            "selection",
            "Partner Type",
            required=True,
            default="customer",
            selection=(("customer", "Customer"), ("supplier", "Vendor")),
        ),
        "partner_id": Field("many2one", "Customer/Vendor", relation="res.partner"),
        "amount": Field("monetary", "Amount"),
        "currency_id": Field("many2one", "Currency", relation="res.currency"),
        "date": Field("date", "Date", required=True),
        "memo": Field("char", "Memo"),
        "journal_id": Field("many2one", "Journal", relation="account.journal", required=True),
        "company_id": Field("many2one", "Company", relation="res.company", default=1),
        "payment_method_line_id": Field(
            "many2one", "Payment Method", relation="account.payment.method.line"
        ),
        "outstanding_account_id": Field(
            "many2one", "Outstanding Account", relation="account.account"
        ),
        "destination_account_id": Field(
            "many2one", "Destination Account", relation="account.account"
        ),
        "move_id": Field("many2one", "Journal Entry", relation="account.move", readonly=True),
        "invoice_ids": Field("many2many", "Invoices", relation="account.move"),
        # 18 cannot search it: the condition is silently dropped (odoo-payments.md §E)
        "reconciled_invoice_ids": Field(
            "many2many",
            "Reconciled Invoices",
            relation="account.move",
            store=False,
            searchable=(19,),
            compute="_compute_reconciled_invoices",
        ),
        "is_reconciled": Field("boolean", "Is Reconciled", compute="_compute_is_reconciled"),
        "is_matched": Field(
            "boolean", "Is Matched With a Bank Statement", compute="_compute_is_matched"
        ),
    }

    def _compute_display_name(self, record: dict) -> str:
        return record.get("name") or "Draft Payment"

    # -- computed values ------------------------------------------------------------------------
    def _counterpart_lines(self, record: dict) -> list[dict]:
        if not record.get("move_id"):
            return []
        return [
            line
            for line in move_lines(self.store, record["move_id"])
            if line["account_id"] == record["destination_account_id"]
        ]

    def _compute_reconciled_invoices(self, record: dict) -> tuple:
        found = [] if self.env.version >= 19 else list(record.get("invoice_ids") or ())
        for line in self._counterpart_lines(record):
            for other in reconcile.counterpart_lines(self.store, line["id"]):
                move = self.store.get(
                    "account.move", self.store.get("account.move.line", other)["move_id"]
                )
                if move["move_type"] != "entry":
                    found.append(move["id"])
        return tuple(dict.fromkeys(found))

    def _compute_is_reconciled(self, record: dict) -> bool:
        lines = self._counterpart_lines(record)
        return bool(lines) and all(reconcile.is_settled(self.store, line) for line in lines)

    def _compute_is_matched(self, record: dict) -> bool:
        return not record.get("move_id") and record["state"] == "paid"

    # -- creation -------------------------------------------------------------------------------
    def defaults(self, vals: dict) -> dict:
        journals = self.env["account.journal"]
        if not vals.get("journal_id"):
            vals["journal_id"] = journals.search_ids([("type", "=", "bank")], limit=1)[0]
        journal = journals.record(vals["journal_id"])
        if journal is None:
            raise self.foreign_key_error(self.fields["journal_id"])
        company = self.store.get("res.company", self.env.company_id)
        vals.setdefault("currency_id", journal.get("currency_id") or company["currency_id"])
        vals.setdefault("date", self.env.today())
        direction = vals.setdefault("payment_type", "inbound")
        if not vals.get("payment_method_line_id"):
            vals["payment_method_line_id"] = journals.first_method_line(journal["id"], direction)
        vals.setdefault(
            "outstanding_account_id",
            self._outstanding_account(vals["payment_method_line_id"], direction),
        )
        vals.setdefault("destination_account_id", self.env.database.chart.receivable_account_id)
        return vals

    def _outstanding_account(self, method_line_id: int | None, direction: str) -> int | None:
        line = self.store.get("account.payment.method.line", method_line_id or 0)
        if line and line.get("payment_account_id"):
            return line["payment_account_id"]
        chart = self.env.database.chart  # None on 18: the l10n_ca chart has no such account
        return (
            chart.outstanding_receipts_id
            if direction == "inbound"
            else (chart.outstanding_payments_id)
        )

    # -- posting --------------------------------------------------------------------------------
    @api()
    def action_post(self, ids):
        ids = self.ensure(ids)
        for rid in ids:
            if self.record(rid)["state"] != "draft":
                raise UserError(texts.PAYMENT_NOT_DRAFT)
        self.post(ids, standalone=True)
        return None

    def post(
        self, ids: list[int], writeoffs: dict | None = None, *, standalone: bool = False
    ) -> None:
        """Book each payment's entry (when it has an outstanding account), number it, and set it
        in process. `writeoffs` maps a payment to (account, label, amount) for the wizard. The
        entry may be re-dated by a lock; the payment keeps its own date (§D.2)."""
        unnamed = {rid for rid in ids if standalone and self._named_late(self.record(rid))}
        moves = []
        for rid in ids:
            record = self.record(rid)
            if record.get("outstanding_account_id"):
                moves.append(self._book_entry(record, (writeoffs or {}).get(rid)))
            else:
                self.store.update(
                    self._name, rid, {"name": self._next_plain_name(), "state": "in_process"}
                )
        self.env["account.move"].post(moves)
        for move_id in moves:
            move = self.store.get("account.move", move_id)
            payment_id = move["origin_payment_id"]
            self.store.update(
                self._name,
                payment_id,
                {
                    "name": "/" if payment_id in unnamed else move["name"],
                    "move_id": move_id,
                    "state": "in_process",
                },
            )

    def _named_late(self, record: dict) -> bool:
        """18: a stand-alone payment dated before the journal's last numbered payment reads
        "/" although its entry gets a number (recorded in odoo-corrections §D.1 (ii-b))."""
        if self.env.version != 18:
            return False
        moves = self.env["account.move"]
        dates = [
            move["date"]
            for move in moves._numbered(record["journal_id"], "payment")
            if move.get("origin_payment_id")
        ]
        return bool(dates) and record["date"] < max(dates)

    def _next_plain_name(self) -> str:
        """18 names a payment that books no entry from its own sequence: PAY00001…"""
        used = [
            int(p["name"][3:])
            for p in self.store.all(self._name)
            if (p.get("name") or "").startswith("PAY") and p["name"][3:].isdigit()
        ]
        return f"PAY{max(used, default=0) + 1:05d}"

    def _book_entry(self, record: dict, writeoff: tuple | None) -> int:
        moves, items = self.env["account.move"], self.env["account.move.line"]
        rate = self.env["res.currency"].rate_at(record["currency_id"], record["date"])
        sign = 1 if record["payment_type"] == "inbound" else -1
        move_id = moves.create_record(
            {
                "move_type": "entry",
                "journal_id": record["journal_id"],
                "date": record["date"],
                "ref": record.get("memo"),
                "partner_id": record.get("partner_id"),
                "currency_id": record["currency_id"],
                "origin_payment_id": record["id"],
            }
        )
        parts = [(record["outstanding_account_id"], record.get("memo"), sign * record["amount"])]
        settled = record["amount"]
        if writeoff:
            account, label, amount = writeoff
            parts.append((account, label, sign * amount))
            settled += amount
        parts.append((record["destination_account_id"], record.get("memo"), -sign * settled))
        for account, label, amount in parts:
            items.create_record(
                {
                    "move_id": move_id,
                    "account_id": account,
                    "name": label,
                    "partner_id": record.get("partner_id"),
                    "currency_id": record["currency_id"],
                    "display_type": "product",
                    "amount_currency": amount,
                    "balance": round_decimal(amount / rate, 2),
                    "price_unit": 0,
                }
            )
        return move_id

    @api()
    def action_validate(self, ids):
        for rid in self.ensure(ids):
            self.store.update(self._name, rid, {"state": "paid"})
        return None

    def settle_states(self, line_ids: list[int]) -> None:
        """19: a payment in process turns paid once every invoice it is reconciled with is paid
        (18 keeps it in process until `action_validate`, odoo-payments.md)."""
        if self.env.version < 19:
            return
        invoices = self.env["account.move"]
        touched = set(line_ids)
        for rid in line_ids:
            touched.update(reconcile.counterpart_lines(self.store, rid))
        for line_id in touched:
            line = self.store.get("account.move.line", line_id)
            move = self.store.get("account.move", line["move_id"]) if line else None
            payment = (
                self.record(move["origin_payment_id"])
                if move and move.get("origin_payment_id")
                else None
            )
            if payment is None or payment["state"] != "in_process":
                continue
            reconciled = self._compute_reconciled_invoices(payment)
            if reconciled and all(
                invoices.get(i, "payment_state") in SETTLED_INVOICE for i in reconciled
            ):
                self.store.update(self._name, payment["id"], {"state": "paid"})

    def settle_with(self, payment_id: int, line_ids: list[int]) -> None:
        """Reconcile a posted payment's receivable with the given open invoice lines."""
        own = [line["id"] for line in self._counterpart_lines(self.record(payment_id))]
        if own:
            reconcile.reconcile_lines(self.env, [*line_ids, *own])
            self.settle_states([*line_ids, *own])
