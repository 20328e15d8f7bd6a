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
# The plotting is pure functions in `handoccnet_lite/viz.py`; the widget cell at the end only
# connects sliders to them. Without a live kernel (papermill, CI) the same views are written as
# static figures to `figures/08_attention_*.png`.

# %% tags=["parameters"]
PROFILE = "quick"  # "quick": 6 images, CPU seconds; "full": 24 images
CHECKPOINT = ""  # empty: the bundled data_samples/checkpoints/lite_synthocc.pt

# %%
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display

from handoccnet_lite import viz
from handoccnet_lite.config import preset
from handoccnet_lite.data.dataset import SynthOccDataset
from handoccnet_lite.model import HandOccNet
from handoccnet_lite.utils import DATA_SAMPLES_DIR, resolve_device, save_figure, seed_everything

SEED = 0
N_IMAGES = 6 if PROFILE == "quick" else 24
MIN_OCCLUSION = 0.25  # pick test images with at least this fraction of the hand hidden
CKPT = Path(CHECKPOINT) if CHECKPOINT else DATA_SAMPLES_DIR / "checkpoints" / "lite_synthocc.pt"
seed_everything(SEED)
device = resolve_device("auto")
torch.set_grad_enabled(False)  # forward passes only
print(f"profile: {PROFILE} | device: {device} | images: {N_IMAGES}")

# %% [markdown]
# ## 0. Which weights?
#
# Attention maps mean something only for a trained network. If the bundled checkpoint exists
# (trained by this project on SynthOcc, see notebook 07) we load it. Otherwise the network keeps
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

# %% [markdown]
# ## 1. Occluded test images and their masks on the token grid
#
# SynthOcc knows exactly which hand pixels an object hides (`occlusion_mask`, notebook 02). We
# crop each mask exactly like the image (`viz.crop_mask` sends it through the same crop) and
# average it over each token's pixel block (`viz.mask_to_grid`): the fraction of that token that
# is hidden hand. A token is called **occluded** when at least half of it is hidden hand, and
# **visible hand** when at least half of it is hand that is not hidden.

# %%
data = SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", input_size=S)  # centred crops
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
TOL = 0.05  # ratios within 5% of 1 count as uniform attention


def verdict(lo: float, hi: float, mean: float) -> str:
    """What the per-image ratios say, with the tolerance TOL around 1."""
    if lo > 1 + TOL:
        return f"prefer the visible hand (every image's ratio > {1 + TOL:.2f})"
    if hi < 1 - TOL:
        return f"avoid the visible hand (every image's ratio < {1 - TOL:.2f})"
    if lo >= 1 - TOL and hi <= 1 + TOL:
        return f"attend about uniformly (every ratio within {TOL:.0%} of 1)"
    lean = "towards" if mean > 1 else "away from"
    return f"lean {lean} the visible hand on average, but not in every image"


for block, r in by_block.iterrows():
    print(
        f"{attn_module.upper()} block {block}: occluded queries {verdict(r['min'], r['max'], r['mean'])}; "
        f"ratio mean {r['mean']:.2f}, range {r['min']:.2f}-{r['max']:.2f} over "
        f"{int(r['count'])} images."
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
# Read these tables before the pictures: one image can show anything, the ratio over many
# occluded tokens is the claim. Exercise 3 asks you to repeat it for SET and for the other
# variants of notebook 09.
#
# ## 5. The explorer
#
# Pick an image (`image`), a query location (`row`, `col`), a head and a block. **Jump to an
# occluded token** moves the query to the next hidden-hand token of the image, most hidden first.
# The figure is redrawn by `viz.explorer_figure`, the same function that made section 3's
# figure, and shown as a PNG in an image widget (`viz.figure_png`). It needs a live kernel:
# opened without one (a rendered copy, CI) it shows nothing, and section 3's static figures are
# the record.

# %%
n_blocks = min(n for n, _ in shape.values())
n_heads = min(h for _, h in shape.values())
busy = {"on": False}  # True while `jump` moves two sliders: one redraw, not two

image_w = widgets.IntSlider(value=SAMPLE0, min=0, max=N_IMAGES - 1, description="image")
row_w = widgets.IntSlider(value=row0, min=0, max=G - 1, description="row")
col_w = widgets.IntSlider(value=col0, min=0, max=G - 1, description="col")
head_w = widgets.Dropdown(options=list(range(n_heads)), value=0, description="head")
block_w = widgets.Dropdown(options=list(range(n_blocks)), value=0, description="block")
jump_w = widgets.Button(description="jump to an occluded token", icon="crosshairs")
status_w = widgets.Label()
plot_w = widgets.Image(format="png")  # the figure, re-rendered as PNG on every change
for w, name in ((plot_w, "plot"), (col_w, "col"), (row_w, "row"), (jump_w, "jump")):
    w.add_class(f"hoc-explorer-{name}")  # stable hooks for tests/test_browser.py


def redraw(*_) -> None:
    """Render the explorer figure for the widgets' current values into the image widget."""
    if busy["on"]:
        return
    i, q = image_w.value, viz.token_index(row_w.value, col_w.value, G)
    hidden = masks[i]["hidden"][row_w.value, col_w.value]
    status_w.value = (
        f"test #{picks[i]} (occlusion {occ_all[picks[i]]:.2f}); token "
        f"({row_w.value}, {col_w.value}) is {hidden:.0%} hidden hand; {WEIGHTS}"
    )
    fig = viz.explorer_figure(
        maps, images[i], q, head_w.value, block_w.value, sample=i, occlusion=masks[i]["hidden_px"]
    )
    plot_w.value = viz.figure_png(fig)  # closes the figure


def jump(_=None) -> None:
    """Move the query to the image's next occluded token after the current one (most occluded
    first, cycling)."""
    tokens = [int(t) for t in occluded[image_w.value]]
    if not tokens:
        status_w.value = f"test #{picks[image_w.value]} has no token that is >= 50% hidden hand"
        return
    here = viz.token_index(row_w.value, col_w.value, G)
    nxt = tokens[(tokens.index(here) + 1) % len(tokens)] if here in tokens else tokens[0]
    busy["on"] = True
    row_w.value, col_w.value = viz.token_rowcol(nxt, G)
    busy["on"] = False
    redraw()


for w in (image_w, row_w, col_w, head_w, block_w):
    w.observe(redraw, names="value")
jump_w.on_click(jump)
controls = widgets.VBox(
    [widgets.HBox([image_w, head_w, block_w]), widgets.HBox([row_w, col_w, jump_w]), status_w]
)
redraw()
display(controls, plot_w)

# %% [markdown]
# ## Summary
# - One row of FIT's softmax map says where a query location (built from the secondary, possibly
#   occluded, feature) takes its values from among the primary-feature locations; the gate then
#   decides how much of that it takes, and C = g·A is what is actually used. SET then mixes all
#   locations with a plain softmax map.
# - Section 4 turned "occluded locations look at the visible hand" into a measured ratio per
#   block, printed above for the weights that ran (trained or random, as printed in section 0).
# - The plotting lives in `handoccnet_lite.viz` (pure functions, tested); this notebook only wires
#   widgets to it and exports the same views as figures for a fixed occluded query.
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
