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
# # Assignment 1 · FIT's attention: softmax map, sigmoid gate, scaled map
#
# **Goal.** Write the attention of HandOccNet's Feature Injecting Transformer (FIT) from the
# supplementary material's Algorithm 1, then assemble a whole FIT block from a package module's
# weights and match its output.
#
# After this assignment you will be able to
# - compute FIT's softmax attention map C_soft and its sigmoid gate C_sig from queries and keys;
# - say why the gate is one number per query (the pooling over the keys) and what it scales;
# - rebuild F_FIT = F_P + psi(R_FIT) + psi(MLP(LN(R_FIT))) from the 1x1 projections.
#
# | Task | Function | Points |
# |---|---|---|
# | 1 | `softmax_map(q, k)` | 2 |
# | 2 | `sigmoid_gate(q, k)` | 3 |
# | 3 | `scaled_attention(q_soft, k_soft, q_sig, k_sig, v)` | 2 |
# | 4 | `fit_forward(fit, f_s, f_p)` | 3 |
# | | **total** | **10** |
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
# Occlusion-Robust 3D Hand Mesh Estimation Network*, CVPR 2022, supplementary material, S1.1.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import math

import torch

from handoccnet_lite.assignments.guard import ReferenceGuard
from handoccnet_lite.config import TransformerConfig
from handoccnet_lite.model.fit import FIT

torch.manual_seed(0)
torch.set_num_threads(1)  # tiny tensors: one thread is enough


def eta(x):
    """eta: (B, C, H, W) feature map -> (B, N, C) tokens, N = H * W in row-major order."""
    return x.flatten(2).transpose(1, 2)


def psi(t, height, width):
    """psi: (B, N, C) tokens -> (B, C, H, W) feature map, the inverse of eta."""
    return t.transpose(1, 2).reshape(t.shape[0], t.shape[2], height, width)


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
    attention map nearly uniform and every gate nearly 0.5: too weak for a test."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * std)
    return module


# %% [markdown]
# ## 1 · The softmax attention map C_soft (2 points)
#
# > *Paper (Algorithm 1, line 25):* C_soft = softmax(matmul(q_soft, k_softᵀ) / √d_k_soft)
#
# The queries come from the secondary feature F_S, the keys from the primary feature F_P. Entry
# (i, j) says how much query token i attends to key token j; the softmax runs over the keys, so
# every row sums to 1. d_k is the width D of a query (256 in the paper).
#
# Write `softmax_map(q, k)`: q (..., N, D), k (..., M, D) -> (..., N, M). Any leading dims.

# %% nbgrader={"grade": false, "grade_id": "softmax_map", "locked": false, "schema_version": 3, "solution": true, "task": false}
def softmax_map(q, k):
    """C_soft = softmax(q k^T / sqrt(D)) q (..., N, D), k (..., M, D) -> (..., N, M)."""
    ### BEGIN SOLUTION
    logits = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., N, M)
    return torch.softmax(logits, dim=-1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_softmax_map", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
q, k = torch.randn(2, 5, 4), torch.randn(2, 7, 4)
c_soft = softmax_map(q, k)
assert c_soft.shape == (2, 5, 7), f"expected (B, N, M) = (2, 5, 7), got {tuple(c_soft.shape)}"
assert_close(c_soft.sum(-1), torch.ones(2, 5), 1e-6, "every row of C_soft must sum to 1")
q1 = torch.tensor([[1.0, 0.0]])
k1 = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
by_hand = torch.softmax(torch.tensor([[1 / math.sqrt(2), 0.0]]), dim=-1)  # d_k = 2
assert_close(softmax_map(q1, k1), by_hand, 1e-6, "q = (1, 0), keys (1, 0) and (0, 0): logits")
### BEGIN HIDDEN TESTS
import handoccnet_lite.model.attention as reference

_gen = torch.Generator().manual_seed(101)
for _shape_q, _shape_k in [((3, 6, 5), (3, 9, 5)), ((2, 2, 4, 8), (2, 2, 4, 8))]:
    _q = torch.randn(_shape_q, generator=_gen, dtype=torch.float64) * 2
    _k = torch.randn(_shape_k, generator=_gen, dtype=torch.float64) * 2
    assert_close(
        softmax_map(_q, _k),
        reference.softmax_attention_map(_q, _k, scale=_q.shape[-1] ** -0.5),
        1e-10,
        "softmax_map differs from handoccnet_lite.model.attention.softmax_attention_map "
        "on random float64 inputs",
    )
### END HIDDEN TESTS
check_own_code(softmax_map)

# %% [markdown]
# ## 2 · The sigmoid gate C_sig (3 points)
#
# > *Paper (Algorithm 1, lines 11 and 27):* pool = nn.AvgPool1d(1024, dim=-1);
# > C_sig = sigmoid(pool(matmul(q_sig, k_sigᵀ) / √d_k_sig))
#
# A second pair of projections q_sig (from F_S) and k_sig (from F_P) gives a second map of
# logits. The pool averages it over all the keys (1024 = 32 × 32 in the paper), so C_sig has one
# value in (0, 1) per query: it attenuates the queries whose logits are low on average. (The
# authors' release pools with a *sum* instead; here we follow the supplement: the **mean**.)
#
# Write `sigmoid_gate(q, k)`: q (..., N, D), k (..., M, D) -> (..., N, 1), with d_k = D.

# %% nbgrader={"grade": false, "grade_id": "sigmoid_gate", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sigmoid_gate(q, k):
    """C_sig = sigmoid(mean_j q k_j^T / sqrt(D)). q (..., N, D), k (..., M, D) -> (..., N, 1)."""
    ### BEGIN SOLUTION
    logits = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., N, M)
    pooled = logits.mean(dim=-1, keepdim=True)  # (..., N, 1): AvgPool over the M keys
    return torch.sigmoid(pooled)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_sigmoid_gate", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
q, k = torch.randn(2, 5, 4), torch.randn(2, 7, 4)
gate = sigmoid_gate(q, k)
assert gate.shape == (2, 5, 1), f"expected (B, N, 1) = (2, 5, 1), got {tuple(gate.shape)}"
assert bool(((gate > 0) & (gate < 1)).all()), "a sigmoid gate lies strictly between 0 and 1"
assert_close(sigmoid_gate(q, torch.zeros(2, 7, 4)), torch.full((2, 5, 1), 0.5), 1e-6, "zero keys")
q1 = torch.tensor([[1.0, 1.0]])
k1 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
# logits (1, 1, 4) / sqrt(2); their mean over the 3 keys is 2 / sqrt(2) = sqrt(2)
by_hand = torch.sigmoid(torch.tensor([[math.sqrt(2)]]))
assert_close(sigmoid_gate(q1, k1), by_hand, 1e-6, "q = (1, 1), three keys: sigmoid(mean logit)")
### BEGIN HIDDEN TESTS
import handoccnet_lite.model.attention as reference

_gen = torch.Generator().manual_seed(102)
for _shape_q, _shape_k in [((3, 6, 5), (3, 9, 5)), ((2, 2, 16, 8), (2, 2, 16, 8))]:
    _q = torch.randn(_shape_q, generator=_gen, dtype=torch.float64)
    _k = torch.randn(_shape_k, generator=_gen, dtype=torch.float64) + 0.5  # mean key != 0
    assert_close(
        sigmoid_gate(_q, _k),
        reference.sigmoid_gate(_q, _k, _q.shape[-1] ** -0.5, "mean"),
        1e-10,
        "sigmoid_gate differs from handoccnet_lite.model.attention.sigmoid_gate(pool='mean') "
        "on random float64 inputs",
    )
### END HIDDEN TESTS
check_own_code(sigmoid_gate)

# %% [markdown]
# ## 3 · The scaled map C and the residual feature R_FIT (2 points)
#
# > *Paper (Algorithm 1, lines 28 and 30):* C = elemmul(C_soft, C_sig);  R_FIT = matmul(C, v)
#
# C_sig (..., N, 1) broadcasts over the keys: each row i of C_soft is multiplied by the gate of
# query i, so row i of C sums to C_sig[i] instead of 1. There is no residual connection here.
#
# Write `scaled_attention(q_soft, k_soft, q_sig, k_sig, v)` with your two functions. Queries
# (..., N, D), keys and values (..., M, D). Return the pair `(r, c)`: R_FIT (..., N, D) and
# C (..., N, M).

# %% nbgrader={"grade": false, "grade_id": "scaled_attention", "locked": false, "schema_version": 3, "solution": true, "task": false}
def scaled_attention(q_soft, k_soft, q_sig, k_sig, v):
    """R_FIT = (C_soft * C_sig) v. Returns (r (..., N, D), c (..., N, M))."""
    ### BEGIN SOLUTION
    c = softmax_map(q_soft, k_soft) * sigmoid_gate(q_sig, k_sig)  # (..., N, M)
    return c @ v, c
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_scaled_attention", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
qs, ks, qg, kg, v = (torch.randn(2, n, 4) for n in (5, 7, 5, 7, 7))
r, c = scaled_attention(qs, ks, qg, kg, v)
assert r.shape == (2, 5, 4), f"R_FIT: expected (B, N, D) = (2, 5, 4), got {tuple(r.shape)}"
assert c.shape == (2, 5, 7), f"C: expected (B, N, M) = (2, 5, 7), got {tuple(c.shape)}"
assert_close(c.sum(-1, keepdim=True), sigmoid_gate(qg, kg), 1e-6, "row i of C must sum to gate i")
assert_close(r, c @ v, 1e-6, "R_FIT = matmul(C, v), with no residual")
### BEGIN HIDDEN TESTS
import handoccnet_lite.model.attention as reference

_gen = torch.Generator().manual_seed(103)
_qs, _ks, _qg, _kg, _v = (
    torch.randn(2, 1, n, 6, generator=_gen, dtype=torch.float64) for n in (9, 9, 9, 9, 9)
)
_kg = _kg + 0.3
_out, _, _, _product = reference.scaled_attention_explicit(
    _qs, _ks, _v, 6**-0.5, "softmax_sigmoid", _qg, _kg, "mean"
)
_r, _c = scaled_attention(_qs, _ks, _qg, _kg, _v)
_what = "differs from handoccnet_lite.model.attention.scaled_attention_explicit on random inputs"
assert_close(_c, _product, 1e-10, "C " + _what)
assert_close(_r, _out, 1e-10, "R_FIT " + _what)
### END HIDDEN TESTS
check_own_code(scaled_attention)

# %% [markdown]
# ## 4 · A whole FIT block: F_FIT (3 points)
#
# > *Paper (Algorithm 1, lines 19-23 and 32):* q_soft = η(Q_soft(F_S)), q_sig = η(Q_sig(F_S)),
# > k_soft = η(K_soft(F_P)), k_sig = η(K_sig(F_P)), v = η(V(F_P));
# > F_FIT = F_P + ψ(R_FIT) + ψ(MLP(LN(R_FIT)))
#
# The package's `FIT(TransformerConfig(variant="supplement", ...))` is Algorithm 1 (one head,
# one block). Its block `fit.blocks[0]` holds the five 1x1 convolutions `query_soft`, `key_soft`,
# `query_sig`, `key_sig`, `value`, and the feed-forward parts `ffn.norm` (LayerNorm over the
# channels of each token) and `ffn.mlp` (Linear, Linear). `eta` and `psi` are in the setup cell.
#
# Write `fit_forward(fit, f_s, f_p)`: f_s, f_p (B, C, H, W) -> F_FIT (B, C, H, W), using the
# module's layers and your `scaled_attention`, without calling `fit(...)` itself.

# %% nbgrader={"grade": false, "grade_id": "fit_forward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def fit_forward(fit, f_s, f_p):
    """F_FIT from the layers of a supplement-variant FIT. f_s, f_p (B, C, H, W) -> (B, C, H, W)."""
    block = fit.blocks[0]
    height, width = f_p.shape[2:]
    ### BEGIN SOLUTION
    q_soft, q_sig = eta(block.query_soft(f_s)), eta(block.query_sig(f_s))  # (B, N, C)
    k_soft, k_sig = eta(block.key_soft(f_p)), eta(block.key_sig(f_p))  # (B, N, C)
    v = eta(block.value(f_p))  # (B, N, C)
    r, _ = scaled_attention(q_soft, k_soft, q_sig, k_sig, v)  # (B, N, C): R_FIT
    mlp = block.ffn.mlp(block.ffn.norm(r))  # (B, N, C)
    return f_p + psi(r, height, width) + psi(mlp, height, width)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_fit_forward", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
fit = randomise_(FIT(TransformerConfig(variant="supplement", dim=8, grid=4)))
f_s, f_p = torch.randn(2, 8, 4, 4), torch.randn(2, 8, 4, 4)
with torch.no_grad():
    out = fit_forward(fit, f_s, f_p)
    assert out.shape == (2, 8, 4, 4), f"expected (B, C, H, W) = (2, 8, 4, 4), got {out.shape}"
    block = fit.blocks[0]
    for layer in (block.value, block.ffn.mlp[-1]):  # v = 0 and MLP(.) = 0 leave F_FIT = F_P
        layer.weight.zero_()
        layer.bias.zero_()
    assert_close(fit_forward(fit, f_s, f_p), f_p, 1e-6, "with V = 0 and MLP = 0, F_FIT = F_P")
### BEGIN HIDDEN TESTS
_gen = torch.Generator().manual_seed(104)
for _size, _grid in [(8, 4), (6, 3)]:
    _fit = randomise_(FIT(TransformerConfig(variant="supplement", dim=_size, grid=_grid)), seed=7)
    _fit = _fit.double()
    _f_s = torch.randn(2, _size, _grid, _grid, generator=_gen, dtype=torch.float64)
    _f_p = torch.randn(2, _size, _grid, _grid, generator=_gen, dtype=torch.float64)
    with torch.no_grad():
        assert_close(
            fit_forward(_fit, _f_s, _f_p),
            _fit(_f_s, _f_p)[0],
            1e-8,
            "fit_forward differs from handoccnet_lite's FIT(variant='supplement') forward",
        )
### END HIDDEN TESTS
check_own_code(fit_forward)

# %% [markdown]
# ## Summary
#
# - C_soft routes: each query takes a convex combination of the primary values.
# - C_sig gates: one number per query, the sigmoid of its mean logit against all keys, so a query
#   that matches the hand features poorly on average injects less.
# - F_FIT adds the injected feature to F_P; there is no residual around the attention itself.
#
# **To think about (not graded).** The release sums the logits instead of averaging them: with
# 1024 keys, what does that do to the range of the gate's input, and to its gradient?
