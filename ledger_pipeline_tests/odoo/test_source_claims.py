"""An Odoo move holding a Stripe or Lago id under another key is a claim (DESIGN §6), over HTTP on
the Odoo 18 (JSON-RPC) and 19 (JSON-2) stand-ins: the invoice is quarantined naming the move and
nothing is written for it; a move of its own key is the normal re-run."""

from __future__ import annotations

from dataclasses import replace

from ledger_pipeline.odoo import BookingAction
from ledger_pipeline.odoo.ledger_setup import KEY_FIELD, SOURCE_FIELD
from ledger_pipeline.odoo.posting import claim_search
from ledger_pipeline.odoo.transport import connect
from ledger_pipeline_tests.odoo.conftest import ledger_for, ledger_snapshot, writes_in
from ledger_pipeline_tests.odoo.plans import HOSTING, line, move

MOVE_SEARCHES = ("account.move", "search_read")
LEASE_MODEL = "ir.config_parameter"  # where the writer's lease lives (issue 8, part 1)


def planned(key: str, source_ref: str | None, version: int):
    return replace(move(key, line(HOSTING, "80.00"), version=version), source_ref=source_ref)


def test_a_source_id_booked_under_another_key_holds_it_whatever_the_spelling(standin, ledger):
    first = ledger.book([planned("c-17", "in_1AbC", standin.version)]).by_invoice["c-17"]
    assert first.action is BookingAction.POSTED
    before = ledger_snapshot(standin)

    standin.reset_counts()
    copies = [
        planned("c-42", "  IN_1ABC ", standin.version),  # upper-cased, padded
        planned("c-43", "in_1abc", standin.version),  # lower-cased
    ]
    report = ledger.book(copies)
    for key in ("c-42", "c-43"):
        result = report.by_invoice[key]
        assert result.action is BookingAction.QUARANTINED
        assert f"already booked in Odoo as {first.move_name} (id {first.move_id}, posted)" in (
            result.reason
        )
        assert "under NexaCloud invoice c-17" in result.reason
    ledger_writes = [c for c in writes_in(standin.call_counts()) if c[0] != LEASE_MODEL]
    assert ledger_writes == []  # nothing written for them (the writer's lease aside)
    assert report.calls[MOVE_SEARCHES] == 2  # the batch's keys, then its claimed source ids
    assert ledger_snapshot(standin) == before

    again = ledger.book([planned("c-17", "in_1AbC", standin.version)])
    assert again.by_invoice["c-17"].action is BookingAction.ALREADY_POSTED  # its own key
    assert again.calls[MOVE_SEARCHES] == 1  # nothing new to write: no claim search


def test_a_move_made_by_hand_with_the_source_id_and_no_key_is_a_claim(standin, ledger):
    setup = ledger.book([planned("h-1", "lago:0a1b-2c3d", standin.version)], post=False)
    with connect(standin.url, standin.database, standin.api_key, login=standin.login) as rpc:
        (original,) = rpc.read("account.move", [setup.by_invoice["h-1"].move_id], ["partner_id"])
        by_hand = rpc.create(
            "account.move",
            [
                {
                    "move_type": "out_invoice",
                    "partner_id": original["partner_id"][0],
                    SOURCE_FIELD: "LAGO:0A1B-2C3D",
                }
            ],
        )[0]
    report = ledger.book([planned("h-2", "lago:0a1b-2c3d", standin.version)], dry_run=True)
    result = report.by_invoice["h-2"]
    assert result.action is BookingAction.QUARANTINED  # the dry run predicts the quarantine
    assert f"(id {by_hand}, draft) under no NexaCloud key" in result.reason

    # Its own draft holds it as well: reported, so a person cancels one of the two.
    both = ledger.book([planned("h-1", "lago:0a1b-2c3d", standin.version)]).by_invoice["h-1"]
    assert both.action is BookingAction.QUARANTINED and both.state == "draft"
    assert "own move" in both.reason and "cancel or reverse one of them" in both.reason


def test_a_cancelled_move_holds_nothing_and_one_batch_books_one_claimer(standin, ledger):
    cancelled = ledger.book([planned("x-1", "in_Z9", standin.version)], post=False)
    with connect(standin.url, standin.database, standin.api_key, login=standin.login) as rpc:
        rpc.call("account.move", "button_cancel", [cancelled.by_invoice["x-1"].move_id])

    report = ledger.book(
        [
            planned("x-2", "in_z9 ", standin.version),
            planned("x-3", "IN_Z9", standin.version),  # a plan the planner would not make
            planned("x-4", "manual-77", standin.version),  # no source id: no claim
            planned("x-5", "manual-77", standin.version),
        ]
    )
    actions = {key: r.action for key, r in report.by_invoice.items()}
    assert actions == {
        "x-2": BookingAction.POSTED,
        "x-3": BookingAction.QUARANTINED,
        "x-4": BookingAction.POSTED,
        "x-5": BookingAction.POSTED,
    }
    assert "also planned in this run for NexaCloud invoice x-2" in report.by_invoice["x-3"].reason
    moves = ledger_snapshot(standin)["moves"]
    assert "x-3" not in moves and moves["x-2"][0]["source"] == "in_z9"  # stored stripped


def test_a_ledger_without_the_source_field_books_as_before(standin, ledger):
    """Before setup created the fields nothing can hold a source id: no claim search at all."""
    report = ledger.book([planned("f-1", "in_F", standin.version)], dry_run=True)
    assert report.by_invoice["f-1"].action is BookingAction.POSTED  # predicted
    with connect(standin.url, standin.database, standin.api_key, login=standin.login) as rpc:
        fields = rpc.search_read("ir.model.fields", [["name", "=", KEY_FIELD]], ["name"])
    assert fields == []


def test_only_a_case_folded_stripe_id_costs_a_scan():
    """Exact spellings use the field's index; `ilike` (a scan) only where no spelling can work."""

    def operators(ref):
        return sorted({leaf[1] for leaf in claim_search([ref]) if isinstance(leaf, list)})

    assert operators("in_1MtHbELkdIwHu7ix") == ["in"]  # a real, mixed-case Stripe id
    assert operators("lago:5f0e1c2a-AAAA") == ["in"]  # a UUID changes case only as a whole
    assert operators(" in_1mthbelkdiwhu7ix") == ["ilike", "in"]  # maybe a folded copy
    (exact,) = [leaf[2] for leaf in claim_search(["IN_1AbC "]) if leaf[1] == "in"]
    assert {"IN_1AbC ", "IN_1AbC", "in_1AbC", "in_1abc", "IN_1ABC"} <= set(exact)


def test_batches_booked_at_once_book_one_claimer_the_runs_first(standin):
    """Batches at once cannot see each other's new moves in Odoo: the run decides, up front and
    in plan order, which invoice books a source id planned twice."""
    ledger = ledger_for(standin, batch_size=1, max_parallel_requests=4)
    plan = [planned(f"y-{i}", f"in_dup{i % 2}", standin.version) for i in range(6)]
    report = ledger.book(plan)
    booked = {k for k, r in report.by_invoice.items() if r.action is BookingAction.POSTED}
    assert booked == {"y-0", "y-1"}
    for i in range(2, 6):  # held, naming the first claimer (planned or already in Odoo)
        reason = report.by_invoice[f"y-{i}"].reason
        assert f"NexaCloud invoice y-{i % 2}" in reason and "not booked" in reason, reason
    moves = ledger_snapshot(standin)["moves"]
    assert sorted(moves) == ["y-0", "y-1"]
