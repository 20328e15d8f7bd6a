"""Dense pre-training of the backbone (engine.pretrain) and the teaching run's dense start."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from handoccnet_lite.config import preset
from handoccnet_lite.engine.builders import build_model, load_init_weights
from handoccnet_lite.engine.pretrain import (
    CURVE_NAME,
    DenseHead,
    PretrainPlan,
    backbone_config,
    dense_loss,
    pretrain_backbone,
)
from handoccnet_lite.engine.teach import TeachPlan, read_state, teach
from handoccnet_lite.losses import gaussian_heatmap_targets
from handoccnet_lite.utils import DATA_SAMPLES_DIR

SAMPLES = str(DATA_SAMPLES_DIR / "synthocc")


def test_the_head_reads_joints_where_its_heatmaps_peak() -> None:
    cfg = preset("tiny")  # 64 px, grid 8
    net = DenseHead(cfg)
    joints = torch.tensor([[[0.3125, 0.8125], [0.55, 0.2]]])  # (1, 2, 2) crop units
    target = gaussian_heatmap_targets(joints, cfg.grid, sigma=0.3)  # (1, 2, 8, 8)
    # the soft-argmax of log(target) returns the joint (to within the Gaussian's truncation)
    probs = target.clamp_min(1e-30).log().flatten(2).softmax(-1)  # (1, 2, 64)
    decoded = probs @ net.centres  # (1, 2, 2)
    assert torch.allclose(decoded, joints, atol=0.02)
    heatmaps, out, mask = net(torch.rand(2, 3, 64, 64))
    assert heatmaps.shape == (2, 21, 8, 8) and out.shape == (2, 21, 2) and mask.shape == (2, 8, 8)
    assert torch.allclose(heatmaps.sum((2, 3)), torch.ones(2, 21))


def test_dense_loss_falls_on_one_batch() -> None:
    torch.manual_seed(0)
    cfg = preset("tiny")
    net = DenseHead(cfg)
    g = cfg.grid
    batch = {
        "image": torch.rand(4, 3, 64, 64),
        "joints_img": torch.rand(4, 21, 2) * 0.8 + 0.1,
        "visible_mask": torch.rand(4, g, g) * 0.5,
        "occluded_mask": torch.rand(4, g, g) * 0.5,
    }
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        loss = dense_loss(net, batch, sigma=0.5)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]  # measured over 3 seeds: 4.9 -> 2.7


def test_pretrain_writes_backbone_weights_the_full_model_loads_and_resumes(tmp_path) -> None:
    cfg = preset("tiny")
    plan = PretrainPlan(input_size=64, images=64, every=32, eval_max=8)
    path = pretrain_backbone(cfg, plan, SAMPLES, SAMPLES, tmp_path)
    curve = pd.read_csv(tmp_path / CURVE_NAME)
    assert list(curve["images"]) == [32, 64] and (curve["rms_2d"].between(0, 1)).all()
    saved = torch.load(path, weights_only=False)
    keys = set(saved["model"])
    assert keys and all(k.startswith(("backbone.trunk.", "backbone.fpn.")) for k in keys)
    model = build_model(cfg)
    loaded = load_init_weights(model, path)
    assert set(loaded) == keys  # every pre-trained tensor has its place in HandOccNet
    wanted = {k for k in model.state_dict() if k.startswith(("backbone.trunk.", "backbone.fpn."))}
    assert keys == wanted
    # more images later: the state resumes (the curve goes on, it does not restart)
    pretrain_backbone(cfg, PretrainPlan(input_size=64, images=96, every=32, eval_max=8),
                      SAMPLES, SAMPLES, tmp_path)  # fmt: skip
    assert list(pd.read_csv(tmp_path / CURVE_NAME)["images"]) == [32, 64, 96]
    # a state of another input size is refused: the features are tied to their scale
    with pytest.raises(ValueError, match="pre-trained at input size 64"):
        pretrain_backbone(cfg, PretrainPlan(input_size=32, images=128, every=32), SAMPLES,
                          SAMPLES, tmp_path)  # fmt: skip


def test_backbone_config_fits_a_smaller_grid_and_plans_are_checked() -> None:
    lite = preset("lite")  # 128 px, hourglass depth 4 (needs a grid of 16)
    small = backbone_config(lite, 64)
    assert small.input_size == 64 and small.grid == 8 and small.hourglass_depth == 3
    assert small.feat_dim == lite.feat_dim and small.backbone == lite.backbone
    with pytest.raises(ValueError, match="multiple of 16"):
        PretrainPlan(input_size=72)
    with pytest.raises(ValueError, match="at least one batch"):
        PretrainPlan(every=8)


def test_teach_dense_start_has_its_own_folders_and_records_the_start(tmp_path) -> None:
    torch.manual_seed(0)
    plan = TeachPlan(
        preset="tiny", data_root=SAMPLES, test_root=SAMPLES, run_root=str(tmp_path / "runs"),
        snapshot_root=str(tmp_path / "results"), chunk_steps=1, eval_max=8, eval_batch=8,
        start="dense", pretrain_images=32,
    )  # fmt: skip
    assert plan.name == "official-dense"
    row = teach(plan, max_steps=1)
    assert 0 < row["rms_2d"] < 1
    source = read_state(plan)["segments"][0]["source"]
    assert "pre-trained" in source and "32 images at 64 px" in source
    assert (plan.snapshot_dir / CURVE_NAME).is_file()
    config = json.loads((plan.snapshot_dir / "config.json").read_text())
    assert config["init_from"].endswith("official-dense.pretrain/backbone.pt")
    with pytest.raises(ValueError, match="start must be one of"):
        TeachPlan(start="imagenet")
