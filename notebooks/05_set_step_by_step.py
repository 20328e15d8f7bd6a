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
# # 05 · SET step by step: Algorithm 2, line by line
#
# **Goal.** Build the Self-Enhancing Transformer (SET) from the supplement's Algorithm 2, one
# pseudocode line at a time, check each tensor against the package's `SET`, then rebuild the
# released code's SET by hand and measure what its differences from the pseudocode do.
#
# After this notebook you will be able to
# - write q′, k′, v′, the softmax map C′, R_SET = C′v′ + q′ and F_SET in a few lines of torch;
# - explain the one residual that differs between the supplement (projected q′) and the release
#   (the raw input), and show what it does at initialisation;
# - run SET on a fused attention kernel and get the same numbers as the explicit form.
#
# Spec: the supplementary material of Park et al., *HandOccNet*, CVPR 2022, Section S1.2 and
# Algorithm 2 (quoted as "> Alg. 2, line n"). Release facts: the docstring of
# `handoccnet_lite/model/set.py` (read from the authors' public code). Notebook 04 did the same for
# FIT. Shape letters: B batch, N tokens, C channels, H heads, D = C / H.

# %% tags=["parameters"]
PROFILE = "quick"  # quick: 32 channels, 8x8 tokens (CPU seconds); full: 256 channels, 32x32

# %%
import math

import matplotlib.pyplot as plt
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from handoccnet_lite.config import TransformerConfig
from handoccnet_lite.model import attention
from handoccnet_lite.model.handoccnet import HandOccNet
from handoccnet_lite.model.set import SET
from handoccnet_lite.utils import resolve_device, save_figure, seed_everything

SEED = 0
DIM, G, B = (32, 8, 2) if PROFILE == "quick" else (256, 32, 2)  # channels C, grid side, batch
HEADS = 4  # the release's head count
N = G * G  # tokens
seed_everything(SEED)
device = resolve_device("auto")
torch.set_grad_enabled(False)  # forward passes only
print(f"profile: {PROFILE} | device: {device} | C = {DIM}, G = {G}, N = {N}, B = {B}")

# %% [markdown]
# ## 1. What SET is for
#
# > "SET refines F_FIT by referencing the distant information from F_FIT." (supplement, S1)
# >
# > "Following the self-attention scheme in Transformer [11], we constrain the sum of attention
# > values to be 1 by only adopting a softmax-based attention module. We also follow the same
# > pipeline of previous Transformers [11] to get the residual feature R_SET and the final output of
# > SET, F_SET." (S1.2)
#
# After FIT has injected hand features into the occluded locations, SET lets every location look
# at every other one of the same map: plain self-attention, no gate. Its input here is a random
# Gaussian feature of the right shape, and the weights are random: **every map below is from
# random weights on random features**; it shows the mechanics, not learned behaviour.

# %%
F_FIT = torch.randn(B, DIM, G, G, device=device)  # SET's input: FIT's output
print("F_FIT", tuple(F_FIT.shape))

# %% [markdown]
# ## 2. The package module we will match
#
# `TransformerConfig(variant="supplement")` builds Algorithm 2 exactly (one head, d_k′ = C, one
# block, no positional embeddings). Its weights start from the release's init (convs N(0, 0.001),
# which makes every map flat); as in notebook 04 we reset them to PyTorch's default init before
# looking at the maps.


# %%
def reset_default_init(module: nn.Module) -> None:
    """PyTorch's default init for every conv, linear and LayerNorm (the release's is std 1e-3)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.LayerNorm)):
            m.reset_parameters()


set_sup = SET(TransformerConfig(variant="supplement", dim=DIM, grid=G)).to(device).eval()
reset_default_init(set_sup)
block = set_sup.blocks[0]
print(f"{len(set_sup.blocks)} block, {block.heads} head, scale 1/sqrt(d_k') = {block.scale:.4f}")
assert block.heads == 1 and math.isclose(block.scale, DIM**-0.5)

# %% [markdown]
# ## 3. Lines 3–7 and 16–18: three projections and the reshapes
#
# > Alg. 2, lines 3–5: `Q' = nn.Conv2d(256, 256, 1)`, `K' = nn.Conv2d(256, 256, 1)`,
# > `V' = nn.Conv2d(256, 256, 1)`
# >
# > Alg. 2, lines 6–7: η : R^{256×32×32} → R^{1024×256}, ψ : R^{1024×256} → R^{256×32×32}
# >
# > Alg. 2, lines 16–18: q′ = η(Q′(F_FIT)), k′ = η(K′(F_FIT)), v′ = η(V′(F_FIT))
#
# All three come from the same map: this is *self*-attention. We build our own convs, copy the
# package block's weights into them, and check each projected tensor.


# %%
def eta(x: torch.Tensor) -> torch.Tensor:
    """(B, C, G, G) -> (B, N, C), token n = pixel (n // G, n % G)."""
    b, c, h, w = x.shape
    return x.reshape(b, c, h * w).permute(0, 2, 1)


def psi(t: torch.Tensor, side: int) -> torch.Tensor:
    """(B, N, C) -> (B, C, side, N // side), the inverse of eta."""
    b, n, c = t.shape
    return t.permute(0, 2, 1).reshape(b, c, side, n // side)


Qp, Kp, Vp = (nn.Conv2d(DIM, DIM, 1).to(device) for _ in range(3))  # Q', K', V'
for mine, theirs in zip((Qp, Kp, Vp), (block.query, block.key, block.value), strict=True):
    mine.load_state_dict(theirs.state_dict())

q_, k_, v_ = eta(Qp(F_FIT)), eta(Kp(F_FIT)), eta(Vp(F_FIT))  # q', k', v': (B, N, C) each
for mine, conv in ((q_, block.query), (k_, block.key), (v_, block.value)):
    assert_close(mine, attention.project(conv, F_FIT, heads=1)[:, 0])
assert_close(psi(eta(F_FIT), G), F_FIT)
print("q', k', v':", tuple(q_.shape), "each; equal to the package's projections")

# %% [markdown]
# ## 4. Line 20: the softmax map C′
#
# > Alg. 2, line 20: C′ = softmax(matmul(q′, k′ᵀ) / √d_k′)
#
# $$C'[i, j] = \frac{\exp(q'_i \cdot k'_j / \sqrt{d})}{\sum_{j'} \exp(q'_i \cdot k'_{j'} /
# \sqrt{d})},\qquad \sum_j C'[i, j] = 1 .$$

# %%
d_k = DIM  # line 13: d_k' = 256 in the paper (one head)
C_p = torch.softmax(q_ @ k_.transpose(1, 2) / math.sqrt(d_k), dim=-1)  # C': (B, N, N)
assert C_p.shape == (B, N, N)
assert_close(C_p.sum(-1), torch.ones(B, N, device=device))  # rows sum to 1
assert_close(C_p, attention.softmax_attention_map(q_[:, None], k_[:, None], d_k**-0.5)[:, 0])
print(f"C' {tuple(C_p.shape)}: row sums in [{C_p.sum(-1).min():.6f}, {C_p.sum(-1).max():.6f}]")

# %% [markdown]
# ## 5. Line 22: the residual feature R_SET
#
# > Alg. 2, line 22: R_SET = matmul(C′, v′) + q′
#
# Unlike FIT, SET has a residual around the attention, and it adds the **projected** query q′, not
# SET's input F_FIT.

# %%
R_SET = C_p @ v_ + q_  # (B, N, C)
out, A, gate, prod = attention.scaled_attention_explicit(
    q_[:, None], k_[:, None], v_[:, None], d_k**-0.5
)  # mode "softmax": no gate
assert gate is None and prod is A
assert_close(R_SET, out[:, 0] + q_)
print("R_SET", tuple(R_SET.shape))

# %% [markdown]
# ## 6. Lines 9–12 and 24: the feed-forward part and F_SET
#
# > Alg. 2, lines 9–12: `LN = nn.LayerNorm(256, dim=-1)`;
# > `MLP = nn.Sequential(nn.Linear(256, 256*4), nn.Linear(256*4, 256))`
# >
# > Alg. 2, line 24: F_SET = ψ(R_SET) + ψ(MLP(LN(R_SET)))
#
# Note what is *not* there: no F_FIT + … . SET's input reaches its output only through the
# projections Q′ (residual) and K′, V′ (attention). As in Algorithm 1, the MLP has no activation.

# %%
LN = nn.LayerNorm(DIM).to(device)
MLP = nn.Sequential(nn.Linear(DIM, 4 * DIM), nn.Linear(4 * DIM, DIM)).to(device)
LN.load_state_dict(block.ffn.norm.state_dict())
MLP[0].load_state_dict(block.ffn.mlp[0].state_dict())
MLP[1].load_state_dict(block.ffn.mlp[2].state_dict())  # package: Linear, Identity, Linear

F_SET = psi(R_SET, G) + psi(MLP(LN(R_SET)), G)  # (B, C, G, G)
package_out, maps = set_sup(F_FIT, return_maps=True)
assert_close(F_SET, package_out)
assert_close(C_p, maps.softmax[0][:, 0])
assert maps.gate == []  # SET has no sigmoid gate
print(
    f"F_SET {tuple(F_SET.shape)} = package SET(F_FIT), max |diff| {(F_SET - package_out).abs().max():.1e}"
)

# %% [markdown]
# ## 7. The released SET, rebuilt by hand
#
# The release (`Transformer(injection=False)`, called as `SET(f, f)`) differs from Algorithm 2:
#
# | | Algorithm 2 (supplement) | release |
# |---|---|---|
# | heads | 1, d_k′ = C | 4, d_k′ = C / 4 |
# | depth | 1 block | 2 blocks; block 2's query is block 1's output, its key and value are still F_FIT |
# | positional embeddings | none | learned (1, C, G, G) on the query and key inputs |
# | residual in R_SET | projected q′ | **raw** query input (block input tokens) |
# | MLP | Linear, Linear | Linear, GELU, Linear |
#
# So block 2 is a cross-attention from block 1's output back to FIT's output. We now write the whole
# release SET ourselves (heads, embeddings, two blocks, raw residual, GELU), using the package
# module's weights, and compare with `SET(variant="official")`.

# %%
set_off = SET(TransformerConfig(variant="official", dim=DIM, grid=G, heads=HEADS)).to(device)
set_off = set_off.eval()
reset_default_init(set_off)


def split_heads(t: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, N, C) -> (B, H, N, D), head h takes channels [h D, (h + 1) D)."""
    b, n, c = t.shape
    return t.reshape(b, n, heads, c // heads).permute(0, 2, 1, 3)


def merge_heads(t: torch.Tensor) -> torch.Tensor:
    """(B, H, N, D) -> (B, N, H D)."""
    b, h, n, d = t.shape
    return t.permute(0, 2, 1, 3).reshape(b, n, h * d)


def release_set_block(
    blk, query: torch.Tensor, key: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One release SET block from blk's weights. query, key (B, C, G, G) -> (B, C, G, G), A."""
    q = split_heads(eta(blk.query(query + blk.pos_query)), HEADS)  # (B, H, N, D)
    k = split_heads(eta(blk.key(key + blk.pos_key)), HEADS)  # (B, H, N, D)
    v = split_heads(eta(blk.value(key)), HEADS)  # (B, H, N, D): no embedding on the value
    a = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(DIM // HEADS), dim=-1)  # (B, H, N, N)
    r = merge_heads(a @ v) + eta(query)  # (B, N, C): raw-query residual
    ln, lin1, lin2 = blk.ffn.norm, blk.ffn.mlp[0], blk.ffn.mlp[2]
    h = F.gelu(F.linear(F.layer_norm(r, (DIM,), ln.weight, ln.bias), lin1.weight, lin1.bias))
    r = r + F.linear(h, lin2.weight, lin2.bias)  # (B, N, C)
    return psi(r, G), a


out1, a1 = release_set_block(set_off.blocks[0], F_FIT, F_FIT)  # self-attention
out2, a2 = release_set_block(set_off.blocks[1], out1, F_FIT)  # back to F_FIT
package_off, maps_off = set_off(F_FIT, return_maps=True)
assert_close(out2, package_off)
assert_close((a1, a2), (maps_off.softmax[0], maps_off.softmax[1]))
print(
    f"release SET by hand = package SET(official): max |diff| {(out2 - package_off).abs().max():.1e}"
)
print("maps:", [tuple(m.shape) for m in maps_off.softmax])

# %% [markdown]
# ### 7.1 What the residual does at initialisation
# Training starts from the release's init: every conv N(0, 0.001), bias 0, every Linear N(0, 0.01).
# Then q′ = Q′(F_FIT) is of order √C · 0.001 of F_FIT's size, and so is everything Algorithm 2
# outputs: SET *erases* its input at the start of training. The release's raw residual passes the input on.
# To separate the residual from the other differences, the third row is Algorithm 2 with only its
# residual changed to the raw input (built by hand from the supplement module's weights). Measured:
# ‖F_SET‖ / ‖F_FIT‖ and the cosine between them.


# %%
def algorithm2(blk, x: torch.Tensor, raw_residual: bool) -> torch.Tensor:
    """Algorithm 2 from blk's weights; raw_residual=True adds eta(x) in place of q'."""
    q, k, v = (eta(conv(x)) for conv in (blk.query, blk.key, blk.value))  # (B, N, C)
    r = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(DIM), -1) @ v  # (B, N, C)
    r = r + (eta(x) if raw_residual else q)  # R_SET
    return psi(r + blk.ffn.mlp(blk.ffn.norm(r)), G)  # (B, C, G, G)


def pass_through(y: torch.Tensor, x: torch.Tensor) -> tuple[float, float]:
    """(|y| / |x|, cos(y, x))."""
    return (y.norm() / x.norm()).item(), F.cosine_similarity(y.flatten(), x.flatten(), 0).item()


torch.manual_seed(SEED)
sup0 = SET(TransformerConfig(variant="supplement", dim=DIM, grid=G)).to(device).eval()
off0 = SET(TransformerConfig(variant="official", dim=DIM, grid=G, heads=HEADS)).to(device).eval()
assert_close(algorithm2(sup0.blocks[0], F_FIT, raw_residual=False), sup0(F_FIT)[0])
q0 = eta(sup0.blocks[0].query(F_FIT))  # q' at release init, (B, N, C)
print(
    f"|q'| / |F_FIT| = {(q0.norm() / F_FIT.norm()).item():.4f}; sqrt(C) * 0.001 = {DIM**0.5 * 1e-3:.4f}"
)
outputs = {
    "supplement (q' residual)": sup0(F_FIT)[0],
    "supplement, raw residual": algorithm2(sup0.blocks[0], F_FIT, raw_residual=True),
    "release (raw residual)": off0(F_FIT)[0],
}
residual_table = pd.DataFrame(
    [(name, *pass_through(y, F_FIT)) for name, y in outputs.items()],
    columns=["SET at release init", "|F_SET| / |F_FIT|", "cos(F_SET, F_FIT)"],
)
print(residual_table.round(4).to_string(index=False))
ratio = residual_table["|F_SET| / |F_FIT|"]
assert ratio[0] < 0.1 and ratio[1] > 0.9 and ratio[2] > 0.9

# %% [markdown]
# The q′ residual starts SET as a near-zero map of its input; changing only the residual to the
# raw input makes SET start as (nearly) the identity, like the release. Everything downstream
# (the regressor) therefore sees a tiny feature at step 0 with Algorithm 2 as written. Training can
# grow the weights, but the two variants do not start from the same place.
#
# ## 8. Explicit vs fused attention
#
# A v′ without storing A: `F.scaled_dot_product_attention` computes the same softmax attention
# in a fused kernel (memory-efficient on CPU and GPU, flash attention on recent GPUs). Check on our
# tensors, then on the package's release SET with `path="explicit"` vs `path="fused"`:

# %%
R_fused = F.scaled_dot_product_attention(q_[:, None], k_[:, None], v_[:, None], scale=d_k**-0.5)
R_fused = R_fused[:, 0] + q_  # (B, N, C)
assert_close(R_fused, R_SET)
print(f"supplement R_SET, fused vs explicit: max |diff| {(R_fused - R_SET).abs().max():.1e}")

paths = {}
for path in ("explicit", "fused"):
    cfg = TransformerConfig(variant="official", dim=DIM, grid=G, heads=HEADS, path=path)
    paths[path] = SET(cfg).to(device).eval()
    paths[path].load_state_dict(set_off.state_dict())
out_e, out_f = paths["explicit"](F_FIT)[0], paths["fused"](F_FIT)[0]
assert_close(out_f, out_e, rtol=1e-4, atol=1e-5)
print(f"release SET, fused vs explicit path: max |diff| {(out_f - out_e).abs().max():.1e}")

# %% [markdown]
# ## 9. SET inside the network: SET(FIT(F_S, F_P))
#
# In HandOccNet, SET's input is FIT's output (release: `f = FIT(s, p); f = SET(f, f)`). The `tiny`
# preset has both modules (release variant, 2 heads, 2 blocks); its `enhance` must equal the two
# calls chained by hand.

# %%
net = HandOccNet.from_config("tiny").to(device).eval()
t_dim, t_grid = net.cfg.feat_dim, net.cfg.grid
f_p, f_s = (torch.randn(B, t_dim, t_grid, t_grid, device=device) for _ in range(2))
chained = net.set(net.fit(f_s, f_p)[0])[0]  # query F_S, key/value F_P, then SET
enhanced, _ = net.enhance(f_p, f_s, return_maps=False)
assert_close(enhanced, chained)
print(
    f"tiny preset: C = {t_dim}, G = {t_grid}; enhance = SET(FIT(F_S, F_P)), shape {tuple(enhanced.shape)}"
)

# %% [markdown]
# ## 10. Looking at one query
#
# For one query location (red dot): its row of C′ (Algorithm 2, one head), then its row in head 0 of
# the release's block 1 (self-attention) and block 2 (attention from block 1's output back to
# F_FIT), and the attention each key *receives* in Algorithm 2 (column sums of C′; the mean is 1).
# **Random weights on random features**: the pictures show shapes and normalisation only.

# %%
qi = (G // 2) * G + G // 3
qr, qc = divmod(qi, G)
received = C_p[0].sum(0)  # (N,): attention received per key
panels = [
    (C_p[0, qi], f"Alg. 2: C' row of ({qr}, {qc})"),
    (a1[0, 0, qi], "release block 1, head 0"),
    (a2[0, 0, qi], "release block 2, head 0"),
    (received, "Alg. 2: attention received per key"),
]
fig, axes = plt.subplots(1, 4, figsize=(15, 3.5))
for ax, (m, title) in zip(axes, panels, strict=True):
    im = ax.imshow(m.reshape(G, G).cpu().numpy(), cmap="viridis")
    if "received" not in title:
        ax.plot(qc, qr, "o", color="red", ms=6)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    fig.colorbar(im, ax=ax, fraction=0.046)
fig.suptitle("SET attention, random weights on random features (no learned meaning)", fontsize=10)
save_figure(fig, "05_set_maps")
plt.show()
print(
    f"attention received per key: min {received.min():.2f}, mean {received.mean():.2f}, max {received.max():.2f}"
)
assert math.isclose(received.mean().item(), 1.0, rel_tol=1e-4)

# %% [markdown]
# ## Summary
# - Algorithm 2 is three projections of the same map, a row-stochastic softmax map C′,
#   R_SET = C′v′ + q′, and F_SET = ψ(R) + ψ(MLP(LN(R))), with no residual from F_FIT itself. Every
#   step matched the package.
# - The release uses 4 heads, 2 blocks (block 2 attends back to F_FIT), positional embeddings, GELU,
#   and adds the raw query where Algorithm 2 adds q′. Rebuilt by hand, it matched the package.
# - At the release's initialisation Algorithm 2's SET outputs a tiny multiple of its input, while the
#   raw residual makes SET start near the identity: the residual choice decides where training
#   starts.
# - The fused kernel gives the same R_SET without the N × N map.
#
# ## Exercises
# 1. Why does SET need no sigmoid gate, while FIT has one? Answer from what the queries are in each.
# 2. Give SET's block 2 its *own* output as key and value (pure self-attention twice). Does it still
#    match the package? What would you change in `release_set_block`'s calls?
# 3. Remove the positional embeddings from `release_set_block` and test permutation equivariance as
#    in notebook 04, section 8.3.
# 4. With the release's init, how does ‖F_SET‖ / ‖F_FIT‖ of Algorithm 2 scale with C? Predict from
#    √C · 0.001, then measure for C = 32, 64, 128, 256.
