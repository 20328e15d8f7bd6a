"""Crop + the paper's augmentation (shared by every dataset) and the SynthOcc torch Dataset.

`augment_sample(raw, cfg, rng)` turns a raw record (records.py) into the item of
docs/INTERFACES.md. The paper's recipe (HandOccNet, official release):

* crop around the hand box: the 2D joints' box expanded 1.5x, made square;
* scale s ~ N(1, 0.25) clipped to [0.75, 1.25] (the crop side is multiplied by s);
* rotation r ~ N(0, 30 deg) clipped to +-60 deg, applied 60 % of the time, about the crop centre
  in the image and about the camera's z axis in 3D (joints, vertices, MANO root pose);
* per-channel colour scale U(0.8, 1.2).

Consistency: with R_z the 3D rotation and A (2x3) the crop's affine map of pixel coordinates,
the crop's intrinsics are K' = T A3 K R_z^T (A3 = A with a row (0, 0, 1), T the shift by half a
pixel to continuous coordinates), so ``project(K', joints_cam') / S == joints_img`` exactly.
The item carries K' as the extra key ``K`` (3, 3). joints_img may leave [0, 1] when a joint
leaves the crop; joints_vis is not changed by the crop.
"""

from __future__ import annotations

import bisect
import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from scipy.spatial.transform import Rotation
from torch.utils.data import Dataset

from ..config import FEATURE_STRIDE
from ..hand.joints import JOINT_NAMES
from . import shards
from . import synthocc as so
from .records import validate_record


@dataclass(frozen=True)
class AugmentConfig:
    """Crop and augmentation settings (paper defaults)."""

    input_size: int = 256
    expand: float = 1.5  # crop side = expand x the joints box's longer side
    augment: bool = True  # False: centred crop only (evaluation)
    scale_sigma: float = 0.25  # crop scale ~ N(1, sigma) clipped to 1 +- sigma
    rot_sigma_deg: float = 30.0  # rotation ~ N(0, sigma) clipped to +- 2 sigma
    rot_prob: float = 0.6
    color_range: tuple[float, float] = (0.8, 1.2)
    #: None: SynthOcc's own in-plane orientations (uniform). A number: the "upright" viewpoint
    #: option; the crop turns the hand so its wrist -> middle-knuckle axis points up, then by
    #: N(0, sigma) degrees clipped to +- 2 sigma (replacing the random rotation above). It models
    #: a camera whose roll about the hand is limited (fingers above the wrist in the image, as in
    #: most third-person and egocentric capture), an assumption of this project; no published
    #: statistic was fitted. Out-of-plane views stay SynthOcc's.
    upright_sigma_deg: float | None = None
    #: Side in pixels of the cells the hand masks are averaged over (visible_mask, occluded_mask):
    #: the model's feature stride (ModelConfig.feature_stride), so the maps match its token grid.
    feature_stride: int = FEATURE_STRIDE


def upright_angle(joints_2d: np.ndarray, sigma_deg: float, rng: np.random.Generator) -> float:
    """Crop rotation (radians, crop_affine's sense) turning the wrist -> middle-knuckle axis of
    joints_2d (21, 2), canonical order, to point up in the image (-y), plus N(0, sigma) degrees
    clipped to +- 2 sigma."""
    axis = np.asarray(joints_2d[JOINT_NAMES.index("middle1")] - joints_2d[0], np.float64)
    jitter = float(np.clip(rng.normal(0.0, sigma_deg), -2 * sigma_deg, 2 * sigma_deg))
    return float(-np.pi / 2 - np.arctan2(axis[1], axis[0]) + np.deg2rad(jitter))


def crop_square(hand_box: np.ndarray, expand: float) -> tuple[np.ndarray, float]:
    """Centre (2,) and side of the square crop around box (x0, y0, x1, y1)."""
    centre = 0.5 * (hand_box[:2] + hand_box[2:])
    side = expand * max(float(hand_box[2] - hand_box[0]), float(hand_box[3] - hand_box[1]), 1.0)
    return centre.astype(np.float64), side


def sample_augmentation(cfg: AugmentConfig, rng: np.random.Generator | None):
    """(scale, angle in radians, colour (3,)); the identity when cfg.augment is False."""
    if not cfg.augment:
        return 1.0, 0.0, np.ones(3)
    s = cfg.scale_sigma
    scale = float(np.clip(rng.normal(1.0, s), 1 - s, 1 + s))
    sig = np.deg2rad(cfg.rot_sigma_deg)
    angle = float(np.clip(rng.normal(0.0, sig), -2 * sig, 2 * sig))
    angle = angle if rng.uniform() < cfg.rot_prob else 0.0
    return scale, angle, rng.uniform(*cfg.color_range, 3)


def crop_affine(centre: np.ndarray, side: float, angle: float, size: int) -> np.ndarray:
    """A (2, 3): source pixel -> crop pixel (OpenCV pixel-centre coordinates in both), rotating
    by `angle` about the crop centre: q = (size / side) R(angle) (p - centre) + size / 2 - 0.5."""
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s], [s, c]]) * (size / side)
    return np.concatenate([rot, (size / 2 - 0.5 - rot @ centre)[:, None]], 1)


def rotation_z(angle: float) -> np.ndarray:
    """(3, 3) rotation about the camera's z axis, same sense as the image rotation."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotate_root_pose(pose: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """pose (48,) with its root axis-angle replaced by that of rot @ R(root)."""
    out = np.array(pose, np.float64)
    if np.array_equal(rot, np.eye(3)):  # no rotation (evaluation, augment=False): exact, and
        return out  # skips scipy's ~0.5 ms, a quarter of an item's loading time
    root = Rotation.from_matrix(rot) * Rotation.from_rotvec(out[:3])
    out[:3] = root.as_rotvec()
    return out


def crop_intrinsics(K: np.ndarray, A: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """K' = T A3 K R_z^T in continuous crop pixels (pixel i spans [i, i + 1])."""
    A3 = np.vstack([A, [0.0, 0.0, 1.0]])
    A3[:2, 2] += 0.5
    return A3 @ K @ rot.T


def mask_cell_fractions(
    mask: np.ndarray, A: np.ndarray, size: int, stride: int = FEATURE_STRIDE
) -> np.ndarray:
    """A (H, W) bool mask warped into the (size, size) crop by A (bilinear, like the image) and
    averaged over cells of `stride` x `stride` pixels: (size / stride, size / stride) float32
    fractions in [0, 1], the share of each feature cell the mask covers."""
    cells = size // stride
    crop = cv2.warpAffine(mask.astype(np.float32), A, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)  # fmt: skip
    pooled = crop.reshape(cells, stride, cells, stride).mean((1, 3))  # (cells, cells)
    return np.clip(pooled, 0.0, 1.0).astype(np.float32)


def _has_hand_masks(raw: dict[str, Any]) -> bool:
    return raw.get("hand_mask") is not None and raw.get("occlusion_mask") is not None


def visible_hand_cells(
    raw: dict[str, Any], A: np.ndarray, size: int, stride: int = FEATURE_STRIDE
) -> tuple[np.ndarray, float]:
    """The visible hand (hand_mask minus occlusion_mask) warped into the crop and averaged over
    cells of `stride` pixels: (size / stride, size / stride) fractions in [0, 1], plus has_mask
    (0 with an all-zero map when the record has no masks, as real datasets)."""
    if not _has_hand_masks(raw):
        cells = size // stride
        return np.zeros((cells, cells), np.float32), 0.0
    visible = raw["hand_mask"] & ~raw["occlusion_mask"]
    return mask_cell_fractions(visible, A, size, stride), 1.0


def occluded_hand_cells(
    raw: dict[str, Any], A: np.ndarray, size: int, stride: int = FEATURE_STRIDE
) -> tuple[np.ndarray, float]:
    """The hidden hand (occlusion_mask: hand pixels an object hides) warped and pooled exactly as
    `visible_hand_cells`: (size / stride, size / stride) fractions in [0, 1], plus has_mask (0
    with an all-zero map when the record has no masks). Per cell, visible + occluded = hand."""
    if not _has_hand_masks(raw):
        cells = size // stride
        return np.zeros((cells, cells), np.float32), 0.0
    hidden = raw["hand_mask"] & raw["occlusion_mask"]  # occlusion_mask is a subset of hand_mask
    return mask_cell_fractions(hidden, A, size, stride), 1.0


def augment_sample(
    raw: dict[str, Any], cfg: AugmentConfig, rng: np.random.Generator | None
) -> dict[str, torch.Tensor]:
    """Raw record -> model-ready item (INTERFACES.md), crop and augmentation applied.
    rng may be None when cfg.augment is False (centred crop, no randomness)."""
    validate_record(raw)
    S = cfg.input_size
    scale, angle, color = sample_augmentation(cfg, rng)
    if cfg.upright_sigma_deg is not None:
        if rng is None or not cfg.augment:  # evaluation: a fixed jitter per record
            rng = np.random.default_rng([int(raw["index"]), 7])
        angle = upright_angle(np.asarray(raw["joints_2d"]), cfg.upright_sigma_deg, rng)
    centre, side = crop_square(np.asarray(raw["hand_box"], np.float64), cfg.expand)
    A = crop_affine(centre, side * scale, angle, S)  # (2, 3)
    rot = rotation_z(angle)
    img = cv2.warpAffine(raw["image"], A, (S, S), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT)  # fmt: skip
    img = np.clip(img.astype(np.float32) / 255.0 * color.astype(np.float32), 0, 1)  # (S, S, 3)
    j2d = np.asarray(raw["joints_2d"], np.float64)
    joints_img = (j2d @ A[:, :2].T + A[:, 2] + 0.5) / S  # (21, 2)
    f32 = lambda x: torch.as_tensor(np.asarray(x, np.float32))
    visible, has_mask = visible_hand_cells(raw, A, S, cfg.feature_stride)
    occluded, _ = occluded_hand_cells(raw, A, S, cfg.feature_stride)
    return {
        "image": torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))),  # (3, S, S)
        "joints_img": f32(joints_img),
        "joints_cam": f32(np.asarray(raw["joints_cam"], np.float64) @ rot.T),  # (21, 3)
        "verts_cam": f32(np.asarray(raw["verts_cam"], np.float64) @ rot.T),  # (V, 3)
        "mano_pose": f32(rotate_root_pose(raw["pose"], rot)),
        "mano_shape": f32(raw["shape"]),
        "joints_vis": f32(raw["joints_vis"]),
        "has_mano": f32(raw["has_mano"]),
        "occlusion": f32(raw["occlusion"]),
        "index": torch.tensor(int(raw["index"]), dtype=torch.int64),
        "K": f32(crop_intrinsics(np.asarray(raw["K"], np.float64), A, rot)),
        "visible_mask": f32(visible),  # (G, G) visible-hand fraction per feature cell, G = S/stride
        "occluded_mask": f32(occluded),  # (G, G) hidden-hand fraction per feature cell
        "has_mask": f32(has_mask),
    }


# ----------------------------------------------------------------------------- SynthOcc
EXPECTED_TREE = """expected layout:
  {root}/
    {split}/
      manifest.json
      shard_00000.npz
      ...
Create it with handoccnet_lite.data.synthocc.generate_synthocc(root, n, split={split!r}) or,
for data_samples/synthocc, `python -m handoccnet_lite.data.synthocc`."""


def read_manifest(folder: Path) -> dict[str, Any]:
    """Load and check a split's manifest.json; errors name the field that is wrong."""
    path = folder / "manifest.json"
    try:
        m = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); regenerate the set.") from err
    checks = {
        "format": lambda v: v == "synthocc",
        "format_version": lambda v: v == so.FORMAT_VERSION,
        "count": lambda v: isinstance(v, int) and v == sum(s["count"] for s in m.get("shards", [])),
        "shards": lambda v: isinstance(v, list) and len(v) > 0,
        "resolution": lambda v: isinstance(v, int) and v > 0,
        "hand_model": lambda v: v in ("synth", "mano", "auto"),
    }
    for field, ok in checks.items():
        if field not in m or not ok(m[field]):
            raise ValueError(
                f"{path}: field {field!r} is missing or wrong (got {m.get(field)!r}); expected a "
                f"SynthOcc manifest of format version {so.FORMAT_VERSION} whose 'count' equals the "
                "sum of its shards' counts. Regenerate the set."
            )
    return m


class SynthOccDataset(Dataset):
    """SynthOcc split as a torch Dataset of INTERFACES.md items.

    root/split/ holds manifest.json and shards (see shards.py). Shards are loaded lazily (the
    last `cache_shards` stay in memory); their vertices are recomputed with the manifest's hand
    model. seed=None draws fresh augmentation randomness per item; an int makes item i of epoch
    e reproducible (`set_epoch`)."""

    #: Alignment protocol of its evaluation (engine.protocols.PROTOCOLS): no reflection.
    eval_protocol = "synthocc"

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        input_size: int = 256,
        augment: bool = False,
        seed: int | None = None,
        cache_shards: int = 2,
        mano_dir: str | None = None,
        aug: AugmentConfig | None = None,
        feature_stride: int = FEATURE_STRIDE,
    ) -> None:
        self.folder = Path(root) / split
        if not (self.folder / "manifest.json").is_file():
            raise FileNotFoundError(
                f"SynthOcc split {split!r} not found: {self.folder / 'manifest.json'} does not "
                "exist.\n" + EXPECTED_TREE.format(root=root, split=split)
            )
        self.manifest = read_manifest(self.folder)
        self.cfg = aug or AugmentConfig(
            input_size=input_size, augment=augment, feature_stride=feature_stride
        )
        self.seed, self.epoch, self.cache_shards, self.mano_dir = seed, 0, cache_shards, mano_dir
        self._starts = np.cumsum([0] + [s["count"] for s in self.manifest["shards"]]).tolist()
        self._cache: OrderedDict[int, tuple[dict, np.ndarray]] = OrderedDict()
        self._model = None

    @classmethod
    def for_model(cls, root: str | Path, split: str, model_cfg: Any, **kw: Any) -> SynthOccDataset:
        """The split cropped for a model: its input size, and the visible / occluded hand masks
        on its token grid (its feature stride), which attention measures and the explorer need."""
        size, stride = model_cfg.input_size, model_cfg.feature_stride
        return cls(root, split, size, feature_stride=stride, **kw)

    def __len__(self) -> int:
        return self.manifest["count"]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def record(self, idx: int) -> dict[str, Any]:
        """The raw (full-frame) record of item idx, with masks."""
        if not 0 <= idx < len(self):
            raise IndexError(f"index {idx} out of range for a SynthOcc split of {len(self)}.")
        k = bisect.bisect_right(self._starts, idx) - 1
        arrays, verts = self._shard(k)
        return shards.decode_record(arrays, idx - self._starts[k], verts)

    def __getitem__(self, idx: int) -> dict[str, torch.Tensor]:
        idx = int(idx)
        if self.seed is None:
            rng = np.random.default_rng()
        else:
            rng = np.random.default_rng([self.seed, self.epoch, idx])
        item = augment_sample(self.record(idx), self.cfg, rng)
        item["index"] = torch.tensor(idx, dtype=torch.int64)
        return item

    def _shard(self, k: int) -> tuple[dict, np.ndarray]:
        if k not in self._cache:
            info = self.manifest["shards"][k]
            path = self.folder / info["file"]
            arrays = shards.read_shard(path, info.get("sha256"))
            if len(arrays["index"]) != info["count"]:
                raise shards.ShardError(
                    f"{path} holds {len(arrays['index'])} samples but the manifest's field "
                    f"'shards[{k}].count' says {info['count']}; regenerate the set."
                )
            self._cache[k] = (arrays, shards.shard_vertices(arrays, self._hand(), str(path)))
            while len(self._cache) > self.cache_shards:
                self._cache.popitem(last=False)
        self._cache.move_to_end(k)
        return self._cache[k]

    def _hand(self):
        if self._model is None:
            from ..hand import load_hand_model

            kind = self.manifest["hand_model"]
            self._model = load_hand_model(kind, mano_dir=self.mano_dir).double().eval()
        return self._model
