"""3D PCK curves and their area (AUC), the HO-3D / Dex-YCB protocol: 100 thresholds over
0-50 mm, trapezoid rule, per keypoint, then averaged. Points in metres, thresholds in mm."""

from __future__ import annotations

import torch

from handoccnet_lite.alignment import (
    CANONICAL_SCALE_BONE,
    Align,
    ArrayLike,
    as_input_type,
    point_errors_mm,
    prepare_pair,
    reduce_samples,
)


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
    p, g, as_numpy = prepare_pair(pred, gt)
    err = point_errors_mm(p, g, align, root_index, allow_reflection, CANONICAL_SCALE_BONE)
    thr = _thresholds_mm(max_mm, steps, err)  # (T,)
    err = err.reshape(-1, err.shape[-1])  # (S, P)
    pck = (err.unsqueeze(-1) <= thr).to(err.dtype).mean(dim=0)  # (P, T)
    if not per_keypoint:
        pck = pck.mean(dim=0)  # (T,)
    return as_input_type(thr, as_numpy), as_input_type(pck, as_numpy)


def auc_per_sample(err_mm: torch.Tensor, max_mm: float, steps: int) -> torch.Tensor:
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
    p, g, as_numpy = prepare_pair(pred, gt)
    err = point_errors_mm(p, g, align, root_index, allow_reflection, CANONICAL_SCALE_BONE)
    return as_input_type(reduce_samples(auc_per_sample(err, max_mm, steps), reduce), as_numpy)
