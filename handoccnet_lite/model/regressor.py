"""Regressor: heatmap hourglass -> soft-argmax 2D joints; encoder -> MANO pose/shape -> hand layer.

Release facts (common/nets/hand_head.py, mano_head.py, regressor.py; main/model.py init_weights):
- Pre-activation bottleneck, expansion 2: (BN, LeakyReLU, conv1x1 C -> C/2), (BN, LeakyReLU,
  conv3x3), (BN, LeakyReLU, conv1x1 C/2 -> C), plus the input. The release has two classes for
  this (hourglass ``Bottleneck`` and encoder ``Residual``); with equal in/out widths they compute
  the same function, so we use one class.
- Hourglass (Newell et al., ECCV 2016), one stack of depth 4: out = skip(x) +
  nearest_upsample(up(inner(down(maxpool2(x))))), inner = the next level or, at the bottom, one
  bottleneck. Then one bottleneck, 1x1 conv + BN + LeakyReLU, 1x1 conv to 21 heatmap logits.
- Spatial softmax with a learnable per-joint temperature ``betas`` (init 1) multiplying the
  logits; 2D joints = expectation of the pixel centres ((i + 0.5) / G, x first) in [0, 1].
- Encoder: 1x1 conv of the heatmaps (21 -> C) + 1x1 conv of the head feature (C -> C); then
  stages of 2 bottlenecks, each stage followed by a 2x max-pool, down to 2 x 2; flattened C * 4.
- MANO head: Linear(4C, 1024), LeakyReLU, Linear(1024, 512), LeakyReLU; pose Linear(512, 96)
  (16 rotations in 6D -> matrices -> axis-angle), shape Linear(512, 10).
- Init (train mode): conv N(0, 0.001) bias 0, linear N(0, 0.01) bias 0, BN weight 1 bias 0;
  the temperatures stay 1.
- The release's MANO layer has flat_hand_mean=False: its 16 rotations are relative to MANO's
  mean finger pose (hands_mean is added before skinning). ``cfg.pose_convention="mean"`` (set by
  the official-checkpoint loader) reproduces that: the regressor adds the hand model's
  ``mean_finger_pose`` to the predicted finger pose, so ``pose``/``rotmats`` and the mesh are the
  package's flat convention and equal the release's mesh for the same network output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from handoccnet_lite.config import ModelConfig

from .rotations import axis_angle_to_matrix, matrix_to_axis_angle, rot6d_to_matrix

NUM_JOINTS = 21
NUM_ROTATIONS = 16  # MANO: global orientation + 15 finger joints
NUM_BETAS = 10


def init_release_weights(module: nn.Module) -> None:
    """The release's init_weights, for use with Module.apply (exact types, as the release tests)."""
    if type(module) in (nn.Conv2d, nn.ConvTranspose2d):
        nn.init.normal_(module.weight, std=0.001)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif type(module) is nn.BatchNorm2d:
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif type(module) is nn.Linear:
        nn.init.normal_(module.weight, std=0.01)
        nn.init.zeros_(module.bias)


class PreActBottleneck(nn.Module):
    """x + conv1x1(act(bn3(conv3x3(act(bn2(conv1x1(act(bn1(x))))))))), widths C -> C/2 -> C."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        mid = channels // 2
        self.bn1, self.conv1 = nn.BatchNorm2d(channels), nn.Conv2d(channels, mid, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(mid), nn.Conv2d(mid, mid, 3, padding=1)
        self.bn3, self.conv3 = nn.BatchNorm2d(mid), nn.Conv2d(mid, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(F.leaky_relu(self.bn1(x)))  # (B, C/2, H, W)
        out = self.conv2(F.leaky_relu(self.bn2(out)))  # (B, C/2, H, W)
        return x + self.conv3(F.leaky_relu(self.bn3(out)))  # (B, C, H, W)


class Hourglass(nn.Module):
    """One hourglass level; `depth` levels nest through `inner` (Newell et al. 2016)."""

    def __init__(self, channels: int, depth: int) -> None:
        super().__init__()
        self.skip = PreActBottleneck(channels)
        self.down = PreActBottleneck(channels)
        self.inner = Hourglass(channels, depth - 1) if depth > 1 else PreActBottleneck(channels)
        self.up = PreActBottleneck(channels)

    def forward(self, x: Tensor) -> Tensor:
        low = self.up(self.inner(self.down(F.max_pool2d(x, 2))))  # (B, C, H/2, W/2)
        return self.skip(x) + F.interpolate(low, scale_factor=2.0, mode="nearest")  # (B,C,H,W)


def pixel_centres(grid: int) -> Tensor:
    """(G*G, 2) normalised (x, y) = ((u + 0.5) / G, (v + 0.5) / G), row-major over (v, u)."""
    c = (torch.arange(grid, dtype=torch.float32) + 0.5) / grid  # (G,)
    v, u = torch.meshgrid(c, c, indexing="ij")  # (G, G) each
    return torch.stack([u.flatten(), v.flatten()], dim=-1)  # (G*G, 2)


class HeatmapHead(nn.Module):
    """Feature (B, C, G, G) -> heatmaps (B, J, G, G), head feature (B, Ch, G, G), 2D joints."""

    def __init__(self, in_channels: int, channels: int, depth: int, grid: int) -> None:
        super().__init__()
        same = in_channels == channels
        self.proj = nn.Identity() if same else nn.Conv2d(in_channels, channels, 1)
        self.hourglass = Hourglass(channels, depth)
        self.res = PreActBottleneck(channels)
        self.fc = nn.Sequential(
            nn.Conv2d(channels, channels, 1), nn.BatchNorm2d(channels), nn.LeakyReLU(inplace=True)
        )
        self.score = nn.Conv2d(channels, NUM_JOINTS, 1)
        self.betas = nn.Parameter(torch.ones(NUM_JOINTS, 1))  # per-joint softmax temperature
        self.register_buffer("centres", pixel_centres(grid), persistent=False)  # (G*G, 2)

    def soft_argmax(self, logits: Tensor) -> tuple[Tensor, Tensor]:
        """logits (B, J, G, G) -> heatmaps (B, J, G, G) summing to 1, joints (B, J, 2) in [0, 1]."""
        flat = logits.flatten(2) * self.betas  # (B, J, G*G)
        prob = flat.softmax(dim=-1)  # (B, J, G*G)
        joints = prob @ self.centres  # (B, J, 2)
        return prob.view_as(logits), joints

    def forward(self, feat: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        y = self.fc(self.res(self.hourglass(self.proj(feat))))  # (B, Ch, G, G)
        heatmaps, joints = self.soft_argmax(self.score(y))
        return heatmaps, y, joints


class HeatmapEncoder(nn.Module):
    """Heatmaps + head feature -> (B, 4 Ch): stages of 2 bottlenecks + 2x max-pool, G -> 2."""

    def __init__(self, channels: int, stages: int, blocks_per_stage: int = 2) -> None:
        super().__init__()
        self.blocks_per_stage = blocks_per_stage
        self.heatmap_conv = nn.Conv2d(NUM_JOINTS, channels, 1)
        self.encoding_conv = nn.Conv2d(channels, channels, 1)
        n = stages * blocks_per_stage
        self.blocks = nn.ModuleList(PreActBottleneck(channels) for _ in range(n))

    def forward(self, heatmaps: Tensor, feat: Tensor) -> Tensor:
        x = self.heatmap_conv(heatmaps) + self.encoding_conv(feat)  # (B, Ch, G, G)
        for i, block in enumerate(self.blocks):
            x = block(x)
            if (i + 1) % self.blocks_per_stage == 0:
                x = F.max_pool2d(x, 2)  # halves H, W after each stage
        return x.flatten(1)  # (B, Ch * 2 * 2)


class ManoHead(nn.Module):
    """Encoding (B, D) -> 16 rotations in 6D (B, 16, 6) and betas (B, 10)."""

    def __init__(self, in_dim: int, hidden: tuple[int, int]) -> None:
        super().__init__()
        self.base = nn.Sequential(
            nn.Linear(in_dim, hidden[0]),
            nn.LeakyReLU(inplace=True),
            nn.Linear(hidden[0], hidden[1]),
            nn.LeakyReLU(inplace=True),
        )
        self.pose = nn.Linear(hidden[1], NUM_ROTATIONS * 6)
        self.shape = nn.Linear(hidden[1], NUM_BETAS)

    def start_at_identity(self) -> None:
        """Bias the 6D outputs to the identity rotation, (1, 0, 0, 0, 1, 0) per joint.

        With the release's init the 6D outputs start near 0, where Gram-Schmidt (a division by
        |a1|) maps small noise to arbitrary rotations with very large gradients. Starting at the
        identity, every rotation begins at the rest pose (the flat hand, or the mean hand with
        ``pose_convention="mean"``) and the first steps refine a plausible hand instead of
        untangling random ones (the same idea as HMR's mean-parameter start). The weights keep
        the release's N(0, 0.01).
        """
        with torch.no_grad():
            identity = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
            self.pose.bias.copy_(identity.repeat(NUM_ROTATIONS))

    def forward(self, enc: Tensor) -> tuple[Tensor, Tensor]:
        h = self.base(enc)  # (B, hidden[1])
        return self.pose(h).view(-1, NUM_ROTATIONS, 6), self.shape(h)  # (B,16,6), (B,10)


def build_hand_model(kind: str) -> nn.Module:
    """The hand layer named by cfg.hand_model ("auto" | "synth" | "mano")."""
    from handoccnet_lite.hand import load_hand_model

    return load_hand_model(kind)


def root_relative(points: Tensor, root: Tensor) -> Tensor:
    """points (B, P, 3) minus root (B, 3): coordinates relative to the wrist."""
    return points - root[:, None]


class Regressor(nn.Module):
    """Feature (B, C, G, G) -> 2D joints, heatmaps, MANO rotations/pose/shape, hand mesh/joints.

    ``hand``: a HandModel (pose (B, 48), shape (B, 10)) -> HandOutput; default
    ``load_hand_model(cfg.hand_model)``. Its outputs are made root-relative (wrist = joint 0).
    """

    def __init__(self, cfg: ModelConfig, hand: nn.Module | None = None) -> None:
        super().__init__()
        ch = cfg.hourglass_channels
        self.head = HeatmapHead(cfg.feat_dim, ch, cfg.hourglass_depth, cfg.grid)
        self.encoder = HeatmapEncoder(ch, cfg.encoder_stages)
        self.mano = ManoHead(cfg.encoding_dim, cfg.mano_hidden)
        self.apply(init_release_weights)  # before the hand layer: it has no trainable weights
        if cfg.mano_init == "identity":
            self.mano.start_at_identity()
        self.hand = hand if hand is not None else build_hand_model(cfg.hand_model)
        self.pose_convention = cfg.pose_convention
        # (48,) added to the predicted axis-angle pose: zeros ("flat") or the mean finger pose
        self.register_buffer("pose_offset", self._pose_offset(cfg.pose_convention), False)

    def _pose_offset(self, convention: str) -> Tensor:
        """(48,) zeros for "flat"; [0, 0, 0, hand.mean_finger_pose] for "mean"."""
        offset = torch.zeros(NUM_ROTATIONS * 3)
        if convention == "flat":
            return offset
        mean = getattr(self.hand, "mean_finger_pose", None)
        if not isinstance(mean, Tensor) or tuple(mean.shape) != (45,):
            raise ValueError(
                f'pose_convention="mean" needs a hand layer with a (45,) mean_finger_pose '
                f"(MANOHand, SynthHand); {type(self.hand).__name__} has none. Use "
                'pose_convention="flat" or a HandModel from handoccnet_lite.hand.'
            )
        offset[3:] = mean.detach().float().cpu()
        return offset

    def rotations_to_pose(self, rotmats: Tensor) -> tuple[Tensor, Tensor]:
        """Network rotations (B, 16, 3, 3) -> flat-convention (pose (B, 48), rotmats (B, 16, 3, 3)).

        "flat": the rotations are the pose. "mean": they are relative to the mean finger pose
        (the release's MANO layer, flat_hand_mean=False): MANO adds hands_mean to the axis-angle
        pose before Rodrigues, so we add it here and rebuild the matrices from the sum.
        """
        pose = matrix_to_axis_angle(rotmats).flatten(1)  # (B, 48)
        if self.pose_convention == "flat":
            return pose, rotmats
        pose = pose + self.pose_offset.to(pose.dtype)  # (B, 48)
        return pose, axis_angle_to_matrix(pose.view(-1, NUM_ROTATIONS, 3))

    def forward(self, feat: Tensor) -> dict[str, Tensor]:
        heatmaps, head_feat, joints_img = self.head(feat)  # (B,J,G,G), (B,Ch,G,G), (B,J,2)
        rot6d, shape = self.mano(self.encoder(heatmaps, head_feat))  # (B,16,6), (B,10)
        # rotations and hand layer in float32 under autocast: Gram-Schmidt, the quaternion
        # branch selection and the kinematic chain in bf16 cost about 0.5 mm
        with torch.autocast(feat.device.type, enabled=False):
            shape = shape.float()  # (B, 10)
            rotmats = rot6d_to_matrix(rot6d.float())  # (B, 16, 3, 3)
            pose, rotmats = self.rotations_to_pose(rotmats)  # (B, 48), (B, 16, 3, 3)
            verts, joints = self.hand(pose, shape)  # (B, V, 3), (B, 21, 3) metres
        root = joints[:, 0]  # (B, 3) wrist
        return {
            "joints_img": joints_img,  # (B, 21, 2) in [0, 1]
            "joints": root_relative(joints, root),  # (B, 21, 3)
            "verts": root_relative(verts, root),  # (B, V, 3)
            "pose": pose,
            "shape": shape,  # (B, 10)
            "rotmats": rotmats,
            "heatmaps": heatmaps,  # (B, 21, G, G)
        }
