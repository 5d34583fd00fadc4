"""The sandbox Lago's data: NexaCloud sample invoices as Lago would hold them. Pure, no I/O.

Each `lago:<uuid>` invoice becomes a Lago invoice (and its succeeded payments) in the shapes
Lago's API v1 returns: the OpenAPI spec's objects plus the fields the live serializer adds and
the spec omits (`total_due_amount_cents`, `total_paid_amount_cents`,
`total_offsetted_credit_note_amount_cents`, `voided_at`, `xml_url`). Its scenario
(billing_scenarios.py) decides how Lago differs from NexaCloud's copy.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ledger_pipeline.ledger.model import SourceInvoice
from ledger_pipeline.ledger.money import currency_unit, from_minor_units, to_minor_units
from ledger_pipeline.sandbox.billing_scenarios import SourceScenario, scenario_for
from ledger_pipeline.sources.lago_facts import lago_id_of

_NAMESPACE = uuid.UUID("5b0c7a4e-6a53-4f0e-9f55-2f1f0c6a1a90")  # stable ids across runs
BILLING_ENTITY = "nexacloud"
# Served only by GET /invoices/{id}; list items carry customer, metadata and applied taxes.
DETAIL_ONLY_FIELDS = (
    "billing_periods",
    "credits",
    "fees",
    "subscriptions",
    "error_details",
    "applied_invoice_custom_sections",
)


@dataclass
class LagoWorld:
    """Lago's invoices by `lago_id` (full detail), payments (newest first) and credit notes by
    `lago_id`; `draft_credit_notes` are the ids Lago would neither list nor retrieve."""

    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: list[dict[str, Any]] = field(default_factory=list)
    credit_notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    draft_credit_notes: set[str] = field(default_factory=set)

    def sort_payments(self) -> None:
        # Lago's order: created_at descending, then id ascending.
        self.payments.sort(key=lambda p: p["lago_id"])
        self.payments.sort(key=lambda p: p["created_at"], reverse=True)


def list_item(invoice: dict[str, Any]) -> dict[str, Any]:
    """An invoice as `GET /invoices` lists it."""
    return {k: v for k, v in invoice.items() if k not in DETAIL_ONLY_FIELDS}


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_world(
    invoices: Iterable[SourceInvoice],
    overrides: dict[str, SourceScenario] | None = None,
    *,
    timezone: str = "UTC",
    paid_later_days: int = 3,
) -> LagoWorld:
    """Lago as it stands for these NexaCloud invoices (non-Lago ones are ignored).

    `timezone` is the customers' time zone, in which Lago dates invoices.
    """
    zone = ZoneInfo(timezone)
    world = LagoWorld()
    customers: dict[str, dict[str, Any]] = {}
    for invoice in invoices:
        lago_id = lago_id_of(invoice.source_ref)
        scenario = scenario_for(invoice.invoice_id, overrides)
        if lago_id is None or scenario is SourceScenario.MISSING:
            continue
        customer = customers.get(invoice.customer.user_id)
        if customer is None:
            customer = _customer(invoice, len(customers) + 1, timezone)
            customers[invoice.customer.user_id] = customer
        seq = len(world.invoices) + 1
        record, payment_at, payment_cents = _invoice(
            invoice, lago_id, seq, scenario, customer, zone, paid_later_days
        )
        world.invoices[lago_id] = record
        if payment_at is not None:
            world.payments.append(_payment(record, payment_cents, payment_at))
    world.sort_payments()
    return world


def _cents(amount: Decimal, currency: str) -> int:
    return to_minor_units(amount.quantize(currency_unit(currency), ROUND_HALF_UP), currency)


def _invoice(
    invoice: SourceInvoice,
    lago_id: str,
    seq: int,
    scenario: SourceScenario,
    customer: dict[str, Any],
    zone: ZoneInfo,
    paid_later_days: int,
) -> tuple[dict[str, Any], datetime | None, int]:
    currency = invoice.currency.upper()
    subtotal = _cents(invoice.subtotal, currency)
    tax = _cents(invoice.tax, currency)
    total = subtotal + tax
    status, payment_status, paid_cents = "finalized", "pending", 0
    payment_at: datetime | None = None
    voided_at: datetime | None = None
    nexacloud_status = (invoice.status or "").lower()

    if scenario is SourceScenario.VOID or (
        scenario is SourceScenario.AS_RECORDED and nexacloud_status == "void"
    ):
        status, voided_at = "voided", invoice.created_at + timedelta(days=1)
    elif scenario is SourceScenario.DRAFT or nexacloud_status == "draft":
        status = "draft"
    elif total <= 0:  # nothing to collect: Lago marks it settled without a payment
        payment_status = "succeeded"
    elif scenario is SourceScenario.PAID_LATER:
        payment_status, paid_cents = "succeeded", total
        payment_at = (invoice.paid_at or invoice.created_at) + timedelta(days=paid_later_days)
    else:  # AS_RECORDED: paid, partly paid or unpaid as NexaCloud says
        paid_cents = min(_cents(invoice.amount_paid, currency), total)
        if paid_cents > 0:
            payment_at = invoice.paid_at or invoice.created_at
            payment_status = "succeeded" if paid_cents >= total else "pending"

    created = timestamp(invoice.created_at)
    updated = max(m for m in (invoice.created_at, payment_at, voided_at) if m is not None)
    record = {
        "lago_id": lago_id,
        "billing_entity_code": BILLING_ENTITY,
        "sequential_id": seq,
        "number": invoice.number or f"NXC-{seq:06d}",
        "issuing_date": invoice.created_at.astimezone(zone).date().isoformat(),
        "payment_due_date": invoice.created_at.astimezone(zone).date().isoformat(),
        "payment_overdue": False,
        "net_payment_term": 0,
        "invoice_type": "subscription",
        "status": status,
        "payment_status": payment_status,
        "currency": currency,
        "fees_amount_cents": subtotal,
        "coupons_amount_cents": 0,
        "credit_notes_amount_cents": 0,
        "sub_total_excluding_taxes_amount_cents": subtotal,
        "taxes_amount_cents": tax,
        "sub_total_including_taxes_amount_cents": total,
        "prepaid_credit_amount_cents": 0,
        "progressive_billing_credit_amount_cents": 0,
        "total_amount_cents": total,
        # Served by Lago but missing from its OpenAPI spec (billing-apis.md §2.3):
        "total_due_amount_cents": max(total - paid_cents, 0) if status == "finalized" else 0,
        "total_paid_amount_cents": paid_cents,
        "total_offsetted_credit_note_amount_cents": 0,
        "voided_at": timestamp(voided_at) if voided_at else None,
        "xml_url": None,
        "version_number": 4,
        "self_billed": False,
        "file_url": f"https://lago.sandbox.invalid/invoices/{lago_id}.pdf",
        "web_url": None,
        "created_at": created,
        "updated_at": timestamp(updated),
        "customer": customer,
        "metadata": [
            {
                "lago_id": str(uuid.uuid5(_NAMESPACE, f"metadata:{lago_id}")),
                "key": "nexacloud_invoice_id",
                "value": invoice.invoice_id,
                "created_at": created,
            }
        ],
        "applied_taxes": _applied_taxes(lago_id, currency, subtotal, tax, created),
        "applied_usage_thresholds": [],
        "applied_invoice_custom_sections": [],
        "billing_periods": [],
        "credits": [],
        "fees": _fees(invoice, lago_id, customer, subtotal, tax, created),
        "subscriptions": [],
        "error_details": [],
    }
    return record, payment_at, paid_cents


def _applied_taxes(
    lago_id: str, currency: str, subtotal: int, tax: int, created: str
) -> list[dict[str, Any]]:
    if tax == 0:
        return []
    rate = _rate(subtotal, tax)
    return [
        {
            "lago_id": str(uuid.uuid5(_NAMESPACE, f"applied_tax:{lago_id}")),
            "lago_tax_id": str(uuid.uuid5(_NAMESPACE, f"tax:{rate}")),
            "lago_invoice_id": lago_id,
            "tax_name": "Sales tax",
            "tax_code": "nexacloud_sales_tax",
            "tax_rate": rate,
            "tax_description": "Canadian sales tax billed by NexaCloud",
            "amount_cents": tax,
            "amount_currency": currency,
            "fees_amount_cents": subtotal,
            "created_at": created,
        }
    ]


def _fees(
    invoice: SourceInvoice,
    lago_id: str,
    customer: dict[str, Any],
    subtotal: int,
    tax: int,
    created: str,
) -> list[dict[str, Any]]:
    """The invoice's fees, one per NexaCloud item when the items add up to the subtotal to the
    cent (Lago's fees always do), else one fee for the whole subtotal. Tax is spread over them
    by largest remainder so the fees' taxes add up to the invoice's exactly."""
    if subtotal <= 0:
        return []
    currency = invoice.currency.upper()
    named = _item_cents(invoice, currency)
    if named is None or sum(cents for _, cents in named) != subtotal:
        named = [("NexaCloud services", subtotal)]
    taxes = spread(tax, [cents for _, cents in named])
    rate = _rate(subtotal, tax)
    return [
        _fee(lago_id, i, name, cents, fee_tax, rate, currency, customer, created)
        for i, ((name, cents), fee_tax) in enumerate(zip(named, taxes, strict=True))
    ]


def _item_cents(invoice: SourceInvoice, currency: str) -> list[tuple[str, int]] | None:
    named = []
    for item in invoice.items:
        amount = item.amount
        if amount is None or not amount.is_finite() or amount < 0:
            return None
        try:
            cents = to_minor_units(amount, currency)
        except ValueError:
            return None
        if cents:
            named.append(((item.description or "").strip() or "NexaCloud services", cents))
    return named or None


def spread(total: int, weights: list[int]) -> list[int]:
    """`total` cents split in proportion to `weights`, by largest remainder: exact, stable."""
    base = sum(weights)
    if not weights or base <= 0:
        return [0] * len(weights)
    shares = [total * w // base for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % base), i))
    for i in remainders[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _rate(subtotal: int, tax: int) -> float:
    return float((Decimal(tax) * 100 / subtotal).quantize(Decimal("0.001"))) if subtotal else 0.0


def _fee(
    lago_id: str,
    index: int,
    name: str,
    cents: int,
    tax: int,
    rate: float,
    currency: str,
    customer: dict[str, Any],
    created: str,
) -> dict[str, Any]:
    code = "_".join(
        word for word in "".join(c if c.isalnum() else " " for c in name.lower()).split()
    )
    return {
        "lago_id": str(uuid.uuid5(_NAMESPACE, f"fee:{lago_id}:{index}")),
        "lago_charge_id": None,
        "lago_charge_filter_id": None,
        "lago_invoice_id": lago_id,
        "lago_true_up_fee_id": None,
        "lago_true_up_parent_fee_id": None,
        "lago_subscription_id": None,
        "lago_customer_id": customer["lago_id"],
        "external_customer_id": customer["external_id"],
        "external_subscription_id": None,
        "amount_cents": cents,
        "precise_amount": str(from_minor_units(cents, currency)),
        "precise_total_amount": str(from_minor_units(cents + tax, currency)),
        "amount_currency": currency,
        "taxes_amount_cents": tax,
        "taxes_precise_amount": str(from_minor_units(tax, currency)),
        "taxes_rate": rate,
        "units": "1.0",
        "precise_unit_amount": str(from_minor_units(cents, currency)),
        "total_aggregated_units": "1.0",
        "total_amount_cents": cents + tax,
        "total_amount_currency": currency,
        "events_count": None,
        "pay_in_advance": False,
        "invoiceable": True,
        "from_date": None,
        "to_date": None,
        "payment_status": "pending",
        "created_at": created,
        "succeeded_at": None,
        "failed_at": None,
        "refunded_at": None,
        "event_transaction_id": None,
        "description": None,
        "precise_coupons_amount_cents": "0.0",
        "sub_total_excluding_taxes_amount_cents": cents,
        "sub_total_excluding_taxes_precise_amount_cents": f"{cents}.0",
        "self_billed": False,
        "item": {
            "type": "add_on",
            "code": code or "nexacloud_services",
            "name": name,
            "description": None,
            "invoice_display_name": name,
            "filter_invoice_display_name": None,
            "filters": None,
            "lago_item_id": str(uuid.uuid5(_NAMESPACE, f"add_on:{code}")),
            "item_type": "AddOn",
            "grouped_by": {},
        },
        "applied_taxes": [],
    }


def _customer(invoice: SourceInvoice, seq: int, timezone: str) -> dict[str, Any]:
    person = invoice.customer
    return {
        "lago_id": str(uuid.uuid5(_NAMESPACE, f"customer:{person.user_id}")),
        "sequential_id": seq,
        "slug": f"NXC-{seq:04d}",
        "external_id": person.user_id,
        "billing_entity_code": BILLING_ENTITY,
        "name": person.company or person.full_name,
        "email": person.billing_email or person.email,
        "currency": invoice.currency.upper(),
        "country": "CA",
        "timezone": timezone,
        "applicable_timezone": timezone,
        "created_at": timestamp(invoice.created_at),
    }


def _payment(invoice: dict[str, Any], cents: int, when: datetime) -> dict[str, Any]:
    lago_id = invoice["lago_id"]
    token = uuid.uuid5(_NAMESPACE, f"payment:{lago_id}").hex
    return {
        "lago_id": str(uuid.uuid5(_NAMESPACE, f"payment:{lago_id}")),
        "lago_customer_id": invoice["customer"]["lago_id"],
        "external_customer_id": invoice["customer"]["external_id"],
        "invoice_ids": [lago_id],
        "invoice_numbers": [invoice["number"]],
        "lago_payable_id": lago_id,
        "payable_type": "Invoice",
        "amount_cents": cents,
        "amount_currency": invoice["currency"],
        "status": "succeeded",
        "payment_status": "succeeded",
        "type": "provider",
        "reference": "",
        "payment_provider_code": "stripe_nexacloud",
        "payment_provider_type": "stripe",
        "external_payment_id": None,
        "provider_payment_id": f"pi_{token[:24]}",
        "provider_customer_id": f"cus_{token[24:]}",
        "next_action": {},
        "created_at": timestamp(when),
    }


# -- corrections at the source: voids and credit notes (for the tests and the sandbox) --------


def void_invoice(world: LagoWorld, lago_id: str, at: datetime) -> dict[str, Any]:
    """`POST /invoices/{id}/void` without a body: only a finalized invoice not paid in full."""
    invoice = _invoice_for_correction(world, lago_id)
    if invoice["status"] != "finalized" or invoice["payment_status"] == "succeeded":
        raise ValueError(
            f"Lago invoice {lago_id} is {invoice['status']} with payment "
            f"{invoice['payment_status']}: only a finalized, not fully paid invoice is voided"
        )
    stamp = timestamp(at)
    invoice.update(
        status="voided",
        voided_at=stamp,
        payment_overdue=False,
        total_due_amount_cents=0,
        updated_at=stamp,
    )
    return invoice


def issue_credit_note(
    world: LagoWorld,
    lago_id: str,
    *,
    offset: int = 0,
    refund: int = 0,
    credit: int = 0,
    items: Sequence[tuple[str, int]] | None = None,
    refund_status: str = "succeeded",
    reason: str = "other",
    at: datetime,
    draft: bool = False,
) -> str:
    """A credit note on a finalized invoice, as Lago's CreateService makes it; its lago_id.

    `offset`, `refund` and `credit` are cents, tax included, and must balance the credit note's
    total, as Lago requires. `items` are (fee lago_id, cents before tax); None spreads the
    total's untaxed part over the invoice's fees. Tax is the invoice's effective rate applied
    exactly: with items, round-half-up of `untaxed × invoice tax / invoice subtotal`; without,
    the total's tax share `total × invoice tax / invoice total`, so crediting the whole invoice
    gives back exactly its tax. `draft`: a credit note Lago neither lists nor retrieves.
    """
    invoice = _invoice_for_correction(world, lago_id)
    for name, value in (("offset", offset), ("refund", refund), ("credit", credit)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"credit note on {lago_id}: {name} {value!r} is not cents ≥ 0")
    total = offset + refund + credit
    inv_total, inv_tax = invoice["total_amount_cents"], invoice["taxes_amount_cents"]
    inv_untaxed = inv_total - inv_tax
    if invoice["status"] != "finalized" or inv_total <= 0 or total <= 0:
        raise ValueError(
            f"Lago credits only a finalized invoice with an amount: invoice {lago_id} is "
            f"{invoice['status']} of {inv_total} cents, credit note of {total} cents"
        )
    notes = [n for n in world.credit_notes.values() if n["lago_invoice_id"] == lago_id]
    credited_before = sum(n["total_amount_cents"] for n in notes)
    paid_back_before = sum(n["refund_amount_cents"] + n["credit_amount_cents"] for n in notes)
    if total > inv_total - credited_before:
        raise ValueError(f"invoice {lago_id}: only {inv_total - credited_before} cents creditable")
    if offset > invoice["total_due_amount_cents"]:
        raise ValueError(
            f"invoice {lago_id}: offset {offset} > {invoice['total_due_amount_cents']} due"
        )
    if refund + credit > invoice["total_paid_amount_cents"] - paid_back_before:
        raise ValueError(
            f"invoice {lago_id}: refund + credit {refund + credit} exceed what was paid"
        )

    fees = {fee["lago_id"]: fee for fee in invoice["fees"]}
    if items is None:
        tax = _round_half_up(Decimal(total) * inv_tax / inv_total)
        fee_list = list(fees.values())
        amounts = spread(total - tax, [fee["amount_cents"] for fee in fee_list])
        chosen = [(fee, cents) for fee, cents in zip(fee_list, amounts, strict=True) if cents]
    else:
        unknown = [fee_id for fee_id, _ in items if fee_id not in fees]
        if unknown:
            raise ValueError(f"invoice {lago_id} has no fee {unknown[0]}")
        chosen = [(fees[fee_id], cents) for fee_id, cents in items]
        untaxed = sum(cents for _, cents in chosen)
        tax = _round_half_up(Decimal(untaxed) * inv_tax / inv_untaxed) if inv_untaxed else 0
        if untaxed + tax != total:
            raise ValueError(
                f"credit note on {lago_id}: items {untaxed} + tax {tax} = {untaxed + tax} cents, "
                f"but offset + refund + credit = {total}"
            )

    seq = len(notes) + 1
    note_id = str(uuid.uuid5(_NAMESPACE, f"credit_note:{lago_id}:{seq}"))
    currency = invoice["currency"]
    stamp = timestamp(at)
    zone = ZoneInfo(invoice["customer"]["applicable_timezone"])
    note = {
        "lago_id": note_id,
        "billing_entity_code": invoice["billing_entity_code"],
        "sequential_id": seq,
        "number": f"{invoice['number']}-CN{seq:03d}",
        "lago_invoice_id": lago_id,
        "invoice_number": invoice["number"],
        "issuing_date": at.astimezone(zone).date().isoformat(),
        "credit_status": "available",  # as Lago's CreateService sets it, credit or not
        "refund_status": refund_status if refund else None,
        "reason": reason,
        "description": None,
        "currency": currency,
        "total_amount_cents": total,
        "taxes_amount_cents": tax,
        "taxes_rate": _rate(inv_untaxed, inv_tax),
        "sub_total_excluding_taxes_amount_cents": total - tax,
        "balance_amount_cents": credit,
        "credit_amount_cents": credit,
        "refund_amount_cents": refund,
        "offset_amount_cents": offset,
        "coupons_adjustment_amount_cents": 0,
        "created_at": stamp,
        "updated_at": stamp,
        "file_url": f"https://lago.sandbox.invalid/credit_notes/{note_id}.pdf",
        "self_billed": False,
        "items": [
            {
                "lago_id": str(uuid.uuid5(_NAMESPACE, f"credit_note_item:{note_id}:{i}")),
                "amount_cents": cents,
                "amount_currency": currency,
                "fee": copy.deepcopy(fee),
            }
            for i, (fee, cents) in enumerate(chosen)
        ],
        "applied_taxes": [
            {
                "lago_id": str(uuid.uuid5(_NAMESPACE, f"credit_note_tax:{note_id}")),
                "lago_credit_note_id": note_id,
                "lago_tax_id": applied["lago_tax_id"],
                "tax_name": applied["tax_name"],
                "tax_code": applied["tax_code"],
                "tax_rate": applied["tax_rate"],
                "tax_description": applied["tax_description"],
                "amount_cents": tax,
                "amount_currency": currency,
                "base_amount_cents": total - tax,
                "created_at": stamp,
            }
            for applied in invoice["applied_taxes"][:1]
            if tax
        ],
        "customer": copy.deepcopy(invoice["customer"]),
        "error_details": [],
    }
    world.credit_notes[note_id] = note
    if draft:
        world.draft_credit_notes.add(note_id)
    else:  # a finalized credit note takes its offset off what the invoice still asks for
        invoice["total_due_amount_cents"] -= offset
        invoice["total_offsetted_credit_note_amount_cents"] += offset
        invoice["updated_at"] = stamp
    return note_id


def void_credit_note(world: LagoWorld, note_id: str, at: datetime) -> None:
    """`PUT /credit_notes/{id}/void`: voids the remaining credit only (balance to 0)."""
    note = world.credit_notes[note_id]
    if note["credit_status"] == "voided" or note["balance_amount_cents"] <= 0:
        raise ValueError(f"Lago credit note {note_id} has no credit left to void")
    note.update(credit_status="voided", balance_amount_cents=0, updated_at=timestamp(at))


def _invoice_for_correction(world: LagoWorld, lago_id: str) -> dict[str, Any]:
    try:
        return world.invoices[lago_id]
    except KeyError:
        raise ValueError(f"Lago has no invoice {lago_id}") from None


def _round_half_up(value: Decimal) -> int:
    return int(value.to_integral_value(ROUND_HALF_UP))
