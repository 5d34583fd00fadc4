"""Every setting the README's Configuration section documents, at each documented value.

The variables are read from the README itself, so a variable documented later without a case
here fails `test_every_documented_variable_has_cases`. Each chain case sets many variables at
once from the environment, loads the definitions as the code location does, and runs the daily
sync the schedule asks for against PostgreSQL and the Stripe, Lago and Odoo stand-ins; each bad
value stops the loading with an error naming the variable and the values it allows.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
import yaml
from psycopg2.extensions import parse_dsn

from ledger_pipeline.definitions import build_definitions
from ledger_pipeline.odoo.lease import OdooLease
from ledger_pipeline.odoo.transport import connect
from ledger_pipeline.partitions import month_start, open_months
from ledger_pipeline.sandbox.postgres import dagster_storage_env, temporary_database
from ledger_pipeline.settings import LedgerSettings, SettingError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
WORLD = "<from the world>"  # the stand-in's address, key or DSN
URL_DSN = "<the world's DSN as a postgresql:// URL>"
INSTANCE = "<a temporary PostgreSQL database for the Dagster instance>"
DAGSTER_INSTANCE_VARIABLES = (
    "DAGSTER_HOME", "DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USERNAME",
    "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB",
)  # fmt: skip


def configuration_section() -> str:
    text = (PROJECT_ROOT / "README.md").read_text()
    start = text.index("\n## Configuration")
    return text[start : text.index("\n## ", start + 1)]


def documented_settings() -> dict[str, set[str]]:
    """Each variable the section names, with the plain values its table row enumerates
    (`json2`, `odoo18`, `UTC`, `admin`...; not addresses such as `/api/v1`)."""
    section = configuration_section()
    settings: dict[str, set[str]] = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            names, meaning = line.strip().strip("|").split("|", 1)
            values = set(re.findall(r"`([A-Za-z][A-Za-z0-9_]*)`", meaning))
            for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", names):
                settings[name] = values
    for name in re.findall(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`", section):
        settings.setdefault(name, set())  # the Dagster instance's variables, in prose
    return settings


# -- the chain cases: one world each, many settings at once ---------------------------------------


@dataclass(frozen=True)
class ChainCase:
    name: str
    odoo_version: int
    world_zone: str  # the zone the Lago stand-in issues its dates in
    env: dict[str, str | None]  # None: unset, the documented default applies
    invoices: int = 300  # sample invoices: a dozen a month, so the open months hold several
    lease_held_first: bool = False  # another writer holds Odoo's lease for a first run
    protocol_calls: set[tuple[str, str]] = field(default_factory=set)  # Odoo calls it must make
    no_protocol_calls: set[tuple[str, str]] = field(default_factory=set)


SOURCES = {
    "NEXACLOUD_DSN": WORLD, "STRIPE_API_KEY": WORLD, "STRIPE_API_BASE": WORLD,
    "LAGO_API_KEY": WORLD, "LAGO_API_URL": WORLD, "ODOO_URL": WORLD, "ODOO_DATABASE": WORLD,
    "ODOO_API_KEY": WORLD,
}  # fmt: skip
VERSION = ("web", "version")  # what `auto` asks
AUTHENTICATE = ("common", "authenticate")  # JSON-RPC's login; JSON-2 sends the key per call

CHAIN_CASES = [
    ChainCase(
        "json2 on Odoo 19, its chart, Toronto, PostgreSQL instance",
        odoo_version=19,
        world_zone="America/Toronto",
        env={
            **SOURCES,
            "ODOO_LOGIN": "admin",
            "ODOO_PROTOCOL": "json2",
            "ODOO_LEASE_TTL_SECONDS": "180",
            "ODOO_LEASE_WAIT_SECONDS": "300",
            "ODOO_MAX_PARALLEL_REQUESTS": "4",
            "LEDGER_TIME_ZONE": "America/Toronto",
            "LEDGER_SYNC_HOUR": "0",
            "LEDGER_FIRST_MONTH": "2024-06",
            "LEDGER_CLOSE_DAY": "28",
            "LEDGER_SYNC_LOOKBACK_DAYS": "3650",
            "LEDGER_TAX_CATALOGUE": "odoo19",
            "LEDGER_TAX_TIE_PREFERENCE": "12% GST+PST BC",
            "LEDGER_UNVERIFIED_REPORT_HOURS": "0.5",
            "LEDGER_UNCOLLECTIBLE": "write_off",
            "LEDGER_STRIPE_FEE_ACCOUNT": "NCR.STRIPEFEE",
            "LEDGER_PAYOUT_BANK_JOURNAL": "BNK1",
            **dict.fromkeys(DAGSTER_INSTANCE_VARIABLES, INSTANCE),
        },
        no_protocol_calls={VERSION, AUTHENTICATE},
    ),
    ChainCase(
        "jsonrpc on Odoo 18, its chart, UTC, DSN as a URL",
        odoo_version=18,
        world_zone="UTC",
        env={
            **SOURCES,
            "NEXACLOUD_DSN": URL_DSN,
            "ODOO_LOGIN": "admin",
            "ODOO_PROTOCOL": "jsonrpc",
            "ODOO_LEASE_TTL_SECONDS": "600",
            "ODOO_LEASE_WAIT_SECONDS": "0",  # a held lease fails the step at once
            "ODOO_MAX_PARALLEL_REQUESTS": "1",
            "LEDGER_TIME_ZONE": "UTC",
            "LEDGER_SYNC_HOUR": "23",
            "LEDGER_FIRST_MONTH": "2025-01",
            "LEDGER_CLOSE_DAY": "1",
            "LEDGER_SYNC_LOOKBACK_DAYS": "400",
            "LEDGER_TAX_CATALOGUE": "odoo18",
            "LEDGER_TAX_TIE_PREFERENCE": " 12% GST+PST BC , 5% GST ",
            "LEDGER_UNVERIFIED_REPORT_HOURS": "72",
            "LEDGER_UNCOLLECTIBLE": "leave_open",
            "LEDGER_STRIPE_FEE_ACCOUNT": "6150.STRIPE",  # any code Odoo takes: created if missing
            "LEDGER_PAYOUT_BANK_JOURNAL": "BNK1",
        },
        protocol_calls={AUTHENTICATE},
        no_protocol_calls={VERSION},
        lease_held_first=True,
    ),
    ChainCase(
        "auto on Odoo 18, Odoo's taxes, defaults, no Stripe key",
        odoo_version=18,
        world_zone="UTC",
        invoices=400,  # the open month holds a handful of Lago's
        env={
            **SOURCES,
            "STRIPE_API_KEY": None,  # documented: Stripe's invoices end unverified, no crash
            "STRIPE_API_BASE": None,
            "ODOO_LOGIN": None,  # default admin, needed by JSON-RPC
            "ODOO_PROTOCOL": "auto",
            "LEDGER_TAX_CATALOGUE": "odoo",
            **dict.fromkeys(
                [
                    "ODOO_LEASE_TTL_SECONDS",
                    "ODOO_LEASE_WAIT_SECONDS",
                    "ODOO_MAX_PARALLEL_REQUESTS",
                    "LEDGER_TIME_ZONE",
                    "LEDGER_SYNC_HOUR",
                    "LEDGER_FIRST_MONTH",
                    "LEDGER_CLOSE_DAY",
                    "LEDGER_SYNC_LOOKBACK_DAYS",
                    "LEDGER_TAX_TIE_PREFERENCE",
                    "LEDGER_UNVERIFIED_REPORT_HOURS",
                    "LEDGER_UNCOLLECTIBLE",
                    "LEDGER_STRIPE_FEE_ACCOUNT",
                    "LEDGER_PAYOUT_BANK_JOURNAL",
                ]
            ),
        },
        protocol_calls={VERSION, AUTHENTICATE},
    ),
]

# -- the bad values: each must stop the loading with the variable and what it allows named --------

BAD_VALUES = {
    "NEXACLOUD_DSN": [("mysql://reader:hunter2@db/nexacloud", "a PostgreSQL DSN")],
    "STRIPE_API_BASE": [
        ("api.stripe.com", "an http(s) URL"),
        ("https://api.stripe.com/v1", "without /v1"),
    ],
    "LAGO_API_URL": [("https://api.getlago.com", "an http(s) URL ending /api/v1")],
    "ODOO_URL": [("erp.example.com", "an http(s) URL"), ("ftp://erp.example.com", "http(s)")],
    "ODOO_PROTOCOL": [("xmlrpc", "one of json2, jsonrpc, auto"), ("JSON2", "one of json2")],
    "ODOO_LEASE_TTL_SECONDS": [("179", "an integer ≥ 180"), ("ten", "an integer ≥ 180")],
    "ODOO_LEASE_WAIT_SECONDS": [("-1", "an integer ≥ 0"), ("1.5", "an integer ≥ 0")],
    "ODOO_MAX_PARALLEL_REQUESTS": [("0", "an integer 1–32"), ("33", "1–32"), ("two", "1–32")],
    "LEDGER_TIME_ZONE": [("Mars/Olympus", "an IANA time zone name"), ("+05:00", "IANA")],
    "LEDGER_SYNC_HOUR": [("six", "an integer 0–23"), ("24", "0–23"), ("-1", "0–23")],
    "LEDGER_FIRST_MONTH": [
        ("2024-13", "a month YYYY-MM"),
        ("24-01", "a month YYYY-MM"),
        ("January", "YYYY-MM"),
    ],
    "LEDGER_CLOSE_DAY": [("29", "an integer 1–28"), ("0", "1–28"), ("last", "1–28")],
    "LEDGER_SYNC_LOOKBACK_DAYS": [
        ("-3", "an integer 1–3650"),
        ("0", "1–3650"),
        ("a month", "1–3650"),
        ("99999999", "1–3650"),
    ],
    "LEDGER_TAX_CATALOGUE": [("odoo17", "one of odoo, odoo18, odoo19"), ("Odoo", "odoo18")],
    "LEDGER_UNCOLLECTIBLE": [("writeoff", "one of leave_open, write_off"), ("open", "write_off")],
    "LEDGER_STRIPE_FEE_ACCOUNT": [
        ("Stripe fees", "an account code: letters, digits and dots"),
        ("NCR/FEE", "an account code"),
        ("6150-STRIPE", "letters, digits and dots"),  # Odoo refuses it when creating it
    ],
    "LEDGER_PAYOUT_BANK_JOURNAL": [
        ("Bank 1", "a journal code: 1 to 5 letters, digits"),
        ("BANK01", "1 to 5"),
    ],
    "LEDGER_UNVERIFIED_REPORT_HOURS": [
        ("three days", "a number of hours > 0"),
        ("0", "> 0"),
        ("-2", "> 0"),
        ("nan", "> 0"),
        ("inf", "> 0"),
    ],
}
# Dagster's own instance settings: its errors name the variable (checked below).
DAGSTER_BAD_VALUES = {
    "DAGSTER_PG_PORT": ("abc", 'env variable "DAGSTER_PG_PORT" cannot be coerced into an int'),
    "DAGSTER_PG_HOST": (None, 'environment variable "DAGSTER_PG_HOST" which is not set'),
    "DAGSTER_HOME": ("relative/home", "DAGSTER_HOME"),
}
# Free-form: no value is wrong when the code location loads (an unknown key, database or login
# is the service's answer at run time; any text names tie-break taxes). Why each is exempt:
FREE_FORM = {
    "STRIPE_API_KEY": "a secret, never read at load; unset: Stripe's invoices end unverified",
    "LAGO_API_KEY": "a secret, never read at load; unset: Lago's invoices end unverified",
    "ODOO_API_KEY": "a secret, never read at load; Odoo refuses a wrong one at run time",
    "ODOO_DATABASE": "any database name; Odoo refuses an unknown one at run time",
    "ODOO_LOGIN": "any login; Odoo refuses an unknown one at run time",
    "LEDGER_TAX_TIE_PREFERENCE": "any tax names; a name no tax has never breaks a tie",
    "DAGSTER_PG_USERNAME": "Dagster's; the server refuses a wrong one",
    "DAGSTER_PG_PASSWORD": "Dagster's; the server refuses a wrong one",
    "DAGSTER_PG_DB": "Dagster's; the server refuses an unknown one",
}


def test_every_documented_variable_has_cases():
    documented = documented_settings()
    assert {"ODOO_PROTOCOL", "ODOO_LEASE_TTL_SECONDS", "DAGSTER_PG_HOST"} <= documented.keys()
    for name, values in documented.items():
        set_to = {case.env.get(name) for case in CHAIN_CASES} - {None}
        assert set_to, f"{name} is documented but no chain case sets it"
        assert values <= set_to, f"{name}: documented {sorted(values - set_to)} never run"
        assert (name in BAD_VALUES) + (name in DAGSTER_BAD_VALUES) + (name in FREE_FORM) == 1, (
            f"{name}: give its bad values, or say why it has none"
        )
    assert {*BAD_VALUES, *DAGSTER_BAD_VALUES, *FREE_FORM} <= documented.keys()


def _clear_settings(monkeypatch):
    for name in documented_settings():
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    "name, value, allowed",
    [(name, value, allowed) for name, cases in BAD_VALUES.items() for value, allowed in cases],
)
def test_a_bad_value_stops_the_loading_naming_the_variable_and_what_it_allows(
    monkeypatch, name, value, allowed
):
    _clear_settings(monkeypatch)
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingError) as raised:
        build_definitions()
    (problem,) = raised.value.problems
    assert problem.startswith(f"{name} must be ") and allowed in problem, problem
    if name == "NEXACLOUD_DSN":
        assert "hunter2" not in str(raised.value)  # a DSN's password is never shown
    else:
        assert repr(value) in problem


def test_every_bad_value_is_named_at_once_by_the_dagster_cli(tmp_path):
    # What a deployment sees: `dagster definitions validate` fails and lists each bad setting.
    env = {k: v for k, v in os.environ.items() if k not in documented_settings()}
    env.update(
        DAGSTER_HOME=str(tmp_path), ODOO_PROTOCOL="xmlrpc", LEDGER_SYNC_HOUR="six",
        LEDGER_TAX_CATALOGUE="odoo17", ODOO_LEASE_WAIT_SECONDS="-5",
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    for line in (
        "4 settings are invalid",
        "ODOO_PROTOCOL must be one of json2, jsonrpc, auto, not 'xmlrpc'",
        "LEDGER_SYNC_HOUR must be an integer 0–23, not 'six'",
        "LEDGER_TAX_CATALOGUE must be one of odoo, odoo18, odoo19, not 'odoo17'",
        "ODOO_LEASE_WAIT_SECONDS must be an integer ≥ 0 (seconds), not '-5'",
    ):
        assert line in output, output[-3000:]


@pytest.mark.parametrize("name", DAGSTER_BAD_VALUES)
def test_a_bad_dagster_instance_setting_is_named_by_dagster(monkeypatch, tmp_path, name):
    storage = {**dagster_storage_env("host=127.0.0.1 port=5432 user=postgres dbname=x")}
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    for key, value in {**storage, "DAGSTER_HOME": str(home)}.items():
        monkeypatch.setenv(key, value)
    value, message = DAGSTER_BAD_VALUES[name]
    if value is None:
        monkeypatch.delenv(name)
    else:
        monkeypatch.setenv(name, value)
    with pytest.raises(Exception, match=re.escape(message)):
        dg.DagsterInstance.get()


def test_unset_settings_read_as_their_documented_defaults(monkeypatch):
    _clear_settings(monkeypatch)
    monkeypatch.setenv("LEDGER_SYNC_HOUR", "  ")  # blank counts as unset
    assert LedgerSettings.from_env() == LedgerSettings(
        time_zone="UTC", sync_hour=6, sync_lookback_days=35, tax_catalogue="odoo",
        tax_tie_preference=(), unverified_report_hours=72.0,
    )  # fmt: skip
    odoo = build_definitions().resources["odoo"]
    assert (odoo.protocol, odoo.login, odoo.lease_ttl_seconds, odoo.lease_wait_seconds) == (
        "auto", "admin", 600, 300,
    )  # fmt: skip
    assert odoo.max_parallel_requests == 1


# -- the chain at each case's settings -------------------------------------------------------------


@pytest.mark.parametrize(
    "case, world",
    [
        (
            case,
            {
                "invoices": case.invoices,
                "odoo_version": case.odoo_version,
                "time_zone": case.world_zone,
            },
        )
        for case in CHAIN_CASES
    ],
    indirect=["world"],
    ids=[case.name for case in CHAIN_CASES],
)
def test_the_daily_sync_runs_at_each_documented_setting(case, world, monkeypatch, tmp_path):
    _clear_settings(monkeypatch)
    with temporary_database("ledger_settings_dagster") as dagster_dsn:
        for name, value in case.env.items():
            resolved = _resolve(name, value, world, dagster_dsn, tmp_path)
            if resolved is not None:
                monkeypatch.setenv(name, resolved)

        defs = build_definitions()  # what the code location does when it loads
        dg.Definitions.validate_loadable(defs)
        settings = LedgerSettings.from_env()
        _assert_definitions_follow_the_settings(defs, case)

        instance = (
            dg.DagsterInstance.get()
            if "DAGSTER_HOME" in case.env
            else dg.DagsterInstance.ephemeral()
        )
        with instance:
            if "DAGSTER_PG_HOST" in case.env:
                assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            request, since = _tick(defs, settings, world)
            feed = request.run_config["ops"]["source_corrections"]["config"]
            assert feed["uncollectible"] == (case.env.get("LEDGER_UNCOLLECTIBLE") or "leave_open")
            assert feed["lookback_days"] == settings.sync_lookback_days
            if case.lease_held_first:
                _assert_a_held_lease_fails_the_step_at_once(defs, request, instance, world)
            world.odoo.reset_counts()
            result = defs.resolve_job_def("daily_ledger_sync").execute_in_process(
                run_config=request.run_config, instance=instance, raise_on_error=False,
                tags=request.tags,
            )  # fmt: skip
            assert result.success
            assert instance.get_run_by_id(result.run_id).is_success  # recorded in its storage
            _assert_the_chain_booked(case, world, result, settings, since)


def _assert_a_held_lease_fails_the_step_at_once(defs, request, instance, world) -> None:
    """ODOO_LEASE_WAIT_SECONDS=0: a writer that finds the lease held fails, naming the holder,
    and writes nothing."""
    odoo = connect(world.odoo.url, world.odoo.database, world.odoo.api_key, login=world.odoo.login)
    other = OdooLease(odoo, "another-deployment", ttl=600, wait=0)
    other.acquire()
    try:
        busy = defs.resolve_job_def("daily_ledger_sync").execute_in_process(
            run_config=request.run_config,
            instance=instance,
            raise_on_error=False,
            tags=request.tags,
        )
    finally:
        other.release()
        odoo.close()
    assert not busy.success
    failure = busy.failure_data_for_node("odoo_invoices").error.to_string()
    assert "another-deployment" in failure and "waited 0 s" in failure, failure
    assert world.odoo.records("account.move", [["move_type", "=", "out_invoice"]]) == []


def _resolve(name, value, world, dagster_dsn, tmp_path) -> str | None:
    if value == WORLD:
        return world.env[name]
    if value == URL_DSN:
        params = parse_dsn(world.nexacloud_dsn)
        user = params.get("user", "postgres")
        host, port = params.get("host", "127.0.0.1"), params.get("port", "5432")
        if host.startswith("/"):  # an embedded server's socket: libpq takes it as a parameter
            return f"postgresql://{user}@/{params['dbname']}?host={host}&port={port}"
        return f"postgresql://{user}@{host}:{port}/{params['dbname']}"
    if value == INSTANCE:
        return _instance_env(dagster_dsn, tmp_path / "dagster_home")[name]
    return value


def _instance_env(dsn: str, home: Path) -> dict[str, str]:
    """DAGSTER_HOME with the README's dagster.yaml, and the DAGSTER_PG_* it reads."""
    storage = dagster_storage_env(dsn)
    home.mkdir(exist_ok=True)
    config = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    if storage["DAGSTER_PG_HOST"].startswith("/"):
        # An embedded server listens on a socket, which dagster-postgres cannot put in its URL:
        # the socket goes in the connection parameters, the variables stay as documented.
        config["storage"]["postgres"]["postgres_db"]["params"] = {
            "host": storage["DAGSTER_PG_HOST"]
        }
        storage["DAGSTER_PG_HOST"] = "localhost"
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return {"DAGSTER_HOME": str(home), **storage}


def _assert_definitions_follow_the_settings(defs: dg.Definitions, case: ChainCase) -> None:
    env = case.env
    schedule = defs.resolve_schedule_def("daily_ledger_sync_schedule")
    assert schedule.cron_schedule == f"0 {env.get('LEDGER_SYNC_HOUR') or 6} * * *"
    assert schedule.execution_timezone == (env.get("LEDGER_TIME_ZONE") or "UTC")
    assert f"through day {env.get('LEDGER_CLOSE_DAY') or 10}." in schedule.description
    months = defs.resolve_job_def("daily_ledger_sync").partitions_def
    first = env.get("LEDGER_FIRST_MONTH") or "2024-01"
    assert months.get_first_partition_key() == f"{first}-01"
    assert months.timezone == (env.get("LEDGER_TIME_ZONE") or "UTC")
    sensor = defs.resolve_sensor_def("unverified_invoices_sensor")
    hours = float(env.get("LEDGER_UNVERIFIED_REPORT_HOURS") or 72)
    assert f"over {hours:g} h" in sensor.description
    odoo = defs.resources["odoo"]
    assert odoo.protocol == (env.get("ODOO_PROTOCOL") or "auto")
    assert odoo.lease_ttl_seconds == int(env.get("ODOO_LEASE_TTL_SECONDS") or 600)
    assert odoo.lease_wait_seconds == int(env.get("ODOO_LEASE_WAIT_SECONDS") or 300)
    assert odoo.max_parallel_requests == int(env.get("ODOO_MAX_PARALLEL_REQUESTS") or 1)
    shown = repr(defs.resources)  # what the UI could show: secrets stay EnvVar names
    for secret in ("NEXACLOUD_DSN", "STRIPE_API_KEY", "LAGO_API_KEY", "ODOO_API_KEY"):
        if os.environ.get(secret):
            assert os.environ[secret] not in shown


def _tick(defs: dg.Definitions, settings: LedgerSettings, world):
    """The schedule's request on the day after the newest invoice a configured billing system
    can verify (Lago's without a Stripe key), at the configured hour."""
    zone = ZoneInfo(settings.time_zone)
    verifiable = "" if os.environ.get("STRIPE_API_KEY") else "lago:"
    newest = (
        max(i.created_at for i in world.invoices if (i.source_ref or "").startswith(verifiable))
        .astimezone(zone)
        .date()
    )
    tick = datetime.combine(newest + timedelta(days=1), time(settings.sync_hour), zone)
    schedule = defs.resolve_schedule_def("daily_ledger_sync_schedule")
    request = schedule(dg.build_schedule_context(scheduled_execution_time=tick))
    since = month_start(open_months(tick, settings)[0])  # the open months, in the books' zone
    return request, datetime.combine(since, time(0), zone)


def _assert_the_chain_booked(case, world, result, settings, since) -> None:
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["plan_parity"].passed and checks["ledger_parity"].passed

    plan = result.output_for_node("ledger_plan")
    in_window = {i.invoice_id for i in world.invoices if i.created_at >= since}
    assert {d.invoice_id for d in plan.decisions} == in_window  # zone and look-back honoured
    assert 0 < len(in_window) <= len(world.invoices)
    catalogue = settings.tax_catalogue
    expected = "read from Odoo" if catalogue == "odoo" else f"{catalogue} chart (built in)"
    assert plan.tax_catalogue == expected

    planned = {d.invoice_id for d in plan.planned()}
    assert planned, "nothing booked: the case proves little"
    booking = result.asset_materializations_for_node("odoo_invoices")[0].metadata
    parallelism = int(case.env.get("ODOO_MAX_PARALLEL_REQUESTS") or 1)
    assert booking["odoo_parallelism"].value == parallelism
    assert 1 <= booking["odoo_peak_parallel_calls"].value <= parallelism
    assert 0 < booking["odoo_wait_seconds"].value <= booking["booking_seconds"].value
    booked = {
        m["x_fc_nexacloud_invoice_id"]
        for m in world.odoo.records("account.move", [["state", "=", "posted"]])
    }
    assert planned <= booked

    reasons = {d.invoice_id: d.reason or "" for d in plan.decisions}
    stripe_ids = {i.invoice_id for i in world.invoices if (i.source_ref or "").startswith("in_")}
    if not case.env.get("STRIPE_API_KEY"):
        assert stripe_ids & in_window
        assert all("credentials are not configured" in reasons[i] for i in stripe_ids & in_window)
    else:
        assert stripe_ids & planned  # Stripe answered with the configured key at its address
    # British Columbia's and Manitoba's 12 % compute the same tax: the preference decides.
    booked_bc = [d for d in plan.planned() if d.move.tax_name == "12% GST+PST BC"]
    tied = [reason for reason in reasons.values() if "12% GST+PST MB" in reason]
    if settings.tax_tie_preference:
        assert booked_bc and not tied
    else:
        assert tied and not booked_bc and "set tax_tie_preference" in tied[0]

    # The payouts of the open months, with the configured fee account (created if missing).
    assert checks["payouts_clear"].passed, checks["payouts_clear"].description
    fee_code = case.env.get("LEDGER_STRIPE_FEE_ACCOUNT") or "NCR.STRIPEFEE"
    if world.odoo.records("ir.model.fields", [["name", "=", "x_fc_payout_id"]]):
        assert world.odoo.records("account.account", [["code", "=", fee_code]])

    calls = set(world.odoo.call_counts())
    assert case.protocol_calls <= calls and not case.no_protocol_calls & calls
