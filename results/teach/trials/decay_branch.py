"""Trial: is the teaching run's plateau the noise floor of its constant learning rate?

Hypothesis: at a constant Adam lr of 1e-3 the 2D error stalls (0.1265 / 0.1263 crop sides at
steps 1000 / 1250) because of the lr's noise, not because the model cannot learn more; a short
branch at a lower lr from the same weights should then drop the error clearly. If it does, the
long run needs a decay phase (warm-up/stable/decay), not more steps at 1e-3.

Usage (from the repository root; SynthOcc, synthetic):
    python results/teach/trials/decay_branch.py --from runs/teach/official/checkpoint.pt \
        --lr 1e-4 --steps 250 --out runs/teach_trials/decay_1e-4
It trains a copy (fresh Adam, the teaching recipe, the same training set) and prints the test
row of `engine.teach.evaluate_teaching_model`, also written to <out>/test_row.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from handoccnet_lite.engine.teach import TeachPlan, evaluate_teaching_model, teach_train_config
from handoccnet_lite.engine.trainer import train


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--from", dest="source", required=True, help="checkpoint.pt or model.pt")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--steps", type=int, default=250)
    p.add_argument("--variant", default="official")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    plan = TeachPlan(variant=a.variant, threads=a.threads)
    cfg = teach_train_config(plan).replace(
        init_from=a.source, base_lr=a.lr, max_steps=a.steps, seed=1
    )
    result = train(cfg, a.out)
    row = {"source": a.source, "lr": a.lr, "steps": a.steps}
    row |= evaluate_teaching_model(result.model, plan)
    Path(a.out, "test_row.json").write_text(json.dumps(row, indent=2) + "\n")
    print(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
