"""Backbone: ResNet trunk (LeakyReLU swap, local weights), the release's FPN, the spatial gate."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from handoccnet_lite.config import preset
from handoccnet_lite.model.backbone import (
    LEAKY_SLOPE,
    RESNET_CHANNELS,
    Backbone,
    ResNetTrunk,
    SpatialGate,
    check_image,
)


@pytest.fixture(scope="module")
def tiny_backbone() -> Backbone:
    torch.manual_seed(0)
    return Backbone(preset("tiny")).eval()


def test_output_shapes_and_split(tiny_backbone: Backbone) -> None:
    x = torch.rand(2, 3, 64, 64)
    primary, secondary, gate = tiny_backbone(x)
    assert primary.shape == secondary.shape == (2, 32, 8, 8)
    assert gate.shape == (2, 1, 8, 8)
    assert ((gate > 0) & (gate < 1)).all()
    feat = F.avg_pool2d(tiny_backbone.fpn(tiny_backbone.trunk(x)), 2)  # (2, 32, 8, 8)
    torch.testing.assert_close(primary + secondary, feat)  # F_P + F_S = F
    torch.testing.assert_close(primary, feat * gate)


def test_gate_is_cbam_spatial_attention() -> None:
    torch.manual_seed(1)
    gate = SpatialGate().eval()
    feat = torch.randn(2, 16, 8, 8)
    pooled = torch.stack([feat.max(1).values, feat.mean(1)], dim=1)  # (2, 2, 8, 8)
    expected = torch.sigmoid(gate.bn(F.conv2d(pooled, gate.conv.weight, padding=3)))
    torch.testing.assert_close(gate(feat).gate, expected)
    assert gate.conv.bias is None and gate.bn.momentum == 0.01


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50"])
def test_trunk_channels(name: str) -> None:
    feats = ResNetTrunk(name, "relu").eval()(torch.rand(1, 3, 32, 32))
    assert tuple(f.shape[1] for f in feats) == RESNET_CHANNELS[name]
    assert [f.shape[-1] for f in feats] == [8, 4, 2, 1]  # strides 4, 8, 16, 32


def test_leaky_relu_replaces_every_relu() -> None:
    trunk = ResNetTrunk("resnet50", "leaky_relu")
    assert not any(isinstance(m, nn.ReLU) for m in trunk.modules())
    leaky = [m for m in trunk.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(leaky) == 1 + 16  # stem + one (shared) module per bottleneck block
    assert all(m.negative_slope == LEAKY_SLOPE == 0.01 for m in leaky)
    relu = ResNetTrunk("resnet18", "relu")
    assert not any(isinstance(m, nn.LeakyReLU) for m in relu.modules())


def test_fpn_matches_release_top_down_order() -> None:
    torch.manual_seed(2)
    fpn = Backbone(preset("tiny")).fpn
    c = [torch.randn(1, ch, 16 // 2**i, 16 // 2**i) for i, ch in enumerate((64, 128, 256, 512))]
    p = fpn.lateral[3](c[3])
    for level in (2, 1, 0):
        p = F.interpolate(p, scale_factor=2, mode="bilinear") + fpn.lateral[level](c[level])
    torch.testing.assert_close(fpn(c), fpn.smooth(p))


def test_pretrained_weights_from_local_file(tmp_path) -> None:
    torch.manual_seed(3)
    ref = torchvision.models.resnet18(weights=None)
    path = tmp_path / "r18.pth"
    torch.save(ref.state_dict(), path)
    trunk = ResNetTrunk("resnet18", "leaky_relu", weights=str(path))
    torch.testing.assert_close(trunk.layer3[1].conv2.weight, ref.layer3[1].conv2.weight)
    torch.testing.assert_close(trunk.stem[1].running_var, ref.bn1.running_var)


def test_pretrained_missing_or_wrong_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="Nothing is downloaded"):
        ResNetTrunk("resnet18", "relu", weights=str(tmp_path / "nope.pth"))
    path = tmp_path / "r18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    with pytest.raises(ValueError, match="match cfg.backbone"):
        ResNetTrunk("resnet34", "relu", weights=str(path))


def test_bad_images_raise_clear_errors(tiny_backbone: Backbone) -> None:
    with pytest.raises(ValueError, match=r"\(B, 3, 64, 64\)"):
        tiny_backbone(torch.rand(1, 3, 128, 128))
    with pytest.raises(ValueError, match=r"\(B, 3, 64, 64\)"):
        tiny_backbone(torch.rand(1, 1, 64, 64))
    with pytest.raises(ValueError, match="resized"):
        check_image(torch.rand(3, 64, 64), 64)
    with pytest.raises(TypeError, match="float"):
        check_image(torch.zeros(1, 3, 64, 64, dtype=torch.uint8), 64)


def test_feature_norm_batch_keeps_f_scale_whatever_the_fpn_scale() -> None:
    """feature_norm="batch" (not in the release) normalises P2 per channel in training, so F's
    scale does not follow the FPN's weights; with "none" (the release) it grows with them."""
    torch.manual_seed(2)
    x = torch.rand(4, 3, 64, 64)
    for norm, expected_ratio in (("none", 100.0), ("batch", 1.0)):
        net = Backbone(preset("tiny").replace(feature_norm=norm)).train()
        with torch.no_grad():
            before = net.features(x)  # (4, C, 8, 8)
            net.fpn.smooth.weight.mul_(100.0)  # what unchecked training does to F's scale
            net.fpn.smooth.bias.mul_(100.0)
            after = net.features(x)
        assert after.std() / before.std() == pytest.approx(expected_ratio, rel=1e-3)
        if norm == "batch":  # zero mean per channel after BN; 2x2 pooling keeps the mean
            torch.testing.assert_close(after.mean((0, 2, 3)), torch.zeros(after.shape[1]),
                                       atol=1e-4, rtol=0)  # fmt: skip


def test_feature_norm_none_is_the_release_layout() -> None:
    keys = set(Backbone(preset("tiny")).state_dict())
    assert not any(k.startswith("fpn.norm.") for k in keys)
    normed = set(Backbone(preset("tiny").replace(feature_norm="batch")).state_dict())
    assert {k for k in normed - keys} == {
        "fpn.norm." + s
        for s in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    }
    with pytest.raises(ValueError, match="feature_norm"):
        preset("tiny").replace(feature_norm="layer")
