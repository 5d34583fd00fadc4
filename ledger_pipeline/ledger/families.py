"""Service families: which income account a billed line's revenue belongs to (DESIGN rule 1)."""

from __future__ import annotations

import re

HOSTING, MANAGED, ADDONS, OTHER, BASE = "hosting", "managed", "addons", "other", "base"

# First match wins, on the lower-cased description.
_FAMILY_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (HOSTING, ("odoo erp hosting", "wordpress website hosting")),
    (MANAGED, ("managed",)),
    (ADDONS, ("daily backup", "whatsapp", "forms builder", "white label")),
)

INCOME_ACCOUNTS: dict[str, tuple[str, str]] = {
    HOSTING: ("NCR.HOSTING", "NexaCloud revenue: hosting"),
    MANAGED: ("NCR.MANAGED", "NexaCloud revenue: managed services"),
    ADDONS: ("NCR.ADDONS", "NexaCloud revenue: add-ons"),
    OTHER: ("NCR.OTHER", "NexaCloud revenue: other"),
    BASE: ("NCR.BASE", "NexaCloud revenue: base plans and unitemized charges"),
}

# "Remaining time on X after …", "Unused time on X from …", "Remaining time on X (…": the
# proration is revenue of the service X it prorates.
_PRORATION = re.compile(
    r"^(?:remaining|unused) time on (?P<service>.+?)(?:\s+(?:after|from)\s|\s*\(|$)"
)


def prorated_service(description: str | None) -> str | None:
    """The service a proration line is about, or None when the line is not a proration."""
    match = _PRORATION.match((description or "").strip().lower())
    return match.group("service") if match else None


def family_of(description: str | None) -> str:
    """A NULL or empty description names no service: `other`, like any unmatched one."""
    text = (description or "").strip().lower()
    text = prorated_service(text) or text
    for family, keywords in _FAMILY_KEYWORDS:
        if any(keyword in text for keyword in keywords):
            return family
    return OTHER


def income_account_code(family: str) -> str:
    return INCOME_ACCOUNTS[family][0]
