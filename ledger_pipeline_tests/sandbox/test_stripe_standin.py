"""The Stripe stand-in: real API shapes the official SDK parses, the sample world, and faults."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests
import stripe

from ledger_pipeline.ledger.model import Customer, SourceInvoice
from ledger_pipeline.ledger.money import to_minor_units
from ledger_pipeline.sandbox.billing_scenarios import SourceScenario, scenario_for
from ledger_pipeline.sandbox.sample_data import sample_invoices
from ledger_pipeline.sandbox.stripe_standin import (
    LIST_ENDPOINT,
    RETRIEVE_ENDPOINT,
    StripeStandIn,
)

SAMPLE = [i for i in sample_invoices(400, seed=5) if (i.source_ref or "").startswith("in_")]


def client_for(stand_in: StripeStandIn, api_key: str | None = None, **kw) -> stripe.StripeClient:
    options = {"max_network_retries": 0, **kw}
    return stripe.StripeClient(
        api_key or stand_in.api_key, base_addresses={"api": stand_in.url}, **options
    )


def get(stand_in: StripeStandIn, path: str, key: str | None = None, **kw) -> requests.Response:
    headers = {"Authorization": f"Bearer {key or stand_in.api_key}"}
    return requests.get(stand_in.url + path, headers=headers, timeout=kw.pop("timeout", 5), **kw)


@pytest.fixture(scope="module")
def sample_stripe():
    with StripeStandIn(SAMPLE) as stand_in:
        yield stand_in


# --- the SDK parses it ---------------------------------------------------------------------


def test_sdk_retrieves_an_invoice_in_the_current_shape(sample_stripe):
    invoice = next(i for i in SAMPLE if scenario_for(i.invoice_id) is SourceScenario.AS_RECORDED)
    got = client_for(sample_stripe).v1.invoices.retrieve(invoice.source_ref)
    assert isinstance(got, stripe.Invoice)
    assert got.id == invoice.source_ref and got.object == "invoice"
    assert got.currency == invoice.currency.lower()
    assert got.status_transitions.finalized_at >= got.created
    assert isinstance(got.total_taxes, list)
    assert "tax" not in got.to_dict()  # removed by API version basil


def test_sdk_auto_pages_a_created_window_newest_first(sample_stripe):
    start = datetime(2025, 1, 1, tzinfo=UTC)
    gte, lte = int(start.timestamp()), int((start + timedelta(days=120)).timestamp())
    page = client_for(sample_stripe).v1.invoices.list(
        {"created": {"gte": gte, "lte": lte}, "limit": 7}
    )
    seen = [inv.to_dict() for inv in page.auto_paging_iter()]
    expected = [
        raw["id"]
        for raw in (sample_stripe.invoice(ref) for ref in sample_stripe.ids())
        if gte <= raw["created"] <= lte
    ]
    assert len(seen) == len(expected) > 7  # several pages
    assert sorted(inv["id"] for inv in seen) == sorted(expected)
    created = [inv["created"] for inv in seen]
    assert created == sorted(created, reverse=True)


def test_list_filters_by_status_and_reports_has_more(sample_stripe):
    page = client_for(sample_stripe).v1.invoices.list({"status": "void", "limit": 100})
    assert page.data and {inv.status for inv in page.data} == {"void"}
    assert page.has_more is False
    first = client_for(sample_stripe).v1.invoices.list({"limit": 1})
    assert len(first.data) == 1 and first.has_more is True


def test_unknown_invoice_is_a_404_resource_missing(sample_stripe):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client_for(sample_stripe).v1.invoices.retrieve("in_doesnotexist")
    assert caught.value.http_status == 404 and caught.value.code == "resource_missing"
    body = get(sample_stripe, "/v1/invoices/in_doesnotexist").json()
    assert set(body["error"]) >= {"type", "code", "message"}
    assert body["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "starting_after=in_nope", "created[gte]=soon"]
)
def test_bad_list_parameters_are_400(sample_stripe, query):
    response = get(sample_stripe, f"/v1/invoices?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("key", ["", "sk_test_wrong"])
def test_the_bearer_key_is_required(sample_stripe, key):
    response = requests.get(
        sample_stripe.url + "/v1/invoices",
        headers={"Authorization": f"Bearer {key}"} if key else {},
        timeout=5,
    )
    assert response.status_code == 401
    assert "sk_test_wrong" not in response.text
    with pytest.raises(stripe.AuthenticationError):
        client_for(sample_stripe, api_key="sk_test_wrong").v1.invoices.list()


# --- the sample world ----------------------------------------------------------------------


def test_every_sample_invoice_exists_at_its_source_unless_missing(sample_stripe):
    for invoice in SAMPLE:
        present = invoice.source_ref in sample_stripe.ids()
        assert present is (scenario_for(invoice.invoice_id) is not SourceScenario.MISSING)


def test_amounts_are_consistent_minor_units(sample_stripe):
    for invoice in SAMPLE:
        raw = sample_stripe.invoice(invoice.source_ref)
        if raw is None:
            continue
        taxes = sum(t["amount"] for t in raw["total_taxes"])
        assert raw["total"] == raw["subtotal"] + taxes
        assert raw["subtotal"] == to_minor_units(invoice.subtotal, invoice.currency)
        assert taxes == to_minor_units(invoice.tax, invoice.currency)
        assert 0 <= raw["amount_paid"] <= raw["amount_due"] == max(raw["total"], 0)


def test_quebec_tax_comes_as_gst_and_qst(sample_stripe):
    split = [
        raw
        for raw in (sample_stripe.invoice(ref) for ref in sample_stripe.ids())
        if len(raw["total_taxes"]) == 2
    ]
    assert split
    for raw in split:
        assert raw["total_taxes"][0]["amount"] == round(Decimal(raw["subtotal"]) * Decimal("0.05"))


def test_each_scenario_has_its_shape():
    base = SourceInvoice(
        invoice_id="x",
        source_ref="in_x",
        number="NC-1",
        customer=Customer("u1", "A B", None, None, None),
        created_at=datetime(2026, 1, 31, 23, tzinfo=UTC),
        currency="CAD",
        status="open",
        subtotal=Decimal("100.00"),
        tax=Decimal("13.00"),
        amount_paid=Decimal("0"),
        paid_at=None,
    )
    paid = replace(
        base,
        invoice_id="p",
        source_ref="in_p",
        status="paid",
        amount_paid=Decimal("113.00"),
        paid_at=datetime(2026, 2, 1, 3, tzinfo=UTC),
    )
    world = {
        "x": SourceScenario.AS_RECORDED,
        "p": SourceScenario.AS_RECORDED,
        "v": SourceScenario.VOID,
        "d": SourceScenario.DRAFT,
        "l": SourceScenario.PAID_LATER,
        "m": SourceScenario.MISSING,
    }
    others = [replace(base, invoice_id=k, source_ref=f"in_{k}") for k in "vdlm"]
    with StripeStandIn([base, paid, *others], world) as stand_in:
        open_, paid_raw = stand_in.invoice("in_x"), stand_in.invoice("in_p")
        void, draft, later = (stand_in.invoice(f"in_{k}") for k in "vdl")
        assert stand_in.invoice("in_m") is None
    created = int(base.created_at.timestamp())
    assert open_["status"] == "open" and open_["status_transitions"]["paid_at"] is None
    assert open_["created"] < open_["status_transitions"]["finalized_at"] <= created
    assert open_["effective_at"] == open_["status_transitions"]["finalized_at"]
    assert paid_raw["status"] == "paid" and paid_raw["amount_paid"] == 11300
    assert paid_raw["status_transitions"]["paid_at"] == int(paid.paid_at.timestamp())
    assert void["status"] == "void" and void["status_transitions"]["voided_at"]
    assert draft["status"] == "draft" and draft["status_transitions"]["finalized_at"] is None
    assert draft["number"] is None and draft["effective_at"] is None
    assert later["status"] == "paid" and later["amount_paid"] == 11300
    later_finalized = later["status_transitions"]["finalized_at"]
    assert later["status_transitions"]["paid_at"] >= later_finalized + 3 * 86400


# --- faults and counters -------------------------------------------------------------------


def test_counts_calls_by_endpoint():
    with StripeStandIn(SAMPLE[:3]) as stand_in:
        get(stand_in, "/v1/invoices")
        get(stand_in, "/v1/invoices/" + SAMPLE[0].source_ref)
        get(stand_in, "/v1/invoices/in_nope")
        assert stand_in.call_counts() == Counter({LIST_ENDPOINT: 1, RETRIEVE_ENDPOINT: 2})
        stand_in.reset_counts()
        assert stand_in.call_counts() == Counter()


def test_429_carries_retry_after_and_faults_run_in_order():
    with StripeStandIn(SAMPLE[:3]) as stand_in:
        stand_in.respond_429(1, retry_after=3)
        stand_in.fail_5xx(1, status=502)
        stand_in.answer(1)
        stand_in.fail_5xx(1)
        statuses = [get(stand_in, "/v1/invoices") for _ in range(5)]
    assert [r.status_code for r in statuses] == [429, 502, 200, 500, 200]
    assert statuses[0].headers["Retry-After"] == "3"
    assert statuses[0].json()["error"]["code"] == "rate_limit"
    with StripeStandIn(SAMPLE[:3]) as stand_in, pytest.raises(stripe.RateLimitError):
        stand_in.respond_429(1)  # the SDK does not retry a plain 429: the verifier must
        client_for(stand_in, max_network_retries=2).v1.invoices.list()


def test_time_out_holds_the_answer():
    with StripeStandIn(SAMPLE[:3]) as stand_in:
        stand_in.time_out(1, seconds=0.5)
        with pytest.raises(requests.Timeout):
            get(stand_in, "/v1/invoices", timeout=0.1)
        assert get(stand_in, "/v1/invoices").status_code == 200


def test_down_drops_connections_until_it_comes_back():
    with StripeStandIn(SAMPLE[:3]) as stand_in:
        stand_in.go_down()
        with pytest.raises(requests.ConnectionError):
            get(stand_in, "/v1/invoices")
        with pytest.raises(stripe.APIConnectionError):
            client_for(stand_in).v1.invoices.list()
        stand_in.come_back()
        assert get(stand_in, "/v1/invoices").status_code == 200


def test_injected_latency():
    with StripeStandIn(SAMPLE[:3]) as stand_in:
        stand_in.latency_ms = 60
        started = time.perf_counter()
        get(stand_in, "/v1/invoices")
        assert time.perf_counter() - started >= 0.06


def test_cli_serves_sample_data():
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "ledger_pipeline.sandbox.stripe_standin"),
            *("--port", "0", "--count", "40", "--api-key", "sk_test_cli"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        url = line.split(" on ")[1].split()[0]
        response = requests.get(
            url + "/v1/invoices?limit=100",
            headers={"Authorization": "Bearer sk_test_cli"},
            timeout=5,
        )
        assert response.status_code == 200 and response.json()["object"] == "list"
        assert response.json()["data"]
    finally:
        process.terminate()
        process.wait(timeout=10)
