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
# # Assignment 2 · SET, the Self-Enhancing Transformer
#
# **Goal.** Implement HandOccNet's SET from the supplementary material's Algorithm 2: the token
# reshapes η and ψ, softmax self-attention with its residual, and a whole SET block built from a
# package module's weights, matching the package's output.
#
# After this assignment you will be able to
# - move between a (B, C, H, W) feature map and (B, N, C) tokens without mixing up the order;
# - write R_SET = C' v' + q' and say which residual SET uses (the *projected* query q');
# - rebuild F_SET = ψ(R_SET) + ψ(MLP(LN(R_SET))) from the 1x1 projections.
#
# | Task | Function | Points |
# |---|---|---|
# | 1 | `eta(x)`, `psi(t, height, width)` | 2 |
# | 2 | `self_attention_residual(q, k, v)` | 3 |
# | 3 | `set_forward(set_module, x)` | 3 |
# | | **total** | **8** |
#
# **Instructions.**
# - Write your code where it says `# YOUR CODE HERE` and delete the `raise NotImplementedError()`
#   line. Do not rename the functions or change their arguments.
# - Each task is followed by a test cell. The tests you see check shapes and small cases worked by
#   hand; the grader adds hidden tests that compare your function with the package's reference
#   implementation on random inputs (the tolerance is printed when one fails). A task scores its
#   points only when all its tests pass. Later tasks call your earlier functions.
# - Test cells are locked: the grader restores them, so editing them changes nothing.
# - Write the computation yourself with torch: a function that calls `handoccnet_lite` scores 0.
# - Before you submit: *Kernel → Restart Kernel and Run All Cells*, and check that no cell fails.
#
# Everything runs on a CPU in seconds (tiny sizes). Source: J. Park et al., *HandOccNet:
# Occlusion-Robust 3D Hand Mesh Estimation Network*, CVPR 2022, supplementary material, S1.2.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import math

import torch

from handoccnet_lite.assignments.guard import ReferenceGuard
from handoccnet_lite.config import TransformerConfig
from handoccnet_lite.model.set import SET

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


def randomise_(module, std=0.5, seed=0):
    """Overwrite every parameter with N(0, std^2) noise. The release's init (std 1e-3) makes every
    attention map nearly uniform: too weak for a test."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * std)
    return module


# %% [markdown]
# ## 1 · Tokens and back: η and ψ (2 points)
#
# > *Paper (Algorithm 2, lines 6-7):* η : ℝ^{256×32×32} → ℝ^{1024×256};
# > ψ : ℝ^{1024×256} → ℝ^{256×32×32}
#
# η turns a feature map into a sequence of N = H·W tokens of C channels, in row-major order:
# token n = h·W + w is the channel vector at row h, column w. ψ is its inverse. With a batch:
# η: (B, C, H, W) → (B, N, C) and ψ: (B, N, C) → (B, C, H, W). H and W need not be equal.

# %% nbgrader={"grade": false, "grade_id": "eta_psi", "locked": false, "schema_version": 3, "solution": true, "task": false}
def eta(x):
    """(B, C, H, W) -> (B, N, C) tokens, N = H * W, token h * W + w = x[:, :, h, w]."""
    ### BEGIN SOLUTION
    return x.flatten(2).transpose(1, 2)  # (B, C, N) -> (B, N, C)
    ### END SOLUTION


def psi(t, height, width):
    """(B, N, C) tokens -> (B, C, H, W), the inverse of eta."""
    ### BEGIN SOLUTION
    return t.transpose(1, 2).unflatten(2, (height, width))  # (B, C, N) -> (B, C, H, W)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_eta_psi", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
x = torch.randn(2, 3, 4, 5)
t = eta(x)
assert t.shape == (2, 20, 3), f"eta: expected (B, N, C) = (2, 20, 3), got {tuple(t.shape)}"
assert_close(t[:, 1 * 5 + 2], x[:, :, 1, 2], 0.0, "token h * W + w must be x[:, :, h, w]")
back = psi(t, 4, 5)
assert back.shape == (2, 3, 4, 5), f"psi: expected (2, 3, 4, 5), got {tuple(back.shape)}"
assert_close(back, x, 0.0, "psi(eta(x), H, W) must give x back")
### BEGIN HIDDEN TESTS
import handoccnet_lite.model.attention as reference

_gen = torch.Generator().manual_seed(201)
for _shape in [(1, 4, 3, 7), (3, 2, 6, 6)]:
    _x = torch.randn(_shape, generator=_gen)
    assert_close(eta(_x), reference.tokens(_x), 0.0, "eta differs from attention.tokens")
    _t = torch.randn(_shape[0], _shape[2] * _shape[3], _shape[1], generator=_gen)
    assert_close(
        psi(_t, _shape[2], _shape[3]),
        reference.grid(_t, _shape[2], _shape[3]),
        0.0,
        "psi differs from attention.grid",
    )
### END HIDDEN TESTS
check_own_code(eta)
check_own_code(psi)

# %% [markdown]
# ## 2 · Self-attention with SET's residual (3 points)
#
# > *Paper (Algorithm 2, lines 20 and 22):* C' = softmax(matmul(q', k'ᵀ) / √d_k');
# > R_SET = matmul(C', v') + q'
#
# Unlike FIT, SET has no gate ("we constrain the sum of attention values to be 1 by only adopting
# a softmax-based attention module"), and its residual adds the projected query q', not the
# block's input. (The authors' release adds the raw input tokens instead.)
#
# Write `self_attention_residual(q, k, v)`: q (..., N, D), k and v (..., M, D) -> R_SET
# (..., N, D), with d_k' = D.

# %% nbgrader={"grade": false, "grade_id": "self_attention_residual", "locked": false, "schema_version": 3, "solution": true, "task": false}
def self_attention_residual(q, k, v):
    """R_SET = softmax(q k^T / sqrt(D)) v + q. q (..., N, D), k, v (..., M, D) -> (..., N, D)."""
    ### BEGIN SOLUTION
    attn = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)  # (..., N, M)
    return attn @ v + q
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_self_attention_residual", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
q, k, v = torch.randn(2, 5, 4), torch.randn(2, 7, 4), torch.randn(2, 7, 4)
r = self_attention_residual(q, k, v)
assert r.shape == (2, 5, 4), f"expected (B, N, D) = (2, 5, 4), got {tuple(r.shape)}"
assert_close(self_attention_residual(q, k, torch.zeros_like(v)), q, 1e-6, "v' = 0: R_SET = q'")
same_keys = torch.ones(2, 7, 4)  # every key equal: uniform attention, C' v' = mean of the values
assert_close(
    self_attention_residual(q, same_keys, v),
    v.mean(1, keepdim=True) + q,
    1e-6,
    "equal keys: R_SET = mean(v') + q'",
)
### BEGIN HIDDEN TESTS
import handoccnet_lite.model.attention as reference

_gen = torch.Generator().manual_seed(202)
_q, _k, _v = (torch.randn(2, 1, 9, 6, generator=_gen, dtype=torch.float64) * 2 for _ in range(3))
_out = reference.scaled_attention_explicit(_q, _k, _v, 6**-0.5)[0]
assert_close(
    self_attention_residual(_q, _k, _v),
    _out + _q,
    1e-10,
    "R_SET differs from attention.scaled_attention_explicit(q, k, v) + q on random inputs",
)
### END HIDDEN TESTS
check_own_code(self_attention_residual)

# %% [markdown]
# ## 3 · A whole SET block: F_SET (3 points)
#
# > *Paper (Algorithm 2, lines 16-18 and 24):* q' = η(Q'(F_FIT)), k' = η(K'(F_FIT)),
# > v' = η(V'(F_FIT));  F_SET = ψ(R_SET) + ψ(MLP(LN(R_SET)))
#
# The package's `SET(TransformerConfig(variant="supplement", ...))` is Algorithm 2 (one head, one
# block). Its block `set_module.blocks[0]` holds the 1x1 convolutions `query`, `key`, `value` and
# the feed-forward parts `ffn.norm` (LayerNorm over the channels of each token) and `ffn.mlp`.
#
# Write `set_forward(set_module, x)`: x = F_FIT (B, C, H, W) -> F_SET (B, C, H, W), with the
# module's layers and your functions, without calling `set_module(...)` itself. Note what is
# missing compared with FIT: there is no `x +` outside.

# %% nbgrader={"grade": false, "grade_id": "set_forward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def set_forward(set_module, x):
    """F_SET from the layers of a supplement-variant SET. x (B, C, H, W) -> (B, C, H, W)."""
    block = set_module.blocks[0]
    height, width = x.shape[2:]
    ### BEGIN SOLUTION
    q, k, v = eta(block.query(x)), eta(block.key(x)), eta(block.value(x))  # (B, N, C) each
    r = self_attention_residual(q, k, v)  # (B, N, C): R_SET
    return psi(r, height, width) + psi(block.ffn.mlp(block.ffn.norm(r)), height, width)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_set_forward", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
set_module = randomise_(SET(TransformerConfig(variant="supplement", dim=8, grid=4)))
x = torch.randn(2, 8, 4, 4)
with torch.no_grad():
    out = set_forward(set_module, x)
    assert out.shape == (2, 8, 4, 4), f"expected (B, C, H, W) = (2, 8, 4, 4), got {out.shape}"
    block = set_module.blocks[0]
    for layer in (block.value, block.ffn.mlp[-1]):  # v' = 0 and MLP(.) = 0 leave F_SET = Q'(x)
        layer.weight.zero_()
        layer.bias.zero_()
    assert_close(set_forward(set_module, x), block.query(x), 1e-6, "V' = 0, MLP = 0: F_SET = Q'(x)")
### BEGIN HIDDEN TESTS
_gen = torch.Generator().manual_seed(203)
for _size, _grid in [(8, 4), (6, 3)]:
    _set = randomise_(SET(TransformerConfig(variant="supplement", dim=_size, grid=_grid)), seed=5)
    _set = _set.double()
    _x = torch.randn(2, _size, _grid, _grid, generator=_gen, dtype=torch.float64)
    with torch.no_grad():
        assert_close(
            set_forward(_set, _x),
            _set(_x)[0],
            1e-8,
            "set_forward differs from handoccnet_lite's SET(variant='supplement') forward",
        )
### END HIDDEN TESTS
check_own_code(set_forward)

# %% [markdown]
# ## Summary
#
# - η and ψ are a flatten and a transpose; getting the order wrong still "runs" but scrambles space.
# - SET is plain softmax self-attention whose residual adds q' (the projected query), then a
#   pre-norm feed-forward with its own residual; F_SET has no skip connection to F_FIT.
#
# **To think about (not graded).** Algorithm 2's MLP has no activation between its two Linears.
# What function class does MLP(LN(R)) then describe, and what does the release's GELU add?
