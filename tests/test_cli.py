"""Command line: every --help teaches (examples, defaults), --help does not import torch, user
errors are one line with exit 2 and no traceback, and a tiny train -> eval -> demo -> tables run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from handoccnet_lite.cli import main
from handoccnet_lite.utils import DATA_SAMPLES_DIR, REPO_ROOT

SUBCOMMANDS = (
    "data", "train", "eval", "attention", "ablate", "teach", "tables", "demo", "export", "doctor",
)  # fmt: skip
SAMPLES = str(DATA_SAMPLES_DIR / "synthocc")


@pytest.mark.parametrize("cmd", SUBCOMMANDS)
def test_every_subcommand_help(cmd: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert f"handoccnet-lite {cmd}" in text and "examples:" in text


def test_top_level_help_lists_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert all(c in text for c in SUBCOMMANDS)


def test_help_shows_defaults_and_the_lr_rule(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert "(default: runs/train)" in text and "global_batch / 64" in text


def test_help_is_fast_and_does_not_import_torch() -> None:
    code = (
        "import sys; from handoccnet_lite.cli import build_parser; p = build_parser(); "
        "p.format_help(); print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT
    )
    assert out.stdout.strip() == "False", out.stderr
    mod = subprocess.run(
        [sys.executable, "-m", "handoccnet_lite", "ablate", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert mod.returncode == 0 and "--profile" in mod.stdout


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "--data", "/no/such/dir", "--no-progress"], "handoccnet-lite data --out"),
        (["train", "--set", "fit.attention"], "expected KEY=VALUE"),
        (["train", "--set", "fit.nope=1", "--data", SAMPLES], "Unknown config key"),
        (["train", "--batch-size", "0", "--data", SAMPLES], "batch_size must be >= 1"),
        (
            ["train", "--out", "/tmp/handoccnet_no_run_here", "--resume", "--data", SAMPLES],
            "no checkpoint.pt",
        ),
        (["eval", "--run", "/no/such/run"], "No such checkpoint"),
        (["ablate", "--variants", "official", "nope", "--list"], "Unknown variants"),
        (["tables", "table1"], "Not included"),
    ],
)
def test_user_errors_are_one_line(argv, needle, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and err.count("\n") == 1, err


def test_tiny_train_eval_demo_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    argv = [
        "train",
        "--preset",
        "tiny",
        "--data",
        SAMPLES,
        "--max-samples",
        "16",
        "--batch-size",
        "4",
        "--max-steps",
        "3",
        "--out",
        str(run),
        "--no-progress",
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    assert "trained 3 steps" in capsys.readouterr().out
    csv = tmp_path / "eval.csv"
    assert (
        main(
            [
                "eval",
                "--run",
                str(run),
                "--data",
                SAMPLES,
                "--csv",
                str(csv),
                "--baseline",
                "--no-progress",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "mean pose" in text and "PA-MPJPE by occlusion level" in text and csv.is_file()
    assert "t-interval over images; bins of >= " in text  # occlusion.occlusion_table's bins
    assert main(["demo", "--run", str(run), "--out", str(tmp_path / "demo")]) == 0
    obj = (tmp_path / "demo" / "mesh.obj").read_text().splitlines()
    assert sum(line.startswith("v ") for line in obj) > 100 and any(
        line.startswith("f ") for line in obj
    )
    assert (tmp_path / "demo" / "overlay.png").stat().st_size > 1000
    capsys.readouterr()
    assert main(["tables", "table5", "--ours", str(csv), "--seeds", "0"]) == 0
    text = capsys.readouterr().out
    assert "HandOccNet" in text and "SynthOcc" in text
    _check_export(run, tmp_path / "bundle" / "small.pt")


def _check_export(run: Path, small: Path) -> None:
    """`export` stores float16 weights (about half the bytes) plus a config JSON, and
    load_trained gives back a float32 model whose outputs match the original to fp16 precision."""
    import json

    import torch

    from handoccnet_lite.cli import load_trained

    assert main(["export", "--run", str(run), "--out", str(small), "--note", "test"]) == 0
    info = json.loads(small.with_suffix(".json").read_text())
    assert info["storage_dtype"] == "float16" and info["model_config"]["input_size"] == 64
    assert small.stat().st_size < 0.6 * (run / "model.pt").stat().st_size
    (full, _), (half, _) = load_trained(run), load_trained(small)
    assert all(p.dtype == torch.float32 for p in half.parameters())
    image = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = full(image)["joints"], half(image)["joints"]
    torch.testing.assert_close(a, b, atol=2e-3, rtol=2e-2)
    # a run evaluated by an ablation (stage 1): its test metrics and the constants travel along
    assert "evaluation" not in info  # a plain train run has no test_metrics.json
    (run / "test_metrics.json").write_text(json.dumps({"pa_mpjpe": 15.5, "n": 300}))
    (run.parent / "mean_pose.json").write_text(json.dumps({"pa_mpjpe": 21.5}))
    assert main(["export", "--run", str(run), "--out", str(small)]) == 0
    info = json.loads(small.with_suffix(".json").read_text())
    assert info["evaluation"] == {"pa_mpjpe": 15.5, "mean_pose_pa_mpjpe": 21.5}


def test_ablate_list_shows_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    done = tmp_path / "official" / "seed0"
    done.mkdir(parents=True)
    (done / "metrics.json").write_text("{}")
    assert main(["ablate", "--profile", "quick", "--out", str(tmp_path), "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 12 and lines[0].startswith("done") and lines[1].startswith("todo")


def test_ablate_knows_every_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    from handoccnet_lite.cli.common import PROFILES as CLI_PROFILES
    from handoccnet_lite.engine.profiles import PROFILES

    assert CLI_PROFILES == tuple(PROFILES)
    with pytest.raises(SystemExit):
        main(["ablate", "--help"])
    assert "gpu_gate" in capsys.readouterr().out
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.delenv("HANDOCCNET_IMAGENET", raising=False)
    assert main(["ablate", "--profile", "gpu_gate", "--out", str(tmp_path), "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "random initialisation" in lines[0] and len(lines) == 1 + 2 * 3
    assert {line.split()[1] for line in lines[1:]} == {"official", "fit_softmax"}
