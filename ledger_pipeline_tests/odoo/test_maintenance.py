"""Pruning the old module's metered shadow data: opt-in, dry run by default, archive as fallback."""

import dagster as dg

from ledger_pipeline.maintenance import prune_metered_shadow_job
from ledger_pipeline.odoo.errors import OdooError
from ledger_pipeline.odoo.maintenance import prune_metered_shadow
from ledger_pipeline.odoo.resource import OdooLedger
from ledger_pipeline.sandbox.odoo_standin import OdooStandIn


class RecordingOdoo:
    """Answers searches from a table and records every call; `refuse` makes unlink fail."""

    def __init__(self, found: dict[str, list[int]], refuse: set[str] = frozenset()):
        self.found, self.refuse, self.calls = found, refuse, []

    def call(self, model, method, ids=None, /, **params):
        self.calls.append((model, method, tuple(ids or ())))
        if method == "search":
            if model not in self.found:
                raise OdooError("odoo.exceptions.UserError", f"Object {model} doesn't exist")
            return self.found[model]
        if method == "unlink" and model in self.refuse:
            raise OdooError("odoo.exceptions.UserError", "referenced by other records")
        return True

    def write(self, model, ids, vals):
        self.calls.append((model, "write", tuple(ids), tuple(sorted(vals.items()))))


def test_dry_run_only_counts():
    odoo = RecordingOdoo({"sale.order": [1, 2], "fusion.billing.charge": [5],
                          "fusion.billing.reconciliation": [], "product.product": [9]})  # fmt: skip
    report = prune_metered_shadow(odoo, dry_run=True)
    assert report.found == {
        "shadow subscriptions": 2, "NexaCloud charges": 1, "reconciliation rows": 0,
        "NC-* products": 1,
    }  # fmt: skip
    assert {method for _, method, *_ in odoo.calls} == {"search"}


def test_deletes_in_order_and_archives_products_odoo_refuses_to_delete():
    odoo = RecordingOdoo(
        {"sale.order": [1], "fusion.billing.charge": [5], "fusion.billing.reconciliation": [7],
         "product.product": [9]},
        refuse={"product.product"},
    )  # fmt: skip
    report = prune_metered_shadow(odoo, dry_run=False)
    writes = [c for c in odoo.calls if c[1] != "search"]
    assert writes == [
        ("sale.order", "action_cancel", (1,)),  # a confirmed order must be cancelled first
        ("sale.order", "unlink", (1,)),
        ("fusion.billing.charge", "unlink", (5,)),  # charges before the products they refer to
        ("fusion.billing.reconciliation", "unlink", (7,)),
        ("product.product", "unlink", (9,)),
        ("product.product", "write", (9,), (("active", False),)),
    ]
    assert report.archived == {"NC-* products": 1}


def test_models_the_database_lacks_are_nothing_to_prune():
    report = prune_metered_shadow(RecordingOdoo({"product.product": []}), dry_run=False)
    assert len(report.absent) == 3 and report.found == {"NC-* products": 0}


def test_the_job_runs_against_odoo_as_a_dry_run_by_default():
    with OdooStandIn(version=19) as odoo:
        ledger = OdooLedger(url=odoo.url, database=odoo.database, api_key=odoo.api_key)
        result = prune_metered_shadow_job.execute_in_process(resources={"odoo": ledger})
        assert result.success
        writes = {m for (_, m) in odoo.call_counts()} - {"search", "version", "authenticate",
                                                          "context_get"}  # fmt: skip
        assert writes == set()
    assert isinstance(result.output_for_node("prune_metered_shadow"), dict)


def test_the_job_config_defaults_to_dry_run():
    result = dg.validate_run_config(prune_metered_shadow_job, {})
    assert result["ops"]["prune_metered_shadow"]["config"]["dry_run"] is True
