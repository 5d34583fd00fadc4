"""Invoices in the stand-in: Odoo's tax rounding, the tax-totals adjustment (Q12), all-or-nothing
posting (Q13), x2many commands and domains, on both versions where both recorded them. Recorded
values are the contracts' (odoo-contract §2a, odoo19-contract Q3/Q12/Q13); the 19 runs of these
calls are also replayed from the transcript in test_odoo_standin_record."""

from __future__ import annotations

import pytest

from ledger_pipeline.sandbox.odoo_standin import OdooStandIn
from ledger_pipeline_tests.sandbox.test_odoo_standin_support import VERSIONS, Rpc

HST13, GSTPST_BC, GSTPST_MB, GSTPST_SK, GSTQST = (
    7,
    "12% GST+PST BC",
    "12% GST+PST MB",
    ("11% GST+PST SK"),
    "14.975% GST+QST",
)


@pytest.fixture(params=VERSIONS)
def odoo(request):
    with OdooStandIn(version=request.param) as standin:
        yield standin


@pytest.fixture
def rpc(odoo) -> Rpc:
    return Rpc(odoo)


def tax_id(rpc: Rpc, name: str) -> int:
    return rpc.ok("account.tax", "search", domain=[["name", "=", name]])[0]


def draft(rpc: Rpc, *lines, partner: int = 3, **vals) -> int:
    """A draft invoice; a line is (price_unit, quantity[, tax id or name])."""
    commands = []
    for price, quantity, *tax in lines:
        taxes = [tax_id(rpc, tax[0]) if isinstance(tax[0], str) else tax[0]] if tax else [HST13]
        commands.append(
            [
                0,
                0,
                {
                    "name": f"{price} x {quantity}",
                    "price_unit": price,
                    "quantity": quantity,
                    "tax_ids": [[6, 0, taxes]],
                },
            ]
        )
    return rpc.create(
        "account.move",
        {
            "move_type": "out_invoice",
            "partner_id": partner,
            "invoice_date": "2026-03-15",
            "invoice_line_ids": commands,
            **vals,
        },
    )


def totals(rpc: Rpc, move: int) -> tuple[float, float, float]:
    row = rpc.read_one("account.move", move, ["amount_untaxed", "amount_tax", "amount_total"])
    return row["amount_untaxed"], row["amount_tax"], row["amount_total"]


def balanced(rpc: Rpc, move: int) -> bool:
    lines = rpc.ok(
        "account.move.line",
        "search_read",
        domain=[["move_id", "=", move]],
        fields=["debit", "credit"],
    )
    return round(sum(ln["debit"] - ln["credit"] for ln in lines), 2) == 0


def set_rounding(rpc: Rpc, method: str) -> None:
    assert rpc.ok("res.company", "write", [1], vals={"tax_calculation_rounding_method": method})


# -- tax rounding ------------------------------------------------------------------------------
TABLE = [  # lines, tax, (untaxed, tax, total) per method: odoo-contract §2a, odoo19-contract Q3
    ([(200.0, 1)], GSTQST, (200.0, 29.95, 229.95), (200.0, 29.95, 229.95)),
    ([(0.10, 1)], GSTQST, (0.10, 0.02, 0.12), (0.10, 0.02, 0.12)),
    ([(33.33, 1)], GSTQST, (33.33, 4.99, 38.32), (33.33, 4.99, 38.32)),
    ([(0.25, 1), (0.25, 1)], HST13, (0.50, 0.06, 0.56), (0.50, 0.07, 0.57)),
    ([(33.33, 1)] * 3, HST13, (99.99, 12.99, 112.98), (99.99, 13.0, 112.99)),
    ([(33.33, 3)], HST13, (99.99, 13.0, 112.99), (99.99, 13.0, 112.99)),
    ([(33.333, 3)], HST13, (99.99, 13.0, 112.99), (99.99, 13.0, 112.99)),
    ([(15.0, 1)], GSTPST_BC, (15.0, 1.8, 16.8), (15.0, 1.8, 16.8)),
    ([(15.0, 1)], GSTPST_MB, (15.0, 1.8, 16.8), (15.0, 1.8, 16.8)),
    ([(100.0, 1)], GSTPST_SK, (100.0, 11.0, 111.0), (100.0, 11.0, 111.0)),
]


@pytest.mark.parametrize(("lines", "tax", "per_line", "globally"), TABLE)
def test_tax_rounding_per_line_and_globally(rpc, lines, tax, per_line, globally):
    for method, expected in (("round_per_line", per_line), ("round_globally", globally)):
        set_rounding(rpc, method)
        move = draft(rpc, *[(price, quantity, tax) for price, quantity in lines])
        assert totals(rpc, move) == expected, method


def test_default_rounding_per_version(odoo, rpc):
    company = rpc.read_one("res.company", 1, ["tax_calculation_rounding_method"])
    expected = "round_per_line" if odoo.version == 18 else "round_globally"
    assert company["tax_calculation_rounding_method"] == expected


def test_price_unit_is_kept_to_two_digits(rpc):
    move = draft(rpc, (33.333, 3))
    (line,) = rpc.ok(
        "account.move.line",
        "search_read",
        domain=[["move_id", "=", move], ["display_type", "=", "product"]],
        fields=["price_unit"],
    )
    assert line["price_unit"] == 33.33


def test_a_group_tax_is_its_children_each_rounded(rpc):
    move = draft(rpc, (0.10, 1, GSTQST))
    lines = rpc.ok(
        "account.move.line",
        "search_read",
        domain=[["move_id", "=", move], ["display_type", "=", "tax"]],
        fields=["name", "credit"],
    )
    assert sorted((ln["name"], ln["credit"]) for ln in lines) == [
        ("5% GST", 0.01),
        ("9.975% QST", 0.01),
    ]


# -- Q12: making the tax what the source billed ------------------------------------------------
def adjusted(rpc: Rpc) -> int:
    """M1: what the web client's tax-totals widget does, on a round_per_line draft."""
    set_rounding(rpc, "round_per_line")
    move = draft(rpc, (0.25, 1), (0.25, 1))
    widget = rpc.read_one("account.move", move, ["tax_totals"])["tax_totals"]
    group = widget["subtotals"][0]["tax_groups"][0]
    assert (group["id"], group["group_name"], group["tax_amount_currency"]) == (6, "HST 13%", 0.06)
    for holder in (group, widget["subtotals"][0], widget):
        holder["tax_amount_currency"] += 0.01
    widget["total_amount_currency"] += 0.01
    assert rpc.ok("account.move", "write", [move], vals={"tax_totals": widget}) is True
    return move


def test_m1_writing_tax_totals_sets_the_tax_and_survives_posting(rpc):
    move = adjusted(rpc)
    assert totals(rpc, move) == (0.5, 0.07, 0.57) and balanced(rpc, move)
    line = rpc.ok(
        "account.move.line",
        "search",
        domain=[["move_id", "=", move], ["display_type", "=", "product"]],
    )[0]
    for vals in (
        {"ref": "changed"},
        {"narration": "note"},
        {"invoice_date": "2026-03-16"},
        {"invoice_line_ids": [[1, line, {"name": "renamed"}]]},
    ):
        rpc.ok("account.move", "write", [move], vals=vals)
        assert totals(rpc, move) == (0.5, 0.07, 0.57), vals
    rpc.ok("account.move", "action_post", [move])
    row = rpc.read_one("account.move", move, ["state", "amount_tax", "amount_residual"])
    assert (row["state"], row["amount_tax"], row["amount_residual"]) == ("posted", 0.07, 0.57)
    assert balanced(rpc, move)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("quantity", (0.5, 0.06, 0.56)),
        ("price", (0.5, 0.06, 0.56)),
        ("partner", (0.5, 0.06, 0.56)),
        ("untaxed line", (1.5, 0.07, 1.57)),
        ("taxed line", (1.5, 0.19, 1.69)),
    ],
)
def test_m1_adjustment_is_lost_when_the_taxes_are_computed_again(rpc, change, expected):
    move = adjusted(rpc)
    line = rpc.ok(
        "account.move.line",
        "search",
        domain=[["move_id", "=", move], ["display_type", "=", "product"]],
    )[0]
    writes = {
        "quantity": [{"invoice_line_ids": [[1, line, {"quantity": q}]]} for q in (2, 1)],
        "price": [{"invoice_line_ids": [[1, line, {"price_unit": p}]]} for p in (0.30, 0.25)],
        "partner": [{"partner_id": rpc.create("res.partner", {"name": "Other"})}],
        "untaxed line": [{"invoice_line_ids": [[0, 0, {"name": "x", "price_unit": 1.0}]]}],
        "taxed line": [
            {
                "invoice_line_ids": [
                    [0, 0, {"name": "x", "price_unit": 1.0, "tax_ids": [[6, 0, [HST13]]]}]
                ]
            }
        ],
    }[change]
    for vals in writes:
        rpc.ok("account.move", "write", [move], vals=vals)
    assert totals(rpc, move) == expected and balanced(rpc, move)


def test_m4_create_with_a_minimal_tax_totals(rpc):
    set_rounding(rpc, "round_per_line")
    move = draft(
        rpc,
        (0.25, 1),
        (0.25, 1),
        tax_totals={"subtotals": [{"tax_groups": [{"id": 6, "tax_amount_currency": 0.07}]}]},
    )
    assert totals(rpc, move) == (0.5, 0.07, 0.57) and balanced(rpc, move)
    rpc.ok("account.move", "action_post", [move])
    assert totals(rpc, move) == (0.5, 0.07, 0.57)


def test_m15_the_rounding_method_is_not_a_field_of_the_invoice(rpc):
    set_rounding(rpc, "round_per_line")
    move = draft(rpc, (0.25, 1), (0.25, 1))
    rpc.ok(
        "account.move", "write", [move], vals={"tax_calculation_rounding_method": "round_globally"}
    )
    assert totals(rpc, move) == (0.5, 0.06, 0.56)
    company = rpc.read_one("res.company", 1, ["tax_calculation_rounding_method"])
    assert company["tax_calculation_rounding_method"] == "round_per_line"


def test_company_rounding_applies_when_taxes_are_next_computed(rpc):
    set_rounding(rpc, "round_per_line")
    old = draft(rpc, (0.25, 1), (0.25, 1))
    set_rounding(rpc, "round_globally")
    assert totals(rpc, draft(rpc, (0.25, 1), (0.25, 1))) == (0.5, 0.07, 0.57)
    rpc.ok("account.move", "write", [old], vals={"ref": "touched"})
    assert totals(rpc, old) == (0.5, 0.06, 0.56)
    line = rpc.ok(
        "account.move.line",
        "search",
        domain=[["move_id", "=", old], ["display_type", "=", "product"]],
    )[0]
    for quantity in (2, 1):
        rpc.ok(
            "account.move",
            "write",
            [old],
            vals={"invoice_line_ids": [[1, line, {"quantity": quantity}]]},
        )
    assert totals(rpc, old) == (0.5, 0.07, 0.57)
    set_rounding(rpc, "round_per_line")
    rpc.ok("account.move", "action_post", [old])
    assert totals(rpc, old) == (0.5, 0.07, 0.57)


def test_m10_a_line_written_without_sync_unbalances_the_invoice(odoo, rpc):
    set_rounding(rpc, "round_per_line")
    draft(rpc, (1.0, 1))  # on 18 the journal's first draft is numbered; later ones read "/"
    move = draft(rpc, (0.25, 1), (0.25, 1), ref="Q12-M10-main")
    tax_line = rpc.ok(
        "account.move.line", "search", domain=[["move_id", "=", move], ["display_type", "=", "tax"]]
    )[0]
    assert rpc.ok(
        "account.move.line",
        "write",
        [tax_line],
        vals={"amount_currency": -0.07},
        context={"skip_invoice_sync": True, "check_move_validity": False},
    )
    expected = (
        "The entry is not balanced."
        if odoo.version == 19
        else (
            "An error has occurred.\n\nThe move (Draft Invoice  (Q12-M10-main)) is not balanced.\n"
            "The total of debits equals 0.56 $ and the total of credits equals 0.57 $.\n"
            'You might want to specify a default account on journal "Customer Invoices" to '
            "automatically balance each move."
        )
    )
    for method, named in (("write", {"vals": {"ref": "x"}}), ("action_post", {})):
        answer = rpc.call("account.move", method, [move], **named)
        assert answer.failure == ("odoo.exceptions.UserError", expected)


# -- Q13: one call, one transaction --------------------------------------------------------------
def test_q13_posting_a_list_is_all_or_nothing_without_numbering_gaps(odoo, rpc):
    first, negative, second = draft(rpc, (100.0, 1)), draft(rpc, (-50.0, 1)), draft(rpc, (100, 1))
    for order in ([first, negative, second], [negative, first], [second, negative]):
        answer = rpc.call("account.move", "action_post", order)
        assert answer.failure[1].startswith("You cannot validate an invoice with a negative")
        states = rpc.read("account.move", [first, negative, second], ["state"])
        assert {row["state"] for row in states} == {"draft"}
    rpc.ok("account.move", "action_post", [first, second])
    names = [r["name"] for r in rpc.read("account.move", [first, second], ["name"])]
    assert names == ["INV/2026/00001", "INV/2026/00002"]
    third = draft(rpc, (10.0, 1))
    refused = rpc.call("account.move", "action_post", [first, third])
    assert refused.failure[1] == f"The entry INV/2026/00001 (id {first}) must be in draft."
    assert rpc.read_one("account.move", third, ["state"])["state"] == "draft"


# -- x2many commands -------------------------------------------------------------------------------
def product_lines(rpc: Rpc, move: int) -> list[tuple[str, float]]:
    rows = rpc.ok(
        "account.move.line",
        "search_read",
        domain=[["move_id", "=", move], ["display_type", "=", "product"]],
        fields=["name", "price_unit"],
    )
    return [(row["name"], row["price_unit"]) for row in rows]


def test_invoice_line_commands_on_a_draft(rpc):
    move = draft(rpc, (10.0, 1), (20.0, 1), (30.0, 1))
    a, b, c = rpc.ok("account.move", "read", [move], fields=["invoice_line_ids"])[0][
        "invoice_line_ids"
    ]
    rpc.ok(
        "account.move",
        "write",
        [move],
        vals={
            "invoice_line_ids": [
                [1, a, {"price_unit": 11.0}],
                [2, b, 0],
                [0, 0, {"name": "new", "price_unit": 5.0}],
            ]
        },
    )
    assert product_lines(rpc, move) == [("10.0 x 1", 11.0), ("30.0 x 1", 30.0), ("new", 5.0)]
    assert totals(rpc, move) == (46.0, 5.33, 51.33)
    rpc.ok("account.move", "write", [move], vals={"invoice_line_ids": [[3, c, 0]]})
    rpc.ok("account.move", "write", [move], vals={"invoice_line_ids": [[6, 0, [a]]]})
    assert product_lines(rpc, move) == [("10.0 x 1", 11.0)]
    rpc.ok("account.move", "write", [move], vals={"invoice_line_ids": [[5, 0, 0]]})
    assert product_lines(rpc, move) == [] and totals(rpc, move) == (0.0, 0.0, 0.0)


def test_many2many_commands_on_line_taxes(rpc):
    move = draft(rpc, (100.0, 1))
    (line,) = rpc.ok("account.move", "read", [move], fields=["invoice_line_ids"])[0][
        "invoice_line_ids"
    ]
    gst, pst = tax_id(rpc, "5% GST"), tax_id(rpc, "7% PST BC")
    steps = [
        ([[5, 0, 0]], []),
        ([[4, gst, 0]], [gst]),
        ([[4, pst, 0]], [gst, pst]),
        ([[3, gst, 0]], [pst]),
        ([[6, 0, [HST13]]], [HST13]),
        ([gst], [gst]),
    ]
    for command, expected in steps:
        rpc.ok(
            "account.move",
            "write",
            [move],
            vals={"invoice_line_ids": [[1, line, {"tax_ids": command}]]},
        )
        assert rpc.read_one("account.move.line", line, ["tax_ids"])["tax_ids"] == expected
    assert totals(rpc, move) == (100.0, 5.0, 105.0)


# -- domains ---------------------------------------------------------------------------------
@pytest.fixture
def people(rpc) -> dict[str, int]:
    rows = {
        "Ada": ("ada@x.example", True, 1),
        "Bob": ("bob@y.example", False, 2),
        "Cy": (False, True, 3),
        "Dee": ("dee@x.example", False, 4),
    }
    ids = {
        name: rpc.create(
            "res.partner",
            {
                "name": name,
                "email": email,
                "is_company": company,
                "customer_rank": rank,
                "ref": f"p-{name}",
            },
        )
        for name, (email, company, rank) in rows.items()
    }
    rpc.ok("res.partner", "write", [ids["Dee"]], vals={"active": False})
    return ids


@pytest.mark.parametrize(
    ("domain", "names"),
    [
        ([["ref", "=", "p-Ada"]], ["Ada"]),
        ([["ref", "!=", "p-Ada"]], ["Bob", "Cy"]),
        ([["name", "in", ["Ada", "Cy", "Zed"]]], ["Ada", "Cy"]),
        ([["name", "not in", ["Ada", "Cy"]]], ["Bob"]),
        ([["email", "ilike", "X.EXAMPLE"]], ["Ada"]),
        ([["email", "like", "x.example"]], ["Ada"]),
        ([["email", "not ilike", "x.example"]], ["Bob", "Cy"]),
        ([["email", "=like", "bob@%"]], ["Bob"]),
        ([["email", "=", False]], ["Cy"]),
        ([["customer_rank", "<", 2]], ["Ada"]),
        ([["customer_rank", "<=", 2]], ["Ada", "Bob"]),
        ([["customer_rank", ">", 2]], ["Cy"]),
        ([["customer_rank", ">=", 2]], ["Bob", "Cy"]),
        ([["is_company", "=", True], ["customer_rank", ">", 1]], ["Cy"]),
        (["&", ["is_company", "=", True], ["customer_rank", ">", 1]], ["Cy"]),
        (["|", ["name", "=", "Ada"], ["name", "=", "Bob"]], ["Ada", "Bob"]),
        (["!", ["name", "=", "Ada"]], ["Bob", "Cy"]),
        (
            [["is_company", "=", True], "|", ["name", "=", "Ada"], ["customer_rank", "=", 2]],
            ["Ada"],
        ),
        ([["active", "=", False]], ["Dee"]),
        ([["active", "in", [True, False]], ["customer_rank", ">", 2]], ["Cy", "Dee"]),
        ([["country_id.code", "=", "CA"]], []),
    ],
)
def test_domain_operators(rpc, people, domain, names):
    found = rpc.ok(
        "res.partner", "search_read", domain=[["ref", "like", "p-"], *domain], fields=["name"]
    )
    assert sorted(row["name"] for row in found) == names


def test_domains_reach_through_relations(rpc):
    move = draft(rpc, (100.0, 1))
    assert rpc.ok("account.move", "search", domain=[["partner_id.name", "=", "Administrator"]]) == [
        move
    ]
    assert rpc.ok(
        "account.move", "search", domain=[["line_ids", "any", [["display_type", "=", "tax"]]]]
    ) == [move]
    assert (
        rpc.ok(
            "account.move.line",
            "search_count",
            domain=[["move_id", "=", move], ["account_type", "=", "asset_receivable"]],
        )
        == 1
    )


def test_unknown_field_in_a_write_is_refused(odoo, rpc):
    move = draft(rpc, (1.0, 1))
    answer = rpc.call("account.move", "write", [move], vals={"bogus": 1})
    expected = {
        18: "Invalid field 'bogus' on model 'account.move'",
        19: "Invalid field 'bogus' in 'account.move'",
    }[odoo.version]
    assert answer.failure == ("builtins.ValueError", expected)


def test_custom_fields_on_any_model(rpc):
    model = rpc.ok("ir.model", "search", domain=[["model", "=", "res.partner"]])[0]
    rpc.create(
        "ir.model.fields",
        {"name": "x_nexacloud_user", "ttype": "integer", "model_id": model, "state": "manual"},
    )
    partner = rpc.create("res.partner", {"name": "Keyed", "x_nexacloud_user": 42})
    assert rpc.ok("res.partner", "search", domain=[["x_nexacloud_user", "=", 42]]) == [partner]
    duplicate = rpc.call(
        "ir.model.fields",
        "create",
        vals_list=[
            {"name": "x_nexacloud_user", "ttype": "char", "model_id": model, "state": "manual"}
        ],
    )
    assert duplicate.failure == (
        "odoo.exceptions.ValidationError",
        "The operation cannot be completed: Field names must be unique per model.",
    )


def test_a_foreign_invoice_before_any_rate_uses_the_first_rate(rpc):
    """Odoo's `_get_rates` falls back to the earliest rate (source, not recorded); with no rate
    at all it books at 1.0 (contract §11)."""
    usd = 1
    move = draft(rpc, (100.0, 1), currency_id=usd)
    assert (
        rpc.read_one("account.move", move, ["amount_total_signed"])["amount_total_signed"] == 113.0
    )
    rpc.create(
        "res.currency.rate",
        {"currency_id": usd, "name": "2026-06-01", "inverse_company_rate": 1.25},
    )
    early = draft(rpc, (100.0, 1), currency_id=usd)  # dated 2026-03-15, before the only rate
    row = rpc.read_one("account.move", early, ["invoice_currency_rate", "amount_total_signed"])
    assert row == {"id": early, "invoice_currency_rate": 0.8, "amount_total_signed": 141.25}
