"""The unverified-invoice state the sensor keeps: back-off, run keys, completion, reporting."""

from ledger_pipeline.unverified_tracker import (
    BackoffPolicy,
    UnverifiedState,
    due,
    observe_run,
    overdue,
    request_retry,
)

POLICY = BackoffPolicy(
    first_delay_seconds=100, factor=2, max_delay_seconds=350, report_after_seconds=1000
)


def test_new_unverified_invoices_wait_the_first_delay():
    state = UnverifiedState()
    observe_run(state, 5, {"a": "Stripe down", "b": "Stripe down"}, None, now=0, policy=POLICY)
    assert due(state, now=99) == []
    assert due(state, now=100) == ["a", "b"]
    assert state.last_storage_id == 5 and state.pending["a"].reason == "Stripe down"


def test_back_off_doubles_up_to_the_cap():
    state = UnverifiedState()
    observe_run(state, 1, {"a": "down"}, None, now=0, policy=POLICY)
    times = []
    now = 100
    for _ in range(4):
        assert due(state, now) == ["a"]
        request_retry(state, ["a"], now, POLICY)
        times.append(state.pending["a"].next_at - now)
        now = state.pending["a"].next_at
    assert times == [100, 200, 350, 350]


def test_run_keys_are_unique_per_request_so_retries_are_never_deduplicated():
    state = UnverifiedState()
    observe_run(state, 1, {"a": "down"}, None, now=0, policy=POLICY)
    first = request_retry(state, ["a"], 100, POLICY)
    second = request_retry(state, ["a"], 300, POLICY)  # the first run failed outright
    assert first != second and first.startswith("unverified-after-1-")


def test_a_retry_run_that_verifies_an_invoice_completes_it():
    state = UnverifiedState()
    observe_run(state, 1, {"a": "down", "b": "down"}, None, now=0, policy=POLICY)
    key = request_retry(state, ["a", "b"], 100, POLICY)
    observe_run(state, 2, {"b": "still down"}, key, now=150, policy=POLICY)
    assert set(state.pending) == {"b"} and state.in_flight == {}
    assert state.pending["b"].reason == "still down"


def test_a_daily_run_does_not_complete_invoices_it_was_not_asked_about():
    state = UnverifiedState()
    observe_run(state, 1, {"a": "down"}, None, now=0, policy=POLICY)
    observe_run(state, 2, {}, None, now=50, policy=POLICY)
    assert set(state.pending) == {"a"}


def test_overdue_reports_invoices_unverified_too_long():
    state = UnverifiedState()
    observe_run(state, 1, {"a": "down"}, None, now=0, policy=POLICY)
    observe_run(state, 2, {"b": "down"}, None, now=500, policy=POLICY)
    assert list(overdue(state, 1000, POLICY)) == ["a"]


def test_state_round_trips_through_the_cursor():
    state = UnverifiedState()
    observe_run(state, 3, {"a": "down"}, None, now=0, policy=POLICY)
    request_retry(state, ["a"], 100, POLICY)
    assert UnverifiedState.from_json(state.to_json()) == state
    assert UnverifiedState.from_json(None) == UnverifiedState()
