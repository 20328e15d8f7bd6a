"""Kill-and-resume for real: a run SIGKILLed after a checkpoint and resumed ends with bitwise the
same weights as an uninterrupted run with the same seed (CPU, subprocesses)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from handoccnet_lite.utils import DATA_SAMPLES_DIR, REPO_ROOT

# 24 samples / batch 4 = 6 steps per epoch; 3 epochs = 18 steps; lr x0.5 every epoch, so the
# resumed run must restore the scheduler, the data order across an epoch boundary, the
# seeded augmentation and the optimizer state to match.
ARGS = [
    "train",
    "--preset",
    "tiny",
    "--data",
    str(DATA_SAMPLES_DIR / "synthocc"),
    "--max-samples",
    "24",
    "--batch-size",
    "4",
    "--epochs",
    "3",
    "--lr",
    "0.01",
    "--lr-gamma",
    "0.5",
    "--lr-step-epochs",
    "1",
    "--ckpt-every",
    "4",
    "--seed",
    "7",
    "--no-progress",
]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "handoccnet_lite", *ARGS, "--out", str(out), *extra]


def _launch(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        _cmd(out, *extra), cwd=REPO_ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _wait_for(path: Path, proc: subprocess.Popen) -> None:
    """Until `path` exists; fails if the run ends first (no wall-clock limit: a slow machine is
    not an error, and the run always ends)."""
    while not path.exists():
        assert proc.poll() is None, f"run ended before writing {path}: {proc.communicate()}"
        time.sleep(0.01)


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "model.pt", map_location="cpu", weights_only=False)["model"]


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path: Path) -> None:
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    ref_proc = _launch(ref)  # runs alongside the one we kill (2 cores)
    victim = _launch(killed)
    _wait_for(killed / "checkpoint.pt", victim)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert not (killed / "model.pt").exists(), "the victim finished before it was killed"
    step = torch.load(killed / "checkpoint.pt", weights_only=False)["position"]["step"]
    assert 4 <= step < 18

    resumed = subprocess.run(
        _cmd(killed, "--resume"), cwd=REPO_ROOT, env=ENV, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    out, err = ref_proc.communicate()
    assert ref_proc.returncode == 0, err

    a, b = _weights(ref), _weights(killed)
    assert a.keys() == b.keys()
    diff = {k: (a[k].double() - b[k].double()).abs().max().item() for k in a}
    assert all(torch.equal(a[k], b[k]) for k in a), {k: v for k, v in diff.items() if v}
    # the log was cut back to the checkpoint and continued: one row per step, no duplicates
    import pandas as pd

    log = pd.read_csv(killed / "log.csv")
    assert log["step"].tolist() == list(range(1, 19))
    ref_log = pd.read_csv(ref / "log.csv")
    assert (log["total"].to_numpy() == ref_log["total"].to_numpy()).all()
    assert log["lr"].iloc[-1] == ref_log["lr"].iloc[-1] == 0.01 * 4 / 64 * 0.25
