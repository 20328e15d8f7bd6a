"""Ablation runner: cached-feature protocol end to end on a tiny grid, resumability (a second
invocation skips finished runs), tidy results, statistics and figures."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from handoccnet_lite.config import preset
from handoccnet_lite.engine import (
    ablation,
    ablation_figures,
    ablation_report,
    features,
    profile_data,
)
from handoccnet_lite.engine.overrides import apply_overrides
from handoccnet_lite.engine.profiles import PROFILES, DataSpec, get_profile, variant_config


def mini_profile():
    quick = get_profile("quick")
    return dataclasses.replace(
        quick,
        name="mini",
        data=DataSpec(root=quick.data.root, max_train=24, max_test=12),
        train={"epochs": 1, "batch_size": 8, "base_lr": 1e-3, "tensorboard": False},
        head_train={"epochs": 1, "batch_size": 8, "base_lr": 1e-3, "tensorboard": False},
        feature_copies=2,
        seeds=(0,),
        variants=("official", "no_fit"),
        eval_batch=12,
    )


def test_apply_overrides_and_variants() -> None:
    base = preset("tiny")
    cfg = apply_overrides(base, {"fit.attention": "softmax", "use_set": False})
    assert cfg.fit.attention == "softmax" and not cfg.use_set and cfg.set == base.set
    assert variant_config(base, "supplement").fit.variant == "supplement"
    with pytest.raises(ValueError, match="Unknown config key 'fit.nope'"):
        apply_overrides(base, {"fit.nope": 1})
    with pytest.raises(ValueError, match="Unknown variant"):
        variant_config(base, "no_gate")
    assert set(PROFILES) == {"quick", "cpu", "teach", "gpu", "gpu_gate"}
    # input_size resizes: the token grid and both transformers follow; the depth goes first
    small = apply_overrides(preset("lite"), {"hourglass_depth": 3, "input_size": 64})
    assert (small.input_size, small.grid, small.fit.grid, small.set.grid) == (64, 8, 8, 8)
    with pytest.raises(ValueError, match="hourglass_depth"):
        apply_overrides(preset("lite"), {"input_size": 64})  # depth 4 needs grid 16


def test_ablation_runs_then_skips_finished_runs(tmp_path: Path) -> None:
    out, figs = tmp_path / "abl", tmp_path / "figures"
    logs: list[str] = []
    abl = ablation.Ablation(mini_profile(), out, device="cpu", progress=False, log=logs.append)
    runs = abl.run()
    assert sorted(runs["variant"]) == ["no_fit", "official"]
    for v in ("official", "no_fit"):
        run = out / v / "seed0"
        for name in ("config.json", "log.csv", "model.pt", "metrics.json"):
            assert (run / name).is_file(), run / name
        assert not (run / "checkpoint.pt").exists()  # a finished run keeps model.pt only
    feats = features.FeatureDataset.load(out / "features" / "train.pt")
    assert len(feats) == 48  # 24 samples x 2 augmented copies
    assert feats[0]["feat"].shape == (32, 8, 8)  # (C, G, G) of the tiny preset
    per_sample = pd.read_csv(out / "per_sample.csv")
    assert len(per_sample) == 2 * 12 and {"variant", "seed", "occlusion", "pa_mpjpe"} <= set(
        per_sample
    )
    summary = pd.read_csv(out / "summary.csv")
    assert {"mean", "std", "ci_low", "ci_high"} <= set(summary.columns)
    paired = pd.read_csv(out / "paired.csv")
    assert set(paired["a"]) == {"no_fit"} and set(paired["b"]) == {"official"}
    assert "CPU budget protocol" in (out / "report.md").read_text()
    mean_pose = json.loads((out / "mean_pose.json").read_text())
    mean_hand = json.loads((out / "mean_hand.json").read_text())
    assert mean_pose["pa_mpjpe"] > 0 and mean_hand["pa_mpjpe"] > 0
    assert mean_pose["pred_spread"] < 1e-3 and mean_hand["pred_spread"] < 1e-3  # constants
    assert len(pd.read_csv(out / "mean_hand_per_sample.csv")) == 12
    report = (out / "report.md").read_text()
    assert "Mean-hand baseline" in report and "Prediction spread" in report
    assert {"pred_spread", "gt_spread"} <= set(pd.read_csv(out / "runs.csv"))
    stage1 = json.loads((out / "backbone" / ablation_report.STAGE1_METRICS).read_text())
    assert stage1["pa_mpjpe"] > 0 and "Stage-1 full model" in (out / "report.md").read_text()
    synthocc = {"protocol": "synthocc", "allow_reflection": False}  # SynthOcc's default
    for done in (mean_pose, mean_hand, stage1, json.loads((run / "metrics.json").read_text())):
        assert done["alignment"] == synthocc
    assert set(pd.read_csv(out / "runs.csv")["alignment_protocol"]) == {"synthocc"}
    assert set(per_sample["alignment"]) == {"synthocc"}
    timings = json.loads((out / ablation.TIMINGS_NAME).read_text())
    assert {"data", "backbone", "feature_cache", "head_runs"} <= set(timings)
    # where attention goes, per run and per variant (no_fit has no FIT columns)
    att = pd.read_csv(out / "attention_runs.csv").set_index("variant")
    assert sorted(att.index) == ["no_fit", "official"]
    assert 0 <= att.loc["official", "gate_auc"] <= 1 and att.loc["official", "fit_ratio"] > 0
    assert pd.isna(att.loc["no_fit", "fit_ratio"]) and att.loc["no_fit", "set_ratio"] > 0
    assert (out / "official" / "seed0" / "attention.csv").is_file()
    assert set(pd.read_csv(out / "attention_summary.csv")["variant"]) == {"no_fit", "official"}
    assert "## Where attention goes" in report
    overview = ablation_report.overview_table(out).splitlines()
    assert overview[0] == ablation_report.OVERVIEW_HEADER and len(overview) == 2 + 2 + 1 + 2
    assert overview[-2].startswith("| official (heads, n = 1) |")  # VARIANTS order
    assert all(line.count("|") == 8 for line in overview)  # 7 cells in every row

    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*/seed0/metrics.json")}
    logs.clear()
    ablation.Ablation(mini_profile(), out, device="cpu", progress=False, log=logs.append).run()
    assert any("0 runs to do, 2 already done" in line for line in logs), logs
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing retrained

    # a folder from before the mean-hand baseline existed: rerunning adds it, trains nothing
    for name in ("mean_hand.json", "mean_hand.npz"):
        (out / name).unlink()
    ablation.Ablation(mini_profile(), out, device="cpu", progress=False, log=logs.append).run()
    assert json.loads((out / "mean_hand.json").read_text())["pa_mpjpe"] > 0
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps

    paths = ablation_figures.plot_results(out, figs)
    assert [p.name for p in paths] == ["ablation_pa_mpjpe.png", "ablation_vs_occlusion.png"]
    assert all(p.stat().st_size > 1000 for p in paths)


def test_separate_test_root_and_missing_data(tmp_path: Path) -> None:
    """DataSpec.test_root points the test split at another SynthOcc root; a missing split the
    profile does not generate is a clear error naming it."""
    samples = get_profile("quick").data.root
    spec = DataSpec(root="/nonexistent", test_root=samples)
    assert spec.test_dir == samples and DataSpec(root=samples).test_dir == samples
    prof = dataclasses.replace(mini_profile(), data=spec)
    with pytest.raises(FileNotFoundError, match="/nonexistent/train"):
        ablation.Ablation(prof, tmp_path, device="cpu", progress=False).run()


@pytest.mark.slow
def test_parallel_head_runs(tmp_path: Path) -> None:
    """parallel_runs=2 trains the head runs in two spawned processes (~90 s here: slow)."""
    prof = dataclasses.replace(
        mini_profile(), variants=("official",), seeds=(0, 1), threads=1, parallel_runs=2
    )
    logs: list[str] = []
    runs = ablation.Ablation(
        prof, tmp_path, device="cpu", progress=False, log=logs.append, keep_checkpoints=True
    )
    table = runs.run()
    assert sorted(table["seed"]) == [0, 1] and table["pa_mpjpe"].notna().all()
    assert sum("done official seed" in line for line in logs) == 2, logs
    for seed in (0, 1):  # keep_checkpoints reaches the worker processes
        assert (tmp_path / "official" / f"seed{seed}" / "checkpoint.pt").is_file()


def test_unknown_variant_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Unknown variants"):
        ablation.Ablation(mini_profile(), tmp_path, variants=("official", "nope"))


@pytest.mark.slow
def test_quick_profile_end_to_end(tmp_path: Path) -> None:
    """`handoccnet-lite ablate --profile quick` as CI runs it (minutes: marked slow)."""
    from handoccnet_lite.cli import main

    out, figs = tmp_path / "quick", tmp_path / "figures"
    argv = ["ablate", "--profile", "quick", "--out", str(out), "--figures", str(figs)]
    assert main([*argv, "--no-progress", "--device", "cpu"]) == 0
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 12 and runs["pa_mpjpe"].notna().all()
    assert (figs / "ablation_pa_mpjpe.png").is_file()
    assert (figs / "ablation_vs_occlusion.png").is_file()


def test_profile_model_overrides_reach_every_run(tmp_path: Path) -> None:
    """The cpu profile's recipe (identity MANO start, feature norm, loss weights) is part of the
    config of the stage-1 run, of every head run and of `train --profile cpu`."""
    from handoccnet_lite.cli import build_parser, build_train_config
    from handoccnet_lite.engine.profiles import CPU_MODEL_OVERRIDES, profile_model_config

    cpu = get_profile("cpu")
    assert cpu.model == CPU_MODEL_OVERRIDES
    base = profile_model_config(cpu)
    assert base.mano_init == "identity" and base.feature_norm == "batch"
    assert (base.input_size, base.grid, base.loss.joints_hand) == (64, 8, 1e4)
    assert base.loss.heatmap_sigma == 0.5
    assert base.loss.joints == CPU_MODEL_OVERRIDES["loss.joints"] != preset("lite").loss.joints
    assert preset("lite").mano_init == "release" and preset("lite").feature_norm == "none"
    abl = ablation.Ablation(cpu, tmp_path, device="cpu", progress=False)
    for variant in ("official", "no_fit"):
        cfg = abl.train_config(variant_config(abl.base_model_config(), variant), 0, True)
        assert cfg.model.mano_init == "identity" and cfg.model.loss == base.loss
        assert cfg.model.feature_norm == "batch"
    args = build_parser().parse_args(["train", "--profile", "cpu", "--out", str(tmp_path)])
    train_cfg = build_train_config(args)
    assert train_cfg.model.loss == base.loss and not train_cfg.augment


def test_an_existing_set_of_another_size_is_a_clear_error(tmp_path: Path) -> None:
    """A profile never trains silently on a generated set that is not the one it describes."""
    folder = tmp_path / "synth" / "train"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"count": 6000, "seed": 0, "resolution": 128}))
    spec = DataSpec(root=str(tmp_path / "synth"), n_train=12000, seed=0, image_size=128)
    with pytest.raises(ValueError, match=r"count 6000 \(profile: 12000\)"):
        profile_data.check_existing_set(folder, 12000, spec)
    profile_data.check_existing_set(folder, 6000, spec)  # the right set passes
    with pytest.raises(ValueError, match="seed"):
        profile_data.check_existing_set(folder, 6000, dataclasses.replace(spec, seed=1))


def test_profile_train_config_can_turn_augmentation_off() -> None:
    prof = mini_profile()
    on = ablation.Ablation(prof, Path("unused"), device="cpu", progress=False).datasets()[0]
    no_aug = dataclasses.replace(prof, train={**prof.train, "augment": False})
    off = ablation.Ablation(no_aug, Path("unused"), device="cpu", progress=False).datasets()[0]
    assert on.dataset.cfg.augment and not off.dataset.cfg.augment  # Subset of SynthOccDataset
