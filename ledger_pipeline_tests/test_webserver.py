"""The Dagster webserver on the sandbox, queried through its GraphQL API as the UI does."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from ledger_pipeline.jobs import chain_run_config
from ledger_pipeline.ledger.stages import SourceOfTruth
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
STATUS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"


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


def test_webserver_lists_everything_and_a_launched_run_succeeds(world, tmp_path):
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
            "source_corrections", "odoo_corrections",
        }  # fmt: skip
        checks = {c["name"] for n in repo["assetNodes"] for c in n["assetChecksOrError"]["checks"]}
        assert checks == {
            "source_integrity", "source_agreement", "plan_parity", "ledger_parity",
            "voided_invoices_reversed",
        }  # fmt: skip
        jobs = {j["name"] for j in repo["jobs"]}
        assert {"daily_ledger_sync", "backfill_ledger", "post_drafts", "post_and_reconcile_paid",
                "prune_metered_shadow_job"} <= jobs  # fmt: skip
        assert [s["name"] for s in repo["schedules"]] == ["daily_ledger_sync_schedule"]
        assert [s["name"] for s in repo["sensors"]] == ["unverified_invoices_sensor"]

        settings = LedgerSettings(
            time_zone="America/Toronto", tax_tie_preference=("12% GST+PST BC",)
        )
        config = chain_run_config(
            settings, source_of_truth=SourceOfTruth.VERIFIED, dry_run=False, post=True,
            register_payments=True,
        )  # fmt: skip
        params = {
            "selector": {
                "repositoryLocationName": repo["location"]["name"],
                "repositoryName": repo["name"],
                "jobName": "daily_ledger_sync",
            },
            "runConfigData": json.dumps(config),
        }
        launched = graphql(url, LAUNCH, {"params": params})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        deadline, status = time.monotonic() + 300, None
        while time.monotonic() < deadline:
            status = graphql(url, STATUS, {"id": run_id})["runOrError"]["status"]
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                break
            time.sleep(1)
        assert status == "SUCCESS"
        assert world.odoo.records(
            "account.move", [["move_type", "=", "out_invoice"], ["state", "=", "posted"]]
        )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
