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
# # 06 · The regressor and the losses: heatmaps, 6D rotations, MANO, five loss terms
#
# **Goal.** Build, piece by piece, what turns SET's feature into a hand: 2D joint heatmaps read out
# by a soft-argmax with a learnable temperature, 16 rotations regressed in the continuous 6D form
# and turned into MANO's axis-angle pose, the hand model layer, and the five weighted loss terms.
# Each piece is compared with the package.
#
# After this notebook you will be able to
# - write a spatial soft-argmax with per-joint temperature and pixel centres (i + 0.5) / G, and say
#   what the temperature does to a heatmap;
# - turn 6 numbers into a rotation matrix by Gram–Schmidt, explain why 6D is continuous where
#   axis-angle wraps, and convert a matrix back to axis-angle robustly;
# - compute HandOccNet's loss term by term on a SynthOcc batch, with the paper's weights.
#
# Sources: the regressor and loss facts are from the authors' public release (summarised in the
# docstrings of `handoccnet_lite/model/regressor.py` and `handoccnet_lite/losses.py`); the 6D
# representation is from Y. Zhou et al., *On the Continuity of Rotation Representations in Neural
# Networks*, CVPR 2019. Shape letters: B batch, J joints (21), V vertices, G grid side.

# %% tags=["parameters"]
PROFILE = "quick"  # "quick": tiny preset, 4 SynthOcc images; "full": lite preset, 16 images

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.testing import assert_close
from torch.utils.data import default_collate

from handoccnet_lite import losses
from handoccnet_lite.config import LossWeights
from handoccnet_lite.data.dataset import SynthOccDataset
from handoccnet_lite.hand import SynthHand
from handoccnet_lite.model import regressor, rotations
from handoccnet_lite.model.handoccnet import HandOccNet
from handoccnet_lite.utils import DATA_SAMPLES_DIR, resolve_device, save_figure, seed_everything

SEED = 0
PRESET, N_IMAGES = ("tiny", 4) if PROFILE == "quick" else ("lite", 16)
seed_everything(SEED)
device = resolve_device("auto")
net = HandOccNet.from_config(PRESET, hand_model="synth").to(device).eval()  # data: SynthHand
cfg = net.cfg
reg = net.regressor
print(
    f"profile: {PROFILE} | device: {device} | preset {PRESET}: C = {cfg.feat_dim}, G = {cfg.grid}"
)
print("weights: the release's initialisation (untrained); every prediction below is untrained")

# %% [markdown]
# ## 1. From heatmaps to 2D joints: a soft-argmax with a learnable temperature
#
# The heatmap head (an hourglass on SET's G × G feature) ends in 21 logit maps, one per joint. The
# release turns each into a probability map with a spatial softmax whose logits are multiplied by
# a learnable per-joint factor β (init 1), and reads the joint as the map's expected pixel centre:
#
# $$P_j(u, v) = \frac{\exp(\beta_j\, \ell_j(u, v))}{\sum_{u', v'} \exp(\beta_j\, \ell_j(u', v'))},
# \qquad \hat x_j = \sum_{u, v} P_j(u, v)\, \frac{u + 0.5}{G}, \quad
# \hat y_j = \sum_{u, v} P_j(u, v)\, \frac{v + 0.5}{G}.$$
#
# β is an inverse temperature: larger β, sharper map. Unlike an argmax, this expectation is
# differentiable, so the 2D loss trains the heatmaps directly.
#
# ### 1.1 Pixel centres

# %%
G = cfg.grid
c = (torch.arange(G, dtype=torch.float32) + 0.5) / G  # (G,) centres of pixels 0..G-1 in [0, 1]
centres = torch.stack(torch.meshgrid(c, c, indexing="xy"), -1).reshape(G * G, 2)  # (G*G, 2) x, y
assert_close(centres, regressor.pixel_centres(G))
print("first centres (x, y):", centres[:3].tolist(), "| last:", centres[-1].tolist())

# %% [markdown]
# Why centres and not corners i / G? Two limiting maps: a uniform map (no information) should give
# the middle of the image, and a map concentrated on one pixel should give that pixel's centre.

# %%
uniform = torch.full((G * G,), 1.0 / (G * G))
corners = torch.stack(torch.meshgrid(torch.arange(G), torch.arange(G), indexing="xy"), -1) / G
corners = corners.reshape(G * G, 2).float()  # (G*G, 2) i / G
print(
    "uniform map -> centres:",
    (uniform @ centres).tolist(),
    "| corners:",
    (uniform @ corners).tolist(),
)
assert_close(uniform @ centres, torch.tensor([0.5, 0.5]))

# %% [markdown]
# ### 1.2 The soft-argmax, built and compared with the package's `HeatmapHead.soft_argmax`
# We give the 21 temperatures random values so the check covers β ≠ 1.


# %%
def soft_argmax(logits: torch.Tensor, beta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """logits (B, J, G, G), beta (J, 1) -> probability maps (B, J, G, G), joints (B, J, 2)."""
    b, j, h, w = logits.shape
    prob = torch.softmax(beta * logits.reshape(b, j, h * w), dim=-1)  # (B, J, G*G)
    joints = (prob[..., None] * centres.to(logits)).sum(-2)  # (B, J, 2): expected centre
    return prob.reshape(b, j, h, w), joints


head = reg.head
with torch.no_grad():
    head.betas.copy_(torch.rand(21, 1) * 3 + 0.5)  # random temperatures in [0.5, 3.5]
logits = torch.randn(2, 21, G, G, device=device) * 3  # (B, J, G, G)
prob, joints2d = soft_argmax(logits, head.betas)
prob_pkg, joints_pkg = head.soft_argmax(logits)
assert_close((prob, joints2d), (prob_pkg, joints_pkg))
assert_close(prob.sum((-2, -1)), torch.ones(2, 21, device=device))
with torch.no_grad():
    head.betas.fill_(1.0)  # back to the release's init
print("soft-argmax joints", tuple(joints2d.shape), "= package; maps sum to 1")

# %% [markdown]
# It is differentiable in both the logits and the temperature (the gradient of an argmax would be
# zero or undefined):

# %%
beta = torch.ones(21, 1, requires_grad=True)
lg = logits.detach().clone().requires_grad_(True)
soft_argmax(lg, beta)[1].sum().backward()
print(
    f"|d joints / d logits| max {lg.grad.abs().max():.3e}, |d joints / d beta| max {beta.grad.abs().max():.3e}"
)
assert torch.isfinite(lg.grad).all() and beta.grad.abs().max() > 0

# %% [markdown]
# ### 1.3 What the temperature does
# One 32 × 32 logit map with a strong peak (where the joint is) and a weaker distractor, under
# four values of β. The table gives the map's entropy (log(G²) = uniform), the soft-argmax and its
# distance from the hard argmax, in pixels.

# %%
Gd = 32
cd = (torch.arange(Gd, dtype=torch.float32) + 0.5) / Gd
yy, xx = torch.meshgrid(cd, cd, indexing="ij")  # (Gd, Gd)


def bump(x0: float, y0: float, width: float) -> torch.Tensor:
    """exp(-|p - p0|^2 / (2 width^2)) on the Gd x Gd pixel centres."""
    return torch.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * width**2))


demo_logits = 4 * bump(0.3, 0.35, 0.06) + 3 * bump(0.75, 0.7, 0.08)  # (Gd, Gd)
centres_d = torch.stack([xx.flatten(), yy.flatten()], -1)  # (Gd*Gd, 2)
hard = centres_d[demo_logits.flatten().argmax()]  # (2,) hard argmax
rows, maps_t = [], {}
for b_val in (0.25, 1.0, 4.0, 16.0):
    p = torch.softmax(b_val * demo_logits.flatten(), 0)  # (Gd*Gd,)
    xy = p @ centres_d  # (2,)
    entropy = -(p * p.clamp_min(1e-30).log()).sum().item()
    rows.append((b_val, entropy, *xy.tolist(), ((xy - hard).norm() * Gd).item()))
    maps_t[b_val] = (p.reshape(Gd, Gd), xy)
temp_table = pd.DataFrame(rows, columns=["beta", "entropy", "x", "y", "|soft - hard| px"])
print(f"uniform entropy log(G^2) = {math.log(Gd * Gd):.3f}; hard argmax at {hard.tolist()}")
print(temp_table.round(3).to_string(index=False))
assert temp_table["entropy"].is_monotonic_decreasing
assert temp_table["|soft - hard| px"].is_monotonic_decreasing

# %%
fig, axes = plt.subplots(1, 4, figsize=(14, 3.4))
for ax, (b_val, (p, xy)) in zip(axes, maps_t.items(), strict=True):
    ax.imshow(p.numpy(), extent=(0, 1, 1, 0), cmap="magma")
    ax.plot(*hard.tolist(), "+", color="cyan", ms=12, mew=2, label="hard argmax")
    ax.plot(*xy.tolist(), "x", color="lime", ms=10, mew=2, label="soft-argmax")
    ax.set_title(f"beta = {b_val}", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
axes[0].legend(loc="lower left", fontsize=8)
fig.suptitle(
    "Spatial softmax of one logit map at four temperatures (a constructed map)", fontsize=10
)
save_figure(fig, "06_soft_argmax")
plt.show()

# %% [markdown]
# At low β the map is almost uniform and the soft-argmax is pulled towards the image centre and the
# distractor; at high β it approaches the hard argmax. A learnable β lets each joint choose its own
# trade-off between smooth gradients and a sharp readout.
#
# ## 2. Rotations in 6D
#
# The MANO head regresses each of the 16 rotations as 6 numbers (a₁, a₂) and makes a rotation matrix
# from them by Gram–Schmidt (Zhou et al. 2019):
#
# $$b_1 = \frac{a_1}{\lVert a_1\rVert},\quad b_2 = \frac{a_2 - (b_1\cdot a_2)\, b_1}{\lVert a_2 -
# (b_1\cdot a_2)\, b_1\rVert},\quad b_3 = b_1 \times b_2,\qquad R = [\,b_1\; b_2\; b_3\,]
# \text{ (columns)}.$$


# %%
def gram_schmidt(x: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3) rotation matrices with columns b1, b2, b1 x b2."""
    a1, a2 = x[..., :3], x[..., 3:]  # (..., 3)
    b1 = a1 / a1.norm(dim=-1, keepdim=True)
    u2 = a2 - (b1 * a2).sum(-1, keepdim=True) * b1  # remove the b1 component
    b2 = u2 / u2.norm(dim=-1, keepdim=True)
    return torch.stack([b1, b2, torch.cross(b1, b2, dim=-1)], dim=-1)  # (..., 3, 3)


x6 = torch.randn(8, 16, 6)  # (B, 16, 6)
R = gram_schmidt(x6)  # (B, 16, 3, 3)
eye = torch.eye(3).expand_as(R)
assert_close(R, rotations.rot6d_to_matrix(x6))
assert_close(R.transpose(-2, -1) @ R, eye, atol=1e-5, rtol=0)  # orthonormal
assert_close(torch.linalg.det(R), torch.ones(8, 16))  # proper rotation, det +1
assert_close(gram_schmidt(rotations.matrix_to_rot6d(R)), R)  # first two columns suffice
print(
    f"max |R^T R - I| = {(R.transpose(-2, -1) @ R - eye).abs().max():.1e}; det in "
    f"[{torch.linalg.det(R).min():.6f}, {torch.linalg.det(R).max():.6f}]"
)

# %% [markdown]
# ### 2.1 Continuous vs wrapping
# Rotate about a fixed axis by t from 0 to 2π. The rotation changes smoothly. Its 6D code (the first
# two columns) changes smoothly too. Its axis-angle vector, with the angle kept in [0, π] as every
# matrix → axis-angle conversion must do, jumps at t = π from π·u to −π·u: a network regressing
# axis-angle would need a discontinuous function to follow the rotation. We measure the largest
# jump between neighbouring samples of each code.

# %%
t = torch.linspace(0, 2 * math.pi, 721, dtype=torch.float64)  # 0.5 degree steps
axis = F.normalize(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), dim=0)
Rt = rotations.axis_angle_to_matrix(t[:, None] * axis)  # (T, 3, 3)
code6d = rotations.matrix_to_rot6d(Rt)  # (T, 6)
code_aa = rotations.matrix_to_axis_angle(Rt)  # (T, 3), angle in [0, pi]
jumps = {
    "rotation matrix": (Rt[1:] - Rt[:-1]).flatten(1).norm(dim=1).max().item(),
    "6D": (code6d[1:] - code6d[:-1]).norm(dim=1).max().item(),
    "axis-angle": (code_aa[1:] - code_aa[:-1]).norm(dim=1).max().item(),
}
print(
    "largest step between neighbours (0.5 degree apart):",
    {k: round(v, 4) for k, v in jumps.items()},
)
assert jumps["6D"] < 0.02 and jumps["axis-angle"] > 6.0

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.4), sharex=True)
deg = np.degrees(t.numpy())
for k in range(3):
    axes[0].plot(deg, code_aa[:, k].numpy(), label=f"aa[{k}]")
for k in range(6):
    axes[1].plot(deg, code6d[:, k].numpy(), label=f"6D[{k}]")
axes[0].set_title("axis-angle (angle in [0, pi]): jumps at 180 deg", fontsize=10)
axes[1].set_title("6D (first two matrix columns): continuous", fontsize=10)
for ax in axes:
    ax.axvline(180, color="grey", ls=":")
    ax.set_xlabel("rotation angle t about a fixed axis (deg)")
    ax.legend(fontsize=7, ncol=3)
save_figure(fig, "06_rotation_6d")
plt.show()

# %% [markdown]
# ### 2.2 Matrix → axis-angle, and why the package goes through a quaternion
# MANO wants axis-angle. The textbook inverse of Rodrigues' formula is
#
# $$\theta = \arccos\frac{\operatorname{tr} R - 1}{2},\qquad
# u = \frac{1}{2\sin\theta}\,(R_{32} - R_{23},\; R_{13} - R_{31},\; R_{21} - R_{12}).$$
#
# It divides by sin θ, which vanishes at θ = 0 and θ = π, and arccos is ill-conditioned at both
# ends. The package converts through a quaternion, picking the best-conditioned of four formulas.
# Round trip aa → R → aa in float32 at several angles; the error is measured on the rotation
# (‖R(aa_back) − R‖), since at θ = π the vectors u·π and −u·π are the same rotation.


# %%
def textbook_axis_angle(r: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 3) by arccos of the trace and the skew part (fails near 0 and pi)."""
    cos = ((r.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1, 1)  # (...,)
    theta = torch.arccos(cos)
    skew = torch.stack(
        [r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0], r[..., 1, 0] - r[..., 0, 1]], -1
    )
    return skew / (2 * torch.sin(theta))[..., None] * theta[..., None]


rows = []
for angle in (1e-4, 0.5, 2.0, 3.0, math.pi - 1e-3, math.pi):
    aa = (angle * axis).float()[None]  # (1, 3)
    r = rotations.axis_angle_to_matrix(aa)  # (1, 3, 3)
    err = {}
    for name, fn in (
        ("textbook", textbook_axis_angle),
        ("package", rotations.matrix_to_axis_angle),
    ):
        back = fn(r)
        ok = torch.isfinite(back).all()
        err[name] = (rotations.axis_angle_to_matrix(back) - r).norm().item() if ok else float("nan")
    rows.append((angle, err["textbook"], err["package"]))
aa_table = pd.DataFrame(rows, columns=["angle (rad)", "textbook |R err|", "package |R err|"])
print(
    aa_table.to_string(
        index=False, formatters={"angle (rad)": "{:.6f}".format}, float_format="%.2e"
    )
)
assert (aa_table["package |R err|"] < 1e-5).all()
assert not (aa_table["textbook |R err|"].iloc[-2:] < 1e-5).all()

# %% [markdown]
# The textbook formula is fine in the middle of the range and breaks at the ends (NaN means it
# divided by zero); the quaternion route stays at float32 precision everywhere.
#
# ## 3. The MANO head and the hand layer
#
# The encoder reduces heatmaps + head feature to a vector (4 · channels long), the MANO head maps
# it to 16 × 6 rotation numbers and 10 shape coefficients β; Gram–Schmidt gives 16 matrices, which
# become the (B, 48) axis-angle pose; the hand layer (here SynthHand, this project's stand-in for
# MANO with MANO's parameterisation) poses the mesh. Outputs are made root-relative (wrist =
# joint 0). We run the package's sub-modules one at a time, put our pieces in between, and compare
# with the package's `Regressor.forward`.

# %%
feat = torch.randn(2, cfg.feat_dim, G, G, device=device)  # SET's output stand-in (B, C, G, G)
with torch.no_grad():
    heatmaps, head_feat, joints_img = reg.head(feat)  # (B,J,G,G), (B,Ch,G,G), (B,J,2)
    enc = reg.encoder(heatmaps, head_feat)  # (B, 4 Ch)
    rot6d, betas = reg.mano(enc)  # (B, 16, 6), (B, 10)
    rotmats = gram_schmidt(rot6d)  # (B, 16, 3, 3)
    pose = rotations.matrix_to_axis_angle(rotmats).reshape(-1, 48)  # (B, 48)
    verts, joints3d = reg.hand(pose, betas)  # (B, V, 3), (B, 21, 3) metres
    root = joints3d[:, :1]  # (B, 1, 3) wrist
    mine = {"joints": joints3d - root, "verts": verts - root, "pose": pose, "rotmats": rotmats}
    pkg = reg(feat)
for name, value in mine.items():
    assert_close(value, pkg[name], rtol=1e-4, atol=1e-5)
assert isinstance(reg.hand, SynthHand)
shapes = {"heatmaps": heatmaps, "encoding": enc, "rot6d": rot6d, "rotmats": rotmats, "pose": pose,
          "betas": betas, "verts": verts, "joints": joints3d}  # fmt: skip
print({k: tuple(v.shape) for k, v in shapes.items()})
print(f"hand layer: {type(reg.hand).__name__}, V = {reg.hand.num_vertices}; = package Regressor")
angles = pose.reshape(-1, 16, 3).norm(dim=-1)  # (B, 16) rotation angles in [0, pi]
print(
    f"untrained head: rotation angles from {angles.min():.3f} to {angles.max():.3f} rad (pi = {math.pi:.3f})"
)

# %% [markdown]
# The untrained head already produces rotation angles of up to about 3 rad (the range is printed
# above): a network can output any rotation, so the 6D → matrix → axis-angle path must stay
# accurate near π, which is what section 2.2 checked.
#
# ## 4. The loss, term by term
#
# > The release's loss (config weights): 10⁴ · MSE(vertices) + 10⁴ · MSE(3D joints)
# > + 10 · MSE(pose as rotation matrices) + 0.1 · MSE(shape) + 100 · MSE(2D joints).
#
# Each is a plain mean squared error over all elements. 3D terms compare root-relative
# coordinates in metres (hence the large weights: a 1 cm error is 10⁻⁴ m²); the pose term compares
# rotation matrices, not axis-angles (no wrapping); the 2D term compares normalised [0, 1]
# coordinates. Pose and shape count only samples whose ground truth has MANO parameters
# (`has_mano = 1`). A small batch of SynthOcc test images, and the untrained network's
# prediction:

# %%
data = SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", input_size=cfg.input_size)
batch = default_collate([data[i] for i in range(N_IMAGES)])
batch = {k: v.to(device) for k, v in batch.items()}
with torch.no_grad():
    pred = net(batch["image"])
print({k: tuple(v.shape) for k, v in pred.items()})
print("has_mano:", batch["has_mano"].tolist())

# %% [markdown]
# The targets: root-relative 3D joints and vertices, and the ground-truth pose as matrices. We write
# our own Rodrigues formula R = I + sin θ K + (1 − cos θ) K² (K the cross-product matrix of the unit
# axis) and check it against the package's (smplx) one.


# %%
def rodrigues(aa: torch.Tensor) -> torch.Tensor:
    """(..., 3) axis-angle -> (..., 3, 3), theta = |aa| (eps-guarded at theta = 0)."""
    theta = aa.norm(dim=-1, keepdim=True).clamp_min(1e-8)  # (..., 1)
    u = aa / theta  # (..., 3)
    zero = torch.zeros_like(u[..., 0])
    K = torch.stack(
        [zero, -u[..., 2], u[..., 1], u[..., 2], zero, -u[..., 0], -u[..., 1], u[..., 0], zero], -1
    )
    K = K.reshape(*u.shape[:-1], 3, 3)
    s, c = torch.sin(theta)[..., None], torch.cos(theta)[..., None]  # (..., 1, 1)
    return torch.eye(3, device=aa.device) + s * K + (1 - c) * K @ K


root_gt = batch["joints_cam"][:, :1]  # (B, 1, 3)
target = {
    "joints": batch["joints_cam"] - root_gt,  # (B, 21, 3)
    "verts": batch["verts_cam"] - root_gt,  # (B, V, 3)
    "rotmats": rodrigues(batch["mano_pose"].reshape(-1, 16, 3)),  # (B, 16, 3, 3)
}
assert_close(
    target["rotmats"],
    rotations.axis_angle_to_matrix(batch["mano_pose"].reshape(-1, 16, 3)),
    atol=1e-5,
    rtol=1e-5,
)
assert_close((target["joints"], target["verts"]), losses.root_relative_targets(batch))


def mse_over(pred_t: torch.Tensor, target_t: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error averaged over the samples with mask = 1."""
    per_sample = ((pred_t - target_t) ** 2).reshape(len(mask), -1).mean(1)  # (B,)
    return (per_sample * mask).sum() / mask.sum().clamp_min(1)


w = LossWeights()  # the paper's weights
ones = torch.ones(N_IMAGES, device=device)
has = batch["has_mano"]
ours = {
    "verts": w.verts * mse_over(pred["verts"], target["verts"], ones),
    "joints": w.joints * mse_over(pred["joints"], target["joints"], ones),
    "pose": w.pose * mse_over(pred["rotmats"], target["rotmats"], has),
    "shape": w.shape * mse_over(pred["shape"], batch["mano_shape"], has),
    "joints_img": w.joints_img * mse_over(pred["joints_img"], batch["joints_img"], ones),
}
ours["total"] = sum(ours.values())
theirs = losses.compute_losses(pred, batch)
assert_close(ours, theirs, rtol=1e-4, atol=1e-7)
loss_table = pd.DataFrame(
    {"weight": [getattr(w, k, float("nan")) for k in ours],
     "ours": [v.item() for v in ours.values()],
     "package": [v.item() for v in theirs.values()]}, index=list(ours),
)  # fmt: skip
loss_table["share of total"] = loss_table["ours"] / loss_table.loc["total", "ours"]
print(loss_table.to_string(float_format="%.4g", na_rep="sum"))
print("package dict:", {k: round(v.item(), 4) for k, v in theirs.items()})

# %% [markdown]
# The table shows which term dominates for this untrained network on this batch; the shares change
# as training proceeds. Last check: the mask. Mark one sample as having no MANO ground truth; the
# pose and shape terms must then ignore it, ours and the package's alike:

# %%
masked = dict(batch, has_mano=torch.tensor([0.0] + [1.0] * (N_IMAGES - 1), device=device))
pose_rest = w.pose * F.mse_loss(pred["rotmats"][1:], target["rotmats"][1:])
theirs_masked = losses.compute_losses(pred, masked)
assert_close(theirs_masked["pose"], pose_rest)
assert_close(
    theirs_masked["pose"], w.pose * mse_over(pred["rotmats"], target["rotmats"], masked["has_mano"])
)
print(
    f"pose term, all samples {theirs['pose'].item():.4f} -> first sample masked {theirs_masked['pose'].item():.4f}"
)

# %% [markdown]
# ## Summary
# - 2D joints come from a spatial softmax with a learnable inverse temperature β per joint and an
#   expectation over pixel centres (i + 0.5) / G; a uniform map reads as the image centre, large β
#   approaches the hard argmax.
# - Rotations are regressed as 6 numbers and made orthonormal by Gram–Schmidt: continuous, unlike
#   axis-angle, which jumps at π. Back to axis-angle goes through a quaternion, which stays accurate
#   at 0 and π where the textbook arccos formula fails.
# - The MANO head's 16 × 6 + 10 numbers drive the hand layer (SynthHand here); outputs are
#   root-relative.
# - The loss is five MSE terms weighted 10⁴, 10⁴, 10, 0.1, 100 (vertices, 3D joints, pose matrices,
#   shape, 2D joints); pose and shape are averaged over samples with MANO ground truth only.
#
# ## Exercises
# 1. Replace the pixel centres by corners i / G. What does a perfectly trained network now predict
#    for a joint exactly in the middle of pixel (u, v)? Compute the bias in pixels.
# 2. Make the soft-argmax's β negative for one joint. What happens to its heatmap and 2D joint?
#    Should the package constrain β (e.g. through a softplus)?
# 3. A 9D representation (the full matrix, projected to SO(3) by SVD) is also continuous. Write it
#    with `torch.linalg.svd` and compare with Gram–Schmidt on noisy matrices.
# 4. Compute the pose term with axis-angle vectors instead of matrices on the batch above. For which
#    samples does it disagree most with the matrix version, and why?
# 5. Which loss term would you drop first if your data had no 3D vertices? Which weight would you
#    then retune?
