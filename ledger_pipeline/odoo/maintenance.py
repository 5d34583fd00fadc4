"""Pruning the old module's superseded "metered shadow" data from Odoo (DESIGN rule 13).

Shadow subscriptions (`sale.order` with `x_fc_shadow`), NexaCloud charges and reconciliation rows
are deleted; `NC-*` products are deleted, or archived when Odoo refuses because something still
refers to them. Charges go before products because they refer to them. A model or field the
database does not have (the old module was never installed) counts as nothing to prune.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger_pipeline.odoo.errors import OdooError
from ledger_pipeline.odoo.transport import OdooTransport

# (label, model, domain), in deletion order.
SHADOW_DATA = (
    ("shadow subscriptions", "sale.order", [["x_fc_shadow", "=", True]]),
    ("NexaCloud charges", "fusion.billing.charge", []),
    ("reconciliation rows", "fusion.billing.reconciliation", []),
    ("NC-* products", "product.product", [["default_code", "=like", "NC-%"]]),
)
_ABSENT = ("doesn't exist", "Invalid field", "does not exist")


@dataclass
class PruneReport:
    dry_run: bool
    found: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    archived: dict[str, int] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)  # models/fields this database lacks


def prune_metered_shadow(odoo: OdooTransport, *, dry_run: bool = True) -> PruneReport:
    report = PruneReport(dry_run=dry_run)
    for label, model, domain in SHADOW_DATA:
        try:
            ids = odoo.call(model, "search", domain=domain) or []
        except OdooError as exc:
            if any(marker in exc.message for marker in _ABSENT):
                report.absent.append(f"{model} ({exc.message})")
                continue
            raise
        report.found[label] = len(ids)
        if dry_run or not ids:
            continue
        if model == "sale.order":
            # Odoo refuses to delete a confirmed order: cancel the shadows first.
            odoo.call(model, "action_cancel", ids)
        try:
            odoo.call(model, "unlink", ids)
            report.deleted[label] = len(ids)
        except OdooError:
            if model != "product.product":
                raise
            # Undeletable (still referenced) products are archived instead.
            odoo.write(model, ids, {"active": False})
            report.archived[label] = len(ids)
    return report
