"""`handoccnet-lite demo`: image -> hand mesh (.obj) and an overlay PNG."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from handoccnet_lite.cli.common import (
    BUNDLED,
    PROG,
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
        "image of the bundled samples is used. The image is checked first (it exists, at most\n"
        "64 MP by its header, it decodes; under 64 px a warning), then the model is loaded.",
        f"  {PROG} demo --run runs/quick --image my_hand.jpg --out demo_out\n"
        f"  {PROG} demo --run runs/quick\n",
    )
    p.add_argument("--run", required=True, help="run folder, model.pt or checkpoint.pt")
    p.add_argument("--image", default=None, help="RGB image (png/jpg); default: a bundled sample")
    p.add_argument("--out", default="demo_out", help="output folder")
    add_device_flag(p)
    p.set_defaults(func=cmd_demo)


def cmd_demo(a: argparse.Namespace) -> int:
    from handoccnet_lite.engine.demo import run_demo
    from handoccnet_lite.image_input import read_image_checked, small_image_warning

    bgr = None if a.image is None else read_image_checked(a.image)  # before the model load
    warning = None if bgr is None else small_image_warning(bgr, a.image)
    if warning:
        print(f"{PROG} demo: warning: {warning}", file=sys.stderr)
    model, cfg = load_trained(a.run)
    image = _demo_image(bgr, cfg.input_size)
    paths = run_demo(model, image, Path(a.out), a.device)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _demo_image(bgr: Any | None, size: int) -> Any:
    """(S, S, 3) uint8 RGB: a checked image centre-cropped and resized, or a bundled test crop."""
    import numpy as np

    from handoccnet_lite.image_input import square_crop_rgb

    if bgr is None:
        item = synthocc_split(BUNDLED, "test", size)[0]
        return (item["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return square_crop_rgb(bgr, size)
