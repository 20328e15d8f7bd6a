"""`handoccnet-lite ablate`: the ablation grid (variants x seeds), its report and figures."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from handoccnet_lite.cli.common import (
    PROFILES,
    PROG,
    UserError,
    add_device_flag,
    add_progress_flag,
    subparser,
)


def register(sub: Any) -> None:
    p = subparser(
        sub,
        "ablate",
        "run the ablation grid (variants x seeds), resumable, with stats and figures",
        "Train and score every variant of the grid with several seeds, each run in its own folder\n"
        "(config, log, checkpoint, metrics). Rerunning skips finished runs (a run folder with\n"
        "metrics.json is done) and resumes an interrupted one from its checkpoint.\n"
        "Results: runs.csv (tidy), per_sample.csv, summary.csv (mean, std, 95% CI over seeds),\n"
        "paired.csv (each variant vs 'official', paired over seeds), attention_runs.csv and\n"
        "attention_summary.csv (where each run's gate and attention go), report.md and\n"
        "figures/ablation_pa_mpjpe.png, figures/ablation_vs_occlusion.png.\n\n"
        "Grid: official (baseline: softmax x sigmoid FIT + SET, the release), fit_softmax,\n"
        "fit_sigmoid, no_fit, no_set, supplement (the supplement's single-head pseudocode).\n\n"
        "Profiles: quick (tiny preset, bundled samples, a couple of minutes on 2 CPU cores),\n"
        "cpu (lite preset at 64 px, CPU budget protocol, measured ~45 min on 2 cores), teach\n"
        "(the bundled official teaching model, 64 px, as the shared stage 1, 5 seeds),\n"
        "gpu (paper preset, full protocol), gpu_gate (about one GPU hour, estimated: does FIT's\n"
        "sigmoid gate help? official vs fit_softmax, 3 seeds, 10 epochs, full protocol, from\n"
        "ImageNet ResNet-50 weights when found locally: $HANDOCCNET_IMAGENET or torch.hub's\n"
        "cache, never downloaded). CPU budget protocol: backbone + FPN trained once (official)\n"
        "or adopted (teach), its pre-gate features cached, each variant's gate/FIT/SET/regressor\n"
        "trained on the cache.\n"
        "The paper's own ablation numbers are not available here: these are our measurements.",
        f"  {PROG} ablate --profile quick\n"
        f"  {PROG} ablate --profile cpu --out runs/ablation/cpu\n"
        f"  {PROG} ablate --profile teach             # heads on the teaching model's features\n"
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
        "--overview",
        action="store_true",
        help="print the folder's overview table (baselines, stage 1, every variant: PA-MPJPE "
        "and the attention measures; the README's), train nothing",
    )
    p.add_argument(
        "--keep-checkpoints",
        action="store_true",
        help="keep each finished run's checkpoint.pt (weights + optimizer state, ~22 MB per lite "
        "head run); by default a finished run keeps model.pt only",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        default=None,
        help="torch.compile every run's trained module (CUDA advised; default: the profile's)",
    )
    add_device_flag(p)
    add_progress_flag(p)
    p.set_defaults(func=cmd_ablate)


def cmd_ablate(a: argparse.Namespace) -> int:
    from handoccnet_lite.engine import ablation
    from handoccnet_lite.engine.ablation_figures import plot_results
    from handoccnet_lite.engine.profiles import get_profile, imagenet_start_status

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
            compile=a.compile,
        )
    except ValueError as e:
        raise UserError(str(e)) from e
    if a.overview:
        from handoccnet_lite.engine.ablation_report import overview_table

        if not (out / "summary.csv").is_file():
            raise UserError(f"No finished ablation in {out} (no summary.csv): run it first.")
        print(overview_table(out))
        return 0
    if a.list:
        status = imagenet_start_status(prof)
        if status:
            print(status)
        for variant, seed, run_dir in abl.run_dirs():
            print(
                f"{'done' if ablation.run_done(run_dir) else 'todo':5} {variant:12} "
                f"seed {seed}  {run_dir}"
            )
        return 0
    abl.run()
    figs = plot_results(out, a.figures)
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
