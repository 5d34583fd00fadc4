"""The Dagster webserver on the sandbox, queried through its GraphQL API as the UI does."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
import requests

from ledger_pipeline.partitions import RANGE_END_TAG, RANGE_START_TAG, month_key
from ledger_pipeline.schedules import build_daily_schedule
from ledger_pipeline.settings import LedgerSettings

PROJECT_ROOT = Path(__file__).resolve().parents[1]

REPOSITORY = """
{ repositoriesOrError { __typename ... on RepositoryConnection { nodes {
    name location { name }
    jobs { name } schedules { name } sensors { name }
    assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks { name } } } }
} } } }
"""
LOCATIONS = """
{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
LAUNCH = """
mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) {
    __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } } } }
"""
BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }
"""
BACKFILL_STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } } }
"""
BACKFILL_RUNS = """
query($id: String!) { runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) {
    ... on Runs { results { runId status tags { key value } } } } }
"""
MATERIALIZATIONS = """
query($key: AssetKeyInput!) { assetOrError(assetKey: $key) {
    ... on Asset { assetMaterializations(limit: 100) { partition runId } } } }
"""
STATUS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
MONTHS = ["2025-01-01", "2025-02-01", "2025-03-01"]


def wait_for_run(url: str, run_id: str, seconds: float = 300) -> str | None:
    deadline, status = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        status = graphql(url, STATUS, {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(1)
    return status


def month_of(invoice) -> str:
    return month_key(invoice.created_at.astimezone(ZoneInfo("America/Toronto")).date())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    response = requests.post(
        f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
    )
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "dagster dev exited early"
        try:
            if requests.get(f"{url}/server_info", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the webserver did not answer within {seconds} s")


@pytest.mark.parametrize("world", [{"invoices": 300}], indirect=True)
def test_webserver_lists_everything_and_a_backfill_of_three_months_is_one_run(world, tmp_path):
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **world.env, "DAGSTER_HOME": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", str(port),
         "-m", "ledger_pipeline.definitions"],
        cwd=tmp_path, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        wait_until_up(url, process)
        (entry,) = graphql(url, LOCATIONS)["workspaceOrError"]["locationEntries"]
        assert entry["loadStatus"] == "LOADED"
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"

        (repo,) = graphql(url, REPOSITORY)["repositoriesOrError"]["nodes"]
        assets = {"/".join(n["assetKey"]["path"]) for n in repo["assetNodes"]}
        assert assets == {
            "nexacloud_invoices", "verified_invoices", "ledger_plan", "odoo_invoices",
            "source_corrections", "odoo_corrections", "month_end_close", "stripe_payouts",
        }  # fmt: skip
        checks = {c["name"] for n in repo["assetNodes"] for c in n["assetChecksOrError"]["checks"]}
        assert checks == {
            "source_integrity", "source_agreement", "plan_parity", "ledger_parity",
            "voided_invoices_reversed", "month_in_parity", "payouts_clear",
            "ncstr_matches_stripe_balance",
        }  # fmt: skip
        jobs = {j["name"] for j in repo["jobs"]}
        assert {"daily_ledger_sync", "backfill_ledger", "post_drafts", "post_and_reconcile_paid",
                "prune_metered_shadow_job"} <= jobs  # fmt: skip
        assert [s["name"] for s in repo["schedules"]] == ["daily_ledger_sync_schedule"]
        assert "unverified_invoices_sensor" in [s["name"] for s in repo["sensors"]]

        # A backfill of three months of the chain, as the UI launches it: the assets' single-run
        # policy makes it one run over the range, with the assets' default (automatic) config.
        chain = [["nexacloud_invoices"], ["verified_invoices"], ["ledger_plan"],
                 ["odoo_invoices"], ["source_corrections"], ["odoo_corrections"],
                 ["month_end_close"], ["stripe_payouts"]]  # fmt: skip
        params = {"assetSelection": [{"path": p} for p in chain], "partitionNames": MONTHS}
        launched = graphql(url, BACKFILL, {"params": params})["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        backfill_id = launched["backfillId"]
        deadline, status = time.monotonic() + 600, None
        while time.monotonic() < deadline:
            status = graphql(url, BACKFILL_STATUS, {"id": backfill_id})
            status = status["partitionBackfillOrError"]["status"]
            if status not in ("REQUESTED", "CANCELING", "FAILING"):
                break
            time.sleep(2)
        runs = graphql(url, BACKFILL_RUNS, {"id": backfill_id})["runsOrError"]["results"]
        assert [r["status"] for r in runs] == ["SUCCESS"], (status, runs)
        tags = {t["key"]: t["value"] for t in runs[0]["tags"]}
        assert (tags[RANGE_START_TAG], tags[RANGE_END_TAG]) == (MONTHS[0], MONTHS[-1])
        assert status == "COMPLETED_SUCCESS"
        for path in chain:
            done = graphql(url, MATERIALIZATIONS, {"key": {"path": path}})["assetOrError"]
            events = done["assetMaterializations"]
            assert sorted(e["partition"] for e in events) == MONTHS, path
            assert {e["runId"] for e in events} == {runs[0]["runId"]}
        wanted = {i.invoice_id for i in world.invoices if month_of(i) in MONTHS}
        booked = {
            m["x_fc_nexacloud_invoice_id"]
            for m in world.odoo.records("account.move", [["state", "=", "posted"]])
            if m.get("x_fc_nexacloud_invoice_id")
        }
        assert booked and booked <= wanted

        # What the daily schedule asks for (its tags name the open months), launched as the
        # scheduler launches it: a run of the job with the request's config and tags.
        settings = LedgerSettings(time_zone="America/Toronto", first_month="2024-06")
        tick = datetime(2025, 4, 3, 6, tzinfo=ZoneInfo("America/Toronto"))
        request = build_daily_schedule(settings)(
            dg.build_schedule_context(scheduled_execution_time=tick)
        )
        params = {
            "selector": {
                "repositoryLocationName": repo["location"]["name"],
                "repositoryName": repo["name"],
                "jobName": "daily_ledger_sync",
            },
            "runConfigData": json.dumps(request.run_config),
            "executionMetadata": {
                "tags": [{"key": k, "value": v} for k, v in request.tags.items()]
            },
        }
        launched = graphql(url, LAUNCH, {"params": params})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        assert wait_for_run(url, launched["run"]["runId"]) == "SUCCESS"
        done = graphql(url, MATERIALIZATIONS, {"key": {"path": ["month_end_close"]}})
        closed = {e["partition"] for e in done["assetOrError"]["assetMaterializations"]}
        assert {"2025-03-01", "2025-04-01"} <= closed  # the open months of 3 April
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
