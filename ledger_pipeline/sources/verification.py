"""Routing invoices to their billing system, and the outcome every invoice leaves with.

`in_…` goes to Stripe, `lago:<id>` to Lago; anything else cannot be confirmed by any source and
is unverifiable, so the automatic path never posts it on NexaCloud's own fields (DESIGN rule 10).
`verify_invoices` gives every invoice exactly one outcome, whatever a verifier does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from ledger_pipeline.ledger.model import BillingSystem, SourceInvoice, Verification
from ledger_pipeline.sources.common import (  # noqa: F401  (re-exported: the router's vocabulary)
    NO_SOURCE_ID,
    SOURCE_LABEL,
    billing_system,
    source_disagreements,
    source_id_problem,
    time_zone,
    unverifiable,
)

if TYPE_CHECKING:
    from ledger_pipeline.sources.lago import LagoVerifier
    from ledger_pipeline.sources.stripe import StripeVerifier

log = logging.getLogger(__name__)


class Verifier(Protocol):
    def verify(self, invoices: Sequence[SourceInvoice], tz: str) -> dict[str, Verification]: ...


def verify_invoices(
    invoices: Sequence[SourceInvoice],
    *,
    stripe: StripeVerifier | Verifier | None,
    lago: LagoVerifier | Verifier | None,
    tz: str,
) -> dict[str, Verification]:
    """Ask each invoice's billing system about it; every invoice gets exactly one outcome.

    A verifier that is missing, crashes, or forgets an invoice costs only its own invoices
    (unverifiable, with the reason): one bad source never stops the other (DESIGN rule 12).
    """
    time_zone(tz)  # fail the run on a wrong zone rather than every invoice
    results: dict[str, Verification] = {}
    batches: dict[BillingSystem, list[SourceInvoice]] = {s: [] for s in BillingSystem}
    for invoice in invoices:
        system = billing_system(invoice.source_ref)
        malformed = source_id_problem(invoice)
        if malformed:
            results[invoice.invoice_id] = unverifiable(invoice, malformed)
        elif system is None:
            results[invoice.invoice_id] = unverifiable(invoice, NO_SOURCE_ID)
        else:
            batches[system].append(invoice)

    for system, verifier in ((BillingSystem.STRIPE, stripe), (BillingSystem.LAGO, lago)):
        if batches[system]:
            results.update(_verify_batch(system, verifier, batches[system], tz))
    return results


def _verify_batch(
    system: BillingSystem,
    verifier: Verifier | None,
    batch: Sequence[SourceInvoice],
    tz: str,
) -> dict[str, Verification]:
    label = SOURCE_LABEL[system]
    if verifier is None:
        return {i.invoice_id: unverifiable(i, f"{label} verifier is not configured") for i in batch}
    try:
        answered = verifier.verify(batch, tz)
    except Exception as exc:
        # Only the class name in the outcome and the warning: an exception's text may carry a
        # URL or a key; the traceback is for debugging only.
        log.warning("%s verification failed: %s", label, type(exc).__name__)
        log.debug("%s verification failure", label, exc_info=True)
        return {
            i.invoice_id: unverifiable(i, f"{label} verification failed ({type(exc).__name__})")
            for i in batch
        }
    return {
        i.invoice_id: answered.get(i.invoice_id)
        or unverifiable(i, f"{label} verifier gave no outcome for this invoice")
        for i in batch
    }
