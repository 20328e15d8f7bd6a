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
# # Assignment 4 · The regressor's two differentiable readouts: 6D rotations and soft-argmax
#
# **Goal.** Implement the two steps of HandOccNet's regressor that turn network outputs into
# geometry: the 6D rotation representation → rotation matrix (Gram-Schmidt), used for the 16 MANO
# joint rotations, and the spatial soft-argmax, which reads 2D joints out of heatmaps.
#
# After this assignment you will be able to
# - build a proper rotation matrix from any 6 numbers, and say why networks regress 6D rather
#   than 3 (axis-angle) or 4 (quaternion) numbers;
# - place pixel centres in normalised coordinates and take the expectation of a spatial softmax;
# - say what the per-joint temperature β changes.
#
# | Task | Function | Points |
# |---|---|---|
# | 1 | `rot6d_to_matrix(x)` | 3 |
# | 2 | `pixel_centres(grid)` | 1 |
# | 3 | `soft_argmax(logits, beta)` | 3 |
# | | **total** | **7** |
#
# **Instructions.**
# - Write your code where it says `# YOUR CODE HERE` and delete the `raise NotImplementedError()`
#   line. Do not rename the functions or change their arguments.
# - Each task is followed by a test cell. The tests you see check shapes and small cases worked by
#   hand; the grader adds hidden tests that compare your function with the package's reference
#   implementation on random inputs (the tolerance is printed when one fails). A task scores its
#   points only when all its tests pass. Task 3 calls your task 2.
# - Test cells are locked: the grader restores them, so editing them changes nothing.
# - Write the computation yourself with torch: a function that calls `handoccnet_lite` scores 0.
# - Before you submit: *Kernel → Restart Kernel and Run All Cells*, and check that no cell fails.
#
# Sources: Y. Zhou et al., *On the Continuity of Rotation Representations in Neural Networks*,
# CVPR 2019 (6D); the heatmap readout follows the authors' HandOccNet release (summarised in
# `handoccnet_lite/model/regressor.py`). Everything runs on a CPU in seconds.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}

import torch

from handoccnet_lite.assignments.guard import ReferenceGuard

torch.manual_seed(0)
torch.set_num_threads(1)  # tiny tensors: one thread is enough

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


# %% [markdown]
# ## 1 · 6D → rotation matrix by Gram-Schmidt (3 points)
#
# The 6 numbers are two 3-vectors a₁ = x[..., :3] and a₂ = x[..., 3:]. Gram-Schmidt makes them
# the first two **columns** of the matrix, and the cross product completes a right-handed frame:
#
# b₁ = a₁ / ‖a₁‖;   b₂ = normalise(a₂ − (b₁·a₂) b₁);   b₃ = b₁ × b₂;   R = [b₁ b₂ b₃] (columns)
#
# Write `rot6d_to_matrix(x)`: (..., 6) → (..., 3, 3), any leading dims.

# %% nbgrader={"grade": false, "grade_id": "rot6d_to_matrix", "locked": false, "schema_version": 3, "solution": true, "task": false}
def rot6d_to_matrix(x):
    """(..., 6) -> (..., 3, 3) rotation matrices with columns b1, b2, b1 x b2."""
    ### BEGIN SOLUTION
    a1, a2 = x[..., :3], x[..., 3:]  # (..., 3) each
    b1 = a1 / a1.norm(dim=-1, keepdim=True)
    b2 = a2 - (b1 * a2).sum(-1, keepdim=True) * b1  # remove the b1 component
    b2 = b2 / b2.norm(dim=-1, keepdim=True)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1)  # (..., 3, 3), b_i as columns
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_rot6d_to_matrix", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
rot = rot6d_to_matrix(torch.randn(4, 16, 6))
assert rot.shape == (4, 16, 3, 3), f"expected (4, 16, 3, 3), got {tuple(rot.shape)}"
eye = torch.eye(3).expand(4, 16, 3, 3)
assert_close(rot.transpose(-1, -2) @ rot, eye, 1e-5, "R^T R must be the identity")
assert_close(torch.linalg.det(rot), torch.ones(4, 16), 1e-5, "det R must be +1")
x = torch.tensor([2.0, 0.0, 0.0, 1.0, 3.0, 0.0])  # a1 along x, a2 in the x-y plane
assert_close(rot6d_to_matrix(x), torch.eye(3), 1e-6, "a1 = (2, 0, 0), a2 = (1, 3, 0): R = I")
x = torch.tensor([0.0, 1.0, 0.0, -1.0, 0.0, 0.0])  # b1 = y, b2 = -x, b3 = y x (-x) = z
by_hand = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
assert_close(rot6d_to_matrix(x), by_hand, 1e-6, "b1, b2 must be the columns (not the rows)")
### BEGIN HIDDEN TESTS
import handoccnet_lite.model.rotations as reference

_gen = torch.Generator().manual_seed(401)
_x = torch.randn(3, 5, 6, generator=_gen, dtype=torch.float64) * 3
assert_close(
    rot6d_to_matrix(_x),
    reference.rot6d_to_matrix(_x),
    1e-10,
    "rot6d_to_matrix differs from handoccnet_lite.model.rotations.rot6d_to_matrix",
)
### END HIDDEN TESTS
check_own_code(rot6d_to_matrix)

# %% [markdown]
# ## 2 · Pixel centres in normalised coordinates (1 point)
#
# A G × G heatmap covers the crop [0, 1]²; pixel (row v, column u) has its centre at
# ((u + 0.5) / G, (v + 0.5) / G), **x first**. List them in row-major order (pixel v·G + u), the
# order of `logits.flatten(-2)`.
#
# Write `pixel_centres(grid)`: int G → (G·G, 2) float32.

# %% nbgrader={"grade": false, "grade_id": "pixel_centres", "locked": false, "schema_version": 3, "solution": true, "task": false}
def pixel_centres(grid):
    """(G*G, 2) normalised (x, y) pixel centres in row-major order."""
    ### BEGIN SOLUTION
    c = (torch.arange(grid, dtype=torch.float32) + 0.5) / grid  # (G,)
    y, x = torch.meshgrid(c, c, indexing="ij")  # (G, G) each: y varies along rows
    return torch.stack((x.flatten(), y.flatten()), dim=-1)  # (G*G, 2)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_pixel_centres", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
by_hand = torch.tensor([[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]])
assert_close(pixel_centres(2), by_hand, 1e-7, "G = 2: (x, y) centres, row-major")
assert pixel_centres(5).shape == (25, 2), f"expected (25, 2), got {tuple(pixel_centres(5).shape)}"
### BEGIN HIDDEN TESTS
import handoccnet_lite.model.regressor as reference

for _grid in (1, 3, 8):
    assert_close(
        pixel_centres(_grid),
        reference.pixel_centres(_grid),
        1e-7,
        f"pixel_centres({_grid}) differs from handoccnet_lite.model.regressor.pixel_centres",
    )
### END HIDDEN TESTS
check_own_code(pixel_centres)

# %% [markdown]
# ## 3 · Spatial soft-argmax with a per-joint temperature (3 points)
#
# Each of the J heatmap logits maps (G × G) is multiplied by its joint's temperature β_j,
# flattened, and turned into a probability map by a softmax over the G·G pixels; the 2D joint is
# the expected pixel centre under that map. Unlike an argmax this is differentiable, and its
# result can fall between pixels. A larger β sharpens the map towards its argmax.
#
# Write `soft_argmax(logits, beta)`: logits (B, J, G, G), beta (J, 1) → `(heatmaps, joints)`:
# heatmaps (B, J, G, G), each summing to 1; joints (B, J, 2) in [0, 1], (x, y).

# %% nbgrader={"grade": false, "grade_id": "soft_argmax", "locked": false, "schema_version": 3, "solution": true, "task": false}
def soft_argmax(logits, beta):
    """logits (B, J, G, G), beta (J, 1) -> heatmaps (B, J, G, G), joints (B, J, 2) in [0, 1]."""
    ### BEGIN SOLUTION
    prob = (logits.flatten(2) * beta).softmax(dim=-1)  # (B, J, G*G)
    joints = prob @ pixel_centres(logits.shape[-1]).to(prob)  # (B, J, 2)
    return prob.view_as(logits), joints
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_soft_argmax", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
heatmaps, joints = soft_argmax(torch.randn(2, 21, 4, 4), torch.ones(21, 1))
assert heatmaps.shape == (2, 21, 4, 4), f"heatmaps: expected (2, 21, 4, 4), got {heatmaps.shape}"
assert joints.shape == (2, 21, 2), f"joints: expected (2, 21, 2), got {tuple(joints.shape)}"
assert_close(heatmaps.sum((-2, -1)), torch.ones(2, 21), 1e-6, "each heatmap must sum to 1")
_, centre = soft_argmax(torch.zeros(1, 1, 4, 4), torch.ones(1, 1))
assert_close(centre, torch.tensor([[[0.5, 0.5]]]), 1e-6, "uniform logits: the crop centre")
peak = torch.zeros(1, 1, 4, 4)
peak[0, 0, 1, 3] = 50.0  # row 1, column 3: centre x = 3.5 / 4, y = 1.5 / 4
_, at_peak = soft_argmax(peak, torch.ones(1, 1))
assert_close(at_peak, torch.tensor([[[0.875, 0.375]]]), 1e-5, "one sharp peak: its pixel centre")
_, cooled = soft_argmax(peak, torch.full((1, 1), 0.0))
assert_close(cooled, torch.tensor([[[0.5, 0.5]]]), 1e-6, "beta = 0 flattens every map")
### BEGIN HIDDEN TESTS
from handoccnet_lite.model.regressor import HeatmapHead

_gen = torch.Generator().manual_seed(403)
for _grid in (4, 8):
    _head = HeatmapHead(in_channels=4, channels=4, depth=1, grid=_grid)
    with torch.no_grad():
        _head.betas.copy_(torch.rand(21, 1, generator=_gen) * 3)
        _logits = torch.randn(2, 21, _grid, _grid, generator=_gen) * 2
        _ref_maps, _ref_joints = _head.soft_argmax(_logits)
        _maps, _joints = soft_argmax(_logits, _head.betas.clone())
    _what = "differs from handoccnet_lite.model.regressor.HeatmapHead.soft_argmax"
    assert_close(_maps, _ref_maps, 1e-6, f"heatmaps (G = {_grid}) {_what}")
    assert_close(_joints, _ref_joints, 1e-6, f"joints (G = {_grid}) {_what}")
### END HIDDEN TESTS
check_own_code(soft_argmax)

# %% [markdown]
# ## Summary
#
# - 6D → matrix is Gram-Schmidt on two columns plus a cross product: every input gives a proper
#   rotation, and the map is continuous, which is why networks regress it.
# - Soft-argmax is the expectation of pixel centres under a spatial softmax; β sets its sharpness.
#
# **To think about (not graded).** Which 6D inputs make `rot6d_to_matrix` undefined, and how
# likely is a network to produce one? What happens to the soft-argmax of a joint whose heatmap
# has two equal peaks (e.g. an occluded fingertip with two plausible positions)?
