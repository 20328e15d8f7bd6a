"""Linear blend skinning with the kinematic tree as a Python tuple (no graph breaks).

The same model as ``smplx.lbs.lbs`` (shape blend shapes, joint regression, pose blend shapes,
rigid kinematic chain, skinning), written so that ``torch.compile`` traces it in one graph:
smplx walks the chain with ``transform_chain[parents[i]]``, which turns a tensor element into a
Python index (a ``Tensor.item()`` graph break per joint). Here the parents are plain ints,
fixed when the hand model is built.

Shapes: B batch, V vertices, J kinematic joints (16), L betas, P = (J - 1) * 9 pose features.
"""

from __future__ import annotations

import torch
from smplx.lbs import batch_rodrigues
from torch import Tensor


def kinematic_chain(
    rotmats: Tensor, joints: Tensor, parents: tuple[int, ...]
) -> tuple[Tensor, Tensor, Tensor]:
    """Pose the rest-pose joints along the tree.

    rotmats (B, J, 3, 3) local rotations, joints (B, J, 3) rest-pose joints, parents[j] the
    parent of joint j (-1 for the root, parents[j] < j). Returns the posed joints (B, J, 3) and
    the skinning transforms: rotation (B, J, 3, 3) and translation (B, J, 3) that map a rest-pose
    point attached to joint j to its posed place (world rotation, and world translation minus the
    rotated rest-pose joint).
    """
    world_r: list[Tensor] = []  # J x (B, 3, 3)
    world_t: list[Tensor] = []  # J x (B, 3)
    for j, p in enumerate(parents):
        if p < 0:
            world_r.append(rotmats[:, j])
            world_t.append(joints[:, j])
            continue
        offset = joints[:, j] - joints[:, p]  # (B, 3) bone in the rest pose
        world_r.append(world_r[p] @ rotmats[:, j])
        world_t.append(world_t[p] + (world_r[p] @ offset[..., None])[..., 0])
    rot = torch.stack(world_r, dim=1)  # (B, J, 3, 3)
    posed = torch.stack(world_t, dim=1)  # (B, J, 3)
    shift = posed - (rot @ joints[..., None])[..., 0]  # (B, J, 3)
    return posed, rot, shift


def linear_blend_skinning(
    betas: Tensor,
    pose: Tensor,
    v_template: Tensor,
    shapedirs: Tensor,
    posedirs: Tensor,
    j_regressor: Tensor,
    parents: tuple[int, ...],
    weights: Tensor,
) -> tuple[Tensor, Tensor]:
    """MANO-style skinning: betas (B, L), pose (B, J * 3) axis-angle, v_template (V, 3),
    shapedirs (V, 3, L), posedirs (P, V * 3), j_regressor (J, V), weights (V, J)
    -> vertices (B, V, 3), posed kinematic joints (B, J, 3)."""
    batch = pose.shape[0]
    v_shaped = v_template + torch.einsum("bl,vcl->bvc", betas, shapedirs)  # (B, V, 3)
    rest_joints = torch.einsum("bvc,jv->bjc", v_shaped, j_regressor)  # (B, J, 3)
    rotmats = batch_rodrigues(pose.reshape(-1, 3)).reshape(batch, -1, 3, 3)  # (B, J, 3, 3)
    eye = torch.eye(3, dtype=pose.dtype, device=pose.device)
    pose_feature = (rotmats[:, 1:] - eye).reshape(batch, -1)  # (B, P)
    v_posed = v_shaped + (pose_feature @ posedirs).reshape(batch, -1, 3)  # (B, V, 3)
    joints, rot, shift = kinematic_chain(rotmats, rest_joints, parents)
    vert_rot = torch.einsum("vj,bjxy->bvxy", weights, rot)  # (B, V, 3, 3)
    vert_shift = torch.einsum("vj,bjx->bvx", weights, shift)  # (B, V, 3)
    verts = (vert_rot @ v_posed[..., None])[..., 0] + vert_shift  # (B, V, 3)
    return verts, joints
