"""Run configuration: what a person chooses when launching a run (Dagster `Config`).

Each asset takes only the choices that concern it; the time zone is chosen once, at extraction,
and travels downstream with the invoices so every date of a run is read in the same zone. A
choice left unset falls back to the deployment's settings (`LEDGER_*`, read at run time), so
materializing from the UI books exactly as the scheduled job does.
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg
from pydantic import Field, field_validator

from ledger_pipeline.ledger.stages import SourceOfTruth
from ledger_pipeline.partitions import months_window
from ledger_pipeline.settings import (
    MAX_LOOKBACK_DAYS,
    TAX_CATALOGUES,
    UNCOLLECTIBLE_POLICIES,
    LedgerSettings,
)
from ledger_pipeline.sources.nexacloud import InvoiceFilter


class ExtractConfig(dg.Config):
    """Which NexaCloud invoices of the run's months this run reads, and the time zone of its dates.

    The months are the run's partitions (the accounting months it books)."""

    invoice_ids: list[str] = Field(
        default_factory=list,
        description="only these NexaCloud invoice ids among the months' invoices (empty: all)",
    )
    time_zone: str | None = Field(
        default=None,
        description="IANA time zone in which invoice and payment dates are read "
        "(unset: LEDGER_TIME_ZONE, default UTC)",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @property
    def zone(self) -> str:
        return self.time_zone or LedgerSettings.from_env().time_zone

    def invoice_filter(self, months: Sequence[str]) -> InvoiceFilter:
        """The invoices NexaCloud created in these months (in `zone`), and those created when
        no books are kept (no date, before 1970, from 2100 on), which no month holds; the
        explicit ids only when some are given."""
        since, until = months_window(months, self.zone)
        return InvoiceFilter(
            created_since=since,
            created_until=until,
            invoice_ids=tuple(self.invoice_ids) or None,
            with_undatable=True,  # no month holds them: every run reports them
        )

    def describe(self, months: Sequence[str]) -> str:
        first, last = min(months)[:7], max(months)[:7]
        span = f"created in {first}" if first == last else f"created {first} to {last}"
        parts = [f"{span} ({self.zone})"]
        if self.invoice_ids:
            parts.append(f"{len(self.invoice_ids)} explicit invoice id(s)")
        return "; ".join(parts)


class VerifyConfig(dg.Config):
    source_of_truth: str = Field(
        default=str(SourceOfTruth.VERIFIED),
        description="verified: book only what Stripe/Lago confirm, on their facts (automatic "
        "path); nexacloud: book on NexaCloud's own fields (manual backfill)",
    )

    @field_validator("source_of_truth")
    @classmethod
    def _known_source(cls, value: str) -> str:
        return str(SourceOfTruth(value))  # a clear ValueError names the bad value

    @property
    def source(self) -> SourceOfTruth:
        return SourceOfTruth(self.source_of_truth)


class PlanConfig(dg.Config):
    tax_catalogue: str | None = Field(
        default=None,
        description="odoo: read the sale taxes and rounding from Odoo; odoo18 / odoo19: the "
        "Canadian chart as those versions install it (no Odoo call); unset: "
        "LEDGER_TAX_CATALOGUE, default odoo",
    )
    tax_tie_preference: list[str] | None = Field(
        default=None,
        description="sale tax names, first preferred, to break ties between taxes that compute "
        "the same amount (e.g. '12% GST+PST BC' over '12% GST+PST MB'); [] quarantines ties; "
        "unset: LEDGER_TAX_TIE_PREFERENCE",
    )

    @field_validator("tax_catalogue")
    @classmethod
    def _known_catalogue(cls, value: str | None) -> str | None:
        if value is not None and value not in TAX_CATALOGUES:
            raise ValueError(
                f"tax_catalogue must be one of {', '.join(TAX_CATALOGUES)}, not {value!r}"
            )
        return value

    def catalogue_choice(self) -> str:
        return self.tax_catalogue or LedgerSettings.from_env().tax_catalogue

    def tie_preference(self) -> tuple[str, ...]:
        if self.tax_tie_preference is None:
            return LedgerSettings.from_env().tax_tie_preference
        return tuple(self.tax_tie_preference)


class PostConfig(dg.Config):
    dry_run: bool = Field(default=False, description="read everything, write nothing")
    post: bool = Field(default=True, description="post the moves; false leaves them draft")
    register_payments: bool = Field(
        default=True, description="register and reconcile the verified payments"
    )
    batch_size: int = Field(default=200, ge=1, le=5000, description="moves per Odoo call")


class CorrectionsConfig(dg.Config):
    """Which corrections at the source this run reads, and how uncollectible invoices are booked."""

    read_feed: bool = Field(
        default=True,
        description="read Stripe's and Lago's change feeds (the automatic path); false reads "
        "nothing and books no correction (the manual path)",
    )
    lookback_days: int | None = Field(
        default=None,
        ge=1,
        le=MAX_LOOKBACK_DAYS,
        description="without a cursor, re-read this many days of source history (unset: "
        "LEDGER_SYNC_LOOKBACK_DAYS, default 35)",
    )
    uncollectible: str | None = Field(
        default=None,
        description="leave_open or write_off: what an invoice marked uncollectible does to its "
        "receivable (unset: LEDGER_UNCOLLECTIBLE, default leave_open)",
    )

    @field_validator("uncollectible")
    @classmethod
    def _known_policy(cls, value: str | None) -> str | None:
        if value is not None and value not in UNCOLLECTIBLE_POLICIES:
            raise ValueError(
                f"uncollectible must be one of {', '.join(UNCOLLECTIBLE_POLICIES)}, not {value!r}"
            )
        return value

    def policy(self) -> str:
        return self.uncollectible or LedgerSettings.from_env().uncollectible

    def lookback(self) -> int:
        return self.lookback_days or LedgerSettings.from_env().sync_lookback_days


class CorrectionPostConfig(dg.Config):
    dry_run: bool = Field(default=False, description="read everything, write nothing")


class PayoutConfig(dg.Config):
    """How a run books the Stripe payouts that arrived in its months."""

    dry_run: bool = Field(default=False, description="read and plan the payouts, write nothing")
    time_zone: str | None = Field(
        default=None,
        description="IANA time zone in which payout dates are read (unset: LEDGER_TIME_ZONE)",
    )
    fee_account: str | None = Field(
        default=None,
        description="account code for Stripe's fees (unset: LEDGER_STRIPE_FEE_ACCOUNT, "
        "default NCR.STRIPEFEE)",
    )
    bank_journal: str | None = Field(
        default=None,
        description="code of the bank journal Stripe pays out to (unset: "
        "LEDGER_PAYOUT_BANK_JOURNAL, default BNK1)",
    )

    _known_zone = field_validator("time_zone")(ExtractConfig._known_zone.__func__)

    def settings(self) -> tuple[str, str, str]:
        """The zone, the fee account code and the bank journal code this run books with."""
        env = LedgerSettings.from_env()
        return (
            self.time_zone or env.time_zone,
            self.fee_account or env.stripe_fee_account,
            self.bank_journal or env.payout_bank_journal,
        )
