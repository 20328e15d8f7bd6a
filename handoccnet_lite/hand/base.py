"""The hand model interface shared by both backends (SynthHand and MANOHand).

Both backends take MANO's parameterisation (pose (B, 48) axis-angle in MANO kinematic order,
shape (B, 10) betas), skin with ``smplx.lbs.lbs`` and return vertices plus 21 joints in the
package's canonical order (see ``handoccnet_lite.hand.joints``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from . import joints as J


class HandOutput(NamedTuple):
    """Posed hand, metres."""

    vertices: Tensor  # (B, V, 3)
    joints: Tensor  # (B, 21, 3) canonical order


class HandModel(nn.Module):
    """Base class: input validation, fingertips and joint reordering.

    Subclasses register the buffers ``faces`` (F, 3) long, ``parents`` (16,) long and
    ``tip_vertex_ids`` (5,) long (thumb, index, middle, ring, pinky) and ``mean_finger_pose``
    (45,) (the model's mean finger pose in the flat convention: MANO's ``hands_mean``, SynthHand's
    relaxed hand; used whatever ``flat_hand_mean`` is, e.g. by ``pose_convention="mean"``), and
    implement ``_skin(pose, shape) -> (vertices (B, V, 3), kinematic joints (B, 16, 3))``
    without translation.

    The layer always computes in its buffers' dtype (float32), autocast or not: in bf16 the
    kinematic chain and the skinning lose about 0.5 mm, more than the differences the ablation
    measures. Its input checks run in eager mode only, so ``torch.compile`` traces the layer
    in one graph (a data-dependent ``if`` on ``isfinite`` would break it).
    """

    canonical_index: Tensor  # (21,) long: MANO/HO-3D order -> canonical order

    faces: Tensor
    v_template: Tensor
    parents: Tensor
    tip_vertex_ids: Tensor
    mean_finger_pose: Tensor  # (45,)
    joint_names: tuple[str, ...] = J.JOINT_NAMES
    skeleton: tuple[tuple[int, int], ...] = J.SKELETON
    num_betas: int = 10
    pose_dim: int = 48

    def __init__(self) -> None:
        super().__init__()
        order = torch.tensor(J.MANO_TO_CANONICAL, dtype=torch.long)  # (21,)
        self.register_buffer("canonical_index", order, persistent=False)

    @property
    def num_vertices(self) -> int:
        """V, the number of mesh vertices."""
        return int(self.v_template.shape[0])

    @property
    def device(self) -> torch.device:
        """The device the model's buffers live on."""
        return self.faces.device

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the model's buffers."""
        return self.v_template.dtype

    def forward(
        self, pose: Tensor, shape: Tensor | None = None, transl: Tensor | None = None
    ) -> HandOutput:
        """pose (B, pose_dim), shape (B, 10) or None (mean shape), transl (B, 3) or None.
        Returns float32 (the buffers' dtype) even under autocast."""
        with torch.autocast(self.device.type, enabled=False):
            pose, shape, transl = self._check_inputs(pose, shape, transl)
            verts, joints16 = self._skin(pose, shape)  # (B, V, 3), (B, 16, 3)
            tips = verts[:, self.tip_vertex_ids]  # (B, 5, 3)
            mano_order = torch.cat([joints16, tips], dim=1)  # (B, 21, 3)
            joints = mano_order.index_select(1, self.canonical_index)  # (B, 21, 3) canonical
            if transl is not None:
                verts = verts + transl[:, None]
                joints = joints + transl[:, None]
        return HandOutput(verts, joints)

    def _skin(self, pose: Tensor, shape: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    # ----------------------------------------------------------------- validation
    def _check_inputs(
        self, pose: Tensor, shape: Tensor | None, transl: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        pose = self._check_tensor("pose", pose, self.pose_dim, None)
        batch = pose.shape[0]
        if shape is None:
            shape = pose.new_zeros(batch, self.num_betas)
        shape = self._check_tensor("shape", shape, self.num_betas, batch)
        if transl is not None:
            transl = self._check_tensor("transl", transl, 3, batch)
        return pose, shape, transl

    def _check_tensor(self, name: str, x: Tensor, width: int, batch: int | None) -> Tensor:
        """Raise a clear error unless x is a finite float (batch, width) tensor on our device."""
        cls = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{cls}: {name} must be a torch.Tensor, got {type(x).__name__}.")
        if not x.is_floating_point():
            raise TypeError(
                f"{cls}: {name} must be a floating-point tensor, got dtype {x.dtype}; "
                f"convert it with {name}.float()."
            )
        if x.dim() != 2 or x.shape[1] != width:
            raise ValueError(
                f"{cls}: {name} must have shape (B, {width}), got {tuple(x.shape)}"
                + self._shape_hint(name, width)
            )
        if batch is not None and x.shape[0] != batch:
            raise ValueError(
                f"{cls}: {name} has batch size {x.shape[0]} but pose has {batch}; give one "
                f"{name} row per pose (e.g. {name}.expand({batch}, -1))."
            )
        if x.device != self.device:
            raise ValueError(
                f"{cls}: {name} is on {x.device} but the model is on {self.device}; move one "
                f"of them (model.to({name}.device) or {name}.to(model.device))."
            )
        if not torch.compiler.is_compiling() and not torch.isfinite(x).all():  # eager only
            raise ValueError(f"{cls}: {name} contains NaN or Inf values; check its source.")
        return x.to(self.dtype)

    def _shape_hint(self, name: str, width: int) -> str:
        if name == "pose" and width == 48:
            return (
                ": 3 global-orientation + 15 joints x 3 axis-angle values in MANO order; "
                "a single pose needs a batch axis (pose[None])."
            )
        if name == "shape":
            return ": 10 MANO betas per hand (use None for the mean shape)."
        return "."

    def extra_repr(self) -> str:
        return f"V={self.num_vertices}, F={self.faces.shape[0]}, pose_dim={self.pose_dim}"
