"""Benchmark protocols: HO-3D submission export + local evaluation, Dex-YCB (HandOccNet's)."""

from ..data.dexycb import evaluate_dexycb, unflip_joints
from .ho3d_submission import (
    EVAL_COUNTS,
    evaluate_ho3d,
    evaluate_submission,
    from_submission,
    load_eval_ground_truth,
    read_submission,
    to_submission,
    write_submission,
)

__all__ = [
    "EVAL_COUNTS", "evaluate_dexycb", "evaluate_ho3d", "evaluate_submission",
    "from_submission", "load_eval_ground_truth", "read_submission", "to_submission",
    "unflip_joints", "write_submission",
]  # fmt: skip
