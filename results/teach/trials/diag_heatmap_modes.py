"""Diagnostic D3: do the heatmaps find the joints while the soft-argmax averages them away?

A soft-argmax returns the heatmap's mean. When a map has two modes (say the index and the ring
fingertip, or the palm-side and back-side reading of the hand), the mean lies between them and the
predicted skeleton shrinks towards the hand's centre, which is what D1 measured (spread 0.10 vs
0.16 crop sides). This compares, on the SynthOcc test split (synthetic, 300 images), the 2D error
of the soft-argmax with that of the map's highest cell (hard argmax, cell centre), and measures
how peaked the maps are (probability mass within 1 cell of the highest cell).

    python results/teach/trials/diag_heatmap_modes.py --model results/teach/official/model.pt
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from handoccnet_lite.cli import load_trained
from handoccnet_lite.data.dataset import SynthOccDataset
from handoccnet_lite.utils import DATA_SAMPLES_DIR


def rms(e: np.ndarray) -> float:
    return float(np.sqrt(np.mean(e**2)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="results/teach/official/model.pt")
    a = p.parse_args()
    torch.set_num_threads(1)
    model, cfg = load_trained(a.model)
    model.eval()
    ds = SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", cfg.input_size)
    soft, hard, true, vis, mass = [], [], [], [], []
    with torch.no_grad():
        for i in range(0, len(ds), 50):
            b = torch.utils.data.default_collate([ds[j] for j in range(i, min(i + 50, len(ds)))])
            out = model(b["image"])
            hm = out["heatmaps"].float()  # (B, J, G, G), sums to 1
            g = hm.shape[-1]
            flat = hm.flatten(2)  # (B, J, G*G)
            idx = flat.argmax(-1)  # (B, J)
            yx = torch.stack([idx // g, idx % g], -1)  # (B, J, 2) row, col
            hard.append(((yx.flip(-1).float() + 0.5) / g).numpy())  # x, y in [0, 1]
            soft.append(out["joints_img"].float().numpy())
            true.append(b["joints_img"].numpy())
            vis.append(b["joints_vis"].numpy())
            # mass in the 3 x 3 cells around the highest cell
            pad = torch.nn.functional.pad(hm, (1, 1, 1, 1))
            box = torch.nn.functional.avg_pool2d(pad.flatten(0, 1)[:, None], 3, 1)[:, 0] * 9
            mass.append(box.flatten(1).gather(1, idx.flatten()[:, None]).view(idx.shape).numpy())
    S, H, G, V, M = map(np.concatenate, (soft, hard, true, vis, mass))
    print(f"model: {a.model}; heatmap grid {cfg.input_size // 8}; units: crop sides")
    print(f"soft-argmax 2D rms: {rms(S - G):.4f}   hard argmax (cell centre): {rms(H - G):.4f}")
    print(f"  visible joints  soft {rms((S - G)[V > 0.5]):.4f}  hard {rms((H - G)[V > 0.5]):.4f}")
    print(f"  occluded joints soft {rms((S - G)[V < 0.5]):.4f}  hard {rms((H - G)[V < 0.5]):.4f}")
    q = np.percentile(np.linalg.norm(H - G, axis=-1), [50, 75, 90])
    print(f"hard-argmax per-joint distance quantiles 50/75/90: {q.round(3)}")
    q = np.percentile(np.linalg.norm(S - G, axis=-1), [50, 75, 90])
    print(f"soft-argmax per-joint distance quantiles 50/75/90: {q.round(3)}")
    print(f"mass within 1 cell of the peak: median {np.median(M):.3f}, "
          f"share of maps with < 0.5: {(M < 0.5).mean():.3f}")
    spread = lambda P: rms(P - P.mean(1, keepdims=True))  # noqa: E731
    print(f"skeleton spread: soft {spread(S):.4f}  hard {spread(H):.4f}  true {spread(G):.4f}")
    # finger identity: is a finger joint's peak nearer the same joint of another finger?
    # (canonical order: wrist, then thumb1-4, index1-4, middle1-4, ring1-4, pinky1-4)
    identity(H, G, V, "")
    # if the finger order were read right: per image, the better of the two labellings
    mirror = np.r_[0, np.arange(1, 21).reshape(5, 4)[::-1].ravel()]  # thumb<->pinky, index<->ring
    for name, P in (("hard", H), ("soft", S)):
        own = ((P - G) ** 2).mean((1, 2))
        flip = ((P - G[:, mirror]) ** 2).mean((1, 2))
        print(f"{name} 2D rms {np.sqrt(own.mean()):.4f}; with each image's better labelling "
              f"(as is / fingers mirrored) {np.sqrt(np.minimum(own, flip).mean()):.4f}; "
              f"mirrored is better on {(flip < own).mean():.3f} of images")
    # the null: the same error vectors, dealt to other images (no structure left)
    perm = np.random.default_rng(0).permutation(len(G))
    identity(G + (H - G)[perm], G, V, "null (errors shuffled across images): ")


def identity(H: np.ndarray, G: np.ndarray, V: np.ndarray, label: str) -> None:
    """Shares of finger-joint peaks nearer another finger's / the mirrored finger's joint."""
    fingers = np.arange(1, 21).reshape(5, 4)  # (finger, level)
    swapped, mirrored = [], []
    for f in range(5):
        for k in range(4):
            j = fingers[f, k]
            own = np.linalg.norm(H[:, j] - G[:, j], axis=-1)  # (n,)
            others = np.stack([np.linalg.norm(H[:, j] - G[:, fingers[g, k]], axis=-1)
                               for g in range(5) if g != f], -1)  # (n, 4)
            swapped.append(others.min(-1) < own)
            mirror = fingers[4 - f, k]  # thumb <-> pinky, index <-> ring: palm/back mirror
            mirrored.append(np.linalg.norm(H[:, j] - G[:, mirror], axis=-1) < own if f != 2
                            else np.zeros_like(own, bool))
    sw, mi = np.stack(swapped, -1), np.stack(mirrored, -1)  # (n, 20)
    print(f"{label}finger joints whose peak is nearer another finger's same joint: {sw.mean():.3f}"
          f" (visible joints {sw[V[:, 1:] > 0.5].mean():.3f})")
    print(f"{label}  ... nearer the mirrored finger's (thumb<->pinky, index<->ring): {mi.mean():.3f}")
    whole = (mi[:, [0, 1, 2, 3, 16, 17, 18, 19]].mean(1) > 0.5).mean()
    print(f"{label}images whose thumb and pinky peaks are mostly swapped (palm/back reading): {whole:.3f}")


if __name__ == "__main__":
    main()
