"""Every failure the user can act on ends with one line (what is wrong, how to fix it), exit 2
and no traceback; --debug shows the traceback; nothing is overwritten or run by accident."""

from __future__ import annotations

import errno
import os
import pickle
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from handoccnet_lite.cli import main
from handoccnet_lite.utils import DATA_SAMPLES_DIR, REPO_ROOT

SAMPLES = str(DATA_SAMPLES_DIR / "synthocc")
BUNDLED = DATA_SAMPLES_DIR / "checkpoints" / "lite_synthocc.pt"


def one_error_line(capsys: pytest.CaptureFixture[str], needle: str) -> str:
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and err.count("\n") == 1, err
    return err


class _OpensMarker:
    """Unpickling this object would create a marker file (code run by the loader)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


# ----------------------------------------------------------------------------- checkpoints
def test_eval_refuses_a_model_file_that_would_run_code(tmp_path: Path, capsys) -> None:
    import torch

    marker = tmp_path / "pwned"
    torch.save({"model": {}, "payload": _OpensMarker(marker)}, tmp_path / "model.pt")
    assert main(["eval", "--run", str(tmp_path)]) == 2
    one_error_line(capsys, "refused to load")
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncated", "random"])
def test_damaged_checkpoint_is_one_line(tmp_path: Path, damage: str, capsys) -> None:
    data = BUNDLED.read_bytes()
    bad = data[: len(data) // 2] if damage == "truncated" else os.urandom(2048)
    (tmp_path / "model.pt").write_bytes(bad)
    assert main(["eval", "--run", str(tmp_path)]) == 2
    one_error_line(capsys, "not a readable checkpoint")


# ----------------------------------------------------------------------------- file systems
@pytest.mark.parametrize(
    ("code", "needle"),
    [
        (errno.ENOSPC, "no space left on the device"),
        (errno.EROFS, "read-only"),
        (errno.EACCES, "permission denied"),
    ],
)
def test_write_failures_say_what_and_how_to_fix(tmp_path: Path, monkeypatch, capsys, code, needle):
    from handoccnet_lite import utils

    out = tmp_path / "small.pt"

    def fail(path, data):
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(utils, "atomic_write_bytes", fail)
    assert main(["export", "--run", str(BUNDLED), "--out", str(out)]) == 2
    err = one_error_line(capsys, needle)
    assert str(out) in err and "--out" in err


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_data_that_fails_half_way_keeps_the_old_set(tmp_path: Path, monkeypatch, capsys) -> None:
    from handoccnet_lite.data import synthocc as so

    root = tmp_path / "set"
    small = ["--resolution", "32", "--workers", "1", "--no-progress"]
    assert main(["data", "--out", str(root), "--n-train", "2", "--n-test", "1", *small]) == 0
    before = _snapshot(root)
    real = so.generate_synthocc

    def disk_fills_on_test(out_dir, n, split="train", **kw):
        if split == "test":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(Path(out_dir) / split))
        return real(out_dir, n, split=split, **kw)

    monkeypatch.setattr(so, "generate_synthocc", disk_fills_on_test)
    capsys.readouterr()
    argv = ["data", "--out", str(root), "--n-train", "3", "--n-test", "1", "--seed", "7", *small]
    assert main(argv) == 2
    one_error_line(capsys, "no space left")
    assert _snapshot(root) == before  # the earlier set, complete: no new train beside old test
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]


# ----------------------------------------------------------------------------- train
def _tiny_train(out: Path, *extra: str) -> list[str]:
    return ["train", "--preset", "tiny", "--data", SAMPLES, "--max-samples", "4",
            "--batch-size", "4", "--max-steps", "1", "--out", str(out), "--no-progress",
            "--device", "cpu", *extra]  # fmt: skip


def test_train_refuses_to_overwrite_a_run(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"kept": true}')
    (run / "model.pt").write_bytes(b"old weights")
    assert main(_tiny_train(run)) == 2
    one_error_line(capsys, "--resume")
    assert (run / "model.pt").read_bytes() == b"old weights"
    assert main(_tiny_train(run, "--resume", "--overwrite")) == 2
    one_error_line(capsys, "not both")


def test_train_overwrite_replaces_the_run(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.pt").write_bytes(b"old weights")
    (run / "checkpoint.prev.pt").write_bytes(b"an older run's checkpoint")
    assert main(_tiny_train(run, "--overwrite")) == 0
    assert (run / "model.pt").read_bytes() != b"old weights"
    assert not (run / "checkpoint.prev.pt").exists()  # no fallback into the old run


# ----------------------------------------------------------------------------- MANO
def test_refused_mano_pickle_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / "MANO_RIGHT.pkl").write_bytes(pickle.dumps({"f": _OpensMarker(marker)}))
    monkeypatch.setenv("HANDOCCNET_MANO_DIR", str(tmp_path))
    argv = _tiny_train(tmp_path / "run", "--set", "hand_model=mano")
    assert main(argv) == 2
    one_error_line(capsys, "refusing to load")
    assert not marker.exists()


# ----------------------------------------------------------------------------- demo
def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width x height gray pixels, with one row of data: a
    decompression bomb's header without its payload."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def _patch_model_load(monkeypatch, load) -> None:
    """Replace `load_trained` where `demo` looks it up (whatever module holds the command)."""
    from handoccnet_lite.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    cmd_demo = sub.choices["demo"].get_default("func")
    monkeypatch.setitem(cmd_demo.__globals__, "load_trained", load)


@pytest.fixture
def no_model_load(monkeypatch):
    """Loading the model fails loudly: image checks must come first."""

    def load(*a, **k):
        raise AssertionError("the model was loaded before the image was checked")

    _patch_model_load(monkeypatch, load)


def test_demo_missing_image_says_no_such_file(tmp_path: Path, no_model_load, capsys) -> None:
    missing = tmp_path / "hand.jpg"
    assert main(["demo", "--run", str(BUNDLED), "--image", str(missing)]) == 2
    one_error_line(capsys, "no such file")


def test_demo_refuses_a_decompression_bomb(tmp_path: Path, no_model_load, capsys) -> None:
    bomb = tmp_path / "bomb.png"
    _png_header_only(bomb, 40_000, 40_000)
    assert main(["demo", "--run", str(BUNDLED), "--image", str(bomb)]) == 2
    one_error_line(capsys, "40000 x 40000 pixels")


def test_demo_refuses_bytes_that_are_no_image(tmp_path: Path, no_model_load, capsys) -> None:
    junk = tmp_path / "hand.png"
    junk.write_bytes(os.urandom(512))
    assert main(["demo", "--run", str(BUNDLED), "--image", str(junk)]) == 2
    one_error_line(capsys, "not a readable image")


def test_demo_warns_on_an_image_too_small_for_a_hand(tmp_path: Path, monkeypatch, capsys) -> None:
    import cv2
    import numpy as np

    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.zeros((40, 50, 3), np.uint8))

    def load(*a, **k):
        raise ValueError("stopped after the image checks")

    _patch_model_load(monkeypatch, load)
    assert main(["demo", "--run", str(BUNDLED), "--image", str(small)]) == 2
    err = capsys.readouterr().err
    assert "50 x 40 pixels" in err and "at least 64 px" in err and "stopped after" in err


# ----------------------------------------------------------------------------- main
def test_closed_stdout_pipe_exits_quietly() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "handoccnet_lite", "tables", "--list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO_ROOT,
        env=os.environ | {"PYTHONPATH": str(REPO_ROOT)},
    )
    proc.stdout.close()  # the reader goes away, as `| head -0` would
    err = proc.stderr.read().decode()
    proc.wait()
    assert "Traceback" not in err and "BrokenPipe" not in err and err == "", err
    assert proc.returncode == 141


@pytest.mark.parametrize("where", ["global", "subcommand"])
def test_debug_flag_shows_the_traceback(where: str) -> None:
    argv = ["eval", "--run", "/no/such/run"]
    argv = ["--debug", *argv] if where == "global" else [*argv, "--debug"]
    with pytest.raises(FileNotFoundError, match="No such checkpoint"):
        main(argv)
