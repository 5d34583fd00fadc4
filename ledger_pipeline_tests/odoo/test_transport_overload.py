"""An overloaded Odoo (HTTP 429 / 503, a serialization failure Odoo gave up retrying) over HTTP
to the stand-in: the call changed nothing, so even a write is repeated, after Retry-After, and
the transport allows fewer calls at once."""

from __future__ import annotations

import pytest
from tenacity import RetryCallState, Retrying, wait_fixed

from ledger_pipeline.odoo import transport
from ledger_pipeline.odoo.errors import OdooError, OdooTransportError
from ledger_pipeline_tests.odoo.conftest import VERSIONS, connection, running_standin

PARTNER = ("res.partner", "create")


def _writer(odoo):
    return connection(odoo, retry_wait=0.001, max_parallel=4)


def _partners(odoo, name: str) -> list[dict]:
    return odoo.records("res.partner", [["name", "=", name]])


def _arm(odoo, fault: str, k: int) -> None:
    if fault == "serialization":
        odoo.fail_serialization(k)
    else:
        odoo.overload(k, status=int(fault), retry_after=0.01)


@pytest.mark.parametrize("fault", ["429", "503", "serialization"])
@pytest.mark.parametrize("version", VERSIONS)
def test_a_write_refused_by_an_overloaded_odoo_is_repeated_once_it_copes(version, fault):
    with running_standin(version) as odoo, _writer(odoo) as rpc:
        rpc.uid()  # JSON-RPC's login first: the faults are for the writes
        odoo.reset_counts()
        _arm(odoo, fault, 1)
        _arm(odoo, fault, 2)
        (partner_id,) = rpc.create("res.partner", [{"name": "Overload Ltd"}])
        assert [p["id"] for p in _partners(odoo, "Overload Ltd")] == [partner_id]  # once
        assert odoo.call_counts()[PARTNER] == 3
        assert (rpc.limit.limit, rpc.limit.back_offs) == (1, 2)  # 4 → 2 → 1


@pytest.mark.parametrize("version", VERSIONS)
def test_an_odoo_that_stays_overloaded_fails_the_write_unambiguously(version):
    with running_standin(version) as odoo, _writer(odoo) as rpc:
        rpc.uid()
        for k in range(1, 10):
            odoo.overload(k, status=503)
        with pytest.raises(OdooTransportError) as raised:
            rpc.create("res.partner", [{"name": "Never Ltd"}])
        assert raised.value.status == 503 and not raised.value.ambiguous  # nothing was written
        assert raised.value.overloaded
        assert _partners(odoo, "Never Ltd") == []
        assert rpc.calls[PARTNER] == transport.RETRY_ATTEMPTS


@pytest.mark.parametrize("version", VERSIONS)
def test_an_odoo_error_is_not_an_overload(version):
    with running_standin(version) as odoo, _writer(odoo) as rpc:
        rpc.uid()
        odoo.fail_call(1, message="a validation error")
        with pytest.raises(OdooError):
            rpc.create("res.partner", [{"name": "Refused Ltd"}])
        assert rpc.calls[PARTNER] == 1  # Odoo answered: repeating would answer the same
        assert rpc.limit.back_offs == 0


def _wait_after(exc: BaseException) -> float:
    wait = transport._honouring_retry_after(wait_fixed(0.2))
    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    state.set_exception((type(exc), exc, None))
    return wait(state)


def test_retry_after_is_honoured_up_to_a_minute():
    def overloaded(seconds):
        return OdooTransportError("busy", ambiguous=False, status=429, retry_after=seconds)

    assert _wait_after(overloaded(3.0)) == 3.0
    assert _wait_after(overloaded(0.05)) == 0.2  # never shorter than the back-off
    assert _wait_after(overloaded(3600.0)) == transport.MAX_RETRY_AFTER
    assert _wait_after(OdooTransportError("gone", ambiguous=False, status=503)) == 0.2


@pytest.mark.parametrize("status", [429, 503])
def test_the_retry_after_an_overloaded_odoo_asks_for_is_read(status):
    with running_standin(19) as odoo, connection(odoo, retry_attempts=1) as rpc:
        odoo.overload(1, status=status, retry_after=1.5)
        with pytest.raises(OdooTransportError) as raised:
            rpc.search_read("res.partner", [], ["name"])
        assert (raised.value.status, raised.value.retry_after) == (status, 1.5)
