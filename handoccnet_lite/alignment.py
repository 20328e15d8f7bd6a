"""Point-set alignment for the metrics (root, similarity Procrustes, HO-3D's scale-translation),
aligned per-point errors, and the NumPy/torch input handling that every metric shares.

Conventions as in `handoccnet_lite.metrics`: points ``(..., P, 3)`` in metres, errors in mm;
NumPy in -> NumPy out (float64 on the CPU), torch in -> torch out (same device).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor
Align = Literal["none", "root", "procrustes", "scale_translation"]

M_TO_MM = 1000.0
#: wrist -> middle1 bone in the canonical 21-joint order (HO-3D's ``align_sc_tr`` uses this bone;
#: in HO-3D's own joint order it is joints (0, 4)).
CANONICAL_SCALE_BONE: tuple[int, int] = (0, 9)
_ALIGN_MODES = ("none", "root", "procrustes", "scale_translation")


# --------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------
def _compute_dtype(tensors: Sequence[torch.Tensor]) -> torch.dtype:
    """float64 if any tensor is float64, else float32 (half precision is not enough for SVD)."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def as_tensors(arrays: Sequence[object], names: Sequence[str]) -> tuple[list[torch.Tensor], bool]:
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


def check_points(x: torch.Tensor, name: str) -> None:
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


def check_same_shape(pred: torch.Tensor, gt: torch.Tensor, what: str = "pred and gt") -> None:
    if pred.shape != gt.shape:
        raise ValueError(
            f"{what} must have the same shape (..., P, 3), got {tuple(pred.shape)} and "
            f"{tuple(gt.shape)}; check joint/vertex counts and batch sizes."
        )


def prepare_pair(pred: ArrayLike, gt: ArrayLike) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Convert, validate and return (pred, gt, output_as_numpy); both (..., P, 3)."""
    (p, g), as_numpy = as_tensors([pred, gt], ["pred", "gt"])
    check_points(p, "pred")
    check_points(g, "gt")
    check_same_shape(p, g)
    return p, g, as_numpy


def as_input_type(x: torch.Tensor, as_numpy: bool) -> ArrayLike:
    """Return x as NumPy (scalar np.float64 when 0-d) or as the tensor itself."""
    if not as_numpy:
        return x
    arr = x.detach().cpu().numpy()
    return arr[()] if arr.ndim == 0 else arr


def reduce_samples(per_sample: torch.Tensor, reduce: bool) -> torch.Tensor:
    return per_sample.mean() if reduce else per_sample


# --------------------------------------------------------------------------------------------
# alignment
# --------------------------------------------------------------------------------------------
def umeyama_align(
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


def root_align(pred: torch.Tensor, gt: torch.Tensor, root_index: int) -> torch.Tensor:
    """Translate pred so pred[root] == gt[root]. (..., P, 3) -> (..., P, 3)."""
    check_index(root_index, pred.shape[-2], "root_index")
    r = slice(root_index, root_index + 1)
    return pred - pred[..., r, :] + gt[..., r, :]


def _scale_translation_align(
    pred: torch.Tensor, gt: torch.Tensor, root_index: int, scale_bone: tuple[int, int]
) -> torch.Tensor:
    """HO-3D's ``align_sc_tr``: rescale pred so its scale bone has the GT length, then move its
    root onto the GT root. A zero-length predicted bone leaves the scale unchanged."""
    a, b = scale_bone
    for i, nm in ((a, "scale_bone[0]"), (b, "scale_bone[1]")):
        check_index(i, pred.shape[-2], nm)
    len_p = (pred[..., b, :] - pred[..., a, :]).norm(dim=-1)  # (...,)
    len_g = (gt[..., b, :] - gt[..., a, :]).norm(dim=-1)  # (...,)
    safe = torch.where(len_p > 0, len_p, torch.ones_like(len_p))
    factor = torch.where(len_p > 0, len_g / safe, torch.ones_like(len_p))  # (...,)
    return root_align(pred * factor[..., None, None], gt, root_index)


def check_index(i: int, n: int, name: str) -> None:
    if not -n <= i < n:
        raise ValueError(f"{name}={i} is out of range for {n} points; use 0..{n - 1}.")


def align_points(
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
        return root_align(pred, gt, root_index)
    if align == "procrustes":
        return umeyama_align(pred, gt, allow_reflection, scale=True)
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
    p, g, as_numpy = prepare_pair(pred, gt)
    return as_input_type(umeyama_align(p, g, allow_reflection, scale), as_numpy)


def point_errors_mm(
    pred: torch.Tensor,
    gt: torch.Tensor,
    align: str,
    root_index: int,
    allow_reflection: bool,
    scale_bone: tuple[int, int],
) -> torch.Tensor:
    """Per-point Euclidean error in mm after alignment. (..., P, 3) -> (..., P)."""
    aligned = align_points(pred, gt, align, root_index, allow_reflection, scale_bone)
    return (aligned - gt).norm(dim=-1) * M_TO_MM
