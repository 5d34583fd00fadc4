"""Alerts to people when the pipeline fails: a failed run, a failed asset check, a stale daily
sync, sent to a Slack-compatible webhook and/or by e-mail as configured from the environment."""

from ledger_pipeline.alerts.sensors import build_alert_sensors
from ledger_pipeline.alerts.settings import AlertSettings

__all__ = ["AlertSettings", "build_alert_sensors"]
