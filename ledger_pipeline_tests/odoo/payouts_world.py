"""A Stripe money trail booked in the Odoo stand-in by the real writers (invoices with their
payments, a refunded credit note, a lost dispute with its fee entry, a USD invoice), and the
payouts Stripe would make of it, planned by `plan_payout` against what Odoo holds."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from ledger_pipeline.ledger.payouts import (
    BalanceTransaction,
    Doc,
    DocKind,
    Payout,
    PayoutPlan,
    plan_payout,
)
from ledger_pipeline.odoo.payout_readback import read_items
from ledger_pipeline.odoo.payout_setup import PayoutSetup
from ledger_pipeline.odoo.transport import OdooTransport, connect
from ledger_pipeline_tests.odoo.conftest import PROTOCOL, ledger_for
from ledger_pipeline_tests.odoo.corrections_world import corrections, invoices
from ledger_pipeline_tests.odoo.plans import move, paid_in_full

D = Decimal
FEE = D("5.22")
CHARGED = date(2026, 3, 20)


def writer(odoo) -> OdooTransport:
    return connect(
        odoo.url, odoo.database, odoo.api_key, login=odoo.login, protocol=PROTOCOL[odoo.version]
    )


def book_world(odoo, *, late_payment: bool = True) -> None:
    """Invoices pa, pb, pc (CAD) and pusd (USD at 1.40), all paid on 03-20 except pb when
    `late_payment` (its payment comes later: `pay_late`); a credit note refunded by re_refunded
    (33.90) and a lost dispute dp_lost (100.00, fee 15.00) on invoices paid 03-20."""
    with writer(odoo) as rpc:
        usd = rpc.search_read("res.currency", [["name", "=", "USD"]], ["id"])[0]["id"]
        rpc.create(
            "res.currency.rate",
            [{"currency_id": usd, "name": "2026-01-01", "inverse_company_rate": 1.40}],
        )
    version = odoo.version
    world = invoices(version)
    plans = [
        paid_in_full(move("pa", version=version, user="u-pa")),
        _pb(version, paid=not late_payment),
        paid_in_full(move("pc", version=version, user="u-pc")),
        paid_in_full(move("pusd", version=version, user="u-usd", currency="USD")),
        world["refunded"],
        world["lost"],
    ]
    report = ledger_for(odoo).book(plans)
    assert report.summary["failed"] == report.summary["quarantined"] == 0, report.summary
    planned = corrections(version)
    booked = ledger_for(odoo).book_corrections([planned["refunded"], planned["lost"]])
    assert booked.summary["booked"] == 2, [(r.key, r.error, r.reason) for r in booked.results]


def _pb(version: int, *, paid: bool):
    plan = move("pb", version=version, user="u-pb")
    return paid_in_full(plan) if paid else replace(plan, payment=None)


def pay_late(odoo) -> None:
    """pb's payment, booked by the invoice writer on a later run."""
    report = ledger_for(odoo).book([_pb(odoo.version, paid=True)])
    assert report.summary["failed"] == 0, report.summary


def _charge(name: str, amount: str, fee: Decimal = FEE, **more) -> BalanceTransaction:
    value = D(amount)
    return BalanceTransaction(
        id=f"txn_{name}",
        type="charge",
        category="charge",
        amount=value,
        fee=fee,
        net=value - fee,
        currency="cad",
        created=CHARGED,
        source_id=f"ch_{name}",
        doc=Doc(DocKind.INVOICE, f"in_{name}"),
        description=f"Payment for invoice in_{name}",
        **more,
    )


def paid_payout() -> Payout:
    """po_1: four CAD charges (pb's payment may not be in Odoo yet), the USD one settled at
    240.00 CAD (Odoo booked 237.29: a 2.71 gain), the refund, the lost dispute and its fee."""
    bts = [
        _charge("pa", "169.49"),
        _charge("pb", "169.49"),
        _charge("cx-refunded", "169.49"),
        _charge("cx-lost", "169.49"),
        _charge(
            "pusd",
            "240.00",
            fee=D("7.26"),
            exchange_rate=D("1.416012"),
            source_amount=D("169.49"),
            source_currency="usd",
        ),
        BalanceTransaction(
            "txn_re", "refund", "refund", D("-33.90"), D(0), D("-33.90"), "cad",
            date(2026, 3, 26), "re_refunded", Doc(DocKind.REFUND, "re_refunded"),
        ),
        BalanceTransaction(
            "txn_dp", "adjustment", "dispute", D("-100.00"), D("15.00"), D("-115.00"), "cad",
            date(2026, 3, 25), "dp_lost", Doc(DocKind.DISPUTE, "dp_lost"), dispute_status="lost",
        ),
    ]  # fmt: skip
    net = sum((bt.net for bt in bts), D(0))
    own = BalanceTransaction("txn_po1", "payout", "payout", -net, D(0), -net, "cad", CHARGED)
    return Payout("po_1", net, "cad", "paid", date(2026, 3, 27), CHARGED, True, (*bts, own))


def failed_payout() -> Payout:
    """po_2: pc's charge, paid out on 03-27 and returned on 03-28."""
    bts = (_charge("pc", "169.49"),)
    net = bts[0].net
    own = BalanceTransaction("txn_po2", "payout", "payout", -net, D(0), -net, "cad", CHARGED)
    return Payout(
        "po_2",
        net,
        "cad",
        "failed",
        date(2026, 3, 27),
        CHARGED,
        True,
        (*bts, own),
        failed_on=date(2026, 3, 28),
        failure_message="account closed",
    )


def plan_all(rpc: OdooTransport, setup: PayoutSetup, payouts: list[Payout]) -> list[PayoutPlan]:
    docs = {bt.doc for p in payouts for bt in p.transactions if bt.doc is not None}
    docs |= {Doc(DocKind.DISPUTE_FEE, "dp_lost")}
    items = read_items(rpc, setup, docs)
    return [plan_payout(p, items, company_currency=setup.company_currency) for p in payouts]
