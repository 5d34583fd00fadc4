"""LockDates: which locks apply to which document, and the accounting date a locked one gets."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ledger_pipeline.ledger.lock_dates import JournalKind, LockDates

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 30))
maybe = st.none() | days
locks = st.builds(LockDates, fiscalyear=maybe, sale=maybe, tax=maybe, hard=maybe)
kinds = st.sampled_from(JournalKind)


def locked(day: date, lock: date | None) -> bool:
    return lock is not None and day <= lock


@given(locks, days, kinds, st.booleans())
def test_the_accounting_date_is_never_inside_a_lock_that_applies(lk, day, kind, has_tax):
    moved = lk.accounting_date(day, kind, has_tax=has_tax)
    lock = lk.lock_for(kind, has_tax=has_tax)
    assert not locked(moved, lock)
    for applying in (lk.fiscalyear, lk.hard):
        assert not locked(moved, applying)
    if kind is JournalKind.SALE:
        assert not locked(moved, lk.sale)
    if has_tax:
        assert not locked(moved, lk.tax)


@given(locks, days, kinds, st.booleans())
def test_an_open_day_is_kept_and_a_locked_one_moves_to_the_next_open_day(lk, day, kind, has_tax):
    moved = lk.accounting_date(day, kind, has_tax=has_tax)
    lock = lk.lock_for(kind, has_tax=has_tax)
    if locked(day, lock):
        assert moved == lock + timedelta(days=1)  # the first open day, never later
        assert moved > day
    else:
        assert moved == day


@given(days, kinds, st.booleans())
def test_no_lock_changes_nothing(day, kind, has_tax):
    assert LockDates().lock_for(kind, has_tax=has_tax) is None
    assert LockDates().accounting_date(day, kind, has_tax=has_tax) == day


@given(days, days, st.booleans())
def test_the_sales_lock_moves_sales_documents_only(sale_lock, day, has_tax):
    lk = LockDates(sale=sale_lock)
    for kind in (JournalKind.BANK, JournalKind.GENERAL):
        assert lk.lock_for(kind, has_tax=has_tax) is None
        assert lk.accounting_date(day, kind, has_tax=has_tax) == day
    assert lk.lock_for(JournalKind.SALE, has_tax=has_tax) == sale_lock


@given(days, days, kinds)
def test_the_tax_lock_moves_documents_with_tax_only(tax_lock, day, kind):
    lk = LockDates(tax=tax_lock)
    assert lk.accounting_date(day, kind, has_tax=False) == day
    assert lk.lock_for(kind, has_tax=True) == tax_lock


@given(days, days, kinds, st.booleans(), st.sampled_from(["fiscalyear", "hard"]))
def test_the_global_and_hard_locks_move_every_document(lock, day, kind, has_tax, which):
    lk = LockDates(**{which: lock})
    assert lk.lock_for(kind, has_tax=has_tax) == lock


@given(locks, kinds, st.booleans())
def test_the_latest_applying_lock_wins(lk, kind, has_tax):
    applying = [lk.fiscalyear, lk.hard]
    applying += [lk.sale] if kind is JournalKind.SALE else []
    applying += [lk.tax] if has_tax else []
    present = [d for d in applying if d is not None]
    assert lk.lock_for(kind, has_tax=has_tax) == (max(present) if present else None)


@given(locks, days, kinds, st.booleans())
def test_the_accounting_date_is_idempotent_and_monotonic(lk, day, kind, has_tax):
    moved = lk.accounting_date(day, kind, has_tax=has_tax)
    assert lk.accounting_date(moved, kind, has_tax=has_tax) == moved  # a re-run moves nothing
    later = day + timedelta(days=1)
    assert lk.accounting_date(later, kind, has_tax=has_tax) >= moved


def test_the_recorded_example():
    # odoo-corrections §D.1: Global Lock Date 2026-01-31; an invoice of 2026-01-20 and a payment
    # of 2026-01-21 belong on 2026-02-01, the lock's next day.
    lk = LockDates(fiscalyear=date(2026, 1, 31))
    assert lk.accounting_date(date(2026, 1, 20), JournalKind.SALE, has_tax=True) == date(2026, 2, 1)
    assert lk.accounting_date(date(2026, 1, 21), JournalKind.BANK, has_tax=False) == date(
        2026, 2, 1
    )
    assert lk.accounting_date(date(2026, 1, 31), JournalKind.SALE, has_tax=False) == date(
        2026, 2, 1
    )  # the lock date itself is locked ("prior to and inclusive of")
    assert lk.accounting_date(date(2026, 2, 1), JournalKind.SALE, has_tax=True) == date(2026, 2, 1)
