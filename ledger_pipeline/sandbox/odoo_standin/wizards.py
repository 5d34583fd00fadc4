"""The two invoice wizards the record exercised: "Reverse" (`account.move.reversal`, contract §7)
and the list view's "Post entries" (`validate.account.move`, odoo19-contract Q13)."""

from __future__ import annotations

from typing import ClassVar

from .fields import Field, api
from .journal_items import move_lines
from .orm import Model


def _active_moves(env) -> list[int]:
    return env["account.move"].ensure(env.context.get("active_ids") or ())


class AccountMoveReversal(Model):
    _name = "account.move.reversal"
    _description = "Account move reversal"
    _fields: ClassVar[dict[str, Field]] = {
        "move_ids": Field("many2many", "Moves", relation="account.move"),
        "new_move_ids": Field("many2many", "New Moves", relation="account.move"),
        "reason": Field("char", "Reason displayed on Credit Note"),
        "date": Field("date", "Reversal date"),
        "journal_id": Field("many2one", "Journal", relation="account.journal"),
    }

    def defaults(self, vals: dict) -> dict:
        vals.setdefault("move_ids", _active_moves(self.env))
        return vals

    @api()
    def refund_moves(self, ids):
        created = []
        moves = self.env["account.move"]
        for rid in self.ensure(ids):
            wizard = self.record(rid)
            for move_id in wizard["move_ids"]:
                created.append(self._reverse(moves.record(move_id), wizard))
            self.store.update(self._name, rid, {"new_move_ids": tuple(created)})
        action = {
            "name": "Reverse Moves",
            "type": "ir.actions.act_window",
            "res_model": "account.move",
        }
        if len(created) == 1:
            return {
                **action,
                "view_mode": "form",
                "res_id": created[0],
                "context": {"default_move_type": "out_refund"},
            }
        return {**action, "view_mode": "list,form", "domain": [["id", "in", created]]}

    def _reverse(self, move: dict, wizard: dict) -> int:
        """A draft credit note repeating the invoice's lines."""
        reason = wizard.get("reason")
        ref = f"Reversal of: {move['name']}, {reason}" if reason else f"Reversal of: {move['name']}"
        date = wizard.get("date") or move["date"]
        lines = [
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
        return self.env["account.move"].create_record(
            {
                "move_type": "out_refund" if move["move_type"] == "out_invoice" else "out_invoice",
                "partner_id": move.get("partner_id"),
                "currency_id": move["currency_id"],
                "journal_id": wizard.get("journal_id") or move["journal_id"],
                "ref": ref,
                "invoice_date": date,
                "reversed_entry_id": move["id"],
                "invoice_line_ids": lines,
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
