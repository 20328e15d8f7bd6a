"""The demo: one image -> a hand mesh (.obj) and an overlay PNG of the 2D joints, skeleton and
mesh (weak-perspective fit of the root-relative prediction to the predicted 2D joints)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from handoccnet_lite.utils import resolve_device


def write_obj(path: str | Path, verts: np.ndarray, faces: np.ndarray) -> Path:
    """Wavefront OBJ: verts (V, 3), faces (F, 3) zero-based."""
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in verts]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def weak_perspective(points: np.ndarray, uv: np.ndarray) -> tuple[float, np.ndarray]:
    """Least-squares s, t with uv ~ s * points[:, :2] + t; points (J, 3), uv (J, 2)."""
    xy = points[:, :2] - points[:, :2].mean(0)  # (J, 2)
    duv = uv - uv.mean(0)  # (J, 2)
    s = float((xy * duv).sum() / max((xy**2).sum(), 1e-12))
    return s, uv.mean(0) - s * points[:, :2].mean(0)


@torch.no_grad()
def run_demo(
    model: nn.Module, image: np.ndarray, out_dir: Path, device: str = "auto"
) -> list[Path]:
    """image (S, S, 3) uint8 RGB -> out_dir/mesh.obj and out_dir/overlay.png."""
    import matplotlib.pyplot as plt

    from handoccnet_lite.hand.joints import SKELETON

    dev = resolve_device(device)
    model = model.to(dev).eval()
    size = image.shape[0]
    x = torch.as_tensor(image, device=dev).permute(2, 0, 1)[None].float() / 255  # (1, 3, S, S)
    out = model(x)
    joints = out["joints"][0].cpu().numpy()  # (21, 3) root-relative metres
    verts = out["verts"][0].cpu().numpy()  # (V, 3)
    uv = out["joints_img"][0].cpu().numpy() * size  # (21, 2) pixels
    faces = model.hand.faces.cpu().numpy()
    out_dir.mkdir(parents=True, exist_ok=True)
    obj = write_obj(out_dir / "mesh.obj", verts, faces)
    s, t = weak_perspective(joints, uv)
    vuv = verts[:, :2] * s + t  # (V, 2)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(image)
    ax.triplot(vuv[:, 0], vuv[:, 1], faces, lw=0.3, color="w", alpha=0.6)
    for a, b in SKELETON:
        ax.plot(uv[[a, b], 0], uv[[a, b], 1], color="tab:orange", lw=1.5)
    ax.scatter(uv[:, 0], uv[:, 1], s=10, c="tab:red", zorder=3)
    ax.set_axis_off()
    ax.set_title("2D joints, skeleton and the mesh (weak-perspective fit)")
    png = out_dir / "overlay.png"
    fig.savefig(png, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return [obj, png]
