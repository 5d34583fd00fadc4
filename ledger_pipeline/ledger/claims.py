"""One source invoice, one booking (DESIGN §6): which NexaCloud invoice holds a Stripe or Lago id.

Several NexaCloud invoices may carry the same `stripe_invoice_id` (a copy, a re-issue, an id
typed twice); booking each would count the source's revenue once per copy. Pure rule, no I/O:

- A claim is a `stripe_invoice_id` naming a Stripe (`in_…`) or Lago (`lago:…`) invoice, compared
  with surrounding whitespace removed and case folded (`" IN_Abc"` claims what `"in_abc"` does).
  Anything else (NULL, empty, `manual-…`) names no source invoice and claims nothing.
- Of the invoices claiming one source id, the holder is the earliest by `created_at` (an
  invoice without one comes after every dated one), then by id: numerically when both ids are
  integers, else as text, integers first. The order is total, so the holder is the same
  whatever the order the invoices arrive in.
- The holder keeps the claim whatever becomes of it (skipped, unverified, quarantined): the
  holder must not depend on what a source answers today, or a run could book one claimer and a
  later run another. Every other claimer is quarantined, naming the holder and the others.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger_pipeline.ledger.model import SourceInvoice

CLAIM_PREFIXES = {"in_": "Stripe", "lago:": "Lago"}
_INTEGER = re.compile(r"[0-9]+")


def claim_key(source_ref: object) -> str | None:
    """The normalised source id `source_ref` claims, or None when it names no source invoice."""
    if not isinstance(source_ref, str):
        return None
    key = source_ref.strip().casefold()
    for prefix in CLAIM_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            return key
    return None


def source_label(key: str) -> str:
    """ "Stripe invoice" or "Lago invoice", for a claim key."""
    system = next(name for prefix, name in CLAIM_PREFIXES.items() if key.startswith(prefix))
    return f"{system} invoice"


def shown(value: str) -> str:
    """An id as a person should read it: as is, or quoted when it holds invisible characters."""
    return value if value.isprintable() else repr(value)


def _instant(created_at: object) -> datetime | None:
    if not isinstance(created_at, datetime):
        return None
    # A naive timestamp cannot be ordered against aware ones: read it as UTC.
    return created_at if created_at.tzinfo is not None else created_at.replace(tzinfo=UTC)


def _id_order(invoice_id: str) -> tuple:
    if _INTEGER.fullmatch(invoice_id):
        return (0, int(invoice_id), invoice_id)
    return (1, 0, invoice_id)


def claim_order(invoice: SourceInvoice) -> tuple:
    """Sort key of claimers: dated ones first, earliest first, then by id."""
    instant = _instant(invoice.created_at)
    dated = (0, instant) if instant is not None else (1, datetime.min.replace(tzinfo=UTC))
    return (*dated, _id_order(str(invoice.invoice_id)))


@dataclass(frozen=True)
class ContestedClaim:
    """One source id claimed by several NexaCloud invoices: who holds it, who is held back."""

    key: str  # normalised: stripped, case-folded
    holder: str  # the invoice id that may book it
    others: tuple[str, ...]  # the other claimers, quarantined, in claim order
    refs: tuple[tuple[str, str], ...]  # (invoice id, its stripe_invoice_id stripped), in order

    @property
    def label(self) -> str:
        return source_label(self.key)


@dataclass(frozen=True)
class Claims:
    """The contested source ids of a set of invoices, and why each held-back claimer is."""

    contested: tuple[ContestedClaim, ...]
    rejected: Mapping[str, str]  # invoice id -> quarantine reason naming the holder

    def holder_of(self, invoice_id: str) -> ContestedClaim | None:
        return next((c for c in self.contested if c.holder == invoice_id), None)


def resolve_claims(invoices: Iterable[SourceInvoice]) -> Claims:
    """Which invoice holds each source id claimed more than once; the others' reasons."""
    by_key: dict[str, dict[str, SourceInvoice]] = defaultdict(dict)
    for invoice in invoices:
        key = claim_key(invoice.source_ref)
        if key is None:
            continue
        invoice_id = str(invoice.invoice_id)
        seen = by_key[key].get(invoice_id)
        # A row repeated under one id is one claimer (source_integrity reports the repeat).
        if seen is None or claim_order(invoice) < claim_order(seen):
            by_key[key][invoice_id] = invoice
    contested = []
    rejected: dict[str, str] = {}
    for key in sorted(by_key):
        claimers = sorted(by_key[key].values(), key=claim_order)
        if len(claimers) < 2:
            continue
        holder, others = claimers[0], claimers[1:]
        claim = ContestedClaim(
            key=key,
            holder=str(holder.invoice_id),
            others=tuple(str(o.invoice_id) for o in others),
            refs=tuple((str(c.invoice_id), c.source_ref.strip()) for c in claimers),
        )
        contested.append(claim)
        for loser in others:
            # An invoice claims one source id, so it is rejected at most once.
            rejected.setdefault(str(loser.invoice_id), _reason(claim, holder, loser))
    return Claims(tuple(contested), rejected)


def _reason(claim: ContestedClaim, holder: SourceInvoice, loser: SourceInvoice) -> str:
    refs = dict(claim.refs)
    loser_id, holder_id = str(loser.invoice_id), claim.holder
    spelled = f" as {shown(refs[holder_id])}" if refs[holder_id] != refs[loser_id] else ""
    reason = (
        f"invoice {shown(loser_id)} claims {claim.label} {shown(refs[loser_id])}, already "
        f"claimed by invoice {shown(holder_id)}{spelled} ({_why_first(holder, loser)}); not "
        "booked, so the source's revenue is not counted twice"
    )
    also = [shown(i) for i in claim.others if i != loser_id]
    if also:
        reason += f"; also claimed by invoice{'s' if len(also) > 1 else ''} {', '.join(also)}"
    return reason


def _why_first(holder: SourceInvoice, loser: SourceInvoice) -> str:
    first, then = _instant(holder.created_at), _instant(loser.created_at)
    if first is not None and then is not None:
        return "created earlier" if first < then else "created at the same time, lower id"
    if first is not None:
        return f"invoice {shown(str(loser.invoice_id))} has no created_at"
    return "neither has a created_at; lower id"
