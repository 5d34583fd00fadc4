"""The code location: the one Definitions object, nothing else."""

import dagster as dg

from ledger_pipeline import checks
from ledger_pipeline.alerts import build_alert_sensors
from ledger_pipeline.alerts.settings import AlertSettings
from ledger_pipeline.chain import chain_assets
from ledger_pipeline.io_manager import MonthRangeIOManager
from ledger_pipeline.jobs import build_jobs
from ledger_pipeline.maintenance import prune_metered_shadow_job
from ledger_pipeline.partitions import accounting_months
from ledger_pipeline.resources import build_resources
from ledger_pipeline.schedules import build_daily_schedule
from ledger_pipeline.sensors import build_unverified_sensor
from ledger_pipeline.settings import LedgerSettings, SettingError


def build_definitions(
    settings: LedgerSettings | None = None, resources: dict | None = None
) -> dg.Definitions:
    """The definitions for these settings and resources (default: from the environment)."""
    settings, resources, alerts = _from_environment(settings, resources)
    return dg.Definitions(
        assets=chain_assets(accounting_months(settings)),
        asset_checks=dg.load_asset_checks_from_modules([checks]),
        jobs=[*build_jobs(settings), prune_metered_shadow_job],
        schedules=[build_daily_schedule(settings)],
        sensors=[build_unverified_sensor(settings), *build_alert_sensors(alerts)],
        # The chain hands values on per month range (one run books several months).
        resources={"io_manager": MonthRangeIOManager(), **resources},
    )


def _from_environment(
    settings: LedgerSettings | None, resources: dict | None
) -> tuple[LedgerSettings, dict, AlertSettings]:
    """What was not given, read from the environment; every bad value named in one error, so a
    deployment fixes its settings in one pass."""
    problems: list[str] = []
    if settings is None:
        try:
            settings = LedgerSettings.from_env()
        except SettingError as error:
            problems += error.problems
    if resources is None:
        try:
            resources = build_resources()
        except SettingError as error:
            problems += error.problems
    alerts = AlertSettings()
    try:
        alerts = AlertSettings.from_env()
    except SettingError as error:
        problems += error.problems
    if problems:
        raise SettingError(problems)
    return settings, resources, alerts


defs = build_definitions()
