"""Where does the 2D error of a trained model come from? (SynthOcc test split, synthetic)

Splits the 2D joint error (crop sides, RMS over joints, coordinates and images) into the hand's
position (centroid), its global 2D rotation and scale (a per-image similarity alignment), and
what remains (the skeleton's shape: articulation and foreshortening); compares the spread of the
predicted skeletons with the true ones (a net that is unsure predicts a shrunken mean hand).

    python results/teach/trials/diag_2d_error.py --model data_samples/checkpoints/lite_synthocc.pt
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


def similarity_align(p: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, float, float]:
    """p aligned to g (21, 2) by rotation, scale and translation; rotation (deg), scale."""
    p0, g0 = p - p.mean(0), g - g.mean(0)
    u, s, vt = np.linalg.svd(p0.T @ g0)
    d = np.sign(np.linalg.det(u @ vt))
    r = u @ np.diag([1, d]) @ vt
    scale = (s * [1, d]).sum() / (p0**2).sum()
    return scale * p0 @ r + g.mean(0), float(np.degrees(np.arctan2(r[0, 1], r[0, 0]))), scale


def predictions(model_path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predicted and true 2D joints (n, 21, 2) in crop units, and joint visibility (n, 21)."""
    model, cfg = load_trained(model_path)
    ds = SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", cfg.input_size)
    pred, true, vis = [], [], []
    with torch.no_grad():
        for i in range(0, len(ds), 50):
            b = torch.utils.data.default_collate([ds[j] for j in range(i, min(i + 50, len(ds)))])
            pred.append(model(b["image"])["joints_img"].numpy())
            true.append(b["joints_img"].numpy())
            vis.append(b["joints_vis"].numpy())
    return np.concatenate(pred), np.concatenate(true), np.concatenate(vis)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="data_samples/checkpoints/lite_synthocc.pt")
    a = p.parse_args()
    torch.set_num_threads(1)
    P, G, V = predictions(a.model)
    print("rms 2D:", rms(P - G), " mean-2D baseline:", rms(G.mean(0) - G))
    print("visible joints:", rms((P - G)[V > 0.5]), " occluded:", rms((P - G)[V < 0.5]))
    cp, cg = P.mean(1, keepdims=True), G.mean(1, keepdims=True)
    print("centroid error rms:", rms(cp - cg))
    print("after removing the centroid:", rms((P - cp) - (G - cg)))
    fits = [similarity_align(p, g) for p, g in zip(P, G, strict=True)]
    aligned = np.array([f[0] for f in fits])
    angle, scale = np.array([f[1] for f in fits]), np.array([f[2] for f in fits])
    print("after 2D similarity alignment:", rms(aligned - G))
    print("alignment rotation |deg| quantiles 50/75/90:", np.percentile(abs(angle), [50, 75, 90]))
    print("alignment scale quantiles 10/50/90:", np.percentile(scale, [10, 50, 90]).round(2))
    print("pred spread (rms about own centroid):", rms(P - cp), " gt spread:", rms(G - cg))
    print("per-joint rms:", np.sqrt(((P - G) ** 2).mean((0, 2))).round(3))


if __name__ == "__main__":
    main()
