"""Rotation conversions used by the MANO head: 6D -> matrix -> axis-angle, and axis-angle -> matrix.

The release regresses each of the 16 MANO rotations in the continuous 6D form of Zhou et al.
(CVPR 2019, "On the Continuity of Rotation Representations in Neural Networks"): two 3-vectors
a1, a2 orthonormalised by Gram-Schmidt into the first two *columns* b1, b2 of the matrix, with
b3 = b1 x b2 (release: common/nets/mano_head.py, rot6d2mat). The matrices are turned into
axis-angle for the MANO layer (release: mat2aa, via a quaternion). Our matrix -> axis-angle also
goes through a quaternion, chosen among the four algebraically equivalent formulas by the largest
denominator, so it stays accurate near angle pi, and its small-angle branch keeps gradients finite
at the identity.

Shapes: any leading batch dims (...), then (6,), (3, 3), (4,) or (3,).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from smplx.lbs import batch_rodrigues
from torch import Tensor

_SMALL_SIN2 = 1e-8  # sin^2(angle / 2) below which the Taylor branch is used (angle < 2e-4 rad)


def _check_last_dims(name: str, x: Tensor, dims: tuple[int, ...]) -> None:
    """Raise a clear error when x's trailing dims are not `dims`."""
    if tuple(x.shape[-len(dims) :]) != dims:
        raise ValueError(
            f"{name} expects a tensor of shape (..., {', '.join(map(str, dims))}), "
            f"got {tuple(x.shape)}."
        )


def rot6d_to_matrix(x: Tensor) -> Tensor:
    """(..., 6) -> (..., 3, 3) rotation matrices, columns [b1, b2, b1 x b2] (Zhou et al. 2019).

    b1 = a1 / |a1|; b2 = normalise(a2 - (b1 . a2) b1); b3 = b1 x b2.
    """
    _check_last_dims("rot6d_to_matrix", x, (6,))
    a1, a2 = x[..., :3], x[..., 3:]  # (..., 3) each
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1)  # (..., 3, 3), b_i are columns


def matrix_to_rot6d(rotmat: Tensor) -> Tensor:
    """(..., 3, 3) -> (..., 6): the first two columns, the inverse of `rot6d_to_matrix`."""
    _check_last_dims("matrix_to_rot6d", rotmat, (3, 3))
    return torch.cat((rotmat[..., :, 0], rotmat[..., :, 1]), dim=-1)  # (..., 6)


def axis_angle_to_matrix(aa: Tensor) -> Tensor:
    """(..., 3) axis-angle -> (..., 3, 3) by Rodrigues' formula (smplx.lbs.batch_rodrigues)."""
    _check_last_dims("axis_angle_to_matrix", aa, (3,))
    flat = aa.reshape(-1, 3)  # (M, 3)
    return batch_rodrigues(flat).reshape(*aa.shape[:-1], 3, 3)


def _safe_sqrt(x: Tensor) -> Tensor:
    """sqrt(max(x, 0)) with a zero (not infinite) gradient where x <= 0."""
    positive = x > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, x, torch.ones_like(x))), 0.0)


def matrix_to_quaternion(rotmat: Tensor) -> Tensor:
    """(..., 3, 3) -> (..., 4) unit quaternion (w, x, y, z) with w >= 0.

    Each of 4|w|^2 = 1 + tr, 4|x|^2 = 1 + R00 - R11 - R22, ... gives one component's magnitude;
    the other three follow from off-diagonal sums/differences divided by it. Dividing by the
    largest of the four is well conditioned for every rotation, including angles near pi.
    """
    _check_last_dims("matrix_to_quaternion", rotmat, (3, 3))
    r = rotmat.reshape(*rotmat.shape[:-2], 9).unbind(-1)  # 9 x (...)
    r00, r01, r02, r10, r11, r12, r20, r21, r22 = r
    four_sq = torch.stack(
        (1 + r00 + r11 + r22, 1 + r00 - r11 - r22, 1 - r00 + r11 - r22, 1 - r00 - r11 + r22), -1
    )  # (..., 4): 4 * (w^2, x^2, y^2, z^2)
    mag = _safe_sqrt(four_sq)  # (..., 4): 2|w|, 2|x|, 2|y|, 2|z|
    rows = torch.stack(
        (
            torch.stack((mag[..., 0] ** 2, r21 - r12, r02 - r20, r10 - r01), -1),
            torch.stack((r21 - r12, mag[..., 1] ** 2, r10 + r01, r02 + r20), -1),
            torch.stack((r02 - r20, r10 + r01, mag[..., 2] ** 2, r12 + r21), -1),
            torch.stack((r10 - r01, r20 + r02, r21 + r12, mag[..., 3] ** 2), -1),
        ),
        dim=-2,
    )  # (..., 4, 4): row i = 4 * q_i * q, so q = row_i / (2 * mag_i)
    candidates = rows / (2 * mag.clamp_min(0.1))[..., None]  # (..., 4, 4)
    best = mag.argmax(dim=-1)  # (...,)
    index = best[..., None, None].expand(*best.shape, 1, 4)
    quat = candidates.gather(-2, index).squeeze(-2)  # (..., 4)
    quat = F.normalize(quat, dim=-1)
    return torch.where(quat[..., :1] < 0, -quat, quat)  # w >= 0: angle in [0, pi]


def quaternion_to_axis_angle(quat: Tensor) -> Tensor:
    """(..., 4) quaternion (w, x, y, z) -> (..., 3) axis-angle with angle in [0, pi].

    q = (cos(t/2), sin(t/2) u) gives aa = t u = q_xyz * t / sin(t/2); for tiny angles
    t / sin(t/2) = 2 + sin^2(t/2) / 3 + O(t^4) keeps the value and gradient finite at t = 0.
    """
    _check_last_dims("quaternion_to_axis_angle", quat, (4,))
    quat = F.normalize(quat, dim=-1)
    quat = torch.where(quat[..., :1] < 0, -quat, quat)
    w, xyz = quat[..., :1], quat[..., 1:]  # (..., 1), (..., 3)
    sin2 = (xyz**2).sum(-1, keepdim=True)  # (..., 1) sin^2(t/2)
    small = sin2 < _SMALL_SIN2
    sin_half = torch.sqrt(torch.where(small, torch.ones_like(sin2), sin2))
    half = torch.atan2(sin_half, w)
    factor = torch.where(small, 2 + sin2 / 3, 2 * half / sin_half)  # (..., 1) t / sin(t/2)
    return xyz * factor  # (..., 3)


def matrix_to_axis_angle(rotmat: Tensor) -> Tensor:
    """(..., 3, 3) -> (..., 3) axis-angle, angle in [0, pi]; accurate near 0 and near pi."""
    return quaternion_to_axis_angle(matrix_to_quaternion(rotmat))


def rot6d_to_axis_angle(x: Tensor) -> Tensor:
    """(..., 6) -> (..., 3): the MANO head's path from regressed 6D to MANO pose."""
    return matrix_to_axis_angle(rot6d_to_matrix(x))
