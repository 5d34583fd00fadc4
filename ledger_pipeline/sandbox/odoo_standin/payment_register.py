"""The "Register Payment" wizard (`account.payment.register`), opened over the invoices in the
context's `active_ids`.

Its open receivable lines are grouped in batches (partner, account, currency, direction). With one
batch the wizard is editable: one payment of the wizard's `amount` when it covers a single line or
`group_payment` is set ("edit mode"); otherwise one payment per batch (grouped) or per line, each
of the open residual, so a given `amount` is ignored (odoo-payments.md B). Invoices already paid
are skipped; a wizard with nothing left to pay is refused.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from . import reconcile, texts
from .errors import UserError
from .fields import Field, api, to_decimal
from .journal_items import move_lines
from .orm import Model

ZERO = Decimal(0)


class AccountPaymentRegister(Model):
    _name = "account.payment.register"
    _description = "Pay"
    _fields: ClassVar[dict[str, Field]] = {
        "payment_date": Field("date", "Payment Date", required=True),
        "amount": Field("monetary", "Amount"),
        "communication": Field("char", "Memo"),
        "group_payment": Field("boolean", "Group Payments"),
        "journal_id": Field("many2one", "Journal", relation="account.journal"),
        "payment_method_line_id": Field(
            "many2one", "Payment Method", relation="account.payment.method.line"
        ),
        "currency_id": Field("many2one", "Currency", relation="res.currency"),
        "partner_id": Field("many2one", "Customer/Vendor", relation="res.partner"),
        "payment_type": Field(
            "selection", "Payment Type", selection=(("inbound", "Receive"), ("outbound", "Send"))
        ),
        "partner_type": Field(
            "selection",
            "Partner Type",
            selection=(("customer", "Customer"), ("supplier", "Vendor")),
        ),
        "line_ids": Field("many2many", "Journal items", relation="account.move.line"),
        "source_amount": Field("monetary", "Amount to Pay (company currency)"),
        "source_amount_currency": Field("monetary", "Amount to Pay (foreign currency)"),
        "source_currency_id": Field("many2one", "Source Currency", relation="res.currency"),
        "can_edit_wizard": Field("boolean", "Can Edit Wizard"),
        "can_group_payments": Field("boolean", "Can Group Payments"),
        "total_payments_amount": Field("integer", "Number of Payments"),
        "payment_difference": Field(
            "monetary", "Payment Difference", compute="_compute_difference"
        ),
        "payment_difference_handling": Field(
            "selection",
            "Payment Difference Handling",
            default="open",
            selection=(("open", "Keep open"), ("reconcile", "Mark as fully paid")),
        ),
        "writeoff_account_id": Field("many2one", "Difference Account", relation="account.account"),
        "writeoff_label": Field("char", "Journal Item Label", default="Write-Off"),
        "company_id": Field("many2one", "Company", relation="res.company", default=1),
    }

    # -- opening the wizard ---------------------------------------------------------------------
    def defaults(self, vals: dict) -> dict:
        lines = self._open_lines_from_context()
        batches = self._batches(lines)
        journals = self.env["account.journal"]
        vals.setdefault("payment_date", self.env.today())
        vals.setdefault("group_payment", True)
        if not vals.get("journal_id"):
            vals["journal_id"] = journals.search_ids([("type", "=", "bank")], limit=1)[0]
        first = batches[0]
        direction = "inbound" if first[0]["balance"] > 0 else "outbound"
        vals.setdefault(
            "payment_method_line_id", journals.first_method_line(vals["journal_id"], direction)
        )
        vals.update(
            line_ids=[line["id"] for line in lines],
            payment_type=direction,
            partner_type="customer",
            can_edit_wizard=len(batches) == 1,
            source_currency_id=first[0]["currency_id"],
        )
        if len(batches) == 1:
            owed = [reconcile.residuals(self.store, line) for line in first]
            vals.update(
                source_amount=abs(sum((o[0] for o in owed), ZERO)),
                source_amount_currency=abs(sum((o[1] for o in owed), ZERO)),
                partner_id=first[0].get("partner_id"),
                can_group_payments=len(first) > 1,
            )
            vals.setdefault("currency_id", first[0]["currency_id"])
            vals.setdefault("amount", vals["source_amount_currency"])
            vals.setdefault(
                "communication",
                self._memo(first[0]) if len(first) == 1 else self._group_memo(vals["payment_date"]),
            )
        else:
            vals.update(can_group_payments=any(len(batch) > 1 for batch in batches), amount=0)
        grouped = vals["group_payment"] or (len(batches) == 1 and len(first) == 1)
        vals["total_payments_amount"] = sum(1 if grouped else len(b) for b in batches)
        return vals

    def _open_lines_from_context(self) -> list[dict]:
        context = self.env.context
        active = [int(rid) for rid in context.get("active_ids") or ()]
        if context.get("active_model") == "account.move.line":
            lines = [
                self.store.get("account.move.line", rid)
                for rid in self.env["account.move.line"].ensure(active)
            ]
        elif context.get("active_model") == "account.move":
            lines = [
                line
                for move_id in self.env["account.move"].ensure(active)
                for line in move_lines(self.store, move_id)
            ]
        else:
            raise UserError(texts.REGISTER_WRONG_MODEL)
        if any(
            self.store.get("account.move", line["move_id"])["state"] != "posted" for line in lines
        ):
            raise UserError(texts.REGISTER_UNPOSTED)
        open_lines = [line for line in lines if _is_open_receivable(self.store, line)]
        if not open_lines:
            raise UserError(self.env.text("nothing_to_pay"))
        return self._in_wizard_order(open_lines)

    def _in_wizard_order(self, lines: list[dict]) -> list[dict]:
        """Odoo reads the lines in `account.move.line` order: date desc, move name desc, id."""
        items = self.env["account.move.line"]
        order = {
            rid: position
            for position, rid in enumerate(items.sorted_ids([line["id"] for line in lines]))
        }
        return sorted(lines, key=lambda line: order[line["id"]])

    def _batches(self, lines: list[dict]) -> list[list[dict]]:
        batches: dict[tuple, list[dict]] = {}
        for line in lines:
            key = (
                line.get("partner_id"),
                line["account_id"],
                line["currency_id"],
                line["balance"] > 0,
            )
            batches.setdefault(key, []).append(line)
        return list(batches.values())

    def _memo(self, line: dict) -> str:
        move = self.store.get("account.move", line["move_id"])
        if self.env.version == 18 and move.get("ref"):
            return f"{move['ref']} - {move['name']}"
        return move.get("payment_reference") or move["name"]

    def _group_memo(self, payment_date: str) -> str:
        """A grouped payment's memo consumes a number of its own (BATCH/GROUP/<year>/<n>)."""
        counter = self.store.get("ir.sequence", 1)
        number = counter["number_next"] if counter else 1
        if counter:
            self.store.update("ir.sequence", 1, {"number_next": number + 1})
        else:
            self.store.insert("ir.sequence", {"id": 1, "number_next": number + 1})
        prefix = self.env.text("group_memo_prefix")
        return f"{prefix}/{str(payment_date)[:4]}/{number:05d}"

    def _compute_difference(self, record: dict) -> Decimal:
        if not record.get("can_edit_wizard"):
            return ZERO
        return record["source_amount_currency"] - record["amount"]

    # -- paying ---------------------------------------------------------------------------------
    @api()
    def action_create_payments(self, ids):
        created: list[int] = []
        for rid in self.ensure(ids):
            created.extend(self._create_payments(self.record(rid)))
        action = {
            "name": "Payments",
            "type": "ir.actions.act_window",
            "res_model": "account.payment",
            "context": {"create": False},
        }
        if len(created) == 1:
            return {**action, "view_mode": "form", "res_id": created[0]}
        return {**action, "view_mode": "list,form", "domain": [["id", "in", created]]}

    def _create_payments(self, wizard: dict) -> list[int]:
        store = self.store
        lines = [store.get("account.move.line", rid) for rid in wizard["line_ids"]]
        lines = self._in_wizard_order(
            [line for line in lines if line and _is_open_receivable(store, line)]
        )
        batches = self._batches(lines)
        plans: list[tuple[dict, list[dict], tuple | None]] = []
        if wizard["can_edit_wizard"] and (len(lines) == 1 or wizard["group_payment"]):
            plans.append(
                (
                    self._payment_vals(
                        wizard, lines, wizard["amount"], wizard.get("communication")
                    ),
                    lines,
                    self._writeoff(wizard),
                )
            )
        else:
            for batch in batches:
                groups = [batch] if wizard["group_payment"] else [[line] for line in batch]
                for group in groups:
                    owed = abs(sum((reconcile.residuals(store, line)[1] for line in group), ZERO))
                    memo = (
                        self._memo(group[0])
                        if len(group) == 1
                        else self._group_memo(wizard["payment_date"])
                    )
                    plans.append((self._payment_vals(wizard, group, owed, memo), group, None))
        payments = self.env["account.payment"]
        created = [payments.create_record(vals) for vals, _, _ in plans]
        payments.post(
            created, {pid: plan[2] for pid, plan in zip(created, plans, strict=True) if plan[2]}
        )
        for payment_id, (_, group, _) in zip(created, plans, strict=True):
            if payments.record(payment_id).get("move_id"):
                payments.settle_with(payment_id, [line["id"] for line in group])
            else:  # 18 without an outstanding account: no entry, the payment reads paid
                store.update("account.payment", payment_id, {"state": "paid"})
        return created

    def _payment_vals(self, wizard: dict, lines: list[dict], amount, memo) -> dict:
        return {
            "payment_type": wizard["payment_type"],
            "partner_type": wizard["partner_type"],
            "partner_id": lines[0].get("partner_id"),
            "amount": amount,
            "currency_id": wizard.get("currency_id") or lines[0]["currency_id"],
            "date": wizard["payment_date"],
            "memo": memo,
            "journal_id": wizard["journal_id"],
            "payment_method_line_id": wizard.get("payment_method_line_id"),
            "invoice_ids": [[6, 0, list(dict.fromkeys(line["move_id"] for line in lines))]],
        }

    def _writeoff(self, wizard: dict) -> tuple | None:
        difference = self._compute_difference(wizard)
        if (
            wizard.get("payment_difference_handling") == "reconcile"
            and difference
            and wizard.get("writeoff_account_id")
        ):
            return (
                wizard["writeoff_account_id"],
                wizard.get("writeoff_label"),
                to_decimal(difference),
            )
        return None


def _is_open_receivable(store, line: dict) -> bool:
    account = store.get("account.account", line["account_id"])
    if account is None or account["account_type"] not in ("asset_receivable", "liability_payable"):
        return False
    residual, residual_currency = reconcile.residuals(store, line)
    return residual != 0 or residual_currency != 0
