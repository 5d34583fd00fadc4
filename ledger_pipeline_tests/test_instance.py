"""The daily sync on a PostgreSQL-backed instance from dagster.yaml, steps in separate processes."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import yaml

from ledger_pipeline.jobs import chain_run_config
from ledger_pipeline.ledger.stages import SourceOfTruth
from ledger_pipeline.sandbox.postgres import dagster_storage_env, temporary_database
from ledger_pipeline.settings import LedgerSettings
from ledger_pipeline_tests.conftest import all_months

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def postgres_instance_env(home: Path, dsn: str) -> dict[str, str]:
    """DAGSTER_HOME with the project's dagster.yaml and the variables it reads."""
    storage = dagster_storage_env(dsn)
    home.mkdir(parents=True, exist_ok=True)
    host = storage["DAGSTER_PG_HOST"]
    if host.startswith("/"):  # an embedded server on a socket: the same storage, by URL
        config = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
        user, database = storage["DAGSTER_PG_USERNAME"], storage["DAGSTER_PG_DB"]
        url = f"postgresql+psycopg2://{user}@/{database}?host={host}"
        config["storage"] = {"postgres": {"postgres_url": url}}
        (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    else:
        shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    return {"DAGSTER_HOME": str(home), **storage}


def test_daily_sync_on_postgres_storage_under_the_multiprocess_executor(
    world, tmp_path, monkeypatch
):
    settings = LedgerSettings(  # as the sandbox world sets them in the environment
        time_zone="America/Toronto", first_month="2024-06", tax_tie_preference=("12% GST+PST BC",)
    )
    config = chain_run_config(
        settings,
        source_of_truth=SourceOfTruth.VERIFIED,
        dry_run=False,
        post=True,
        register_payments=True,
    )
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    with temporary_database("ledger_dagster_test") as dagster_dsn:
        env = {**os.environ, **world.env, **postgres_instance_env(tmp_path / "home", dagster_dsn)}
        done = subprocess.run(
            [sys.executable, "-m", "dagster", "job", "execute", "-m", "ledger_pipeline.definitions",
             "-j", "daily_ledger_sync", "-c", str(tmp_path / "run.yaml"),
             "--tags", json.dumps(all_months(settings))],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

        for key, value in env.items():
            monkeypatch.setenv(key, value)
        with dg.DagsterInstance.get() as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            (run,) = instance.get_runs()
            assert run.is_success
            logs = instance.all_logs(run.run_id)
            assert any("multiprocess executor" in (e.message or "") for e in logs)
            step_pids = {
                e.dagster_event.pid
                for e in logs
                if e.step_key and e.dagster_event and e.dagster_event.pid
            }
            assert len(step_pids) >= 4  # every step in its own process: no state shared
            checks = {
                e.dagster_event.event_specific_data.check_name: e.dagster_event.event_specific_data
                for e in logs
                if e.dagster_event and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
            }
            assert checks["ledger_parity"].passed and checks["plan_parity"].passed
        monkeypatch.delenv("DAGSTER_HOME")
    posted = world.odoo.records(
        "account.move", [["move_type", "=", "out_invoice"], ["state", "=", "posted"]]
    )
    assert posted
