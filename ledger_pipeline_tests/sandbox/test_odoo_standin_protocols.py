"""The stand-in speaks JSON-RPC (18, and 19's deprecated route) and JSON-2 (19) the way the
recorded servers answered: versions, authentication, error shapes and statuses, argument binding,
`None` results. Expectations come from the transcripts where a call was recorded."""

from __future__ import annotations

import pytest
import requests

from ledger_pipeline.sandbox.odoo_standin import OdooStandIn
from ledger_pipeline_tests.sandbox.test_odoo_standin_support import (
    VERSIONS,
    Rpc,
    recorded,
    replay,
)


@pytest.fixture(params=VERSIONS)
def odoo(request):
    with OdooStandIn(version=request.param) as standin:
        yield standin


@pytest.fixture
def odoo18():
    with OdooStandIn(version=18) as standin:
        yield standin


@pytest.fixture
def odoo19():
    with OdooStandIn(version=19) as standin:
        yield standin


# -- versions and authentication ---------------------------------------------------------------
def test_common_version_as_recorded(odoo18):
    assert Rpc(odoo18).jsonrpc("common", "version", []).result == recorded(18, "version").result


def test_web_version_answers_without_a_key(odoo):
    body = requests.get(odoo.url + "/web/version", timeout=5).json()
    if odoo.version == 19:
        assert body == recorded(19, "version (no headers)").result
    assert body["version_info"] == [odoo.version, 0, 0, "final", 0, ""]


def test_authenticate_gives_the_uid_and_a_wrong_password_gives_false(odoo18):
    rpc = Rpc(odoo18)
    ok = rpc.jsonrpc("common", "authenticate", [odoo18.database, "admin", odoo18.api_key, {}])
    assert ok.result == recorded(18, "authenticate").result == 2
    refused = rpc.jsonrpc("common", "authenticate", [odoo18.database, "admin", "wrong", {}])
    expected = recorded(18, "authenticate wrong pwd").result
    assert {**refused.body, "id": expected["id"]} == expected  # result false, not an error


def test_execute_kw_with_a_wrong_password_is_access_denied(odoo18):
    answer = Rpc(odoo18).execute_kw("res.partner", "search", [[]], password="wrong")
    expected = recorded(18, "wrong password execute_kw").result["error"]
    assert answer.status == 200
    assert answer.body["error"]["code"] == expected["code"] == 200
    assert answer.failure == (expected["data"]["name"], expected["data"]["message"])


def test_unknown_database_is_a_psycopg2_error(odoo18):
    answer = Rpc(odoo18).execute_kw("res.partner", "search", [[]], db="no_such_db")
    expected = recorded(18, "unknown db").result["error"]["data"]
    assert answer.failure == (expected["name"], expected["message"])


@pytest.mark.parametrize(
    ("label", "headers"),
    [
        ("wrong key", {"Authorization": "bearer not-the-key"}),
        ("no Authorization header", {"Authorization": None}),
        ("Authorization: Basic instead of bearer", {"Authorization": "Basic YWRtaW46YWRtaW4="}),
        ("key of <db> sent to <db>", {"X-Odoo-Database": "another_db"}),
    ],
)
def test_json2_authentication_failures(odoo19, label, headers):
    answer = Rpc(odoo19).json2("res.users", "context_get", {}, headers=headers)
    expected = recorded(19, label)
    assert answer.status == expected.status == 401
    assert answer.body["name"] == expected.result["name"]
    assert answer.body["message"] == expected.result["message"]
    assert answer.body["arguments"] == expected.result["arguments"]
    assert answer.headers["WWW-Authenticate"] == "Bearer "


def test_json2_context_get_gives_the_uid(odoo19):
    rpc = Rpc(odoo19)
    assert rpc.ok("res.users", "context_get") == recorded(19, "context_get #1").result
    whoami = recorded(19, "whoami: res.users read uid 2")
    assert replay(rpc, whoami).result == whoami.result


# -- JSON-2 request handling -------------------------------------------------------------------
def test_json2_wrong_verb_or_route_is_not_found(odoo19):
    get = requests.get(odoo19.url + "/json/2/res.users/context_get", timeout=5)
    post = requests.post(odoo19.url + "/json/2", timeout=5)
    for answer, label in ((get, "GET instead of POST"), (post, "POST /json/2 (no model/method)")):
        expected = recorded(19, label)
        assert answer.status_code == expected.status == 404
        assert answer.json()["message"] == expected.result["message"]


def test_json2_body_that_is_not_json(odoo19):
    answer = Rpc(odoo19).json2("res.users", "context_get", b"not json")
    expected = recorded(19, "body is not JSON")
    assert (answer.status, answer.failure) == (
        expected.status,
        (expected.result["name"], expected.result["message"]),
    )


def test_json2_wrong_content_type_is_an_html_415(odoo19):
    answer = Rpc(odoo19).json2(
        "res.users", "context_get", {}, headers={"Content-Type": "text/plain"}
    )
    assert answer.status == recorded(19, "Content-Type text/plain").status == 415
    assert "Unsupported Media Type" in answer.body


@pytest.mark.parametrize(
    "label",
    [
        "ids passed to @api.model method (create)",
        "unexpected argument name",
        "missing required argument (write without vals)",
        "search_read with positional-name 'args'",
        "read with fields as string",
        "check_object_reference positional-ish (args)",
    ],
)
def test_json2_argument_binding_errors(odoo19, label):
    call = recorded(19, label)
    answer = replay(Rpc(odoo19), call)
    assert (answer.status, answer.failure) == (call.status, call.error)


def test_json2_positional_style_body_misses_the_first_argument(odoo19):
    answer = Rpc(odoo19).json2("res.partner", "search", {"args": [[]]})
    expected = recorded(19, "positional-style body (args list)")
    assert (answer.status, answer.body["message"]) == (expected.status, expected.result["message"])


def test_json2_create_always_returns_a_list(odoo19):
    rpc = Rpc(odoo19)
    call = recorded(19, "create account with vals_list as a dict (not a list)")
    assert isinstance(call.request["vals_list"], dict)
    created = replay(rpc, call).result
    assert isinstance(created, list) and len(created) == len(call.result) == 1


def test_jsonrpc_create_returns_an_int_for_one_dict_and_a_list_for_a_list(odoo):
    rpc = Rpc(odoo, "jsonrpc")
    one = rpc.execute_kw("res.partner", "create", [{"name": "one"}]).result
    many = rpc.execute_kw("res.partner", "create", [[{"name": "two"}]]).result
    assert isinstance(one, int) and many == [one + 1]


def test_jsonrpc_create_needs_its_vals_positionally(odoo18):
    answer = Rpc(odoo18).execute_kw("res.partner", "create", [], {"vals_list": [{"name": "x"}]})
    assert answer.failure == ("builtins.IndexError", "tuple index out of range")
    assert odoo18.records("res.partner", [["name", "=", "x"]]) == []


def test_18_company_write_names_its_argument_values(odoo18):
    rpc = Rpc(odoo18)
    wrong = rpc.execute_kw(
        "res.company",
        "write",
        [[1]],
        {"vals": {"tax_calculation_rounding_method": "round_globally"}},
    )
    assert wrong.failure == (
        "builtins.TypeError",
        "ResCompany.write() got an unexpected keyword argument 'vals'",
    )
    right = rpc.execute_kw(
        "res.company",
        "write",
        [[1]],
        {"values": {"tax_calculation_rounding_method": "round_globally"}},
    )
    assert right.result is True


def test_19_still_serves_jsonrpc_with_its_error_shape(odoo19):
    rpc = Rpc(odoo19, "jsonrpc")
    assert rpc.execute_kw("res.partner", "search", [[["ref", "=", "nobody"]]]).result == []
    failed = rpc.execute_kw("account.move", "search", [[["no_such_field", "=", 1]]])
    assert failed.status == 200
    assert failed.failure == recorded(19, "bad field in domain").error


def test_18_does_not_serve_json2(odoo18):
    answer = Rpc(odoo18, "json2").json2("res.users", "context_get", {})
    assert answer.status == 404 and "Not Found" in answer.body


# -- errors shaped as recorded -----------------------------------------------------------------
LABELS = {
    "unknown method": {18: "nonexistent method", 19: "unknown method"},
    "unknown model": {18: "nonexistent model", 19: "unknown model"},
    "bad domain field": {18: "bad field in domain", 19: "bad field in domain"},
    "unknown field in create": {18: "create with unknown field", 19: "create with unknown field"},
    "private method": {18: "_create_payments (private)", 19: "private method _create_payments"},
    "private xmlid lookup": {18: "ir.model.data._xmlid_lookup", 19: "_xmlid_lookup (private)"},
    "private xmlid to res id": {
        18: "ir.model.data._xmlid_to_res_id",
        19: "_xmlid_to_res_id (private)",
    },
    "missing public method": {
        18: "ir.model.data.xmlid_to_res_id",
        19: "xmlid_to_res_id (does not exist)",
    },
}


@pytest.mark.parametrize("case", sorted(LABELS))
def test_errors_carry_the_recorded_class_message_and_status(odoo, case):
    call = recorded(odoo.version, LABELS[case][odoo.version])
    answer = replay(Rpc(odoo), call)
    assert answer.failure == call.error
    assert answer.status == call.status
    if odoo.version == 18:
        error = answer.body["error"]
        assert (error["code"], error["message"]) == (200, "Odoo Server Error")
        assert set(error["data"]) == {"name", "message", "arguments", "context", "debug"}
        assert error["data"]["arguments"] == [call.error[1]]
    else:
        assert set(answer.body) == {"name", "message", "arguments", "context", "debug"}


def test_private_method_of_19_names_the_model(odoo19):
    call = recorded(19, "private method _post")
    assert replay(Rpc(odoo19), call).failure == call.error


def test_reading_missing_records_gives_what_exists(odoo):
    rpc = Rpc(odoo)
    call = recorded(
        odoo.version, "read missing record" if odoo.version == 18 else "read missing id"
    )
    assert replay(rpc, call).result == call.result == []
    partner = rpc.create("res.partner", {"name": "Present"})
    assert rpc.read("res.partner", [partner, 99999999], ["name"]) == [
        {"id": partner, "name": "Present"}
    ]


@pytest.mark.parametrize("label", ["write missing id", "action_post missing id"])
def test_acting_on_a_missing_record_is_a_missing_error(odoo, label):
    call = recorded(19, label)
    ids = call.request["ids"]
    answer = Rpc(odoo).call(
        "account.move", call.method, ids, **{k: v for k, v in call.request.items() if k != "ids"}
    )
    assert answer.failure == call.error
    if odoo.version == 19:
        assert answer.status == 404


def test_methods_returning_none_send_no_result(odoo):
    rpc = Rpc(odoo)
    move = rpc.create("account.move", {"move_type": "out_invoice", "partner_id": 3})
    answer = rpc.call("account.move", "button_cancel", [move])
    if odoo.version == 18:
        assert set(answer.body) == {"jsonrpc", "id"}  # contract §12: no `result` key at all
    else:
        assert answer.status == 200 and answer.body is None
