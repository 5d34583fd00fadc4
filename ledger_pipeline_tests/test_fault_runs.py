"""Randomized fault runs in CI: 50 seeded cases, each a random dataset × random faults, then
re-runs until one succeeds; the final Odoo ledger must equal a clean run's, with no duplicate.

The soak runs thousands: `python -m ledger_pipeline_tests.fault_runs --cases 2000 --seed 7`.
"""

from __future__ import annotations

from collections import Counter
from copy import deepcopy

import pytest

from ledger_pipeline.sandbox.sample_data import sample_invoices
from ledger_pipeline_tests import fault_runs
from ledger_pipeline_tests.fault_runs import (
    CLASSES,
    clean_run,
    draw_case,
    fault_world,
    invariant_problems,
    run_case,
)

WORLD_SEED = 7
CI_SEEDS = range(50)


@pytest.fixture(scope="module")
def world():
    with fault_world(WORLD_SEED) as running:
        yield running


@pytest.mark.parametrize("seed", CI_SEEDS, ids=lambda s: f"seed{s}")
def test_faults_then_reruns_leave_the_clean_runs_ledger(world, seed):
    result = run_case(world, draw_case(seed, world.invoice_ids))
    again = f"python -m ledger_pipeline_tests.fault_runs --seed {WORLD_SEED} --case {seed}"
    assert result.ok, f"{result.describe()}\n(re-run it alone: {again})"


def test_the_ci_seeds_try_every_fault_class_several_times():
    ids = sorted(inv.invoice_id for inv in sample_invoices(fault_runs.WORLD_INVOICES, WORLD_SEED))
    cases = [draw_case(seed, ids) for seed in CI_SEEDS]
    tried = Counter(kind for case in cases for kind in case.classes)
    assert {kind: n for kind, n in tried.items() if n >= 3}.keys() == set(CLASSES), tried
    assert len({case.version for case in cases}) == 2
    assert Counter(case.parallelism for case in cases).keys() == {1, 4}


def test_the_invariant_sees_a_duplicate_a_missing_key_and_a_wrong_payment(world):
    case = next(c for s in range(100) if (c := draw_case(s, world.invoice_ids)).version == 19)
    _, snapshot, _, booked = clean_run(world, case)
    assert invariant_problems(snapshot, booked, snapshot) == []
    paid = next(key for key, move in booked.items() if move.payment is not None)

    doubled = deepcopy(snapshot)
    doubled["moves"][paid].append(doubled["moves"][paid][0])
    assert any("more than once" in p for p in invariant_problems(doubled, booked, snapshot))

    lost = deepcopy(snapshot)
    del lost["moves"][paid]
    assert any("missing" in p for p in invariant_problems(lost, booked, snapshot))

    unpaid = deepcopy(snapshot)
    unpaid["moves"][paid][0]["payments"] = []
    problems = invariant_problems(unpaid, booked, snapshot)
    assert any(p.startswith(f"{paid}: payments []") for p in problems)
    assert any("differs from the clean run" in p for p in problems)


def test_the_soak_prints_how_many_it_tried_and_how_each_class_ended(capsys):
    assert fault_runs.main(["--cases", "2", "--seed", "11"]) == 0
    out = capsys.readouterr().out
    assert "2 cases tried" in out
    for kind in CLASSES:
        assert kind in out
    (total,) = [line for line in out.splitlines() if line.startswith("all cases")]
    assert total.split()[2] == "2"  # tried
