"""`handoccnet-lite train`: a TrainConfig from defaults, profile, config file and flags; one run."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from handoccnet_lite.cli.common import (
    BUNDLED,
    PRESETS,
    PROFILES,
    PROG,
    UserError,
    add_progress_flag,
    subparser,
)


def register(sub: Any) -> None:
    p = subparser(
        sub,
        "train",
        "train HandOccNet (Adam, paper schedule, resumable checkpoints)",
        "Train HandOccNet on SynthOcc. Settings come, lowest priority first, from: the defaults,\n"
        "--profile, --config (a TrainConfig JSON such as a run's config.json), then the flags.\n\n"
        "Learning rate: --lr is the lr at the paper's global batch of 64 (16 per GPU x 4 GPUs).\n"
        "With --lr-scaling linear (default) the run uses lr = base_lr * global_batch / 64;\n"
        "'none' keeps --lr as is, which is what users of the release did on fewer GPUs and what\n"
        "gave them much worse Dex-YCB numbers.\n\n"
        "Writes to --out: config.json, log.csv, checkpoint.pt (every --ckpt-every steps,\n"
        "atomic; the one before is kept as checkpoint.prev.pt, which --resume falls back to when\n"
        "the latest is damaged), model.pt, summary.json. An --out holding a run is refused\n"
        "unless --resume (continue it) or --overwrite (replace it). A NaN/inf loss stops the run\n"
        "(exit 3) and keeps the last good checkpoint. Multi-GPU: launch with torchrun\n"
        "(DistributedDataParallel).",
        f"  {PROG} train --preset tiny --data {BUNDLED} --out runs/tiny --max-steps 50\n"
        f"  {PROG} train --profile quick --out runs/quick\n"
        f"  {PROG} train --out runs/quick --resume          # continue after a crash\n"
        f"  {PROG} train --preset lite --schedule dexycb --set fit.attention=softmax\n"
        f"  torchrun --nproc_per_node 4 -m handoccnet_lite train --preset paper --data DIR\n",
    )
    p.add_argument("--out", default="runs/train", help="run folder")
    p.add_argument(
        "--profile",
        choices=PROFILES,
        default=None,
        help="start from a profile's preset, data and training settings",
    )
    p.add_argument(
        "--config", default=None, help="TrainConfig JSON file (e.g. a run's config.json)"
    )
    p.add_argument("--preset", choices=PRESETS, default=None, help="model size (default tiny)")
    p.add_argument(
        "--variant",
        default=None,
        help="ablation variant: official, fit_softmax, fit_sigmoid, no_fit, no_set, supplement",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model config override, repeatable (fit.attention=softmax, use_set=false)",
    )
    p.add_argument("--data", default=None, help=f"SynthOcc root (default {BUNDLED})")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default 1)")
    p.add_argument(
        "--max-steps", type=int, default=None, help="stop after this many steps (0: no cap)"
    )
    p.add_argument(
        "--max-samples",
        type=int,
        default=None,
        help="train on the first N samples only (0: all; smoke runs)",
    )
    p.add_argument("--batch-size", type=int, default=None, help="images per process (default 16)")
    p.add_argument(
        "--lr", type=float, default=None, help="base lr at global batch 64 (default 1e-4)"
    )
    p.add_argument(
        "--lr-scaling",
        choices=("linear", "none"),
        default=None,
        help="linear: lr = base_lr * global_batch / 64 (default); none: lr = base_lr",
    )
    p.add_argument(
        "--schedule",
        choices=("ho3d", "dexycb"),
        default=None,
        help="the paper's schedule: ho3d x0.7 every 10 epochs (70 epochs), "
        "dexycb x0.9 every epoch (25 epochs)",
    )
    p.add_argument("--lr-gamma", type=float, default=None, help="lr factor per step (default 0.7)")
    p.add_argument(
        "--lr-step-epochs", type=int, default=None, help="epochs between lr steps (default 10)"
    )
    p.add_argument("--seed", type=int, default=None, help="seed of everything (default 0)")
    p.add_argument("--workers", type=int, default=None, help="DataLoader workers (default 0)")
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    p.add_argument(
        "--ckpt-every", type=int, default=None, help="checkpoint every N steps (default 100)"
    )
    p.add_argument("--no-augment", action="store_true", help="train without augmentation")
    p.add_argument(
        "--amp",
        choices=("auto", "bf16", "off"),
        default=None,
        help="auto: bf16 autocast on CUDA, fp32 on CPU",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the model (CUDA advised)")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda")
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its checkpoint"
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in --out (without it, an existing run is refused)",
    )
    add_progress_flag(p)
    p.set_defaults(func=cmd_train)


def _parse_override(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise UserError(f"--set {text!r}: expected KEY=VALUE, e.g. --set fit.attention=softmax.")
    key, raw = text.split("=", 1)
    low = raw.strip().lower()
    if low in ("true", "false"):
        return key.strip(), low == "true"
    try:
        return key.strip(), json.loads(raw)
    except json.JSONDecodeError:
        return key.strip(), raw


_FLAG_TO_FIELD = {
    "epochs": "epochs",
    "max_steps": "max_steps",
    "batch_size": "batch_size",
    "lr": "base_lr",
    "lr_scaling": "lr_scaling",
    "lr_gamma": "lr_gamma",
    "lr_step_epochs": "lr_step_epochs",
    "seed": "seed",
    "workers": "num_workers",
    "ckpt_every": "ckpt_every",
    "amp": "amp",
    "device": "device",
    "data": "data_root",
    "max_samples": "max_samples",
    "threads": "threads",
}


def build_train_config(a: argparse.Namespace) -> Any:
    """TrainConfig from defaults < --profile < --config < flags (also used by --resume)."""
    from handoccnet_lite.config import preset
    from handoccnet_lite.engine.overrides import apply_overrides
    from handoccnet_lite.engine.profiles import get_profile, profile_model_config, variant_config
    from handoccnet_lite.engine.train_config import TrainConfig

    cfg = TrainConfig(model=preset("tiny"), data_root=BUNDLED)
    if a.resume and a.config is None and (Path(a.out) / "config.json").is_file():
        cfg = TrainConfig.load(Path(a.out) / "config.json")
    if a.profile:
        prof = get_profile(a.profile)
        cfg = cfg.replace(model=profile_model_config(prof), data_root=prof.data.root, **prof.train)
        cfg = cfg.replace(threads=prof.threads) if prof.threads > 0 else cfg
    if a.config:
        cfg = TrainConfig.load(a.config)
    if a.preset:
        cfg = cfg.replace(model=preset(a.preset))
    if a.schedule:
        cfg = cfg.with_schedule(a.schedule)
    changes = {f: getattr(a, k) for k, f in _FLAG_TO_FIELD.items() if getattr(a, k) is not None}
    model = variant_config(cfg.model, a.variant) if a.variant else cfg.model
    model = apply_overrides(model, dict(_parse_override(o) for o in a.overrides))
    extra = {"augment": False} if a.no_augment else {}
    extra |= {"compile": True} if a.compile else {}
    return cfg.replace(model=model, progress=not a.no_progress, **changes, **extra)


def cmd_train(a: argparse.Namespace) -> int:
    from handoccnet_lite.engine.run_folder import BOTH_FLAGS, prepare_run_folder
    from handoccnet_lite.engine.trainer import train

    if a.resume and a.overwrite:
        raise UserError(BOTH_FLAGS)
    cfg = build_train_config(a)
    if not Path(cfg.data_root).exists():
        raise UserError(
            f"No dataset at {cfg.data_root}; generate one (`{PROG} data --out {cfg.data_root}`) "
            f"or pass --data {BUNDLED}."
        )
    if int(os.environ.get("RANK", 0)) == 0:  # one process decides (torchrun)
        prepare_run_folder(a.out, a.resume, a.overwrite)  # after the config and data checks
    result = train(cfg, a.out, resume=a.resume)
    if result.summary["world_size"] > 1 and int(os.environ.get("RANK", 0)) != 0:
        return 0
    s = result.summary
    print(
        f"trained {s['steps']} steps in {s['seconds']:.1f} s ({s['images_per_s']:.1f} images/s); "
        f"final loss {s['final_losses'].get('total', float('nan')):.4g}; lr {s['lr_initial']:.3g} "
        f"({s['lr_rule']}); weights: {Path(a.out) / 'model.pt'}"
    )
    return 0
