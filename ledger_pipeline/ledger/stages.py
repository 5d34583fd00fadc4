"""What each stage of the chain hands to the next (the assets' values), with no Dagster in it."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from ledger_pipeline.ledger.model import BookingFacts, PlanDecision, SourceInvoice, Verification


class SourceOfTruth(enum.StrEnum):
    VERIFIED = "verified"  # the automatic path: Stripe's or Lago's facts, verified invoices only
    NEXACLOUD = "nexacloud"  # the manual path: NexaCloud's own fields


@dataclass(frozen=True)
class InvoiceExtract:
    """The invoices read from NexaCloud for one run, and the time zone their dates are read in."""

    invoices: tuple[SourceInvoice, ...]
    time_zone: str
    selection: str  # how they were selected, in words


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

    def planned(self) -> Sequence[PlanDecision]:
        return [d for d in self.decisions if d.move is not None]
