"""DistributedDataParallel on CPU: torchrun --nproc_per_node 2 with the gloo backend.

Each rank trains on its own shard of every global batch; if gradients were not averaged the
replicas would drift apart. Both ranks must end with identical weights, the learning rate must
follow the global batch (linear rule), and the run must match what the CLI launch writes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from handoccnet_lite.utils import DATA_SAMPLES_DIR, REPO_ROOT

SCRIPT = """
import os, sys, torch
from handoccnet_lite.config import preset
from handoccnet_lite.engine.train_config import TrainConfig
from handoccnet_lite.engine.trainer import train

out = sys.argv[1]
model = preset("tiny")
cfg = TrainConfig(model=model, data_root=sys.argv[2], max_samples=32, batch_size=4, epochs=1,
                  max_steps=3, base_lr=0.01, ckpt_every=2, progress=False, device="cpu")
res = train(cfg, out)
rank = int(os.environ["RANK"])
torch.save({k: v.clone() for k, v in res.model.state_dict().items()}, f"{out}/rank{rank}.pt")
torch.save(res.summary, f"{out}/summary_rank{rank}.pt")
"""


def _torchrun() -> str:
    exe = Path(sys.executable).with_name("torchrun")
    return str(exe) if exe.exists() else shutil.which("torchrun") or "torchrun"


def test_ddp_gloo_two_ranks_end_identical(tmp_path: Path) -> None:
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [
        _torchrun(),
        "--standalone",
        "--nproc_per_node",
        "2",
        str(script),
        str(out),
        str(DATA_SAMPLES_DIR / "synthocc"),
    ]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 and "gloo" in proc.stderr.lower() and "not" in proc.stderr.lower():
        pytest.skip(f"gloo unavailable: {proc.stderr[-300:]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    w0 = torch.load(out / "rank0.pt", weights_only=False)
    w1 = torch.load(out / "rank1.pt", weights_only=False)
    assert w0.keys() == w1.keys()
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    summary = torch.load(out / "summary_rank0.pt", weights_only=False)
    assert summary["world_size"] == 2 and summary["global_batch"] == 8
    assert summary["lr_initial"] == pytest.approx(0.01 * 8 / 64)  # linear rule on global batch
    assert summary["max_replica_difference"] == 0.0
    # the weights moved (training happened) and rank 0 wrote the run folder
    init = torch.load(out / "checkpoint.pt", weights_only=False)
    assert init["position"]["step"] == 3 and init["extra"]["world_size"] == 2
    assert (out / "model.pt").is_file() and (out / "log.csv").read_text().count("\n") == 4
