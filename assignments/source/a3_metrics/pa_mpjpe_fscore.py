# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: nbgrader,tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown] nbgrader={"grade": false, "grade_id": "intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# # Assignment 3 · Evaluation metrics: PA-MPJPE and the F-score
#
# **Goal.** Implement the two numbers HandOccNet's tables report on HO-3D: the Procrustes-aligned
# mean per-joint position error (PA-MPJPE) and the F-score of a predicted point set.
#
# After this assignment you will be able to
# - align a predicted hand onto the ground truth with the least-squares similarity transform
#   (scale, rotation, translation; Umeyama 1991) and avoid the reflection trap;
# - say what PA-MPJPE forgives (global scale, rotation, position) and what it measures;
# - compute precision, recall and the F-score of two point sets at a distance threshold.
#
# | Task | Function | Points |
# |---|---|---|
# | 1 | `procrustes_align(pred, gt)` | 4 |
# | 2 | `pa_mpjpe(pred, gt)` | 2 |
# | 3 | `f_score(pred_pts, gt_pts, threshold_m)` | 3 |
# | | **total** | **9** |
#
# **Instructions.**
# - Write your code where it says `# YOUR CODE HERE` and delete the `raise NotImplementedError()`
#   line. Do not rename the functions or change their arguments.
# - Each task is followed by a test cell. The tests you see check shapes and small cases worked by
#   hand; the grader adds hidden tests that compare your function with the package's reference
#   implementation on random inputs (the tolerance is printed when one fails). A task scores its
#   points only when all its tests pass. Task 2 calls your task 1.
# - Test cells are locked: the grader restores them, so editing them changes nothing.
# - Write the computation yourself with torch (`torch.linalg.svd`, `torch.cdist` are fine): a
#   function that calls `handoccnet_lite` scores 0.
# - Before you submit: *Kernel → Restart Kernel and Run All Cells*, and check that no cell fails.
#
# Conventions (the package's): points are torch tensors (..., P, 3) in **metres**; errors come out
# in **millimetres**; any leading dims are samples. Everything runs on a CPU in seconds.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import math

import torch

from handoccnet_lite.assignments.guard import ReferenceGuard

torch.manual_seed(0)
torch.set_num_threads(1)  # tiny tensors: one thread is enough
torch.set_default_dtype(torch.float64)  # SVD-based alignment: float64 keeps the tests exact

_guard = ReferenceGuard().install()  # notes which functions run handoccnet_lite's code


def check_own_code(fn):
    """The grader compares your function with handoccnet_lite's: it must not call it, under any
    name or import (checked as the tests run), nor mention it."""
    _guard.check(fn)


def assert_close(actual, expected, atol, what):
    """torch.testing.assert_close with rtol=0, naming the quantity and the tolerance."""
    torch.testing.assert_close(
        actual,
        expected,
        rtol=0.0,
        atol=atol,
        msg=lambda m: f"{what} (tolerance: atol={atol:g}, rtol=0)\n{m}",
    )


def rotation_z(angle):
    """(3, 3) rotation by `angle` radians about the z axis."""
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


# %% [markdown]
# ## 1 · Similarity Procrustes alignment (4 points)
#
# Find the scale s, rotation R and translation t minimising Σ_i ‖s R p_i + t − g_i‖² and return
# the aligned prediction s R p_i + t. With centred points x_i = p_i − p̄, y_i = g_i − ḡ, the
# covariance Σ = (1/P) Σ_i y_i x_iᵀ = U diag(d) Vᵀ (SVD) gives
#
# - R = U S Vᵀ with S = diag(1, 1, det(U)·det(V)): the sign flip keeps det R = +1, a proper
#   rotation; without it an (almost) mirrored prediction would be "aligned" by a reflection;
# - s = tr(diag(d) S) / σ²_x with σ²_x = (1/P) Σ_i ‖x_i‖²;
# - t = ḡ − s R p̄.
#
# Write `procrustes_align(pred, gt)`: (..., P, 3) → (..., P, 3), one alignment per sample.

# %% nbgrader={"grade": false, "grade_id": "procrustes_align", "locked": false, "schema_version": 3, "solution": true, "task": false}
def procrustes_align(pred, gt):
    """s R pred + t, the least-squares similarity alignment onto gt. (..., P, 3) -> (..., P, 3)."""
    ### BEGIN SOLUTION
    mu_p, mu_g = pred.mean(-2, keepdim=True), gt.mean(-2, keepdim=True)  # (..., 1, 3)
    x, y = pred - mu_p, gt - mu_g  # (..., P, 3)
    cov = y.transpose(-1, -2) @ x / pred.shape[-2]  # (..., 3, 3)
    u, d, vh = torch.linalg.svd(cov)  # (..., 3, 3), (..., 3), (..., 3, 3)
    sign = torch.ones_like(d)  # (..., 3)
    sign[..., 2] = torch.sign(torch.linalg.det(u) * torch.linalg.det(vh))
    rot = (u * sign.unsqueeze(-2)) @ vh  # (..., 3, 3): U S V^T
    scale = (d * sign).sum(-1) / (x**2).sum((-2, -1)) * pred.shape[-2]  # (...,)
    return scale[..., None, None] * x @ rot.transpose(-1, -2) + mu_g
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_procrustes_align", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
gt = torch.randn(2, 21, 3) * 0.05  # two hands, 21 joints, a few cm across
pred = torch.randn(2, 21, 3) * 0.05
aligned = procrustes_align(pred, gt)
assert aligned.shape == (2, 21, 3), f"expected (2, 21, 3), got {tuple(aligned.shape)}"
assert_close(procrustes_align(gt, gt), gt, 1e-12, "aligning gt onto itself changes nothing")
copy = 1.7 * gt @ rotation_z(0.8).T + torch.tensor([0.1, -0.2, 0.5])  # scaled, rotated, moved
assert_close(procrustes_align(copy, gt), gt, 1e-9, "a similar copy of gt must align exactly")
### BEGIN HIDDEN TESTS
import handoccnet_lite.metrics as reference

_gen = torch.Generator().manual_seed(301)
_pred = torch.randn(4, 2, 21, 3, generator=_gen) * 0.05
_gt = torch.randn(4, 2, 21, 3, generator=_gen) * 0.05
_mirror = _gt * torch.tensor([-1.0, 1.0, 1.0])  # best orthogonal fit is a reflection
for _p, _g, _what in [(_pred, _gt, "random pairs"), (_mirror, _gt, "mirrored predictions")]:
    assert_close(
        procrustes_align(_p, _g),
        reference.procrustes_align(_p, _g),
        1e-9,
        f"procrustes_align differs from handoccnet_lite.metrics.procrustes_align ({_what})",
    )
### END HIDDEN TESTS
check_own_code(procrustes_align)

# %% [markdown]
# ## 2 · PA-MPJPE (2 points)
#
# PA-MPJPE = mean over the J joints of ‖aligned_j − gt_j‖ after the Procrustes alignment of the
# whole hand, in millimetres. Return one value per sample: (..., J, 3) metres → (...,) mm.

# %% nbgrader={"grade": false, "grade_id": "pa_mpjpe", "locked": false, "schema_version": 3, "solution": true, "task": false}
def pa_mpjpe(pred, gt):
    """Procrustes-aligned MPJPE in mm, per sample. pred, gt (..., J, 3) metres -> (...,) mm."""
    ### BEGIN SOLUTION
    return (procrustes_align(pred, gt) - gt).norm(dim=-1).mean(-1) * 1000.0
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_pa_mpjpe", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
gt = torch.randn(3, 21, 3) * 0.05
pred = gt + torch.randn(3, 21, 3) * 0.01
err = pa_mpjpe(pred, gt)
assert err.shape == (3,), f"expected one value per sample (3,), got {tuple(err.shape)}"
assert bool((err > 0).all()), "noisy predictions must have a positive error"
copy = 0.6 * gt @ rotation_z(-2.0).T + 0.3  # a similar copy: PA-MPJPE forgives all of it
assert_close(pa_mpjpe(copy, gt), torch.zeros(3), 1e-9, "PA-MPJPE of a scaled, rotated, moved copy")
by_hand = (procrustes_align(pred, gt) - gt).norm(dim=-1).mean(-1) * 1000.0
assert_close(err, by_hand, 1e-9, "PA-MPJPE must be the mean joint distance in mm")
### BEGIN HIDDEN TESTS
import handoccnet_lite.metrics as reference

_gen = torch.Generator().manual_seed(302)
_gt = torch.randn(5, 21, 3, generator=_gen) * 0.05
_pred = 1.3 * _gt + torch.randn(5, 21, 3, generator=_gen) * 0.01
assert_close(
    pa_mpjpe(_pred, _gt),
    reference.pa_mpjpe(_pred, _gt, reduce=False),
    1e-6,
    "pa_mpjpe (mm) differs from handoccnet_lite.metrics.pa_mpjpe(reduce=False)",
)
### END HIDDEN TESTS
check_own_code(pa_mpjpe)

# %% [markdown]
# ## 3 · The F-score at a distance threshold (3 points)
#
# For a threshold d (metres): precision = share of predicted points whose nearest ground-truth
# point is closer than d; recall = share of ground-truth points whose nearest predicted point is
# closer than d; F = 2 P R / (P + R), and F = 0 when P + R = 0. "Closer than" is strict (<), as
# in HO-3D's evaluation, which reports F@5 mm and F@15 mm on mesh vertices.
#
# Write `f_score(pred_pts, gt_pts, threshold_m)`: (..., N, 3) and (..., M, 3), N and M may
# differ → (...,) values in [0, 1].

# %% nbgrader={"grade": false, "grade_id": "f_score", "locked": false, "schema_version": 3, "solution": true, "task": false}
def f_score(pred_pts, gt_pts, threshold_m):
    """F-score at threshold_m metres. pred_pts (..., N, 3), gt_pts (..., M, 3) -> (...,)."""
    ### BEGIN SOLUTION
    dist = (pred_pts.unsqueeze(-2) - gt_pts.unsqueeze(-3)).norm(dim=-1)  # (..., N, M)
    precision = (dist.min(-1).values < threshold_m).to(dist.dtype).mean(-1)  # (...,)
    recall = (dist.min(-2).values < threshold_m).to(dist.dtype).mean(-1)  # (...,)
    total = precision + recall
    return torch.where(total > 0, 2 * precision * recall / total.clamp_min(1e-12), 0.0)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_f_score", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
pts = torch.randn(2, 30, 3) * 0.05
assert f_score(pts, pts, 0.005).shape == (2,), "expected one F-score per sample"
assert_close(f_score(pts, pts, 0.005), torch.ones(2), 1e-12, "identical point sets: F = 1")
assert_close(f_score(pts, pts + 1.0, 0.005), torch.zeros(2), 0.0, "point sets 1 m apart: F = 0")
pred = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
gt = torch.tensor([[0.0, 0.0, 0.0]])
# precision 1/2 (one of two predictions is near gt), recall 1: F = 2 * 0.5 / 1.5 = 2/3
assert_close(f_score(pred, gt, 0.5), torch.tensor(2 / 3), 1e-12, "the worked example")
edge = torch.tensor([[0.25, 0.0, 0.0]])  # exactly at the threshold: not closer than it
assert_close(f_score(edge, gt, 0.25), torch.tensor(0.0), 0.0, "distance == threshold (strict <)")
### BEGIN HIDDEN TESTS
import handoccnet_lite.metrics as reference

_gen = torch.Generator().manual_seed(303)
_gt = torch.rand(3, 40, 3, generator=_gen) * 0.05
_pred = _gt[:, :25] + torch.randn(3, 25, 3, generator=_gen) * 0.006
for _threshold in (0.005, 0.015):
    assert_close(
        f_score(_pred, _gt, _threshold),
        reference.f_score(_pred, _gt, _threshold),
        1e-12,
        f"f_score at {_threshold} m differs from handoccnet_lite.metrics.f_score",
    )
### END HIDDEN TESTS
check_own_code(f_score)

# %% [markdown]
# ## Summary
#
# - Procrustes alignment is one SVD of a 3×3 covariance; the determinant check keeps it a rotation.
# - PA-MPJPE forgives scale, rotation and position, so it measures the articulation only; the
#   paper's Table S1 reports MPJPE *before* alignment for that reason.
# - The F-score needs no correspondence between the point sets, only nearest neighbours.
#
# **To think about (not graded).** Drop the scale (s = 1) from your alignment: on which of the
# tests above would the error change, and why does a model that predicts too small a hand gain
# from PA-MPJPE's scale?
