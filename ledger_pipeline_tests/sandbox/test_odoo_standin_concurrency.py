"""The Odoo stand-in served concurrently, as a multi-worker Odoo: safe concurrent booking, the
worker cap, posts serialized per journal, the cost model's server time, and the overload faults a
writer backs off from. Observations are counts and the model's figures, never wall-clock time."""

from __future__ import annotations

import dataclasses
import threading
from collections import defaultdict

import pytest

from ledger_pipeline.sandbox.odoo_standin import OdooCostModel, OdooStandIn
from ledger_pipeline_tests.sandbox.test_odoo_standin_support import VERSIONS, Rpc

HST13 = 7
SALES = 1  # INV
BANK = 6  # BNK1
RECEIVABLE = [["account_type", "=", "asset_receivable"]]
FAST = OdooCostModel().scaled(0.2)  # the measured proportions, a fifth of the time


PAYMENT = {
    "payment_type": "inbound",
    "partner_type": "customer",
    "partner_id": 3,
    "amount": 113.0,
    "date": "2026-05-15",
    "journal_id": BANK,
}


def outstanding_receipts(rpc: Rpc) -> None:
    """18's bank method books a payment's entry only with an outstanding-receipts account
    (odoo-payments.md); 19's chart has one."""
    if rpc.odoo.version == 18:
        account = rpc.create(
            "account.account",
            {
                "code": "NCR.OUTRCPT",
                "name": "Outstanding Receipts",
                "account_type": "asset_current",
                "reconcile": True,
            },
        )
        rpc.ok("account.payment.method.line", "write", [1], vals={"payment_account_id": account})


def invoice_vals(n: int, journal: int = SALES) -> dict:
    return {
        "move_type": "out_invoice",
        "partner_id": 3,
        "invoice_date": "2026-05-01",
        "journal_id": journal,
        "ref": f"conc-{n}",
        "invoice_line_ids": [
            [0, 0, {"name": f"line {n}", "price_unit": 100.0 + n, "tax_ids": [[6, 0, [HST13]]]}]
        ],
    }


def at_once(clients: int, work) -> list:
    """Run `work(client)` on `clients` threads started together; their results, or the first
    exception raised."""
    start = threading.Barrier(clients)
    results: list = [None] * clients
    errors: list[BaseException] = []

    def run(client: int) -> None:
        start.wait()
        try:
            results[client] = work(client)
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def numbers_by_prefix(names: list[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = defaultdict(list)
    for name in names:
        prefix, _, number = name.rpartition("/")
        found[prefix].append(int(number))
    return {prefix: sorted(numbers) for prefix, numbers in found.items()}


# -- the cost model ----------------------------------------------------------------------------
def test_cost_model_charges_the_measured_figures_per_call_and_per_record():
    model = OdooCostModel()
    assert dataclasses.astuple(model) == (5.0, 32.0, 17.0, 2.5, 39.0, 102.0)
    three = [{"ref": "a"}, {"ref": "b"}, {"ref": "c"}]
    assert model.seconds("account.move", "create", [], {"vals_list": three}) == 0.101
    assert model.seconds("account.move", "create", [], {"vals_list": three[0]}) == 0.037
    assert model.seconds("account.move", "action_post", [1, 2], {}) == 0.039
    assert model.seconds("account.move", "action_post", 1, {}) == 0.022  # JSON-RPC's bare id
    assert model.seconds("account.payment", "create", [], {"vals_list": three[:2]}) == 0.010
    assert model.seconds("account.payment", "action_post", [4, 5], {}) == 0.083
    assert model.seconds("account.move.line", "reconcile", [7, 8, 9], {}) == 0.107
    assert model.seconds("res.partner", "create", [], {"vals_list": three}) == 0.005
    assert model.seconds("account.move", "search_read", [], {"domain": []}) == 0.005
    tenth = model.scaled(0.1)
    assert dataclasses.astuple(tenth) == pytest.approx((0.5, 3.2, 1.7, 0.25, 3.9, 10.2))
    assert tenth.seconds("account.move.line", "reconcile", [1, 2], {}) == pytest.approx(0.0107)
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.per_call_ms = 1.0


# -- concurrent booking ------------------------------------------------------------------------
@pytest.mark.parametrize("cost_model, workers", [(None, None), (FAST, 2)], ids=["free", "costed"])
@pytest.mark.parametrize("version", VERSIONS)
def test_concurrent_clients_post_every_invoice_once_with_gapless_names(
    version, cost_model, workers
):
    clients, per_client = 4, 6
    with OdooStandIn(version, cost_model=cost_model, workers=workers) as odoo:

        def book(client: int) -> list[int]:
            rpc = Rpc(odoo)
            first = client * per_client
            batch = [invoice_vals(first + i) for i in range(per_client)]
            moves = rpc.ok("account.move", "create", vals_list=batch[:3])
            moves += [rpc.create("account.move", vals) for vals in batch[3:]]
            assert rpc.ok("account.move", "action_post", moves[:3]) is False  # a batch post
            for move in moves[3:]:
                assert rpc.ok("account.move", "action_post", [move]) is False
            return moves

        booked = [move for moves in at_once(clients, book) for move in moves]
        posted = odoo.records("account.move", [["ref", "=like", "conc-%"]])
        assert sorted(booked) == sorted(move["id"] for move in posted)
        assert {move["state"] for move in posted} == {"posted"}
        names = [move["name"] for move in posted]
        assert len(set(names)) == clients * per_client
        assert numbers_by_prefix(names) == {"INV/2026": list(range(1, clients * per_client + 1))}
        assert odoo.call_counts()[("account.move", "action_post")] == clients * 4


# -- workers -----------------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_two_workers_serve_at_most_two_of_four_clients_at_once(version):
    with OdooStandIn(version, cost_model=FAST, workers=2) as odoo:

        def create(client: int) -> None:
            rpc = Rpc(odoo)
            for i in range(5):
                rpc.create("account.move", invoice_vals(client * 10 + i))
                rpc.ok("account.move", "search_count", domain=[["ref", "=like", "conc-%"]])

        at_once(4, create)
        assert odoo.peak_concurrent_calls == 2
        assert len(odoo.records("account.move", [["ref", "=like", "conc-%"]])) == 20


def test_without_a_cap_creates_overlap_and_reset_counts_restarts_the_observations():
    with OdooStandIn(19, cost_model=FAST) as odoo:
        at_once(
            4,
            lambda c: [
                Rpc(odoo).create("account.move", invoice_vals(c * 10 + i)) for i in range(3)
            ],
        )
        assert odoo.peak_concurrent_calls >= 2  # the cost is slept outside the database lock
        assert odoo.server_seconds > 0
        odoo.reset_counts()
        assert (odoo.peak_concurrent_calls, odoo.peak_concurrent_posts) == (0, 0)
        assert odoo.server_seconds == 0.0 and odoo.call_log == []


def drafts(odoo: OdooStandIn, count: int, journal: int = SALES, first: int = 0) -> list[int]:
    return Rpc(odoo).ok(
        "account.move",
        "create",
        vals_list=[invoice_vals(first + n, journal) for n in range(count)],
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_posts_on_one_journal_are_served_one_at_a_time_while_workers_wait(version):
    with OdooStandIn(version, cost_model=FAST, workers=4) as odoo:
        moves = drafts(odoo, 16)
        odoo.reset_counts()

        def post(client: int) -> None:
            rpc = Rpc(odoo)
            for move in moves[client::4]:
                rpc.ok("account.move", "action_post", [move])

        at_once(4, post)
        assert odoo.peak_concurrent_posts == 1
        assert odoo.peak_concurrent_calls >= 2  # a worker waiting on the journal is busy
        names = [m["name"] for m in odoo.records("account.move", [["id", "in", moves]])]
        assert numbers_by_prefix(names) == {"INV/2026": list(range(1, 17))}


@pytest.mark.parametrize("version", VERSIONS)
def test_posts_on_two_journals_overlap_each_journal_numbered_alone(version):
    with OdooStandIn(version, cost_model=FAST, workers=4) as odoo:
        second = Rpc(odoo).create(
            "account.journal", {"name": "Second Sales", "code": "INVB", "type": "sale"}
        )
        by_journal = {SALES: drafts(odoo, 12), second: drafts(odoo, 12, second, first=100)}
        odoo.reset_counts()

        def post(client: int) -> None:
            rpc = Rpc(odoo)
            journal = SALES if client % 2 else second
            for move in by_journal[journal][client // 2 :: 2]:
                rpc.ok("account.move", "action_post", [move])

        at_once(4, post)
        assert odoo.peak_concurrent_posts == 2
        names = [m["name"] for m in odoo.records("account.move", [["ref", "=like", "conc-%"]])]
        assert numbers_by_prefix(names) == {
            "INV/2026": list(range(1, 13)),
            "INVB/2026": list(range(1, 13)),
        }


@pytest.mark.parametrize("version", VERSIONS)
def test_payment_posts_on_the_bank_journal_are_served_one_at_a_time(version):
    with OdooStandIn(version, cost_model=FAST, workers=4) as odoo:
        rpc = Rpc(odoo)
        outstanding_receipts(rpc)
        payments = rpc.ok("account.payment", "create", vals_list=[PAYMENT] * 12)
        odoo.reset_counts()

        def post(client: int) -> None:
            client_rpc = Rpc(odoo)
            for payment in payments[client::4]:
                client_rpc.ok("account.payment", "action_post", [payment])

        at_once(4, post)
        assert odoo.peak_concurrent_posts == 1
        entries = odoo.records("account.move", [["origin_payment_id", "in", payments]])
        assert numbers_by_prefix([e["name"] for e in entries]) == {"PBNK1/2026": list(range(1, 13))}


def test_the_cost_is_spent_outside_the_database_lock():
    """A create costed at 1.5 s has not run yet when a search made meanwhile returns: the search
    did not wait for it (on one lock it would have)."""
    slow_create = OdooCostModel(per_call_ms=0, move_create_ms=1500)
    with OdooStandIn(19, cost_model=slow_create) as odoo:
        creating = threading.Thread(
            target=lambda: Rpc(odoo).create("account.move", invoice_vals(1))
        )
        creating.start()
        while odoo.peak_concurrent_calls < 1 and creating.is_alive():  # till it is served
            threading.Event().wait(0.005)
        assert Rpc(odoo).ok("res.partner", "search_count", domain=[]) > 0
        assert odoo.records("account.move", [["ref", "=", "conc-1"]]) == []  # not created yet
        creating.join()
        assert odoo.peak_concurrent_calls == 2
        assert len(odoo.records("account.move", [["ref", "=", "conc-1"]])) == 1


# -- server time -------------------------------------------------------------------------------
def receivable_line(rpc: Rpc, **where) -> int:
    ((field, value),) = where.items()
    domain = [[field, "=", value], *RECEIVABLE, ["reconciled", "=", False]]
    return rpc.ok("account.move.line", "search", domain=domain)[0]


@pytest.mark.parametrize("version", VERSIONS)
def test_server_seconds_is_the_cost_models_sum_over_the_calls_made(version):
    model = OdooCostModel().scaled(0.05)
    with OdooStandIn(version, cost_model=model, workers=2) as odoo:
        rpc = Rpc(odoo)
        outstanding_receipts(rpc)
        odoo.reset_counts()
        moves = rpc.ok("account.move", "create", vals_list=[invoice_vals(n) for n in range(3)])
        rpc.ok("account.move", "action_post", moves)
        # JSON-RPC's single dict counts as one vals, on either version
        single = Rpc(odoo, "jsonrpc").execute_kw("account.move", "create", [invoice_vals(9)])
        assert single.ok
        payments = rpc.ok("account.payment", "create", vals_list=[PAYMENT, PAYMENT])
        rpc.ok("account.payment", "action_post", payments)
        pair = [
            receivable_line(rpc, move_id=moves[0]),
            receivable_line(rpc, payment_id=payments[0]),
        ]
        rpc.ok("account.move.line", "reconcile", pair)
        calls = sum(odoo.call_counts().values())
        assert calls == 8  # 2 of them the searches for the pair
        expected_ms = (
            model.per_call_ms * calls
            + model.move_create_ms * 4
            + model.move_post_ms * 3
            + model.payment_create_ms * 2
            + model.payment_post_ms * 2
            + model.reconcile_ms
        )
        assert odoo.server_seconds == pytest.approx(expected_ms / 1000)


# -- overload faults ---------------------------------------------------------------------------
def partner_refs(odoo: OdooStandIn) -> list[str]:
    return sorted(p["ref"] for p in odoo.records("res.partner", [["ref", "=like", "load-%"]]))


PROTOCOLS = [
    pytest.param(18, "jsonrpc", id="odoo18-jsonrpc"),
    pytest.param(19, "jsonrpc", id="odoo19-jsonrpc"),
    pytest.param(19, "json2", id="odoo19-json2"),
]


@pytest.mark.parametrize("version, protocol", PROTOCOLS)
def test_overload_answers_a_proxys_429_or_503_and_changes_nothing(version, protocol):
    with OdooStandIn(version, cost_model=FAST, workers=2) as odoo:
        rpc = Rpc(odoo, protocol)
        odoo.overload(1, status=429, retry_after=2)
        odoo.overload(2, status=503)
        odoo.overload(3, status=429, retry_after=0.25)
        answers = [
            rpc.call("res.partner", "create", vals_list=[{"name": "Shed", "ref": f"load-{n}"}])
            for n in range(4)
        ]
        assert [answer.status for answer in answers] == [429, 503, 429, 200]
        assert answers[0].headers["Retry-After"] == "2"
        assert "Retry-After" not in answers[1].headers
        assert answers[2].headers["Retry-After"] == "0.25"
        for answer in answers[:3]:
            assert answer.headers["Content-Type"].startswith("text/html")
            assert f"<h1>{answer.status} " in answer.body
        assert partner_refs(odoo) == ["load-3"]
        assert odoo.server_seconds == pytest.approx(FAST.per_call_ms / 1000)  # only the 4th
        assert odoo.call_counts()[("res.partner", "create")] == 4
    with pytest.raises(ValueError, match="429 or 503"):
        odoo.overload(1, status=502)


@pytest.mark.parametrize("version, protocol", PROTOCOLS)
def test_fail_serialization_answers_odoos_concurrent_update_error_and_changes_nothing(
    version, protocol
):
    with OdooStandIn(version) as odoo:
        rpc = Rpc(odoo, protocol)
        odoo.fail_serialization(2)
        first = rpc.call("res.partner", "create", vals_list=[{"name": "A", "ref": "load-1"}])
        failed = rpc.call("res.partner", "create", vals_list=[{"name": "B", "ref": "load-2"}])
        assert first.ok
        assert failed.failure == (
            "psycopg2.errors.SerializationFailure",
            "could not serialize access due to concurrent update",
        )
        if protocol == "jsonrpc":
            assert failed.status == 200 and failed.body["error"]["message"] == "Odoo Server Error"
        else:
            assert failed.status == 500
        assert partner_refs(odoo) == ["load-1"]
