"""Rotation conversions: 6D Gram-Schmidt, matrix <-> axis-angle (robust near 0 and pi)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from handoccnet_lite.model import rotations as R


def _random_axis_angle(n: int, low: float, high: float, seed: int = 0) -> torch.Tensor:
    """(n, 3) float64 axis-angle with angles uniform in [low, high]."""
    g = torch.Generator().manual_seed(seed)
    axis = torch.nn.functional.normalize(torch.randn(n, 3, generator=g, dtype=torch.float64), dim=1)
    angle = low + (high - low) * torch.rand(n, 1, generator=g, dtype=torch.float64)
    return axis * angle


def test_rot6d_gives_proper_rotations() -> None:
    x = torch.randn(64, 16, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    m = R.rot6d_to_matrix(x)  # (64, 16, 3, 3)
    eye = torch.eye(3, dtype=torch.float64).expand_as(m)
    torch.testing.assert_close(m.transpose(-1, -2) @ m, eye)
    torch.testing.assert_close(torch.linalg.det(m), torch.ones(64, 16, dtype=torch.float64))
    # first column is a1 normalised (columns, as in the release's rot6d2mat)
    torch.testing.assert_close(m[..., 0], torch.nn.functional.normalize(x[..., :3], dim=-1))


def test_rot6d_round_trip() -> None:
    m = torch.from_numpy(Rotation.random(32, random_state=2).as_matrix())  # (32, 3, 3)
    torch.testing.assert_close(R.rot6d_to_matrix(R.matrix_to_rot6d(m)), m)


@pytest.mark.parametrize(
    ("low", "high"), [(0.0, 1e-6), (1e-6, 1e-3), (0.1, 3.0), (math.pi - 1e-3, math.pi - 1e-7)]
)
def test_matrix_to_axis_angle_matches_scipy(low: float, high: float) -> None:
    aa = _random_axis_angle(200, low, high)
    m = R.axis_angle_to_matrix(aa)  # (200, 3, 3)
    ours = R.matrix_to_axis_angle(m)
    ref = torch.from_numpy(Rotation.from_matrix(m.numpy()).as_rotvec())
    # near pi, aa and -aa are the same rotation: compare matrices, and vectors up to sign
    torch.testing.assert_close(R.axis_angle_to_matrix(ours), m, atol=1e-7, rtol=0)
    err = torch.minimum((ours - ref).norm(dim=1), (ours + ref).norm(dim=1))
    assert err.max() < 1e-6


def test_exact_pi_and_identity() -> None:
    axes = torch.eye(3, dtype=torch.float64)
    m = R.axis_angle_to_matrix(axes * math.pi)
    aa = R.matrix_to_axis_angle(m)
    torch.testing.assert_close(aa.abs(), axes * math.pi)
    zero = R.matrix_to_axis_angle(torch.eye(3, dtype=torch.float64)[None])
    torch.testing.assert_close(zero, torch.zeros(1, 3, dtype=torch.float64))


def test_gradients_are_finite_at_identity_and_pi() -> None:
    mats = torch.stack(
        [torch.eye(3), R.axis_angle_to_matrix(torch.tensor([[0.0, 0.0, math.pi]]))[0]]
    ).requires_grad_(True)
    R.matrix_to_axis_angle(mats).sum().backward()
    assert torch.isfinite(mats.grad).all()
    x = torch.tensor([[1.0, 0, 0, 0, 1, 0]], requires_grad=True)  # identity in 6D
    R.rot6d_to_axis_angle(x).pow(2).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_gradcheck_generic_rotation() -> None:
    x = torch.randn(4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    assert torch.autograd.gradcheck(R.rot6d_to_axis_angle, (x.requires_grad_(True),))


def test_quaternion_has_nonnegative_w() -> None:
    q = R.matrix_to_quaternion(torch.from_numpy(Rotation.random(100, random_state=4).as_matrix()))
    assert (q[:, 0] >= 0).all()
    np.testing.assert_allclose(q.norm(dim=1).numpy(), 1.0, atol=1e-12)


def test_wrong_shape_raises_clear_error() -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., 6\)"):
        R.rot6d_to_matrix(torch.zeros(2, 9))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, 3\)"):
        R.matrix_to_axis_angle(torch.zeros(2, 9))
