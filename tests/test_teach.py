"""The teaching runner: chunks, learning curve, snapshots, continuation on a fresh clone."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import torch

from handoccnet_lite.engine.teach import (
    STATE_NAME,
    TeachPlan,
    headline_attention,
    read_state,
    teach,
    teach_train_config,
)
from handoccnet_lite.engine.teach_report import plot_curves
from handoccnet_lite.utils import DATA_SAMPLES_DIR

SAMPLES = str(DATA_SAMPLES_DIR / "synthocc")


def _plan(tmp_path, **kw) -> TeachPlan:
    return TeachPlan(
        preset="tiny", data_root=SAMPLES, run_root=str(tmp_path / "runs"),
        snapshot_root=str(tmp_path / "results"), chunk_steps=1, eval_max=8, eval_batch=8, **kw,
    )  # fmt: skip


def test_config_is_the_recipe_with_the_variant(tmp_path) -> None:
    official = teach_train_config(_plan(tmp_path)).model
    supplement = teach_train_config(_plan(tmp_path, variant="supplement")).model
    assert official.feature_norm == "batch" and official.loss.joints_hand == 1e4
    assert official.fit.variant == "official" and supplement.fit.variant == "supplement"
    with pytest.raises(ValueError, match="Unknown variant"):
        TeachPlan(variant="nope")


def test_chunks_snapshot_and_continue_from_the_committed_snapshot(tmp_path) -> None:
    torch.manual_seed(0)
    plan = _plan(tmp_path)
    row = teach(plan, max_steps=2)
    curve = pd.read_csv(plan.snapshot_dir / "curve.csv")
    assert list(curve["step"]) == [1, 2] and list(curve["images_seen"]) == [32, 64]
    assert {"pa_mpjpe", "rms_2d", "gate_auc", "fit_ratio"} <= set(curve.columns)
    assert 0 < row["rms_2d"] < 1 and row["pa_mpjpe"] > 0
    snap = json.loads((plan.snapshot_dir / "model.json").read_text())
    assert snap["storage_dtype"] == "float16" and snap["evaluation"]["step"] == 2
    saved = torch.load(plan.snapshot_dir / "model.pt", weights_only=False)
    assert all(v.dtype != torch.float32 for v in saved["model"].values())
    config = json.loads((plan.snapshot_dir / "config.json").read_text())
    assert config["data_root"] == "data_samples/synthocc"  # committed files name no machine

    # a stopped run resumes from runs/ (same segment, optimizer state kept)
    teach(plan, max_steps=3)
    assert read_state(plan)["steps"] == 3 and len(read_state(plan)["segments"]) == 1

    # a fresh clone has no runs/: the committed snapshot continues the same curve
    shutil.rmtree(plan.run_dir)
    teach(plan, max_steps=4)
    state = json.loads((plan.snapshot_dir / STATE_NAME).read_text())
    assert state["steps"] == 4
    assert [s["offset"] for s in state["segments"]] == [0, 3]
    assert state["segments"][1]["source"] == "committed snapshot"
    assert list(pd.read_csv(plan.snapshot_dir / "curve.csv")["step"]) == [1, 2, 3, 4]
    png = plot_curves(plan.snapshot_root, tmp_path / "curves.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_teach_refuses_without_a_budget_or_data(tmp_path) -> None:
    with pytest.raises(ValueError, match="budget"):
        teach(_plan(tmp_path))
    with pytest.raises(FileNotFoundError, match="handoccnet-lite data"):
        teach(TeachPlan(data_root=str(tmp_path / "none"), snapshot_root=str(tmp_path)), hours=1)


def test_headline_attention_picks_the_best_fit_block() -> None:
    rows = [
        ("gate_auc", "gate", pd.NA, "", 0.9, 10),
        ("visible_attention_ratio", "fit", 0, "mean", 1.5, 5),
        ("visible_attention_ratio", "fit", 1, "mean", 2.5, 5),
        ("visible_attention_ratio", "fit", 1, "0", 9.0, 5),  # a single head is not the mean
        ("visible_attention_ratio_background", "fit", 1, "mean", 1.1, 5),
        ("visible_attention_ratio", "set", 0, "mean", 7.0, 5),  # SET is not FIT
        ("gate_unsaturated_hand", "fit", 0, "mean", 0.2, 5),
        ("gate_unsaturated_hand", "fit", 1, "mean", 0.4, 5),
    ]
    df = pd.DataFrame(rows, columns=["measure", "module", "block", "head", "value", "n"])
    got = headline_attention(df)
    assert got == {
        "gate_auc": 0.9, "fit_ratio": 2.5, "fit_ratio_background": 1.1, "gate_unsat_hand": 0.4,
    }  # fmt: skip


def test_cli_teach_names_the_missing_data_and_exits_2(tmp_path, capsys) -> None:
    from handoccnet_lite.cli import main

    code = main(["teach", "--data", str(tmp_path / "none"), "--hours", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "handoccnet-lite data --out" in err and "Traceback" not in err


def test_a_new_lr_starts_a_phase_from_the_latest_weights(tmp_path) -> None:
    torch.manual_seed(0)
    plan = _plan(tmp_path)
    teach(plan, max_steps=2)
    low = _plan(tmp_path, lr=1e-4)
    teach(low, max_steps=3)
    state = read_state(low)
    assert [s["offset"] for s in state["segments"]] == [0, 2]
    assert [s["lr"] for s in state["segments"]] == [1e-3, 1e-4]
    assert "lr 0.001 -> 0.0001" in state["segments"][1]["source"]
    archived = plan.run_dir.with_name("official.segment0")
    assert (archived / "checkpoint.pt").is_file()  # the old phase is kept, not overwritten
    # the new phase starts from the old phase's last weights, with the new lr
    logged = pd.read_csv(low.run_dir / "log.csv")
    assert logged["lr"].iloc[-1] == pytest.approx(1e-4)
    assert list(pd.read_csv(plan.snapshot_dir / "curve.csv")["step"]) == [1, 2, 3]
    # same lr again: the phase resumes in place; so does a plain call (no lr given)
    teach(low, max_steps=4)
    assert len(read_state(low)["segments"]) == 2 and read_state(low)["steps"] == 4
    teach(plan, max_steps=5)
    assert [s["lr"] for s in read_state(plan)["segments"]] == [1e-3, 1e-4]
    with pytest.raises(ValueError, match="lr must be"):
        TeachPlan(lr=0.0)


def test_upright_viewpoint_run_has_its_own_folder_and_both_scores(tmp_path) -> None:
    torch.manual_seed(0)
    plan = _plan(tmp_path, viewpoint="upright")
    assert plan.run_dir.name == "official-upright"
    assert teach_train_config(plan).upright_sigma_deg == 30.0
    row = teach(plan, max_steps=1)
    assert 0 < row["rms_2d"] < 1 and 0 < row["upright_rms_2d"] < 1
    # every test measure twice: as SynthOcc drew the images and in the upright view (whose
    # images differ: tests/test_dataset.py)
    scored = {"pa_mpjpe", "rms_2d", "gate_auc", "fit_ratio", "gate_unsat_hand"}
    assert {f"upright_{k}" for k in scored} <= set(row) and scored <= set(row)
    with pytest.raises(ValueError, match="viewpoint"):
        TeachPlan(viewpoint="sideways")


def test_bundle_copies_the_snapshot_with_its_evaluation(tmp_path, monkeypatch) -> None:
    from handoccnet_lite import utils
    from handoccnet_lite.engine import teach_report as teach_module

    torch.manual_seed(0)
    plan = _plan(tmp_path)
    teach(plan, max_steps=1)
    target = {"official": tmp_path / "bundled" / "lite_synthocc.pt"}
    monkeypatch.setattr(utils, "BUNDLED_CHECKPOINTS", target)
    out = teach_module.bundle("official", plan.snapshot_dir / "model.pt")
    assert (
        out == target["official"]
        and out.read_bytes() == (plan.snapshot_dir / "model.pt").read_bytes()
    )
    info = json.loads(out.with_suffix(".json").read_text())
    ev = info["evaluation"]
    assert info["steps"] == 1 and ev["step"] == 1 and "gate_auc" in ev
    assert ev["mean_hand_pa_mpjpe"] > 0 and ev["mean_pose_pa_mpjpe"] > ev["mean_hand_pa_mpjpe"]
    with pytest.raises(ValueError, match="no bundled checkpoint"):
        teach_module.bundle("fit_softmax")
    # the plan names the run and its command; why the step was chosen is kept
    teach_module.bundle("official", None, plan, why="step 1: the only one")
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["note"].endswith("; step 1: the only one")
    assert "teach --variant official --bundle" in info["note"]
    wide = TeachPlan(variant="supplement", input_size=64, start="dense")
    assert wide.cli_options() == "--variant supplement --input 64 --start dense"


def test_a_run_stopped_between_the_checkpoint_renames_resumes_from_the_previous(tmp_path) -> None:
    """Only checkpoint.prev.pt left (a stop between rotate_in's two renames): resume from it."""
    from handoccnet_lite.engine import checkpoint as ckpt
    from handoccnet_lite.engine.teach import _local_steps

    torch.manual_seed(0)
    plan = _plan(tmp_path)
    teach(plan, max_steps=2)
    (plan.run_dir / ckpt.CHECKPOINT_NAME).unlink()
    assert ckpt.has_checkpoint(plan.run_dir) and _local_steps(plan.run_dir) == 1
    with pytest.warns(UserWarning, match="previous checkpoint"):
        teach(plan, max_steps=3)
    assert read_state(plan)["steps"] == 3 and len(read_state(plan)["segments"]) == 1
