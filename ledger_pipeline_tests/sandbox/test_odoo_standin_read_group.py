"""The stand-in's grouped reads over HTTP: `read_group` (18 over JSON-RPC, 19 over JSON-2, where
it is deprecated) and 19's `formatted_read_group`. In no recorded transcript: these check the
shapes Odoo's public source gives (see `sandbox/odoo_standin/read_group.py`)."""

from __future__ import annotations

from collections import Counter

import pytest

from ledger_pipeline.sandbox.odoo_standin import OdooStandIn
from ledger_pipeline_tests.sandbox.test_odoo_standin_support import VERSIONS, Rpc

SUMS = ["amount_currency:sum", "balance:sum"]
GROUPBY = ["account_id", "currency_id", "tax_line_id"]


@pytest.fixture(params=VERSIONS)
def rpc(request):
    with OdooStandIn(version=request.param) as odoo:
        yield Rpc(odoo)


def _ids(rpc: Rpc, model: str, field: str, values: list[str]) -> dict[str, int]:
    rows = rpc.ok(model, "search_read", domain=[[field, "in", values]], fields=[field])
    return {row[field]: row["id"] for row in rows}


def _entries(rpc: Rpc) -> dict:
    """Three MISC entries in CAD: two posted (one with a tax line), one left draft."""
    accounts = _ids(rpc, "account.account", "code", ["112110", "411000", "233000"])
    journal = _ids(rpc, "account.journal", "code", ["MISC"])["MISC"]
    tax = _ids(rpc, "account.tax", "name", ["13% HST"])["13% HST"]

    def entry(day: str, lines: list[tuple[str, float, float, int | None]], post: bool) -> int:
        vals = {
            "move_type": "entry",
            "journal_id": journal,
            "date": day,
            "line_ids": [
                [
                    0,
                    0,
                    {
                        "account_id": accounts[code],
                        "name": f"{code} {day}",
                        "debit": debit,
                        "credit": credit,
                        **({"tax_line_id": tax_id} if tax_id else {}),
                    },
                ]
                for code, debit, credit, tax_id in lines
            ],
        }
        move_id = rpc.create("account.move", vals)
        if post:
            rpc.ok("account.move", "action_post", [move_id])
        return move_id

    entry(
        "2026-03-05",
        [("112110", 113.0, 0.0, None), ("411000", 0.0, 100.0, None), ("233000", 0.0, 13.0, tax)],
        post=True,
    )
    entry("2026-03-09", [("112110", 50.1, 0.0, None), ("411000", 0.0, 50.1, None)], post=True)
    entry("2026-03-12", [("112110", 7.0, 0.0, None), ("411000", 0.0, 7.0, None)], post=False)
    return {"accounts": accounts, "tax": tax, "journal": journal}


POSTED_MARCH = [
    ["parent_state", "=", "posted"],
    ["date", ">=", "2026-03-01"],
    ["date", "<", "2026-04-01"],
]


def test_read_group_eager_gives_one_flat_row_per_group(rpc):
    made = _entries(rpc)
    groups = rpc.ok(
        "account.move.line",
        "read_group",
        domain=POSTED_MARCH,
        fields=SUMS,
        groupby=GROUPBY,
        lazy=False,
    )
    by_account = {g["account_id"][0]: g for g in groups}
    receivable, income, tax = (made["accounts"][c] for c in ("112110", "411000", "233000"))
    assert sorted(by_account) == sorted([receivable, income, tax])
    for group in groups:
        assert set(group) == {*GROUPBY, "amount_currency", "balance", "__count", "__domain"}
        assert group["account_id"][1].startswith(
            next(code for code, i in made["accounts"].items() if i == group["account_id"][0])
        )  # [id, display_name]: the account's "code name"
        assert group["currency_id"][1] == "CAD"
    assert (by_account[receivable]["balance"], by_account[receivable]["__count"]) == (163.1, 2)
    assert (by_account[income]["amount_currency"], by_account[income]["__count"]) == (-150.1, 2)
    assert by_account[receivable]["tax_line_id"] is False  # no tax line: False, not [id, name]
    assert by_account[tax]["tax_line_id"] == [made["tax"], "13% HST"]
    assert by_account[tax]["balance"] == -13.0
    for group in groups:  # each group's __domain selects exactly its items
        count = rpc.ok("account.move.line", "search_count", domain=group["__domain"])
        assert count == group["__count"]


def test_read_group_lazy_groups_by_the_first_field_and_counts_under_its_name(rpc):
    _entries(rpc)
    groups = rpc.ok(
        "account.move.line", "read_group", domain=POSTED_MARCH, fields=SUMS, groupby=GROUPBY
    )
    assert len(groups) == 3
    for group in groups:
        assert "account_id_count" in group and "__count" not in group
        assert group["__context"] == {"group_by": ["currency_id", "tax_line_id"]}
        assert "currency_id" not in group
    assert sum(g["account_id_count"] for g in groups) == 5  # the draft's items are not counted
    assert sum(g["balance"] for g in groups) == pytest.approx(0)


def test_a_field_without_aggregate_is_summed_when_numeric(rpc):
    _entries(rpc)
    groups = rpc.ok(
        "account.move.line",
        "read_group",
        domain=POSTED_MARCH,
        fields=["balance", "name"],
        groupby=["currency_id"],
        lazy=False,
    )
    assert [(g["currency_id"][1], g["balance"], g["__count"]) for g in groups] == [("CAD", 0, 5)]
    assert "name" not in groups[0]  # a char field has no default aggregator


def test_no_groupby_gives_one_row_even_with_no_records(rpc):
    groups = rpc.ok(
        "account.move.line",
        "read_group",
        domain=[["id", "=", -1]],
        fields=SUMS,
        groupby=[],
        lazy=False,
    )
    assert [(g["__count"], g["balance"]) for g in groups] == [(0, False)]


def test_formatted_read_group_keys_aggregates_by_spec_on_19_only(rpc):
    _entries(rpc)
    outcome = rpc.call(
        "account.move.line",
        "formatted_read_group",
        domain=POSTED_MARCH,
        groupby=GROUPBY,
        aggregates=[*SUMS, "__count"],
    )
    if rpc.odoo.version == 18:
        assert outcome.failure[0] == "builtins.AttributeError"
        assert "formatted_read_group" in outcome.failure[1]
        return
    groups = outcome.result
    assert len(groups) == 3
    for group in groups:
        assert set(group) == {*GROUPBY, *SUMS, "__count", "__extra_domain"}
        domain = POSTED_MARCH + group["__extra_domain"]
        assert rpc.ok("account.move.line", "search_count", domain=domain) == group["__count"]
    totals = Counter()
    for group in groups:
        totals["balance"] += round(group["balance:sum"] * 100)
        totals["items"] += group["__count"]
    assert totals == {"balance": 0, "items": 5}


def test_groups_follow_a_dotted_domain(rpc):
    made = _entries(rpc)
    groups = rpc.ok(
        "account.move.line",
        "read_group",
        domain=[
            *POSTED_MARCH,
            ["journal_id.code", "=", "MISC"],
            ["move_id.date", "<", "2026-03-06"],
        ],
        fields=SUMS,
        groupby=["account_id"],
        lazy=False,
    )
    assert {g["account_id"][0]: g["__count"] for g in groups} == {
        made["accounts"]["112110"]: 1,
        made["accounts"]["411000"]: 1,
        made["accounts"]["233000"]: 1,
    }


@pytest.mark.parametrize(
    ("fields", "groupby", "message"),
    [
        (SUMS, ["no_such_field"], "Invalid field 'no_such_field' on model 'account.move.line'"),
        (
            ["no_such_field:sum"],
            ["account_id"],
            "Invalid field 'no_such_field' on model 'account.move.line' for 'no_such_field:sum'.",
        ),
        (
            ["balance:median"],
            ["account_id"],
            "Invalid aggregate method 'median' for 'balance:median'.",
        ),
        (
            ["no_such_field"],
            ["account_id"],
            "Invalid field 'no_such_field' on model 'account.move.line'",
        ),
        (SUMS, ["display_name"], "Cannot convert account.move.line.display_name to SQL"),
    ],
)
def test_bad_fields_and_aggregates_are_odoo_value_errors(rpc, fields, groupby, message):
    outcome = rpc.call(
        "account.move.line", "read_group", domain=[], fields=fields, groupby=groupby, lazy=False
    )
    name, text = outcome.failure
    assert name == "builtins.ValueError"
    assert text.startswith(message)


@pytest.mark.parametrize("rpc", [19], indirect=True)  # formatted_read_group is Odoo 19's
def test_a_bad_aggregate_fails_formatted_read_group_too(rpc):
    outcome = rpc.call(
        "account.move.line",
        "formatted_read_group",
        domain=[],
        groupby=["account_id"],
        aggregates=["balance"],
    )
    assert outcome.failure == ("builtins.ValueError", "Aggregate method is mandatory for 'balance'")
    assert outcome.status == 500
