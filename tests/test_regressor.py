"""Regressor: hourglass, soft-argmax with temperature, encoder, MANO head, release init."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from handoccnet_lite.config import preset
from handoccnet_lite.model.regressor import (
    HeatmapEncoder,
    HeatmapHead,
    Hourglass,
    PreActBottleneck,
    Regressor,
    pixel_centres,
)


@pytest.fixture(scope="module")
def tiny_regressor() -> Regressor:
    torch.manual_seed(0)
    return Regressor(preset("tiny"))


def test_pixel_centres() -> None:
    c = pixel_centres(4)  # (16, 2)
    assert c.shape == (16, 2)
    torch.testing.assert_close(c[0], torch.tensor([0.125, 0.125]))
    torch.testing.assert_close(c[1], torch.tensor([0.375, 0.125]))  # x varies fastest
    torch.testing.assert_close(c[4], torch.tensor([0.125, 0.375]))


def test_soft_argmax_peak_uniform_and_temperature() -> None:
    head = HeatmapHead(8, 8, depth=1, grid=8)
    logits = torch.zeros(1, 21, 8, 8)
    logits[:, :, 2, 5] = 50.0  # row v = 2, column u = 5
    heatmaps, joints = head.soft_argmax(logits)
    torch.testing.assert_close(heatmaps.sum((2, 3)), torch.ones(1, 21))
    torch.testing.assert_close(joints, torch.tensor([5.5 / 8, 2.5 / 8]).expand(1, 21, 2))
    with torch.no_grad():
        head.betas.zero_()  # temperature 0: uniform map, centre of the image
    torch.testing.assert_close(head.soft_argmax(logits)[1], torch.full((1, 21, 2), 0.5))


def test_preact_bottleneck_formula() -> None:
    torch.manual_seed(1)
    block = PreActBottleneck(8).eval()
    x = torch.randn(2, 8, 4, 4)
    h = block.conv1(F.leaky_relu(block.bn1(x), 0.01))
    h = block.conv2(F.leaky_relu(block.bn2(h), 0.01))
    torch.testing.assert_close(block(x), x + block.conv3(F.leaky_relu(block.bn3(h), 0.01)))
    assert block.conv1.out_channels == 4  # expansion 2


def test_hourglass_nesting_and_shape() -> None:
    hg = Hourglass(8, depth=4)
    assert isinstance(hg.inner.inner.inner.inner, PreActBottleneck)
    assert hg(torch.randn(1, 8, 32, 32)).shape == (1, 8, 32, 32)


def test_encoder_flattens_to_four_times_channels() -> None:
    enc = HeatmapEncoder(16, stages=3)
    out = enc(torch.rand(2, 21, 16, 16), torch.randn(2, 16, 16, 16))
    assert out.shape == (2, 64) and len(enc.blocks) == 6


def test_release_initialisation(tiny_regressor: Regressor) -> None:
    convs = [m for m in tiny_regressor.modules() if type(m) is nn.Conv2d]
    conv_w = torch.cat([m.weight.flatten() for m in convs])
    assert 0.0008 < conv_w.std() < 0.0012
    assert all((m.bias == 0).all() for m in convs)
    linears = [m for m in tiny_regressor.modules() if type(m) is nn.Linear]
    lin_w = torch.cat([m.weight.flatten() for m in linears])
    assert 0.008 < lin_w.std() < 0.012
    bns = [m for m in tiny_regressor.modules() if type(m) is nn.BatchNorm2d]
    assert all((m.weight == 1).all() and (m.bias == 0).all() for m in bns)
    assert (tiny_regressor.head.betas == 1).all()


def test_outputs(tiny_regressor: Regressor) -> None:
    out = tiny_regressor(torch.randn(2, 32, 8, 8))
    v = tiny_regressor.hand.num_vertices
    shapes = {k: tuple(t.shape) for k, t in out.items()}
    assert shapes == {
        "joints_img": (2, 21, 2), "joints": (2, 21, 3), "verts": (2, v, 3), "pose": (2, 48),
        "shape": (2, 10), "rotmats": (2, 16, 3, 3), "heatmaps": (2, 21, 8, 8),
    }  # fmt: skip
    torch.testing.assert_close(out["joints"][:, 0], torch.zeros(2, 3))  # root-relative
    assert ((out["joints_img"] > 0) & (out["joints_img"] < 1)).all()
    # the pose fed to the hand layer is the axis-angle of the predicted matrices
    full = tiny_regressor.hand(out["pose"], out["shape"])
    torch.testing.assert_close(out["verts"], full.vertices - full.joints[:, :1])


def test_head_projects_when_widths_differ() -> None:
    reg = Regressor(preset("tiny").replace(hourglass_channels=16))
    assert isinstance(reg.head.proj, nn.Conv2d) and reg.head.proj.out_channels == 16
    assert reg(torch.randn(1, 32, 8, 8))["pose"].shape == (1, 48)


def test_identity_init_starts_every_rotation_at_the_mean_hand() -> None:
    torch.manual_seed(0)
    release = Regressor(preset("tiny")).eval()
    torch.manual_seed(0)
    identity = Regressor(preset("tiny").replace(mano_init="identity")).eval()
    feat = torch.randn(4, preset("tiny").feat_dim, preset("tiny").grid, preset("tiny").grid)
    with torch.no_grad():
        out_id, out_rel = identity(feat), release(feat)
    eye = torch.eye(3).expand(4, 16, 3, 3)
    # identity: every rotation within a few degrees of I (weights still N(0, 0.01))
    assert (out_id["rotmats"] - eye).abs().max() < 0.05
    # release: Gram-Schmidt of near-zero outputs gives rotations far from I
    assert (out_rel["rotmats"] - eye).abs().max() > 0.5
    torch.testing.assert_close(identity.mano.pose.bias[:6], torch.tensor([1.0, 0, 0, 0, 1, 0]))


def test_unknown_mano_init_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="mano_init"):
        preset("tiny").replace(mano_init="zeros")


def test_mean_pose_convention_adds_the_hand_mean() -> None:
    """pose_convention="mean": the same weights give the flat pose plus [0, 0, 0, mean], and
    rotmats are rebuilt from that pose (the flat convention's targets for the pose loss)."""
    from handoccnet_lite.model.rotations import axis_angle_to_matrix

    torch.manual_seed(0)
    flat = Regressor(preset("tiny")).eval()
    mean = Regressor(preset("tiny").replace(pose_convention="mean")).eval()
    mean.load_state_dict(flat.state_dict())
    feat = torch.randn(2, 32, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = flat(feat), mean(feat)
    offset = torch.cat([torch.zeros(3), flat.hand.mean_finger_pose])  # (48,)
    assert offset.abs().sum() > 0
    torch.testing.assert_close(b["pose"], a["pose"] + offset)
    torch.testing.assert_close(b["rotmats"], axis_angle_to_matrix(b["pose"].view(2, 16, 3)))
    torch.testing.assert_close(b["verts"], flat.hand(b["pose"], b["shape"]).vertices
                               - flat.hand(b["pose"], b["shape"]).joints[:, :1])  # fmt: skip
    assert "pose_offset" not in mean.state_dict()  # checkpoints keep their keys


def test_mean_pose_convention_needs_a_mean_pose() -> None:
    class NoMean(nn.Module):
        pass

    with pytest.raises(ValueError, match="mean_finger_pose"):
        Regressor(preset("tiny").replace(pose_convention="mean"), hand=NoMean())
    with pytest.raises(ValueError, match="pose_convention"):
        preset("tiny").replace(pose_convention="curled")
