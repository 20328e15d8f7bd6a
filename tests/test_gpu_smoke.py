"""benchmarks/gpu_smoke.py: its dry run on the CPU (the plumbing), its refusal without CUDA."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from handoccnet_lite.utils import REPO_ROOT


def smoke_module():
    spec = importlib.util.spec_from_file_location(
        "gpu_smoke", REPO_ROOT / "benchmarks" / "gpu_smoke.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_smoke"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_without_cuda_it_exits_2_with_a_clear_message(capsys, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert smoke_module().main([]) == 2
    err = capsys.readouterr().err
    assert "CUDA is not available" in err and "--device cpu --quick" in err


CHEAP = [
    "environment",
    "cuda tests",
    "bf16 parity (bundled)",
    "loader images/s",
    "nccl 2 processes",
]


def test_cpu_dry_run_writes_the_summary(tmp_path: Path) -> None:
    """The cheap checks of the dry run (the training ones: the slow test below)."""
    assert (
        smoke_module().main(
            ["--device", "cpu", "--quick", "--out", str(tmp_path), "--only", *CHEAP]
        )
        == 0
    )
    rows = {r["name"]: r for r in json.loads((tmp_path / "summary.json").read_text())["checks"]}
    assert list(rows) == CHEAP
    assert rows["environment"]["status"] == "ok" and "torch" in rows["environment"]["detail"]
    assert rows["cuda tests"]["status"] == rows["nccl 2 processes"]["status"] == "skip"
    assert rows["bf16 parity (bundled)"]["status"] == "ok"
    assert "| loader images/s | ok |" in (tmp_path / "summary.md").read_text()


@pytest.mark.slow
def test_full_cpu_dry_run_passes(tmp_path: Path) -> None:
    """Every check of `--device cpu --quick` (about 90 CPU-seconds: slow)."""
    assert smoke_module().main(["--device", "cpu", "--quick", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "summary.json").read_text())["checks"]
    assert {r["status"] for r in rows} <= {"ok", "skip"}
    assert [r["status"] for r in rows if r["name"] == "resume"] == ["ok"]


def test_unknown_check_name_is_refused(tmp_path: Path) -> None:
    assert smoke_module().main(["--device", "cpu", "--quick", "--only", "nope"]) == 2
