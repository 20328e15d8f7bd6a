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
# # 01 · The hand model: MANO's parameters and linear blend skinning
#
# **Goal.** Understand the hand model at the end of HandOccNet: what the 48 pose numbers and the
# 10 shape numbers mean, how linear blend skinning turns them into a mesh, and how the package's
# embedded **SynthHand** relates to the real MANO model.
#
# After this notebook you will be able to
# - name every slot of a (B, 48) MANO pose vector and every joint of the two 21-joint orders;
# - write linear blend skinning (LBS) as an equation and as ten lines of torch, and check them
#   against `smplx.lbs`, which both of our hand models call;
# - convert joints between the canonical order and the MANO / HO-3D order;
# - sample plausible random and grasping poses, and pose a hand yourself with sliders.
#
# HandOccNet's regressor predicts MANO pose and shape and runs them through a MANO layer
# (notebook 06). Everything here is the layer after the network: no learning yet.
#
# Reference: J. Romero, D. Tzionas, M. J. Black, *Embodied Hands: Modeling and Capturing Hands and
# Bodies Together* (MANO), SIGGRAPH Asia 2017; LBS as implemented by `smplx.lbs`.

# %% tags=["parameters"]
PROFILE = "quick"  # "quick": a few hands, seconds on a laptop CPU; "full": more samples

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import smplx.lbs
import torch
from matplotlib.collections import PolyCollection

from handoccnet_lite.hand import (
    MANO_ENV,
    MANO_HELP,
    SynthHand,
    decompose_hand_pose,
    find_mano_file,
    joints,
    load_hand_model,
    sample_poses,
)
from handoccnet_lite.hand.anatomy import FIRST_JOINT
from handoccnet_lite.hand.sampler import LIMITS, MODES, compose_hand_pose
from handoccnet_lite.hand.view import hand_figure
from handoccnet_lite.utils import save_figure, seed_everything

SEED = 0
N_POSES = 4 if PROFILE == "quick" else 8  # hands per sampler mode in the pose figure
N_STATS = 500 if PROFILE == "quick" else 5000  # poses for the sampler statistics
seed_everything(SEED)
torch.set_printoptions(precision=4, sci_mode=False)
print("profile:", PROFILE, "| hands per mode:", N_POSES, "| poses for statistics:", N_STATS)
# Everything here is a few thousand vertices: CPU only, no device handling needed.

# %% [markdown]
# ## 1. MANO's parameterisation
#
# MANO describes a right hand with two vectors:
#
# - **pose θ ∈ R^48**: 16 rotations in axis-angle form (3 numbers each: the direction is the axis,
#   the length the angle in radians). Slot 0 (`pose[0:3]`) is the *global orientation* of the
#   wrist; slots 1-15 (`pose[3:48]`) are the 15 finger joints, each relative to its parent.
# - **shape β ∈ R^10**: coefficients of 10 shape directions ("betas"); β = 0 is the mean hand.
#
# The finger joints come in **MANO's kinematic order**, which is *not* thumb-first:
# index, middle, pinky, ring, thumb (three joints each). The table below is the whole contract.

# %%
pose_slots = pd.DataFrame(
    {
        "MANO joint": range(16),
        "name": joints.MANO_KINEMATIC_NAMES,
        "parent": [joints.MANO_KINEMATIC_NAMES[p] if p >= 0 else "-" for p in joints.MANO_PARENTS],
        "pose slice": [f"pose[{3 * k}:{3 * k + 3}]" for k in range(16)],
    }
)
print(pose_slots.to_string(index=False))
assert len(pose_slots) * 3 == 48

# %% [markdown]
# ## 2. Which hand model? SynthHand by default, MANO when you have it
#
# MANO's model file cannot be redistributed (its licence requires registration), so the package
# ships **SynthHand**: a procedural right hand built by our own code with *the same
# parameterisation* (same 16-joint tree, same rest frame, same pose meaning, 10 betas) and posed
# by the same `smplx.lbs.lbs` function. `load_hand_model("auto")` picks MANO when the folder named by
# the environment variable `HANDOCCNET_MANO_DIR` holds `MANO_RIGHT.pkl`, and SynthHand otherwise.
# Nothing in this collection *requires* MANO. To use it:
#
# ```bash
# export HANDOCCNET_MANO_DIR=~/models/mano      # the folder holding MANO_RIGHT.pkl
# ```
#
# then restart the kernel. The pickle is read by a restricted unpickler (no chumpy needed, and a
# file that tries to run code is refused).

# %%
mano_file = find_mano_file()
print(f"${MANO_ENV} -> {mano_file if mano_file else 'no MANO_RIGHT file found'}")
auto_model = load_hand_model("auto")
print("load_hand_model('auto') gave:", auto_model)
if mano_file is None:
    print("\n" + MANO_HELP)
    assert isinstance(auto_model, SynthHand)

# %% [markdown]
# The rest of the notebook takes SynthHand apart, because its arrays are ours to show. If MANO is
# available, section 5 runs the same pose through both.

# %%
hand = SynthHand()  # float32, flat_hand_mean=True: the zero pose is a flat hand
pieces = {
    "v_template": hand.v_template,  # (V, 3) rest mesh, metres
    "shapedirs": hand.shapedirs,  # (V, 3, 10) displacement per unit beta
    "posedirs": hand.posedirs,  # (135, V*3) pose-corrective blend shapes (zero in SynthHand)
    "J_regressor": hand.J_regressor,  # (16, V) joints as weighted vertex averages
    "lbs_weights": hand.lbs_weights,  # (V, 16) skinning weights
    "parents": hand.parents,  # (16,) kinematic tree
    "faces": hand.faces,  # (F, 3) triangles
}
for name, x in pieces.items():
    print(f"{name:12s} {str(tuple(x.shape)):14s} {x.dtype}")
V = hand.num_vertices
assert hand.lbs_weights.shape == (V, 16) and hand.J_regressor.shape == (16, V)
torch.testing.assert_close(hand.lbs_weights.sum(1), torch.ones(V))  # each vertex: weights sum to 1
torch.testing.assert_close(hand.J_regressor.sum(1), torch.ones(16))  # each joint: an average
assert hand.posedirs.abs().max() == 0

# %% [markdown]
# Two properties the checks just confirmed: every vertex's skinning weights sum to 1 (a vertex is
# a convex mix of joint motions) and every row of the joint regressor sums to 1 (a joint is a
# weighted average of vertices, so it moves with the shape). SynthHand's `posedirs` are all zero:
# it has no pose-corrective blend shapes (MANO's are learned from scans).
#
# A small drawing helper for the rest of the notebook: project the mesh onto a view plane and
# paint the triangles far-to-near with Lambert shading (matplotlib has no z-buffer).

# %%
VIEWS = {  # (forward, up) of a camera looking at the hand; right = forward x up
    "palm": ((0.0, 1.0, 0.0), (-1.0, 0.0, 0.0)),  # look at the palm, fingers up, thumb right
    "side": ((0.0, 0.0, -1.0), (-1.0, 0.0, 0.0)),  # from the thumb side
    "oblique": ((0.45, 0.75, -0.5), (-0.8, 0.45, 0.0)),
}


def view_basis(view: str) -> np.ndarray:
    """(3, 3) rows right, up, forward of an orthonormal camera for a named view."""
    fwd, up = (np.asarray(v) for v in VIEWS[view])
    fwd = fwd / np.linalg.norm(fwd)
    up = up - up @ fwd * fwd
    up = up / np.linalg.norm(up)
    return np.stack([np.cross(fwd, up), up, fwd])


def draw_mesh(ax, verts, faces, view="palm", color=(0.91, 0.72, 0.6), alpha=1.0, jts=None):
    """Orthographic painter's-algorithm drawing of one mesh (V, 3) with optional joints (21, 3)."""
    basis = view_basis(view)
    v = np.asarray(verts, dtype=np.float64) @ basis.T  # (V, 3) right, up, depth
    tri = v[np.asarray(faces)]  # (F, 3, 3)
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # (F, 3) outward
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-12
    front = normal[:, 2] < 0  # facing the camera (depth axis points away from it)
    order = np.argsort(-tri[front, :, 2].mean(1))  # far first
    shade = 0.35 + 0.65 * np.clip(-normal[front, 2], 0, 1)[order]  # (F',)
    colours = np.clip(np.asarray(color)[None] * shade[:, None], 0, 1)
    polys = PolyCollection(tri[front][order][:, :, :2], facecolors=colours, alpha=alpha, lw=0)
    ax.add_collection(polys)
    if jts is not None:
        j = np.asarray(jts, dtype=np.float64) @ basis.T  # (21, 3)
        for a, b in joints.SKELETON:
            ax.plot(j[[a, b], 0], j[[a, b], 1], color="#1f4e99", lw=1.2, zorder=3)
        ax.scatter(j[:, 0], j[:, 1], s=6, color="#c0392b", zorder=4)
    ax.set_aspect("equal")
    ax.autoscale_view()
    ax.axis("off")
    return ax


rest = hand(torch.zeros(1, 48))
fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
for ax, view in zip(axes, VIEWS, strict=True):
    draw_mesh(ax, rest.vertices[0], hand.faces, view, jts=rest.joints[0])
    ax.set_title(f"zero pose, {view} view")
plt.show()

# %% [markdown]
# ## 3. Linear blend skinning, one equation at a time
#
# With T̄ the template (V × 3), S_k the shape directions, 𝒥 the joint regressor, w the skinning
# weights and π(k) the parent of joint k, MANO (and SynthHand) compute:
#
# | step | equation |
# |---|---|
# | shape blend | v_s = T̄ + Σ_k β_k S_k |
# | rest joints | J = 𝒥 v_s |
# | rotations | R_k = exp([θ_k]_×) (Rodrigues) |
# | pose correctives | v_p = v_s + Σ_m (vec(R) − vec(I))_m P_m   (P = `posedirs`, zero for SynthHand) |
# | kinematic chain | G_0 = [R_0, J_0], G_k = G_π(k) · [R_k, J_k − J_π(k)] |
# | posed joints | J'_k = translation of G_k |
# | remove the rest pose | A_k = G_k · [I, −J_k] |
# | blend | v'_i = Σ_k w_ik A_k [v_p,i; 1] |
#
# ([R, t] is the 4 × 4 rigid transform with rotation R and translation t.) The last line is the
# "linear blend": each vertex is moved by a weighted average of its joints' rigid motions.
# Below, each step is the few lines that implement it, on a small batch of random poses and shapes.

# %%
gen = torch.Generator().manual_seed(SEED)
B = 3
pose = sample_poses(B, gen, mode="grasp")  # (B, 48)
betas = 0.8 * torch.randn(B, 10, generator=gen)  # (B, 10)

# shape blend: v_s = T + sum_k beta_k S_k
v_shaped = hand.v_template + torch.einsum("bl,vcl->bvc", betas, hand.shapedirs)  # (B, V, 3)
# rest joints: J = J_regressor v_s
J_rest = torch.einsum("jv,bvc->bjc", hand.J_regressor, v_shaped)  # (B, 16, 3)
print("v_shaped", tuple(v_shaped.shape), "| J_rest", tuple(J_rest.shape))
assert v_shaped.shape == (B, V, 3) and J_rest.shape == (B, 16, 3)

# %% [markdown]
# **Rodrigues' formula.** For θ = angle · k with |k| = 1 and K = [k]_× the cross-product matrix,
# R = I + sin(angle) K + (1 − cos(angle)) K².


# %%
def rodrigues(aa: torch.Tensor) -> torch.Tensor:
    """(N, 3) axis-angle -> (N, 3, 3) rotation matrices."""
    angle = aa.norm(dim=1, keepdim=True).clamp_min(1e-8)  # (N, 1)
    k = aa / angle  # (N, 3) unit axis
    zero = torch.zeros_like(k[:, 0])
    K = torch.stack(
        [zero, -k[:, 2], k[:, 1], k[:, 2], zero, -k[:, 0], -k[:, 1], k[:, 0], zero], dim=1
    ).view(-1, 3, 3)  # (N, 3, 3)
    s, c = torch.sin(angle)[..., None], torch.cos(angle)[..., None]  # (N, 1, 1)
    return torch.eye(3) + s * K + (1 - c) * K @ K


R = rodrigues(pose.reshape(-1, 3)).view(B, 16, 3, 3)  # (B, 16, 3, 3)
torch.testing.assert_close(R, smplx.lbs.batch_rodrigues(pose.reshape(-1, 3)).view(B, 16, 3, 3))
torch.testing.assert_close(R @ R.transpose(-1, -2), torch.eye(3).expand(B, 16, 3, 3))
print("rotations", tuple(R.shape), "orthonormal and equal to smplx.lbs.batch_rodrigues")

# %%
# pose correctives: v_p = v_s + (vec(R_1..15) - vec(I)) @ posedirs
pose_feature = (R[:, 1:] - torch.eye(3)).reshape(B, 15 * 9)  # (B, 135)
v_posed = v_shaped + (pose_feature @ hand.posedirs).view(B, V, 3)  # (B, V, 3)


def rigid(rot: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3), (..., 3) -> (..., 4, 4) homogeneous transforms [rot, t; 0 0 0 1]."""
    top = torch.cat([rot, t[..., None]], dim=-1)  # (..., 3, 4)
    bottom = torch.tensor([0.0, 0.0, 0.0, 1.0]).expand(*top.shape[:-2], 1, 4)
    return torch.cat([top, bottom], dim=-2)


# kinematic chain: G_0 = [R_0, J_0], G_k = G_parent(k) [R_k, J_k - J_parent(k)]
parents = hand.parents.tolist()
bone = J_rest.clone()
bone[:, 1:] -= J_rest[:, parents[1:]]  # (B, 16, 3) joint offsets from the parent
local = rigid(R, bone)  # (B, 16, 4, 4)
chain = [local[:, 0]]
for k in range(1, 16):  # MANO lists every parent before its children
    chain.append(chain[parents[k]] @ local[:, k])
G = torch.stack(chain, dim=1)  # (B, 16, 4, 4)
J_posed = G[..., :3, 3]  # (B, 16, 3)

# remove the rest pose: A_k = G_k [I, -J_k]  (a vertex at J_k moves exactly to J'_k)
A = G.clone()
A[..., :3, 3] -= (G[..., :3, :3] @ J_rest[..., None])[..., 0]  # (B, 16, 4, 4)

# blend: v'_i = sum_k w_ik A_k [v_p,i; 1]
T = torch.einsum("vk,bkij->bvij", hand.lbs_weights, A)  # (B, V, 4, 4)
verts = (T[..., :3, :3] @ v_posed[..., None])[..., 0] + T[..., :3, 3]  # (B, V, 3)
print("posed vertices", tuple(verts.shape), "| posed joints", tuple(J_posed.shape))

# %% [markdown]
# **Check against the package.** `SynthHand.forward` calls `smplx.lbs.lbs` and then appends five
# fingertip *vertices* to the 16 kinematic joints (21 joints, MANO order) and reorders them to
# the canonical order. Our step-by-step version must agree with both.

# %%
out = hand(pose, betas)
torch.testing.assert_close(verts, out.vertices)
tips = verts[:, hand.tip_vertex_ids]  # (B, 5, 3) thumb, index, middle, ring, pinky
our_joints = joints.mano_to_canonical(torch.cat([J_posed, tips], dim=1))  # (B, 21, 3)
torch.testing.assert_close(our_joints, out.joints)

v_lbs, j_lbs = smplx.lbs.lbs(
    betas, pose, hand.v_template, hand.shapedirs, hand.posedirs,
    hand.J_regressor, hand.parents, hand.lbs_weights,
)  # fmt: skip
torch.testing.assert_close(verts, v_lbs)
torch.testing.assert_close(J_posed, j_lbs)
err = (verts - out.vertices).abs().max().item()
print(f"step-by-step LBS == SynthHand == smplx.lbs.lbs (max |diff| {err:.2e} m)")

# %% [markdown]
# **A consequence of the blend.** Rotating one joint moves only the vertices that have weight on
# it or on its descendants. Bend the index finger's knuckle (MANO joint 1) by 90° about +z (in this
# rest frame, flexion towards the palm is a positive rotation about +z): vertices with zero
# weight on joints 1-3 must not move at all.

# %%
bend = torch.zeros(1, 48)
bend[0, 3:6] = torch.tensor([0.0, 0.0, np.pi / 2])  # slot 1 = index1
moved = (hand(bend).vertices - rest.vertices)[0].norm(dim=1)  # (V,)
index_weight = hand.lbs_weights[:, 1:4].sum(1)  # (V,)
still = index_weight == 0
print(
    f"{int((~still).sum())} of {V} vertices carry index weight; "
    f"largest motion of the others: {moved[still].max().item():.1e} m; "
    f"of the index tip: {moved[hand.tip_vertex_ids[1]].item() * 1000:.0f} mm"
)
assert moved[still].max() < 1e-6 and moved[hand.tip_vertex_ids[1]] > 0.03

fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
dominant = hand.lbs_weights.argmax(1).numpy()  # (V,) joint with the largest weight
vr = rest.vertices[0].numpy() @ view_basis("palm").T
sc = axes[0].scatter(vr[:, 0], vr[:, 1], c=dominant, cmap="tab20", s=5)
axes[0].set_aspect("equal")
axes[0].axis("off")
axes[0].set_title("dominant skinning joint per vertex")
fig.colorbar(sc, ax=axes[0], fraction=0.04, label="MANO joint")
draw_mesh(axes[1], hand(bend).vertices[0], hand.faces, "side", jts=hand(bend).joints[0])
axes[1].set_title("index1 flexed by 90°, side view")
save_figure(fig, "01_skinning_weights")
plt.show()

# %% [markdown]
# ## 4. Shape directions
#
# SynthHand's 10 betas are *named* anthropometric factors (its builder is run at β_k = ±1 and the
# difference becomes a linear direction, as in MANO). Real MANO's betas are principal components of
# registered hand scans, so MANO's β_0 is not "scale": the two models share the slot count and the
# linearity, not the meaning of each slot. Printed: how far the vertices move per unit beta.

# %%
shape_moves = hand.shapedirs.norm(dim=1)  # (V, 10) metres per unit beta
table = pd.DataFrame(
    {
        "beta": range(10),
        "name": hand.shape_names,
        "mean |dv| mm": (shape_moves.mean(0) * 1000).numpy().round(2),
        "max |dv| mm": (shape_moves.max(0).values * 1000).numpy().round(2),
    }
)
print(table.to_string(index=False))
wrist, middle_tip = joints.JOINT_NAMES.index("wrist"), joints.JOINT_NAMES.index("middle4")
length = (rest.joints[0, middle_tip] - rest.joints[0, wrist]).norm().item()
print(f"\nmean hand: wrist to middle fingertip {length * 1000:.0f} mm")
assert (shape_moves.max(0).values > 1e-4).all(), "every direction must move the mesh"

# %%
BETA_SHOWN = 2.0
fig, axes = plt.subplots(2, 5, figsize=(13, 6))
for k, ax in enumerate(axes.flat):
    view = "side" if hand.shape_names[k] == "thickness" else "palm"
    for sign, colour in ((-1, (0.35, 0.55, 0.85)), (1, (0.95, 0.55, 0.2))):
        b = torch.zeros(1, 10)
        b[0, k] = sign * BETA_SHOWN
        draw_mesh(ax, hand(torch.zeros(1, 48), b).vertices[0], hand.faces, view, colour, 0.55)
    ax.set_title(f"β{k} {hand.shape_names[k]}" + (" (side)" if view == "side" else ""), fontsize=9)
fig.suptitle(f"SynthHand shape directions: blue β = −{BETA_SHOWN:g}, orange β = +{BETA_SHOWN:g}")
save_figure(fig, "01_shape_directions")
plt.show()

# %% [markdown]
# ## 5. SynthHand and real MANO side by side
#
# | | SynthHand (ours) | MANO (MANO_RIGHT.pkl) |
# |---|---|---|
# | vertices | printed above (section 2) | 778 (design notes; printed below when MANO is installed) |
# | template | capped tubes and a palm slab, built from hand anthropometry | registered from scans |
# | shape space | 10 named factors, linear | 10 PCA directions of scans, linear |
# | pose correctives | none (`posedirs` = 0) | learned (135 → V × 3) |
# | skinning | `smplx.lbs.lbs` | `smplx.lbs.lbs` (through `smplx.MANO`) |
# | pose meaning | same tree, same rest frame: flexion = rotation about +z | same |
# | fingertips | the end vertex of each finger tube | vertex ids of a convention (`tips=`) |
#
# Because the pose meaning is shared, a pose sampled here (section 7) gives a similar hand on
# both. The cell below compares them only when MANO is installed; otherwise it says so and moves on.

# %%
if mano_file is not None:
    mano = load_hand_model("mano")
    demo = sample_poses(1, torch.Generator().manual_seed(SEED), mode="grasp", global_orient="zero")
    outs = {"SynthHand": hand(demo), "MANO": mano(demo)}
    for name, o in outs.items():
        bones = (
            o.joints[0, [c for _, c in joints.SKELETON]]
            - o.joints[0, [p for p, _ in joints.SKELETON]]
        )
        print(
            f"{name:9s} V={o.vertices.shape[1]:4d}  total bone length {bones.norm(dim=1).sum().item() * 1000:.0f} mm"
        )
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.6))
    for ax, (name, o), model in zip(axes, outs.items(), (hand, mano), strict=True):
        draw_mesh(ax, o.vertices[0], model.faces, "oblique", jts=o.joints[0])
        ax.set_title(name)
    save_figure(fig, "01_synth_vs_mano")
    plt.show()
else:
    print(f"MANO not installed: set ${MANO_ENV} to compare. Continuing with SynthHand only.")

# %% [markdown]
# ## 6. Two joint orders
#
# The hand models compute joints in **MANO / HO-3D order**: the 16 kinematic joints in the order of
# section 1, then the fingertips thumb, index, middle, ring, pinky (indices 16-20). The package's
# **canonical order** (HandOccNet's outputs, Dex-YCB, FreiHAND, OpenPose) is wrist, then each
# finger from thumb to pinky, knuckle to tip. Every `HandOutput.joints` is already canonical;
# HO-3D annotations and MANO layers give the other order. Mixing them up silently swaps fingers,
# and the error can look like a bad model. The conversions are index permutations along axis -2.

# %%
orders = pd.DataFrame(
    {
        "index": range(21),
        "canonical": joints.JOINT_NAMES,
        "MANO / HO-3D": joints.MANO_JOINT_NAMES,
        "canonical[i] = mano[...]": joints.MANO_TO_CANONICAL,
    }
)
print(orders.to_string(index=False))

x = torch.randn(2, 21, 3)
torch.testing.assert_close(joints.canonical_to_mano(joints.mano_to_canonical(x)), x)
torch.testing.assert_close(joints.ho3d_to_canonical(x), joints.mano_to_canonical(x))
assert joints.mano_to_canonical(np.arange(21)[:, None])[:, 0].tolist() == list(
    joints.MANO_TO_CANONICAL
)
mano_order = joints.canonical_to_mano(rest.joints[0])  # (21, 3)
assert joints.MANO_JOINT_NAMES[16] == "thumb4" and joints.JOINT_NAMES[4] == "thumb4"
torch.testing.assert_close(mano_order[16], rest.joints[0, 4])
print("\nround trip exact; MANO index 16 (thumb tip) is canonical index 4")

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 4.6))
spread = torch.zeros(1, 48)
spread[0, 3 * FIRST_JOINT["thumb"] : 3 * FIRST_JOINT["thumb"] + 3] = torch.tensor([0.0, 0.5, 0.0])
flat = hand(spread)
jp = flat.joints[0].numpy() @ view_basis("palm").T  # (21, 3)
# canonical joint i sits at index MANO_TO_CANONICAL[i] of the MANO order
labels = {"canonical": list(range(21)), "MANO / HO-3D": list(joints.MANO_TO_CANONICAL)}
for ax, (title, where) in zip(axes, labels.items(), strict=True):
    draw_mesh(ax, flat.vertices[0], hand.faces, "palm", alpha=0.35, jts=flat.joints[0])
    for i in range(21):
        ax.annotate(str(where[i]), jp[i, :2], xytext=(3, 3), textcoords="offset points", fontsize=8)
    ax.set_title(f"{title} order (palm view)")
save_figure(fig, "01_joint_orders")
plt.show()

# %% [markdown]
# ## 7. The pose sampler: random hands and grasps
#
# Training data needs plausible hands. `sample_poses` composes each finger joint's axis-angle
# from three anatomical angles (flexion, abduction, twist) about per-joint axes, each inside
# per-joint limits (the first cell below prints them for the index finger and the thumb):
#
# - `mode="random"`: an independent curl per finger (biased towards open hands) plus joint noise;
# - `mode="grasp"`: coordinated curls from a power, pinch or tripod grasp family, less noise;
# - `global_orient="random"` draws the wrist rotation uniformly on SO(3), `"zero"` keeps it.
#
# `decompose_hand_pose` inverts the composition, so we can check the limits and measure the curl.

# %%
slots = {"index1": 0, "index2": 1, "index3": 2, "thumb1": 12, "thumb2": 13, "thumb3": 14}
limits = pd.DataFrame(
    {f"{a} {e}": LIMITS[list(slots.values()), k, i].numpy()
     for k, a in enumerate(("flexion", "abduction", "twist")) for i, e in enumerate(("min", "max"))},
    index=list(slots),
)  # fmt: skip
print("limits (rad) of sample_poses' angles:")
print(limits.round(2).to_string())

gen = torch.Generator().manual_seed(SEED)
stats = {m: sample_poses(N_STATS, gen, mode=m, global_orient="zero") for m in MODES}
lo, hi = LIMITS[..., 0], LIMITS[..., 1]  # (15, 3)
finger_of_slot = ["index"] * 3 + ["middle"] * 3 + ["pinky"] * 3 + ["ring"] * 3 + ["thumb"] * 3
rows = []
for m, p in stats.items():
    ang = decompose_hand_pose(p)  # (N, 15, 3) flexion, abduction, twist
    assert ((ang >= lo - 1e-4) & (ang <= hi + 1e-4)).all(), f"{m}: an angle is outside LIMITS"
    assert p[:, :3].abs().max() == 0
    flex = pd.DataFrame(ang[..., 0].numpy(), columns=finger_of_slot).T.groupby(level=0).mean().T
    rows.append(flex.mean().rename(m))
curl_table = pd.DataFrame(rows)[list(joints.FINGERS)]
print("mean flexion per joint (rad), averaged over each finger's three joints:")
print(curl_table.round(3).to_string())
assert (curl_table.loc["grasp"] > curl_table.loc["random"]).sum() >= 4, "grasps curl more"

# %%
roots = sample_poses(N_STATS, gen, mode="random", global_orient="random")[:, :3]  # (N, 3)
mean_rot = rodrigues(roots).mean(0)  # (3, 3): zero for a uniform distribution on SO(3)
angles_deg = roots.norm(dim=1) * 180 / np.pi
print(
    f"random wrist rotations: |mean R| = {mean_rot.norm().item():.3f} (0 when uniform), "
    f"angles {angles_deg.min().item():.0f}..{angles_deg.max().item():.0f} deg"
)
assert mean_rot.norm() < 0.3

# %%
gen = torch.Generator().manual_seed(SEED + 1)
fig, axes = plt.subplots(2, N_POSES, figsize=(2.6 * N_POSES, 5.6))
for row, m in enumerate(MODES):
    p = sample_poses(N_POSES, gen, mode=m, global_orient="zero")
    o = hand(p)
    for c in range(N_POSES):
        draw_mesh(axes[row, c], o.vertices[c], hand.faces, "oblique", jts=o.joints[c])
        axes[row, c].set_title(f"{m} #{c}", fontsize=9)
fig.suptitle("sample_poses: random (top) and grasp (bottom), zero wrist rotation")
save_figure(fig, "01_hand_poses")
plt.show()

# %% [markdown]
# ## 8. Pose it yourself
#
# The controls below map to pose numbers the same way the sampler does: a *curl* in [0, 1] per
# finger sets the flexion of its three joints to that fraction of their upper limit (weighted
# per joint by the sampler's curl profile, `PROFILE_WEIGHTS` below), *opposition* swings
# the thumb's base (MANO joint 13) across the palm via its abduction angle, and three sliders
# set betas 0-2. `hand_figure` (plotly) draws the mesh and skeleton; drag to rotate.
#
# In JupyterLab you get sliders (released, not dragged, triggers a redraw; the cell prints how long
# one redraw takes) and the live 3D view only. Run headless (papermill, CI,
# `python 01_hand_model.py`) there is no front-end to talk to, so the cell draws the same pose as
# a static matplotlib figure instead (saved as `figures/01_controlled_hand.png` in both cases).

# %%
PROFILE_WEIGHTS = torch.tensor([0.8, 1.0, 0.75])  # share of the curl per finger joint


def pose_from_controls(curl: dict[str, float], opposition: float = 0.0) -> torch.Tensor:
    """Curl per finger in [0, 1] and thumb opposition in [0, 1] -> (1, 48) pose, zero wrist."""
    ang = torch.zeros(1, 15, 3)  # [flexion, abduction, twist] per MANO joint 1..15
    for finger, c in curl.items():
        j = FIRST_JOINT[finger] - 1
        ang[0, j : j + 3, 0] = c * PROFILE_WEIGHTS * hi[j : j + 3, 0]
    t = FIRST_JOINT["thumb"] - 1
    ang[0, t, 1] = opposition * hi[t, 1]
    ang = ang.clamp(lo, hi)
    return torch.cat([torch.zeros(1, 3), compose_hand_pose(ang)], dim=1)


def controlled_hand(opposition=0.0, beta0=0.0, beta1=0.0, beta2=0.0, **curl):
    """HandOutput for the widget values (curl keyword per finger)."""
    b = torch.zeros(1, 10)
    b[0, :3] = torch.tensor([beta0, beta1, beta2])
    return hand(pose_from_controls(curl, opposition), b)


DEFAULTS = dict(thumb=0.5, index=0.2, middle=0.6, ring=0.8, pinky=0.9, opposition=0.7)
o = controlled_hand(**DEFAULTS)
ang = decompose_hand_pose(pose_from_controls({k: DEFAULTS[k] for k in joints.FINGERS}, 0.7))
assert ((ang >= lo - 1e-5) & (ang <= hi + 1e-5)).all()
torch.testing.assert_close(
    decompose_hand_pose(pose_from_controls({"index": 0.0})), torch.zeros(1, 15, 3)
)
plotly_fig = hand_figure(o.vertices[0], hand.faces, o.joints[0], title="SynthHand")
assert len(plotly_fig.data) == 3  # mesh, skeleton, joints
print("controls -> pose -> mesh works; plotly traces:", [t.name for t in plotly_fig.data])


# %%
def in_kernel_with_widgets() -> bool:
    """True inside a Jupyter kernel with ipywidgets installed (sliders can be shown)."""
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in shell.config


def static_view(values: dict) -> plt.Figure:
    """The headless fallback: the same controlled hand, drawn by matplotlib from two views."""
    h = controlled_hand(**values)
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.6))
    for ax, view in zip(axes, ("oblique", "side"), strict=True):
        draw_mesh(ax, h.vertices[0], hand.faces, view, jts=h.joints[0])
        ax.set_title(f"controlled hand, {view} view")
    return fig


def hand_sliders(widgets) -> dict:
    """One slider per control, labels in full (description_width 'initial'), reporting a value
    when released: one redraw per move, not one per pixel dragged."""
    full = dict(style={"description_width": "initial"}, layout=widgets.Layout(width="360px"),
                continuous_update=False)  # fmt: skip
    sliders = {f: widgets.FloatSlider(value=DEFAULTS[f], min=0, max=1, step=0.05,
                                      description=f"{f} curl", **full) for f in joints.FINGERS}  # fmt: skip
    sliders["opposition"] = widgets.FloatSlider(
        value=DEFAULTS["opposition"],
        min=0,
        max=1,
        step=0.05,
        description="thumb opposition",
        **full,
    )
    for k in range(3):
        sliders[f"beta{k}"] = widgets.FloatSlider(
            value=0.0, min=-3, max=3, step=0.25, description=f"β{k} {hand.shape_names[k]}", **full
        )
    return sliders


def hand_view(values: dict):
    """The plotly figure of the controlled hand (what the live view shows)."""
    h = controlled_hand(**values)
    return hand_figure(h.vertices[0], hand.faces, h.joints[0], title="SynthHand")


start = time.perf_counter()
hand_view(DEFAULTS)
print(f"one redraw (pose -> mesh -> plotly figure): {time.perf_counter() - start:.3f} s")
fig = static_view(DEFAULTS)  # the record for figures/, drawn only where there are no sliders
save_figure(fig, "01_controlled_hand")
if in_kernel_with_widgets():
    import ipywidgets as widgets
    from IPython.display import display

    plt.close(fig)  # the live view replaces it: no static copy under the sliders
    sliders = hand_sliders(widgets)
    view_out = widgets.Output()

    def redraw(**values) -> None:
        view_out.clear_output(wait=True)
        with view_out:
            display(hand_view(values))

    controls = widgets.interactive_output(redraw, sliders)
    display(widgets.HBox([widgets.VBox(list(sliders.values())), view_out]), controls)
else:
    print("no Jupyter front-end: static view of the default controls")
    plt.show()

# %% [markdown]
# ## Summary
#
# - A MANO pose is 16 axis-angle rotations (48 numbers): the wrist's global orientation, then 15
#   finger joints in the order index, middle, pinky, ring, thumb. A shape is 10 betas.
# - Linear blend skinning: shape blend → regress joints → Rodrigues → (pose correctives) →
#   kinematic chain → subtract the rest pose → weighted average of rigid motions per vertex. Our
#   ten-line version matched `SynthHand` and `smplx.lbs.lbs` to float precision.
# - SynthHand is a stand-in with MANO's parameterisation and rest frame; set `HANDOCCNET_MANO_DIR`
#   to use the real MANO, which every part of the package then picks up through
#   `load_hand_model("auto")`.
# - Joints come in two orders; `joints.mano_to_canonical` / `canonical_to_mano` convert along axis
#   −2. Everything the package returns is canonical.
# - `sample_poses` gives anatomically limited random hands or grasps; the controls above map a
#   curl per finger onto the same angles.
#
# ## Exercises
# 1. In `rodrigues`, what happens for θ = 0, and why is `clamp_min(1e-8)` safe there? Check
#    `rodrigues(torch.zeros(1, 3))`.
# 2. Replace the blend step by "each vertex follows only its dominant joint" (`argmax` of the
#    weights). Draw a fully curled index finger: what goes wrong at the knuckles?
# 3. Add a pose-corrective term by hand: set `posedirs` so that bending index1 thickens the
#    knuckle. Which rows of the (135, V·3) matrix belong to index1?
# 4. Write `mano_to_canonical` yourself from `JOINT_NAMES` and `MANO_JOINT_NAMES` and compare it
#    with the package's on random (2, 21, 3) tensors.
# 5. With the sliders, find a pinch (thumb tip touching the index tip). Print the distance between
#    canonical joints 4 and 8: how small can you make it?
