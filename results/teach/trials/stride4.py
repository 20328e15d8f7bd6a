"""Trial T11: does a 64-px model with 16 x 16 tokens (feature stride 4) learn as fast per image as
the 128-px recipe, at a lower cost per image?

Diagnostic D6 found the backbone's features scale-specific (a backbone pre-trained at 64 px
scores 0.114 at 64 px and 0.168 at 128 px; one pre-trained at 128 px 0.132 at 128 px and 0.179
at 64 px), which is why T8's cheap 64-px pre-training transfers little to the 128-px model. T8's
phase A also found 64-px images teaching the backbone almost as much per image as 128-px ones,
at a quarter of the cost. Hypothesis: the issue's 16 x 16 tokens can come from a 64-px input
with feature stride 4 (the FPN's P2 without the release's 2x average pooling), and that model
learns the 2D joints about as fast per image as the 128-px recipe for less CPU per image. One
knob: input 64 px with stride 4 instead of 128 px with stride 8 (same grid, same heads, same
heatmap resolution and target); everything else is the recipe. Scored as trial T5.

The package has no stride knob yet (`config.FEATURE_STRIDE` is the release's 8): this diagnostic
patches it in this process only (config and data modules, and `Backbone.features` without the
pooling), to measure before the knob is built.

    python results/teach/trials/stride4.py --out runs/teach_trials/stride4
    python results/teach/trials/stride4.py --init-from runs/teach_trials/dense64/pretrain.pt \
        --out runs/teach_trials/stride4_dense64

The second command is trial T12 (one knob changed from T11, the backbone's start): T8's 64-px
dense pre-training (671 CPU s, not counted in its curve's CPU seconds), now at the scale the
64-px model sees (D6), so the pre-trained features should carry over.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from batch_size import run_curve  # the sibling trial's resumable curve (same folder)

import handoccnet_lite.config as config_module
import handoccnet_lite.data.dataset as dataset_module
from handoccnet_lite.engine.teach import TeachPlan, teach_train_config
from handoccnet_lite.model.backbone import Backbone, check_image

STRIDE = 4


def features_at_stride_4(self: Backbone, image: torch.Tensor) -> torch.Tensor:
    """F = P2 (B, C, S/4, S/4): the release's features without the 2x average pooling."""
    check_image(image, self.input_size)
    return self.fpn(self.trunk(image))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=64, help="input size (grid = size / 4)")
    p.add_argument("--images", type=int, default=16000, help="images to train on in all")
    p.add_argument("--every", type=int, default=4000, help="images between evaluations")
    p.add_argument(
        "--init-from", default="", help="backbone weights to start from (trial T12: T8's, 64 px)"
    )
    p.add_argument("--out", default="runs/teach_trials/stride4")
    a = p.parse_args()
    torch.set_num_threads(1)
    base = teach_train_config(TeachPlan())  # the 128-px recipe, built before the patch
    config_module.FEATURE_STRIDE = STRIDE
    dataset_module.FEATURE_STRIDE = STRIDE
    Backbone.features = features_at_stride_4  # type: ignore[method-assign]
    base = base.replace(model=base.model.resized(a.size), init_from=a.init_from)
    assert base.model.grid == a.size // STRIDE and base.model.fit.grid == base.model.grid
    start = "pre-trained" if a.init_from else "random"
    labels = {"input": a.size, "stride": STRIDE, "start": start}
    run_curve(base, Path(a.out), a.images, a.every, labels)


if __name__ == "__main__":
    main()
