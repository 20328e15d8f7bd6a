"""A training run's log: log.csv (one row per step, rank 0 only) plus TensorBoard when installed."""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path
from typing import Any

LOG_NAME = "log.csv"


# --------------------------------------------------------------------------------------------
# logging
# --------------------------------------------------------------------------------------------
class RunLog:
    """CSV log (one row per step) plus TensorBoard when installed; rank 0 only."""

    def __init__(self, out_dir: Path, enabled: bool, tensorboard: bool, resume_step: int) -> None:
        self.path = out_dir / LOG_NAME
        self.enabled = enabled
        self.fields: list[str] | None = None
        self.tb = None
        if not enabled:
            return
        if resume_step > 0:
            self._truncate(resume_step)
        else:
            self.path.unlink(missing_ok=True)
        if tensorboard:
            with contextlib.suppress(ImportError, ModuleNotFoundError):
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out_dir / "tb"))

    def _truncate(self, step: int) -> None:
        """Drop rows logged after the checkpoint we resume from (a killed run wrote them)."""
        if not self.path.exists():
            return
        with self.path.open() as f:
            rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]
        if rows:
            self.fields = list(rows[0])
        with self.path.open("w", newline="") as f:
            if rows:
                w = csv.DictWriter(f, fieldnames=self.fields)
                w.writeheader()
                w.writerows(rows)

    def write(self, row: dict[str, float]) -> None:
        if not self.enabled:
            return
        new = self.fields is None or not self.path.exists() or self.path.stat().st_size == 0
        if new:
            self.fields = list(row)
        with self.path.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.fields, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow(row)
        if self.tb is not None:
            for k, v in row.items():
                if k not in ("step", "epoch"):
                    self.tb.add_scalar(k, v, int(row["step"]))

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def read_log(run_dir: str | Path) -> Any:
    """A run's log.csv as a pandas DataFrame."""
    import pandas as pd

    return pd.read_csv(Path(run_dir) / LOG_NAME)
