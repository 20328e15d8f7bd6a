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
# # 03 · The backbone and the spatial gate: F, s, F_P and F_S
#
# **Goal.** Build HandOccNet's first stage by hand and check it against the package: a ResNet
# with a feature-pyramid top-down path produces one feature map F, and a spatial gate s splits it
# into a **primary** feature F_P = F·s and a **secondary** feature F_S = F·(1 − s). FIT (notebook
# 04) then uses F_S as its queries and F_P as its keys and values.
#
# After this notebook you will be able to
# - give the shape of every tensor from the image to F_P and F_S, for the paper's and the lite sizes;
# - write the FPN top-down path and the CBAM-style spatial gate in a few lines of torch;
# - read gate maps on SynthOcc images, and say what they can and cannot show before training.
#
# Sources: the architecture facts are from the authors' public release (summarised in
# `handoccnet_lite/model/backbone.py`); the gate follows CBAM's spatial attention (S. Woo et al.,
# *CBAM: Convolutional Block Attention Module*, ECCV 2018).

# %% tags=["parameters"]
PROFILE = "quick"  # "quick": the lite preset, 4 images, CPU seconds; "full": 8 images

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from handoccnet_lite.config import FEATURE_STRIDE, preset
from handoccnet_lite.data.dataset import SynthOccDataset, augment_sample
from handoccnet_lite.model.backbone import RESNET_CHANNELS, Backbone
from handoccnet_lite.utils import DATA_SAMPLES_DIR, resolve_device, save_figure, seed_everything

SEED = 0
N_SAMPLES = 4 if PROFILE == "quick" else 8
CHECKPOINT = DATA_SAMPLES_DIR / "checkpoints" / "lite_synthocc.pt"
seed_everything(SEED)
device = resolve_device("auto")
print("profile:", PROFILE, "| device:", device, "| images:", N_SAMPLES)

# %% [markdown]
# ## 0. Which weights?
#
# The gate is learned. Its maps mean something only for a trained network. If the bundled
# checkpoint `data_samples/checkpoints/lite_synthocc.pt` exists (the official teaching model,
# trained by `handoccnet-lite teach` on SynthOcc), we load it; otherwise the backbone keeps
# PyTorch's random initialisation and **every map below is from random weights**: the shapes and
# the arithmetic are right, the pictures carry no learned meaning.

# %%
if CHECKPOINT.is_file():
    from handoccnet_lite.cli import load_trained

    model, cfg = load_trained(CHECKPOINT)
    backbone = model.backbone
    TRAINED = True
else:
    cfg = preset("lite")
    backbone = Backbone(cfg).eval()
    TRAINED = False
backbone = backbone.to(device).eval()
weights = f"trained ({CHECKPOINT.name})" if TRAINED else "RANDOM (no checkpoint found)"
print(
    f"weights: {weights}; backbone {cfg.backbone}, input {cfg.input_size} px, C = {cfg.feat_dim}, "
    f"G = {cfg.grid}"
)

# %%
from handoccnet_lite.doctor import bundled_model_caveat

if TRAINED:
    print(bundled_model_caveat())

# %% [markdown]
# ## 1. Sizes: the paper's and ours
#
# Three presets of the same architecture: `paper` (the release's sizes), `lite` (CPU-sized, used in
# this collection) and `tiny` (tests). S is the input side, C the feature channels, G the grid side.

# %%
rows = []
for name in ("paper", "lite", "tiny"):
    c = preset(name)
    n_params = sum(p.numel() for p in Backbone(c).parameters())
    rows.append((name, c.backbone, c.input_size, c.feat_dim, c.grid, round(n_params / 1e6, 2)))
sizes = pd.DataFrame(rows, columns=["preset", "ResNet", "S", "C", "G", "params (M)"])
print(sizes.to_string(index=False))
assert all(s == FEATURE_STRIDE * g for s, g in zip(sizes["S"], sizes["G"], strict=True))

# %% [markdown]
# The release runs ResNet-50 on 256 × 256 px images into C = 256 channels on a 32 × 32 grid; `lite`
# runs ResNet-18 on 128 px into C = 128 on 16 × 16. In every preset G = S / 8: the FPN output P2
# has stride 4 and is average-pooled 2×. Most parameters sit in the ResNet trunk.

# %% [markdown]
# ## 2. Images
#
# A few SynthOcc test images at the network's input size (centred crops, no augmentation), chosen
# to span the occlusion levels. Images enter in [0, 1] with no mean/std normalisation, as in the
# release.

# %%
data = SynthOccDataset.for_model(DATA_SAMPLES_DIR / "synthocc", "test", cfg)  # crops, masks
occ = np.array([data.record(i)["occlusion"] for i in range(len(data))])
order = np.argsort(occ)
picks = [int(order[round(q * (len(order) - 1))]) for q in np.linspace(0.2, 1.0, N_SAMPLES)]
items = [data[i] for i in picks]
images = torch.stack([it["image"] for it in items]).to(device)  # (B, 3, S, S)
B, S = images.shape[0], images.shape[-1]
print("picked samples", picks, "with occlusion", occ[picks].round(2).tolist())
assert images.shape == (N_SAMPLES, 3, cfg.input_size, cfg.input_size)

# %% [markdown]
# ## 3. ResNet trunk: C2 ... C5
#
# The trunk is torchvision's ResNet without its pooling head, returning the outputs of its
# stages (four in the paper; the `lite` preset keeps three, `backbone_stages=3`, to stay small
# and fast on a CPU; their strides are printed below). The release's ResNet copy uses LeakyReLU (PyTorch's
# default slope) wherever torchvision uses ReLU; the package swaps those modules.

# %%
with torch.no_grad():
    feats = backbone.trunk(images)  # [C2, C3, C4, C5] (lite: backbone_stages=3 drops C5)
print("backbone_stages:", cfg.backbone_stages)
for k, f in enumerate(feats, start=2):
    print(f"C{k}: {tuple(f.shape)}  stride {S // f.shape[-1]}")
assert len(feats) == cfg.backbone_stages
assert [f.shape[1] for f in feats] == list(RESNET_CHANNELS[cfg.backbone])[: len(feats)]
assert [S // f.shape[-1] for f in feats] == [4, 8, 16, 32][: len(feats)]
acts = pd.Series([type(m).__name__ for m in backbone.trunk.modules()]).value_counts()
print("activation modules:", acts[acts.index.str.contains("ReLU")].to_dict())
slopes = {m.negative_slope for m in backbone.trunk.modules() if isinstance(m, nn.LeakyReLU)}
print("LeakyReLU slopes:", slopes)
if cfg.activation == "leaky_relu":
    assert not any(isinstance(m, nn.ReLU) for m in backbone.trunk.modules())

# %% [markdown]
# ## 4. FPN top-down path, by hand
#
# 1 × 1 *lateral* convolutions bring C2..C5 to C channels; starting from the coarsest, each level
# is upsampled (bilinear) to the next finer one and added; a 3 × 3 convolution smooths the finest
# level. Only P2 is used. Then a 2 × 2 average pool gives the feature F on the G × G grid: the
# release's feature stride 8 (`feature_stride=8`, every preset). The bundled teaching model uses
# `feature_stride=4` instead: a 64-px input whose P2 is already 16 × 16, so it skips the pool and
# keeps the tokens of a 128-px model at about 0.6x the CPU (results/teach/README.md, trial T11).
# With `feature_norm="batch"` (not in the release; the bundled checkpoint uses it) a BatchNorm
# follows the smoothing conv, so F keeps a fixed scale while training from random weights;
# with the release's `"none"`, `fpn.norm` is the identity.
#
# P5 = L5(C5);  P_k = up(P_{k+1}) + L_k(C_k) for k = 4, 3, 2;  F = avgpool₂(norm(smooth(P2)))
# (stride 4: F = norm(smooth(P2)))

# %%
fpn = backbone.fpn
with torch.no_grad():
    lateral = [conv(c) for conv, c in zip(fpn.lateral, feats, strict=True)]  # each (B, C, ., .)
    p = lateral[-1]  # (B, C, S/32, S/32) P5
    for lat in reversed(lateral[:-1]):  # P4, P3, P2
        p = F.interpolate(p, size=lat.shape[-2:], mode="bilinear", align_corners=False) + lat
    p2 = fpn.norm(fpn.smooth(p))  # (B, C, S/4, S/4); norm: BatchNorm2d or nn.Identity
    feat = F.avg_pool2d(p2, kernel_size=2) if cfg.feature_stride == 8 else p2  # (B, C, G, G)
    torch.testing.assert_close(p2, fpn(feats))
    torch.testing.assert_close(feat, backbone.features(images))  # the package's F, pool or not
print("P2", tuple(p2.shape), "-> F", tuple(feat.shape), f"(stride {cfg.feature_stride}, = package)")
print(f"feature_norm = {cfg.feature_norm!r}: fpn.norm is {type(fpn.norm).__name__}")
assert feat.shape == (B, cfg.feat_dim, cfg.grid, cfg.grid)

# %% [markdown]
# ## 5. The spatial gate, by hand
#
# For each grid cell, pool over channels (max and mean), convolve the two maps with one 7 × 7
# kernel, batch-normalise, squash:
#
# s = σ(BN(conv₇ₓ₇([max_c F ; mean_c F])))  ∈ (0, 1)^{G×G}
#
# F_P = F ⊙ s  (primary: where the gate is open)      F_S = F ⊙ (1 − s)  (secondary: the rest)
#
# The gate is a single map shared by all C channels: it decides *where*, not *what*. In eval mode
# BN uses its running statistics: BN(x) = (x − μ) / √(σ² + ε) · γ + β.

# %%
gate = backbone.gate
with torch.no_grad():
    pooled = torch.cat(
        [feat.amax(dim=1, keepdim=True), feat.mean(dim=1, keepdim=True)], 1
    )  # (B, 2, G, G)
    logits = F.conv2d(
        pooled, gate.conv.weight, padding=gate.conv.kernel_size[0] // 2
    )  # (B, 1, G, G)
    bn = gate.bn
    normed = (logits - bn.running_mean[None, :, None, None]) / torch.sqrt(
        bn.running_var[None, :, None, None] + bn.eps
    ) * bn.weight[None, :, None, None] + bn.bias[None, :, None, None]  # (B, 1, G, G)
    s = torch.sigmoid(normed)  # (B, 1, G, G)
    f_p, f_s = feat * s, feat * (1 - s)  # (B, C, G, G) each

    ref = backbone(images)  # BackboneOutput(primary, secondary, gate), the package's forward
torch.testing.assert_close(s, ref.gate)
torch.testing.assert_close(f_p, ref.primary)
torch.testing.assert_close(f_s, ref.secondary)
torch.testing.assert_close(f_p + f_s, feat)  # the split loses nothing
assert ((s > 0) & (s < 1)).all()
print(
    f"gate kernel {tuple(gate.conv.weight.shape)}, no bias: {gate.conv.bias is None}; "
    f"s in [{s.min().item():.3f}, {s.max().item():.3f}], mean {s.mean().item():.3f}"
)
print("step-by-step gate == package (s, F_P, F_S); F_P + F_S == F")

# %% [markdown]
# Because s is the same for every channel, the norm of a cell's feature vector splits exactly:
# |F_P| = s·|F| and |F_S| = (1 − s)·|F|. The maps below show these norms over the channel axis.

# %%
norm_f = feat.norm(dim=1)  # (B, G, G)
norm_p, norm_s = f_p.norm(dim=1), f_s.norm(dim=1)  # (B, G, G)
torch.testing.assert_close(norm_p, s[:, 0] * norm_f)
torch.testing.assert_close(norm_s, (1 - s[:, 0]) * norm_f)
print("|F_P| = s |F| and |F_S| = (1 - s) |F| hold at every cell")

# %% [markdown]
# ## 6. Gate maps on SynthOcc images
#
# Rows: samples, ordered by occlusion. Columns: the input (object pixels outlined), the gate s,
# |F_P| and |F_S|, each on the G × G grid stretched over the image.


# %%
def grid_masks(idx: int) -> dict[str, np.ndarray]:
    """Hand, hidden-hand and object masks of sample idx, cropped exactly like its image (the
    mask goes through augment_sample in place of the image) and averaged over each grid cell."""
    rec = data.record(idx)
    out = {}
    for key in ("hand_mask", "occlusion_mask", "occluder_mask"):
        as_image = dict(rec, image=np.repeat(rec[key][..., None].astype(np.uint8) * 255, 3, axis=2))
        crop = augment_sample(as_image, data.cfg, None)["image"][0].numpy()  # (S, S) in [0, 1]
        cell = S // cfg.grid
        out[key] = crop.reshape(cfg.grid, cell, cfg.grid, cell).mean((1, 3))  # (G, G)
    return out


masks = [grid_masks(i) for i in picks]
panels = {"gate s": s[:, 0], "|F_P|": norm_p, "|F_S|": norm_s}
fig, axes = plt.subplots(B, 4, figsize=(10, 2.5 * B), squeeze=False)
for b in range(B):
    img = images[b].permute(1, 2, 0).cpu().numpy()
    axes[b, 0].imshow(img)
    axes[b, 0].set_title(f"#{picks[b]}, occlusion {occ[picks[b]]:.2f}", fontsize=9)
    half = S / cfg.grid / 2 - 0.5  # image coordinate of the first grid cell's centre
    axes[b, 0].contour(masks[b]["occluder_mask"], levels=[0.5], colors="red", linewidths=1,
                       extent=(half, S - 1 - half, half, S - 1 - half))  # fmt: skip
    for c, (name, m) in enumerate(panels.items(), start=1):
        im = axes[b, c].imshow(m[b].cpu().numpy(), cmap="magma", vmin=0 if name == "gate s" else None,
                               vmax=1 if name == "gate s" else None)  # fmt: skip
        axes[b, c].contour(masks[b]["hand_mask"], levels=[0.5], colors="cyan", linewidths=0.8)
        axes[b, c].set_title(name, fontsize=9)
        fig.colorbar(im, ax=axes[b, c], fraction=0.046)
for ax in axes.flat:
    ax.axis("off")
fig.suptitle(f"backbone + gate, {weights}; cyan = hand outline on the grid", fontsize=10)
save_figure(fig, "03_gate_maps")
plt.show()

# %% [markdown]
# **Does the gate separate hand from object?** Average s over grid cells that are mostly visible
# hand, mostly hidden hand (an object in front), mostly object and mostly background.

# %%
regions = []
for b in range(B):
    mk, sb = masks[b], s[b, 0].cpu().numpy()
    visible = mk["hand_mask"] - mk["occlusion_mask"]
    named = {
        "visible hand": visible > 0.5,
        "hidden hand": mk["occlusion_mask"] > 0.5,
        "object": (mk["occluder_mask"] - mk["occlusion_mask"]) > 0.5,
        "background": (mk["hand_mask"] + mk["occluder_mask"]) < 0.05,
    }
    for region, where in named.items():
        if where.any():
            regions.append((region, float(sb[where].mean()), int(where.sum())))
region_table = (
    pd.DataFrame(regions, columns=["region", "mean s", "cells"])
    .groupby("region")
    .agg(mean_s=("mean s", "mean"), cells=("cells", "sum"), images=("cells", "size"))
)
print(f"weights: {weights}")
print(region_table.round(3).to_string())
spread = region_table["mean_s"].max() - region_table["mean_s"].min()
print(f"spread of the regional means: {spread:.3f}")
order = region_table["mean_s"].sort_values(ascending=False).index.tolist()
print("regions by mean s, highest first:", " > ".join(order))
assert region_table["mean_s"].between(0, 1).all()

# %% [markdown]
# **How to read this.** With random weights (the message above says which you have), s is a
# smooth function of the channel max and mean of an untrained feature: it tends to follow image
# contrast, not "hand" or "object", and the regional means printed above differ only by what
# contrast happens to do. The frame-like pattern along the borders of |F_P| and |F_S| is most
# likely the convolutions' zero padding, which shows before any training. Nothing supervises s directly: the gate is trained only through the
# losses on the mesh, joints and 2D heatmaps, so it becomes whatever split of the feature helps FIT.
# The design intent is that s is high on visible hand cells (F_P carries the hand's appearance) and
# low on occluders and background (F_S is where FIT injects hand information). After training, check
# it by rerunning this notebook: the "visible hand" row should then rise above "object" and
# "background". If it does not, that is a result worth reporting, not a bug to hide.

# %% [markdown]
# ## Summary
#
# - Backbone: ResNet C2..C5 → FPN top-down (1 × 1 laterals, bilinear upsample-and-add, 3 × 3
#   smoothing) → P2 (stride 4) → 2 × 2 average pool → F of shape (B, C, S/8, S/8) (the
#   release); with `feature_stride=4` (the bundled 64-px teaching model) F is P2 itself.
# - Gate: s = σ(BN(conv₇ₓ₇([max_c F; mean_c F]))), one value per cell shared by all channels;
#   F_P = F·s and F_S = F·(1 − s) add back to F exactly.
# - Our step-by-step versions of the FPN and the gate matched `Backbone` exactly.
# - Gate maps need trained weights to mean anything; the cell above says which weights you saw.
#
# ## Exercises
# 1. Replace the channel *max* by a second *mean* in the pooled input. Which kind of feature
#    (sparse, peaky channels vs broad ones) can the gate no longer detect?
# 2. Put the gate in train mode (`backbone.gate.train()`) and recompute s for the same batch. Why
#    does it change, and why would batch size 1 be a problem for this BN?
# 3. The gate has 2·7·7 = 98 weights plus BN. Compute its receptive field on the input image
#    (in pixels) for the lite and the paper sizes.
# 4. After training (or with the bundled checkpoint), count the grid cells with s > 0.5 and compare
#    with the fraction of cells covered by visible hand. Is the gate a hand detector, or broader?
