"""Pose sampler: limits, determinism, modes."""

import math

import pytest
import torch

from handoccnet_lite.hand import SynthHand, sample_poses
from handoccnet_lite.hand.sampler import LIMITS, decompose_hand_pose, joint_axes


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("mode", ["random", "grasp"])
def test_shape_dtype_and_determinism(mode):
    a = sample_poses(64, gen(1), mode=mode)
    assert a.shape == (64, 48) and a.dtype == torch.float32
    assert torch.equal(a, sample_poses(64, gen(1), mode=mode))
    assert not torch.equal(a, sample_poses(64, gen(2), mode=mode))


@pytest.mark.parametrize("mode", ["random", "grasp"])
def test_limits_are_respected(mode):
    ang = decompose_hand_pose(sample_poses(2000, gen(3), mode=mode))  # (N, 15, 3)
    lo, hi = LIMITS[..., 0], LIMITS[..., 1]
    assert (ang >= lo - 1e-5).all() and (ang <= hi + 1e-5).all()
    # PIP / DIP of the four fingers: flexion only
    fingers_pip_dip = [1, 2, 4, 5, 7, 8, 10, 11]
    assert ang[:, fingers_pip_dip, 1:].abs().max() < 1e-5
    assert (ang[:, fingers_pip_dip, 0] >= -1e-5).all()
    # the limits are actually used, not just a tiny corner
    assert ang[:, 1, 0].max() > 0.8 * LIMITS[1, 0, 1]


def test_grasp_curls_more_than_random():
    flex_r = decompose_hand_pose(sample_poses(500, gen(4)))[..., 0].mean()
    flex_g = decompose_hand_pose(sample_poses(500, gen(4), mode="grasp"))[..., 0].mean()
    assert flex_g > flex_r + 0.1


def test_global_orient_modes():
    assert sample_poses(8, gen(0), global_orient="zero")[:, :3].abs().max() == 0
    root = sample_poses(2000, gen(0))[:, :3]
    angle = root.norm(dim=1)
    assert angle.max() <= math.pi + 1e-5 and angle.mean() > 1.5  # uniform SO(3): mean ~2.13


def test_axes_from_synthhand_rest_joints_match_defaults():
    rest = SynthHand()(torch.zeros(1, 48)).joints[0]
    assert torch.allclose(joint_axes(rest), joint_axes(), atol=1e-5)
    axes = joint_axes()
    eye = torch.eye(3).expand(15, 3, 3)
    assert torch.allclose(axes @ axes.transpose(1, 2), eye, atol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        sample_poses(2, mode="fist")
    with pytest.raises(ValueError, match="global_orient"):
        sample_poses(2, global_orient="up")
    with pytest.raises(ValueError, match="non-negative"):
        sample_poses(-1)
