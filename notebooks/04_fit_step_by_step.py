# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
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

# %% [markdown]
# # 04 · FIT step by step: Algorithm 1, line by line
#
# **Goal.** Build the Feature Injecting Transformer (FIT) from the supplement's Algorithm 1, one
# pseudocode line at a time, and check every intermediate tensor against the package's `FIT`.
# Then measure how the authors' released code departs from the pseudocode, and why the sigmoid
# gate can be computed in O(N) work instead of O(N²).
#
# After this notebook you will be able to
# - write FIT's softmax map C_soft, sigmoid gate C_sig, scaled map C = C_soft · C_sig and
#   R_FIT = C v in a few lines of torch, with the shape of every tensor;
# - list the six ways the release differs from Algorithm 1 and show the effect of each;
# - derive pool_j(q_i · k_j) = q_i · pool_j(k_j) and (A ∘ g) v = g ∘ (A v), and use them to run
#   FIT on a fused attention kernel.
#
# Spec: the supplementary material of Park et al., *HandOccNet*, CVPR 2022, Section S1.1 and
# Algorithm 1 (quoted as "> Alg. 1, line n"). Release facts: the docstring of
# `handoccnet_lite/model/fit.py` (read from the authors' public code). Shape letters: B batch, N tokens, C channels, H heads, D = C / H.

# %% tags=["parameters"]
PROFILE = "quick"  # quick: 32 channels, 8x8 tokens (CPU seconds); full: 256 channels, 32x32

# %%
import math
import platform
import timeit

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from handoccnet_lite import viz
from handoccnet_lite.config import TransformerConfig
from handoccnet_lite.model import attention
from handoccnet_lite.model.fit import FIT
from handoccnet_lite.utils import resolve_device, save_figure, seed_everything

SEED = 0
DIM, G, B = (32, 8, 2) if PROFILE == "quick" else (256, 32, 2)  # channels C, grid side, batch
N = G * G  # tokens
TIMING_GRIDS = (8, 16, 32) if PROFILE == "quick" else (8, 16, 32, 48, 64)
seed_everything(SEED)
device = resolve_device("auto")
torch.set_grad_enabled(False)  # this notebook only runs forward passes
print(f"profile: {PROFILE} | device: {device} | C = {DIM}, G = {G}, N = {N}, B = {B}")

# %% [markdown]
# ## 1. What FIT is for
#
# > "FIT injects hand information into the correlated occlusion region [...] From the secondary
# > feature F_S and primary feature F_P, the query and key features, q_soft and k_soft are computed
# > by 1×1 convolution, respectively." (supplement, S1.1)
#
# The queries come from the **secondary** feature F_S (where the gate of notebook 03 thinks the
# hand is hidden); keys and values come from the **primary** feature F_P (where the hand is
# visible). Each occluded location therefore *pulls in* hand features from visible locations.
#
# FIT's inputs here are random Gaussian features of the right shape: this notebook is about the
# arithmetic, and every map below is made by **random weights on random features**, so it carries
# no learned meaning.

# %%
F_S = torch.randn(B, DIM, G, G, device=device)  # secondary feature -> queries
F_P = torch.randn(B, DIM, G, G, device=device)  # primary feature -> keys and values
print("F_S", tuple(F_S.shape), "F_P", tuple(F_P.shape))

# %% [markdown]
# ## 2. The package module we will match, and its initial weights
#
# `TransformerConfig(variant="supplement")` builds Algorithm 1 exactly: one head with d_k = C, one
# block, no positional embeddings, mean-pooled gate. Its weights start from the release's
# `init_weights` (every conv N(0, 0.001)). With such tiny weights every attention logit is almost 0,
# so every map is flat; the cell prints how flat. We therefore reset the module to PyTorch's default
# initialisation before looking at maps; the arithmetic being checked is the same.

# %%
cfg_sup = TransformerConfig(variant="supplement", dim=DIM, grid=G)
fit = FIT(cfg_sup).to(device).eval()
block = fit.blocks[0]


def max_abs_logit(blk, f_s: torch.Tensor, f_p: torch.Tensor) -> float:
    """Largest |q_soft . k_soft / sqrt(d_k)| of a one-head FIT block."""
    q = attention.project(blk.query_soft, f_s, 1)  # (B, 1, N, C)
    k = attention.project(blk.key_soft, f_p, 1)
    return (q @ k.transpose(-2, -1) * blk.scale).abs().max().item()


def reset_default_init(module: nn.Module) -> None:
    """PyTorch's default init for every conv, linear and LayerNorm (the release's is std 1e-3)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.LayerNorm)):
            m.reset_parameters()


print(f"release init: max |logit| = {max_abs_logit(block, F_S, F_P):.2e}")
reset_default_init(fit)
print(f"default init: max |logit| = {max_abs_logit(block, F_S, F_P):.2e}")
assert max_abs_logit(block, F_S, F_P) > 0.1

# %% [markdown]
# ## 3. Lines 3–9: five projections and two reshapes
#
# > Alg. 1, lines 3–7: `Q_soft = nn.Conv2d(256, 256, 1)`, `K_soft = ...`, `Q_sig = ...`,
# > `K_sig = ...`, `V = nn.Conv2d(256, 256, 1)`
#
# Five 1×1 convolutions, i.e. five per-pixel linear maps C → C. We build our own and copy the
# package block's weights into them, so that every later comparison is exact.

# %%
Q_soft, K_soft, Q_sig, K_sig, V = (nn.Conv2d(DIM, DIM, 1).to(device) for _ in range(5))
theirs = (block.query_soft, block.key_soft, block.query_sig, block.key_sig, block.value)
for mine, their in zip((Q_soft, K_soft, Q_sig, K_sig, V), theirs, strict=True):
    mine.load_state_dict(their.state_dict())
print("each projection:", Q_soft, "| weights", tuple(Q_soft.weight.shape))

# %% [markdown]
# > Alg. 1, line 8: η : R^{256×32×32} → R^{1024×256} # reshape
# >
# > Alg. 1, line 9: ψ : R^{1024×256} → R^{256×32×32} # reshape
#
# η turns a C × G × G map into N = G² tokens of C channels, row by row: token n is pixel
# (row, col) = (n // G, n mod G). ψ is its inverse.


# %%
def eta(x: torch.Tensor) -> torch.Tensor:
    """(B, C, G, G) -> (B, N, C), token n = pixel (n // G, n % G)."""
    b, c, h, w = x.shape
    return x.reshape(b, c, h * w).permute(0, 2, 1)


def psi(t: torch.Tensor, side: int) -> torch.Tensor:
    """(B, N, C) -> (B, C, side, N // side), the inverse of eta."""
    b, n, c = t.shape
    return t.permute(0, 2, 1).reshape(b, c, side, n // side)


row, col = 3, 5
assert_close(eta(F_S)[:, row * G + col], F_S[:, :, row, col])  # token order: row-major
assert_close(psi(eta(F_S), G), F_S)  # psi undoes eta
assert_close(eta(F_S), attention.tokens(F_S))  # the package's eta
assert_close(psi(eta(F_S), G), attention.grid(attention.tokens(F_S), G))  # and its psi
print("eta(F_S):", tuple(eta(F_S).shape), "| psi(eta(F_S)):", tuple(psi(eta(F_S), G).shape))

# %% [markdown]
# > Alg. 1, lines 19–23:
# > q_soft = η(Q_soft(F_S)), q_sig = η(Q_sig(F_S)), k_soft = η(K_soft(F_P)),
# > k_sig = η(K_sig(F_P)), v = η(V(F_P))
#
# Queries from F_S, keys and the value from F_P. The package's `project` also splits heads
# (B, H, N, D); with one head, head 0 is the whole thing.

# %%
q_soft = eta(Q_soft(F_S))  # (B, N, C)
q_sig = eta(Q_sig(F_S))  # (B, N, C)
k_soft = eta(K_soft(F_P))  # (B, N, C)
k_sig = eta(K_sig(F_P))  # (B, N, C)
v = eta(V(F_P))  # (B, N, C)
for mine, conv, src in [
    (q_soft, block.query_soft, F_S),
    (q_sig, block.query_sig, F_S),
    (k_soft, block.key_soft, F_P),
    (k_sig, block.key_sig, F_P),
    (v, block.value, F_P),
]:
    assert_close(mine, attention.project(conv, src, heads=1)[:, 0])  # (B, N, C)
print("q_soft, q_sig, k_soft, k_sig, v:", tuple(q_soft.shape), "each; equal to the package's")

# %% [markdown]
# ## 4. Line 25: the softmax map C_soft
#
# > Alg. 1, line 25: C_soft = softmax(matmul(q_soft, k_softᵀ) / √d_k_soft)
#
# $$C_{soft}[i, j] = \frac{\exp(q_i \cdot k_j / \sqrt{d_k})}{\sum_{j'} \exp(q_i \cdot k_{j'} /
# \sqrt{d_k})}, \qquad d_k = C.$$
#
# Row i says how query location i (in F_S) distributes its attention over the N key locations
# (in F_P). Each row sums to 1.

# %%
d_k = DIM  # line 16: d_k_soft = d_k_sig = 256 in the paper (one head)
C_soft = torch.softmax(q_soft @ k_soft.transpose(1, 2) / math.sqrt(d_k), dim=-1)  # (B, N, N)
assert C_soft.shape == (B, N, N)
assert_close(C_soft.sum(-1), torch.ones(B, N, device=device))  # rows sum to 1
assert_close(
    C_soft, attention.softmax_attention_map(q_soft[:, None], k_soft[:, None], d_k**-0.5)[:, 0]
)
print(
    f"C_soft {tuple(C_soft.shape)}; row sums in [{C_soft.sum(-1).min():.6f}, {C_soft.sum(-1).max():.6f}]"
)
print(
    f"largest weight in a row: median {C_soft.amax(-1).median():.3f} (uniform would be 1/N = {1 / N:.4f})"
)

# %% [markdown]
# ## 5. Line 27: the sigmoid gate C_sig
#
# > "To attenuate undesirable high attention scores from low matrix multiplication output in
# > C_soft, we compute an additional attention map C_sig [...] All elements of C_sig range from 0 to
# > 1." (S1.1)
#
# > Alg. 1, line 11: `pool = nn.AvgPool1d(1024, dim=-1)`
# >
# > Alg. 1, line 27: C_sig = sigmoid(pool(matmul(q_sig, k_sigᵀ) / √d_k_sig))
#
# Softmax is shift-invariant: a query whose logits are all low still gets weights summing to 1
# (the toy cell below computes it). The gate measures the *absolute* level of the query's match,
# averaged over the keys, and squashes it into (0, 1). `AvgPool1d` with a kernel as long as the key axis averages all N keys, so C_sig has
# one value per query: shape (N, 1).

# %%
toy = torch.tensor([2.0, 1.0, 0.0])  # one query's logits over three keys
for shift in (0.0, -6.0):
    z = toy + shift
    print(
        f"logits {z.tolist()}: softmax {[round(v, 3) for v in torch.softmax(z, 0).tolist()]}, "
        f"sigmoid(mean) = {torch.sigmoid(z.mean()).item():.3f}"
    )
assert_close(torch.softmax(toy - 6, 0), torch.softmax(toy, 0))  # the shift changes nothing
assert torch.sigmoid((toy - 6).mean()) < 0.01 < torch.sigmoid(toy.mean())  # the gate sees it

# %% [markdown]
# Same softmax weights for both rows, but the gate falls from 0.73 to 0.007: only the gate can
# tell a query that matches nothing well. Now the real gate:

# %%
pool = nn.AvgPool1d(N)  # kernel N over the last axis: the mean over all keys
logits_sig = q_sig @ k_sig.transpose(1, 2) / math.sqrt(d_k)  # (B, N, N)
C_sig = torch.sigmoid(pool(logits_sig))  # (B, N, 1): one gate per query
assert C_sig.shape == (B, N, 1)
assert ((C_sig > 0) & (C_sig < 1)).all()
assert_close(C_sig, attention.sigmoid_gate(q_sig[:, None], k_sig[:, None], d_k**-0.5, "mean")[:, 0])
print(
    f"C_sig {tuple(C_sig.shape)}: min {C_sig.min():.3f}, mean {C_sig.mean():.3f}, max {C_sig.max():.3f}"
)

# %% [markdown]
# ## 6. Lines 28 and 30: the scaled map C and the residual feature R_FIT
#
# > Alg. 1, line 28: C = elemmul(C_soft, C_sig)
#
# C_sig (N, 1) broadcasts over the keys: row i of C_soft is multiplied by the scalar g_i. So the
# rows of C no longer sum to 1: they sum to g_i. A query can now receive *less* than a full
# convex combination of values.

# %%
C_scaled = C_soft * C_sig  # (B, N, N): row i scaled by g_i
assert_close(C_scaled.sum(-1, keepdim=True), C_sig)  # row sums are the gates
print(f"row sums of C: min {C_scaled.sum(-1).min():.3f}, max {C_scaled.sum(-1).max():.3f}")

# %% [markdown]
# > Alg. 1, line 30: R_FIT = matmul(C, v)
# >
# > "Note that we do not use any residual connection to get R_FIT." (S1.1)

# %%
R_FIT = C_scaled @ v  # (B, N, C)
heads = (t[:, None] for t in (q_soft, k_soft, v))  # (B, 1, N, C): one head
out, A, g, prod = attention.scaled_attention_explicit(
    *heads, d_k**-0.5, "softmax_sigmoid", q_sig[:, None], k_sig[:, None], pool="mean"
)
assert_close(R_FIT, out[:, 0])
assert_close((C_soft, C_sig, C_scaled), (A[:, 0], g[:, 0], prod[:, 0]))
print("R_FIT", tuple(R_FIT.shape), "= the package's scaled_attention_explicit")

# %% [markdown]
# ## 7. Lines 12–15 and 32: the feed-forward part and F_FIT
#
# > Alg. 1, lines 12–15: `LN = nn.LayerNorm(256, dim=-1)`;
# > `MLP = nn.Sequential(nn.Linear(256, 256*4), nn.Linear(256*4, 256))`
# >
# > Alg. 1, line 32: F_FIT = F_P + ψ(R_FIT) + ψ(MLP(LN(R_FIT)))
#
# Two residuals: R_FIT around the MLP, and F_P around the whole module. The MLP is written with
# **no activation** between the two Linears; the package's supplement variant keeps it that way.

# %%
LN = nn.LayerNorm(DIM).to(device)
MLP = nn.Sequential(nn.Linear(DIM, 4 * DIM), nn.Linear(4 * DIM, DIM)).to(device)
LN.load_state_dict(block.ffn.norm.state_dict())
MLP[0].load_state_dict(block.ffn.mlp[0].state_dict())
MLP[1].load_state_dict(block.ffn.mlp[2].state_dict())  # package: Linear, Identity, Linear

F_FIT = F_P + psi(R_FIT, G) + psi(MLP(LN(R_FIT)), G)  # (B, C, G, G)
package_out, maps = fit(F_S, F_P, return_maps=True)
assert_close(F_FIT, package_out)
assert_close(C_scaled, maps.product[0][:, 0])
print(
    "F_FIT",
    tuple(F_FIT.shape),
    "= package FIT(F_S, F_P), max |diff|",
    f"{(F_FIT - package_out).abs().max():.1e}",
)

# %% [markdown]
# Without an activation, the "MLP" is one affine map in disguise:
# W₂(W₁x + b₁) + b₂ = (W₂W₁)x + (W₂b₁ + b₂). Its 4C-wide hidden layer adds parameters, not
# expressive power. The cell checks the identity and counts the parameters.

# %%
W = MLP[1].weight @ MLP[0].weight  # (C, C)
b = MLP[1].weight @ MLP[0].bias + MLP[1].bias  # (C,)
x_ln = LN(R_FIT)  # (B, N, C)
assert_close(MLP(x_ln), x_ln @ W.T + b, rtol=1e-4, atol=1e-5)
n_mlp = sum(p.numel() for p in MLP.parameters())
print(f"MLP params {n_mlp:,} vs the single Linear it equals: {W.numel() + b.numel():,}")

# %% [markdown]
# ## 8. Supplement vs released code
#
# The authors' release (`Transformer(injection=True)`) is not Algorithm 1. The package builds both;
# `variant="official"` is the release:
#
# | | Algorithm 1 (supplement) | release |
# |---|---|---|
# | gate pooling | mean over the N keys (AvgPool1d) | **sum** over the keys |
# | heads | 1, d_k = C | 4, d_k = C / 4 |
# | depth | 1 block | 2 blocks (block 2's query is block 1's output, key F_P again) |
# | positional embeddings | none | learned (1, C, G, G) added to query and key inputs |
# | output | F_P + ψ(R) + ψ(MLP(LN(R))) | fusion convs on cat(F_P, out) replace the F_P residual |
# | MLP | Linear, Linear | Linear, GELU, Linear |
#
# ### 8.1 Heads, depth, parameters
# The cell counts parameters at the paper's size (C = 256, G = 32) and lists the maps each variant
# returns at our size.

# %%
cfg_off = TransformerConfig(variant="official", dim=DIM, grid=G, heads=4, depth=2)
fit_off = FIT(cfg_off).to(device).eval()
reset_default_init(fit_off)
_, maps_off = fit_off(F_S, F_P, return_maps=True)
rows = []
for name, m in (("supplement", maps), ("official", maps_off)):
    rows.append((name, m.num_blocks, tuple(m.softmax[0].shape), tuple(m.gate[0].shape)))
print(
    pd.DataFrame(rows, columns=["variant", "blocks", "softmax map", "gate"]).to_string(index=False)
)
params = {
    v: sum(p.numel() for p in FIT(TransformerConfig(variant=v, dim=256, grid=32)).parameters())
    for v in ("supplement", "official")
}
print("parameters at C = 256, G = 32:", {k: f"{n / 1e6:.2f} M" for k, n in params.items()})
assert maps_off.num_blocks == 2 and maps_off.softmax[0].shape[1] == 4

# %% [markdown]
# ### 8.2 Mean vs sum pooling of the gate
# The release sums the N pooled logits where Algorithm 1 averages them. Sum = N × mean, so at
# N = 1024 the gate's argument is 1024 times larger. Whether the sigmoid saturates then depends on
# the size of the weights. The table measures the gate of block 1 of the official FIT (C = 256,
# 4 heads, random Gaussian inputs) for both pools, with the release's init (std 0.001) and with
# PyTorch's default init as a stand-in for weights of ordinary size. "saturated" counts gates
# below 0.01 or above 0.99.


# %%
def block_gates(blk, f_s: torch.Tensor, f_p: torch.Tensor) -> dict[str, torch.Tensor]:
    """Both pools of an official FIT block's gate from the same weights: pool -> (B, H, N, 1)."""
    q2 = attention.project(blk.query_sig, f_s + blk.pos_query, blk.heads)  # (B, H, N, D)
    k2 = attention.project(blk.key_sig, f_p + blk.pos_key, blk.heads)  # (B, H, N, D)
    return {p: attention.sigmoid_gate_fused(q2, k2, blk.scale, p) for p in ("mean", "sum")}


gate_rows, gates_1024 = [], {}
for g_side in (8, 16, 32):
    torch.manual_seed(SEED)
    f_s, f_p = (torch.randn(1, 256, g_side, g_side, device=device) for _ in range(2))
    big = FIT(TransformerConfig(variant="official", dim=256, grid=g_side)).to(device).eval()
    for init in ("release", "default"):
        if init == "default":
            reset_default_init(big)
        for pool_name, gate in block_gates(big.blocks[0], f_s, f_p).items():
            sat = ((gate < 0.01) | (gate > 0.99)).float().mean().item()
            gate_rows.append(
                (g_side * g_side, init, pool_name, gate.mean().item(), gate.std().item(), sat)
            )
            if g_side == 32:
                gates_1024[init, pool_name] = gate.flatten().cpu()
gate_table = pd.DataFrame(
    gate_rows, columns=["N", "init", "pool", "gate mean", "gate std", "saturated"]
)
print(gate_table.round(4).to_string(index=False))
sat = gate_table.set_index(["N", "init", "pool"])["saturated"]
assert sat[1024, "default", "sum"] > 0.5 and sat[1024, "default", "mean"] < 0.01

# %% [markdown]
# Read the table: with the release's tiny initial weights both pools leave the gate near 0.5 (the
# gate starts neutral in training either way). With weights of default size, the mean-pooled gate
# stays within a few hundredths of 0.5 (on random features the mean key is nearly zero), while the
# sum-pooled gate is mostly saturated at N = 1024: most queries are switched fully on or fully off,
# and a saturated sigmoid passes almost no gradient. The saturated share of the sum-pooled gate
# grows with N; the spread of the mean-pooled one does not. What trained weights do is not visible here; the config
# switch `TransformerConfig(gate_pool=...)` lets you train both and compare.
#
# The histogram at N = 1024, default init:

# %%
fig, ax = plt.subplots(figsize=(6, 2.6))
for pool_name in ("mean", "sum"):
    ax.hist(
        gates_1024["default", pool_name].numpy(), bins=50, range=(0, 1), alpha=0.6, label=pool_name
    )
ax.set(
    xlabel="gate value g", ylabel="count (queries x heads)", title="gate at N = 1024, default init"
)
ax.legend(title="pool")
plt.show()

# %% [markdown]
# How much does the pool change FIT's output? Same official weights (default init), gate pool
# switched, C = 256 at N = 1024 (one sample, fused path):

# %%
torch.manual_seed(SEED)
f_s, f_p = (torch.randn(1, 256, 32, 32, device=device) for _ in range(2))
fits = {}
for pool_name in ("sum", "mean"):
    fits[pool_name] = FIT(
        TransformerConfig(variant="official", dim=256, grid=32, gate_pool=pool_name)
    )
    fits[pool_name] = fits[pool_name].to(device).eval()
reset_default_init(fits["sum"])
fits["mean"].load_state_dict(fits["sum"].state_dict())  # identical weights, only the pool differs
outs = {p: m(f_s, f_p)[0] for p, m in fits.items()}
rel = ((outs["sum"] - outs["mean"]).norm() / outs["mean"].norm()).item()
print(f"||F_FIT(sum) - F_FIT(mean)|| / ||F_FIT(mean)|| = {rel:.3f}")
assert rel > 1e-3

# %% [markdown]
# ### 8.3 Positional embeddings: who knows where a token is?
# Algorithm 1 has none, and every operation in it is either per-pixel (1×1 convs, LayerNorm, MLP,
# the F_P residual) or treats the tokens as a set (attention). So permuting the pixels of both
# inputs just permutes the output: **FIT of Algorithm 1 has no idea where anything is.** The
# release's learned positional embeddings (and its 3×3 fusion convs) break that symmetry. Measured:

# %%
perm = torch.randperm(N, device=device)


def shuffle(x: torch.Tensor) -> torch.Tensor:
    """Permute the pixels of (B, C, G, G) by `perm`."""
    return psi(eta(x)[:, perm], G)


for name, module in (("supplement", fit), ("official", fit_off)):
    err = (module(shuffle(F_S), shuffle(F_P))[0] - shuffle(module(F_S, F_P)[0])).abs().max().item()
    print(f"{name:>10}: max |FIT(P x) - P FIT(x)| = {err:.2e}")
    if name == "supplement":
        assert err < 1e-4
    else:
        assert err > 1e-2

# %% [markdown]
# ### 8.4 Residual vs fusion convs, at the start of training
# Algorithm 1 returns F_P + (small terms); the release replaces F_P + … by
# conv3×3(ReLU(conv3×3(x))) + conv1×1(x) on x = cat(F_P, out). With the release's init (all convs
# N(0, 0.001)) the two start very differently. The cell measures ‖F_FIT‖ / ‖F_P‖ and the
# cosine between F_FIT and F_P at that init:

# %%
rows = []
for variant in ("supplement", "official"):
    torch.manual_seed(SEED)
    m = FIT(TransformerConfig(variant=variant, dim=DIM, grid=G)).to(device).eval()  # release init
    o = m(F_S, F_P)[0]
    cos = F.cosine_similarity(o.flatten(), F_P.flatten(), dim=0).item()
    rows.append((variant, (o.norm() / F_P.norm()).item(), cos))
init_table = pd.DataFrame(rows, columns=["variant", "|F_FIT| / |F_P|", "cos(F_FIT, F_P)"])
print(init_table.round(4).to_string(index=False))
assert init_table["|F_FIT| / |F_P|"][0] > 0.9 and init_table["|F_FIT| / |F_P|"][1] < 0.2

# %% [markdown]
# At initialisation the supplement's FIT passes F_P straight through (ratio ≈ 1, cosine ≈ 1); the
# release's FIT outputs a small, mixed feature that the regressor must learn to use.
#
# ## 9. The gate in O(N): pool_j(q_i · k_j) = q_i · pool_j(k_j)
#
# Line 27 builds an N × N logit matrix only to average each row. The dot product is linear in k, so
# the average can move inside:
#
# $$\frac{1}{N}\sum_{j=1}^{N} \frac{q_i \cdot k_j}{\sqrt{d}}
#   = \frac{1}{\sqrt{d}}\, q_i \cdot \Big(\frac{1}{N}\sum_{j=1}^{N} k_j\Big)
#   = \frac{q_i \cdot \bar k}{\sqrt{d}}.$$
#
# The same holds for the sum (drop the 1/N). Left: N² dot products, O(N² D) work and an N × N
# tensor. Right: one mean key (O(N D)), then N dot products (O(N D)). Check on our tensors, with
# our own two lines and with the package's `sigmoid_gate_fused`:

# %%
k_bar = k_sig.mean(dim=1, keepdim=True)  # (B, 1, C): the mean key
C_sig_fast = torch.sigmoid(q_sig @ k_bar.transpose(1, 2) / math.sqrt(d_k))  # (B, N, 1)
assert_close(C_sig_fast, C_sig)
for p in ("mean", "sum"):
    qh, kh = q_sig[:, None], k_sig[:, None]  # (B, 1, N, C)
    slow = attention.sigmoid_gate(qh, kh, d_k**-0.5, p)
    assert_close(attention.sigmoid_gate_fused(qh, kh, d_k**-0.5, p), slow)
print("max |explicit - O(N)| gate:", f"{(C_sig_fast - C_sig).abs().max():.1e}")

# %% [markdown]
# Timings: the explicit gate (N × N logits, then pool) vs the identity, C = 256, 4 heads, batch 1,
# median of repeated `timeit` runs (`torch.utils.benchmark` would do too, but importing it makes
# torch look for a CUDA compiler and log a warning on machines without a GPU). **Timings on a shared machine are noisy**; read the
# trend, not the digits. The machine is printed with the table.


# %%
def median_ms(fn, *args, repeats: int = 5) -> float:
    """Median wall time of fn(*args) in milliseconds: `repeats` timeit batches of >= 0.05 s each
    (CUDA work is waited for inside each batch)."""

    def run() -> None:
        fn(*args)
        if device.type == "cuda":
            torch.cuda.synchronize()

    timer = timeit.Timer(run)
    number, _ = timer.autorange()  # runs that take >= 0.2 s; a batch is a quarter of that
    number = max(1, number // 4)
    return float(np.median(timer.repeat(repeats, number))) / number * 1e3


heads_t, dim_t = 4, 256
scale_t = (dim_t // heads_t) ** -0.5
time_rows = []
for g_side in TIMING_GRIDS:
    n = g_side * g_side
    q_t, k_t, v_t, q2_t, k2_t = (
        torch.randn(1, heads_t, n, dim_t // heads_t, device=device) for _ in range(5)
    )
    gate_args = (q2_t, k2_t, scale_t, "sum")
    attn_args = (q_t, k_t, v_t, scale_t, "softmax_sigmoid", q2_t, k2_t, "sum")
    time_rows.append(
        (
            n,
            median_ms(attention.sigmoid_gate, *gate_args),
            median_ms(attention.sigmoid_gate_fused, *gate_args),
            median_ms(lambda *a: attention.scaled_attention_explicit(*a)[0], *attn_args),
            median_ms(attention.scaled_attention_fused, *attn_args),
        )
    )
timing = pd.DataFrame(
    time_rows,
    columns=[
        "N",
        "gate explicit ms",
        "gate O(N) ms",
        "attention explicit ms",
        "attention fused ms",
    ],
)
machine = f"{platform.machine()} {platform.processor() or ''}".strip()
print(f"device: {device} ({machine}, {torch.get_num_threads()} torch threads)")
print(timing.round(3).to_string(index=False))
assert timing["gate O(N) ms"].iloc[-1] < timing["gate explicit ms"].iloc[-1]
for col in ("gate explicit ms", "gate O(N) ms"):  # sentences computed from the table above
    print(viz.growth_sentence(col.removesuffix(" ms"), timing["N"], timing[col]) + ".")
print(
    viz.faster_sentence(
        "the O(N) gate", "the explicit gate", timing["N"],
        timing["gate O(N) ms"], timing["gate explicit ms"],
    ) + "."
)  # fmt: skip

# %% [markdown]
# The work of the explicit gate grows with N² and that of the identity with N, but a measured
# time follows its work only once the work outweighs the fixed cost of a call (allocation, kernel
# launch, Python): at small N both times are nearly flat. The printed sentences say which regime
# this machine was in for each column.
#
# ## 10. (A ∘ g) v = g ∘ (A v): FIT on a fused attention kernel
#
# The gate is one scalar per query row, so it can be applied *after* the matmul:
#
# $$\sum_j (A_{ij}\, g_i)\, v_j = g_i \sum_j A_{ij}\, v_j .$$
#
# A v alone is ordinary softmax attention, which `F.scaled_dot_product_attention` computes without
# ever storing A. With the O(N) gate from section 9, FIT needs no N × N tensor at all. Check on our
# tensors, then on the package's whole official FIT (explicit path vs fused path):

# %%
Av = F.scaled_dot_product_attention(q_soft[:, None], k_soft[:, None], v[:, None], scale=d_k**-0.5)
R_fused = C_sig_fast * Av[:, 0]  # (B, N, 1) * (B, N, C): g * (A v)
assert_close(R_fused, R_FIT)
assert_close((C_soft * C_sig) @ v, C_sig * (C_soft @ v))
print(f"max |(A*g)v - g*(Av)| = {(R_fused - R_FIT).abs().max():.1e}")

fit_explicit = FIT(TransformerConfig(variant="official", dim=DIM, grid=G, path="explicit")).to(
    device
)
fit_fused = FIT(TransformerConfig(variant="official", dim=DIM, grid=G, path="fused")).to(device)
fit_explicit.load_state_dict(fit_off.state_dict())
fit_fused.load_state_dict(fit_off.state_dict())
out_e, out_f = fit_explicit(F_S, F_P)[0], fit_fused(F_S, F_P)[0]
assert_close(out_f, out_e, rtol=1e-4, atol=1e-5)
print(f"official FIT, explicit vs fused path: max |diff| = {(out_f - out_e).abs().max():.1e}")

# %% [markdown]
# ## 11. Looking at one query
#
# For one query location (the black dot) on our G × G grid: its row of C_soft (where it takes
# values from), the gate C_sig at every query location (how much each location is allowed to
# receive), and its row of C = g_i · C_soft (what it actually receives). C_soft and C share one
# colour scale: on separate scales they would look identical (C is C_soft times one number), and
# the gate's dimming would be invisible. The scale is centred at 1/N (white): red keys get more than
# a uniform share, blue less. **Random weights on random features**: the pictures show the
# mechanics, not learned behaviour.

# %%
qi = (G // 2) * G + G // 3  # query token index
qr, qc = divmod(qi, G)
from matplotlib import colors

row_soft, row_c = C_soft[0, qi].reshape(G, G).cpu(), C_scaled[0, qi].reshape(G, G).cpu()
top = max(row_soft.max().item(), 2 / N)  # one scale for C_soft and C, with 1/N inside it
shared = colors.TwoSlopeNorm(vmin=0, vcenter=1 / N, vmax=top)  # white = uniform share 1/N
panels = [
    (row_soft, f"C_soft row of query ({qr}, {qc})", shared, "RdBu_r"),
    (C_sig[0, :, 0].reshape(G, G).cpu(), "C_sig at every query", colors.Normalize(0, 1), "viridis"),
    (row_c, f"C row = g_i * C_soft, g_i = {C_sig[0, qi, 0]:.2f}", shared, "RdBu_r"),
]
fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), gridspec_kw={"wspace": 0.45})
for ax, (img, title, norm, cmap) in zip(axes, panels, strict=True):
    im = ax.imshow(img.numpy(), cmap=cmap, norm=norm)
    ax.plot(qc, qr, "o", color="black", ms=6)
    ax.set_title(title, fontsize=12)
    ax.axis("off")
    bar = fig.colorbar(im, ax=ax, fraction=0.046)
    if norm is shared:
        bar.set_ticks([0, 1 / N, top], labels=["0", "1/N", f"{top:.3g}"])
    bar.ax.tick_params(labelsize=11)
fig.suptitle(
    "FIT, Algorithm 1, random weights on random features (no learned meaning); C_soft and C on "
    "one colour scale, white = the uniform share 1/N",
    fontsize=11,
)
save_figure(fig, "04_fit_maps")
plt.show()
assert np.isclose(panels[2][0].sum().item(), C_sig[0, qi, 0].item(), rtol=1e-4)

# %% [markdown]
# ## Summary
# - Algorithm 1 is 5 projections, a row-stochastic softmax map C_soft, a per-query sigmoid gate
#   C_sig in (0, 1), their product C (rows sum to the gate), R_FIT = C v with no residual, and
#   F_FIT = F_P + ψ(R) + ψ(MLP(LN(R))). Every step matched the package to float precision.
# - Its MLP has no activation, so it equals a single C × C affine map.
# - The release differs in six places (pooling, heads, depth, positional embeddings, fusion convs,
#   GELU). Sum pooling makes the gate's argument N times larger (saturation with default-size
#   weights at N = 1024); positional embeddings make FIT position-aware where Algorithm 1 is
#   permutation-equivariant; the fusion convs make FIT start far from the identity.
# - Two identities, pool_j(q·k_j) = q·pool_j(k_j) and (A ∘ g) v = g ∘ (A v), let FIT run without any
#   N × N tensor, on a fused attention kernel, with the same numbers.
#
# ## Exercises
# 1. Replace `nn.AvgPool1d(N)` by a max over the keys. Does the O(N) identity of section 9 still
#    hold? Why not?
# 2. With default-init weights, at what N does the sum-pooled gate saturate for half the queries?
#    Extend the table of section 8.2 and predict the answer from the √N growth of its spread first.
# 3. Insert `nn.GELU()` between the two Linears of `MLP` and show that the affine identity of
#    section 7 now fails.
# 4. The release adds positional embeddings to the query and key inputs but not to the value input.
#    Is FIT then still permutation-equivariant *in the values*? Design a test like section 8.3.
# 5. Time the whole official FIT (C = 256, G = 32) with `path="explicit"` and `path="fused"`, and
#    find the N at which the explicit path runs out of memory on your machine.
