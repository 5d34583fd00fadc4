"""How the chain's assets hand their values to the next step: pickles in the run storage, one
per asset and month range.

Dagster's default filesystem IO manager stores one file per partition and refuses an output that
covers several (a single run over a range of months). A step of this chain, and each check of
it, reads what an upstream step of the same run wrote, for the run's months (a re-execution of
a run keeps its months), so the run's months are the key.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import dagster as dg

from ledger_pipeline.partitions import RANGE_END_TAG, RANGE_START_TAG

PARTITION_TAG = "dagster/partition"


class MonthRangeIOManager(dg.ConfigurableIOManager):
    """Pickles each output under `<base>/<asset>/<first month>..<last month>.pickle`."""

    base_dir: str | None = None  # None: the Dagster instance's storage directory

    def _path(self, context: dg.OutputContext | dg.InputContext, asset_key: dg.AssetKey) -> Path:
        step = context.step_context
        base = Path(self.base_dir or step.instance.storage_directory())
        tags = step.run_tags
        if RANGE_START_TAG in tags:
            months = f"{tags[RANGE_START_TAG]}..{tags[RANGE_END_TAG]}"
        else:
            months = tags.get(PARTITION_TAG, "unpartitioned")
        return base.joinpath(*asset_key.path) / f"{months}.pickle"

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        if obj is None:
            return
        path = self._path(context, context.asset_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        with partial.open("wb") as file:
            pickle.dump(obj, file, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(path)  # a reader never sees half a file

    def load_input(self, context: dg.InputContext) -> object:
        path = self._path(context, context.upstream_output.asset_key)
        try:
            with path.open("rb") as file:
                return pickle.load(file)
        except FileNotFoundError:
            raise dg.Failure(
                f"{context.upstream_output.asset_key.to_user_string()} has no stored value for "
                f"these months ({path.stem}): materialize it for the same months in this run"
            ) from None
