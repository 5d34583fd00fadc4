"""Lock dates, as both recorded versions apply them (odoo-corrections §D).

Posting never raises for a lock: a move dated inside a violated lock gets another accounting date
(`_get_accounting_date`). Resetting a locked entry to draft raises. Which locks apply depends on
the journal: the sales lock covers sale journals only, the purchase lock purchase journals, the
tax lock only moves with taxes; the Global and Hard locks cover everything.
"""

from __future__ import annotations

import calendar
import datetime

from . import sequences, texts
from .errors import UserError

LABELS = {
    "fiscalyear_lock_date": "Global Lock Date",
    "tax_lock_date": "Tax Return Lock Date",
    "sale_lock_date": "Sales Lock Date",
    "purchase_lock_date": "Purchase Lock date",
    "hard_lock_date": "Hard Lock Date",
}
SALE_DOCUMENTS = ("out_invoice", "out_refund", "out_receipt")
NO_DATE = "1-01-01"  # how Odoo writes date.min, its "no lock" (recorded user_hard_lock_date)


def _applicable(journal: dict, *, tax: bool) -> list[str]:
    fields = ["fiscalyear_lock_date"]
    if journal["type"] == "sale":
        fields.append("sale_lock_date")
    if journal["type"] == "purchase":
        fields.append("purchase_lock_date")
    if tax:
        fields.append("tax_lock_date")
    fields.append("hard_lock_date")
    return fields


def violated(env, date: str, journal: dict, *, tax: bool) -> list[tuple[str, str]]:
    """(lock date, field) of every lock that covers `date` in this journal, oldest first
    (`res.company._get_violated_lock_dates`)."""
    company = env.store.get("res.company", env.company_id)
    found = [
        (company[name], name)
        for name in _applicable(journal, tax=tax)
        if company.get(name) and date <= company[name]
    ]
    return sorted(found, key=lambda pair: (pair[0], list(LABELS).index(pair[1])))


def user_fiscal_lock_date(env, journal: dict | None = None) -> str | None:
    """The last locked day for a journal, taxes aside (`_get_user_fiscal_lock_date`)."""
    company = env.store.get("res.company", env.company_id)
    names = ["fiscalyear_lock_date", "hard_lock_date"]
    if journal is not None:
        names = [name for name in _applicable(journal, tax=False) if name != "tax_lock_date"]
    dates = [company[name] for name in names if company.get(name)]
    return max(dates) if dates else None


def day_after(date: str) -> str:
    return (datetime.date.fromisoformat(date) + datetime.timedelta(days=1)).isoformat()


def check_editable(env, move: dict) -> None:
    """`_check_fiscal_lock_dates`: a locked entry cannot change (button_draft, cancel)."""
    journal = env.store.get("account.journal", move["journal_id"])
    locks = violated(env, move["date"], journal, tax=False)
    if locks:
        shown = ", ".join(
            f"{LABELS[name]} ({datetime.date.fromisoformat(date).strftime('%m/%d/%Y')})"
            for date, name in locks
        )
        raise UserError(texts.LOCKED_ENTRY.format(locks=shown))


def _month_end(date: datetime.date) -> datetime.date:
    return date.replace(day=calendar.monthrange(date.year, date.month)[1])


def accounting_date(env, move: dict, locks: list[tuple[str, str]], highest_name: str | None) -> str:
    """`_get_accounting_date`: where a move dated inside a violated lock lands. It depends on
    the server's today and on whether the journal's numbering restarts monthly or yearly."""
    today = datetime.date.fromisoformat(env.today())
    wanted = datetime.date.fromisoformat(move.get("invoice_date") or move["date"])
    monthly = highest_name is None or sequences.is_monthly(highest_name)
    if locks:
        wanted = datetime.date.fromisoformat(day_after(locks[-1][0]))
    if move["move_type"] in SALE_DOCUMENTS:
        if locks:
            end = _month_end(wanted) if monthly else wanted.replace(month=12, day=31)
            return min(today, end).isoformat()
        return wanted.isoformat()
    if monthly:
        if (today.year, today.month) > (wanted.year, wanted.month):
            return _month_end(wanted).isoformat()
        return max(wanted, today).isoformat()
    if today.year > wanted.year:
        return wanted.replace(month=12, day=31).isoformat()
    return max(wanted, today).isoformat()
