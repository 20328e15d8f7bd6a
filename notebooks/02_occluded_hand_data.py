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
# # 02 · Occluded hand data: SynthOcc, masks, visibility and augmentation
#
# **Goal.** Know exactly what one training sample is: where SynthOcc's images and labels come
# from, what the masks and per-joint visibility mean, how occluded the data is, what the crop and
# the paper's augmentation do to image *and* labels (and how to check they stay consistent), and
# what the real datasets HandOccNet was trained on (HO-3D, Dex-YCB) look like on disk.
#
# After this notebook you will be able to
# - read a raw record and a model-ready item, field by field;
# - explain how an occluder is placed to hide a chosen fraction of the hand;
# - verify that a cropped, scaled and rotated sample still satisfies `project(K', X') = x'`;
# - map HO-3D and Dex-YCB annotations onto the same record.
#
# SynthOcc is **ours**: rendered by this package's code (numpy + OpenCV), with the embedded
# SynthHand. Numbers measured on it are synthetic and not comparable with the paper's numbers on
# HO-3D or Dex-YCB.

# %% tags=["parameters"]
PROFILE = "quick"  # "quick": the committed test split, a few samples; "full": both splits

# %%
import json
import pickle
import shutil
import tempfile
from pathlib import Path

import cv2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import yaml
from torch.utils.data import DataLoader

from handoccnet_lite.data import RECORD_KEYS, coco_json, dexycb, ho3d, project, validate_record
from handoccnet_lite.data import synthocc as so
from handoccnet_lite.data.dataset import (
    AugmentConfig,
    SynthOccDataset,
    augment_sample,
    sample_augmentation,
)
from handoccnet_lite.data.frames import opengl_to_opencv_points, opengl_to_opencv_root
from handoccnet_lite.data.realsets import DatasetRootError, RealHandDataset
from handoccnet_lite.data.viz import (
    LEVEL_BINS,
    occlusion_levels_figure,
    show_item,
    show_record,
)
from handoccnet_lite.hand import joints, load_hand_model
from handoccnet_lite.utils import DATA_SAMPLES_DIR, save_figure, seed_everything

SEED = 0
ROOT = DATA_SAMPLES_DIR / "synthocc"
SPLITS = ["test"] if PROFILE == "quick" else ["test", "train"]
N_AUG = 4 if PROFILE == "quick" else 8  # augmented views shown of one sample
N_CHECK = 32 if PROFILE == "quick" else 300  # samples whose augmentation is checked numerically
seed_everything(SEED)
test_set = SynthOccDataset(ROOT, "test")
print("profile:", PROFILE, "| splits:", SPLITS, "| test samples:", len(test_set))

# %% [markdown]
# ## 1. How SynthOcc is made
#
# One sample, fully determined by `(seed, split, index)`:
#
# 1. sample a pose (`sample_poses`, grasp or random, random wrist rotation) and 10 betas;
#    pose the hand model (SynthHand unless the set was made with MANO);
# 2. sample a scene: pinhole camera, hand placement so it fills a random share of the frame
#    (`fill_range`), skin tone, light, a procedural background;
# 3. pick an **occlusion target** (level *none*, *light* or *heavy*, in equal shares) and place an
#    object (sphere, cylinder or box) near a random hand pixel, either hand-held (at the hand's
#    depth) or passing (nearer the camera); **bisect its size** until it hides the target fraction
#    of hand pixels;
# 4. rasterise the hand (z-buffer), ray-cast the objects, composite, blur a little;
# 5. write the ground truth: image, K, 3D and 2D joints, MANO pose and shape, the three masks,
#    per-joint visibility and the achieved occlusion fraction.
#
# The manifest records everything needed to regenerate the set bit for bit.

# %%
m = test_set.manifest
print(
    {
        k: m[k]
        for k in ("format", "format_version", "seed", "split", "count", "resolution", "hand_model")
    }
)
print("scene settings:", {k: v for k, v in m["scene"].items() if k != "levels"})
print("occlusion levels (fraction of hand pixels hidden):", m["scene"]["levels"])
print("occlusion stats of this split:", {k: round(v, 3) for k, v in m["occlusion_stats"].items()})
print("made with:", m["versions"])
assert m["count"] == len(test_set)

# %% [markdown]
# **Determinism check.** Render the first samples again from the manifest's settings and compare
# with the stored ones. Labels must match exactly. Images match byte for byte when the library
# versions equal the manifest's (OpenCV's blur or PNG codec may differ by a grey level elsewhere).

# %%
spec = {k: m[k] for k in ("seed", "split", "hand_model", "scene", "occlusion_mix")}
fresh = so.render_indices([0, 1, 2], spec)
for rec in fresh:
    stored = test_set.record(rec["index"])
    np.testing.assert_allclose(rec["joints_2d"], stored["joints_2d"], atol=1e-3)
    np.testing.assert_array_equal(rec["joints_vis"], stored["joints_vis"])
    diff = np.abs(rec["image"].astype(int) - stored["image"]).max()
    print(
        f"sample {rec['index']}: labels identical, max image difference {diff} grey levels, "
        f"occlusion {rec['occlusion']:.3f}"
    )

# %% [markdown]
# ## 2. The raw record
#
# Every loader (SynthOcc, HO-3D, Dex-YCB) produces the same **raw record**: one full frame before
# any crop. Camera frame OpenCV (x right, y down, z forward), metres, canonical joint order.

# %%
raw = test_set.record(1)
rows = []
for k in RECORD_KEYS:
    v = raw[k]
    desc = (str(v.dtype), str(v.shape)) if isinstance(v, np.ndarray) else (type(v).__name__, "")
    rows.append((k, *desc))
print(pd.DataFrame(rows, columns=["key", "dtype", "shape"]).to_string(index=False))
validate_record(raw)
reproj = project(raw["K"].astype(np.float64), raw["joints_cam"].astype(np.float64))  # (21, 2)
print(
    f"\nmax |project(K, joints_cam) - joints_2d| = {np.abs(reproj - raw['joints_2d']).max():.2e} px"
)
assert np.allclose(reproj, raw["joints_2d"], atol=1e-3)

# %% [markdown]
# The stored vertices are not in the shard: they are recomputed from `pose` and `shape` with the
# manifest's hand model and placed so the joints land on `joints_cam` (the loader checks it).
# Recompute once more here, with the hand model of notebook 01.

# %%
hand = load_hand_model(m["hand_model"])
with torch.no_grad():
    out = hand(torch.as_tensor(raw["pose"])[None], torch.as_tensor(raw["shape"])[None])
transl = raw["joints_cam"][0] - out.joints[0, 0].numpy()  # (3,) root position in the camera
err = np.abs(out.joints[0].numpy() + transl - raw["joints_cam"]).max()
print(f"hand(pose, shape) + root translation reproduces joints_cam to {err * 1000:.4f} mm")
assert err < 1e-4
np.testing.assert_allclose(out.vertices[0].numpy() + transl, raw["verts_cam"], atol=1e-4)

# %% [markdown]
# ## 3. Masks and per-joint visibility
#
# Three masks per image: **hand** (the hand's full silhouette, occluded or not), **object** (visible
# object pixels) and **hidden hand** = hand ∩ object in front. The occlusion fraction is
# |hidden hand| / |hand|. A joint is *visible* when its pixel is inside the image and no object is
# in front of the hand there; the hand hiding its own joints (self-occlusion) does not count.

# %%
occ_all = np.array([test_set.record(i)["occlusion"] for i in range(len(test_set))])
heavy_idx = int(np.flatnonzero(occ_all > 0.4)[0])
rec = test_set.record(heavy_idx)

fig, axes = plt.subplots(1, 5, figsize=(14, 3))
axes[0].imshow(rec["image"])
axes[0].set_title(f"image #{heavy_idx}")
for ax, key in zip(axes[1:4], ("hand_mask", "occluder_mask", "occlusion_mask"), strict=True):
    ax.imshow(rec[key], cmap="gray")
    ax.set_title(f"{key} ({int(rec[key].sum())} px)")
show_record(rec, axes[4], masks=True, title=f"occlusion {rec['occlusion']:.2f}, x = hidden joint")
for ax in axes:
    ax.axis("off")
save_figure(fig, "02_masks_visibility")
plt.show()

# %%
hand_px, hidden_px = rec["hand_mask"].sum(), rec["occlusion_mask"].sum()
print(
    f"hidden / hand = {hidden_px} / {hand_px} = {hidden_px / hand_px:.4f}; stored occlusion "
    f"{rec['occlusion']:.4f}; {int((rec['joints_vis'] == 0).sum())} of 21 joints hidden"
)
assert abs(hidden_px / hand_px - rec["occlusion"]) < 1e-6
assert not (rec["occlusion_mask"] & ~rec["hand_mask"]).any(), "hidden hand must be part of the hand"


def visibility_rule_holds(r: dict) -> bool:
    """On hand pixels, joints_vis == 1 - occlusion_mask at the joint's rounded pixel."""
    H, W = r["hand_mask"].shape
    p = np.round(r["joints_2d"]).astype(int)  # (21, 2)
    inside = (p[:, 0] >= 0) & (p[:, 0] < W) & (p[:, 1] >= 0) & (p[:, 1] < H)
    x, y = p[inside, 0], p[inside, 1]
    on_hand = r["hand_mask"][y, x]
    expected = 1.0 - r["occlusion_mask"][y, x][on_hand]
    return bool(np.array_equal(r["joints_vis"][inside][on_hand], expected))


assert all(visibility_rule_holds(test_set.record(i)) for i in range(len(test_set)))
print("visibility rule holds on every joint on a hand pixel, all", len(test_set), "test samples")

# %% [markdown]
# ## 4. How occluded is the data?
#
# The generator aims at three levels in equal shares: *none* (0), *light* (0.1-0.3) and *heavy*
# (0.4-0.7) of the hand's pixels hidden. Measured on the split(s) of this profile:

# %%
frames = []
for split in SPLITS:
    ds = test_set if split == "test" else SynthOccDataset(ROOT, split)
    recs = [ds.record(i) for i in range(len(ds))]
    frames.append(
        pd.DataFrame(
            {
                "split": split,
                "occlusion": [r["occlusion"] for r in recs],
                "hidden joints": [int((r["joints_vis"] == 0).sum()) for r in recs],
            }
        )
    )
occ_df = pd.concat(frames, ignore_index=True)
occ_df["level"] = pd.cut(occ_df["occlusion"], [-1, 0, 0.35, 1], labels=list(LEVEL_BINS))
summary = occ_df.groupby(["split", "level"], observed=True).agg(
    samples=("occlusion", "size"),
    mean_occlusion=("occlusion", "mean"),
    mean_hidden_joints=("hidden joints", "mean"),
)
print(summary.round(3).to_string())
corr = occ_df["occlusion"].corr(occ_df["hidden joints"])
print(f"\ncorrelation between occlusion fraction and hidden joints: {corr:.2f}")
assert set(occ_df["level"].unique()) == set(LEVEL_BINS) and corr > 0.5

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
axes[0].hist(occ_df["occlusion"], bins=30, color="#3182bd")
axes[0].set_xlabel("fraction of hand pixels hidden")
axes[0].set_ylabel("samples")
axes[0].set_title("occlusion per sample (" + ", ".join(SPLITS) + ")")
jitter = np.random.default_rng(SEED).uniform(-0.25, 0.25, len(occ_df))
axes[1].scatter(occ_df["occlusion"], occ_df["hidden joints"] + jitter, s=6, alpha=0.5)
axes[1].set_xlabel("fraction of hand pixels hidden")
axes[1].set_ylabel("hidden joints (of 21, jittered)")
axes[1].set_title(f"pixels vs joints, r = {corr:.2f}")
save_figure(fig, "02_occlusion_stats")
plt.show()

# %% [markdown]
# The package's own figure: four samples per level, each with its masks underneath
# (green hand, red object, yellow hidden hand; an × marks a hidden joint).

# %%
fig = occlusion_levels_figure(test_set, per_level=4)  # saved by the package as
plt.show()  # figures/synthocc_occlusion_levels.png (viz.save_occlusion_levels_figure)

# %% [markdown]
# ## 5. Crop and augmentation
#
# The network sees a square crop around the hand, not the full frame, randomly scaled, rotated and
# recoloured during training. `AugmentConfig` holds the numbers of HandOccNet's recipe (the official
# release's, as implemented in `augment_sample`):

# %%
cfg = AugmentConfig(input_size=128)
print(cfg)

# %% [markdown]
# - crop: the 2D joints' box, expanded 1.5×, made square, resized to S × S;
# - scale s ~ N(1, 0.25) clipped to [0.75, 1.25] (the crop side times s);
# - rotation r ~ N(0, 30°) clipped to ±60°, applied 60 % of the time, about the crop centre *and*
#   about the camera's z axis in 3D (joints, vertices and the MANO root pose rotate with it);
# - colour: each RGB channel scaled by U(0.8, 1.2).
#
# First, the distribution of the random parameters:

# %%
rng = np.random.default_rng(SEED)
draws = np.array([sample_augmentation(cfg, rng)[:2] for _ in range(4000)])  # (N, 2) scale, angle
rotated = draws[:, 1] != 0
print(f"scale in [{draws[:, 0].min():.2f}, {draws[:, 0].max():.2f}], mean {draws[:, 0].mean():.3f}")
print(
    f"rotated {rotated.mean():.1%} of the time; angle in "
    f"[{np.degrees(draws[rotated, 1]).min():.0f}, {np.degrees(draws[rotated, 1]).max():.0f}] deg"
)
assert 0.75 <= draws[:, 0].min() and draws[:, 0].max() <= 1.25
assert abs(rotated.mean() - 0.6) < 0.03 and np.abs(draws[:, 1]).max() <= np.radians(60) + 1e-9

# %%
rng = np.random.default_rng(SEED)
centred = augment_sample(raw, AugmentConfig(input_size=128, augment=False), None)
views = [augment_sample(raw, cfg, rng) for _ in range(N_AUG)]
fig, axes = plt.subplots(1, N_AUG + 2, figsize=(2.4 * (N_AUG + 2), 2.7))
show_record(raw, axes[0], title="raw frame")
show_item(centred, axes[1], title="centred crop (eval)")
for k, item in enumerate(views):
    show_item(item, axes[k + 2], title=f"augmented #{k}")
save_figure(fig, "02_augmentation")
plt.show()

# %% [markdown]
# **Three checks that labels follow the image.**
#
# 1. *Projection*: the item carries the crop's intrinsics K' = T·A·K·R_zᵀ (A the crop's affine map,
#    R_z the 3D rotation, T a half-pixel shift to continuous coordinates). Projecting the rotated
#    3D joints with K' must give the 2D joints: project(K', X') / S = joints_img.
# 2. *Root pose*: the hand model posed with the item's (rotated) `mano_pose` must reproduce the
#    rotated 3D joints up to a translation.
# 3. *Pixels*: stamp a white dot on a black copy of the raw image at the middle knuckle's pixel
#    (a joint near the crop centre, so the dot never leaves the crop); after the warp the dot must
#    sit at the knuckle's crop coordinate.

# %%
rng = np.random.default_rng(SEED + 1)
proj_err, pose_err, dot_err = [], [], []
for i in range(N_CHECK):
    r = test_set.record(i)
    item = augment_sample(r, cfg, rng)
    S = item["image"].shape[-1]
    K2, X = item["K"].double().numpy(), item["joints_cam"].double().numpy()
    proj_err.append(np.abs(project(K2, X) / S - item["joints_img"].numpy()).max() * S)  # pixels
    with torch.no_grad():
        o = hand(item["mano_pose"][None], item["mano_shape"][None]).joints[0]  # (21, 3)
    rel = (o - o[0]).numpy() - (item["joints_cam"] - item["joints_cam"][0]).numpy()
    pose_err.append(np.abs(rel).max() * 1000)  # mm
print(
    f"{N_CHECK} augmented samples: max projection error {max(proj_err):.1e} px, "
    f"max root-pose error {max(pose_err):.1e} mm"
)
assert max(proj_err) < 1e-2 and max(pose_err) < 0.1

# %%
DOT = 9  # canonical joint middle1
marked = dict(raw)
marked["image"] = np.zeros_like(raw["image"])
wx, wy = np.round(raw["joints_2d"][DOT]).astype(int)
marked["image"][wy - 1 : wy + 2, wx - 1 : wx + 2] = 255  # a 3x3 white dot at the joint's pixel
marked["joints_2d"] = raw["joints_2d"].copy()
marked["joints_2d"][DOT] = (wx, wy)  # the dot's centre, exactly
rng = np.random.default_rng(SEED + 2)
for _ in range(8):
    item = augment_sample(marked, cfg, rng)
    img = item["image"].sum(0).numpy()  # (S, S) brightness, colour-scaled
    ys, xs = np.nonzero(img > 0.5 * img.max())
    weights = img[ys, xs]
    found = np.array([(xs * weights).sum(), (ys * weights).sum()]) / weights.sum()
    expected = item["joints_img"][DOT].numpy() * S - 0.5  # continuous -> pixel-centre coordinates
    dot_err.append(np.abs(found - expected).max())
print(f"warped dot vs transformed middle1 label: max offset {max(dot_err):.2f} px over 8 draws")
assert max(dot_err) < 1.0

# %% [markdown]
# ## 6. The model-ready item and a batch
#
# `SynthOccDataset[i]` is `augment_sample(record(i))`: the item of `docs/INTERFACES.md`, plus the
# crop's intrinsics `K`. With `seed=` set, item i of epoch e is reproducible.

# %%
train_view = SynthOccDataset(ROOT, "test", input_size=128, augment=True, seed=SEED)
item = train_view[3]
print(
    pd.DataFrame(
        [(k, str(v.dtype), tuple(v.shape)) for k, v in item.items()],
        columns=["key", "dtype", "shape"],
    ).to_string(index=False)
)
expected_keys = {"image", "joints_img", "joints_cam", "verts_cam", "mano_pose", "mano_shape",
                 "joints_vis", "has_mano", "occlusion", "index"}  # fmt: skip
assert expected_keys <= set(item) and item["image"].shape == (3, 128, 128)
assert 0 <= item["image"].min() and item["image"].max() <= 1
torch.testing.assert_close(train_view[3]["joints_img"], item["joints_img"])  # same seed, same item

batch = next(iter(DataLoader(train_view, batch_size=8, shuffle=False)))
print("\nbatch:", {k: tuple(v.shape) for k, v in batch.items()})
assert batch["image"].shape == (8, 3, 128, 128) and batch["joints_cam"].shape == (8, 21, 3)

# %% [markdown]
# ## 7. The real datasets: HO-3D and Dex-YCB
#
# HandOccNet reports its numbers on HO-3D (hands holding YCB objects, annotated by fitting MANO)
# and, in the supplement, on Dex-YCB:
#
# > "Dex-YCB consists of 582K RGB-D frames over 1,000 sequences of 10 subjects grasping 20
# > different objects from 8 independent views." (supplementary material, Sec. S3)
#
# Neither set is shipped (size and licences). The package reads both from their **native files**
# (`ho3d.HO3DNative`, `dexycb.DexYCBNative`) and from the **COCO-style JSONs** that HandOccNet's
# release uses (`coco_json.HandOccNetJSON`), and turns every frame into the same raw record as
# SynthOcc. What each loader expects on disk:

# %%
for title, tree in [("HO-3D (native)", ho3d.HO3D_TREE), ("Dex-YCB (native)", dexycb.DEXYCB_TREE),
                    ("HO-3D (HandOccNet JSON)", coco_json.HO3D_JSON_TREE),
                    ("Dex-YCB (HandOccNet JSON)", coco_json.DEXYCB_JSON_TREE)]:  # fmt: skip
    print(f"{title}:\n{tree}\n")
print(
    "Dex-YCB split s0, subjects per split:",
    {sp: len(dexycb.s0_selection(sp)[0]) for sp in dexycb.SPLITS},
)

# %% [markdown]
# What the loaders convert so that every record means the same thing:
#
# | | HO-3D | Dex-YCB | our record |
# |---|---|---|---|
# | camera frame | OpenGL (y up, z backward) | OpenCV | OpenCV: p' = diag(1, −1, −1) p for HO-3D |
# | joint order | MANO / HO-3D (notebook 01) | canonical | canonical (`ho3d_to_canonical`) |
# | MANO pose | 48 axis-angle, flat mean | 3 + **45 PCA coefficients** + 3 translation | 48 axis-angle, flat mean (PCA → axis-angle needs MANO's basis) |
# | hands | right only | left and right | right: left frames are mirrored (image, x → −x, cx → W − 1 − cx, axis-angle (a_x, −a_y, −a_z)) |
# | test labels | evaluation split: wrist and box only (`has_joints = 0`) | all joints | NaN rows where unknown |
# | mesh | needs your MANO | needs your MANO | `verts_cam` (0, 3) and `has_verts = 0` without it |
#
# **A one-frame imitation.** To see the loaders work without the real data, write SynthOcc sample
# #1 into miniature trees that follow the published file formats (an HO-3D meta pickle in the
# OpenGL frame and HO-3D joint order; a Dex-YCB label file declared as a *left* hand; a HandOccNet
# JSON entry) and read them back. No MANO here, so no meshes, and Dex-YCB's pose stays unknown.

# %%
tmp = Path(tempfile.mkdtemp(prefix="handoccnet_formats_"))
K = raw["K"].astype(np.float64)


def write_ho3d_frame(root: Path, split: str, seq: str, fid: str, meta: dict) -> None:
    """One HO-3D frame: rgb/ID.jpg (v3), meta/ID.pkl (protocol-2 pickle), a line in split.txt."""
    for sub in ("rgb", "meta"):
        (root / split / seq / sub).mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / split / seq / "rgb" / f"{fid}.jpg"), raw["image"][:, :, ::-1])
    with open(root / split / seq / "meta" / f"{fid}.pkl", "wb") as fh:
        pickle.dump(meta, fh, protocol=2)
    with open(root / f"{split}.txt", "a") as fh:
        fh.write(f"{seq}/{fid}\n")


ho3d_root = tmp / "HO3D_v3"
pose_gl, trans_gl = opengl_to_opencv_root(raw["pose"], np.zeros(3), np.zeros(3))  # self-inverse
joints_gl = opengl_to_opencv_points(joints.canonical_to_ho3d(raw["joints_cam"]))  # (21, 3)
write_ho3d_frame(ho3d_root, "train", "ABF10", "0000", {
    "camMat": K, "handJoints3D": joints_gl, "handPose": pose_gl,
    "handBeta": raw["shape"].astype(np.float64), "handTrans": trans_gl})  # fmt: skip
write_ho3d_frame(ho3d_root, "evaluation", "SM1", "0000", {
    "camMat": K, "handJoints3D": joints_gl[0],
    "handBoundingBox": raw["hand_box"].astype(np.float64)})  # fmt: skip

ho3d_train = ho3d.HO3DNative(ho3d_root, "train", mano=None)
rec_train = ho3d_train.record(0)
rec_eval = ho3d.HO3DNative(ho3d_root, "evaluation", mano=None).record(0)
print("HO-3D version detected:", ho3d_train.version)
print(
    pd.DataFrame(
        [
            (k, type(v).__name__ if not isinstance(v, np.ndarray) else f"{v.dtype} {v.shape}")
            for k, v in rec_train.items()
            if k not in RECORD_KEYS
        ],
        columns=["extra key", "value type"],
    ).to_string(index=False)
)
back = np.abs(rec_train["joints_cam"] - raw["joints_cam"]).max()
print(
    f"\ntrain frame: joints back in OpenCV + canonical order to {back:.1e} m, pose to "
    f"{np.abs(rec_train['pose'] - raw['pose']).max():.1e} rad, has_mano {rec_train['has_mano']}, "
    f"has_verts {rec_train['has_verts']}"
)
print(
    f"evaluation frame: has_joints {rec_eval['has_joints']}, known joints "
    f"{int(np.isfinite(rec_eval['joints_cam']).all(1).sum())} (the wrist), box {rec_eval['hand_box']}"
)
assert back < 1e-6 and np.allclose(rec_train["pose"], raw["pose"], atol=1e-5)
assert rec_eval["has_joints"] == 0 and np.isnan(rec_eval["joints_cam"][1:]).all()

# %%
dex_root = tmp / "dexycb"
subject, seq, serial = dexycb.SUBJECTS[0], "20200709_141754", dexycb.SERIALS[0]
for name in dexycb.SUBJECTS:  # the train split lists every subject's folder
    (dex_root / name).mkdir(parents=True, exist_ok=True)
frame_dir = dex_root / subject / seq / serial
frame_dir.mkdir(parents=True)
(dex_root / subject / seq / "meta.yml").write_text(yaml.safe_dump(
    {"serials": [serial], "num_frames": 1, "mano_sides": ["left"], "mano_calib": ["demo"]}))  # fmt: skip
for sub, content in [("mano_demo/mano.yml", {"betas": raw["shape"].astype(float).tolist()}),
                     (f"intrinsics/{serial}_640x480.yml", {"color": {
                         "fx": float(K[0, 0]), "fy": float(K[1, 1]),
                         "ppx": float(K[0, 2]), "ppy": float(K[1, 2])}})]:  # fmt: skip
    (dex_root / "calibration" / sub).parent.mkdir(parents=True, exist_ok=True)
    (dex_root / "calibration" / sub).write_text(yaml.safe_dump(content))
cv2.imwrite(str(frame_dir / "color_000000.jpg"), raw["image"][:, :, ::-1])
np.savez(frame_dir / "labels_000000.npz", joint_3d=raw["joints_cam"][None],
         joint_2d=raw["joints_2d"][None], pose_m=np.zeros((1, 51), np.float32),
         seg=raw["hand_mask"].astype(np.uint8) * 255)  # fmt: skip

rec_dex = dexycb.DexYCBNative(dex_root, "train", mano=None).record(0)
W = raw["image"].shape[1]
mirror_err = np.abs(rec_dex["joints_2d"][:, 0] - (W - 1 - raw["joints_2d"][:, 0])).max()
reproj_err = np.abs(
    project(rec_dex["K"].astype(np.float64), rec_dex["joints_cam"].astype(np.float64))
    - rec_dex["joints_2d"]
).max()
print(
    f"Dex-YCB left frame: flipped {rec_dex['flipped']}, x negated "
    f"{np.allclose(rec_dex['joints_cam'][:, 0], -raw['joints_cam'][:, 0])}, 2D joints mirrored to "
    f"{mirror_err:.1e} px, reprojection with the mirrored K {reproj_err:.1e} px, "
    f"has_mano {rec_dex['has_mano']} (PCA pose needs MANO)"
)
assert rec_dex["flipped"] and mirror_err < 1e-3 and reproj_err < 1e-3
try:
    dexycb.DexYCBNative(tmp / "nowhere", "test", mano=None)
except DatasetRootError as err:
    print("\na wrong root gives:", str(err).splitlines()[0])

# %%
json_root = tmp / "json"
(json_root / "images").mkdir(parents=True)
cv2.imwrite(str(json_root / "images" / "0000.jpg"), raw["image"][:, :, ::-1])
entry = {"id": 0, "image_id": 7, "joints_coord_cam": raw["joints_cam"].tolist(),
         "cam_param": {"focal": [K[0, 0], K[1, 1]], "princpt": [K[0, 2], K[1, 2]]},
         "mano_param": {"pose": raw["pose"].tolist(), "shape": raw["shape"].tolist()}}  # fmt: skip
(json_root / "demo_data.json").write_text(json.dumps(
    {"images": [{"id": 7, "file_name": "0000.jpg", "width": W, "height": W}],
     "annotations": [entry]}))  # fmt: skip
rec_json = coco_json.HandOccNetJSON(
    json_root / "demo_data.json", json_root / "images", mano=None
).record(0)
np.testing.assert_allclose(rec_json["joints_cam"], raw["joints_cam"], atol=1e-6)
print(
    "HandOccNet JSON: joints read back; has_mano",
    rec_json["has_mano"],
    "(its pose excludes MANO's hands_mean, so it needs MANO to convert)",
)

real_item = RealHandDataset(ho3d_train, input_size=128)[0]
print("\nreal-set item keys:", sorted(real_item))
assert expected_keys <= set(real_item)

# %%
fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
show_record(rec_train, axes[0], title="HO-3D train frame (read back)")
show_record(rec_dex, axes[1], title="Dex-YCB 'left' frame, mirrored")
show_item(real_item, axes[2], title="RealHandDataset item (crop)")
save_figure(fig, "02_real_formats")
plt.show()
shutil.rmtree(tmp)  # the miniature trees were only for this section

# %% [markdown]
# ## Summary
#
# - SynthOcc renders SynthHand in random scenes and places one object to hide a chosen fraction
#   of the hand (none / light / heavy); every sample is reproducible from (seed, split, index).
# - A raw record holds the full frame, K, 3D and 2D joints, MANO pose and shape, three masks,
#   per-joint visibility and the occlusion fraction; the same record comes from every dataset.
# - The crop and the paper's augmentation (scale, rotation, colour) move image and labels together;
#   we checked it three ways: reprojection with K', the rotated MANO root pose, and a warped dot.
# - HO-3D (OpenGL frame, MANO joint order, right hands) and Dex-YCB (PCA poses, left and right
#   hands) are converted by their loaders into the same record; meshes and Dex-YCB poses need
#   your MANO files, joints never do.
#
# ## Exercises
# 1. Find the test sample with the largest occlusion whose wrist is still visible. Show it with
#    `show_record(..., masks=True)`.
# 2. Occlusion measured in pixels and in joints disagree for some samples (section 4's scatter).
#    Find one with high pixel occlusion but few hidden joints and explain what you see.
# 3. Set `rot_prob=1.0, rot_sigma_deg=90` in `AugmentConfig`. Do the three consistency checks still
#    pass? Which part of `augment_sample` makes them pass for any angle?
# 4. In section 7, declare the Dex-YCB frame a right hand (`mano_sides: ["right"]`) and check
#    that nothing is mirrored.
# 5. Generate 20 new samples with `so.generate_synthocc(tmp, 20, occlusion_mix="heavy", workers=1)`
#    and compare their occlusion histogram with section 4.
