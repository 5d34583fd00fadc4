"""The database as the recorded servers had it after installing `account` + `l10n_ca` (chart
`ca_2023`) for a company in Ontario: ids, names and codes as recorded per version.

Records the transcripts never showed (other tax accounts, extra currencies, provinces) carry
invented ids and codes and say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .store import Store


@dataclass(frozen=True)
class Chart:
    """The seeded records other models need to find."""

    receivable_account_id: int
    suspense_account_id: int
    outstanding_receipts_id: int | None  # 19's chart creates 111313; 18's has none
    outstanding_payments_id: int | None
    bank_code_prefix: str = "1113"


INCOME_ACCOUNTS = (  # consecutive ids from 248 (18) / 250 (19)
    ("411000", "Sales of Goods and Services"), ("411100", "Sales of Goods"),
    ("411110", "Sales of Goods Purchased for Resale"), ("411120", "Sales of Goods Produced"),
    ("411200", "Sales of Services"), ("411210", "Commissions and Fees"),
    ("411220", "Rental and Leasing Revenue"), ("411221", "Subrental and Subleasing Revenue"),
    ("411230", "Sales of Services Excluding Commission & Rental"),
    ("413100", "Subsidies and Grants"),
    ("413200", "Royalties and Franchise Fees Revenue"), ("413210", "Royalties"),
    ("413220", "Franchise Fees"), ("413300", "All Other Operating Revenue"),
    ("413310", "Intracompany revenue eliminated on consolidation, including transfers between "
               "other business units"),
    ("413320", "All Other"), ("421100", "Dividends from Canadian Corporations"),
    ("421200", "Dividends from Foreign Corporations"), ("422100", "Interest from Canadian Sources"),
    ("422200", "Interest from Foreign Sources"), ("423000", "Other Non-operating Revenue"),
    ("423100", "Cash Discount Gain"), ("423200", "Discounts Taken"),
)  # fmt: skip

# (id on 18, id on 19, code, name, type, reconcile); None: the version has no such account
OTHER_ACCOUNTS = (
    (7, 7, "112110", "Trade Accounts Receivable", "asset_receivable", True),
    (195, 196, "221207", "Items in Transit and Outstanding Cheque", "liability_payable", True),
    (205, 206, "233000", "HST to pay - 13%", "liability_current", False),
    (242, 244, "342000", "Warrants & Rights Outstanding", "equity", False),
    (279, 281, "511210", "Purchases", "expense", False),
    (304, 306, "512210", "All Other Operating Expenses", "expense", False),
    (340, 342, "111311", "Bank", "asset_cash", False),
    (341, None, "111211", "Cash", "asset_cash", False),
    (342, 343, "111312", "Bank Suspense Account", "asset_current", False),
    # 19 recorded 111101 as the company's transfer account; 18's id is invented (its transcript
    # never read the account, but the same chart code creates it)
    (343, 346, "111101", "Liquidity Transfer", "asset_current", True),
    (None, 347, "111313", "Outstanding Receipts", "asset_current", True),
    (None, 348, "111314", "Outstanding Payments", "asset_current", True),
    # invented: the tax accounts of the other sale taxes were not recorded
    (200, 200, "231000", "GST to pay", "liability_current", False),
    (201, 201, "232100", "PST to pay - SK", "liability_current", False),
    (202, 202, "232200", "PST to pay - BC", "liability_current", False),
    (203, 203, "232300", "PST to pay - MB", "liability_current", False),
    (204, 204, "234000", "QST to pay", "liability_current", False),
    (None, 207, "233100", "HST to pay - 14%", "liability_current", False),
    (206, 208, "233200", "HST to pay - 15%", "liability_current", False),
    # invented ids and name: l10n_ca's ca_2023 template makes l10n_ca_522100 the company's
    # exchange-difference loss account (and l10n_ca_423100, recorded above as "Cash Discount
    # Gain", its gain account); neither the account nor those company fields were recorded
    (344, 345, "522100", "Foreign Exchange Loss", "expense", False),
)

# tax groups: (name, sequence); ids from 1 in this order, HST 14% only on 19
TAX_GROUPS = {
    18: ("Taxes", "GST", "PST 6%", "PST 7%", "QST", "HST 13%", "HST 15%"),
    19: ("Taxes", "GST", "PST 6%", "PST 7%", "QST", "HST 13%", "HST 14%", "HST 15%"),
}

# (template xmlid, name, amount, type, group name, children templates, sequence,
#  description, label, tax account code)
SALE_TAXES = (
    ("gst_sale_tax_5", "5% GST", "5", "percent", "GST", (), 10, "5% GST", "5%", "231000"),
    ("gst_sale_tax_0", "0% GST", "0", "percent", "GST", (), 10, "0% GST", "0%", "231000"),
    ("pst_sale_tax_6", "6% PST SK", "6", "percent", "PST 6%", (), 20, "6% PST SK", "6%", "232100"),
    (
        "pst_sale_tax_7_bc",
        "7% PST BC",
        "7",
        "percent",
        "PST 7%",
        (),
        20,
        "7% PST BC",
        "7%",
        "232200",
    ),
    (
        "pst_sale_tax_7_mb",
        "7% PST MB",
        "7",
        "percent",
        "PST 7%",
        (),
        20,
        "7% PST MB",
        "7%",
        "232300",
    ),
    (
        "qst_sale_tax_9975",
        "9.975% QST",
        "9.975",
        "percent",
        "QST",
        (),
        20,
        "9.975% QST",
        "9.975%",
        "234000",
    ),
    ("hst_sale_tax_13", "13% HST", "13", "percent", "HST 13%", (), 20, "13% HST", "13%", "233000"),
    ("hst_sale_tax_14", "14% HST", "14", "percent", "HST 14%", (), 20, "14% HST", "14%", "233100"),
    ("hst_sale_tax_15", "15% HST", "15", "percent", "HST 15%", (), 20, "15% HST", "15%", "233200"),
    (
        "gstpst_sale_tax_11",
        "11% GST+PST SK",
        "100",
        "group",
        "Taxes",
        ("gst_sale_tax_5", "pst_sale_tax_6"),
        1,
        "5% GST + 6% PST SK",
        "11%",
        None,
    ),
    (
        "gstpst_sale_tax_12_bc",
        "12% GST+PST BC",
        "100",
        "group",
        "Taxes",
        ("gst_sale_tax_5", "pst_sale_tax_7_bc"),
        1,
        "5% GST + 7% PST BC",
        "12%",
        None,
    ),
    (
        "gstpst_sale_tax_12_mb",
        "12% GST+PST MB",
        "100",
        "group",
        "Taxes",
        ("gst_sale_tax_5", "pst_sale_tax_7_mb"),
        1,
        "5% GST + 7% PST MB",
        "12%",
        None,
    ),
    (
        "gstqst_sale_tax_14975",
        "14.975% GST+QST",
        "100",
        "group",
        "Taxes",
        ("gst_sale_tax_5", "qst_sale_tax_9975"),
        1,
        "5% GST + 9.975% QST",
        "14.975%",
        None,
    ),
    (
        "int_sale_tax_0",
        "0% Int",
        "0",
        "percent",
        "Taxes",
        (),
        10,
        "0% International",
        "0%",
        "231000",
    ),
    (
        "exempt_sale_tax_0",
        "0% Exempt",
        "0",
        "percent",
        "Taxes",
        (),
        10,
        "0% Exempt",
        "0%",
        "231000",
    ),
)
# recorded ids: 18 has 13 sale taxes, 19 adds 14% HST (id 8) and 0% Exempt (id 15)
TAX_IDS = {
    18: ("gst_sale_tax_5", "gst_sale_tax_0", "pst_sale_tax_6", "pst_sale_tax_7_bc",
         "pst_sale_tax_7_mb", "qst_sale_tax_9975", "hst_sale_tax_13", "hst_sale_tax_15",
         "gstpst_sale_tax_11", "gstpst_sale_tax_12_bc", "gstpst_sale_tax_12_mb",
         "gstqst_sale_tax_14975", "int_sale_tax_0"),
    19: ("gst_sale_tax_5", "gst_sale_tax_0", "pst_sale_tax_6", "pst_sale_tax_7_bc",
         "pst_sale_tax_7_mb", "qst_sale_tax_9975", "hst_sale_tax_13", "hst_sale_tax_14",
         "hst_sale_tax_15", "gstpst_sale_tax_11", "gstpst_sale_tax_12_bc", "gstpst_sale_tax_12_mb",
         "gstqst_sale_tax_14975", "int_sale_tax_0", "exempt_sale_tax_0"),
}  # fmt: skip
TAX_XMLID_FIRST_ID = {18: 29524, 19: 31151}  # account.1_hst_sale_tax_13 is 29530 / 31157

# (id, code, active, decimal places); only USD 1, CAD 3 and EUR 125 were recorded
CURRENCIES = (
    (1, "USD", True, 2),
    (3, "CAD", True, 2),
    (125, "EUR", False, 2),
    (147, "GBP", False, 2),
    (25, "JPY", False, 0),
    (13, "AUD", False, 2),
)

# (id, code, name, type, sequence, default account code); listed in the recorded read order
JOURNALS = {
    18: ((1, "INV", "Customer Invoices", "sale", "411100"),
         (2, "BILL", "Vendor Bills", "purchase", "511210"),
         (6, "BNK1", "Bank", "bank", "111311"),
         (3, "MISC", "Miscellaneous Operations", "general", None),
         (7, "CSH1", "Cash", "cash", "111211"),
         (5, "CABA", "Cash Basis Taxes", "general", None),
         (4, "EXCH", "Exchange Difference", "general", None)),
    19: ((1, "INV", "Sales", "sale", "411100"),
         (2, "BILL", "Purchases", "purchase", "511210"),
         (6, "BNK1", "Bank", "bank", "111311"),
         (3, "MISC", "Miscellaneous Operations", "general", None),
         (5, "CABA", "Cash Basis Taxes", "general", None),
         (4, "EXCH", "Exchange Difference", "general", None)),
}  # fmt: skip

MODULES = {
    18: ((1, "account", "installed", "18.0.1.3", "LGPL-3"),
         (131, "l10n_ca", "installed", "18.0.1.0", "LGPL-3"),
         (614, "accountant", "uninstallable", None, "OEEL-1")),
    19: ((1, "account", "installed", "19.0.1.4", "LGPL-3"),
         (33, "base", "installed", "19.0.1.3", "LGPL-3"),
         (143, "l10n_ca", "installed", "19.0.1.1", "LGPL-3"),
         (459, "rpc", "installed", "19.0.1.0", "LGPL-3"),
         (17, "api_doc", "installed", "19.0.1.0", "LGPL-3"),
         (625, "accountant", "uninstallable", None, "OEEL-1")),
}  # fmt: skip

# (xmlid, account code, ir.model.data id per version); 19's suspense xmlid id was not recorded
ACCOUNT_XMLIDS = (
    ("1_account_journal_suspense_account_id", "111312", {18: 29588, 19: 31237}),
    ("1_account_journal_payment_debit_account_id", "111313", {18: None, 19: 31238}),
    ("1_account_journal_payment_credit_account_id", "111314", {18: None, 19: 31239}),
)

ACCOUNT_MOVE_MODEL_ID = {18: 442, 19: 446}
# models added after the recordings' ids were fixed: outside the sorted range, so others keep theirs
LATER_MODEL_IDS = {"ir.config_parameter": 100}

# the first id each model hands out, as recorded
NEXT_IDS = {
    18: {"res.partner": 7, "ir.model.data": 29592, "account.account": 346,
         "ir.model.fields": 5857, "account.journal": 8, "account.payment.method.line": 5,
         "ir.config_parameter": 18},
    19: {"res.partner": 6, "ir.model.data": 31240, "account.account": 349,
         "ir.model.fields": 6316, "account.journal": 7, "account.payment.method.line": 3,
         "ir.config_parameter": 18},
}  # fmt: skip


def seed(store: Store, version: int, models: list[str]) -> Chart:
    now = "2026-01-01 00:00:00"
    magic = {"create_uid": 2, "write_uid": 2, "create_date": now, "write_date": now}

    def put(table: str, rid: int, **values) -> int:
        return store.insert(table, {"id": rid, **magic, **values})

    put("res.country", 38, name="Canada", code="CA")
    put("res.country", 233, name="United States", code="US")
    put("res.country.state", 541, name="Ontario", code="ON", country_id=38)
    for rid, code, active, places in CURRENCIES:
        put(
            "res.currency",
            rid,
            name=code,
            full_name=code,
            symbol="$" if places else "¥",
            active=active,
            decimal_places=places,
            rounding=Decimal(1).scaleb(-places),
        )
    put(
        "res.partner",
        1,
        name="NexaCloud Ledger Test (CA)",
        is_company=True,
        active=True,
        country_id=38,
        state_id=541,
        type="contact",
    )
    put("res.partner", 3, name="Administrator", is_company=False, active=True, type="contact")
    put(
        "res.users", 2, name="Administrator", login="admin", company_id=1, partner_id=3, active=True
    )

    accounts = {}
    base = 248 if version == 18 else 250
    for offset, (code, name) in enumerate(INCOME_ACCOUNTS):
        accounts[code] = put(
            "account.account",
            base + offset,
            code=code,
            name=name,
            account_type="income",
            reconcile=False,
            company_ids=(1,),
            active=True,
            deprecated=False,
        )
    for id18, id19, code, name, kind, reconcile in OTHER_ACCOUNTS:
        rid = id18 if version == 18 else id19
        if rid is not None:
            accounts[code] = put(
                "account.account",
                rid,
                code=code,
                name=name,
                account_type=kind,
                reconcile=reconcile,
                company_ids=(1,),
                active=True,
                deprecated=False,
            )

    groups = {
        name: put("account.tax.group", gid, name=name, sequence=gid, country_id=38)
        for gid, name in enumerate(TAX_GROUPS[version], start=1)
    }
    by_template = {row[0]: row for row in SALE_TAXES}
    tax_ids = {template: rid for rid, template in enumerate(TAX_IDS[version], start=1)}
    for template, rid in tax_ids.items():
        _, name, amount, kind, group, children, sequence, description, label, account = by_template[
            template
        ]
        tag = "p" if version == 18 else "div"
        put(
            "account.tax",
            rid,
            name=name,
            amount=Decimal(amount),
            amount_type=kind,
            type_tax_use="sale",
            tax_group_id=groups[group],
            sequence=sequence,
            active=True,
            children_tax_ids=tuple(tax_ids[c] for c in children),
            company_id=1,
            description=f"<{tag}>{description}</{tag}>",
            invoice_label=label,
            country_id=38,
            price_include_override=None,
            tax_scope=None,
        )
        put(
            "ir.model.data",
            TAX_XMLID_FIRST_ID[version] + rid - 1,
            module="account",
            name=f"1_{template}",
            model="account.tax",
            res_id=rid,
            noupdate=False,
        )

    repartition = 1  # per leaf tax, in tax order: invoice base, invoice tax, refund base, tax
    for template, tax_id in tax_ids.items():
        account = by_template[template][-1]
        if account is None:  # a group has no distribution of its own
            continue
        for document, kind in (
            ("invoice", "base"),
            ("invoice", "tax"),
            ("refund", "base"),
            ("refund", "tax"),
        ):
            put(
                "account.tax.repartition.line",
                repartition,
                tax_id=tax_id,
                document_type=document,
                repartition_type=kind,
                factor_percent=Decimal(100),
                account_id=accounts[account] if kind == "tax" else None,
            )
            repartition += 1

    put(
        "res.company",
        1,
        name="NexaCloud Ledger Test (CA)",
        sequence=10,
        partner_id=1,
        currency_id=3,
        country_id=38,
        state_id=541,
        chart_template="ca_2023",
        account_sale_tax_id=tax_ids["hst_sale_tax_13"],
        account_fiscal_country_id=38,
        tax_calculation_rounding_method="round_per_line" if version == 18 else "round_globally",
        transfer_account_id=accounts.get("111101"),
        income_currency_exchange_account_id=accounts.get("423100"),
        expense_currency_exchange_account_id=accounts.get("522100"),
        # 19's chart creates 111313/111314 (xmlids account_journal_payment_*_account_id); 18's
        # recorded chart has no outstanding accounts, so these are empty there
        account_journal_payment_debit_account_id=accounts.get("111313"),
        account_journal_payment_credit_account_id=accounts.get("111314"),
    )

    for sequence, (rid, code, name, kind, account) in enumerate(JOURNALS[version], start=1):
        put(
            "account.journal",
            rid,
            code=code,
            name=name,
            type=kind,
            sequence=sequence,
            active=True,
            company_id=1,
            default_account_id=accounts.get(account),
            suspense_account_id=accounts["111312"] if kind in ("bank", "cash") else None,
            refund_sequence=kind in ("sale", "purchase"),
            payment_sequence=kind in ("bank", "cash"),
            restrict_mode_hash_table=False,
        )
    put("account.payment.method", 1, name="Manual Payment", code="manual", payment_type="inbound")
    put("account.payment.method", 2, name="Manual Payment", code="manual", payment_type="outbound")
    line = 1
    for rid, _, _, kind, _ in JOURNALS[version]:
        if kind in ("bank", "cash"):
            for method in (1, 2):
                put(
                    "account.payment.method.line",
                    line,
                    name="Manual Payment",
                    sequence=10,
                    payment_method_id=method,
                    journal_id=rid,
                    payment_account_id=None,
                )
                line += 1

    for xmlid, code, ids in ACCOUNT_XMLIDS:
        if ids[version] is not None:
            put(
                "ir.model.data",
                ids[version],
                module="account",
                name=xmlid,
                model="account.account",
                res_id=accounts[code],
                noupdate=False,
            )

    for offset, model in enumerate(sorted(set(models) - set(LATER_MODEL_IDS))):
        rid = ACCOUNT_MOVE_MODEL_ID[version] if model == "account.move" else 1 + offset
        put("ir.model", rid, model=model, name=model, state="base")
    for model, rid in LATER_MODEL_IDS.items():
        put("ir.model", rid, model=model, name=model, state="base")
    for rid, name, state, installed, license_ in MODULES[version]:
        put(
            "ir.module.module",
            rid,
            name=name,
            shortdesc=name,
            state=state,
            latest_version=installed,
            license=license_,
        )

    for model, next_id in NEXT_IDS[version].items():
        store.start_ids_at(model, next_id)
    return Chart(
        receivable_account_id=accounts["112110"],
        suspense_account_id=accounts["111312"],
        outstanding_receipts_id=accounts.get("111313"),
        outstanding_payments_id=accounts.get("111314"),
    )
