"""What the parts of a correction share: the fields read, how a keyed move is told apart, the
accounting date out of a lock, one batched `create` / `action_post` per part for the whole run
(bisected on failure and re-read by key, `isolate_failures`), the pair reconcile and the final
read. The parts: correction_credits, correction_entries, correction_refunds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from ledger_pipeline.ledger.corrections import PlannedCorrection
from ledger_pipeline.ledger.lock_dates import JournalKind, Redated
from ledger_pipeline.odoo.correction_report import CorrectionWork
from ledger_pipeline.odoo.errors import OdooError, OdooTransportError
from ledger_pipeline.odoo.ledger_setup import CORRECTION_FIELD, LedgerState
from ledger_pipeline.odoo.retry import isolate_failures
from ledger_pipeline.odoo.transport import OdooTransport
from ledger_pipeline.odoo.values import m2o_id

MOVE_FIELDS = [
    "name",
    "state",
    "move_type",
    "ref",
    "date",
    "amount_untaxed",
    "amount_tax",
    "amount_total",
    "amount_residual",
    "payment_state",
    CORRECTION_FIELD,
]
TOTAL_FIELDS = ["state", "amount_untaxed", "amount_tax", "amount_total"]
PAYMENT_FIELDS = ["name", "memo", "state", "amount", "date", "is_reconciled"]
LINE_FIELDS = ["move_id", "name", "quantity", "price_unit", "price_subtotal", "account_id"]
SLOT_NAMES = {"credit": "credit note", "write_off": "write-off entry", "fee": "dispute fee entry"}
WRITE_OFF_REF = "Write-off "


def refund_memo(plan: PlannedCorrection) -> str:
    """The refund payment's memo: readable, and the key it is found by."""
    return f"{plan.refund.reference} [nexacloud-correction:{plan.key}]"


def slot_of(move: dict) -> str:
    """Which part of its correction a keyed move is."""
    if move.get("move_type") == "out_refund":
        return "credit"
    return "write_off" if (move.get("ref") or "").startswith(WRITE_OFF_REF) else "fee"


def finished(work: CorrectionWork) -> bool:
    """Every planned part is in Odoo and posted, and a refund that reconciles is reconciled
    (what a run that stops early may leave a correction at without failing it)."""
    plan, payment = work.plan, work.payment or {}

    def posted(record: dict | None) -> bool:
        return bool(record) and record.get("state") == "posted"

    refunded = payment.get("state") not in (None, "draft") and (
        not plan.refund.reconcile_with_credit
        or payment.get("is_reconciled")
        or "refund_reconciled" in work.steps
    )
    return (
        (plan.credit is None or posted(work.credit))
        and (plan.expense is None or posted(work.fee))
        and (not plan.write_off or posted(work.write_off) or work.write_off_amount == 0)
        and (plan.refund is None or bool(refunded))
    )


def accounting_date(
    work: CorrectionWork,
    day: date,
    journal: JournalKind,
    has_tax: bool,
    state: LedgerState,
    what: str,
    redated: list[Redated] | None,
) -> date:
    """The accounting date of a part; a lock's move is recorded (once, when it is made)."""
    moved = state.locks.redating(f"{what} {work.key}", day, journal, has_tax=has_tax)
    accounting = moved.accounting_date if moved else day
    if work.accounting_date is None:
        work.accounting_date = accounting
    if moved is not None and redated is not None:
        redated.append(moved)
        work.notes.append(f"{what} dated {accounting}: {day} is locked (up to {moved.lock})")
    return accounting


def create_moves(
    odoo: OdooTransport,
    works: list[CorrectionWork],
    slot: str,
    vals: dict[str, dict],
    step: str,
    key_domain: list,
) -> None:
    """One `create` for every move of `slot`, each with its key; after a failure the keys are
    searched, so a move whose answer was lost is adopted, not made twice."""

    def create(subset: Sequence[CorrectionWork]) -> None:
        ids = odoo.create("account.move", [vals[w.key] for w in subset])
        for work, move_id in zip(subset, ids, strict=True):
            setattr(work, slot, {"id": move_id, "state": "draft"})
            work.did(step)

    def not_created(subset: Sequence[CorrectionWork]) -> list[CorrectionWork]:
        rows = odoo.search_read(
            "account.move",
            [[CORRECTION_FIELD, "in", [w.key for w in subset]], *key_domain],
            MOVE_FIELDS,
        )
        found = {row[CORRECTION_FIELD]: row for row in rows if slot_of(row) == slot}
        for work in subset:
            if work.key in found:
                setattr(work, slot, found[work.key])
                work.did(step)
        return [w for w in subset if w.key not in found]

    isolate_failures(works, create, not_created, lambda w, e: w.fail(f"{SLOT_NAMES[slot]}: {e}"))


def post_moves(odoo: OdooTransport, works: list[CorrectionWork], slot: str, step: str) -> None:
    """One `action_post` for every draft of `slot`; a failure is bisected to its correction."""
    drafts = [w for w in works if w.active and (getattr(w, slot) or {}).get("state") == "draft"]

    def post(subset: Sequence[CorrectionWork]) -> None:
        odoo.call("account.move", "action_post", [getattr(w, slot)["id"] for w in subset])
        for work in subset:
            getattr(work, slot)["state"] = "posted"
            work.did(step)

    def still_draft(subset: Sequence[CorrectionWork]) -> list[CorrectionWork]:
        rows = odoo.read("account.move", [getattr(w, slot)["id"] for w in subset], ["state"])
        states = {r["id"]: r["state"] for r in rows}
        for work in subset:
            getattr(work, slot)["state"] = states.get(getattr(work, slot)["id"], "draft")
            if getattr(work, slot)["state"] == "posted":
                work.did(step)
        return [w for w in subset if getattr(w, slot)["state"] == "draft"]

    isolate_failures(drafts, post, still_draft, lambda w, e: w.fail(f"{SLOT_NAMES[slot]}: {e}"))


def receivable_lines(odoo: OdooTransport, move_ids: list[int]) -> dict[int, dict]:
    """Each move's open receivable line (the last, as payments.py picks them)."""
    if not move_ids:
        return {}
    rows = odoo.search_read(
        "account.move.line",
        [
            ["move_id", "in", sorted(set(move_ids))],
            ["account_type", "=", "asset_receivable"],
            ["reconciled", "=", False],
        ],
        ["move_id", "account_id", "payment_id"],
    )
    return {m2o_id(r["move_id"]): r for r in sorted(rows, key=lambda r: r["id"])}


# -- reconcile, and the final read ------------------------------------------------------------


def reconcile_pair(
    odoo: OdooTransport, work: CorrectionWork, first: int, second: int, step: str
) -> None:
    """Reconcile one pair; after a failure trust only a re-read of the lines (the answer may
    have been lost after the commit) and try once more if they are still open."""

    def both_open() -> bool:
        rows = odoo.read("account.move.line", [first, second], ["reconciled"])
        return len(rows) == 2 and not any(r["reconciled"] for r in rows)

    for attempt in (1, 2):
        try:
            odoo.call("account.move.line", "reconcile", [first, second])
            work.did(step)
            return
        except OdooError as exc:
            if not both_open():
                work.did(step)
                return
            work.fail(f"{step.replace('_', ' ')} failed: {exc}")
            return
        except OdooTransportError:
            if not both_open():
                work.did(step)
                return
            if attempt == 2:
                raise


def read_final(odoo: OdooTransport, works: Sequence[CorrectionWork]) -> None:
    """Names (given at posting) and states after this run's writes, for the report."""
    moves = [
        r for w in works for r in (w.invoice, w.credit, w.write_off, w.fee) if r and r.get("id")
    ]
    payments = [w.payment for w in works if w.payment and w.payment.get("id")]
    try:
        fields = ["name", "state", "date", "payment_state", "amount_residual"]
        rows = {
            r["id"]: r for r in odoo.read("account.move", sorted({m["id"] for m in moves}), fields)
        }
        for move in moves:
            move.update(rows.get(move["id"], {}))
        prows = {
            r["id"]: r
            for r in odoo.read("account.payment", [p["id"] for p in payments], PAYMENT_FIELDS)
        }
        for payment in payments:
            payment.update(prows.get(payment["id"], {}))
    except (OdooError, OdooTransportError) as exc:  # only the report's details suffer
        for work in works:
            work.notes.append(f"could not read the final states: {exc}")
