"""The Dagster resource: the only code the assets use to talk to Odoo."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from datetime import date
from decimal import Decimal
from typing import Literal

import dagster as dg
from pydantic import Field

from ledger_pipeline.ledger.corrections import PlannedCorrection
from ledger_pipeline.ledger.model import PlannedMove
from ledger_pipeline.ledger.month_close import JournalItemGroup
from ledger_pipeline.ledger.payouts import BalanceTransaction, Payout
from ledger_pipeline.ledger.taxes import SaleTax, TaxRounding
from ledger_pipeline.odoo.booking import book_moves
from ledger_pipeline.odoo.correction_readback import KeyedRecords, read_corrections, read_keyed
from ledger_pipeline.odoo.correction_report import CorrectionReport, InvoiceNet
from ledger_pipeline.odoo.corrections import book_corrections
from ledger_pipeline.odoo.lease import LeaseBusy, OdooLease
from ledger_pipeline.odoo.ledger_setup import read_company
from ledger_pipeline.odoo.maintenance import PruneReport, prune_metered_shadow
from ledger_pipeline.odoo.month_close_readback import read_month_groups
from ledger_pipeline.odoo.payout_run import PayoutRunReport, run_payouts
from ledger_pipeline.odoo.readback import LedgerReadBack, read_back
from ledger_pipeline.odoo.report import BookingReport
from ledger_pipeline.odoo.tax_catalogue import read_sale_taxes
from ledger_pipeline.odoo.transport import OdooTransport, connect

MAX_PARALLEL_REQUESTS = 32  # more connections than this only queue up at Odoo's workers


class OdooLedger(dg.ConfigurableResource):
    """Odoo as the ledger of record, over JSON-2 (Odoo ≥ 19) or JSON-RPC (Odoo ≤ 18).

    `protocol` "auto" asks the server (`GET /web/version`). `login` is only used by JSON-RPC,
    which authenticates login + API key. Give `api_key` as `dg.EnvVar(...)`: it never appears in
    errors, logs or reports.
    """

    url: str = Field(description="Odoo base URL, e.g. https://erp.example.com")
    database: str = Field(description="Odoo database name (sent as X-Odoo-Database on JSON-2)")
    api_key: str = Field(repr=False, description="API key of the Odoo integration user")
    login: str = Field(default="admin", description="Odoo login of that user (JSON-RPC only)")
    protocol: Literal["json2", "jsonrpc", "auto"] = "auto"
    timeout: float = Field(default=120.0, description="seconds to wait for one Odoo call")
    batch_size: int = Field(default=100, description="invoices per create/post call")
    max_parallel_requests: int = Field(
        default=1,
        ge=1,
        le=MAX_PARALLEL_REQUESTS,
        description="Odoo calls the writer may have in flight at once, over that many pooled "
        "connections (about the number of Odoo's worker processes); 1 sends one call at a time",
    )
    lease_ttl_seconds: float = Field(
        default=600,
        gt=0,
        description="how long the writer's lease in Odoo lasts unless renewed; a holder that "
        "died is taken over after this",
    )
    lease_wait_seconds: float = Field(
        default=300,
        ge=0,
        description="how long a second writer waits for the lease before failing its step",
    )

    @contextmanager
    def _connect(self, *, read_only: bool = False) -> Iterator[OdooTransport]:
        odoo = connect(
            self.url,
            self.database,
            self.api_key,
            login=self.login,
            protocol=self.protocol,
            timeout=self.timeout,
            read_only=read_only,
            max_parallel=self.max_parallel_requests,
        )
        try:
            yield odoo
        finally:
            odoo.close()

    def tax_settings(self) -> tuple[tuple[SaleTax, ...], TaxRounding]:
        """The company's active percent sale taxes and tax groups (zero-rate ones left out) and
        its `tax_calculation_rounding_method`, read in one session."""
        with self._connect(read_only=True) as odoo:
            company_id, _, rounding = read_company(odoo)
            taxes = tuple(t.sale_tax for t in read_sale_taxes(odoo, company_id).values())
            return taxes, rounding

    def lease(self, odoo: OdooTransport, holder: str | None = None) -> OdooLease:
        """The writer's lease in Odoo for the run `holder` (a Dagster run id)."""
        return OdooLease(odoo, holder, ttl=self.lease_ttl_seconds, wait=self.lease_wait_seconds)

    def book(
        self,
        moves: Sequence[PlannedMove],
        *,
        post: bool = True,
        dry_run: bool = False,
        batch_size: int | None = None,
        holder: str | None = None,
    ) -> BookingReport:
        """Create, rewrite, post and pay `moves`; in a dry run only read and report.

        A real run writes only while holding the writer's lease in Odoo, named after `holder`
        (the Dagster run id). When another writer keeps it past `lease_wait_seconds`, nothing is
        written and a `dg.Failure` (caused by `LeaseBusy`) names that holder.
        """
        with self._connect(read_only=dry_run) as odoo, _failing_the_step_when_busy():
            return book_moves(
                odoo,
                moves,
                post=post,
                dry_run=dry_run,
                batch_size=batch_size or self.batch_size,
                lease=None if dry_run else self.lease(odoo, holder),
            )

    def book_corrections(
        self,
        corrections: Sequence[PlannedCorrection],
        *,
        dry_run: bool = False,
        holder: str | None = None,
    ) -> CorrectionReport:
        """Book credit notes, refunds, write-offs and dispute fees, keyed so a re-run finishes
        what a crash left and books nothing twice; a dry run only reads and predicts. Writes
        under the writer's lease, exactly as `book` does."""
        with self._connect(read_only=dry_run) as odoo, _failing_the_step_when_busy():
            return book_corrections(
                odoo,
                corrections,
                dry_run=dry_run,
                lease=None if dry_run else self.lease(odoo, holder),
            )

    def book_payouts(
        self,
        payouts: Sequence[Payout],
        *,
        listed: Sequence[BalanceTransaction],
        stripe_balances: Mapping[str, Decimal],
        fee_account: str,
        bank_journal: str,
        dry_run: bool = False,
        holder: str | None = None,
    ) -> PayoutRunReport:
        """Book and clear Stripe's payouts on NCSTR, keyed so a re-run finishes what a crash
        left; then read back what the checks prove. Writes under the writer's lease."""
        with self._connect(read_only=dry_run) as odoo, _failing_the_step_when_busy():
            return run_payouts(
                odoo,
                payouts,
                listed=listed,
                stripe_balances=stripe_balances,
                fee_account=fee_account,
                bank_journal=bank_journal,
                dry_run=dry_run,
                lease=None if dry_run else self.lease(odoo, holder),
            )

    def read_corrections(
        self,
        invoice_refs: Sequence[str],
        *,
        correction_keys: Mapping[str, Sequence[str]] | None = None,
    ) -> dict[str, InvoiceNet]:
        """Per corrected invoice: its total, residual, payment state, credit notes and refunds."""
        with self._connect(read_only=True) as odoo:
            return read_corrections(odoo, invoice_refs, correction_keys=correction_keys)

    def read_month_groups(self, month_start: date, month_end: date) -> list[JournalItemGroup]:
        """The posted journal items dated in [month_start, month_end), per scope (invoices,
        corrections, payments), account, currency and tax line: grouped reads, at most 5 calls
        whatever the month's size (see `month_close_readback`)."""
        with self._connect(read_only=True) as odoo:
            return read_month_groups(odoo, month_start, month_end)

    def read_keyed(self, keys: Sequence[str]) -> dict[str, KeyedRecords]:
        """Per correction key: the moves and refund payments Odoo holds under it."""
        with self._connect(read_only=True) as odoo:
            return read_keyed(odoo, keys)

    def prune_metered_shadow(
        self, *, dry_run: bool = True, holder: str | None = None
    ) -> PruneReport:
        """Delete (or archive) the old module's metered shadow data; a dry run only counts.
        Deleting takes the writer's lease, as booking does."""
        with self._connect(read_only=dry_run) as odoo, _failing_the_step_when_busy():
            lease = nullcontext() if dry_run else self.lease(odoo, holder).held_while()
            with lease:
                return prune_metered_shadow(odoo, dry_run=dry_run)

    def read_back(self, keys: Sequence[str]) -> LedgerReadBack:
        """Odoo's moves, totals, payments and revenue per account for these invoice keys."""
        with self._connect(read_only=True) as odoo:
            return read_back(odoo, keys, chunk_size=max(self.batch_size, 500))


@contextmanager
def _failing_the_step_when_busy() -> Iterator[None]:
    """A busy lease as a Dagster Failure: the UI then heads the step's error with the holder
    and how to clear a stale lease, rather than a wrapped traceback."""
    try:
        yield
    except LeaseBusy as busy:
        holder = busy.holder
        metadata = {"lease_value": busy.value}
        if holder is not None:
            metadata = {
                "lease_holder_run_id": holder.run_id,
                "lease_holder_host": holder.host,
                "lease_since": holder.since_iso,
                "lease_expires": holder.expires_iso,
            }
        raise dg.Failure(description=str(busy), metadata=metadata) from busy
