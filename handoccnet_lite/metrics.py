"""3D hand pose and mesh metrics: MPJPE variants, MPVPE, F-score, 3D PCK / AUC.

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

ArrayLike = np.ndarray | torch.Tensor
Align = Literal["none", "root", "procrustes", "scale_translation"]

M_TO_MM = 1000.0
#: HO-3D's F-score thresholds in metres (5 mm and 15 mm).
HO3D_F_THRESHOLDS_M: tuple[float, float] = (0.005, 0.015)
#: wrist -> middle1 bone in the canonical 21-joint order (HO-3D's ``align_sc_tr`` uses this bone;
#: in HO-3D's own joint order it is joints (0, 4)).
CANONICAL_SCALE_BONE: tuple[int, int] = (0, 9)
_ALIGN_MODES = ("none", "root", "procrustes", "scale_translation")
_CDIST_MAX_ELEMENTS = 1 << 24  # distance-matrix entries per chunk in f_score (128 MiB in float64)


# --------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------
def _compute_dtype(tensors: Sequence[torch.Tensor]) -> torch.dtype:
    """float64 if any tensor is float64, else float32 (half precision is not enough for SVD)."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def _as_tensors(arrays: Sequence[object], names: Sequence[str]) -> tuple[list[torch.Tensor], bool]:
    """Convert inputs to one torch dtype/device. Returns (tensors, output_as_numpy)."""
    tensors = [a for a in arrays if isinstance(a, torch.Tensor)]
    as_numpy = not tensors
    device = tensors[0].device if tensors else torch.device("cpu")
    dtype = torch.float64 if as_numpy else _compute_dtype(tensors)
    out: list[torch.Tensor] = []
    for a, name in zip(arrays, names, strict=True):
        if isinstance(a, torch.Tensor):
            if a.device != device:
                raise ValueError(
                    f"{name} is on {a.device} but the other input is on {device}; "
                    "move both to the same device first (e.g. `.to(device)`)."
                )
            out.append(a.to(dtype))
        elif isinstance(a, (np.ndarray, list, tuple)):
            arr = np.asarray(a, dtype=np.float64)
            out.append(torch.as_tensor(arr, device=device).to(dtype))
        else:
            raise TypeError(
                f"{name} must be a numpy array or a torch tensor of shape (..., P, 3) in metres, "
                f"got {type(a).__name__}."
            )
    return out, as_numpy


def _check_points(x: torch.Tensor, name: str) -> None:
    """Raise if x is not a finite (..., P, 3) point set."""
    if x.ndim < 2 or x.shape[-1] != 3:
        raise ValueError(
            f"{name} must have shape (..., P, 3) (P points with x, y, z in metres), got "
            f"{tuple(x.shape)}; reshape it, e.g. `x.reshape(-1, P, 3)`."
        )
    if x.shape[-2] < 1:
        raise ValueError(f"{name} has no points (shape {tuple(x.shape)}); expected P >= 1.")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(
            f"{name} contains NaN or inf; metrics need finite coordinates. Filter invalid "
            "samples first (e.g. Dex-YCB frames with joint_3d == -1)."
        )


def _check_same_shape(pred: torch.Tensor, gt: torch.Tensor, what: str = "pred and gt") -> None:
    if pred.shape != gt.shape:
        raise ValueError(
            f"{what} must have the same shape (..., P, 3), got {tuple(pred.shape)} and "
            f"{tuple(gt.shape)}; check joint/vertex counts and batch sizes."
        )


def _prepare_pair(pred: ArrayLike, gt: ArrayLike) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Convert, validate and return (pred, gt, output_as_numpy); both (..., P, 3)."""
    (p, g), as_numpy = _as_tensors([pred, gt], ["pred", "gt"])
    _check_points(p, "pred")
    _check_points(g, "gt")
    _check_same_shape(p, g)
    return p, g, as_numpy


def _finish(x: torch.Tensor, as_numpy: bool) -> ArrayLike:
    """Return x as NumPy (scalar np.float64 when 0-d) or as the tensor itself."""
    if not as_numpy:
        return x
    arr = x.detach().cpu().numpy()
    return arr[()] if arr.ndim == 0 else arr


def _reduce(per_sample: torch.Tensor, reduce: bool) -> torch.Tensor:
    return per_sample.mean() if reduce else per_sample


# --------------------------------------------------------------------------------------------
# alignment
# --------------------------------------------------------------------------------------------
def _umeyama_align(
    pred: torch.Tensor, gt: torch.Tensor, allow_reflection: bool, scale: bool
) -> torch.Tensor:
    """Similarity (or rigid, scale=False) least-squares alignment of pred onto gt.

    Minimises sum_i |s R p_i + t - g_i|^2 (Umeyama 1991). pred, gt: (..., P, 3) -> (..., P, 3).
    """
    n_pts = pred.shape[-2]
    mu_p = pred.mean(dim=-2, keepdim=True)  # (..., 1, 3)
    mu_g = gt.mean(dim=-2, keepdim=True)  # (..., 1, 3)
    x = pred - mu_p  # (..., P, 3)
    y = gt - mu_g  # (..., P, 3)
    cov = y.transpose(-1, -2) @ x / n_pts  # (..., 3, 3) = mean_i y_i x_i^T
    u, d, vh = torch.linalg.svd(cov)  # u, vh: (..., 3, 3); d: (..., 3)
    sign = torch.ones_like(d)  # (..., 3)
    if not allow_reflection:
        det = torch.linalg.det(u) * torch.linalg.det(vh)  # (...,) = +-1
        sign[..., 2] = torch.where(det < 0, -1.0, 1.0).to(d.dtype)
    rot = (u * sign.unsqueeze(-2)) @ vh  # (..., 3, 3) = U diag(sign) V^T
    if scale:
        var_x = (x**2).sum(dim=(-2, -1)) / n_pts  # (...,)
        trace = (d * sign).sum(dim=-1)  # (...,)
        safe = torch.where(var_x > 0, var_x, torch.ones_like(var_x))
        s = torch.where(var_x > 0, trace / safe, torch.zeros_like(var_x))  # collapsed pred -> 0
    else:
        s = torch.ones(pred.shape[:-2], dtype=pred.dtype, device=pred.device)
    return s[..., None, None] * (x @ rot.transpose(-1, -2)) + mu_g  # (..., P, 3)


def _root_align(pred: torch.Tensor, gt: torch.Tensor, root_index: int) -> torch.Tensor:
    """Translate pred so pred[root] == gt[root]. (..., P, 3) -> (..., P, 3)."""
    _check_index(root_index, pred.shape[-2], "root_index")
    r = slice(root_index, root_index + 1)
    return pred - pred[..., r, :] + gt[..., r, :]


def _scale_translation_align(
    pred: torch.Tensor, gt: torch.Tensor, root_index: int, scale_bone: tuple[int, int]
) -> torch.Tensor:
    """HO-3D's ``align_sc_tr``: rescale pred so its scale bone has the GT length, then move its
    root onto the GT root. A zero-length predicted bone leaves the scale unchanged."""
    a, b = scale_bone
    for i, nm in ((a, "scale_bone[0]"), (b, "scale_bone[1]")):
        _check_index(i, pred.shape[-2], nm)
    len_p = (pred[..., b, :] - pred[..., a, :]).norm(dim=-1)  # (...,)
    len_g = (gt[..., b, :] - gt[..., a, :]).norm(dim=-1)  # (...,)
    safe = torch.where(len_p > 0, len_p, torch.ones_like(len_p))
    factor = torch.where(len_p > 0, len_g / safe, torch.ones_like(len_p))  # (...,)
    return _root_align(pred * factor[..., None, None], gt, root_index)


def _check_index(i: int, n: int, name: str) -> None:
    if not -n <= i < n:
        raise ValueError(f"{name}={i} is out of range for {n} points; use 0..{n - 1}.")


def _align(
    pred: torch.Tensor,
    gt: torch.Tensor,
    align: str,
    root_index: int,
    allow_reflection: bool,
    scale_bone: tuple[int, int],
) -> torch.Tensor:
    """Dispatch on the alignment mode. (..., P, 3) -> (..., P, 3)."""
    if align == "none":
        return pred
    if align == "root":
        return _root_align(pred, gt, root_index)
    if align == "procrustes":
        return _umeyama_align(pred, gt, allow_reflection, scale=True)
    if align == "scale_translation":
        return _scale_translation_align(pred, gt, root_index, scale_bone)
    raise ValueError(f"align={align!r} is not a known alignment; use one of {_ALIGN_MODES}.")


def procrustes_align(
    pred: ArrayLike, gt: ArrayLike, allow_reflection: bool = False, scale: bool = True
) -> ArrayLike:
    """Align ``pred`` onto ``gt`` with the least-squares similarity transform (Umeyama).

    Finds s, R, t minimising ``sum_i |s R pred_i + t - gt_i|^2`` independently for every sample.

    Args:
        pred, gt: (..., P, 3) points in metres (NumPy or torch; same shape).
        allow_reflection: False (default) forces det R = +1, as HandOccNet's own evaluation does.
            True allows det R = -1, matching HO-3D's official ``eval.py`` (scipy
            ``orthogonal_procrustes``) and Dex-YCB's official toolkit.
        scale: False fits rotation and translation only (s = 1).

    Returns:
        (..., P, 3) aligned prediction in metres, same type as the input. A prediction whose
        points all coincide gets s = 0 (it collapses onto the GT centroid).
    """
    p, g, as_numpy = _prepare_pair(pred, gt)
    return _finish(_umeyama_align(p, g, allow_reflection, scale), as_numpy)


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------
def _point_errors_mm(
    pred: torch.Tensor,
    gt: torch.Tensor,
    align: str,
    root_index: int,
    allow_reflection: bool,
    scale_bone: tuple[int, int],
) -> torch.Tensor:
    """Per-point Euclidean error in mm after alignment. (..., P, 3) -> (..., P)."""
    aligned = _align(pred, gt, align, root_index, allow_reflection, scale_bone)
    return (aligned - gt).norm(dim=-1) * M_TO_MM


def point_errors(
    pred: ArrayLike,
    gt: ArrayLike,
    align: Align = "none",
    root_index: int = 0,
    allow_reflection: bool = False,
    scale_bone: tuple[int, int] = CANONICAL_SCALE_BONE,
) -> ArrayLike:
    """Per-point errors in **mm** after the chosen alignment: (..., P, 3) metres -> (..., P) mm."""
    p, g, as_numpy = _prepare_pair(pred, gt)
    err = _point_errors_mm(p, g, align, root_index, allow_reflection, scale_bone)
    return _finish(err, as_numpy)


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
    p, g, as_numpy = _prepare_pair(pred, gt)
    err = _point_errors_mm(p, g, align, root_index, allow_reflection, scale_bone)  # (..., J)
    return _finish(_reduce(err.mean(dim=-1), reduce), as_numpy)


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
    p, g, as_numpy = _prepare_pair(pred, gt)
    if align == "root":
        p = _shift_by_roots(p, pred_root, gt_root)
    elif align in ("none", "procrustes"):
        p = _align(p, g, align, 0, allow_reflection, CANONICAL_SCALE_BONE)
    else:
        raise ValueError(
            f"align={align!r} is not available for vertices; use 'none', 'root' (with pred_root "
            "and gt_root joints) or 'procrustes'."
        )
    err = (p - g).norm(dim=-1) * M_TO_MM  # (..., V)
    return _finish(_reduce(err.mean(dim=-1), reduce), as_numpy)


def _shift_by_roots(
    verts: torch.Tensor, pred_root: ArrayLike | None, gt_root: ArrayLike | None
) -> torch.Tensor:
    """verts + (gt_root - pred_root). verts (..., V, 3); roots (..., 3) -> (..., V, 3)."""
    if pred_root is None or gt_root is None:
        raise ValueError(
            "align='root' for vertices needs pred_root and gt_root (the root joints, (..., 3) in "
            "metres), e.g. pred_root=pred_joints[..., 0, :]."
        )
    (pr, gr), _ = _as_tensors([pred_root, gt_root], ["pred_root", "gt_root"])
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
    (p, g), as_numpy = _as_tensors([pred_pts, gt_pts], ["pred_pts", "gt_pts"])
    _check_points(p, "pred_pts")
    _check_points(g, "gt_pts")
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
    return _finish(f, as_numpy), _finish(precision, as_numpy), _finish(recall, as_numpy)


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
def _thresholds_mm(max_mm: float, steps: int, like: torch.Tensor) -> torch.Tensor:
    """(T,) evenly spaced thresholds from 0 to max_mm inclusive."""
    if steps < 2 or not max_mm > 0:
        raise ValueError(f"need steps >= 2 and max_mm > 0, got steps={steps}, max_mm={max_mm}.")
    return torch.linspace(0.0, float(max_mm), steps, dtype=like.dtype, device=like.device)


def pck_curve(
    pred: ArrayLike,
    gt: ArrayLike,
    max_mm: float = 50.0,
    steps: int = 100,
    align: Align = "none",
    allow_reflection: bool = False,
    root_index: int = 0,
    per_keypoint: bool = False,
) -> tuple[ArrayLike, ArrayLike]:
    """3D PCK curve: share of samples whose point error (mm) is <= each threshold.

    Args:
        pred, gt: (..., P, 3) metres; all leading dims are pooled as samples.
        max_mm, steps: thresholds ``linspace(0, max_mm, steps)`` in mm (HO-3D / Dex-YCB: 0-50 mm,
            100 steps).
        align: alignment before measuring (see :func:`mpjpe`).
        per_keypoint: True -> (P, T) curve per keypoint; False -> (T,) averaged over keypoints.

    Returns:
        (thresholds_mm (T,), pck (T,) or (P, T)), same type as the input.
    """
    p, g, as_numpy = _prepare_pair(pred, gt)
    err = _point_errors_mm(p, g, align, root_index, allow_reflection, CANONICAL_SCALE_BONE)
    thr = _thresholds_mm(max_mm, steps, err)  # (T,)
    err = err.reshape(-1, err.shape[-1])  # (S, P)
    pck = (err.unsqueeze(-1) <= thr).to(err.dtype).mean(dim=0)  # (P, T)
    if not per_keypoint:
        pck = pck.mean(dim=0)  # (T,)
    return _finish(thr, as_numpy), _finish(pck, as_numpy)


def _auc_per_sample(err_mm: torch.Tensor, max_mm: float, steps: int) -> torch.Tensor:
    """Per-sample AUC contribution: (..., P) mm -> (...,) in [0, 1].

    Trapezoid rule over the thresholds, normalised by max_mm, per keypoint, then averaged. The
    mean of these values over samples equals the pooled AUC exactly (PCK and the trapezoid rule
    are linear in the samples).
    """
    thr = _thresholds_mm(max_mm, steps, err_mm)  # (T,)
    hit = (err_mm.unsqueeze(-1) <= thr).to(err_mm.dtype)  # (..., P, T)
    area = torch.trapezoid(hit, thr, dim=-1) / float(max_mm)  # (..., P)
    return area.mean(dim=-1)  # (...,)


def auc_pck(
    pred: ArrayLike,
    gt: ArrayLike,
    max_mm: float = 50.0,
    steps: int = 100,
    align: Align = "none",
    allow_reflection: bool = False,
    root_index: int = 0,
    reduce: bool = True,
) -> ArrayLike:
    """Area under the 3D PCK curve over 0-``max_mm`` mm, normalised to [0, 1].

    HO-3D / Dex-YCB protocol: 100 thresholds over 0-50 mm, trapezoid rule, per keypoint, then
    averaged over keypoints. (HO-3D's ``eval.py`` calls ``np.trapz``, which NumPy 2.4 removed;
    the replacement is ``np.trapezoid``; here ``torch.trapezoid`` computes the same thing.)

    Args:
        pred, gt: (..., P, 3) metres.
        align: alignment before measuring; HO-3D's AUC_J / AUC_V tables use "procrustes".
        reduce: True -> AUC over all samples (scalar); False -> per-sample contributions (...,)
            whose mean is that AUC.
    """
    p, g, as_numpy = _prepare_pair(pred, gt)
    err = _point_errors_mm(p, g, align, root_index, allow_reflection, CANONICAL_SCALE_BONE)
    return _finish(_reduce(_auc_per_sample(err, max_mm, steps), reduce), as_numpy)


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
    return {k: _finish(v.detach(), as_numpy) for k, v in rec.items()}


def _joint_records(
    pred: ArrayLike, gt: ArrayLike, root_index: int, allow_reflection: bool
) -> tuple[dict[str, torch.Tensor], bool]:
    """Joint metrics per sample, each (...,)."""
    p, g, as_numpy = _prepare_pair(pred, gt)
    _check_index(root_index, p.shape[-2], "root_index")
    err_pa = _point_errors_mm(
        p, g, "procrustes", root_index, allow_reflection, CANONICAL_SCALE_BONE
    )
    rec = {
        "mpjpe": ((p - g).norm(dim=-1) * M_TO_MM).mean(dim=-1),
        "root_mpjpe": (((_root_align(p, g, root_index) - g).norm(dim=-1)) * M_TO_MM).mean(dim=-1),
        "pa_mpjpe": err_pa.mean(dim=-1),
        "auc_j": _auc_per_sample(err_pa, 50.0, 100),
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
    (pv, gv, pj, gj), _ = _as_tensors(
        [pred_v, gt_v, pred_j, gt_j], ["pred_verts", "gt_verts", "pred_joints", "gt_joints"]
    )
    for x, nm in ((pv, "pred_verts"), (gv, "gt_verts")):
        _check_points(x, nm)
    _check_same_shape(pv, gv, "pred_verts and gt_verts")
    if pv.shape[:-2] != pj.shape[:-2]:
        raise ValueError(
            f"vertices {tuple(pv.shape)} and joints {tuple(pj.shape)} must share batch dims."
        )
    shift = (gj[..., root_index, :] - pj[..., root_index, :]).unsqueeze(-2)  # (..., 1, 3)
    aligned = _umeyama_align(pv, gv, allow_reflection, scale=True)  # (..., V, 3)
    err_pa = (aligned - gv).norm(dim=-1) * M_TO_MM  # (..., V)
    rec = {
        "mpvpe": ((pv - gv).norm(dim=-1) * M_TO_MM).mean(dim=-1),
        "root_mpvpe": ((pv + shift - gv).norm(dim=-1) * M_TO_MM).mean(dim=-1),
        "pa_mpvpe": err_pa.mean(dim=-1),
        "auc_v": _auc_per_sample(err_pa, 50.0, 100),
    }
    for th in f_thresholds_m:
        rec[f"f{th * M_TO_MM:g}"] = f_score_prf(aligned, gv, th)[0]
    return rec
