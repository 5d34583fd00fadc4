"""Customer invoices and credit notes (`account.move`): totals, the tax-totals widget's values,
payment state, numbering, posting rules, and the changes a posted move refuses."""

from __future__ import annotations

import hashlib
import textwrap
from decimal import Decimal
from typing import ClassVar

from . import locks, reconcile, sequences, tax_totals, texts
from .errors import UserError, value_error
from .fields import Field, api, parse_command
from .journal_items import (
    AMOUNT_FIELDS,
    DIRECTION,
    INVOICE_TYPES,
    PRICE_FIELDS,
    move_lines,
    move_rate,
    sync_move,
)
from .orm import Model

ZERO = Decimal(0)
MOVE_TYPES = (
    ("entry", "Journal Entry"), ("out_invoice", "Customer Invoice"),
    ("out_refund", "Customer Credit Note"), ("in_invoice", "Vendor Bill"),
    ("in_refund", "Vendor Credit Note"), ("out_receipt", "Sales Receipt"),
    ("in_receipt", "Purchase Receipt"),
)  # fmt: skip
DRAFT_LABEL = {"out_invoice": "Invoice", "out_refund": "Credit Note", "entry": "Entry"}
POSTED_WRITABLE = ("ref", "narration")  # and custom x_ fields (contract §7, §10)
TAX_LINE_TRIGGERS = ("partner_id", "currency_id", "move_type")
RATE_TRIGGERS = ("invoice_date", "date", "currency_id")
PAYMENT_STATES = (
    ("not_paid", "Not Paid"), ("in_payment", "In Payment"), ("paid", "Paid"),
    ("partial", "Partially Paid"), ("reversed", "Reversed"), ("blocked", "Blocked"),
    ("invoicing_legacy", "Invoicing App Legacy"),
)  # fmt: skip
AMOUNTS = (
    "amount_untaxed", "amount_tax", "amount_total", "amount_residual", "amount_untaxed_signed",
    "amount_tax_signed", "amount_total_signed", "amount_residual_signed",
)  # fmt: skip


def _real_name(name: str | None) -> bool:
    return bool(name) and name != "/"


class AccountMove(Model):
    _name = "account.move"
    _description = "Journal Entry"
    _order = "date desc, name desc, id desc"
    _indexes = ("journal_id",)
    _fields: ClassVar[dict[str, Field]] = {
        "name": Field("char", "Number"),
        "move_type": Field(
            "selection", "Type", required=True, default="entry", selection=MOVE_TYPES
        ),
        "state": Field(
            "selection",
            "Status",
            required=True,
            default="draft",
            readonly=True,
            selection=(("draft", "Draft"), ("posted", "Posted"), ("cancel", "Cancelled")),
        ),
        "partner_id": Field("many2one", "Partner", relation="res.partner"),
        "commercial_partner_id": Field(
            "many2one",
            "Commercial Entity",
            relation="res.partner",
            compute="_compute_commercial_partner",
        ),
        "invoice_date": Field("date", "Invoice/Bill Date"),
        "invoice_date_due": Field("date", "Due Date", compute="_compute_due_date"),
        "date": Field("date", "Date", required=True),
        "ref": Field("char", "Reference"),
        "narration": Field("html", "Terms and Conditions"),
        "payment_reference": Field("char", "Payment Reference"),
        "invoice_origin": Field("char", "Origin"),
        "journal_id": Field("many2one", "Journal", relation="account.journal", required=True),
        "company_id": Field("many2one", "Company", relation="res.company", default=1),
        "currency_id": Field("many2one", "Currency", relation="res.currency", required=True),
        "company_currency_id": Field(
            "many2one",
            "Company Currency",
            relation="res.currency",
            compute="_compute_company_currency",
        ),
        "line_ids": Field(
            "one2many",
            "Journal Items",
            relation="account.move.line",
            inverse="move_id",
            setter="_set_lines",
        ),
        "invoice_line_ids": Field(
            "one2many",
            "Invoice lines",
            relation="account.move.line",
            compute="_compute_invoice_lines",
            setter="_set_lines",
        ),
        **{
            name: Field("monetary", name.replace("_", " ").title(), compute=f"_compute_{name}")
            for name in AMOUNTS
        },
        "payment_state": Field(
            "selection",
            "Payment Status",
            compute="_compute_payment_state",
            selection=PAYMENT_STATES,
        ),
        "tax_totals": Field(
            "binary",
            "Invoice Totals",
            store=False,
            compute="_compute_tax_totals",
            setter="_set_tax_totals",
        ),
        "invoice_currency_rate": Field("float", "Currency Rate", compute="_compute_rate"),
        "matched_payment_ids": Field(
            "many2many",
            "Matched Payments",
            relation="account.payment",
            compute="_compute_matched_payments",
        ),
        "reconciled_payment_ids": Field(
            "many2many",
            "Reconciled Payments",
            relation="account.payment",
            store=False,
            searchable=True,
            compute="_compute_reconciled_payments",
            versions=(19,),
        ),
        "origin_payment_id": Field("many2one", "Payment", relation="account.payment"),
        "auto_post": Field(
            "selection",
            "Auto-post",
            default="no",
            selection=(
                ("no", "No"),
                ("at_date", "At Date"),
                ("monthly", "Monthly"),
                ("quarterly", "Quarterly"),
                ("yearly", "Yearly"),
            ),
        ),
        "reversed_entry_id": Field("many2one", "Reversal of", relation="account.move"),
        "reversal_move_ids": Field(
            "one2many", "Reversal Moves", relation="account.move", inverse="reversed_entry_id"
        ),
        "posted_before": Field("boolean", "Posted Before", readonly=True),
        "restrict_mode_hash_table": Field(
            "boolean", "Secure Posted Entries with Hash", compute="_compute_hash_mode"
        ),
        "inalterable_hash": Field("char", "Inalterability Hash", readonly=True),
        "secure_sequence_number": Field(
            "integer", "Inalterability No Gap Sequence #", readonly=True
        ),
        "sequence_prefix": Field("char", "Sequence Prefix", compute="_compute_sequence_prefix"),
        "sequence_number": Field("integer", "Sequence Number", compute="_compute_sequence_number"),
        "tax_calculation_rounding_method": Field(
            "selection",
            "Tax calculation rounding method",
            store=False,
            compute="_compute_rounding_method",
            setter="_ignore_related",
            selection=(("round_per_line", "Round per Line"), ("round_globally", "Round Globally")),
        ),
    }

    # -- computed values ------------------------------------------------------------------------
    def _compute_display_name(self, record: dict) -> str:
        name = record.get("name")
        if record["state"] == "draft" and record["move_type"] in DRAFT_LABEL:
            shown = name if _real_name(name) else ""  # "Draft Invoice  (ref)", as 18 wrote it
            text = f"Draft {DRAFT_LABEL[record['move_type']]} {shown}"
        else:
            text = name or "/"
        # `_get_move_display_name`: the ref shortened to 50 characters ("… [...]")
        return (
            f"{text} ({textwrap.shorten(record['ref'], width=50)})" if record.get("ref") else text
        )

    def _compute_commercial_partner(self, record: dict) -> int | None:
        partner = record.get("partner_id")
        return self.env["res.partner"].get(partner, "commercial_partner_id") if partner else None

    def _compute_due_date(self, record: dict) -> str | None:
        return record.get("invoice_date") or record.get("date")

    def _compute_company_currency(self, record: dict) -> int:
        return self.store.get("res.company", self.env.company_id)["currency_id"]

    def _compute_invoice_lines(self, record: dict) -> tuple:
        return tuple(
            line["id"]
            for line in move_lines(self.store, record["id"])
            if line["display_type"] in ("product", "line_section", "line_note")
        )

    def totals(self, record: dict) -> dict[str, Decimal]:
        lines = move_lines(self.store, record["id"])
        sums = {kind: [ZERO, ZERO] for kind in ("product", "tax")}
        residual = [ZERO, ZERO]
        for line in lines:
            if line["display_type"] in sums:
                sums[line["display_type"]][0] += line["amount_currency"]
                sums[line["display_type"]][1] += line["balance"]
            elif line["display_type"] == "payment_term":
                company, currency = reconcile.residuals(self.store, line)
                residual[0] += currency
                residual[1] += company
        if record["move_type"] not in INVOICE_TYPES:
            total = sum((max(line["balance"], ZERO) for line in lines), ZERO)
            return {name: ZERO for name in AMOUNTS} | {
                "amount_total": total,
                "amount_total_signed": total,
            }
        sign = DIRECTION[record["move_type"]]
        (untaxed, untaxed_bal), (tax, tax_bal) = sums["product"], sums["tax"]
        return {
            "amount_untaxed": sign * untaxed,
            "amount_tax": sign * tax,
            "amount_total": sign * (untaxed + tax),
            "amount_residual": -sign * residual[0],
            "amount_untaxed_signed": -untaxed_bal,
            "amount_tax_signed": -tax_bal,
            "amount_total_signed": -(untaxed_bal + tax_bal),
            "amount_residual_signed": residual[1],
        }

    def _compute_payment_state(self, record: dict) -> str:
        """Community's rules (contract §6, 19 Q8, odoo-corrections §B.4/§E): settled → paid, or
        reversed when an invoice's counterparts are credit notes (with or without plain
        entries); partly settled → partial; on 18, a matched payment that booked no entry
        reads paid, whatever its amount; a draft reads not paid unless (19) it kept the
        reconciliation of a payment."""
        if record["move_type"] not in INVOICE_TYPES or record["state"] == "cancel":
            return "not_paid"
        if record["state"] == "draft" and (
            self.env.version == 18 or not self._has_partials(record)
        ):
            return "not_paid"
        totals = self.totals(record)
        if totals["amount_residual"] == 0:
            kinds = self._counterpart_kinds(record)
            if record["move_type"] == "out_invoice" and kinds in (
                {"out_refund"},
                {"out_refund", "entry"},
            ):
                return "reversed"
            if record["move_type"] == "out_refund" and kinds == {"entry"}:
                return "reversed"
            return "paid"
        if totals["amount_residual"] != totals["amount_total"]:
            return "partial"
        if any(
            payment.get("move_id") is None and payment["state"] in ("in_process", "paid")
            for payment in self._matched_payments(record)
        ):
            return "paid"
        return "not_paid"

    def _counterpart_kinds(self, record: dict) -> set[str]:
        """The move types the invoice's receivable is matched with; a payment's entry counts as
        a payment, not as a plain `entry` (a refunded credit note reads paid, §C.1)."""
        kinds = set()
        for line in move_lines(self.store, record["id"]):
            if line["display_type"] != "payment_term":
                continue
            for other in reconcile.counterpart_lines(self.store, line["id"]):
                move = self.store.get(
                    "account.move", self.store.get("account.move.line", other)["move_id"]
                )
                kinds.add("payment" if move.get("origin_payment_id") else move["move_type"])
        return kinds

    def _has_partials(self, record: dict) -> bool:
        return any(
            reconcile.counterpart_lines(self.store, line["id"])
            for line in move_lines(self.store, record["id"])
        )

    def _matched_payments(self, record: dict) -> list[dict]:
        return [
            self.store.get("account.payment", rid)
            for rid in self.store.lookup("account.payment", "invoice_ids", record["id"])
        ]

    def _compute_matched_payments(self, record: dict) -> tuple:
        return tuple(payment["id"] for payment in self._matched_payments(record))

    def _compute_reconciled_payments(self, record: dict) -> tuple:
        found = []
        for line in move_lines(self.store, record["id"]):
            for other in reconcile.counterpart_lines(self.store, line["id"]):
                move = self.store.get(
                    "account.move", self.store.get("account.move.line", other)["move_id"]
                )
                if move.get("origin_payment_id"):
                    found.append(move["origin_payment_id"])
        return tuple(dict.fromkeys(found))

    def _compute_rate(self, record: dict) -> Decimal:
        return move_rate(self.env, record)

    def _compute_hash_mode(self, record: dict) -> bool:
        return bool(
            self.store.get("account.journal", record["journal_id"]).get("restrict_mode_hash_table")
        )

    def _compute_sequence_prefix(self, record: dict) -> str | None:
        parsed = sequences.parse(record.get("name"))
        return parsed[0] if parsed else None

    def _compute_sequence_number(self, record: dict) -> int:
        parsed = sequences.parse(record.get("name"))
        return parsed[1] if parsed else 0

    def _compute_rounding_method(self, record: dict) -> str:
        return self.store.get("res.company", self.env.company_id)["tax_calculation_rounding_method"]

    def _ignore_related(self, rid: int, value) -> None:
        """A readonly related field: Odoo accepts the write and changes nothing (Q12 M15)."""

    # -- the tax-totals widget ------------------------------------------------------------------
    def _compute_tax_totals(self, record: dict) -> dict | bool:
        return tax_totals.widget(self.env, record)

    def _set_tax_totals(self, rid: int, value) -> None:
        tax_totals.apply(self.env, rid, value)

    # -- creation and changes -------------------------------------------------------------------
    def defaults(self, vals: dict) -> dict:
        move_type = vals.setdefault("move_type", "entry")
        if not vals.get("journal_id"):
            kind = "sale" if move_type in INVOICE_TYPES else "general"
            journals = self.env["account.journal"]
            vals["journal_id"] = journals.search_ids([("type", "=", kind)], limit=1)[0]
        journal = self.store.get("account.journal", vals["journal_id"])
        company = self.store.get("res.company", self.env.company_id)
        if not vals.get("currency_id"):
            vals["currency_id"] = (journal or {}).get("currency_id") or company["currency_id"]
        # `date` is computed from `invoice_date`, but a value given in the same create wins
        # (the ORM protects fields written explicitly)
        vals["date"] = vals.get("date") or vals.get("invoice_date") or self.env.today()
        if not vals.get("name"):
            vals["name"] = "/" if self.env.version == 18 else False
        return vals

    def create_record(self, vals: dict) -> int:
        self.check_field_names(vals)
        vals = dict(vals)
        tax_totals = vals.pop("tax_totals", None)
        commands = [
            *(vals.pop("invoice_line_ids", None) or ()),
            *(vals.pop("line_ids", None) or ()),
        ]
        rid = super().create_record(vals)
        self._apply_line_commands(rid, commands)
        sync_move(self.env, rid, products=True, taxes=True)
        if tax_totals:
            self._set_tax_totals(rid, tax_totals)
        self._name_first_draft(rid)
        return rid

    @api("vals_list", model=True)
    def create(self, vals_list):
        if isinstance(vals_list, dict):
            vals_list = [vals_list]
        for vals in vals_list:
            self.check_field_names(vals)
            if vals.get("move_type", "entry") not in (*INVOICE_TYPES, "entry"):
                raise value_error(
                    f"stand-in: move_type {vals.get('move_type', 'entry')!r} is not modelled; "
                    "only customer invoices, credit notes and journal entries are"
                )
        ids = [self.create_record(vals) for vals in vals_list]
        for rid in ids:  # `create` ends in `_check_balanced`: an unbalanced entry is refused
            self.check_balanced(self.record(rid))
        return ids

    @api("vals")
    def write(self, ids, vals):
        ids = self.ensure(ids)
        self.check_field_names(vals)
        for rid in ids:
            self._write_move(rid, dict(vals))
        return True

    def _write_move(self, rid: int, vals: dict) -> None:
        before = self.record(rid)
        self.check_balanced(before)
        if before["state"] != "draft":
            refused = [
                name for name in vals if name not in POSTED_WRITABLE and not name.startswith("x_")
            ]
            if refused:
                raise UserError(texts.POSTED_READONLY.format(fields=", ".join(refused)))
        tax_totals = vals.pop("tax_totals", None)
        commands = [
            *(vals.pop("invoice_line_ids", None) or ()),
            *(vals.pop("line_ids", None) or ()),
        ]
        if vals.get("invoice_date") and before["move_type"] in INVOICE_TYPES:
            vals.setdefault("date", vals["invoice_date"])  # an explicit date in the write wins
        self.write_fields(rid, vals)
        after = self.record(rid)
        header_taxes = any(before.get(name) != after.get(name) for name in TAX_LINE_TRIGGERS)
        if before.get("partner_id") != after.get("partner_id"):
            for line in move_lines(self.store, rid):
                self.store.update(
                    "account.move.line", line["id"], {"partner_id": after.get("partner_id")}
                )
        priced, taxed = self._apply_line_commands(rid, commands)
        rates = any(name in vals for name in RATE_TRIGGERS)
        if commands or header_taxes or rates:
            sync_move(self.env, rid, products=priced or header_taxes, taxes=taxed or header_taxes)
        if tax_totals is not None:
            self._set_tax_totals(rid, tax_totals)

    def _set_lines(self, rid: int, commands) -> None:
        """Lines given outside create/write (e.g. through `load`) still go through the sync."""
        priced, taxed = self._apply_line_commands(rid, commands)
        sync_move(self.env, rid, products=priced, taxes=taxed)

    def _apply_line_commands(self, rid: int, commands) -> tuple[bool, bool]:
        """Apply x2many commands to an invoice's lines: (prices changed, taxes must be
        recomputed). Tax and receivable lines given by the caller are derived again (Q12 M11)."""
        items = self.env["account.move.line"]
        priced = taxed = False
        for command in commands:
            code, line_id, payload = parse_command(command)
            if code == 0:
                payload = dict(payload or {})
                if payload.get("display_type") in ("tax", "payment_term"):
                    continue
                items.check_field_names(payload)
                amounts = {name: payload.pop(name) for name in AMOUNT_FIELDS if name in payload}
                new = items.create_record({**payload, "move_id": rid})
                if amounts and self.record(rid)["move_type"] not in INVOICE_TYPES:
                    items.set_entry_amounts(new, amounts)  # a journal entry keeps what it is given
                priced, taxed = True, taxed or bool(items.record(new).get("tax_ids"))
            elif code == 1:
                items.ensure([line_id])
                payload = dict(payload or {})
                items.check_field_names(payload)
                had_taxes = bool(items.record(line_id).get("tax_ids"))
                items.write_fields(
                    line_id, {k: v for k, v in payload.items() if k not in AMOUNT_FIELDS}
                )
                if any(name in payload for name in AMOUNT_FIELDS):
                    items.set_amounts(line_id, payload)
                if any(name in payload for name in PRICE_FIELDS):
                    has_taxes = bool(items.record(line_id).get("tax_ids"))
                    priced, taxed = True, taxed or had_taxes or has_taxes
            elif code in (2, 3, 5, 6):
                keep = set(payload or ()) if code == 6 else set()
                doomed = (
                    [line_id]
                    if code in (2, 3)
                    else [
                        line
                        for line in self._compute_invoice_lines(self.record(rid))
                        if line not in keep
                    ]
                )
                for line in doomed:
                    taxed = taxed or bool(items.record(line).get("tax_ids"))
                    reconcile.unreconcile(self.env, [line])
                    self.store.delete("account.move.line", line)
                priced = priced or bool(doomed)
        return priced, taxed

    # -- numbering ------------------------------------------------------------------------------
    def _sequence_kind(self, record: dict) -> str:
        journal = self.store.get("account.journal", record["journal_id"])
        if record.get("origin_payment_id") and journal.get("payment_sequence"):
            return "payment"
        if record["move_type"] == "out_refund" and journal.get("refund_sequence"):
            return "refund"
        return "move"

    def _numbered(self, journal_id: int, kind: str):
        """The journal's moves of this kind that have a number, oldest first."""
        for rid in self.store.lookup("account.move", "journal_id", journal_id):
            move = self.store.get("account.move", rid)
            if sequences.parse(move.get("name")) and self._sequence_kind(move) == kind:
                yield move

    def _highest_name(self, journal_id: int, kind: str, but: int | None = None) -> str | None:
        """The journal's latest name of this kind (other than move `but`'s): its format says
        whether the numbering restarts monthly or yearly."""
        named = [move for move in self._numbered(journal_id, kind) if move["id"] != but]
        return max(named, key=lambda move: move["id"])["name"] if named else None

    def _last_name(self, journal_id: int, kind: str, date: str) -> tuple[str, bool] | None:
        """The journal's last name of this kind, and whether it is from the period of `date`
        (else the format of another period's is reused and the counter restarts)."""
        named = list(self._numbered(journal_id, kind))
        if not named:
            return None
        monthly = sequences.is_monthly(max(named, key=lambda move: move["id"])["name"])
        period = sequences.period(date, monthly)
        same_period = [move for move in named if sequences.period(move["date"], monthly) == period]
        pool = same_period or named
        prefix = sequences.parse(max(pool, key=lambda move: move["id"])["name"])[0]
        last = max(
            (move for move in pool if sequences.parse(move["name"])[0] == prefix),
            key=lambda move: (sequences.parse(move["name"])[1], move["id"]),
        )
        return last["name"], bool(same_period)

    def _next_name(self, record: dict, sequencer: sequences.Sequencer) -> str:
        journal = self.store.get("account.journal", record["journal_id"])
        return sequencer.next(journal, self._sequence_kind(record), record["date"])

    def _name_first_draft(self, rid: int) -> None:
        """On 18 the first move of a journal (per kind and year) is numbered while still a draft;
        every later draft reads "/" until posted (contract §4)."""
        record = self.record(rid)
        if self.env.version != 18 or _real_name(record.get("name")):
            return
        year = record["date"][:4]
        if record["move_type"] in INVOICE_TYPES and not any(
            move["date"][:4] == year
            for move in self._numbered(record["journal_id"], self._sequence_kind(record))
        ):
            name = self._next_name(record, sequences.Sequencer(self._last_name))
            self.store.update(self._name, rid, {"name": name})

    # -- posting --------------------------------------------------------------------------------
    @api()
    def action_post(self, ids):
        """All or nothing, like the one transaction Odoo runs it in (odoo19-contract Q13)."""
        ids = self.ensure(ids)
        for rid in ids:
            self._check_postable(self.record(rid))
        self.post(ids)
        return False

    def post(self, ids: list[int]) -> None:
        sequencer = sequences.Sequencer(self._last_name)
        ordered = sorted(
            (self.record(rid) for rid in ids),
            key=lambda move: (move["date"], move.get("ref") or "", move["id"]),
        )
        for record in ordered:
            changes: dict = {"state": "posted", "posted_before": True}
            if record["move_type"] in INVOICE_TYPES and not record.get("invoice_date"):
                changes["invoice_date"] = changes["date"] = self.env.today()
            record = {**record, **changes}
            moved = self._unlocked_date(record)
            if moved != record["date"]:
                changes["date"] = record["date"] = moved
            if not _real_name(record.get("name")):
                changes["name"] = record["name"] = self._next_name(record, sequencer)
            if record["move_type"] in INVOICE_TYPES and not record.get("payment_reference"):
                changes["payment_reference"] = record["name"]
            if self._compute_hash_mode(record):
                changes.update(self._hash(record))
            self.store.update(self._name, record["id"], changes)
            self._label_receivable(record)
        for record in ordered:
            original = self.store.get(self._name, record.get("reversed_entry_id") or 0)
            if original and original["state"] == "posted":
                self._reconcile_reversed(original["id"], record["id"])

    def _unlocked_date(self, record: dict) -> str:
        """`_post` never refuses a locked date: it books the move on another date (§D.2)."""
        journal = self.store.get("account.journal", record["journal_id"])
        has_tax = any(
            line.get("tax_ids") or line.get("tax_line_id")
            for line in move_lines(self.store, record["id"])
        )
        violated = locks.violated(self.env, record["date"], journal, tax=has_tax)
        if not violated:
            return record["date"]
        highest = self._highest_name(journal["id"], self._sequence_kind(record), record["id"])
        return locks.accounting_date(self.env, record, violated, highest)

    def _reconcile_reversed(self, original_id: int, reversal_id: int) -> None:
        """`_reconcile_reversed_moves`: every line of both moves not yet reconciled, per
        reconcilable account (receivable first), is reconciled; a line already settled by a
        payment leaves the credit note open (§B.4, §C.1 step 2)."""
        groups: dict[int, list[int]] = {}
        lines = move_lines(self.store, original_id) + move_lines(self.store, reversal_id)
        receivable_first = sorted(lines, key=lambda line: line["display_type"] != "payment_term")
        for line in receivable_first:
            if reconcile.is_reconcilable(self.store, line) and not reconcile.is_settled(
                self.store, line
            ):
                groups.setdefault(line["account_id"], []).append(line["id"])
        for line_ids in groups.values():
            if len(line_ids) > 1:
                reconcile.reconcile_lines(self.env, line_ids)
                self.env["account.payment"].settle_states(line_ids)

    def _check_postable(self, record: dict) -> None:
        if record["state"] != "draft":
            raise UserError(
                texts.MUST_BE_DRAFT.format(name=record.get("name") or "/", id=record["id"])
            )
        self.check_balanced(record)
        if record["move_type"] in INVOICE_TYPES:
            if self.totals(record)["amount_total"] < 0:
                raise UserError(texts.NEGATIVE_TOTAL)
            currency = self.store.get("res.currency", record["currency_id"])
            if not currency["active"]:
                raise UserError(texts.INACTIVE_CURRENCY.format(currency=currency["name"]))
            if not record.get("partner_id"):
                raise UserError(self.env.text("no_partner"))
        if not any(
            line["display_type"] not in ("line_section", "line_note")
            for line in move_lines(self.store, record["id"])
        ):
            raise UserError(self.env.text("no_lines"))

    def check_balanced(self, record: dict) -> None:
        """Only a line written with `skip_invoice_sync` unbalances an invoice; from then on every
        write and the posting fail (odoo19-contract Q12 M10)."""
        lines = move_lines(self.store, record["id"])
        debit = sum((line["balance"] for line in lines if line["balance"] > 0), ZERO)
        credit = -sum((line["balance"] for line in lines if line["balance"] < 0), ZERO)
        if debit == credit:
            return
        if self.env.version >= 19:
            raise UserError(texts.UNBALANCED_19)
        journal = self.store.get("account.journal", record["journal_id"])
        symbol = self.store.get("res.currency", self._compute_company_currency(record))["symbol"]
        raise UserError(
            texts.UNBALANCED_18.format(
                move=self._compute_display_name(record),
                debit=f"{debit:.2f} {symbol}",
                credit=f"{credit:.2f} {symbol}",
                journal=journal["name"],
            )
        )

    def _label_receivable(self, record: dict) -> None:
        if record["move_type"] not in INVOICE_TYPES:
            return
        label = f"{record['ref']} - {record['name']}" if record.get("ref") else record["name"]
        for line in move_lines(self.store, record["id"]):
            if line["display_type"] == "payment_term":
                self.store.update("account.move.line", line["id"], {"name": label})

    def _hash(self, record: dict) -> dict:
        hashed = [
            move
            for move in (
                self.store.get(self._name, rid)
                for rid in self.store.lookup(self._name, "journal_id", record["journal_id"])
            )
            if move.get("inalterable_hash")
        ]
        previous = max(hashed, key=lambda move: move["secure_sequence_number"], default=None)
        seed = f"{previous['inalterable_hash'] if previous else ''}|{record['name']}|" + "|".join(
            f"{line['account_id']}:{line['balance']}"
            for line in move_lines(self.store, record["id"])
        )
        return {
            "inalterable_hash": "$4$" + hashlib.sha256(seed.encode()).hexdigest(),
            "secure_sequence_number": len(hashed),
        }

    @api()
    def button_draft(self, ids):
        for rid in self.ensure(ids):
            self._reset_to_draft(self.record(rid))
        return None

    def _reset_to_draft(self, record: dict) -> None:
        if record["state"] == "posted" and record.get("inalterable_hash"):
            raise UserError(texts.HASHED_DRAFT)
        if record["state"] == "posted":
            locks.check_editable(self.env, record)
        if self.env.version == 18:  # 19's button_draft keeps the reconciliation (Q8 extras)
            reconcile.unreconcile(
                self.env, [line["id"] for line in move_lines(self.store, record["id"])]
            )
        self.store.update(self._name, record["id"], {"state": "draft"})

    @api()
    def button_cancel(self, ids):
        for rid in self.ensure(ids):
            record = self.record(rid)
            if record["state"] == "posted":
                self._reset_to_draft(record)
            self.store.update(self._name, rid, {"state": "cancel"})
        return None

    @api()
    def action_switch_move_type(self, ids):
        swapped = {"out_invoice": "out_refund", "out_refund": "out_invoice"}
        for rid in self.ensure(ids):
            record = self.record(rid)
            if record["state"] != "draft" or record["move_type"] not in swapped:
                raise UserError(texts.SWITCH_NOT_DRAFT)
            if self.totals(record)["amount_total"] < 0:
                for line in move_lines(self.store, rid):
                    if line["display_type"] == "product":
                        self.store.update(
                            "account.move.line", line["id"], {"price_unit": -line["price_unit"]}
                        )
            self.store.update(
                self._name,
                rid,
                {
                    "move_type": swapped[record["move_type"]],
                    "name": "/" if self.env.version == 18 else None,
                },
            )
            sync_move(self.env, rid, products=True, taxes=True)
            self._name_first_draft(rid)
        return None

    @api()
    def unlink(self, ids):
        ids = self.ensure(ids)
        for rid in ids:
            if self.record(rid)["state"] == "posted":
                raise UserError(texts.POSTED_DELETE)
        for rid in ids:
            lines = [line["id"] for line in move_lines(self.store, rid)]
            reconcile.unreconcile(self.env, lines)
            for line in lines:
                self.store.delete("account.move.line", line)
            self.delete_record(rid)
        return True

    @api("line_id")
    def js_assign_outstanding_line(self, ids, line_id):
        """Reconcile an open credit with the invoice's open receivable; on a settled invoice it
        does nothing, silently (odoo-payments.md §E)."""
        items = self.env["account.move.line"]
        credit = items.record(items.ensure([line_id])[0])
        for rid in self.ensure(ids):
            open_lines = [
                line["id"]
                for line in move_lines(self.store, rid)
                if line["account_id"] == credit["account_id"]
                and not reconcile.is_settled(self.store, line)
            ]
            if open_lines:
                reconcile.reconcile_lines(self.env, [*open_lines, credit["id"]])
                self.env["account.payment"].settle_states([*open_lines, credit["id"]])
        return None


# each amount is one entry of `totals()`
for _amount in AMOUNTS:
    setattr(
        AccountMove,
        f"_compute_{_amount}",
        lambda self, record, name=_amount: self.totals(record)[name],
    )
