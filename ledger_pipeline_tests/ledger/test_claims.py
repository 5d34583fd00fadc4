"""One source invoice, one booking: the claim rule (DESIGN §6), by example and by property."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_pipeline.ledger.claims import claim_key, claim_order, resolve_claims
from ledger_pipeline.ledger.model import Customer, SourceInvoice
from ledger_pipeline.odoo.posting import claim_search

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PERSON = Customer("u1", "Marie Tremblay", None, None, None)


def invoice(invoice_id: str, ref: str | None, created_at: datetime | None = T0) -> SourceInvoice:
    return SourceInvoice(
        invoice_id, ref, f"NC-{invoice_id}", PERSON, created_at, "CAD", "open",
        D("10.00"), D("0.00"), D("0"), None,
    )  # fmt: skip


def test_case_and_whitespace_variants_are_one_claim_and_other_refs_are_none():
    assert claim_key("  in_AbC \n") == claim_key("IN_abc") == "in_abc"
    assert claim_key("LAGO:5F0E-AA") == claim_key(" lago:5f0e-aa") == "lago:5f0e-aa"
    for not_a_claim in (None, "", "   ", "in_", " lago: ", "manual-1234", "ch_abc", 42):
        assert claim_key(not_a_claim) is None


def test_the_earliest_claimer_holds_and_the_others_name_it_and_each_other():
    invoices = [
        invoice("42", " IN_abc ", T0 + timedelta(hours=1)),
        invoice("17", "in_ABC", T0),
        invoice("57", "in_abc", T0 + timedelta(days=2)),
        invoice("9", "in_other", T0),
        invoice("8", None, T0),
        invoice("7", None, T0),
    ]
    claims = resolve_claims(invoices)
    (contested,) = claims.contested
    assert (contested.holder, contested.others) == ("17", ("42", "57"))
    assert set(claims.rejected) == {"42", "57"}
    assert claims.rejected["42"] == (
        "invoice 42 claims Stripe invoice IN_abc, already claimed by invoice 17 as in_ABC "
        "(created earlier); not booked, so the source's revenue is not counted twice; also "
        "claimed by invoice 57"
    )
    assert "already claimed by invoice 17 as in_ABC (created earlier)" in claims.rejected["57"]
    assert claims.rejected["57"].endswith("also claimed by invoice 42")
    assert claims.holder_of("17") is contested and claims.holder_of("9") is None


def test_ties_go_to_the_lower_id_numerically_and_undated_invoices_come_last():
    same_time = resolve_claims([invoice("10", "lago:x"), invoice("9", "lago:X")])
    assert same_time.contested[0].holder == "9"  # 9 < 10 as numbers, not as text
    assert "created at the same time, lower id" in same_time.rejected["10"]

    undated = resolve_claims([invoice("1", "in_a", None), invoice("2", "in_a", T0)])
    assert undated.contested[0].holder == "2"
    assert "invoice 1 has no created_at" in undated.rejected["1"]

    neither = resolve_claims([invoice("b", "in_a", None), invoice("a", "in_a", None)])
    assert neither.contested[0].holder == "a"
    assert "neither has a created_at; lower id" in neither.rejected["b"]

    mixed = resolve_claims([invoice("abc", "in_a"), invoice("99", "in_a")])
    assert mixed.contested[0].holder == "99"  # integer ids before text ids


def test_time_zones_and_naive_timestamps_compare_as_instants():
    toronto = timezone(timedelta(hours=-5))
    later_wall_clock_earlier_instant = datetime(2026, 3, 1, 8, 0, tzinfo=toronto)  # 13:00 UTC
    naive_noon = datetime(2026, 3, 1, 12, 30)  # read as UTC
    claims = resolve_claims(
        [invoice("1", "in_a", later_wall_clock_earlier_instant), invoice("2", "in_a", naive_noon)]
    )
    assert claims.contested[0].holder == "2"


def test_a_repeated_row_is_one_claimer_not_a_conflict_with_itself():
    claims = resolve_claims([invoice("5", "in_a"), invoice("5", "in_a")])
    assert claims.contested == () and claims.rejected == {}


def test_invisible_characters_in_ids_are_quoted_in_the_reason():
    claims = resolve_claims([invoice("1", "in_a"), invoice("2", "in_a\u200b ")])
    assert claims.rejected == {}  # a zero-width space is not whitespace: another id
    claims = resolve_claims([invoice("1", "in_a"), invoice("2\x07", "in_A")])
    assert "invoice '2\\x07' claims" in claims.rejected["2\x07"]


# -- properties -------------------------------------------------------------------------

REFS = st.sampled_from(
    ["in_abc", "IN_ABC", " in_Abc\t", "in_xyz", "lago:Ab-1", "LAGO:ab-1 ", "manual-1", "", None]
)
IDS = st.one_of(st.integers(0, 30).map(str), st.sampled_from(["a", "b", "00", "7", "x-1"]))
TIMES = st.one_of(
    st.none(),
    st.integers(0, 4).map(lambda h: T0 + timedelta(hours=h)),
    st.integers(0, 4).map(lambda h: (T0 + timedelta(hours=h)).replace(tzinfo=None)),
)
INVOICES = st.lists(
    st.builds(invoice, IDS, REFS, TIMES), max_size=14, unique_by=lambda i: i.invoice_id
)


@settings(max_examples=300, deadline=None)
@given(INVOICES, st.randoms(use_true_random=False))
def test_exactly_one_holder_per_source_id_and_every_other_claimer_names_it(invoices, rng):
    claims = resolve_claims(invoices)
    by_key: dict[str, set[str]] = {}
    for inv in invoices:
        if (key := claim_key(inv.source_ref)) is not None:
            by_key.setdefault(key, set()).add(inv.invoice_id)
    for key, claimers in by_key.items():
        booked = claimers - set(claims.rejected)
        assert len(booked) == 1, (key, claimers)  # one claimer per source id may be booked
        (holder,) = booked
        earliest = min(
            (inv for inv in invoices if inv.invoice_id in claimers and claim_key(inv.source_ref)),
            key=claim_order,
        )
        assert holder == earliest.invoice_id
        for other in claimers - {holder}:
            assert f"already claimed by invoice {holder}" in claims.rejected[other]
    unclaimed = {inv.invoice_id for inv in invoices if claim_key(inv.source_ref) is None}
    assert not (unclaimed - {i for ids in by_key.values() for i in ids}) & set(claims.rejected)

    shuffled = list(invoices)
    rng.shuffle(shuffled)
    assert resolve_claims(shuffled) == claims  # the same whatever the input order


@settings(max_examples=200, deadline=None)
@given(st.lists(st.builds(invoice, IDS, REFS, TIMES), max_size=14))
def test_repeated_ids_never_let_two_claimers_of_one_source_id_through(invoices):
    """Rows repeating an id (source_integrity fails on them) still book a source id at most once."""
    claims = resolve_claims(invoices)
    booked: dict[str, set[str]] = {}
    for inv in invoices:
        key = claim_key(inv.source_ref)
        if key is not None and inv.invoice_id not in claims.rejected:
            booked.setdefault(key, set()).add(inv.invoice_id)
    assert all(len(ids) == 1 for ids in booked.values()), booked


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 40), st.integers(0, 2**32))
def test_many_claimers_of_one_id_leave_exactly_one_and_name_it(count, seed):
    rng = random.Random(seed)
    spellings = ["in_Q", " IN_q", "in_q  ", "In_Q"]
    invoices = [
        invoice(str(i), rng.choice(spellings), T0 + timedelta(minutes=rng.randrange(5)))
        for i in range(count)
    ]
    claims = resolve_claims(invoices)
    assert len(claims.rejected) == count - 1
    holder = claims.contested[0].holder
    assert all(f"by invoice {holder}" in reason for reason in claims.rejected.values())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.builds(
            invoice,
            st.text(max_size=4),
            st.one_of(st.none(), st.text(max_size=8), st.text(max_size=6).map("in_".__add__)),
            TIMES,
        ),
        max_size=10,
    )
)
def test_arbitrary_text_never_raises_and_never_books_a_source_id_twice(invoices):
    claims = resolve_claims(invoices)
    booked: dict[str, set[str]] = {}
    for inv in invoices:
        key = claim_key(inv.source_ref)
        if key is not None and inv.invoice_id not in claims.rejected:
            booked.setdefault(key, set()).add(inv.invoice_id)
    assert all(len(ids) == 1 for ids in booked.values())
    refs = [inv.source_ref for inv in invoices if claim_key(inv.source_ref)]
    if refs:  # the Odoo writer's search for them is well formed
        domain = claim_search(refs)
        assert sum(1 for term in domain if term == "|") == len(domain) // 2
