"""The README's first command, with --once: the whole sandbox runs the daily sync and exits."""

import subprocess
import sys
import uuid
from pathlib import Path

from ledger_pipeline.sandbox.launcher import parse_args, sandbox_world
from ledger_pipeline.sandbox.odoo_standin import OdooCostModel
from ledger_pipeline.sandbox.postgres import drop_database

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_sandbox_once_runs_the_daily_sync_and_prints_the_summary(tmp_path):
    name = f"test_{uuid.uuid4().hex[:8]}"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ledger_pipeline.sandbox", "--once", "--invoices", "80",
             "--home", str(tmp_path), "--name", name],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    finally:
        drop_database(f"ledger_{name}_nexacloud")
        drop_database(f"ledger_{name}_dagster")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "NexaCloud → Odoo (verified path, written" in done.stdout
    assert "paid and reconciled: CAD" in done.stdout
    assert "ledger_parity passed" in done.stdout and "plan_parity passed" in done.stdout
    assert "revenue by family:" in done.stdout and "NCR.HOSTING" in done.stdout
    assert "(ODOO_MAX_PARALLEL_REQUESTS 1)" in done.stdout  # one call at a time by default


def test_odoo_workers_make_the_odoo_stand_in_cost_what_odoo_costs():
    assert parse_args([]).odoo_workers is None
    args = parse_args(["--odoo-workers", "2"])
    name = f"test_{uuid.uuid4().hex[:8]}"
    try:
        with sandbox_world(name, invoices=5, odoo_workers=args.odoo_workers) as world:
            assert world.odoo.workers == 2 and world.odoo.cost_model == OdooCostModel()
    finally:
        drop_database(f"ledger_{name}_nexacloud")
