"""Count torch.compile graph breaks (torch._dynamo.explain) in the hand layer and the model.

Usage: PYTHONPATH=$PWD python benchmarks/graph_breaks.py [--preset tiny]

Prints, for the hand layer alone, `HandOccNet.forward_features` (what the cached protocol
trains) and the full `HandOccNet.forward`, the number of graphs, graph breaks and the distinct
break reasons. Runs on the CPU (explain traces, it does not compile kernels).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import torch


def explain(fn: Callable[..., Any], *args: Any) -> tuple[int, int, list[str]]:
    """(graphs, graph breaks, distinct break reasons) of fn(*args) under torch._dynamo.explain."""
    torch._dynamo.reset()
    out = torch._dynamo.explain(fn)(*args)
    reasons = sorted({_describe(b) for b in out.break_reasons})
    return out.graph_count, out.graph_break_count, reasons


def _describe(brk: Any) -> str:
    """'reason (file:line)' of one graph break, the innermost frame of our package or smplx."""
    where = ""
    for frame in reversed(brk.user_stack or []):
        if "handoccnet_lite" in frame.filename or "smplx" in frame.filename:
            name = frame.filename.split("site-packages/")[-1].split("handoccnet_lite/")[-1]
            where = f" ({name}:{frame.lineno})"
            break
    return str(brk.reason).splitlines()[0][:100] + where


def main() -> None:
    """Print the counts for the chosen preset."""
    from handoccnet_lite.config import preset
    from handoccnet_lite.hand import load_hand_model
    from handoccnet_lite.model import HandOccNet

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    args = parser.parse_args()
    torch.manual_seed(0)
    cfg = preset(args.preset)
    hand = load_hand_model("synth")
    model = HandOccNet(cfg).train()
    image = torch.rand(2, 3, cfg.input_size, cfg.input_size)  # (B, 3, S, S)
    feat = model.extract_features(image).detach()  # (B, C, G, G)
    pose = torch.randn(2, 48) * 0.2  # (B, 48)
    cases = {
        "hand layer": (hand, pose, torch.zeros(2, 10)),
        "forward_features": (model.forward_features, feat),
        "forward": (model, image),
    }
    for name, (fn, *inputs) in cases.items():
        graphs, breaks, reasons = explain(fn, *inputs)
        print(f"{name:18s} graphs {graphs:3d}  graph breaks {breaks:3d}")
        for r in reasons:
            print(f"    - {r}")


if __name__ == "__main__":
    main()
