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
# # 08 · Attention explorer: where does an occluded location look?
#
# **Goal.** Point at a location of a SynthOcc image, preferably one where the hand is hidden by
# an object, and see what FIT and SET do there: FIT's softmax map A, its sigmoid gate g, their
# product C = g·A, and SET's softmax map, for every head and block, drawn over the image. Then
# measure, over several images, whether hidden-hand locations really pull their features from
# the visible hand, as the paper claims.
#
# After this notebook you will be able to
# - read one row of an attention map as "where this query location takes its values from";
# - tell the softmax map (where to look) from the gate (how much to take) and their product;
# - test a claim about attention with a number instead of a picture.
#
# Paper: Park et al., *HandOccNet*, CVPR 2022: "FIT injects hand information into the correlated
# occlusion region" (supplement, S1.1). Notebooks 04 and 05 built FIT and SET line by line; here
# they run inside the whole network, on images. Shape letters: B batch, H heads, N tokens, G grid
# side (N = G²), S image side.
#
# Two trained models come with the collection, one per variant of FIT and SET: the release's
# ("official", its gate sums over all keys) and the supplement's pseudocode ("supplement", its
# gate averages over them). Sections 1-4 study the official one; section 4.2 compares the two
# gates; the explorer lets you switch between them.
#
# The plotting is pure functions in `handoccnet_lite/viz/`; the explorer at the end is one call,
# `viz.attention_explorer(model, data)`. There you can also **occlude the hand yourself**: place a
# disc or a box in front of it and watch the prediction, the spatial gate and the maps change.
# Without a live kernel (papermill, CI) the same views are written as static figures to
# `figures/08_attention_*.png`.

# %% tags=["parameters"]
PROFILE = "quick"  # "quick": 6 images, CPU seconds; "full": 24 images
CHECKPOINT = ""  # the model, one path; empty: the bundled teaching models (official studied)

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from handoccnet_lite import viz
from handoccnet_lite.config import preset
from handoccnet_lite.data.dataset import SynthOccDataset
from handoccnet_lite.model import HandOccNet
from handoccnet_lite.utils import (
    BUNDLED_CHECKPOINTS,
    DATA_SAMPLES_DIR,
    resolve_device,
    save_figure,
    seed_everything,
)

SEED = 0
N_IMAGES = 6 if PROFILE == "quick" else 24
MIN_OCCLUSION = 0.25  # pick test images with at least this fraction of the hand hidden
CKPT = Path(CHECKPOINT) if CHECKPOINT else BUNDLED_CHECKPOINTS["official"]
seed_everything(SEED)
device = resolve_device("auto")
torch.set_grad_enabled(False)  # forward passes only
torch.set_num_threads(min(torch.get_num_threads(), 2))  # a laptop's share; the explorer is light
print(f"profile: {PROFILE} | device: {device} | images: {N_IMAGES}")

# %% [markdown]
# ## 0. Which weights?
#
# Attention maps mean something only for a trained network. If the bundled checkpoint exists
# (a teaching model trained by this project on SynthOcc for hours with `handoccnet-lite teach`,
# see notebook 07 and results/teach/README.md) we load it. Otherwise the network keeps
# its initial weights, and **every map below comes from random weights**: the release's
# initialisation (very small 1×1 convs, notebook 04) makes every attention logit nearly 0, so the
# maps are nearly uniform (section 2 measures how nearly) and carry no learned meaning. The cell says which case ran.

# %%
if CKPT.is_file():
    from handoccnet_lite.cli import load_trained

    model, cfg = load_trained(CKPT)
    TRAINED = True
else:
    cfg = preset("lite")
    model = HandOccNet(cfg)
    TRAINED = False
model = model.to(device).eval()
WEIGHTS = f"trained ({CKPT.name})" if TRAINED else "RANDOM (no checkpoint found)"
G, S = cfg.grid, cfg.input_size
print(f"weights: {WEIGHTS}")
print(f"model: {cfg.backbone}, input {S} px, C = {cfg.feat_dim}, grid {G} x {G} = {G * G} tokens")
print(
    f"FIT: {cfg.fit.variant}, {cfg.fit.num_heads} heads, {cfg.fit.num_blocks} blocks, "
    f"attention {cfg.fit.attention} | SET: {cfg.set.num_heads} heads, {cfg.set.num_blocks} "
    f"blocks | use_fit={cfg.use_fit}, use_set={cfg.use_set}"
)

# %%
from handoccnet_lite.doctor import bundled_model_caveat

if TRAINED:
    print(bundled_model_caveat())
# every bundled teaching model (one per variant), for section 4.2 and the explorer
MODELS = {"official": model} if TRAINED and not CHECKPOINT else {Path(CKPT).stem: model}
if TRAINED and not CHECKPOINT:
    for name, path in BUNDLED_CHECKPOINTS.items():
        if name not in MODELS and path.is_file():
            MODELS[name] = load_trained(path)[0].to(device).eval()
print(f"models: {', '.join(MODELS)}")

# %% [markdown]
# ## 1. Occluded test images and their masks on the token grid
#
# SynthOcc knows exactly which hand pixels an object hides (`occlusion_mask`, notebook 02). We
# crop each mask exactly like the image (`viz.crop_mask` sends it through the same crop) and
# average it over each token's pixel block (`viz.mask_to_grid`): the fraction of that token that
# is hidden hand. A token is called **occluded** when at least half of it is hidden hand, and
# **visible hand** when at least half of it is hand that is not hidden.

# %%
data = SynthOccDataset.for_model(DATA_SAMPLES_DIR / "synthocc", "test", cfg)  # centred crops
occ_all = np.array([data.record(i)["occlusion"] for i in range(len(data))])
candidates = np.flatnonzero(occ_all >= MIN_OCCLUSION)
candidates = candidates[np.argsort(occ_all[candidates])]  # least to most occluded
picks = [int(candidates[round(q)]) for q in np.linspace(0, len(candidates) - 1, N_IMAGES)]
items = [data[i] for i in picks]
images = torch.stack([it["image"] for it in items]).to(device)  # (B, 3, S, S)


def token_masks(idx: int) -> dict[str, np.ndarray]:
    """Cropped masks of test sample idx: pixels (S, S) and per-token fractions (G, G)."""
    rec = data.record(idx)
    hidden = viz.crop_mask(rec, data.cfg, "occlusion_mask")  # (S, S)
    hand = viz.crop_mask(rec, data.cfg, "hand_mask")  # (S, S)
    return {
        "hidden_px": hidden,
        "hidden": viz.mask_to_grid(hidden, G),  # (G, G)
        "visible_px": np.clip(hand - hidden, 0, 1),  # (S, S)
        "visible": viz.mask_to_grid(np.clip(hand - hidden, 0, 1), G),  # (G, G)
    }


masks = [token_masks(i) for i in picks]
occluded = [viz.occluded_tokens(m["hidden"], 0.5) for m in masks]
summary = pd.DataFrame(
    {
        "test index": picks,
        "occlusion": occ_all[picks].round(2),
        "occluded tokens": [len(o) for o in occluded],
        "visible-hand tokens": [int((m["visible"] >= 0.5).sum()) for m in masks],
    }
)
print(summary.to_string(index=False))
assert images.shape == (N_IMAGES, 3, S, S)

# %% [markdown]
# ## 2. One forward pass, every map
#
# `model(image, return_maps=True)` runs FIT and SET on their explicit path and returns, per
# module, an `AttentionMaps` with one entry per block: `softmax` (B, H, N, N), `gate` (B, H, N, 1)
# (FIT only) and `product` (B, H, N, N) = softmax × gate. The checks: rows of A sum to 1, rows of
# C sum to the gate (notebook 04, section 6), and the gate lies in [0, 1] (a sigmoid never
# reaches 0 or 1, but in float32 it rounds to exactly 0 or 1 once its argument is large).

# %%
out = model(images, return_maps=True)
maps = out["maps"]
shape = viz.map_shape(maps)
for name, m in maps.items():
    if m is None:
        print(f"{name}: switched off in this model")
        continue
    print(
        f"{name}: {m.num_blocks} blocks, softmax {tuple(m.softmax[0].shape)}, "
        f"gate {tuple(m.gate[0].shape) if m.gate else None}"
    )
    for b in range(m.num_blocks):
        rows = m.softmax[b].sum(-1)  # (B, H, N)
        torch.testing.assert_close(rows, torch.ones_like(rows))
        if m.gate:
            torch.testing.assert_close(m.product[b].sum(-1, keepdim=True), m.gate[b])
            assert (
                (m.gate[b] >= 0) & (m.gate[b] <= 1)
            ).all()  # a sigmoid; float32 may round to 0 or 1
fit_maps = maps["fit"]
flatness = max(
    (a.amax(-1) - 1 / (G * G)).abs().max().item() for a in (fit_maps or maps["set"]).softmax
)
print(
    f"max over queries of (largest weight in the row - 1/N), 1/N = {1 / (G * G):.5f}: {flatness:.4f}"
)
if fit_maps is not None and fit_maps.gate:
    sat_rows = []
    for b, g in enumerate(fit_maps.gate):  # (B, H, N, 1) each
        sat_rows.append(
            {
                "block": b,
                "gate mean": g.mean().item(),
                "g < 0.01": (g < 0.01).float().mean().item(),
                "g > 0.99": (g > 0.99).float().mean().item(),
                "g exactly 0 or 1 (float32)": ((g == 0) | (g == 1)).float().mean().item(),
            }
        )
    saturation = pd.DataFrame(sat_rows).set_index("block")
    print(f"FIT gate ({cfg.fit.pool}-pooled), shares of query x head values:")
    print(saturation.round(3).to_string())

# %% [markdown]
# The first line after the checks measures how far the maps are from uniform: near 0 means flat
# maps (what the random initial weights give), larger values mean some keys get much more than an
# equal share. The gate table counts saturated gate values: notebook 04 (section 8.2) predicted
# that the release's sum-pooled gate saturates once its weights have ordinary size. For a
# saturated query, g ≈ 0 means FIT passes it (almost) nothing, g ≈ 1 everything A offers.

# %%
if fit_maps is not None and fit_maps.gate:
    for b, r in saturation.iterrows():
        print(
            f"FIT block {b}: {r['g < 0.01'] + r['g > 0.99']:.0%} of the gate values are saturated; "
            f"{r['g < 0.01']:.0%} are below 0.01 (those queries take almost nothing from FIT's "
            f"attention), {r['g > 0.99']:.0%} above 0.99. Weights: {WEIGHTS}."
        )
else:
    print("This model's FIT has no sigmoid gate.")

# %% [markdown]
# ## 3. A fixed occluded query, every view (the static figures)
#
# The query is the most occluded token of the most occluded picked image. Panels, left to right:
# the image (hidden-hand pixels outlined in cyan, the query token in red); FIT's softmax row A[q]
# (where the query looks among the primary-feature keys); FIT's gate g at every query location
# (its value at the query is in the title); C[q] = g[q]·A[q] on the same colour scale as A[q], so
# a small gate visibly dims it; SET's softmax row A′[q]. Block 0, head 0; the second figure shows
# C[q] for every block and head.
#
# **Reading the colours.** An attention row is drawn relative to the uniform share 1/N (the tick
# "1/N" on its colour bar): white and transparent where a key gets exactly 1/N, red where it gets
# more, blue where it gets less. A nearly uniform row therefore leaves the image visible instead
# of painting it all one hot colour. Gates (s, g) run from 0 to 1.

# %%
with_tokens = [i for i, o in enumerate(occluded) if len(o)]
SAMPLE0 = with_tokens[-1] if with_tokens else N_IMAGES - 1
QUERY0 = int(occluded[SAMPLE0][0]) if len(occluded[SAMPLE0]) else viz.token_index(G // 2, G // 2, G)
row0, col0 = viz.token_rowcol(QUERY0, G)
hidden0 = masks[SAMPLE0]["hidden"][row0, col0]
print(
    f"image {SAMPLE0} (test #{picks[SAMPLE0]}), query token ({row0}, {col0}): "
    f"{hidden0:.0%} of it is hidden hand"
)
fig = viz.explorer_figure(
    maps,
    images[SAMPLE0],
    QUERY0,
    head=0,
    block=0,
    sample=SAMPLE0,
    occlusion=masks[SAMPLE0]["hidden_px"],
    visible=masks[SAMPLE0]["visible_px"],
    spatial_gate=out["gate"][SAMPLE0, 0],
    joints_img=out["joints_img"][SAMPLE0],
    suptitle=f"weights: {WEIGHTS}",
)
save_figure(fig, "08_attention_explorer")
plt.show()

# %%
for name in ("fit", "set"):
    if maps[name] is None:
        continue
    kind = "product" if name == "fit" else "softmax"
    fig = viz.heads_blocks_figure(maps[name], images[SAMPLE0], QUERY0, kind, sample=SAMPLE0)
    fig.suptitle(
        f"{name.upper()} {kind} row of query ({row0}, {col0}); weights: {WEIGHTS}",
        fontsize=10,
        y=1.02,
    )
    save_figure(fig, f"08_attention_{name}_heads_blocks")
    plt.show()

# %% [markdown]
# ## 4. Does a hidden-hand location look at the visible hand? A number, not a picture
#
# For every picked image and every occluded query token, sum FIT's softmax row A[q] over the
# visible-hand tokens: the share of its attention that lands on the visible hand. Uniform
# attention would give exactly the share of tokens that are visible hand; so the **ratio**
# (attention share / token share) is 1 for a map that ignores where the hand is, and above 1 for
# one that prefers the visible hand. Averaged over heads; one value per block. Also: the mean gate
# at occluded, visible-hand and other tokens.


# %%
def visible_attention(m, block: int) -> pd.DataFrame:
    """Per image: attention share of occluded queries on visible-hand keys vs their token share."""
    rows = []
    attn = m.softmax[block].mean(1)  # (B, N, N), mean over heads
    for i, mk in enumerate(masks):
        vis = torch.as_tensor(mk["visible"].ravel() >= 0.5, device=attn.device)  # (N,)
        qs = torch.as_tensor(occluded[i], device=attn.device, dtype=torch.long)
        if len(qs) == 0 or not vis.any():
            continue
        share = attn[i, qs][:, vis].sum(-1).mean().item()  # mean over occluded queries
        rows.append((i, block, len(qs), share, vis.float().mean().item()))
    cols = ["image", "block", "occluded queries", "attention share", "token share"]
    df = pd.DataFrame(rows, columns=cols)
    return df.assign(ratio=df["attention share"] / df["token share"])


attn_module = "fit" if maps["fit"] is not None else "set"
shares = pd.concat(
    [visible_attention(maps[attn_module], b) for b in range(maps[attn_module].num_blocks)]
)
print(f"{attn_module.upper()} softmax, weights: {WEIGHTS}")
print(shares.round(3).to_string(index=False))
by_block = shares.groupby("block")["ratio"].agg(["mean", "min", "max", "count"])
print(by_block.round(3).to_string())

# %%
for block, rows in shares.groupby("block"):
    # viz.ratio_verdict says "in every image" only when every ratio lies on that side of 1
    print(
        f"{attn_module.upper()} block {block}: occluded queries {viz.ratio_verdict(rows['ratio'])}."
    )
if not TRAINED:
    print("These are RANDOM weights: the ratios above say nothing about HandOccNet.")

# %%
if maps["fit"] is not None and maps["fit"].gate:
    gate_rows = []
    for b in range(maps["fit"].num_blocks):
        g = maps["fit"].gate[b].mean(1)[..., 0].cpu().numpy()  # (B, N), mean over heads
        for i, mk in enumerate(masks):
            kind = np.full(G * G, "other", dtype=object)
            kind[mk["visible"].ravel() >= 0.5] = "visible hand"
            kind[mk["hidden"].ravel() >= 0.5] = "occluded"
            gate_rows += [(b, k, v) for k, v in zip(kind, g[i], strict=True)]
    gates = pd.DataFrame(gate_rows, columns=["block", "token", "gate"])
    print(f"FIT gate g, mean over heads and tokens ({WEIGHTS}):")
    print(gates.pivot_table(index="block", columns="token", values="gate").round(3).to_string())
else:
    print("This model's FIT has no sigmoid gate (attention='softmax' or FIT off).")

# %% [markdown]
# ### 4.1 The same questions over the test split: `attention_stats`
#
# `handoccnet_lite.evaluation.attention_stats` measures, per block and head, over many images:
# **gate AUC**, how well the spatial gate s ranks visible-hand cells above cells without visible
# hand (1 perfect, 0.5 chance); the **visible-attention ratio** of section 4 for occluded-hand
# queries, and the same for background queries as a control (keys F_P = F·s are large wherever s
# is, so every query may favour the visible hand: the occluded hand looks *specifically* at the
# visible hand only when its ratio exceeds the background's); and the share of FIT gate values
# g that are **not saturated** (inside (0.05, 0.95); near 0 means the gate acts as a switch).

# %%
from handoccnet_lite.evaluation.attention_report import summarize_attention_stats
from handoccnet_lite.evaluation.attention_stats import attention_stats

stats = attention_stats(
    model, data, max_batches=4 if PROFILE == "quick" else None, batch_size=8, progress=False
)
print(summarize_attention_stats(stats))
print(f"\nWhat these numbers mean ({WEIGHTS}):")
print("\n".join(viz.attention_stats_sentences(stats)))

# %% [markdown]
# Read these tables before the pictures: one image can show anything, the ratio over many
# occluded tokens is the claim. Exercise 3 asks you to repeat it for SET and for the other
# variants of notebook 09.
#
# ### 4.2 Two gates: a switch and a dial
#
# FIT's gate is g = sigmoid(pool(Q·K)) over the N keys of a query. The release pools with a
# **sum** over N = 256 keys; the supplement's pseudocode with a **mean**. The sum makes the
# logit N times larger, so the sigmoid sits at 0 or 1 for almost every query: a switch. The mean
# keeps it in the sigmoid's graded range: a dial. Below, the FIT gate values of hand-region
# queries of both bundled models over the same test images, and the share inside (0.05, 0.95).

# %%
def hand_gate_values(m) -> np.ndarray:
    """FIT gate values g (heads and blocks pooled) at tokens that are at least half hand."""
    values = []
    for i in picks:
        item = data[int(i)]
        out = m(item["image"][None].to(device), return_maps=True)
        hand = (item["visible_mask"] + item["occluded_mask"]).ravel() >= 0.5  # (N,)
        for g in out["maps"]["fit"].gate:  # per block: (1, H, N, 1)
            values.append(g[0, :, :, 0][:, hand.to(g.device)].flatten().float().cpu().numpy())
    return np.concatenate(values)


gate_values = {
    name: hand_gate_values(m)
    for name, m in MODELS.items()
    if m.cfg.use_fit and m.cfg.fit.attention == "softmax_sigmoid"
}
fig, axes = plt.subplots(1, len(gate_values), figsize=(4.2 * len(gate_values), 3.2), squeeze=False)
for ax, (name, v) in zip(axes[0], gate_values.items(), strict=True):
    inside = float(((v > 0.05) & (v < 0.95)).mean())
    ax.hist(v, bins=np.linspace(0, 1, 41), color="tab:blue" if name == "official" else "tab:green")
    ax.set_title(f"{name}: {inside:.0%} of gate values in (0.05, 0.95)", fontsize=9)
    ax.set_xlabel("FIT gate g at hand-region queries")
    ax.set_ylabel("count (heads x blocks x tokens)")
    print(f"{name}: {len(v)} gate values, {inside:.1%} inside (0.05, 0.95)")
fig.suptitle(f"FIT gate values over {len(picks)} test images (SynthOcc, synthetic)", fontsize=10)
fig.tight_layout()
save_figure(fig, "08_gate_values_by_variant")
plt.show()

# %% [markdown]
# The graded gate is not the whole story: the same measures as in 4.1, for every other model.
# Where does the supplement's FIT look from an occluded query? Compare its ratio with its
# background control.

# %%
for name, m in MODELS.items():
    if m is model:
        continue
    other = attention_stats(
        m, data, max_batches=4 if PROFILE == "quick" else None, batch_size=8, progress=False
    )
    print(f"{name}:")
    print("\n".join(viz.attention_stats_sentences(other)))

# %% [markdown]
# With the sum the gate mostly answers "take it all / take nothing"; with the mean it weighs.
# Notebook 04 shows the switch `TransformerConfig(gate_pool=...)` that trains either; and
# `results/teach/trials/gate_pooling.txt` recomputes one trained official model's gates from the
# very same q and k both ways: 99.7 % (block 0) would be graded with the mean, 1.0 % with the sum.
#
# ## 5. The explorer: look, then occlude it yourself
#
# One call builds it: `viz.attention_explorer(model, data)`, or with `{name: model}` a **model**
# menu (here the official and the supplement teaching models: compare their g and C panels).
# Pick a test image, a query token
# (`query row`, `query col`, or **jump to an occluded token**, most hidden first), a head and a
# block. **colour scale**: "A and C on one scale" draws C = g·A on A's scale, so a small gate
# visibly dims it; "each on its own scale" gives C its own, and C then looks exactly like A (it
# is A times one number): the reason notebook 04 needs the shared scale.
#
# **your occluder**: choose `disc` or `box`, then move it (`occluder x`, `occluder y`, fractions
# of the crop) and size it. The object is placed in 3D just in front of the hand and the scene is
# re-rendered (`viz.OccludableSample`): hand pixels behind it become hidden hand (cyan outline),
# the network runs again, and the prediction (yellow skeleton), the spatial gate s and every map
# update. Try hiding the fingertips the model still sees and watch the skeleton and s.
# The status line gives the hidden fraction and the time of the last redraw. Without a live kernel
# the widget shows nothing; the figures below are the record.

# %%
explorer = viz.attention_explorer(MODELS, data, n_images=N_IMAGES, weights=f"weights: {WEIGHTS}")
explorer

# %% [markdown]
# The same explorer, driven from code: a disc over the visible hand. The figure is saved as
# `figures/08_attention_occluder.png`.

# %%
explorer.controls["shape"].value = "disc"
print(explorer.status.value.split(" | ")[0])
fig = explorer.figure()
save_figure(fig, "08_attention_occluder")
plt.show()
explorer.controls["shape"].value = "none"

# %% [markdown]
# ## Summary
# - One row of FIT's softmax map says where a query location (built from the secondary, possibly
#   occluded, feature) takes its values from among the primary-feature locations; the gate then
#   decides how much of that it takes, and C = g·A is what is actually used. SET then mixes all
#   locations with a plain softmax map.
# - Section 4 turned "occluded locations look at the visible hand" into a measured ratio per
#   block, printed above for the weights that ran (trained or random, as printed in section 0).
# - The plotting lives in `handoccnet_lite.viz` (pure functions, tested); the explorer is one
#   call, `viz.attention_explorer(model, data)`, and lets you occlude the hand yourself.
#
# ## Exercises
# 1. Move the query from an occluded token to a background token far from the hand. How do A[q],
#    g[q] and C[q] change? Check your impression with section 4's ratio computed for background
#    queries.
# 2. Compare the heads of block 0: do they look at different parts of the hand? Quantify with the
#    attention share on visible-hand tokens per head instead of the mean over heads.
# 3. Repeat section 4 for SET (`attn_module = "set"`) and for a model trained with
#    `fit.attention="softmax"` (notebook 09's `fit_softmax` variant, `load_trained` on its
#    run folder). Does the softmax-only FIT look elsewhere?
# 4. The ratio in section 4 uses the mean over heads. Why could the mean hide a head that attends
#    strongly to the visible hand? Propose a statistic that would not.
