"""Control for the upright-viewpoint trial: does a model trained on SynthOcc's uniform
orientations score the same on the upright view of the test images as on the images as drawn?
(It should: it has no preferred in-plane direction.) If so, the uniform run's learning curve on
the drawn images is a fair reference for the upright run's curve on the upright view.

    python results/teach/trials/views.py --model results/teach/official/model.pt
"""

from __future__ import annotations

import argparse
import json

import torch

from handoccnet_lite.cli import load_trained
from handoccnet_lite.engine.teach import VIEWPOINTS, TeachPlan, _evaluate_view


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="results/teach/official/model.pt")
    a = p.parse_args()
    torch.set_num_threads(1)
    model, _ = load_trained(a.model)
    plan = TeachPlan()
    keep = ("pa_mpjpe", "rms_2d", "gate_auc", "fit_ratio", "gate_unsat_hand")
    for view, sigma in VIEWPOINTS.items():
        row = _evaluate_view(model, plan, sigma)
        print(view, json.dumps({k: round(row[k], 4) for k in keep}))


if __name__ == "__main__":
    main()
