"""Randomized fault runs: seeded datasets × random faults, then re-runs until one succeeds.

Each case draws, from its seed alone, a subset of a seeded NexaCloud sample (in PostgreSQL), an
Odoo version and one to three fault classes with their parameters. It books the subset once on a
fresh Odoo stand-in without faults (the clean run), then on another fresh stand-in with the
faults armed, then clears the faults and re-runs the whole chain (read → verify → plan → book)
until a run ends with every invoice decided as in the clean run and none failed. The invariant:
the final ledger equals the clean run's (moves, lines, taxes, totals, payments, partners), with
exactly one move per booked key and the payments the plan asked for.

The chain runs in-process through its pieces (no Dagster run), over HTTP to the stand-ins; the
writer runs in a forked child when it is to be SIGKILLed or to overlap another writer.

Soak: `python -m ledger_pipeline_tests.fault_runs --cases 2000 --seed 7`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import os
import random
import signal
import sys
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from ledger_pipeline import assets
from ledger_pipeline.config import ExtractConfig, PlanConfig, VerifyConfig
from ledger_pipeline.ledger.model import PlanDecision, PlannedMove
from ledger_pipeline.odoo import transport
from ledger_pipeline.odoo.report import BookingAction, BookingReport
from ledger_pipeline.odoo.resource import OdooLedger
from ledger_pipeline.sandbox.lago_standin import LagoStandIn
from ledger_pipeline.sandbox.launcher import TIE_PREFERENCE, seed_usd_rate
from ledger_pipeline.sandbox.odoo_standin import OdooStandIn
from ledger_pipeline.sandbox.postgres import temporary_database
from ledger_pipeline.sandbox.sample_data import load_sample_database, sample_invoices
from ledger_pipeline.sandbox.stripe_standin import StripeStandIn
from ledger_pipeline.sources.lago import LagoVerifier
from ledger_pipeline.sources.nexacloud import NexaCloudReader
from ledger_pipeline.sources.stripe import StripeVerifier
from ledger_pipeline_tests.odoo.conftest import ledger_for, ledger_snapshot, running_standin

TIME_ZONE = "America/Toronto"
WORLD_INVOICES = 300  # the seeded sample each case draws its dataset from
CASE_INVOICES = (5, 25)
MAX_RERUNS = 5
# The lease's TTL must outlast a live writer's booking, or a second writer takes it over and
# both write (the lease renews only between batches, at most once a minute): 5 s when writers
# overlap, else 1 s so a SIGKILLed writer's lease is taken over quickly. The wait outlasts both.
LEASE_TTL = {"overlap": 5, "alone": 1}
ODOO_TIMEOUT = 10.0  # a normal run's client time-out
SHORT_TIMEOUT = 0.4  # the faulty run's, when a time-out is injected
HELD_FOR = 1.2  # how long an injected time-out holds the answer (well past SHORT_TIMEOUT)

ODOO_CLASSES = ("odoo_5xx", "odoo_timeout", "odoo_lost_answer", "odoo_overload")
SOURCE_CLASSES = tuple(f"{s}_{f}" for s in ("stripe", "lago") for f in ("429", "5xx", "timeout"))
PROCESS_CLASSES = ("sigkill", "overlap")
CLASSES = ODOO_CLASSES + SOURCE_CLASSES + PROCESS_CLASSES
ENDINGS = ("absorbed", "first_rerun", "later_rerun", "failed")  # how a case ended


# ------------------------------------------------------------------------------------------------
# The world: a seeded sample in PostgreSQL, Stripe and Lago stand-ins seeded with it
# ------------------------------------------------------------------------------------------------


@dataclass
class FaultWorld:
    seed: int
    invoice_ids: tuple[str, ...]
    nexacloud: NexaCloudReader
    stripe: StripeStandIn
    lago: LagoStandIn


@contextlib.contextmanager
def fault_world(seed: int = 7, invoices: int = WORLD_INVOICES) -> Iterator[FaultWorld]:
    """The shared world of one batch of cases; every case draws its own subset of it."""
    sample = sample_invoices(invoices, seed=seed)
    with temporary_database("ledger_faults") as dsn:
        load_sample_database(dsn, sample)
        with StripeStandIn(sample) as stripe, LagoStandIn(sample, timezone=TIME_ZONE) as lago:
            ids = tuple(sorted(inv.invoice_id for inv in sample))
            yield FaultWorld(seed, ids, NexaCloudReader(dsn=dsn), stripe, lago)


@contextlib.contextmanager
def quick_retries() -> Iterator[None]:
    """The Odoo client keeps its retry rules, not its production back-off (forked writers
    inherit it)."""
    saved = transport.RETRY_WAIT
    transport.RETRY_WAIT = 0.005
    try:
        yield
    finally:
        transport.RETRY_WAIT = saved


# ------------------------------------------------------------------------------------------------
# A case: drawn from its seed alone
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    kind: str  # one of CLASSES
    at: float = 0.0  # where in the clean run's Odoo calls (0..1], for call-indexed faults
    count: int = 1  # how many answers a Stripe / Lago fault spoils
    variant: str = ""  # lost answer: "drop" | "502"; sigkill: "held" | "counted"

    def describe(self) -> str:
        where = f"@{self.at:.2f}" if self.kind in ODOO_CLASSES or self.kind == "sigkill" else ""
        many = f"×{self.count}" if self.kind in (*SOURCE_CLASSES, "odoo_overload") else ""
        return f"{self.kind}{where}{many}{f'[{self.variant}]' if self.variant else ''}"


@dataclass(frozen=True)
class FaultCase:
    seed: int
    version: int
    invoice_ids: tuple[str, ...]
    faults: tuple[Fault, ...]
    parallelism: int = 1  # the writer's calls at once (ODOO_MAX_PARALLEL_REQUESTS)

    @property
    def batch_size(self) -> int:
        """Small batches when the writer books several at once, so several run at once."""
        return 100 if self.parallelism == 1 else 4

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.kind for f in self.faults))

    @property
    def lease_ttl(self) -> int:
        return LEASE_TTL["overlap" if "overlap" in self.classes else "alone"]

    def describe(self) -> str:
        faults = ", ".join(f.describe() for f in self.faults)
        return (
            f"seed {self.seed}: Odoo {self.version}, {len(self.invoice_ids)} invoices, "
            f"parallelism {self.parallelism}, faults [{faults}]"
        )


def draw_case(seed: int, world_ids: Sequence[str], classes: Sequence[str] = CLASSES) -> FaultCase:
    rng = random.Random(f"fault-case-{seed}")
    version = rng.choice((18, 19))
    ids = tuple(sorted(rng.sample(list(world_ids), rng.randint(*CASE_INVOICES))))
    kinds = rng.sample(list(classes), min(len(classes), rng.choice((1, 1, 2, 2, 3))))
    faults = tuple(_draw_fault(kind, rng) for kind in kinds)
    return FaultCase(seed, version, ids, faults, parallelism=rng.choice((1, 4)))


def _draw_fault(kind: str, rng: random.Random) -> Fault:
    at = rng.uniform(0.0, 1.0)
    if kind == "odoo_lost_answer":
        return Fault(kind, at, variant=rng.choice(("drop", "502")))
    if kind == "sigkill":
        return Fault(kind, at, variant=rng.choice(("held", "counted")))
    if kind == "odoo_overload":  # a few are absorbed by the retries, more exhaust them
        variant = rng.choice(("429", "503", "serialization"))
        return Fault(kind, at, count=rng.choice((1, 3, 6)), variant=variant)
    if kind in SOURCE_CLASSES and kind.endswith("_timeout"):  # each costs a real time-out
        return Fault(kind, count=rng.choice((1, 1, 2, 6)))
    if kind in SOURCE_CLASSES:  # a few are absorbed by the retries, more exhaust them
        return Fault(kind, count=rng.choice((1, 2, 5, 8, 12)))
    return Fault(kind, at)


# ------------------------------------------------------------------------------------------------
# One run of the chain: read → verify → plan → book
# ------------------------------------------------------------------------------------------------


def _no_wait(_seconds: float) -> None:
    """Back-off that keeps its rules but not its wall-clock cost."""


class QuickStripe(StripeVerifier):
    """Stripe's verifier with its back-off and pacing sleeps skipped."""

    def verify(self, invoices, tz, **_):
        return super().verify(invoices, tz, sleep=_no_wait)


class QuickLago(LagoVerifier):
    """Lago's verifier with its back-off sleeps skipped."""

    def verify(self, invoices, tz):
        self.with_sleep(_no_wait)
        return super().verify(invoices, tz)


class _Context:
    """What the assets' own functions use of their Dagster context."""

    log = logging.getLogger("ledger_pipeline_tests.fault_runs")
    run_id = "fault-run"
    # Every month the seeded sample spans: the case's invoice ids pick its invoices.
    partition_keys = tuple(f"{y}-{m:02d}-01" for y in range(2024, 2027) for m in range(1, 13))


def plan_run(world: FaultWorld, case: FaultCase, *, source_timeout: float = 30.0):
    """The nexacloud_invoices, verified_invoices and ledger_plan assets' work for the case's
    invoices, on the built-in chart of its Odoo version: one decision per invoice."""
    context = _Context()
    extract = assets.nexacloud_invoices(
        context,
        ExtractConfig(invoice_ids=list(case.invoice_ids), time_zone=TIME_ZONE),
        world.nexacloud,
    ).value
    stripe = QuickStripe(
        api_key=world.stripe.api_key,
        base_url=world.stripe.url,
        timeout=source_timeout,
        max_requests_per_second=1000,  # pacing is Stripe's rule, not what these cases test
    )
    lago = QuickLago(api_key=world.lago.api_key, base_url=world.lago.url, timeout=source_timeout)
    try:
        verified = assets.verified_invoices(context, VerifyConfig(), extract, stripe, lago).value
    finally:
        lago.close()
    config = PlanConfig(
        tax_catalogue=f"odoo{case.version}", tax_tie_preference=[TIE_PREFERENCE]
    )  # built in: planning asks Odoo nothing, so Odoo's faults land on the booking
    plan = assets.ledger_plan(context, config, extract, verified, None).value
    return plan.decisions


def planned_moves(decisions: Sequence[PlanDecision]) -> list[PlannedMove]:
    return [d.move for d in decisions if d.move is not None]


def writer_for(odoo: OdooStandIn, case: FaultCase, timeout: float = ODOO_TIMEOUT) -> OdooLedger:
    ttl = case.lease_ttl
    return ledger_for(
        odoo,
        timeout=timeout,
        lease_ttl_seconds=ttl,
        lease_wait_seconds=ttl + 3,
        max_parallel_requests=case.parallelism,
        batch_size=case.batch_size,
    )


def booked_cleanly(report: BookingReport) -> bool:
    return report.aborted is None and not report.with_action(BookingAction.FAILED)


@dataclass
class RunResult:
    ok: bool
    why: str = ""


def full_run(
    world: FaultWorld,
    case: FaultCase,
    odoo: OdooStandIn,
    clean: tuple[PlanDecision, ...],
    *,
    source_timeout: float = 30.0,
    odoo_timeout: float = ODOO_TIMEOUT,
) -> RunResult:
    """One run of the whole chain; ok when every invoice was decided as in the clean run and
    nothing failed in Odoo."""
    try:
        decisions = plan_run(world, case, source_timeout=source_timeout)
        report = writer_for(odoo, case, odoo_timeout).book(planned_moves(decisions))
    except Exception as exc:  # a step failing is a run that did not succeed, nothing more
        return RunResult(False, f"raised {type(exc).__name__}: {exc}")
    if decisions != clean:
        differ = [d.invoice_id for d, c in zip(decisions, clean, strict=True) if d != c]
        return RunResult(False, f"{len(differ)} invoices decided unlike the clean run")
    if not booked_cleanly(report):
        failed = len(report.with_action(BookingAction.FAILED))
        return RunResult(False, f"{failed} failed in Odoo; aborted: {report.aborted}")
    return RunResult(True)


# ------------------------------------------------------------------------------------------------
# Writers in child processes: SIGKILLed at a point, or two at once
# ------------------------------------------------------------------------------------------------


def _write_in_child(ledger: OdooLedger, moves: list[PlannedMove]) -> None:
    try:
        report = ledger.book(moves)
        code = 0 if booked_cleanly(report) else 1
    except BaseException:  # the parent only reads the exit code
        code = 2
    os._exit(code)


def run_writers(
    odoo: OdooStandIn,
    ledger: OdooLedger,
    moves: list[PlannedMove],
    *,
    writers: int,
    kill_after: int | None,
    held: bool,
) -> list[int | None]:
    """Book `moves` in `writers` forked processes started together; SIGKILL the first after
    `kill_after` Odoo calls (with `held`, while Odoo holds the answer to that committed call).
    Returns the exit codes (-9: killed)."""
    fork = multiprocessing.get_context("fork")
    odoo.reset_counts()
    if kill_after is not None and held:
        odoo.time_out_call(kill_after, 30.0)  # committed, answer held until the kill
    children = [
        fork.Process(target=_write_in_child, args=(ledger, moves), daemon=True)  # not pickled
        for _ in range(writers)
    ]
    for child in children:
        child.start()
    if kill_after is not None:
        victim = children[0]
        while victim.is_alive() and sum(odoo.call_counts().values()) < kill_after:
            time.sleep(0.0005)
        if victim.is_alive():
            os.kill(victim.pid, signal.SIGKILL)
    for child in children:
        child.join(timeout=60)
        if child.is_alive():  # hung: a failure the invariant will show; don't leave it running
            os.kill(child.pid, signal.SIGKILL)
            child.join()
    return [child.exitcode for child in children]


# ------------------------------------------------------------------------------------------------
# A case from start to end
# ------------------------------------------------------------------------------------------------


@dataclass
class CaseResult:
    case: FaultCase
    ending: str  # one of ENDINGS
    reruns: int
    seconds: float
    why: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.ending != "failed"

    def describe(self) -> str:
        text = f"{self.case.describe()} → {self.ending} after {self.reruns} re-runs"
        if self.why:
            text += f": {self.why}"
        if self.notes:
            text += f" ({'; '.join(self.notes)})"
        return text


@contextlib.contextmanager
def fresh_odoo(version: int) -> Iterator[OdooStandIn]:
    with running_standin(version) as odoo:
        seed_usd_rate(odoo)  # as the sandbox's finance team did: USD invoices book at a rate
        odoo.reset_counts()
        yield odoo


def clean_run(world: FaultWorld, case: FaultCase):
    """The ledger a run without faults leaves: decisions, snapshot, calls, keys it booked."""
    decisions = plan_run(world, case)
    moves = planned_moves(decisions)
    with fresh_odoo(case.version) as odoo:
        report = writer_for(odoo, case).book(moves)
        calls = sum(odoo.call_counts().values())
        if not booked_cleanly(report):
            raise AssertionError(f"the clean run failed: {report.summary} {report.aborted}")
        snapshot = ledger_snapshot(odoo)
    quarantined = {r.invoice_id for r in report.with_action(BookingAction.QUARANTINED)}
    booked = {m.invoice_id: m for m in moves if m.invoice_id not in quarantined}
    return decisions, snapshot, calls, booked


def run_case(world: FaultWorld, case: FaultCase) -> CaseResult:
    started = time.monotonic()
    notes: list[str] = []
    with quick_retries():
        clean, expected, calls, booked = clean_run(world, case)
        problems = invariant_problems(expected, booked)
        if problems:  # the clean run itself must hold the invariant, or nothing compares
            return CaseResult(case, "failed", 0, 0.0, "clean run: " + "; ".join(problems))
        with fresh_odoo(case.version) as odoo:
            first = faulty_run(world, case, odoo, clean, calls, notes)
            reruns, result = 0, first
            while not result.ok and reruns < MAX_RERUNS:
                clear_faults(world, odoo)
                reruns += 1
                result = full_run(world, case, odoo, clean)
            clear_faults(world, odoo)
            if not result.ok:
                ending, why = "failed", f"no run succeeded: {result.why}"
                notes += fault_free_rerun_failures(world, case)
            else:
                problems = invariant_problems(ledger_snapshot(odoo), booked, expected)
                ending = ENDINGS[min(reruns, 2)]
                why = ""
                if problems:
                    ending, why = "failed", "; ".join(problems)
            if not first.ok:
                notes.append(f"faulty run: {first.why}")
    return CaseResult(case, ending, reruns, time.monotonic() - started, why, notes)


def fault_free_rerun_failures(world: FaultWorld, case: FaultCase) -> list[str]:
    """Triage for a case that never converged: does booking its clean plan twice, with no fault
    at all, already fail the second time? Then no fault was needed for that failure."""
    moves = planned_moves(plan_run(world, case))
    with fresh_odoo(case.version) as odoo:
        writer_for(odoo, case).book(moves)
        again = writer_for(odoo, case).book(moves)
    return [
        f"a fault-free re-run fails {r.invoice_id} too: {r.error}"
        for r in again.with_action(BookingAction.FAILED)
    ]


def clear_faults(world: FaultWorld, odoo: OdooStandIn) -> None:
    odoo.clear_faults()
    world.stripe.clear_faults()
    world.lago.clear_faults()


def faulty_run(
    world: FaultWorld,
    case: FaultCase,
    odoo: OdooStandIn,
    clean: tuple[PlanDecision, ...],
    calls: int,
    notes: list[str],
) -> RunResult:
    """The first run, with the case's faults armed."""
    kinds = {f.kind: f for f in case.faults}
    for fault in case.faults:
        _arm_source(world, fault)
    source_timeout = SHORT_TIMEOUT if any(k.endswith("_timeout") for k in kinds) else 30.0
    odoo_timeout = SHORT_TIMEOUT if "odoo_timeout" in kinds else ODOO_TIMEOUT
    odoo.reset_counts()
    for fault in case.faults:
        _arm_odoo(odoo, fault, calls)
    if not kinds.keys() & set(PROCESS_CLASSES):
        return full_run(
            world, case, odoo, clean, source_timeout=source_timeout, odoo_timeout=odoo_timeout
        )
    try:
        decisions = plan_run(world, case, source_timeout=source_timeout)
    except Exception as exc:
        return RunResult(False, f"raised {type(exc).__name__}: {exc}")
    kill = kinds.get("sigkill")
    codes = run_writers(
        odoo,
        writer_for(odoo, case, odoo_timeout),
        planned_moves(decisions),
        writers=2 if "overlap" in kinds else 1,
        kill_after=_call_number(kill.at, calls) if kill else None,
        # Two writers: call k may be the other's, whose held answer would only time out.
        held=bool(kill and kill.variant == "held" and "overlap" not in kinds),
    )
    notes.append(f"writers exited {codes}")
    ok = decisions == clean and all(code == 0 for code in codes)
    return RunResult(ok, "" if ok else f"writers exited {codes}")


def _call_number(at: float, calls: int) -> int:
    return max(1, min(calls, round(at * calls)))


def _arm_odoo(odoo: OdooStandIn, fault: Fault, calls: int) -> None:
    k = _call_number(fault.at, calls)
    if fault.kind == "odoo_5xx":
        odoo.fail_call(k, message="injected failure")
    elif fault.kind == "odoo_timeout":
        odoo.time_out_call(k, HELD_FOR)
    elif fault.kind == "odoo_lost_answer":
        odoo.fail_after_commit(k, status=502 if fault.variant == "502" else None)
    elif fault.kind == "odoo_overload":  # `count` calls in a row refused, nothing done
        for nth in range(k, k + fault.count):
            if fault.variant == "serialization":
                odoo.fail_serialization(nth)
            else:
                odoo.overload(nth, status=int(fault.variant), retry_after=0.01)


def _arm_source(world: FaultWorld, fault: Fault) -> None:
    system, _, kind = fault.kind.partition("_")
    standin = {"stripe": world.stripe, "lago": world.lago}.get(system)
    if standin is None:
        return
    if kind == "429":
        standin.respond_429(fault.count, retry_after=1)
    elif kind == "5xx":
        standin.fail_5xx(fault.count, status=503)
    elif kind == "timeout":
        standin.time_out(fault.count, SHORT_TIMEOUT * 1.5)


# ------------------------------------------------------------------------------------------------
# The invariant
# ------------------------------------------------------------------------------------------------


def invariant_problems(
    snapshot: dict, booked: dict[str, PlannedMove], expected: dict | None = None
) -> list[str]:
    """What breaks the invariant: a key twice or missing, a payment unlike the plan's, any
    difference from the clean run's ledger."""
    problems = []
    moves = snapshot["moves"]
    twice = sorted(k for k, found in moves.items() if len(found) > 1)
    if twice:
        problems.append(f"keys booked more than once: {twice}")
    missing = sorted(set(booked) - set(moves))
    if missing:
        problems.append(f"planned keys missing from Odoo: {missing}")
    unplanned = sorted(set(moves) - set(booked))
    if unplanned:
        problems.append(f"keys in Odoo that were not planned: {unplanned}")
    for key, move in booked.items():
        for found in moves.get(key, []):
            paid = [(Decimal(str(p[0])), p[1]) for p in found["payments"]]
            want = [] if move.payment is None else [
                (move.payment.amount, move.payment.date.isoformat())
            ]  # fmt: skip
            if paid != want:
                problems.append(f"{key}: payments {paid}, planned {want}")
    if expected is not None and snapshot != expected:
        differ = sorted(
            k for k in set(expected["moves"]) | set(moves)
            if expected["moves"].get(k) != moves.get(k)
        )  # fmt: skip
        other = [k for k in expected if k != "moves" and expected[k] != snapshot.get(k)]
        problems.append(f"ledger differs from the clean run's: moves {differ}, also {other}")
    return problems


# ------------------------------------------------------------------------------------------------
# Tally and soak
# ------------------------------------------------------------------------------------------------


@dataclass
class Tally:
    by_class: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    total: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    failures: list[CaseResult] = field(default_factory=list)

    def add(self, result: CaseResult) -> None:
        self.total[result.ending] += 1
        self.seconds += result.seconds
        for kind in result.case.classes:
            self.by_class[kind][result.ending] += 1
        if not result.ok:
            self.failures.append(result)

    def lines(self) -> list[str]:
        tried = sum(self.total.values())
        out = [f"{'fault class':<18}{'tried':>7}" + "".join(f"{e:>13}" for e in ENDINGS)]
        for kind in CLASSES:
            row = self.by_class.get(kind, Counter())
            out.append(
                f"{kind:<18}{sum(row.values()):>7}" + "".join(f"{row[e]:>13}" for e in ENDINGS)
            )
        out.append(
            f"{'all cases':<18}{tried:>7}" + "".join(f"{self.total[e]:>13}" for e in ENDINGS)
        )
        if tried:
            out.append(
                f"{tried} cases in {self.seconds:.1f} s, {self.seconds / tried:.2f} s per case"
            )
        out += [f"FAILED {r.describe()}" for r in self.failures]
        return out


def run_cases(
    seeds: Sequence[int],
    *,
    world_seed: int = 7,
    classes: Sequence[str] = CLASSES,
    progress: Callable[[CaseResult], None] | None = None,
) -> Tally:
    tally = Tally()
    with fault_world(world_seed) as world:
        for seed in seeds:
            case = draw_case(seed, world.invoice_ids, classes)
            try:
                result = run_case(world, case)
            except Exception as exc:  # the harness itself: still a failed case, with its seed
                detail = "".join(traceback.format_exception_only(exc)).strip()
                result = CaseResult(case, "failed", 0, 0.0, f"harness error: {detail}")
            tally.add(result)
            if progress:
                progress(result)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ledger_pipeline_tests.fault_runs", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--cases", type=int, default=200, help="how many cases (default 200)")
    parser.add_argument("--seed", type=int, default=7, help="seeds the world and the cases")
    parser.add_argument(
        "--classes", default=",".join(CLASSES), help="comma-separated fault classes to draw from"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print every case")
    parser.add_argument(
        "--case", type=int, help="re-run just this case seed (as a failure prints it), verbosely"
    )
    parser.add_argument("--log-level", default="ERROR", help="the pipeline's logging (ERROR)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    # The lease logs through Dagster's logger (so its waits show in the UI), which is not root's.
    logging.getLogger("dagster.builtin.ledger_pipeline").setLevel(args.log_level.upper())
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    unknown = sorted(set(classes) - set(CLASSES))
    if unknown:
        parser.error(f"unknown fault classes {unknown}; known: {', '.join(CLASSES)}")
    first = args.seed * 1_000_000
    seeds = range(first, first + args.cases) if args.case is None else [args.case]
    args.verbose |= args.case is not None

    done = Counter()

    def progress(result: CaseResult) -> None:
        done[result.ok] += 1
        if args.verbose or not result.ok:
            print(("ok     " if result.ok else "FAILED ") + result.describe(), flush=True)
        if sum(done.values()) % 100 == 0:
            print(
                f"... {sum(done.values())}/{len(seeds)} cases, {done[False]} failed, "
                f"{time.monotonic() - started:.0f} s",
                flush=True,
            )

    started = time.monotonic()
    tally = run_cases(seeds, world_seed=args.seed, classes=classes, progress=progress)
    print(f"\nfault runs: world seed {args.seed}, {len(seeds)} cases tried, "
          f"{time.monotonic() - started:.1f} s wall-clock")  # fmt: skip
    print("\n".join(tally.lines()))
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
