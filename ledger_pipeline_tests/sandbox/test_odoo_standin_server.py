"""The Odoo stand-in as a test tool: lifecycle, call counting, latency, injected faults, rollback,
concurrency and the command line."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import requests

from ledger_pipeline.sandbox.odoo_standin import OdooStandIn
from ledger_pipeline_tests.sandbox.test_odoo_standin_support import VERSIONS, Rpc


@pytest.fixture(params=VERSIONS)
def odoo(request):
    with OdooStandIn(version=request.param) as standin:
        yield standin


def partner_names(odoo: OdooStandIn) -> list[str]:
    return [p["name"] for p in odoo.records("res.partner", [["ref", "=like", "t-%"]])]


def test_serves_on_loopback_with_the_public_attributes(odoo):
    assert odoo.url.startswith("http://127.0.0.1:")
    assert (odoo.database, odoo.login) == ("nexacloud", "admin")
    assert len(odoo.api_key) == 40
    version = requests.get(odoo.url + "/web/version", timeout=5).json()
    assert version["version_info"][0] == odoo.version


def test_start_stop_and_a_fixed_port():
    standin = OdooStandIn(version=19, api_key="k").start()
    port = int(standin.url.rsplit(":", 1)[1])
    standin.stop()
    with OdooStandIn(version=18, port=port, api_key="k") as again:
        assert again.url == f"http://127.0.0.1:{port}"
        assert again.api_key == "k"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/web/version", timeout=2)


def test_counts_every_call_per_model_and_method_in_order(odoo):
    rpc = Rpc(odoo)
    rpc.jsonrpc("common", "version", [])
    rpc.ok("res.partner", "search", domain=[])
    rpc.ok("res.partner", "search", domain=[["ref", "=", "x"]])
    rpc.create("res.partner", {"name": "Counted", "ref": "t-1"})
    assert odoo.call_log == [
        ("common", "version"),
        ("res.partner", "search"),
        ("res.partner", "search"),
        ("res.partner", "create"),
    ]
    assert odoo.call_counts() == Counter(
        {("res.partner", "search"): 2, ("common", "version"): 1, ("res.partner", "create"): 1}
    )
    odoo.records("res.partner")  # direct state access is not a call
    odoo.reset_counts()
    assert odoo.call_counts() == Counter() and odoo.call_log == []


def test_jsonrpc_login_is_counted_as_authenticate():
    with OdooStandIn(version=18) as odoo:
        Rpc(odoo).jsonrpc("common", "authenticate", [odoo.database, "admin", odoo.api_key, {}])
        assert odoo.call_counts()[("common", "authenticate")] == 1


def test_injected_latency_delays_each_call(odoo):
    rpc = Rpc(odoo)
    odoo.latency_ms = 60
    started = time.perf_counter()
    rpc.ok("res.partner", "search", domain=[])
    rpc.ok("res.partner", "search", domain=[])
    assert time.perf_counter() - started >= 0.12
    odoo.latency_ms = 0


def test_fail_call_k_answers_a_server_error_and_changes_nothing(odoo):
    rpc = Rpc(odoo)
    odoo.fail_call(2, message="disk full")
    assert rpc.create("res.partner", {"name": "First", "ref": "t-1"})
    failed = rpc.call("res.partner", "create", vals_list=[{"name": "Second", "ref": "t-2"}])
    assert failed.failure == ("psycopg2.OperationalError", "disk full")
    if odoo.version == 18:
        assert failed.status == 200 and failed.body["error"]["code"] == 200
    else:
        assert failed.status == 500
    assert rpc.create("res.partner", {"name": "Third", "ref": "t-3"})
    assert partner_names(odoo) == ["First", "Third"]


def test_fail_after_commit_does_the_work_then_drops_the_connection(odoo):
    rpc = Rpc(odoo)
    odoo.fail_after_commit(1)
    with pytest.raises(requests.ConnectionError):
        rpc.create("res.partner", {"name": "Committed", "ref": "t-1"})
    assert partner_names(odoo) == ["Committed"]
    odoo.fail_after_commit(1, status=502)
    answer = rpc.call("res.partner", "create", vals_list=[{"name": "Also", "ref": "t-2"}])
    assert answer.status == 502
    assert partner_names(odoo) == ["Also", "Committed"]


def test_time_out_call_answers_late_after_doing_the_work(odoo):
    rpc = Rpc(odoo)
    odoo.time_out_call(1, seconds=0.6)
    payload = {
        "jsonrpc": "2.0",
        "method": "call",
        "id": 1,
        "params": {
            "service": "object",
            "method": "execute_kw",
            "args": [
                odoo.database,
                2,
                odoo.api_key,
                "res.partner",
                "create",
                [[{"name": "Slow", "ref": "t-1"}]],
                {},
            ],
        },
    }
    with pytest.raises(requests.ReadTimeout):
        requests.post(odoo.url + "/jsonrpc", json=payload, timeout=0.2)
    assert partner_names(odoo) == ["Slow"]
    assert rpc.ok("res.partner", "search", domain=[["ref", "=", "t-1"]])  # next call is on time


def test_clear_faults_and_faults_count_calls_from_now(odoo):
    rpc = Rpc(odoo)
    rpc.ok("res.partner", "search", domain=[])
    odoo.fail_call(1)
    odoo.clear_faults()
    assert rpc.call("res.partner", "search", domain=[]).ok
    odoo.reset_counts()
    odoo.fail_call(1)
    assert not rpc.call("res.partner", "search", domain=[]).ok
    with pytest.raises(ValueError):
        odoo.fail_call(0)


def test_a_failing_call_rolls_back_everything_it_did(odoo):
    rpc = Rpc(odoo)
    answer = rpc.call(
        "account.account",
        "create",
        vals_list=[
            {"code": "NCR.GOOD", "name": "good", "account_type": "income"},
            {"code": "NCR-BAD", "name": "bad", "account_type": "income"},
        ],
    )
    assert not answer.ok
    assert odoo.records("account.account", [["code", "like", "NCR"]]) == []


def test_concurrent_calls_are_serialised_with_unique_ids(odoo):
    ids: list[int] = []

    def create(n: int) -> None:
        rpc = Rpc(odoo)
        for i in range(10):
            ids.append(rpc.create("res.partner", {"name": f"p{n}-{i}", "ref": f"t-{n}-{i}"}))

    threads = [threading.Thread(target=create, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 40
    assert odoo.call_counts()[("res.partner", "create")] == 40


def test_command_line_serves_until_interrupted():
    with OdooStandIn(version=19) as probe:  # a free port to hand to the command line
        port = int(probe.url.rsplit(":", 1)[1])
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ledger_pipeline.sandbox.odoo_standin",
            "--version",
            "19",
            "--port",
            str(port),
            "--api-key",
            "cli-key",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == f"Odoo 19 stand-in at http://127.0.0.1:{port}"
        assert "API key cli-key" in process.stdout.readline()
        body = requests.get(f"http://127.0.0.1:{port}/web/version", timeout=5).json()
        assert body == {"version_info": [19, 0, 0, "final", 0, ""], "version": "19.0"}
    finally:
        process.terminate()
        process.wait(timeout=10)
