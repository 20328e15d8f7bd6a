"""Attention-logit growth under the gpu profile's recipe, simulated on the CPU in bf16.

Usage: PYTHONPATH=$PWD python benchmarks/attention_logits.py [--preset lite] [--steps 150]
           [--feature-norm none batch] [--out results/gpu_smoke/attention_logits.json]

Trains with the trainer's own loop (full protocol: images in, everything trained, release
initialisation, Adam at the gpu profile's per-step learning rate 1e-4) under bf16 autocast on the
bundled SynthOcc train split, once per feature_norm, and records after every step the largest
|logit| q.k / sqrt(d) of every attention block (FIT blocks, then SET blocks; softmax logits, and
FIT's gate logits before its sum/mean pool). Prints the max over windows of steps.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import torch

from handoccnet_lite.utils import DATA_SAMPLES_DIR


class LogitRecorder:
    """Wraps fit/set's fused attention: records max |q k^T * scale| per call (no_grad)."""

    def __init__(self, blocks: int) -> None:
        self.blocks, self.calls, self.rows = blocks, 0, []  # rows: per step, per block

    def wrap(self, fn: Any) -> Any:
        def recorded(q, k, v, scale, *args: Any, **kwargs: Any):
            with torch.no_grad():
                peak = 0.0
                for a, b in [(q, k), *([args[1:3]] if len(args) >= 3 else [])]:
                    if a is not None and b is not None:
                        logits = a.float() @ b.float().transpose(-2, -1) * scale  # (B,H,N,M)
                        peak = max(peak, float(logits.abs().max()))
            if self.calls % self.blocks == 0:
                self.rows.append([])
            self.rows[-1].append(peak)
            self.calls += 1
            return fn(q, k, v, scale, *args, **kwargs)

        return recorded


def measure(preset_name: str, steps: int, feature_norm: str, batch: int) -> list[list[float]]:
    """Per step, per block max |logit| of one bf16 CPU run of the gpu recipe."""
    from handoccnet_lite.config import preset
    from handoccnet_lite.engine import trainer
    from handoccnet_lite.engine.overrides import apply_overrides
    from handoccnet_lite.engine.profiles import get_profile
    from handoccnet_lite.model import fit
    from handoccnet_lite.model import set as set_module

    profile = get_profile("gpu")
    model_cfg = apply_overrides(preset(preset_name), profile.model | {"feature_norm": feature_norm})
    recorder = LogitRecorder(model_cfg.fit.depth + model_cfg.set.depth)
    saved = fit.scaled_attention_fused, set_module.scaled_attention_fused
    fit.scaled_attention_fused = recorder.wrap(saved[0])
    set_module.scaled_attention_fused = recorder.wrap(saved[1])
    cfg = trainer.TrainConfig(
        model=model_cfg,
        data_root=str(DATA_SAMPLES_DIR / "synthocc"),
        epochs=100,
        max_steps=steps,
        batch_size=batch,
        base_lr=1e-4,  # the gpu profile's lr at its batch of 64: the same per-step lr here
        lr_scaling="none",
        amp="bf16",
        device="cpu",
        ckpt_every=10**6,
        progress=False,
        tensorboard=False,
    )
    try:
        with tempfile.TemporaryDirectory() as out:
            trainer.train(cfg, out)
    except trainer.NonFiniteLossError as err:
        print(f"  stopped: {str(err)[:160]}")
    finally:
        fit.scaled_attention_fused, set_module.scaled_attention_fused = saved
    return recorder.rows


def main() -> None:
    """Run, print a table of max logits per block over step windows, save JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="lite")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--feature-norm", nargs="+", default=["none", "batch"])
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    results = {}
    for norm in args.feature_norm:
        torch.manual_seed(0)
        rows = measure(args.preset, args.steps, norm, args.batch)
        results[norm] = rows
        window = max(1, len(rows) // 6)
        print(f"feature_norm={norm}: max |logit| per block (FIT..., SET...) per {window} steps")
        for start in range(0, len(rows), window):
            chunk = rows[start : start + window]
            peaks = [max(r[b] for r in chunk) for b in range(len(chunk[0]))]
            print(
                f"  steps {start + 1:4d}-{start + len(chunk):4d}: "
                + "  ".join(f"{p:9.3g}" for p in peaks)
            )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"args": vars(args), "rows": results}) + "\n")


if __name__ == "__main__":
    main()
