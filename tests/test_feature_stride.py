"""ModelConfig.feature_stride: 8 (the release: P2 pooled 2x) or 4 (P2 as is), end to end: config,
backbone, the data's mask grid, the model, and the teaching run's 64-px option."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from handoccnet_lite.config import ModelConfig, preset
from handoccnet_lite.data import dataset as D
from handoccnet_lite.engine.builders import build_model
from handoccnet_lite.engine.teach import TeachPlan, teach_train_config
from handoccnet_lite.utils import DATA_SAMPLES_DIR

COMMITTED = DATA_SAMPLES_DIR / "synthocc"


def test_config_grid_follows_the_stride_and_old_configs_keep_the_release() -> None:
    lite = preset("lite")  # 128 px, stride 8, grid 16
    assert lite.feature_stride == 8
    s4 = lite.replace(feature_stride=4, input_size=64)  # the same 16 x 16 tokens
    assert s4.grid == 16 and s4.resized(128).grid == 32 and s4.resized(128).fit.grid == 32
    with pytest.raises(ValueError, match="grid must be input_size / 4"):
        lite.replace(feature_stride=4)  # 128 px at stride 4 would be 32 x 32
    with pytest.raises(ValueError, match="feature_stride=2 is not supported"):
        lite.replace(feature_stride=2, input_size=32)
    old = lite.to_dict()
    del old["feature_stride"]  # a checkpoint written before the knob existed
    assert ModelConfig.from_dict(old).feature_stride == 8


def test_stride_4_feature_is_p2_and_stride_8_its_2x_average() -> None:
    torch.manual_seed(0)
    tiny = preset("tiny")  # 64 px, stride 8, grid 8
    s8 = build_model(tiny).eval()
    fit, set_ = replace(tiny.fit, grid=16), replace(tiny.set, grid=16)
    s4 = build_model(tiny.replace(feature_stride=4, grid=16, fit=fit, set=set_)).eval()
    s4.backbone.load_state_dict(s8.backbone.state_dict())
    image = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        f4, f8 = s4.backbone.features(image), s8.backbone.features(image)
        assert f4.shape == (2, 32, 16, 16) and f8.shape == (2, 32, 8, 8)
        torch.testing.assert_close(F.avg_pool2d(f4, 2), f8)
        out = s4(image)
    assert out["gate"].shape == (2, 1, 16, 16) and out["heatmaps"].shape == (2, 21, 16, 16)
    assert out["joints_img"].shape == (2, 21, 2) and torch.isfinite(out["verts"]).all()


def test_data_masks_follow_the_stride_and_pool_to_the_release_grid() -> None:
    s8 = D.SynthOccDataset(COMMITTED, "test", 64, augment=False)
    s4 = D.SynthOccDataset(COMMITTED, "test", 64, augment=False, feature_stride=4)
    for i in range(3):
        a, b = s8[i], s4[i]
        assert a["visible_mask"].shape == (8, 8) and b["visible_mask"].shape == (16, 16)
        for key in ("visible_mask", "occluded_mask"):  # cell means of cell means: exact
            pooled = F.avg_pool2d(b[key][None, None], 2)[0, 0]
            torch.testing.assert_close(pooled, a[key], atol=1e-6, rtol=0)
        torch.testing.assert_close(a["image"], b["image"])


def test_teaching_run_at_64_px_has_16x16_tokens_and_its_own_folders() -> None:
    plan = TeachPlan(input_size=64, start="dense")
    assert plan.name == "official-dense-64px"
    model = teach_train_config(plan).model
    assert (model.input_size, model.feature_stride, model.grid) == (64, 4, 16)
    assert model.fit.grid == model.set.grid == 16
    assert teach_train_config(TeachPlan()).model.feature_stride == 8  # the default: unchanged
    with pytest.raises(ValueError, match="input_size must be one of"):
        TeachPlan(input_size=96)


def test_overrides_set_size_and_stride_together_and_data_follows_the_model() -> None:
    from handoccnet_lite.cli.common import synthocc_split
    from handoccnet_lite.engine.overrides import apply_overrides

    lite = preset("lite")
    for order in ({"input_size": 64, "feature_stride": 4}, {"feature_stride": 4, "input_size": 64}):
        cfg = apply_overrides(lite, order)  # either order: one resize, 16 x 16 tokens kept
        assert (cfg.input_size, cfg.feature_stride, cfg.grid, cfg.fit.grid) == (64, 4, 16, 16)
    assert apply_overrides(lite, {"hourglass_depth": 3, "input_size": 64}).grid == 8  # stride 8
    data = D.SynthOccDataset.for_model(COMMITTED, "test", cfg)
    assert data[0]["image"].shape == (3, 64, 64) and data[0]["visible_mask"].shape == (16, 16)
    cli = synthocc_split(str(COMMITTED), "test", 64, feature_stride=4)  # `eval`, `attention`
    assert cli[0]["occluded_mask"].shape == (16, 16)
