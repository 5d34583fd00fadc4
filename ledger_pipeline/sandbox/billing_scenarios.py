"""How the sandbox's Stripe and Lago stand-ins differ from NexaCloud's copy of an invoice.

NexaCloud's dates and statuses are unreliable, so the stand-ins do not simply mirror it: a few
invoices are void or still draft at the source, some were paid after NexaCloud recorded them, and
some are missing. The choice is a deterministic function of the invoice id, so every run of the
sandbox and of the tests sees the same world; tests may override it per invoice.
"""

from __future__ import annotations

import enum
import hashlib


class SourceScenario(enum.StrEnum):
    AS_RECORDED = "as_recorded"  # the source agrees with NexaCloud
    VOID = "void"  # voided at the source: never booked
    DRAFT = "draft"  # still a draft at the source: booked once finalized
    PAID_LATER = "paid_later"  # NexaCloud says unpaid; the source says paid, days later
    MISSING = "missing"  # the source has no such invoice


# Out of every 100 invoices with a source id (the rest are AS_RECORDED).
_SHARES = (
    (SourceScenario.VOID, 2),
    (SourceScenario.DRAFT, 2),
    (SourceScenario.PAID_LATER, 4),
    (SourceScenario.MISSING, 1),
)


def scenario_for(
    invoice_id: str, overrides: dict[str, SourceScenario] | None = None
) -> SourceScenario:
    """The scenario of one invoice at its billing system: stable across runs and machines."""
    if overrides and invoice_id in overrides:
        return overrides[invoice_id]
    bucket = int.from_bytes(hashlib.sha256(invoice_id.encode()).digest()[:4], "big") % 100
    for scenario, share in _SHARES:
        if bucket < share:
            return scenario
        bucket -= share
    return SourceScenario.AS_RECORDED
