"""Trial T3: a decay phase branched from an earlier snapshot of a teaching run.

Hypothesis: the official run's attention measures at step 1500 (gate AUC 0.93, FIT ratio 2.43)
were not luck of one snapshot but a state of the model that a low-lr phase keeps while the
accuracy improves (the decay phase from step 3050 improved accuracy but kept that snapshot's
weaker attention, AUC ~0.80, ratio ~1.4). The branch is a teaching run of its own
(engine.teach, resumable, same evaluation) whose committed state starts at the source snapshot.

    python results/teach/trials/branch.py --source runs/teach_trials/official_step1500.pt \
        --step 1500 --lr 1e-4 --max-steps 2250 --name official-from1500
Writes results/teach/branches/<name>/ (curve.csv, teach_state.json; the float16 model.pt is
committed only when the branch is adopted) and runs/teach_branches/<name>/.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from handoccnet_lite.engine.teach import STATE_NAME, TeachPlan, teach
from handoccnet_lite.utils import REPO_ROOT


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", required=True, help="float16 snapshot (model.pt) to branch from")
    p.add_argument("--step", type=int, required=True, help="the source's step in its run")
    p.add_argument("--variant", default="official")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--max-steps", type=int, required=True, help="total steps (source's included)")
    p.add_argument("--name", required=True)
    a = p.parse_args()
    plan = TeachPlan(
        variant=a.variant,
        lr=a.lr,
        run_root=str(REPO_ROOT / "runs" / "teach_branches" / a.name),
        snapshot_root=str(REPO_ROOT / "results" / "teach" / "branches" / a.name),
    )
    out = plan.snapshot_dir
    if not (out / STATE_NAME).is_file():
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(a.source, out / "model.pt")
        seg = {"offset": 0, "lr": 1e-3, "source": f"{a.source} (step {a.step} of its run)"}
        state = {"steps": a.step, "segments": [seg]}
        (out / STATE_NAME).write_text(json.dumps(state, indent=2) + "\n")
    teach(plan, max_steps=a.max_steps)


if __name__ == "__main__":
    main()
