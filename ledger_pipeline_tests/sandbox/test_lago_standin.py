"""The Lago stand-in: Lago's shapes (checked against Lago's OpenAPI spec), scenarios, faults."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests
import yaml

from ledger_pipeline.ledger.model import SourceInvoice
from ledger_pipeline.sandbox.billing_scenarios import SourceScenario, scenario_for
from ledger_pipeline.sandbox.lago_standin import LagoStandIn
from ledger_pipeline.sandbox.sample_data import sample_invoices
from ledger_pipeline.sources.lago_facts import lago_id_of
from ledger_pipeline_tests.fixtures import fixture
from ledger_pipeline_tests.sources.lago_invoices import MARCH, invoice, lago_id

S = SourceScenario
SPEC_PATH = fixture("lago-openapi.yaml")
# Served by Lago's V1::InvoiceSerializer, declared by lago-python-client, absent from the spec
# (billing-apis.md §0.5): the stand-in must serve them with these types.
SERVED_BUT_NOT_IN_SPEC = {
    "total_due_amount_cents": {"type": "integer"},
    "total_paid_amount_cents": {"type": "integer"},
    "total_offsetted_credit_note_amount_cents": {"type": "integer"},
    "voided_at": {"type": ["string", "null"], "format": "date-time"},
    "xml_url": {"type": ["string", "null"]},
}


# -- a small OpenAPI 3.1 schema checker (jsonschema is not installed) --------------------------


class SpecChecker:
    """Checks JSON against a component schema: $ref, allOf/anyOf/oneOf, type, required,
    properties, items, enum and the date / date-time / uuid formats."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def errors(self, value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
        if "$ref" in schema:
            return self.errors(value, self._resolve(schema["$ref"]), path)
        found: list[str] = []
        for part in schema.get("allOf", ()):
            found += self.errors(value, part, path)
        for key in ("anyOf", "oneOf"):
            if key in schema and all(self.errors(value, s, path) for s in schema[key]):
                found.append(f"{path}: matches none of {key}")
        types = schema.get("type")
        if types is not None:
            types = [types] if isinstance(types, str) else types
            if not any(_is_type(value, t) for t in types):
                return [*found, f"{path}: {value!r} is not {'/'.join(types)}"]
        if value is None:
            return found
        if "enum" in schema and value not in schema["enum"]:
            found.append(f"{path}: {value!r} not in enum")
        if isinstance(value, str) and not _has_format(value, schema.get("format")):
            found.append(f"{path}: {value!r} is not a {schema['format']}")
        if isinstance(value, dict):
            found += [f"{path}: missing {k}" for k in schema.get("required", ()) if k not in value]
            for name, sub in (schema.get("properties") or {}).items():
                if name in value:
                    found += self.errors(value[name], sub, f"{path}.{name}")
        if isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                found += self.errors(item, schema["items"], f"{path}[{i}]")
        return found

    def check(self, value: Any, schema: dict[str, Any] | str) -> None:
        if isinstance(schema, str):
            schema = {"$ref": f"#/components/schemas/{schema}"}
        problems = self.errors(value, schema)
        assert not problems, "\n".join(problems[:20])

    def _resolve(self, ref: str) -> dict[str, Any]:
        node: Any = self.spec
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, {"string": str, "boolean": bool, "object": dict, "array": list,
                              "null": type(None)}[name])  # fmt: skip


def _has_format(value: str, fmt: str | None) -> bool:
    try:
        if fmt == "date":
            date.fromisoformat(value)
        elif fmt == "date-time":
            return bool(
                re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value)
            )
        elif fmt == "uuid":
            uuid.UUID(value)
    except ValueError:
        return False
    return True


def _with_served_fields(schema_name: str) -> dict[str, Any]:
    extra = {"type": "object", "required": list(SERVED_BUT_NOT_IN_SPEC)}
    return {"allOf": [{"$ref": f"#/components/schemas/{schema_name}"},
                      extra | {"properties": SERVED_BUT_NOT_IN_SPEC}]}  # fmt: skip


@pytest.fixture(scope="module")
def spec() -> SpecChecker:
    # CI lays shared/ beside the clone: a missing spec is a failure, never a silent skip.
    with SPEC_PATH.open("rb") as handle:
        return SpecChecker(yaml.load(handle, Loader=yaml.CSafeLoader))


# -- data ----------------------------------------------------------------------------------------


def get(lago: LagoStandIn, path: str, key: str | None = "", **params: Any) -> requests.Response:
    headers = {} if key is None else {"Authorization": f"Bearer {key or lago.api_key}"}
    return requests.get(lago.url + path, params=params, headers=headers, timeout=5)


@pytest.fixture(scope="module")
def sample() -> list[SourceInvoice]:
    return [i for i in sample_invoices(1500) if lago_id_of(i.source_ref)]


# -- shapes ------------------------------------------------------------------------------------


def test_responses_validate_against_the_spec_and_carry_the_served_fields(spec, sample):
    with LagoStandIn(sample) as lago:
        listed = get(lago, "/invoices", per_page=1000).json()
        spec.check(listed, "InvoicesPaginated")
        for item in listed["invoices"]:
            spec.check(item, _with_served_fields("InvoiceObject"))
        statuses = Counter((i["status"], i["payment_status"]) for i in listed["invoices"])
        assert {("finalized", "succeeded"), ("finalized", "pending"), ("voided", "pending"),
                ("draft", "pending")} <= set(statuses)  # fmt: skip

        for item in listed["invoices"][:50]:
            one = get(lago, f"/invoices/{item['lago_id']}").json()
            spec.check(one, "Invoice")
            spec.check(one["invoice"], _with_served_fields("InvoiceObjectExtended"))

        payments = get(lago, "/payments", per_page=1000).json()
        assert payments["payments"]
        spec.check(payments, "PaymentsPaginated")

        spec.check(get(lago, "/invoices", key="wrong").json(), "ApiErrorUnauthorized")
        spec.check(get(lago, f"/invoices/{uuid.uuid4()}").json(), "ApiErrorNotFound")
        spec.check(get(lago, "/invoices", issuing_date_from="2001-01-01",
                       issuing_date_to="2001-01-31").json(), "InvoicesPaginated")  # fmt: skip


def test_the_checker_rejects_what_the_spec_forbids(spec, sample):
    with LagoStandIn(sample[:3]) as lago:
        item = get(lago, "/invoices").json()["invoices"][0]
    broken = {k: v for k, v in item.items() if k not in ("total_amount_cents", "xml_url")}
    problems = spec.errors(broken | {"status": "paid", "taxes_amount_cents": "13.00"},
                           _with_served_fields("InvoiceObject"))  # fmt: skip
    assert any("missing total_amount_cents" in p for p in problems)
    assert any("missing xml_url" in p for p in problems)
    assert any(".status: 'paid' not in enum" in p for p in problems)
    assert any(".taxes_amount_cents: '13.00' is not integer" in p for p in problems)


def test_list_items_leave_out_the_detail_only_fields(sample):
    with LagoStandIn(sample[:5]) as lago:
        item = get(lago, "/invoices").json()["invoices"][0]
        detail = get(lago, f"/invoices/{item['lago_id']}").json()["invoice"]
    assert {"fees", "credits", "subscriptions", "error_details"} <= detail.keys()
    assert not {"fees", "credits", "subscriptions", "error_details"} & item.keys()
    assert {"customer", "metadata", "applied_taxes"} <= item.keys()


# -- seeding from NexaCloud and the scenarios --------------------------------------------------


def test_every_sample_invoice_is_at_its_source_as_its_scenario_says(sample):
    with LagoStandIn(sample) as lago:
        invoices, payments = lago.world.invoices, lago.world.payments
    paid_on = {p["invoice_ids"][0]: p for p in payments}
    seen = Counter()
    for inv in sample:
        scenario = scenario_for(inv.invoice_id)
        seen[scenario] += 1
        record = invoices.get(lago_id(inv))
        if scenario is S.MISSING:
            assert record is None
            continue
        assert record["issuing_date"] == inv.created_at.date().isoformat()
        assert record["currency"] == inv.currency
        assert record["total_amount_cents"] == int((inv.total * 100).to_integral_value())
        assert record["taxes_amount_cents"] == int((inv.tax * 100).to_integral_value())
        payment = paid_on.get(record["lago_id"])
        if scenario is S.VOID:
            assert (record["status"], payment) == ("voided", None)
        elif scenario is S.DRAFT:
            assert (record["status"], payment) == ("draft", None)
        elif scenario is S.PAID_LATER and inv.total > 0:
            assert (record["status"], record["payment_status"]) == ("finalized", "succeeded")
            expected = (inv.paid_at or inv.created_at) + timedelta(days=3)
            assert payment["created_at"] == expected.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif scenario is S.AS_RECORDED and inv.status == "paid" and inv.total > 0:
            assert record["payment_status"] == "succeeded"
            assert payment["created_at"] == inv.paid_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            assert payment["amount_cents"] == record["total_amount_cents"]
    assert all(seen[s] for s in S), seen  # the sample exercises every scenario


def test_partly_paid_and_unpaid_invoices_as_recorded():
    partly, unpaid = invoice(1, paid="50.00"), invoice(2, paid="0")
    with LagoStandIn([partly, unpaid], {"NC1": S.AS_RECORDED, "NC2": S.AS_RECORDED}) as lago:
        one, two = lago.invoice(lago_id(partly)), lago.invoice(lago_id(unpaid))
        payments = lago.world.payments
    assert (one["payment_status"], one["total_paid_amount_cents"]) == ("pending", 5000)
    assert one["total_due_amount_cents"] == 11300 - 5000
    assert (two["payment_status"], two["total_paid_amount_cents"]) == ("pending", 0)
    assert [p["amount_cents"] for p in payments] == [5000]


def test_issuing_date_is_the_creation_day_in_the_customers_time_zone():
    late = invoice(1, created=datetime(2026, 2, 1, 2, 30, tzinfo=UTC))
    with LagoStandIn([late], {"NC1": S.AS_RECORDED}, timezone="America/Halifax") as lago:
        record = lago.invoice(lago_id(late))
    assert record["issuing_date"] == "2026-01-31"
    assert record["customer"]["applicable_timezone"] == "America/Halifax"


# -- the API's behaviour -----------------------------------------------------------------------


def test_bearer_key_is_required():
    with LagoStandIn([invoice(1)]) as lago:
        assert get(lago, "/invoices", key=None).status_code == 401
        wrong = get(lago, "/invoices", key="not-the-key")
        assert (wrong.status_code, wrong.json()) == (401, {"status": 401, "error": "Unauthorized"})
        assert get(lago, "/invoices").status_code == 200


def test_pagination_follows_lagos_meta():
    invoices = [invoice(n, created=MARCH + timedelta(hours=n)) for n in range(1, 26)]
    with LagoStandIn(
        invoices, dict.fromkeys((i.invoice_id for i in invoices), S.AS_RECORDED)
    ) as lago:
        first = get(lago, "/invoices", per_page=10).json()
        last = get(lago, "/invoices", per_page=10, page=3).json()
        default = get(lago, "/invoices").json()
        empty = get(lago, "/invoices", issuing_date_from="2030-01-01").json()
    assert first["meta"] == {"current_page": 1, "next_page": 2, "prev_page": None,
                             "total_pages": 3, "total_count": 25}  # fmt: skip
    assert (len(last["invoices"]), last["meta"]["next_page"], last["meta"]["prev_page"]) == (
        5,
        None,
        2,
    )
    assert len(default["invoices"]) == 25  # Lago's default page holds 100
    assert empty == {"invoices": [], "meta": {"current_page": 0, "next_page": None,
                                              "prev_page": None, "total_pages": 0,
                                              "total_count": 0}}  # fmt: skip
    # Newest issuing date first, as Lago orders them.
    stamps = [i["created_at"] for i in first["invoices"]]
    assert stamps == sorted(stamps, reverse=True)


def test_issuing_date_filters_are_inclusive_and_status_filters_apply():
    days = [invoice(n, created=datetime(2026, 3, n, 12, tzinfo=UTC)) for n in range(1, 6)]
    overrides = {"NC1": S.VOID, "NC2": S.AS_RECORDED, "NC3": S.AS_RECORDED, "NC4": S.DRAFT,
                 "NC5": S.AS_RECORDED}  # fmt: skip
    with LagoStandIn(days, overrides) as lago:
        window = get(
            lago, "/invoices", issuing_date_from="2026-03-02", issuing_date_to="2026-03-04"
        )
        voided = get(lago, "/invoices", **{"statuses[]": ["voided", "draft"]})
    assert sorted(i["issuing_date"] for i in window.json()["invoices"]) == [
        "2026-03-02", "2026-03-03", "2026-03-04"]  # fmt: skip
    assert sorted(i["status"] for i in voided.json()["invoices"]) == ["draft", "voided"]


def test_payments_are_listed_newest_first_and_filter_by_invoice():
    invoices = [invoice(n, created=MARCH + timedelta(days=n)) for n in range(1, 5)]
    with LagoStandIn(
        invoices, dict.fromkeys((i.invoice_id for i in invoices), S.AS_RECORDED)
    ) as lago:
        listed = get(lago, "/payments").json()["payments"]
        one = get(lago, "/payments", invoice_id=lago_id(invoices[1])).json()
    stamps = [p["created_at"] for p in listed]
    assert len(stamps) == 4 and stamps == sorted(stamps, reverse=True)
    assert [p["invoice_ids"] for p in one["payments"]] == [[lago_id(invoices[1])]]
    assert one["meta"]["total_count"] == 1


def test_unknown_invoice_is_lagos_404():
    with LagoStandIn([invoice(1)], {"NC1": S.MISSING}) as lago:
        response = get(lago, f"/invoices/{lago_id(invoice(1))}")
    assert response.status_code == 404
    assert response.json() == {"status": 404, "error": "Not Found", "code": "invoice_not_found"}


# -- counting and faults -------------------------------------------------------------------------


def test_counts_calls_per_endpoint_and_resets():
    inv = invoice(1)
    with LagoStandIn([inv], {"NC1": S.AS_RECORDED}) as lago:
        get(lago, "/invoices")
        get(lago, "/invoices")
        get(lago, f"/invoices/{lago_id(inv)}")
        get(lago, "/payments")
        assert lago.call_counts() == Counter(
            {"GET /invoices": 2, "GET /invoices/{lago_id}": 1, "GET /payments": 1}
        )
        lago.reset_counts()
        assert lago.call_counts() == Counter()


def test_injected_429_5xx_timeouts_outage_and_latency():
    with LagoStandIn([invoice(1)]) as lago:
        lago.respond_429(1, retry_after=7)
        limited = get(lago, "/invoices")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "7"
        assert limited.headers["X-RateLimit-Remaining"] == "0"

        lago.fail_5xx(2)
        assert [get(lago, "/invoices").status_code for _ in range(3)] == [503, 503, 200]

        lago.time_out(1, seconds=0.5)
        with pytest.raises(requests.Timeout):
            requests.get(lago.url + "/invoices", timeout=0.1)
        assert get(lago, "/invoices").status_code == 200

        lago.go_down()
        with pytest.raises(requests.ConnectionError):
            get(lago, "/invoices")
        lago.come_back()
        assert get(lago, "/invoices").status_code == 200

        lago.latency_ms = 30
        started = datetime.now(UTC)
        get(lago, "/invoices")
        assert datetime.now(UTC) - started >= timedelta(milliseconds=30)


def test_cli_serves_sample_data(tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ledger_pipeline.sandbox.lago_standin",
         "--port", str(port), "--count", "200", "--api-key", "cli-key"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        banner = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/api/v1" in banner
        expected = len({lago_id_of(i.source_ref) for i in sample_invoices(200)} - {None})
        body = requests.get(
            f"http://127.0.0.1:{port}/api/v1/invoices",
            headers={"Authorization": "Bearer cli-key"},
            timeout=5,
        ).json()
        missing = sum(
            1
            for i in sample_invoices(200)
            if lago_id_of(i.source_ref) and scenario_for(i.invoice_id) is S.MISSING
        )
        assert body["meta"]["total_count"] == expected - missing
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_seeding_ignores_invoices_of_other_systems():
    stripe = replace(invoice(1), source_ref="in_1AbC")
    manual = replace(invoice(2), source_ref=None)
    with LagoStandIn([stripe, manual, invoice(3)], {"NC3": S.AS_RECORDED}) as lago:
        assert list(lago.world.invoices) == [lago_id(invoice(3))]
