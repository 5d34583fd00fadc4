"""The Stripe stand-in's money: charges, balance transactions (BTs), daily automatic payouts.

Every money movement is a BT in the account's settlement currency (CAD by default), as Stripe
records it (billing-money-trail §4):

- a **charge** for every paid (or partly paid, open) Stripe invoice, at
  `status_transitions.paid_at` (else when it was issued), for `amount_paid`, on the invoice's
  PaymentIntent (`pi_<invoice suffix>`, the one its InvoicePayment names); and
  for every Lago-billed payment (`add_charge(..., metadata={"lago_invoice_id": …})`), whose
  PaymentIntent carries Lago's metadata. Fee: 2.9 % of the settled amount, rounded half-up to the
  cent, + 0.30 (`processing_fee`), in `fee_details[{type: stripe_fee}]`;
- a charge in another currency is converted at `exchange_rate(currency, day)` (a fixed rate per
  currency and day, 6 decimals): the BT holds round-half-even(source × rate) in settlement minor
  units and `exchange_rate`; the charge keeps its own currency and amount;
- a **refund** `type=refund` (−, converted at the refund day's rate, no fee returned); a failed
  or canceled refund adds a `refund_failure` BT (+, the refund's settled amount);
- a **dispute** withdrawal `type=adjustment, reporting_category=dispute`: −amount (converted),
  the dispute fee in settlement currency; a won dispute's `dispute_reversal` gives back the
  withdrawn amount (not the fee);
- optionally a monthly Billing fee (`type=stripe_fee, reporting_category=fee`) on the 1st;
- **payouts**: funds become available at the start of the second day after the BT (in the
  account's time zone); every day at 06:00 an automatic payout sweeps every available BT no
  payout holds yet (skipped when the sum is not positive), with its own `type=payout` BT, and
  arrives the next day (`in_transit` until then, `paid` after). Payouts are made lazily up to
  the clock and never change members once made: a BT recorded after a payout day (a late
  charge, a refund) joins a later payout. `fail` / `cancel` return a payout's money with a
  `payout_failure` / `payout_cancel` BT (+amount) that the next payout sweeps.

Ids are fixed by what they record (a hash of the source), so the same world gives the same ids.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ledger_pipeline.ledger.money import currency_decimals

SETTLEMENT_CURRENCY = "cad"
ACCOUNT_ZONE = "America/Toronto"
FEE_RATE = Decimal("0.029")  # 2.9 % …
FEE_FIXED = 30  # … + 0.30 in settlement minor units
AVAILABLE_AFTER_DAYS = 2
PAYOUT_TIME = time(6)  # local time the daily automatic payout is made
PAYOUT_FAILURES = {
    "account_closed": "The bank account has been closed.",
    "account_frozen": "The bank account has been frozen.",
    "insufficient_funds": "Your Stripe account has insufficient funds to cover the payout.",
    "invalid_account_number": "The bank account number is invalid.",
    "no_account": "The bank account could not be located.",
}
# Rates to CAD: one per currency and day, around these.
_BASE_RATES = {
    "usd": Decimal("1.375"),
    "eur": Decimal("1.49"),
    "gbp": Decimal("1.74"),
    "chf": Decimal("1.57"),
    "aud": Decimal("0.90"),
    "jpy": Decimal("0.0092"),
    "mxn": Decimal("0.075"),
}


def _hash(text: str, size: int = 24) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:size]


def _stable(text: str, modulo: int) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % modulo


def _copy(raw: Any) -> Any:
    return json.loads(json.dumps(raw))


def exchange_rate(source: str, settlement: str, day: date) -> Decimal | None:
    """Stripe's rate for `day` (`source amount × rate = settlement amount`, major units), 6
    decimals; None for the same currency. USD→CAD lies in [1.35, 1.40]; others ±1.8 % of a base."""
    source, settlement = source.lower(), settlement.lower()
    if source == settlement:
        return None
    key = f"{source}/{settlement}/{day.isoformat()}"
    if (source, settlement) == ("usd", "cad"):
        return Decimal("1.35") + Decimal(_stable(key, 50_001)).scaleb(-6)
    to_cad = _BASE_RATES.get(source, Decimal(1))
    from_cad = _BASE_RATES.get(settlement, Decimal(1)) if settlement != "cad" else Decimal(1)
    base = to_cad / from_cad
    swing = Decimal(_stable(key, 3601) - 1800).scaleb(-5)  # ±1.8 %
    return (base * (1 + swing)).quantize(Decimal("0.000001"), ROUND_HALF_EVEN)


def convert(amount: int, source: str, settlement: str, day: date) -> tuple[int, Decimal | None]:
    """`amount` (minor units of `source`) in settlement minor units, rounded half-even, and the
    rate used (None when no conversion)."""
    rate = exchange_rate(source, settlement, day)
    if rate is None:
        return amount, None
    shift = currency_decimals(settlement) - currency_decimals(source)
    settled = (Decimal(amount) * rate).scaleb(shift).to_integral_value(ROUND_HALF_EVEN)
    return int(settled), rate


def processing_fee(settled: int) -> int:
    """2.9 % + 0.30 of a settled charge, in minor units: the percentage rounded half-up."""
    return int((Decimal(settled) * FEE_RATE).to_integral_value(ROUND_HALF_UP)) + FEE_FIXED


class MoneyBook:
    """The charges, BTs and payouts of one stand-in account (in memory; the caller locks)."""

    def __init__(
        self,
        settlement_currency: str = SETTLEMENT_CURRENCY,
        account_zone: str = ACCOUNT_ZONE,
        monthly_billing_fee: int = 0,
    ):
        self.currency = settlement_currency.lower()
        self.zone = ZoneInfo(account_zone)
        self.monthly_billing_fee = monthly_billing_fee
        self.charges: dict[str, dict[str, Any]] = {}
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.transactions: dict[str, dict[str, Any]] = {}
        self.payouts: dict[str, dict[str, Any]] = {}
        self.members: dict[str, list[str]] = {}  # payout → the BTs it paid out, its own first
        self.paid_by: dict[str, str] = {}  # BT → the payout that paid it out
        self.charged: set[str] = set()  # Stripe invoices whose charge exists
        self.fee_months: set[str] = set()
        self.last_payout_day: date | None = None

    # -- time ---------------------------------------------------------------------------------

    def local_day(self, unix: int) -> date:
        return datetime.fromtimestamp(unix, self.zone).date()

    def _at(self, day: date, moment: time = time(0)) -> int:
        return int(datetime.combine(day, moment, self.zone).timestamp())

    def available_on(self, created: int) -> int:
        return self._at(self.local_day(created) + timedelta(days=AVAILABLE_AFTER_DAYS))

    # -- recording ----------------------------------------------------------------------------

    def _record(
        self,
        txn_id: str,
        *,
        type_: str,
        category: str,
        amount: int,
        fee: int,
        created: int,
        source: str | None,
        description: str,
        rate: Decimal | None = None,
        available_on: int | None = None,
        fee_description: str = "Stripe processing fees",
    ) -> dict[str, Any]:
        if txn_id in self.transactions:
            return self.transactions[txn_id]
        bt = {
            "id": txn_id,
            "object": "balance_transaction",
            "amount": amount,
            "available_on": self.available_on(created) if available_on is None else available_on,
            "balance_type": "payments",
            "created": created,
            "currency": self.currency,
            "description": description,
            "exchange_rate": float(rate) if rate is not None else None,
            "fee": fee,
            "fee_details": [
                {
                    "amount": fee,
                    "application": None,
                    "currency": self.currency,
                    "description": fee_description,
                    "type": "stripe_fee",
                }
            ]
            if fee
            else [],
            "net": amount - fee,
            "reporting_category": category,
            "source": source,
            "status": "pending",
            "type": type_,
        }
        self.transactions[txn_id] = bt
        return bt

    def add_charge(
        self,
        *,
        charge_id: str,
        payment_intent: str,
        amount: int,
        currency: str,
        created: int,
        customer: str | None = None,
        metadata: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """A succeeded charge and its BT (once per `charge_id`); returns the charge."""
        if charge_id in self.charges:
            return self.charges[charge_id]
        currency = currency.lower()
        settled, rate = convert(amount, currency, self.currency, self.local_day(created))
        txn = "txn_" + _hash("charge/" + charge_id)
        self._record(
            txn,
            type_="charge",
            category="charge",
            amount=settled,
            fee=processing_fee(settled),
            created=created,
            source=charge_id,
            description=description or f"Payment for {payment_intent}",
            rate=rate,
        )
        self.payment_intents[payment_intent] = {
            "id": payment_intent,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount,
            "created": created,
            "currency": currency,
            "customer": customer,
            "latest_charge": charge_id,
            "livemode": False,
            "metadata": dict(metadata or {}),
            "status": "succeeded",
        }
        self.charges[charge_id] = {
            "id": charge_id,
            "object": "charge",
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": 0,
            "balance_transaction": txn,
            "captured": True,
            "created": created,
            "currency": currency,
            "customer": customer,
            "description": description,
            "disputed": False,
            "livemode": False,
            "metadata": {},  # Stripe does not copy the PaymentIntent's metadata to its charge
            "paid": True,
            "payment_intent": payment_intent,
            "refunded": False,
            "status": "succeeded",
        }
        return self.charges[charge_id]

    def charge_invoice(self, raw: Mapping[str, Any], payment_intent: str) -> None:
        """The charge that paid a Stripe invoice (`ch_<invoice suffix>`), once."""
        paid_at = (raw.get("status_transitions") or {}).get("paid_at") or raw.get(
            "effective_at", raw["created"]
        )
        self.add_charge(
            charge_id="ch_" + payment_intent[3:],
            payment_intent=payment_intent,
            amount=int(raw["amount_paid"]),
            currency=raw["currency"],
            created=int(paid_at),
            customer=raw.get("customer"),
            description=f"Payment for Invoice {raw.get('number') or raw['id']}",
        )
        self.charged.add(raw["id"])

    def refund(self, refund: dict[str, Any]) -> dict[str, Any]:
        """The refund's BT (−, converted at its day's rate); sets `balance_transaction`."""
        settled, rate = convert(
            refund["amount"], refund["currency"], self.currency, self.local_day(refund["created"])
        )
        bt = self._record(
            "txn_" + _hash("refund/" + refund["id"]),
            type_="refund",
            category="refund",
            amount=-settled,
            fee=0,
            created=refund["created"],
            source=refund["id"],
            description=f"REFUND FOR CHARGE ({refund.get('charge')})",
            rate=rate,
        )
        refund["balance_transaction"] = bt["id"]
        charge = self.charges.get(refund.get("charge") or "")
        if charge is not None:
            charge["amount_refunded"] += refund["amount"]
            charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        return bt

    def refund_failure(self, refund: dict[str, Any], created: int) -> dict[str, Any]:
        """A failed / canceled refund's money back (+ the refund's settled amount)."""
        refunded = self.transactions.get(refund.get("balance_transaction") or "")
        if refunded is None:
            refunded = self.refund(refund)
        bt = self._record(
            "txn_" + _hash("refund_failure/" + refund["id"]),
            type_="refund_failure",
            category="refund_failure",
            amount=-refunded["amount"],
            fee=0,
            created=created,
            source=refund["id"],
            description=f"REFUND FAILURE FOR {refund['id']}",
            rate=Decimal(str(refunded["exchange_rate"])) if refunded["exchange_rate"] else None,
        )
        refund["failure_balance_transaction"] = bt["id"]
        return bt

    def dispute_withdrawal(
        self,
        txn_id: str,
        *,
        dispute_id: str,
        payment_intent: str,
        amount: int,
        currency: str,
        fee: int,
        created: int,
    ) -> dict[str, Any]:
        """A dispute's withdrawal: −amount converted, and the dispute fee (settlement units)."""
        settled, rate = convert(amount, currency, self.currency, self.local_day(created))
        return self._record(
            txn_id,
            type_="adjustment",
            category="dispute",
            amount=-settled,
            fee=fee,
            created=created,
            source=dispute_id,
            description=f"Chargeback withdrawal for {payment_intent}",
            rate=rate,
            fee_description="Dispute fee",
        )

    def dispute_reversal(
        self, txn_id: str, withdrawal: Mapping[str, Any], payment_intent: str, created: int
    ) -> dict[str, Any]:
        """A won dispute's reinstatement: the withdrawn amount back, the fee kept."""
        rate = withdrawal.get("exchange_rate")
        return self._record(
            txn_id,
            type_="adjustment",
            category="dispute_reversal",
            amount=-withdrawal["amount"],
            fee=0,
            created=created,
            source=withdrawal["source"],
            description=f"Chargeback reversal for {payment_intent}",
            rate=Decimal(str(rate)) if rate else None,
        )

    def billing_fee(self, month: date, amount: int) -> dict[str, Any]:
        """Stripe Billing's fee for the month before `month`, charged on `month`'s 1st."""
        created = self._at(month)
        return self._record(
            "txn_" + _hash(f"stripe_fee/{month.isoformat()}"),
            type_="stripe_fee",
            category="fee",
            amount=-amount,
            fee=0,
            created=created,
            source=None,
            description=f"Billing - Usage Fee ({(month - timedelta(days=1)):%Y-%m})",
            available_on=created,
        )

    # -- payouts ------------------------------------------------------------------------------

    def sync(self, now: datetime, invoices: Iterable[Mapping[str, Any]], payment_of) -> None:
        """Record what `now` has made happen: the charges of paid invoices (paid by `now`), the
        monthly fees, and each day's payout up to `now`. Idempotent."""
        now_ts = int(now.timestamp())
        for raw in invoices:
            # Paid, or partly paid and still open: either way a charge took the money.
            if raw.get("id") in self.charged or raw.get("status") not in ("paid", "open"):
                continue
            paid = raw.get("amount_paid")
            if isinstance(paid, bool) or not isinstance(paid, int) or paid <= 0:
                continue
            paid_at = (raw.get("status_transitions") or {}).get("paid_at") or raw.get(
                "effective_at", raw.get("created")
            )
            currency = raw.get("currency")
            if not isinstance(paid_at, int) or paid_at > now_ts or not isinstance(currency, str):
                continue
            self.charge_invoice(raw, payment_of(raw))
        if self.monthly_billing_fee and self.transactions:
            first = self.local_day(min(t["created"] for t in self.transactions.values()))
            month = (first.replace(day=1) + timedelta(days=32)).replace(day=1)
            while self._at(month) <= now_ts:
                if month.isoformat() not in self.fee_months:
                    self.fee_months.add(month.isoformat())
                    self.billing_fee(month, self.monthly_billing_fee)
                month = (month + timedelta(days=32)).replace(day=1)
        self._pay_out(now_ts)
        for payout in self.payouts.values():
            if payout["status"] == "in_transit" and payout["arrival_date"] <= now_ts:
                payout["status"] = "paid"
                payout["reconciliation_status"] = "completed"

    def _pay_out(self, now_ts: int) -> None:
        waiting = [t for t in self.transactions.values() if t["id"] not in self.paid_by]
        if not waiting:
            return
        first = self.local_day(min(t["available_on"] for t in waiting))
        day = first
        if self.last_payout_day is not None:
            day = max(first, self.last_payout_day + timedelta(days=1))
        while self._at(day, PAYOUT_TIME) <= now_ts:
            moment = self._at(day, PAYOUT_TIME)
            swept = [t for t in waiting if t["available_on"] <= moment and t["created"] <= moment]
            total = sum(t["net"] for t in swept)
            if swept and total > 0:
                self._payout(day, moment, swept, total)
                done = {t["id"] for t in swept}
                waiting = [t for t in waiting if t["id"] not in done]
            self.last_payout_day = day
            day += timedelta(days=1)

    def _payout(self, day: date, moment: int, swept: list[dict[str, Any]], total: int) -> None:
        po_id = "po_" + _hash(f"payout/{self.currency}/{day.isoformat()}")
        own = self._record(
            "txn_" + _hash("payout/" + po_id),
            type_="payout",
            category="payout",
            amount=-total,
            fee=0,
            created=moment,
            source=po_id,
            description="STRIPE PAYOUT",
            available_on=moment,
        )
        self.payouts[po_id] = {
            "id": po_id,
            "object": "payout",
            "amount": total,
            "application_fee": None,
            "application_fee_amount": None,
            "arrival_date": self._at(day + timedelta(days=1)),
            "automatic": True,
            "balance_transaction": own["id"],
            "created": moment,
            "currency": self.currency,
            "description": "STRIPE PAYOUT",
            "destination": "ba_standin",
            "failure_balance_transaction": None,
            "failure_code": None,
            "failure_message": None,
            "livemode": False,
            "metadata": {},
            "method": "standard",
            "original_payout": None,
            "reconciliation_status": "in_progress",
            "reversed_by": None,
            "source_type": "card",
            "statement_descriptor": None,
            "status": "in_transit",
            "trace_id": {"status": "pending", "value": None},
            "type": "bank_account",
        }
        self.members[po_id] = [own["id"], *(t["id"] for t in swept)]
        for txn in self.members[po_id]:
            self.paid_by[txn] = po_id

    def return_payout(self, po_id: str, now: datetime, code: str, *, cancel: bool) -> str:
        """A payout failed (or was canceled): its money back in the balance; the BT's id."""
        payout = self.payouts.get(po_id)
        if payout is None:
            raise KeyError(f"the stand-in has made no payout {po_id}")
        if payout["status"] in ("failed", "canceled"):
            raise ValueError(f"payout {po_id} is already {payout['status']}")
        if cancel and payout["status"] == "paid":
            raise ValueError(f"payout {po_id} is paid: only a payout not yet paid can be canceled")
        created = max(int(now.timestamp()), payout["created"])
        kind = "payout_cancel" if cancel else "payout_failure"
        bt = self._record(
            "txn_" + _hash(f"{kind}/{po_id}"),
            type_=kind,
            category="payout_reversal",
            amount=payout["amount"],
            fee=0,
            created=created,
            source=po_id,
            description=f"{'CANCELED' if cancel else 'FAILED'} STRIPE PAYOUT",
            available_on=created,
        )
        payout.update(
            status="canceled" if cancel else "failed",
            failure_balance_transaction=bt["id"],
            failure_code=None if cancel else code,
            failure_message=None if cancel else PAYOUT_FAILURES.get(code, code),
            reconciliation_status="completed",
        )
        return bt["id"]

    # -- reading ------------------------------------------------------------------------------

    def served(self, bt: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        """A copy of a BT as served at `now` (its status by `available_on`)."""
        copy = _copy(bt)
        copy["status"] = "available" if bt["available_on"] <= now.timestamp() else "pending"
        return copy

    def balance(self, now: datetime) -> dict[str, int]:
        """Σ net of the BTs no payout holds: available (by `available_on`) and pending."""
        now_ts = now.timestamp()
        sums = {"available": 0, "pending": 0}
        for bt in self.transactions.values():
            if bt["id"] in self.paid_by or bt["created"] > now_ts:
                continue
            sums["available" if bt["available_on"] <= now_ts else "pending"] += bt["net"]
        return sums
