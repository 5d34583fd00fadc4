"""Partners keyed by NexaCloud user id through an external id (`nexacloud_ledger.user_<id>`).

A partner and its external id are created together by one `res.partner.load` call (one
transaction; contract §3), so a crash can never leave a partner without its key, which a re-run
would then duplicate. A partner first named after a person is renamed to the company once the
user has one (DESIGN rule 6).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from ledger_pipeline.ledger.model import PartnerPlan
from ledger_pipeline.odoo.errors import OdooError
from ledger_pipeline.odoo.retry import isolate_failures
from ledger_pipeline.odoo.transport import OdooTransport

log = logging.getLogger(__name__)

XMLID_MODULE = "nexacloud_ledger"


def xmlid_name(key: str) -> str:
    return f"user_{key}"


@dataclass
class PartnerResolution:
    """Partner ids by user key; failures by key (Odoo's error); what was or would be changed."""

    ids: dict[str, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def resolve_partners(
    odoo: OdooTransport, plans: Sequence[PartnerPlan], *, dry_run: bool
) -> PartnerResolution:
    """Find every planned partner, create the missing ones and rename the ones rule 6 asks for."""
    wanted = {p.key: p for p in plans}  # one plan per user; the latest wins
    result = PartnerResolution()
    if not wanted:
        return result
    result.ids = _find(odoo, list(wanted))
    renames = _renames(odoo, result, wanted)
    missing = [wanted[key] for key in wanted if key not in result.ids]
    if dry_run:
        result.created = [p.key for p in missing]
        result.renamed = [p.key for p in renames]
        return result
    _load(odoo, missing, result, create=True)
    _load(odoo, renames, result, create=False)
    return result


def _find(odoo: OdooTransport, keys: list[str]) -> dict[str, int]:
    rows = odoo.search_read(
        "ir.model.data",
        [["module", "=", XMLID_MODULE], ["name", "in", [xmlid_name(k) for k in keys]]],
        ["name", "model", "res_id"],
    )
    by_name = {r["name"]: r["res_id"] for r in rows if r.get("model") == "res.partner"}
    return {k: by_name[xmlid_name(k)] for k in keys if xmlid_name(k) in by_name}


def _renames(
    odoo: OdooTransport, result: PartnerResolution, wanted: dict[str, PartnerPlan]
) -> list[PartnerPlan]:
    """Partners to rename: found, planned as a company, but not (yet) named as that company."""
    companies = {k: result.ids[k] for k, p in wanted.items() if p.is_company and k in result.ids}
    if not companies:
        return []
    rows = {
        r["id"]: r
        for r in odoo.read("res.partner", list(companies.values()), ["name", "is_company"])
    }
    renames = []
    for key, partner_id in companies.items():
        row = rows.get(partner_id)
        if row is None:  # the external id outlived its partner: load recreates it
            del result.ids[key]
        elif row["name"] != wanted[key].name or not row["is_company"]:
            renames.append(wanted[key])
    return renames


def _load(
    odoo: OdooTransport, plans: list[PartnerPlan], result: PartnerResolution, *, create: bool
) -> None:
    columns = ["id", "name", "is_company"] + (["email"] if create else [])

    def row(plan: PartnerPlan) -> list[str]:
        values = [
            f"{XMLID_MODULE}.{xmlid_name(plan.key)}",
            plan.name,
            "1" if plan.is_company else "0",
        ]
        return [*values, plan.email or ""] if create else values

    def load(subset: Sequence[PartnerPlan]) -> None:
        answer = odoo.call("res.partner", "load", fields=columns, data=[row(p) for p in subset])
        errors = [m for m in (answer or {}).get("messages", []) if m.get("type") == "error"]
        if errors or not (answer or {}).get("ids"):
            message = "; ".join(str(m.get("message")) for m in errors) or "load returned no ids"
            raise OdooError("res.partner.load", message, model="res.partner", method="load")
        result.ids.update({p.key: pid for p, pid in zip(subset, answer["ids"], strict=True)})
        (result.created if create else result.renamed).extend(p.key for p in subset)

    def pending(subset: Sequence[PartnerPlan]) -> list[PartnerPlan]:
        if not create:
            return list(subset)  # renaming twice is harmless
        found = _find(odoo, [p.key for p in subset])
        result.ids.update(found)
        result.created.extend(p.key for p in subset if p.key in found)
        return [p for p in subset if p.key not in found]

    def failed(plan: PartnerPlan, error: Exception) -> None:
        if create:
            result.failures[plan.key] = f"partner for user {plan.key}: {error}"
        else:  # the partner exists; a refused rename must not stop its invoices
            result.warnings.append(f"partner for user {plan.key} not renamed: {error}")

    isolate_failures(plans, load, pending, failed)
