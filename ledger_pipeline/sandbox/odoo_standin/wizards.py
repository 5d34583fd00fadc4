"""The two invoice wizards the record exercised: "Reverse" (`account.move.reversal`, contract §7)
and the list view's "Post entries" (`validate.account.move`, odoo19-contract Q13)."""

from __future__ import annotations

from typing import ClassVar

from . import locks
from .errors import UserError
from .fields import Field, api
from .journal_items import move_lines
from .orm import Model


def _active_moves(env) -> list[int]:
    return env["account.move"].ensure(env.context.get("active_ids") or ())


class AccountMoveReversal(Model):
    """`account.move.reversal` (odoo-corrections §B.1–B.3): `reverse_moves` (≡ `refund_moves`)
    makes a draft credit note; `modify_moves` posts it, which reconciles it with the invoice,
    and opens a new draft copy of the invoice. A date inside the lock becomes the day after the
    lock (`copy_data`, §D.2)."""

    _name = "account.move.reversal"
    _description = "Account move reversal"
    _fields: ClassVar[dict[str, Field]] = {
        "move_ids": Field("many2many", "Moves", relation="account.move"),
        "new_move_ids": Field("many2many", "New Moves", relation="account.move"),
        "reason": Field("char", "Reason displayed on Credit Note"),
        "date": Field("date", "Reversal date"),
        "journal_id": Field("many2one", "Journal", relation="account.journal", required=True),
        "company_id": Field("many2one", "Company", relation="res.company", required=True),
        "residual": Field("monetary", "Residual", compute="_compute_residual"),
        "move_type": Field(
            "selection",
            "Type",
            compute="_compute_move_type",
            selection=(
                ("entry", "Journal Entry"),
                ("out_invoice", "Customer Invoice"),
                ("out_refund", "Customer Credit Note"),
            ),
        ),
        "available_journal_ids": Field(
            "many2many",
            "Available Journals",
            relation="account.journal",
            store=False,
            compute="_compute_available_journals",
        ),
    }

    def defaults(self, vals: dict) -> dict:
        vals.setdefault("move_ids", _active_moves(self.env))
        vals.setdefault("company_id", self.env.company_id)
        vals.setdefault("date", self.env.today())
        moves = [self.store.get("account.move", rid) for rid in vals["move_ids"]]
        if any(move["state"] != "posted" for move in moves):
            raise UserError(self.env.text("reverse_unposted"))
        if moves and not vals.get("journal_id"):
            vals["journal_id"] = moves[0]["journal_id"]
        return vals

    def _moves(self, record: dict) -> list[dict]:
        return [self.store.get("account.move", rid) for rid in record.get("move_ids") or ()]

    def _compute_residual(self, record: dict):
        moves = self.env["account.move"]
        return sum(moves.get(move["id"], "amount_residual") for move in self._moves(record))

    def _compute_move_type(self, record: dict) -> str | None:
        moves = self._moves(record)
        return moves[0]["move_type"] if moves else None

    def _compute_available_journals(self, record: dict) -> tuple:
        kinds = {
            self.store.get("account.journal", move["journal_id"])["type"]
            for move in self._moves(record)
        }
        return tuple(self.env["account.journal"].search_ids([("type", "in", sorted(kinds))]))

    @api(is_modify=False)
    def reverse_moves(self, ids, is_modify=False):
        return self._reverse_all(ids, bool(is_modify))

    @api()
    def refund_moves(self, ids):
        return self._reverse_all(ids, False)

    @api()
    def modify_moves(self, ids):
        return self._reverse_all(ids, True)

    def _reverse_all(self, ids, is_modify: bool) -> dict:
        moves = self.env["account.move"]
        credit_notes: list[int] = []
        copies: list[int] = []
        for rid in self.ensure(ids):
            wizard = self.record(rid)
            made = [self._reverse(moves.record(move_id), wizard) for move_id in wizard["move_ids"]]
            credit_notes.extend(made)
            if is_modify:
                moves.post(made)  # posting reconciles each with its invoice
                copies.extend(
                    self._copy(moves.record(move_id), wizard) for move_id in wizard["move_ids"]
                )
            self.store.update(
                self._name, rid, {"new_move_ids": tuple(copies if is_modify else made)}
            )
        shown = copies if is_modify else credit_notes
        action = {
            "name": "Reverse Moves",
            "type": "ir.actions.act_window",
            "res_model": "account.move",
        }
        if len(shown) == 1:
            return {
                **action,
                "view_mode": "form",
                "res_id": shown[0],
                "context": {"default_move_type": moves.record(shown[0])["move_type"]},
            }
        return {**action, "view_mode": "list,form", "domain": [["id", "in", shown]]}

    def _unlocked(self, move: dict, date: str) -> str:
        """`copy_data`: a date on or before the lock becomes the day after it."""
        journal = self.store.get("account.journal", move["journal_id"])
        lock = locks.user_fiscal_lock_date(self.env, journal)
        return locks.day_after(lock) if lock and date <= lock else date

    def _product_lines(self, move: dict) -> list:
        return [
            [
                0,
                0,
                {
                    "name": line.get("name"),
                    "quantity": line["quantity"],
                    "price_unit": line["price_unit"],
                    "discount": line["discount"],
                    "account_id": line["account_id"],
                    "tax_ids": [[6, 0, list(line.get("tax_ids") or ())]],
                },
            ]
            for line in move_lines(self.store, move["id"])
            if line["display_type"] == "product"
        ]

    def _reverse(self, move: dict, wizard: dict) -> int:
        """A draft credit note repeating the invoice's lines (`_prepare_default_reversal`)."""
        reason = wizard.get("reason")
        ref = f"Reversal of: {move['name']}, {reason}" if reason else f"Reversal of: {move['name']}"
        date = wizard.get("date") or move["date"]
        moves = self.env["account.move"]
        rid = moves.create_record(
            {
                "move_type": "out_refund" if move["move_type"] == "out_invoice" else "out_invoice",
                "partner_id": move.get("partner_id"),
                "currency_id": move["currency_id"],
                "journal_id": wizard.get("journal_id") or move["journal_id"],
                "ref": ref,
                "invoice_date": date,
                "reversed_entry_id": move["id"],
                "invoice_line_ids": self._product_lines(move),
            }
        )
        unlocked = self._unlocked(move, date)
        if unlocked != date:  # the invoice date stays; only the accounting date moves
            self.store.update("account.move", rid, {"date": unlocked})
        return rid

    def _copy(self, move: dict, wizard: dict) -> int:
        """`modify_moves`' new draft: the invoice's lines, no invoice date, the wizard's date."""
        date = self._unlocked(move, wizard.get("date") or move["date"])
        return self.env["account.move"].create_record(
            {
                "move_type": move["move_type"],
                "partner_id": move.get("partner_id"),
                "currency_id": move["currency_id"],
                "journal_id": move["journal_id"],
                "date": date,
                "invoice_line_ids": self._product_lines(move),
            }
        )


class ValidateAccountMove(Model):
    _name = "validate.account.move"
    _description = "Validate Account Move"
    _fields: ClassVar[dict[str, Field]] = {
        "move_ids": Field("many2many", "Moves", relation="account.move"),
        "force_post": Field("boolean", "Force"),
    }

    def defaults(self, vals: dict) -> dict:
        vals.setdefault("move_ids", _active_moves(self.env))
        return vals

    @api()
    def validate_move(self, ids):
        moves = self.env["account.move"]
        for rid in self.ensure(ids):
            moves.action_post(list(self.record(rid)["move_ids"]))
        return {"type": "ir.actions.act_window_close"}
