"""`handoccnet-lite`: the command line (also `python -m handoccnet_lite`).

Subcommands: data, train, eval, ablate, tables, demo, doctor. Each has a `--help` with examples.
torch is imported inside the command functions, so `--help` stays fast. User errors (bad paths,
bad configs, damaged or unsafe files, a full or read-only disk) print one line naming the fix
and exit with status 2, without a traceback (`handoccnet_lite.errors`); --debug (or
HANDOCCNET_DEBUG=1) shows the traceback anyway.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROG = "handoccnet-lite"
EXIT_USER_ERROR = 2
EXIT_NONFINITE = 3
PRESETS = ("tiny", "lite", "paper")
PROFILES = ("quick", "cpu", "gpu")
BUNDLED = "data_samples/synthocc"


class UserError(Exception):
    """A mistake in the command line or the files it names; printed as one line."""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Defaults shown after options that have one; description and epilog kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, [], argparse.SUPPRESS) or "default" in text:
            return text
        if action.option_strings or action.nargs in ("?", "*"):
            return text + " (default: %(default)s)"
        return text


def _parser(
    sub: Any, name: str, help_: str, description: str, epilog: str
) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=help_,
        description=description,
        epilog="examples:\n" + epilog,
        formatter_class=_Formatter,
    )


def _progress_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def _device_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device", default="auto", help="auto (CUDA when available, else CPU), cpu, cuda, cuda:1"
    )


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
def _add_data(sub: Any) -> None:
    p = _parser(
        sub,
        "data",
        "generate SynthOcc (rendered occluded hands) or regenerate the bundled samples",
        "Render a SynthOcc set: hands in MANO's parameterisation, posed, lit and partly hidden by\n"
        "objects, with exact per-joint visibility and occlusion fractions. Every sample is\n"
        "deterministic from (seed, split, index).\n"
        "Writes <out>/<split>/shard_*.npz + manifest.json, both splits into a temp folder beside\n"
        "<out> that replaces <out> at the end: a failure leaves the earlier set as it was.",
        f"  {PROG} data --out data/synthocc --n-train 3000 --n-test 500\n"
        f"  {PROG} data --samples            # rebuild data_samples/synthocc bit for bit\n",
    )
    p.add_argument("--out", default="data/synthocc", help="output root folder")
    p.add_argument("--n-train", type=int, default=3000, help="training images")
    p.add_argument("--n-test", type=int, default=500, help="test images")
    p.add_argument("--seed", type=int, default=0, help="generator seed")
    p.add_argument("--resolution", type=int, default=128, help="rendered image side (pixels)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="render processes")
    p.add_argument(
        "--samples",
        action="store_true",
        help="regenerate the committed data_samples/synthocc (ignores the size flags)",
    )
    _progress_flag(p)
    p.set_defaults(func=cmd_data)


def cmd_data(a: argparse.Namespace) -> int:
    from handoccnet_lite.data.synthocc import generate_synthocc_set, make_data_samples

    if a.samples:
        print(
            "bundled samples regenerated in "
            f"{make_data_samples(workers=a.workers, progress=not a.no_progress)}"
        )
        return 0
    if a.n_train < 1 or a.n_test < 1:
        raise UserError(f"--n-train and --n-test must be >= 1 (got {a.n_train}, {a.n_test}).")
    sizes = {"train": a.n_train, "test": a.n_test}
    root = generate_synthocc_set(  # both splits in a temp folder, swapped in at the end
        a.out, sizes, seed=a.seed, resolution=a.resolution, workers=a.workers,
        progress=not a.no_progress,
    )  # fmt: skip
    for split, n in sizes.items():
        print(f"{split}: {n} samples in {root / split}")
    return 0


# --------------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------------
def _add_train(sub: Any) -> None:
    p = _parser(
        sub,
        "train",
        "train HandOccNet (Adam, paper schedule, resumable checkpoints)",
        "Train HandOccNet on SynthOcc. Settings come, lowest priority first, from: the defaults,\n"
        "--profile, --config (a TrainConfig JSON such as a run's config.json), then the flags.\n\n"
        "Learning rate: --lr is the lr at the paper's global batch of 64 (16 per GPU x 4 GPUs).\n"
        "With --lr-scaling linear (default) the run uses lr = base_lr * global_batch / 64;\n"
        "'none' keeps --lr as is, which is what users of the release did on fewer GPUs and what\n"
        "gave them much worse Dex-YCB numbers.\n\n"
        "Writes to --out: config.json, log.csv, checkpoint.pt (every --ckpt-every steps, atomic),\n"
        "model.pt, summary.json. A NaN/inf loss stops the run (exit 3) and keeps the last good\n"
        "checkpoint. Multi-GPU: launch with torchrun (DistributedDataParallel).",
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
    _progress_flag(p)
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
    from handoccnet_lite.engine.ablation import apply_overrides, variant_config
    from handoccnet_lite.engine.profiles import get_profile, profile_model_config
    from handoccnet_lite.engine.trainer import TrainConfig

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
    from handoccnet_lite.engine.run_folder import prepare_run_folder
    from handoccnet_lite.engine.trainer import train

    if int(os.environ.get("RANK", 0)) == 0:  # one process decides (torchrun)
        prepare_run_folder(a.out, a.resume, a.overwrite)
    cfg = build_train_config(a)
    if not Path(cfg.data_root).exists():
        raise UserError(
            f"No dataset at {cfg.data_root}; generate one (`{PROG} data --out {cfg.data_root}`) "
            f"or pass --data {BUNDLED}."
        )
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


# --------------------------------------------------------------------------------------------
# eval
# --------------------------------------------------------------------------------------------
def _add_eval(sub: Any) -> None:
    p = _parser(
        sub,
        "eval",
        "evaluate a trained model: per-sample metrics, summary, accuracy vs occlusion",
        "Score a trained model on a SynthOcc split. Predictions (root-relative) are moved to the\n"
        "ground-truth root, as HandOccNet's own evaluation does; PA metrics use similarity\n"
        "Procrustes without reflection. Writes one row per sample (index, occlusion fraction,\n"
        "visible joints, metrics in mm) to --csv, and prints the summary and a table by occlusion\n"
        "level. --baseline adds two constant references fitted on the train split: the mean\n"
        "pose (mean root-relative hand in the camera frame) and the mean hand (the average hand\n"
        "in its own frame, stronger for PA metrics when orientations vary). pred_spread: how the\n"
        "predictions vary between images (mm after rigid alignment; gt_spread: the truth's);\n"
        "near 0 means one constant hand, whatever its PA-MPJPE.",
        f"  {PROG} eval --run runs/quick\n"
        f"  {PROG} eval --run runs/quick/model.pt --data {BUNDLED} --split test --baseline\n"
        f"  {PROG} eval --run runs/quick --figure figures/eval_vs_occlusion.png\n",
    )
    p.add_argument("--run", required=True, help="run folder, model.pt or checkpoint.pt")
    p.add_argument("--data", default=BUNDLED, help="SynthOcc root")
    p.add_argument("--split", default="test", help="split to score")
    p.add_argument("--batch-size", type=int, default=32, help="evaluation batch")
    p.add_argument("--csv", default=None, help="per-sample CSV (default RUN/eval_<split>.csv)")
    p.add_argument("--baseline", action="store_true", help="also score the constant baselines")
    p.add_argument("--figure", default=None, help="write a PA-MPJPE vs occlusion plot here (.png)")
    _device_flag(p)
    _progress_flag(p)
    p.set_defaults(func=cmd_eval)


def load_trained(run: str | Path, device: str = "cpu") -> Any:
    """(model in eval mode, ModelConfig) from a run folder, model.pt or checkpoint.pt."""
    from handoccnet_lite.config import ModelConfig
    from handoccnet_lite.engine import checkpoint as ckpt
    from handoccnet_lite.engine.trainer import build_model

    state = ckpt.load_checkpoint(ckpt.find_weights(run), map_location="cpu")
    cfg = ModelConfig.from_dict(ckpt.model_config_of(state))
    model = build_model(cfg)
    model.load_state_dict(ckpt.float_weights(state["model"]))  # exported files store float16
    return model.eval(), cfg


def _dataset(root: str, split: str, size: int, augment: bool = False) -> Any:
    from handoccnet_lite.data.dataset import SynthOccDataset

    if not (Path(root) / split).is_dir():
        raise UserError(
            f"No split '{split}' under {root}; generate data (`{PROG} data --out {root}`) or "
            f"pass --data {BUNDLED}."
        )
    return SynthOccDataset(root, split, size, augment=augment)


def cmd_eval(a: argparse.Namespace) -> int:
    import pandas as pd

    from handoccnet_lite.engine import evaluate as ev

    model, cfg = load_trained(a.run)
    data = _dataset(a.data, a.split, cfg.input_size)
    df = ev.evaluate_model(model, data, a.batch_size, a.device, not a.no_progress).assign(
        method="model"
    )
    if a.baseline:
        train = _dataset(a.data, "train", cfg.input_size)
        for frame in ev.BASELINE_FRAMES:
            base = ev.MeanPoseBaseline.fit(train, frame=frame)
            df = pd.concat([df, ev.evaluate_baseline(base, data).assign(method=base.name)])
    run_dir = Path(a.run) if Path(a.run).is_dir() else Path(a.run).parent
    out = Path(a.csv) if a.csv else run_dir / f"eval_{a.split}.csv"
    df.to_csv(out, index=False)
    cols = ["method", "n", "pa_mpjpe", "mpjpe", "pa_mpvpe", "f5", "f15", "pred_spread", "gt_spread"]
    print(f"SynthOcc {a.split} ({len(data)} samples; errors in mm):")
    print(ev.summary_table(df, "method")[cols].round(3).to_string(index=False))
    curve = ev.occlusion_curve(df, "pa_mpjpe", by="method")
    print("\nPA-MPJPE by occlusion level:")
    print(
        curve.pivot(index="occlusion_bin", columns="method", values="pa_mpjpe").round(2).to_string()
    )
    if a.figure:
        from handoccnet_lite.utils import save_figure

        fig = ev.plot_vs_occlusion(df, "pa_mpjpe", hue="method")
        print(f"figure: {save_figure(fig, Path(a.figure).name, Path(a.figure).parent)}")
    print(f"per-sample records: {out}")
    return 0


# --------------------------------------------------------------------------------------------
# ablate
# --------------------------------------------------------------------------------------------
def _add_ablate(sub: Any) -> None:
    p = _parser(
        sub,
        "ablate",
        "run the ablation grid (variants x seeds), resumable, with stats and figures",
        "Train and score every variant of the grid with several seeds, each run in its own folder\n"
        "(config, log, checkpoint, metrics). Rerunning skips finished runs (a run folder with\n"
        "metrics.json is done) and resumes an interrupted one from its checkpoint.\n"
        "Results: runs.csv (tidy), per_sample.csv, summary.csv (mean, std, 95% CI over seeds),\n"
        "paired.csv (each variant vs 'official', paired over seeds), report.md and\n"
        "figures/ablation_pa_mpjpe.png, figures/ablation_vs_occlusion.png.\n\n"
        "Grid: official (baseline: softmax x sigmoid FIT + SET, the release), fit_softmax,\n"
        "fit_sigmoid, no_fit, no_set, supplement (the supplement's single-head pseudocode).\n\n"
        "Profiles: quick (tiny preset, bundled samples, a couple of minutes on 2 CPU cores),\n"
        "cpu (lite preset at 64 px, CPU budget protocol, measured ~45 min on 2 cores), gpu (paper\n"
        "preset, full protocol). CPU budget protocol: backbone + FPN trained once (official), its\n"
        "pre-gate features cached, each variant's gate/FIT/SET/regressor trained on the cache.\n"
        "The paper's own ablation numbers are not available here: these are our measurements.",
        f"  {PROG} ablate --profile quick\n"
        f"  {PROG} ablate --profile cpu --out runs/ablation/cpu\n"
        f"  {PROG} ablate --profile quick --variants official no_fit --seeds 0 1 2\n"
        f"  {PROG} ablate --profile cpu --list        # show the grid and what is done\n",
    )
    p.add_argument("--profile", choices=PROFILES, default="quick", help="run profile")
    p.add_argument("--out", default=None, help="output folder (default runs/ablation/<profile>)")
    p.add_argument("--variants", nargs="+", default=None, help="subset of the grid (default: all)")
    p.add_argument(
        "--seeds", nargs="+", type=int, default=None, help="seeds (default: the profile's)"
    )
    p.add_argument("--figures", default=None, help="figure folder (default figures/)")
    p.add_argument(
        "--list", action="store_true", help="print the runs and their status, train nothing"
    )
    p.add_argument(
        "--keep-checkpoints",
        action="store_true",
        help="keep each finished run's checkpoint.pt (weights + optimizer state, ~22 MB per lite "
        "head run); by default a finished run keeps model.pt only",
    )
    _device_flag(p)
    _progress_flag(p)
    p.set_defaults(func=cmd_ablate)


def cmd_ablate(a: argparse.Namespace) -> int:
    from handoccnet_lite.engine import ablation
    from handoccnet_lite.engine.profiles import get_profile

    prof = get_profile(a.profile)
    out = Path(a.out or Path("runs") / "ablation" / prof.name)
    try:
        abl = ablation.Ablation(
            prof,
            out,
            a.variants,
            a.seeds,
            a.device,
            not a.no_progress,
            keep_checkpoints=a.keep_checkpoints,
        )
    except ValueError as e:
        raise UserError(str(e)) from e
    if a.list:
        for variant, seed, run_dir in abl.run_dirs():
            print(
                f"{'done' if ablation.run_done(run_dir) else 'todo':5} {variant:12} "
                f"seed {seed}  {run_dir}"
            )
        return 0
    abl.run()
    figs = ablation.plot_results(out, a.figures)
    print((out / "report.md").read_text())
    print("figures: " + ", ".join(str(f) for f in figs))
    return _check_gain(out, prof)


def _check_gain(out: Path, prof: Any) -> int:
    """For profiles with a target, say whether the official variant beats the mean pose enough."""
    if prof.min_gain_vs_mean_pose is None:
        return 0
    import pandas as pd

    runs = pd.read_csv(out / "runs.csv")
    ref = json.loads((out / "mean_pose.json").read_text())["pa_mpjpe"]
    official = runs.loc[runs["variant"] == "official"]
    ours = official["pa_mpjpe"].mean()
    gain = 1 - ours / ref
    ok = gain >= prof.min_gain_vs_mean_pose
    verdict = f"{gain:.0%} better" if gain >= 0 else f"{-gain:.0%} worse"
    print(
        f"official PA-MPJPE {ours:.2f} mm vs mean pose {ref:.2f} mm: {verdict} "
        f"(target: {prof.min_gain_vs_mean_pose:.0%} better) -> {'PASS' if ok else 'FAIL'}"
    )
    hand = out / "mean_hand.json"
    if hand.is_file():
        ref_hand = json.loads(hand.read_text())["pa_mpjpe"]
        gain_hand = 1 - ours / ref_hand
        print(
            f"  vs the mean hand (average articulation) {ref_hand:.2f} mm: "
            f"{abs(gain_hand):.0%} {'better' if gain_hand >= 0 else 'worse'}"
        )
    if "pred_spread" in official:
        print(
            f"  prediction spread {official['pred_spread'].mean():.2f} mm vs ground truth "
            f"{official['gt_spread'].mean():.2f} mm (near 0: a constant hand)"
        )
    return 0 if ok else 1


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------
def _add_tables(sub: Any) -> None:
    p = _parser(
        sub,
        "tables",
        "print the paper's tables, optionally with our numbers beside them",
        "Published numbers (with sources) as Markdown or CSV. With --ours, our measured means\n"
        "are appended, labelled with the dataset they were measured on (SynthOcc unless said),\n"
        "so they can never pass for HO-3D or Dex-YCB numbers. --ablation prints an ablation\n"
        "folder's report (the paper's ablation tables are not available here).",
        f"  {PROG} tables --list\n"
        f"  {PROG} tables table5\n"
        f"  {PROG} tables table5 --ours runs/quick/eval_test.csv --seeds 0\n"
        f"  {PROG} tables --ablation runs/ablation/quick\n",
    )
    p.add_argument("name", nargs="?", default=None, help="table5, S1, S2 or wilor")
    p.add_argument("--list", action="store_true", help="list the tables held here")
    p.add_argument("--ours", default=None, help="per-sample eval CSV (from `eval`) to put beside")
    p.add_argument("--dataset", default="SynthOcc (synthetic)", help="what --ours was measured on")
    p.add_argument("--seeds", nargs="+", type=int, default=[0], help="training seeds behind --ours")
    p.add_argument("--ablation", default=None, help="ablation folder: print its report.md")
    p.add_argument(
        "--format", choices=("markdown", "csv"), default="markdown", help="output format"
    )
    p.set_defaults(func=cmd_tables)


def cmd_tables(a: argparse.Namespace) -> int:
    from handoccnet_lite import tables

    if a.list or (a.name is None and a.ablation is None):
        for key, title in tables.available_tables().items():
            print(f"{key:10} {title}")
        return 0
    if a.ablation:
        report = Path(a.ablation) / "report.md"
        if not report.is_file():
            raise UserError(
                f"No report.md in {a.ablation}; run `{PROG} ablate --out {a.ablation}` first."
            )
        print(report.read_text())
        if a.name is None:
            return 0
    try:
        df = tables.paper_table(a.name)
        if a.ours:
            metrics = tables.table_info(a.name).metrics
            df = tables.side_by_side(a.name, _ours_means(a.ours, metrics), a.dataset, a.seeds)
    except tables.TableNotAvailableError as e:
        raise UserError(str(e)) from e
    print(df.to_csv(index=False) if a.format == "csv" else tables.to_markdown(df))
    return 0


def _ours_means(path: str, metrics: Any) -> dict[str, float]:
    import pandas as pd

    if not Path(path).is_file():
        raise UserError(f"--ours {path}: no such file; write one with `{PROG} eval --csv {path}`.")
    df = pd.read_csv(path)
    if "method" in df:
        df = df[df["method"] == "model"]
    cols = [c for c in metrics if c in df]
    if not cols:
        raise UserError(f"--ours {path} has none of this table's metrics {list(metrics)}.")
    return {c: float(df[c].mean()) for c in cols}


# --------------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------------
def _add_export(sub: Any) -> None:
    p = _parser(
        sub,
        "export",
        "a small copy of trained weights (float16) + its config JSON",
        "Write the weights of a run as a small file (float16 storage; `load_trained`, `eval` and\n"
        "`demo` cast them back to float32) and, beside it, a .json with the model config, where\n"
        "the weights came from and, for an ablation's stage 1, its test metrics and the constant\n"
        "baselines' PA-MPJPE (what `doctor` quotes). This is how\n"
        "data_samples/checkpoints/lite_synthocc.pt is made (see results/cpu_ablation/README.md).",
        f"  {PROG} export --run runs/cpu_ablation/backbone "
        "--out data_samples/checkpoints/lite_synthocc.pt\n",
    )
    p.add_argument("--run", required=True, help="run folder, model.pt or checkpoint.pt")
    p.add_argument("--out", required=True, help="output .pt file (a .json is written beside it)")
    p.add_argument("--fp32", action="store_true", help="keep float32 storage (twice the size)")
    p.add_argument("--note", default="", help="free text stored in the .json (e.g. the command)")
    p.set_defaults(func=cmd_export)


def cmd_export(a: argparse.Namespace) -> int:
    from handoccnet_lite.engine.checkpoint import export_model

    out = export_model(a.run, a.out, half=not a.fp32, note=a.note)
    size = out.stat().st_size / 2**20
    print(f"wrote {out} ({size:.2f} MiB) and {out.with_suffix('.json')}")
    return 0


# --------------------------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------------------------
def _add_demo(sub: Any) -> None:
    p = _parser(
        sub,
        "demo",
        "image -> hand mesh (.obj) and an overlay PNG",
        "Run a trained model on one image (a crop around the hand; centre-cropped to a square\n"
        "and resized to the model's input size). Writes <out>/mesh.obj (root-relative metres, the\n"
        "hand model's faces) and <out>/overlay.png (2D joints, skeleton and the mesh, placed by a\n"
        "weak-perspective fit of the 3D joints to the 2D ones). Without --image, the first test\n"
        "image of the bundled samples is used.",
        f"  {PROG} demo --run runs/quick --image my_hand.jpg --out demo_out\n"
        f"  {PROG} demo --run runs/quick\n",
    )
    p.add_argument("--run", required=True, help="run folder, model.pt or checkpoint.pt")
    p.add_argument("--image", default=None, help="RGB image (png/jpg); default: a bundled sample")
    p.add_argument("--out", default="demo_out", help="output folder")
    _device_flag(p)
    p.set_defaults(func=cmd_demo)


def cmd_demo(a: argparse.Namespace) -> int:
    from handoccnet_lite.engine.evaluate import run_demo
    from handoccnet_lite.image_input import read_image_checked, small_image_warning

    bgr = None if a.image is None else read_image_checked(a.image)  # before the model load
    warning = None if bgr is None else small_image_warning(bgr, a.image)
    if warning:
        print(f"{PROG} demo: warning: {warning}", file=sys.stderr)
    model, cfg = load_trained(a.run)
    image = _demo_image(bgr, cfg.input_size)
    paths = run_demo(model, image, Path(a.out), a.device)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _demo_image(bgr: Any | None, size: int) -> Any:
    """(S, S, 3) uint8 RGB: a checked image centre-cropped and resized, or a bundled test crop."""
    import numpy as np

    from handoccnet_lite.image_input import square_crop_rgb

    if bgr is None:
        item = _dataset(BUNDLED, "test", size)[0]
        return (item["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return square_crop_rgb(bgr, size)


# --------------------------------------------------------------------------------------------
# doctor
# --------------------------------------------------------------------------------------------
def _add_doctor(sub: Any) -> None:
    p = _parser(
        sub,
        "doctor",
        "check this machine: packages, device, MANO, data samples",
        "One line per check, with the fix for anything missing.",
        f"  {PROG} doctor\n",
    )
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(a: argparse.Namespace) -> int:
    from handoccnet_lite.doctor import report

    print(report())
    return 0


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------
ADDERS: tuple[Callable[[Any], None], ...] = (
    _add_data,
    _add_train,
    _add_eval,
    _add_ablate,
    _add_tables,
    _add_demo,
    _add_export,
    _add_doctor,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="HandOccNet (CVPR 2022) rebuilt for teaching and ablations: data, training,\n"
        "evaluation, ablations, tables and a demo. Every subcommand has its own --help.",
        epilog="examples:\n"
        f"  {PROG} doctor\n  {PROG} train --profile quick --out runs/quick\n"
        f"  {PROG} eval --run runs/quick --baseline\n  {PROG} ablate --profile quick\n",
        formatter_class=_Formatter,
    )
    from handoccnet_lite import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _debug_flag(parser, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in ADDERS:
        add(sub)
    for command in sub.choices.values():  # --debug also after the subcommand
        _debug_flag(command, argparse.SUPPRESS)
    return parser


def _debug_flag(p: argparse.ArgumentParser, default: Any) -> None:
    p.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="show the full traceback of an error (also HANDOCCNET_DEBUG=1)",
    )


def _user_error_types() -> tuple[type[BaseException], ...]:
    from handoccnet_lite.errors import PLAIN_ERRORS

    return (UserError, *PLAIN_ERRORS)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `handoccnet-lite` and `python -m handoccnet_lite`. The one place where
    failures become messages: user errors one line + exit 2 (`errors.user_error_message`),
    a closed stdout pipe a quiet exit, anything else its traceback."""
    from handoccnet_lite import errors

    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False) or os.environ.get("HANDOCCNET_DEBUG") == "1"
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `handoccnet-lite tables --list | head -1`
        return errors.quiet_broken_pipe()
    except Exception as e:  # user errors -> one line; anything else keeps its traceback
        if debug:
            raise
        if type(e).__name__ == "NonFiniteLossError":
            print(f"{PROG} {args.command}: {e}", file=sys.stderr)
            return EXIT_NONFINITE
        msg = errors.user_error_message(e, _user_error_types())
        if msg is None:
            raise
        print(f"{PROG} {args.command}: error: {msg}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
