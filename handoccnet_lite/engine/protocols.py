"""Alignment protocols: whether the Procrustes alignments behind pa_mpjpe, pa_mpvpe, f5/f15 and
the AUCs may reflect, per dataset (see engine.evaluate's docstring for the choices and sources).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AlignmentProtocol:
    """How an evaluation aligns predictions: a name, the reflection switch and its source."""

    name: str
    allow_reflection: bool
    source: str

    def as_dict(self) -> dict[str, Any]:
        """What results files record: {"protocol": name, "allow_reflection": bool}."""
        return {"protocol": self.name, "allow_reflection": self.allow_reflection}


#: Alignment protocols by name; datasets name theirs in an `eval_protocol` attribute.
PROTOCOLS: dict[str, AlignmentProtocol] = {
    p.name: p
    for p in (
        AlignmentProtocol("ho3d", True, "HO-3D's official eval.py (scipy orthogonal_procrustes)"),
        AlignmentProtocol(
            "dexycb", False, "HandOccNet's Dex-YCB evaluation (the paper's numbers; det R = +1)"
        ),
        AlignmentProtocol("dexycb_toolkit", True, "Dex-YCB toolkit's HPE evaluator"),
        AlignmentProtocol(
            "synthocc", False, "this package's SynthOcc results (HandOccNet's own alignment)"
        ),
        AlignmentProtocol(
            "handoccnet", False, "HandOccNet's released evaluation code (datasets naming none)"
        ),
    )
}
DEFAULT_PROTOCOL = "handoccnet"


def dataset_protocol(dataset: Any) -> str:
    """The protocol a dataset names (`eval_protocol`, looked up through `.loader` of real-set
    wrappers and `.dataset` of torch Subsets), else DEFAULT_PROTOCOL."""
    seen = 0
    while dataset is not None and seen < 8:  # wrappers nest a few levels at most
        name = getattr(dataset, "eval_protocol", None)
        if name is not None:
            return str(name)
        dataset = getattr(dataset, "loader", None) or getattr(dataset, "dataset", None)
        seen += 1
    return DEFAULT_PROTOCOL


def resolve_protocol(protocol: str | None, dataset: Any = None) -> AlignmentProtocol:
    """`protocol` by name, or the dataset's own (`dataset_protocol`) when None."""
    name = protocol if protocol is not None else dataset_protocol(dataset)
    if name not in PROTOCOLS:
        raise ValueError(
            f"Unknown evaluation protocol {name!r}; choose one of {sorted(PROTOCOLS)} (or set "
            "the dataset's eval_protocol to one of them)."
        )
    return PROTOCOLS[name]
