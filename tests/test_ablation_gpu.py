"""The ablation runner on a GPU grid, checked on the CPU: one failed run does not stop the grid,
torch.compile reaches the trained module (also on cached features) and can be asked for by a
profile or `ablate --compile`, the gpu profile renders at its model's input size."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from handoccnet_lite.cli import build_parser
from handoccnet_lite.config import preset
from handoccnet_lite.engine import ablation, features, profile_data
from handoccnet_lite.engine.profiles import (
    PROFILES,
    DataSpec,
    Profile,
    get_profile,
    profile_model_config,
    render_size,
)
from handoccnet_lite.engine.trainer import NonFiniteLossError
from handoccnet_lite.model import HandOccNet


def mini_profile() -> Profile:
    """The quick profile cut to 24/12 samples, one seed, two variants (seconds per run)."""
    quick = get_profile("quick")
    train = {"epochs": 1, "batch_size": 8, "base_lr": 1e-3, "tensorboard": False}
    return dataclasses.replace(
        quick,
        name="mini",
        data=DataSpec(root=quick.data.root, max_train=24, max_test=12),
        train=train,
        head_train=train,
        feature_copies=1,
        seeds=(0,),
        variants=("official", "no_fit"),
        eval_batch=12,
    )


def test_a_failed_run_is_recorded_and_the_grid_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ablation._train_and_eval

    def nan_for_no_fit(cfg, run_dir: Path, *args, **kwargs):
        if run_dir.parent.name == "no_fit":
            raise NonFiniteLossError("Loss term 'total' is nan at step 3 (forced by the test)")
        return real(cfg, run_dir, *args, **kwargs)

    monkeypatch.setattr(ablation, "_train_and_eval", nan_for_no_fit)
    logs: list[str] = []
    out = tmp_path / "abl"
    prof = dataclasses.replace(mini_profile(), variants=("no_fit", "official"))
    runs = ablation.Ablation(prof, out, device="cpu", progress=False, log=logs.append).run()
    assert list(runs["variant"]) == ["official"]  # the run after the failed one still ran
    failed = json.loads((out / "no_fit" / "seed0" / "failed.json").read_text())
    assert failed["variant"] == "no_fit" and "NonFiniteLossError" in failed["reason"]
    assert "nan at step 3" in (out / "failed_runs.csv").read_text()
    assert "## Failed runs (1" in (out / "report.md").read_text()
    assert any(line.startswith("FAILED no_fit seed 0") for line in logs), logs
    # the retry succeeds: the failure record goes, the run joins the tables
    monkeypatch.setattr(ablation, "_train_and_eval", real)
    runs = ablation.Ablation(prof, out, device="cpu", progress=False, log=logs.append).run()
    assert sorted(runs["variant"]) == ["no_fit", "official"]
    assert not (out / "no_fit" / "seed0" / "failed.json").exists()
    assert "Failed runs" not in (out / "report.md").read_text()


def test_compiled_feature_head_runs_compiled() -> None:
    """--compile on cached features used to unwrap the compiled head and run it eagerly."""
    from torch._dynamo.testing import CompileCounter

    torch.manual_seed(0)
    cfg = preset("tiny")
    net = HandOccNet(cfg).eval()
    feat = net.extract_features(torch.rand(1, 3, cfg.input_size, cfg.input_size)).detach()
    counter = CompileCounter()
    torch._dynamo.reset()
    head = torch.compile(features.FeatureHead(net), backend=counter)
    out = features.forward_from_features(head, feat)
    assert counter.frame_count >= 1, "the compiled module was bypassed"
    assert torch.allclose(out["joints"], net.forward_features(feat)["joints"], atol=1e-6)


def test_profile_and_ablate_flag_turn_compile_on(tmp_path: Path) -> None:
    model_cfg = preset("tiny")
    abl = ablation.Ablation(mini_profile(), tmp_path, device="cpu", log=lambda _: None)
    assert not abl.train_config(model_cfg, 0, head=True).compile  # the profile's default
    prof = dataclasses.replace(mini_profile(), compile=True)
    abl = ablation.Ablation(prof, tmp_path, device="cpu", log=lambda _: None)
    assert abl.train_config(model_cfg, 0, head=False).compile
    assert abl.train_config(model_cfg, 0, head=True).compile
    abl = ablation.Ablation(prof, tmp_path, device="cpu", log=lambda _: None, compile=False)
    assert not abl.train_config(model_cfg, 0, head=True).compile
    assert build_parser().parse_args(["ablate", "--compile"]).compile is True
    assert build_parser().parse_args(["ablate"]).compile is None


@pytest.mark.parametrize("name", [n for n, p in PROFILES.items() if p.data.n_train > 0])
def test_generated_sets_are_rendered_at_least_at_the_input_size(name: str) -> None:
    prof = get_profile(name)
    assert render_size(prof) >= profile_model_config(prof).input_size


def test_gpu_profile_generates_256_px_frames(tmp_path: Path, monkeypatch) -> None:
    calls: list[dict] = []
    monkeypatch.setattr(
        "handoccnet_lite.data.synthocc.generate_synthocc", lambda *a, **k: calls.append(k)
    )
    gpu = get_profile("gpu")
    prof = dataclasses.replace(gpu, data=dataclasses.replace(gpu.data, root=str(tmp_path)))
    profile_data.ensure_data(prof, progress=False)
    assert [c["resolution"] for c in calls] == [256, 256]
