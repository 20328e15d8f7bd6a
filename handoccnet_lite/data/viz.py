"""Matplotlib views of samples: skeleton (canonical edges), masks, per-joint visibility.

Pure functions taking arrays (raw records or dataset items) and an optional Axes; nothing is
shown or saved unless asked (`occlusion_levels_figure` + `save_occlusion_levels_figure`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..hand.joints import SKELETON

FINGER_COLORS = ("#e41a1c", "#ff7f00", "#4daf4a", "#377eb8", "#984ea3")  # thumb .. pinky
MASK_COLORS = {"hand_mask": (0.1, 0.8, 0.2), "occluder_mask": (0.9, 0.2, 0.2),
               "occlusion_mask": (1.0, 0.9, 0.0)}  # fmt: skip


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(3, 3))
    return ax


def draw_skeleton(ax, joints_2d: np.ndarray, joints_vis: np.ndarray | None = None) -> None:
    """Bones coloured by finger; visible joints as dots, occluded joints as white-edged crosses.
    joints_2d (21, 2) pixels of the shown image."""
    vis = np.ones(len(joints_2d)) if joints_vis is None else np.asarray(joints_vis)
    for p, c in SKELETON:
        ax.plot(*joints_2d[[p, c]].T, color=FINGER_COLORS[(c - 1) // 4], lw=1.5)
    on, off = vis > 0.5, vis <= 0.5
    ax.scatter(*joints_2d[on].T, s=10, c="white", edgecolors="black", linewidths=0.5, zorder=3)
    ax.scatter(*joints_2d[off].T, s=22, c="black", marker="x", linewidths=1.2, zorder=3)


def mask_overlay(image: np.ndarray, record: dict[str, Any], alpha: float = 0.5) -> np.ndarray:
    """Image (H, W, 3) uint8 blended with hand (green), object (red), hidden hand (yellow)."""
    out = image.astype(np.float64) / 255.0
    for key, color in MASK_COLORS.items():
        m = record.get(key)
        if m is not None:
            out[m] = (1 - alpha) * out[m] + alpha * np.asarray(color)
    return out


def show_record(record: dict[str, Any], ax=None, masks: bool = False, title: str | None = None):
    """A raw record (records.py): image (or mask overlay) with skeleton and visibility."""
    ax = _axes(ax)
    img = mask_overlay(record["image"], record) if masks else record["image"]
    ax.imshow(img)
    draw_skeleton(ax, np.asarray(record["joints_2d"]), record.get("joints_vis"))
    ax.set_title(title if title is not None else f"occlusion {record['occlusion']:.2f}", fontsize=8)
    ax.set_xlim(-0.5, img.shape[1] - 0.5)
    ax.set_ylim(img.shape[0] - 0.5, -0.5)
    ax.axis("off")
    return ax


def show_item(item: dict[str, Any], ax=None, title: str | None = None):
    """A dataset item (INTERFACES.md): the cropped image with its normalised 2D joints."""
    ax = _axes(ax)
    img = np.asarray(item["image"]).transpose(1, 2, 0)  # (S, S, 3)
    S = img.shape[0]
    ax.imshow(np.clip(img, 0, 1))
    draw_skeleton(ax, np.asarray(item["joints_img"]) * S - 0.5, np.asarray(item["joints_vis"]))
    ax.set_title(title if title is not None else f"item {int(item['index'])}", fontsize=8)
    ax.axis("off")
    return ax


LEVEL_BINS = {"none": (0.0, 0.0), "light": (1e-9, 0.35), "heavy": (0.35, 1.0)}


def occlusion_levels_figure(dataset, per_level: int = 4, masks_row: bool = True):
    """Grid: one row per occlusion level (none / light / heavy) of `per_level` samples of a
    SynthOccDataset, each followed (masks_row) by a row of its masks."""
    import matplotlib.pyplot as plt

    occ = np.array([dataset.record(i)["occlusion"] for i in range(len(dataset))])
    rows = 2 * len(LEVEL_BINS) if masks_row else len(LEVEL_BINS)
    fig, axes = plt.subplots(rows, per_level, figsize=(1.8 * per_level, 1.9 * rows))
    for r, (name, (lo, hi)) in enumerate(LEVEL_BINS.items()):
        picks = np.flatnonzero((occ >= lo) & (occ <= hi))[:per_level]
        for c in range(per_level):
            for k in range(2 if masks_row else 1):
                ax = axes[(2 if masks_row else 1) * r + k, c]
                ax.axis("off")
                if c < len(picks):
                    rec = dataset.record(int(picks[c]))
                    label = f"{name}: {rec['occlusion']:.2f}" if k == 0 else "masks"
                    show_record(rec, ax, masks=k == 1, title=label)
    fig.suptitle("SynthOcc: occlusion levels (x = occluded joint; green hand, red object, "
                 "yellow hidden hand)", fontsize=9)  # fmt: skip
    fig.tight_layout()
    return fig


def save_occlusion_levels_figure(root: str | Path | None = None, split: str = "test") -> Path:
    """Write figures/synthocc_occlusion_levels.png from data_samples/synthocc (default)."""
    import matplotlib.pyplot as plt

    from ..utils import DATA_SAMPLES_DIR, save_figure
    from .dataset import SynthOccDataset

    ds = SynthOccDataset(root or DATA_SAMPLES_DIR / "synthocc", split)
    fig = occlusion_levels_figure(ds)
    path = save_figure(fig, "synthocc_occlusion_levels")
    plt.close(fig)
    return path
