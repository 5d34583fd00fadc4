"""What each stage of the chain hands to the next (the assets' values), with no Dagster in it."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from zoneinfo import ZoneInfo

from ledger_pipeline.ledger.corrections import (
    CorrectionDecision,
    PlannedCorrection,
    SourceCorrection,
)
from ledger_pipeline.ledger.model import BookingFacts, PlanDecision, SourceInvoice, Verification
from ledger_pipeline.ledger.plan import PlanSettings


class SourceOfTruth(enum.StrEnum):
    VERIFIED = "verified"  # the automatic path: Stripe's or Lago's facts, verified invoices only
    NEXACLOUD = "nexacloud"  # the manual path: NexaCloud's own fields


@dataclass(frozen=True)
class InvoiceExtract:
    """The invoices read from NexaCloud for one run, and the time zone their dates are read in."""

    invoices: tuple[SourceInvoice, ...]
    time_zone: str
    selection: str  # how they were selected, in words
    months: tuple[str, ...] = ()  # the accounting months (partition keys) they were read for

    @cached_property
    def month_of(self) -> dict[str, str]:
        """Invoice id → the accounting month (its first day, ISO) NexaCloud created it in;
        computed once per extract (each check of the run reads it)."""
        tz = ZoneInfo(self.time_zone)
        months = {}
        for inv in self.invoices:
            try:
                local = inv.created_at.astimezone(tz) if inv.created_at is not None else None
            except OverflowError:  # year 1 or 9999 moved across midnight: no month holds it
                local = None
            if local is not None:
                months[inv.invoice_id] = local.date().replace(day=1).isoformat()
        return months

    def source_refs(self) -> dict[str, str]:
        """Invoice id → its Stripe / Lago id as NexaCloud stores it (stripped), where it has one."""
        return {
            inv.invoice_id: inv.source_ref.strip()
            for inv in self.invoices
            if inv.source_ref and inv.source_ref.strip()
        }


@dataclass(frozen=True)
class VerifiedInvoices:
    """The facts each invoice is booked on, and for the automatic path how verification went."""

    source_of_truth: SourceOfTruth
    facts: dict[str, BookingFacts]  # only the invoices that may be booked
    verifications: dict[str, Verification] = field(default_factory=dict)


@dataclass(frozen=True)
class LedgerPlan:
    """One decision per extracted invoice."""

    decisions: tuple[PlanDecision, ...]
    source_of_truth: SourceOfTruth
    tax_catalogue: str  # where the catalogue came from, in words
    tax_rounding: str
    settings: PlanSettings | None = None  # the sale taxes and rounding it was planned with

    def planned(self) -> Sequence[PlanDecision]:
        return [d for d in self.decisions if d.move is not None]


@dataclass(frozen=True)
class FeedSummary:
    """How one billing system's change feed was read this run (or why it was not)."""

    system: str
    read: bool  # False: not configured, not asked (manual path) or unusable now
    mode: str  # how it read ("events since …", "look-back re-read from …") or why not
    calls: int = 0
    cursor: str | None = None  # where this read ends
    previous_cursor: str | None = None  # where it started (as the last booking run left it)
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceCorrections:
    """The corrections read at the sources this run, and one decision for each."""

    feeds: tuple[FeedSummary, ...]
    sources: tuple[SourceCorrection, ...]
    decisions: tuple[CorrectionDecision, ...]
    policy: str  # what an uncollectible invoice does: leave_open or write_off

    def planned(self) -> list[PlannedCorrection]:
        return [d.correction for d in self.decisions if d.correction is not None]
