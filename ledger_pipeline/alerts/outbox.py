"""Alerts waiting for a receiver that was down: kept in a sensor's cursor, tried again next tick.

Each entry remembers which notifiers still owe it, so a webhook that was down gets the alert
later while the e-mail that went through is not sent twice. The outbox is bounded: past
`MAX_PENDING` the oldest alerts are dropped, with an error in the sensor's log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger_pipeline.alerts.messages import Alert
from ledger_pipeline.alerts.notifiers import Notifier, deliver

MAX_PENDING = 20


@dataclass(frozen=True)
class Pending:
    alert: Alert
    owed_by: tuple[str, ...]  # notifier names that have not delivered it yet

    def to_json(self) -> dict:
        return {"alert": self.alert.to_json(), "owed_by": list(self.owed_by)}

    @classmethod
    def from_json(cls, data: dict) -> Pending:
        return cls(Alert.from_json(data["alert"]), tuple(data["owed_by"]))


def send_all(
    pending: Sequence[Pending], new: Sequence[Alert], notifiers: Sequence[Notifier], log
) -> list[Pending]:
    """Tries what was pending, then the new alerts; what is still owed, oldest first."""
    by_name = {notifier.name: notifier for notifier in notifiers}
    queue = [*pending, *(Pending(alert, tuple(by_name)) for alert in new)]
    still_owed: list[Pending] = []
    for entry in queue:
        owed = [by_name[name] for name in entry.owed_by if name in by_name]  # a removed one: done
        if not notifiers:
            deliver(entry.alert, [], log)
            continue
        failed = deliver(entry.alert, owed, log) if owed else []
        if failed:
            still_owed.append(Pending(entry.alert, tuple(failed)))
    if len(still_owed) > MAX_PENDING:
        dropped = still_owed[:-MAX_PENDING]
        log.error(
            f"{len(dropped)} undelivered alert(s) dropped (over {MAX_PENDING} waiting): "
            + "; ".join(entry.alert.title for entry in dropped)
        )
        still_owed = still_owed[-MAX_PENDING:]
    if still_owed:
        log.warning(f"{len(still_owed)} alert(s) kept for the next tick")
    return still_owed
