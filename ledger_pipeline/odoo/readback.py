"""What Odoo holds for a set of invoice keys, for the ledger-parity check (read only).

Amounts are exact Decimals in each move's currency: Odoo's floats are converted through `str`
and quantized to the currency's unit. Revenue is per account code over the product lines of
every (not cancelled) move carrying the key, signed as booked on the move like
`PlannedLine.amount` (positive on a credit note), so a duplicate shows up twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledger_pipeline.odoo.ledger_setup import KEY_FIELD
from ledger_pipeline.odoo.transport import OdooTransport
from ledger_pipeline.odoo.values import chunks, m2o_id, m2o_name, money, text

_MOVE_FIELDS = [
    KEY_FIELD,
    "name",
    "move_type",
    "state",
    "payment_state",
    "currency_id",
    "amount_untaxed",
    "amount_tax",
    "amount_total",
    "amount_residual",
]
_LIVE_PAYMENT = {"in_process", "paid", "posted"}
_STATE_RANK = {"posted": 0, "draft": 1, "cancel": 2}


@dataclass(frozen=True)
class MoveReadBack:
    """Odoo's view of one invoice key. Fields describe its main move (posted first).

    `move_count` counts every move carrying the key (cancelled ones included): more than one is
    a duplicate. `paid_amount` is the sum of the reconciled payments linked to the main move.
    """

    key: str
    move_count: int
    move_id: int | None = None
    name: str | None = None
    move_type: str | None = None
    state: str | None = None
    payment_state: str | None = None
    currency: str | None = None
    amount_untaxed: Decimal | None = None
    amount_tax: Decimal | None = None
    amount_total: Decimal | None = None
    amount_residual: Decimal | None = None
    paid_amount: Decimal | None = None
    revenue_by_account: Mapping[str, Decimal] = field(default_factory=dict)
    move_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class LedgerReadBack:
    """One entry per requested key, found or not."""

    moves: Mapping[str, MoveReadBack]

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(k for k, m in self.moves.items() if m.move_count == 0)

    @property
    def duplicates(self) -> tuple[str, ...]:
        return tuple(k for k, m in self.moves.items() if m.move_count > 1)

    def __getitem__(self, key: str) -> MoveReadBack:
        return self.moves[key]


def read_back(odoo: OdooTransport, keys: Sequence[str], chunk_size: int = 500) -> LedgerReadBack:
    wanted = list(dict.fromkeys(keys))
    if not wanted or not _has_key_field(odoo):
        return LedgerReadBack({k: MoveReadBack(k, 0) for k in wanted})
    moves: dict[str, MoveReadBack] = {}
    for chunk in chunks(wanted, chunk_size):
        moves.update(_read_chunk(odoo, chunk))
    return LedgerReadBack({k: moves[k] for k in wanted})


def _has_key_field(odoo: OdooTransport) -> bool:
    rows = odoo.search_read(
        "ir.model.fields", [["model", "=", "account.move"], ["name", "=", KEY_FIELD]], ["name"]
    )
    return bool(rows)


def _read_chunk(odoo: OdooTransport, keys: list[str]) -> dict[str, MoveReadBack]:
    rows = odoo.search_read("account.move", [[KEY_FIELD, "in", keys]], _MOVE_FIELDS)
    by_key: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_key[row[KEY_FIELD]].append(row)
    live_ids = [r["id"] for r in rows if r["state"] != "cancel"]
    revenue = _revenue(odoo, live_ids, {r["id"]: r for r in rows})
    paid = _paid(odoo, live_ids)
    result = {}
    for key in keys:
        found = sorted(by_key.get(key, []), key=lambda m: (_STATE_RANK.get(m["state"], 3), m["id"]))
        if not found:
            result[key] = MoveReadBack(key, 0)
            continue
        main = found[0]
        currency = m2o_name(main["currency_id"]) or ""
        key_revenue: dict[str, Decimal] = defaultdict(Decimal)
        for move in found:
            for code, value in revenue.get(move["id"], {}).items():
                key_revenue[code] += value
        result[key] = MoveReadBack(
            key=key,
            move_count=len(found),
            move_id=main["id"],
            name=None if text(main["name"]) in (None, "/") else text(main["name"]),
            move_type=main["move_type"],
            state=main["state"],
            payment_state=text(main.get("payment_state")),
            currency=currency,
            amount_untaxed=money(main["amount_untaxed"], currency),
            amount_tax=money(main["amount_tax"], currency),
            amount_total=money(main["amount_total"], currency),
            amount_residual=money(main["amount_residual"], currency),
            paid_amount=_paid_amount(main, paid.get(main["id"]), currency),
            revenue_by_account=dict(key_revenue),
            move_ids=tuple(m["id"] for m in found),
        )
    return result


def _revenue(
    odoo: OdooTransport, move_ids: list[int], moves: dict[int, dict]
) -> dict[int, dict[str, Decimal]]:
    """Product-line subtotals per move and account code, in the move's currency."""
    if not move_ids:
        return {}
    lines = odoo.search_read(
        "account.move.line",
        [["move_id", "in", move_ids], ["display_type", "=", "product"]],
        ["move_id", "account_id", "price_subtotal"],
    )
    account_ids = sorted({m2o_id(ln["account_id"]) for ln in lines} - {None})
    codes = {a["id"]: a["code"] for a in odoo.read("account.account", account_ids, ["code"])}
    revenue: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for line in lines:
        move_id = m2o_id(line["move_id"])
        currency = m2o_name(moves[move_id]["currency_id"]) or ""
        code = codes.get(m2o_id(line["account_id"]), "?")
        revenue[move_id][code] += money(line["price_subtotal"], currency)
    return revenue


def _paid(odoo: OdooTransport, move_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Reconciled, posted payments linked to each move."""
    if not move_ids:
        return {}
    rows = odoo.search_read(
        "account.payment",
        [["invoice_ids", "in", move_ids]],
        ["amount", "state", "is_reconciled", "invoice_ids"],
    )
    paid: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        if row.get("state") not in _LIVE_PAYMENT or not row.get("is_reconciled"):
            continue
        for move_id in row.get("invoice_ids") or []:
            paid[move_id].append(row)
    return paid


def _paid_amount(move: dict[str, Any], payments: list[dict] | None, currency: str) -> Decimal:
    if not payments:
        return money(0, currency)
    if any(len(p.get("invoice_ids") or []) > 1 for p in payments):
        # One payment for several invoices cannot be split by amount: use what it settled here.
        return money(move["amount_total"], currency) - money(move["amount_residual"], currency)
    return sum((money(p["amount"], currency) for p in payments), start=money(0, currency))
