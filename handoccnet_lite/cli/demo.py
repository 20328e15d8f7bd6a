"""`handoccnet-lite demo`: image -> hand mesh (.obj) and an overlay PNG."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from handoccnet_lite.cli.common import (
    BUNDLED,
    PROG,
    UserError,
    add_device_flag,
    load_trained,
    subparser,
    synthocc_split,
)


def register(sub: Any) -> None:
    p = subparser(
        sub,
        "demo",
        "image -> hand mesh (.obj) and an overlay PNG",
        "Run a trained model on one image (a crop around the hand; centre-cropped to a square\n"
        "and resized to the model's input size). Writes <out>/mesh.obj (root-relative metres, the\n"
        "hand model's faces) and <out>/overlay.png (2D joints, skeleton and the mesh, placed by a\n"
        "weak-perspective fit of the 3D joints to the 2D ones). Without --image, the first test\n"
        "image of the bundled samples is used.",
        f"  {PROG} demo --run runs/quick --image my_hand.jpg --out demo_out\n"
        f"  {PROG} demo --run runs/quick\n",
    )
    p.add_argument("--run", required=True, help="run folder, model.pt or checkpoint.pt")
    p.add_argument("--image", default=None, help="RGB image (png/jpg); default: a bundled sample")
    p.add_argument("--out", default="demo_out", help="output folder")
    add_device_flag(p)
    p.set_defaults(func=cmd_demo)


def cmd_demo(a: argparse.Namespace) -> int:
    from handoccnet_lite.engine.evaluate import run_demo

    model, cfg = load_trained(a.run)
    image = _demo_image(a.image, cfg.input_size)
    paths = run_demo(model, image, Path(a.out), a.device)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _demo_image(path: str | None, size: int) -> Any:
    """(S, S, 3) uint8 RGB: a file centre-cropped and resized, or a bundled test crop."""
    import cv2
    import numpy as np

    if path is None:
        item = synthocc_split(BUNDLED, "test", size)[0]
        return (item["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise UserError(f"--image {path}: not a readable image file (png, jpg, ...).")
    h, w = bgr.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    crop = bgr[y0 : y0 + side, x0 : x0 + side]
    return cv2.cvtColor(
        cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB
    )
