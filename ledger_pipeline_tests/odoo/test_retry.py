"""Bisection and re-read-before-retry, without Odoo: the write is a function over item lists."""

from __future__ import annotations

import pytest

from ledger_pipeline.odoo.errors import OdooError, OdooTransportError
from ledger_pipeline.odoo.retry import isolate_failures, write_then_verify


class AllOrNothing:
    """A batch write that refuses the whole batch when it holds a bad item, like action_post."""

    def __init__(self, bad: set[int], lose_answer_on_call: int | None = None) -> None:
        self.bad = bad
        self.done: set[int] = set()
        self.calls: list[list[int]] = []
        self.lose_answer_on_call = lose_answer_on_call

    def write(self, items) -> None:
        self.calls.append(list(items))
        if self.bad & set(items):
            raise OdooError("odoo.exceptions.UserError", f"bad item {min(self.bad & set(items))}")
        self.done |= set(items)
        if len(self.calls) == self.lose_answer_on_call:
            raise OdooTransportError("no answer", ambiguous=True)

    def pending(self, items):
        return [i for i in items if i not in self.done]


def test_bisection_isolates_the_one_bad_item_and_books_the_rest():
    odoo = AllOrNothing(bad={13})
    failures = {}
    isolate_failures(list(range(32)), odoo.write, odoo.pending, failures.__setitem__)
    assert odoo.done == set(range(32)) - {13}
    assert list(failures) == [13]
    assert str(failures[13]) == "odoo.exceptions.UserError: bad item 13"
    assert len(odoo.calls) <= 2 * 5 + 1  # about two calls per halving of 32


def test_bisection_with_two_bad_items():
    odoo = AllOrNothing(bad={0, 7})
    failures = {}
    isolate_failures(list(range(8)), odoo.write, odoo.pending, failures.__setitem__)
    assert odoo.done == set(range(1, 7))
    assert sorted(failures) == [0, 7]


def test_a_commit_whose_answer_was_lost_is_not_written_again():
    odoo = AllOrNothing(bad=set(), lose_answer_on_call=1)
    isolate_failures([1, 2, 3], odoo.write, odoo.pending, lambda *a: pytest.fail("no failure"))
    assert odoo.calls == [[1, 2, 3]]  # the re-read showed everything committed


def test_a_second_transport_failure_propagates():
    def down(items):
        raise OdooTransportError("Odoo down", ambiguous=False)

    with pytest.raises(OdooTransportError):
        isolate_failures([1, 2], down, lambda items: list(items), lambda *a: None)


def test_write_then_verify_repeats_only_what_is_missing():
    written: list[list[str]] = []
    present: set[str] = set()

    def create(items):
        written.append(list(items))
        present.update(items[:1])  # "commits" the first, then the answer is lost
        if len(written) == 1:
            raise OdooTransportError("timeout", ambiguous=True)
        present.update(items)

    write_then_verify(["a", "b"], create, lambda items: [i for i in items if i not in present])
    assert written == [["a", "b"], ["b"]]
