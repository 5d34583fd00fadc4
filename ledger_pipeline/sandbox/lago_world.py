"""The sandbox Lago's data: NexaCloud sample invoices as Lago would hold them. Pure, no I/O.

Each `lago:<uuid>` invoice becomes a Lago invoice (and its succeeded payments) in the shapes
Lago's API v1 returns: the OpenAPI spec's objects plus the fields the live serializer adds and
the spec omits (`total_due_amount_cents`, `total_paid_amount_cents`,
`total_offsetted_credit_note_amount_cents`, `voided_at`, `xml_url`). Its scenario
(billing_scenarios.py) decides how Lago differs from NexaCloud's copy.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ledger_pipeline.ledger.model import SourceInvoice
from ledger_pipeline.ledger.money import currency_unit, to_minor_units
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
    """Lago's invoices by `lago_id` (full detail) and payments, newest first."""

    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: list[dict[str, Any]] = field(default_factory=list)

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
        "fees": [],
        "subscriptions": [],
        "error_details": [],
    }
    return record, payment_at, paid_cents


def _applied_taxes(
    lago_id: str, currency: str, subtotal: int, tax: int, created: str
) -> list[dict[str, Any]]:
    if tax == 0:
        return []
    rate = float((Decimal(tax) * 100 / subtotal).quantize(Decimal("0.001"))) if subtotal else 0.0
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
