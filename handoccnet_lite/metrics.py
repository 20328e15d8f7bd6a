"""3D hand pose and mesh metrics: MPJPE variants, MPVPE, F-score, 3D PCK / AUC, and every
metric of a batch at once as per-sample records (`evaluate_batch`). Alignment and input handling
live in `handoccnet_lite.alignment`, PCK / AUC in `handoccnet_lite.pck`.

Conventions (package-wide, see docs/INTERFACES.md):

* **Metres in, millimetres out.** Points are ``(..., P, 3)`` in metres; every error is returned in
  millimetres. F-scores, PCK and AUC are fractions in [0, 1]. F-score thresholds are given in
  metres (``threshold_m=0.005`` is 5 mm).
* **NumPy or torch.** Every public function accepts NumPy arrays or torch tensors and returns the
  same type: NumPy in -> NumPy out (computed in float64 on the CPU), torch in -> torch out (same
  device; float16/bfloat16/integer inputs are computed in float32). If the inputs are mixed, the
  result is torch (NumPy inputs are moved to the tensor's device). Reduced results are NumPy
  scalars (``np.float64``) or 0-d tensors. Torch results keep gradients except
  :func:`evaluate_batch`, which detaches (it produces records, not losses).
* **Batched.** Any leading dims ``...`` are samples; ``reduce=False`` returns one value per sample
  ``(...,)``, ``reduce=True`` their mean.
* **Alignment is always explicit**: ``"none"`` (absolute), ``"root"`` (prediction moved so its
  root joint sits on the ground-truth root), ``"procrustes"`` (similarity Umeyama: scale,
  rotation, translation) and ``"scale_translation"`` (HO-3D's: scale by the wrist->middle1 bone,
  then root translation).
* **Reflections.** ``allow_reflection=False`` (default) is HandOccNet's own evaluation code (a
  proper rotation, det R = +1). HO-3D's official ``eval.py`` (scipy's ``orthogonal_procrustes``)
  and Dex-YCB's official toolkit allow reflections: pass ``allow_reflection=True`` to match them.
  The reflection-allowed error is never larger than the rotation-only one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

from handoccnet_lite.alignment import (
    CANONICAL_SCALE_BONE,
    M_TO_MM,
    Align,
    ArrayLike,
    align_points,
    as_input_type,
    as_tensors,
    check_index,
    check_points,
    check_same_shape,
    point_errors_mm,
    prepare_pair,
    procrustes_align,
    reduce_samples,
    root_align,
    umeyama_align,
)
from handoccnet_lite.pck import auc_pck, auc_per_sample, pck_curve

#: The metrics API: this module's functions, and the alignment and PCK/AUC functions of
#: `handoccnet_lite.alignment` and `handoccnet_lite.pck`, all reachable as `metrics.<name>`.
__all__ = [
    "CANONICAL_SCALE_BONE",
    "HO3D_F_THRESHOLDS_M",
    "M_TO_MM",
    "Align",
    "ArrayLike",
    "auc_pck",
    "evaluate_batch",
    "f_score",
    "f_score_prf",
    "mpjpe",
    "mpvpe",
    "pa_mpjpe",
    "pa_mpvpe",
    "pck_curve",
    "point_errors",
    "procrustes_align",
    "root_mpjpe",
]

#: HO-3D's F-score thresholds in metres (5 mm and 15 mm).
HO3D_F_THRESHOLDS_M: tuple[float, float] = (0.005, 0.015)
_CDIST_MAX_ELEMENTS = 1 << 24  # distance-matrix entries per chunk in f_score (128 MiB in float64)


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------


def point_errors(
    pred: ArrayLike,
    gt: ArrayLike,
    align: Align = "none",
    root_index: int = 0,
    allow_reflection: bool = False,
    scale_bone: tuple[int, int] = CANONICAL_SCALE_BONE,
) -> ArrayLike:
    """Per-point errors in **mm** after the chosen alignment: (..., P, 3) metres -> (..., P) mm."""
    p, g, as_numpy = prepare_pair(pred, gt)
    err = point_errors_mm(p, g, align, root_index, allow_reflection, scale_bone)
    return as_input_type(err, as_numpy)


def mpjpe(
    pred: ArrayLike,
    gt: ArrayLike,
    align: Align = "none",
    root_index: int = 0,
    allow_reflection: bool = False,
    reduce: bool = True,
    scale_bone: tuple[int, int] = CANONICAL_SCALE_BONE,
) -> ArrayLike:
    """Mean per-joint position error in **mm** (inputs in metres).

    Args:
        pred, gt: (..., J, 3) joints in metres, same shape, canonical joint order.
        align: "none" (absolute), "root" (root-relative: pred moved onto the GT root joint, as in
            HandOccNet's Dex-YCB evaluation), "procrustes" (PA-MPJPE, similarity Umeyama) or
            "scale_translation" (HO-3D: scale by the ``scale_bone`` length, then root shift).
        root_index: root joint for "root" and "scale_translation" (0 = wrist).
        allow_reflection: only for "procrustes"; see :func:`procrustes_align`.
        reduce: True -> mean over all samples (scalar); False -> per-sample values (...,).
        scale_bone: (a, b) joints whose distance sets the scale for "scale_translation";
            default wrist -> middle1 in the canonical order.

    Returns:
        Error in millimetres, same type as the input.
    """
    p, g, as_numpy = prepare_pair(pred, gt)
    err = point_errors_mm(p, g, align, root_index, allow_reflection, scale_bone)  # (..., J)
    return as_input_type(reduce_samples(err.mean(dim=-1), reduce), as_numpy)


def pa_mpjpe(
    pred: ArrayLike, gt: ArrayLike, allow_reflection: bool = False, reduce: bool = True
) -> ArrayLike:
    """Procrustes-aligned MPJPE in **mm** (inputs in metres): ``mpjpe(align="procrustes")``."""
    return mpjpe(pred, gt, align="procrustes", allow_reflection=allow_reflection, reduce=reduce)


def root_mpjpe(
    pred: ArrayLike, gt: ArrayLike, root_index: int = 0, reduce: bool = True
) -> ArrayLike:
    """Root-aligned MPJPE in **mm** (inputs in metres), i.e. the error before Procrustes alignment
    once the prediction's root joint is moved onto the GT root: ``mpjpe(align="root")``."""
    return mpjpe(pred, gt, align="root", root_index=root_index, reduce=reduce)


def mpvpe(
    pred: ArrayLike,
    gt: ArrayLike,
    align: Literal["none", "root", "procrustes"] = "none",
    pred_root: ArrayLike | None = None,
    gt_root: ArrayLike | None = None,
    allow_reflection: bool = False,
    reduce: bool = True,
) -> ArrayLike:
    """Mean per-vertex position error in **mm** (inputs in metres).

    Args:
        pred, gt: (..., V, 3) vertices in metres, same shape.
        align: "none"; "root" shifts pred by ``gt_root - pred_root`` (the *joint* roots, (..., 3),
            required for this mode since vertices have no root); "procrustes" aligns the mesh by
            its own Procrustes on the vertices (HO-3D's protocol).
        allow_reflection: only for "procrustes"; see :func:`procrustes_align`.
        reduce: True -> scalar mean; False -> per-sample (...,).
    """
    p, g, as_numpy = prepare_pair(pred, gt)
    if align == "root":
        p = _shift_by_roots(p, pred_root, gt_root)
    elif align in ("none", "procrustes"):
        p = align_points(p, g, align, 0, allow_reflection, CANONICAL_SCALE_BONE)
    else:
        raise ValueError(
            f"align={align!r} is not available for vertices; use 'none', 'root' (with pred_root "
            "and gt_root joints) or 'procrustes'."
        )
    err = (p - g).norm(dim=-1) * M_TO_MM  # (..., V)
    return as_input_type(reduce_samples(err.mean(dim=-1), reduce), as_numpy)


def _shift_by_roots(
    verts: torch.Tensor, pred_root: ArrayLike | None, gt_root: ArrayLike | None
) -> torch.Tensor:
    """verts + (gt_root - pred_root). verts (..., V, 3); roots (..., 3) -> (..., V, 3)."""
    if pred_root is None or gt_root is None:
        raise ValueError(
            "align='root' for vertices needs pred_root and gt_root (the root joints, (..., 3) in "
            "metres), e.g. pred_root=pred_joints[..., 0, :]."
        )
    (pr, gr), _ = as_tensors([pred_root, gt_root], ["pred_root", "gt_root"])
    pr, gr = pr.to(verts), gr.to(verts)
    if pr.shape != verts.shape[:-2] + (3,) or gr.shape != pr.shape:
        raise ValueError(
            f"pred_root and gt_root must have shape {tuple(verts.shape[:-2]) + (3,)}, got "
            f"{tuple(pr.shape)} and {tuple(gr.shape)}."
        )
    return verts + (gr - pr).unsqueeze(-2)


def pa_mpvpe(
    pred: ArrayLike, gt: ArrayLike, allow_reflection: bool = False, reduce: bool = True
) -> ArrayLike:
    """Procrustes-aligned MPVPE in **mm** (inputs in metres); the mesh is aligned by its own
    Procrustes on the vertices, as HO-3D does."""
    return mpvpe(pred, gt, align="procrustes", allow_reflection=allow_reflection, reduce=reduce)


# --------------------------------------------------------------------------------------------
# F-score
# --------------------------------------------------------------------------------------------
def _nn_distances(pred: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest-neighbour distances both ways, chunked over the batch to bound memory.

    pred (B, N, 3), gt (B, M, 3) -> (pred->gt (B, N), gt->pred (B, M)), same units as input.
    """
    n, m = pred.shape[1], gt.shape[1]
    chunk = max(1, _CDIST_MAX_ELEMENTS // (n * m))
    d_pg, d_gp = [], []
    for start in range(0, pred.shape[0], chunk):
        p, g = pred[start : start + chunk], gt[start : start + chunk]
        d = torch.cdist(p, g, compute_mode="donot_use_mm_for_euclid_dist")  # (b, N, M)
        d_pg.append(d.min(dim=2).values)  # (b, N)
        d_gp.append(d.min(dim=1).values)  # (b, M)
    return torch.cat(d_pg), torch.cat(d_gp)


def f_score_prf(
    pred_pts: ArrayLike, gt_pts: ArrayLike, threshold_m: float
) -> tuple[ArrayLike, ArrayLike, ArrayLike]:
    """F-score at distance ``threshold_m`` (**metres**) with its precision and recall.

    precision = share of predicted points whose nearest GT point is closer than d;
    recall = share of GT points whose nearest predicted point is closer than d;
    F = 2PR / (P + R), and 0 when P + R = 0. "Closer than" is strict (<), as in HO-3D's
    ``calculate_fscore``. HO-3D uses d = 5 mm and 15 mm (``HO3D_F_THRESHOLDS_M``) on vertices.

    The *aligned* F-score that HO-3D reports first aligns the predicted mesh to the ground truth
    by Procrustes on corresponding vertices, which the official code defines for MANO meshes
    (778 vertices in MANO's order). On other meshes (SynthHand) ours (``evaluate_batch``'s
    f5/f15: Procrustes between meshes of that model) is not the official number and cannot be
    compared with published HO-3D F-scores.

    Args:
        pred_pts: (..., N, 3) metres; gt_pts: (..., M, 3) metres (N and M may differ; the
            leading dims must match).
        threshold_m: distance threshold in metres (0.005 = 5 mm).

    Returns:
        (f, precision, recall), each per sample (...,), fractions in [0, 1].
    """
    (p, g), as_numpy = as_tensors([pred_pts, gt_pts], ["pred_pts", "gt_pts"])
    check_points(p, "pred_pts")
    check_points(g, "gt_pts")
    if p.shape[:-2] != g.shape[:-2]:
        raise ValueError(
            f"pred_pts and gt_pts must share their leading (batch) dims, got {tuple(p.shape)} "
            f"and {tuple(g.shape)}."
        )
    _check_threshold(threshold_m)
    lead = p.shape[:-2]
    d_pg, d_gp = _nn_distances(p.reshape(-1, *p.shape[-2:]), g.reshape(-1, *g.shape[-2:]))
    precision = (d_pg < threshold_m).to(p.dtype).mean(dim=-1).reshape(lead)  # (...,)
    recall = (d_gp < threshold_m).to(p.dtype).mean(dim=-1).reshape(lead)  # (...,)
    total = precision + recall
    safe = torch.where(total > 0, total, torch.ones_like(total))
    f = torch.where(total > 0, 2 * precision * recall / safe, torch.zeros_like(total))
    return (
        as_input_type(f, as_numpy),
        as_input_type(precision, as_numpy),
        as_input_type(recall, as_numpy),
    )


def _check_threshold(threshold_m: float) -> None:
    if not np.isfinite(threshold_m) or threshold_m <= 0:
        raise ValueError(f"threshold_m must be a positive distance in metres, got {threshold_m}.")
    if threshold_m > 0.5:
        raise ValueError(
            f"threshold_m={threshold_m} looks like millimetres; it is in metres "
            "(5 mm -> 0.005, 15 mm -> 0.015)."
        )


def f_score(pred_pts: ArrayLike, gt_pts: ArrayLike, threshold_m: float) -> ArrayLike:
    """Per-sample F-score in [0, 1] at ``threshold_m`` metres; see :func:`f_score_prf`."""
    return f_score_prf(pred_pts, gt_pts, threshold_m)[0]


# --------------------------------------------------------------------------------------------
# PCK and AUC
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# everything at once
# --------------------------------------------------------------------------------------------
def evaluate_batch(
    pred_joints: ArrayLike,
    gt_joints: ArrayLike,
    pred_verts: ArrayLike | None = None,
    gt_verts: ArrayLike | None = None,
    root_index: int = 0,
    allow_reflection: bool = False,
    f_thresholds_m: Sequence[float] = HO3D_F_THRESHOLDS_M,
) -> dict[str, ArrayLike]:
    """Per-sample records of every metric (errors in **mm**, inputs in **metres**).

    Keys (each value has shape (...,), one entry per sample; torch results are detached):

    * ``mpjpe`` absolute (no alignment); ``root_mpjpe`` root-aligned; ``pa_mpjpe`` Procrustes;
      ``auc_j`` per-sample AUC contribution of Procrustes-aligned joints (0-50 mm, 100 steps;
      its mean over samples is the dataset AUC_J).
    * with vertices: ``mpvpe`` absolute; ``root_mpvpe`` shifted by the joint roots;
      ``pa_mpvpe`` (mesh aligned by its own Procrustes); ``auc_v``; ``f5`` and ``f15`` (one key
      per threshold, named in mm) on the Procrustes-aligned mesh, as HO-3D's tables report them.
      The official aligned F-score is defined for MANO's 778-vertex mesh; on other meshes
      (SynthHand) f5/f15 differ from it (see :func:`f_score_prf`).

    Args:
        pred_joints, gt_joints: (..., J, 3) metres.
        pred_verts, gt_verts: (..., V, 3) metres, both or neither.
        allow_reflection: Procrustes variant (False = HandOccNet's code, True = HO-3D/Dex-YCB
            official tools).
    """
    if (pred_verts is None) != (gt_verts is None):
        raise ValueError("pass both pred_verts and gt_verts, or neither.")
    with torch.no_grad():
        rec, as_numpy = _joint_records(pred_joints, gt_joints, root_index, allow_reflection)
        if pred_verts is not None:
            rec.update(
                _vertex_records(
                    pred_verts,
                    gt_verts,
                    pred_joints,
                    gt_joints,
                    root_index,
                    allow_reflection,
                    f_thresholds_m,
                )
            )
    return {k: as_input_type(v.detach(), as_numpy) for k, v in rec.items()}


def _joint_records(
    pred: ArrayLike, gt: ArrayLike, root_index: int, allow_reflection: bool
) -> tuple[dict[str, torch.Tensor], bool]:
    """Joint metrics per sample, each (...,)."""
    p, g, as_numpy = prepare_pair(pred, gt)
    check_index(root_index, p.shape[-2], "root_index")
    err_pa = point_errors_mm(p, g, "procrustes", root_index, allow_reflection, CANONICAL_SCALE_BONE)
    rec = {
        "mpjpe": ((p - g).norm(dim=-1) * M_TO_MM).mean(dim=-1),
        "root_mpjpe": (((root_align(p, g, root_index) - g).norm(dim=-1)) * M_TO_MM).mean(dim=-1),
        "pa_mpjpe": err_pa.mean(dim=-1),
        "auc_j": auc_per_sample(err_pa, 50.0, 100),
    }
    return rec, as_numpy


def _vertex_records(
    pred_v: ArrayLike,
    gt_v: ArrayLike,
    pred_j: ArrayLike,
    gt_j: ArrayLike,
    root_index: int,
    allow_reflection: bool,
    f_thresholds_m: Sequence[float],
) -> dict[str, torch.Tensor]:
    """Vertex metrics per sample, each (...,)."""
    (pv, gv, pj, gj), _ = as_tensors(
        [pred_v, gt_v, pred_j, gt_j], ["pred_verts", "gt_verts", "pred_joints", "gt_joints"]
    )
    for x, nm in ((pv, "pred_verts"), (gv, "gt_verts")):
        check_points(x, nm)
    check_same_shape(pv, gv, "pred_verts and gt_verts")
    if pv.shape[:-2] != pj.shape[:-2]:
        raise ValueError(
            f"vertices {tuple(pv.shape)} and joints {tuple(pj.shape)} must share batch dims."
        )
    shift = (gj[..., root_index, :] - pj[..., root_index, :]).unsqueeze(-2)  # (..., 1, 3)
    aligned = umeyama_align(pv, gv, allow_reflection, scale=True)  # (..., V, 3)
    err_pa = (aligned - gv).norm(dim=-1) * M_TO_MM  # (..., V)
    rec = {
        "mpvpe": ((pv - gv).norm(dim=-1) * M_TO_MM).mean(dim=-1),
        "root_mpvpe": ((pv + shift - gv).norm(dim=-1) * M_TO_MM).mean(dim=-1),
        "pa_mpvpe": err_pa.mean(dim=-1),
        "auc_v": auc_per_sample(err_pa, 50.0, 100),
    }
    for th in f_thresholds_m:
        rec[f"f{th * M_TO_MM:g}"] = f_score_prf(aligned, gv, th)[0]
    return rec
