"""HandOccNet's training loss (paper Sec. 3.4; release main/model.py, main/config.py).

L = 1e4 * MSE(verts) + 1e4 * MSE(joints 3D) + 10 * MSE(pose as rotation matrices)
  + 0.1 * MSE(shape) + 100 * MSE(2D joints, normalised to [0, 1]).

Every term is a plain mean squared error over all elements (``F.mse_loss``), as in the release.
3D terms compare root-relative coordinates (wrist = joint 0) in metres. The pose and shape terms
are averaged over the samples with ``has_mano = 1`` only (0 when a batch has none). The 3D
targets are the data's ``verts_cam``/``joints_cam``: they must come from the same hand model as
the network's layer (same V). Real datasets without the user's MANO carry no vertices
(``has_verts = 0``, ``verts_cam`` of shape (B, 0, 3)): the vertex term is then 0, and the joint
terms are masked by ``has_joints`` when a batch provides it (HO-3D evaluation frames).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from handoccnet_lite.config import LossWeights
from handoccnet_lite.model.rotations import axis_angle_to_matrix

TARGET_KEYS = ("joints_img", "joints_cam", "verts_cam", "mano_pose", "mano_shape", "has_mano")
PRED_KEYS = ("joints_img", "joints", "verts", "rotmats", "shape")


def _require(d: Mapping[str, Tensor], keys: tuple[str, ...], what: str) -> None:
    missing = [k for k in keys if k not in d]
    if missing:
        raise KeyError(f"{what} lacks {missing}; expected keys {list(keys)}.")


def _same_shape(name: str, pred: Tensor, target: Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"loss term {name!r}: prediction {tuple(pred.shape)} vs target {tuple(target.shape)}; "
            "for verts, the data and the network must use the same hand model (same V)."
        )


def masked_mse(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """MSE over the samples with mask = 1: sum(mask * err^2) / (n_masked * elements per sample)."""
    err = (pred - target).pow(2).flatten(1).mean(1)  # (B,)
    mask = mask.to(err.dtype).reshape(-1)  # (B,)
    return (err * mask).sum() / mask.sum().clamp_min(1.0)


def root_relative_targets(batch: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
    """(joints (B, 21, 3), verts (B, V, 3)) relative to the ground-truth wrist, metres."""
    root = batch["joints_cam"][:, :1]  # (B, 1, 3)
    return batch["joints_cam"] - root, batch["verts_cam"] - root


def loss_terms(pred: Mapping[str, Tensor], batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Unweighted terms: verts, joints, pose, shape, joints_img (each a scalar)."""
    _require(pred, PRED_KEYS, "the prediction dict")
    _require(batch, TARGET_KEYS, "the target batch")
    joints, verts = root_relative_targets(batch)
    ones = torch.ones(joints.shape[0], device=joints.device)
    masks = {
        "pose": batch["has_mano"],
        "shape": batch["has_mano"],
        "joints": batch.get("has_joints", ones),
        "joints_img": batch.get("has_joints", ones),
        "verts": batch.get("has_verts", ones),
    }
    if verts.shape[1] == 0:  # no vertex ground truth in this batch (real data without MANO)
        if bool(masks["verts"].any()):
            raise ValueError("verts_cam is empty but has_verts = 1 for some samples.")
        verts = pred["verts"].detach()
    rotmats = axis_angle_to_matrix(batch["mano_pose"].reshape(-1, 16, 3))  # (B, 16, 3, 3)
    pairs = {
        "verts": (pred["verts"], verts),
        "joints": (pred["joints"], joints),
        "pose": (pred["rotmats"], rotmats),
        "shape": (pred["shape"], batch["mano_shape"]),
        "joints_img": (pred["joints_img"], batch["joints_img"]),
    }
    for name, (p, t) in pairs.items():
        _same_shape(name, p, t)
    return {name: masked_mse(p, t, masks.get(name, ones)) for name, (p, t) in pairs.items()}


def gaussian_heatmap_targets(joints_img: Tensor, grid: int, sigma: float) -> Tensor:
    """joints_img (B, J, 2) in [0, 1] -> (B, J, G, G) Gaussians of std `sigma` cells, each summing
    to 1, centred on the joint in the soft-argmax's coordinates (cell centres (i + 0.5) / G)."""
    centres = (torch.arange(grid, device=joints_img.device, dtype=joints_img.dtype) + 0.5) / grid
    d = (centres[None, None, :] - joints_img[..., None]) * grid  # (B, J, 2, G) in cells
    g = torch.exp(-0.5 * (d / sigma) ** 2)  # (B, J, 2, G): separable 1D Gaussians in x and y
    maps = g[:, :, 1, :, None] * g[:, :, 0, None, :]  # (B, J, G(y), G(x))
    return maps / maps.sum((2, 3), keepdim=True).clamp_min(1e-12)


def heatmap_cross_entropy(
    heatmaps: Tensor, joints_img: Tensor, sigma: float, mask: Tensor | None = None
) -> Tensor:
    """Mean over samples and in-crop joints of -sum_pixels target * log(heatmap).

    heatmaps (B, J, G, G): the soft-argmax probabilities; joints_img (B, J, 2) in [0, 1].
    Joints outside the crop have no Gaussian on the grid and are left out; `mask` (B,) drops
    whole samples (no 2D ground truth). Not a term of the paper (LossWeights.heatmap).
    """
    grid = heatmaps.shape[-1]
    target = gaussian_heatmap_targets(joints_img, grid, sigma)  # (B, J, G, G)
    ce = -(target * heatmaps.clamp_min(1e-12).log()).sum((2, 3))  # (B, J)
    inside = ((joints_img >= 0) & (joints_img <= 1)).all(-1).to(ce.dtype)  # (B, J)
    if mask is not None:
        inside = inside * mask.to(ce.dtype).reshape(-1, 1)
    return (ce * inside).sum() / inside.sum().clamp_min(1.0)


def gate_mask_bce(gate: Tensor, visible: Tensor, mask: Tensor | None = None) -> Tensor:
    """Binary cross-entropy of the spatial gate s (B, 1, G, G) against the visible-hand fraction
    per cell (B, G, G) in [0, 1], averaged over cells and the samples with mask = 1 (B,)."""
    if gate.shape[-2:] != visible.shape[-2:]:
        raise ValueError(
            f"gate {tuple(gate.shape)} and visible_mask {tuple(visible.shape)} differ in grid; "
            "the data's input size must be the model's (visible_mask is S/8 x S/8)."
        )
    s = gate.reshape(visible.shape).clamp(1e-6, 1 - 1e-6)  # (B, G, G)
    bce = -(visible * s.log() + (1 - visible) * (1 - s).log()).flatten(1).mean(1)  # (B,)
    weight = torch.ones_like(bce) if mask is None else mask.to(bce.dtype).reshape(-1)
    return (bce * weight).sum() / weight.sum().clamp_min(1.0)


def hand_frame_joints(joints: Tensor, rot: Tensor, target_rot: Tensor) -> Tensor:
    """Root-relative joints (B, J, 3) posed with global rotation `rot` (B, 3, 3), re-posed with
    `target_rot`: the hand's own frame is x_local = x R (row vectors), so x R R_target^T."""
    return joints @ rot @ target_rot.transpose(1, 2)  # (B, J, 3)


def joints_hand_mse(pred: Mapping[str, Tensor], batch: Mapping[str, Tensor]) -> Tensor:
    """MSE of the predicted root-relative joints under the *true* global orientation against the
    truth: the articulation (and shape) error alone, whatever the predicted orientation. Over the
    samples with MANO and 3D joint ground truth. Not a term of the paper (LossWeights.joints_hand).
    """
    target, _ = root_relative_targets(batch)  # (B, 21, 3)
    true_rot = axis_angle_to_matrix(batch["mano_pose"][:, :3])  # (B, 3, 3) global orientation
    aligned = hand_frame_joints(pred["joints"], pred["rotmats"][:, 0], true_rot)  # (B, 21, 3)
    mask = batch["has_mano"].reshape(-1) * batch.get("has_joints", torch.ones_like(target[:, 0, 0]))
    return masked_mse(aligned, target, mask)


def compute_losses(
    pred: Mapping[str, Tensor], batch: Mapping[str, Tensor], weights: LossWeights | None = None
) -> dict[str, Tensor]:
    """Weighted terms (keys verts, joints, pose, shape, joints_img) plus their sum "total".

    pred: HandOccNet's output dict; batch: collated data samples (INTERFACES.md);
    weights: the paper's by default (cfg.loss).
    """
    weights = weights if weights is not None else LossWeights()
    terms = loss_terms(pred, batch)
    if weights.heatmap > 0:  # optional, not the paper's (see LossWeights.heatmap)
        if "heatmaps" not in pred:
            raise KeyError(
                "LossWeights.heatmap > 0 needs the prediction's 'heatmaps' (HandOccNet returns "
                "them); pass the full output dict or set loss.heatmap=0."
            )
        mask = batch.get("has_joints")
        terms["heatmap"] = heatmap_cross_entropy(
            pred["heatmaps"], batch["joints_img"], weights.heatmap_sigma, mask
        )
    if weights.gate > 0:  # optional, not the paper's (see LossWeights.gate)
        missing = [k for k, d in (("gate", pred), ("visible_mask", batch)) if k not in d]
        if missing:
            raise KeyError(
                f"LossWeights.gate > 0 needs {missing}: 'gate' from HandOccNet's output and "
                "'visible_mask' from a dataset item (augment_sample adds it); or set loss.gate=0."
            )
        terms["gate"] = gate_mask_bce(pred["gate"], batch["visible_mask"], batch.get("has_mask"))
    if weights.joints_hand > 0:  # optional, not the paper's (see LossWeights.joints_hand)
        terms["joints_hand"] = joints_hand_mse(pred, batch)
    weighted = {name: getattr(weights, name) * value for name, value in terms.items()}
    weighted["total"] = torch.stack(list(weighted.values())).sum()
    return weighted
