"""Checkpoints are safe and loss-free: every file loads with torch.load(weights_only=True), a
crafted pickle is refused without running, and the previous checkpoint survives a truncated
latest one."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from handoccnet_lite.config import preset
from handoccnet_lite.engine import checkpoint as ckpt
from handoccnet_lite.engine.trainer import TrainConfig, train
from handoccnet_lite.utils import DATA_SAMPLES_DIR

SAMPLES = DATA_SAMPLES_DIR / "synthocc"
BUNDLED = DATA_SAMPLES_DIR / "checkpoints" / "lite_synthocc.pt"


def tiny_cfg(**kw) -> TrainConfig:
    """Two optimizer steps of the tiny preset, a checkpoint after each."""
    base = dict(
        model=preset("tiny"),
        data_root=str(SAMPLES),
        max_samples=8,
        batch_size=4,
        epochs=1,
        ckpt_every=1,
        progress=False,
        tensorboard=False,
        device="cpu",
    )
    return TrainConfig(**(base | kw))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    train(tiny_cfg(), out)
    return out


class _WritesMarker:
    """Unpickling this object opens (creates) a marker file: code run by torch.load."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_every_file_of_a_run_loads_with_plain_weights_only(run_dir: Path) -> None:
    for name in (ckpt.CHECKPOINT_NAME, ckpt.PREVIOUS_NAME, ckpt.MODEL_NAME):
        state = torch.load(run_dir / name, map_location="cpu", weights_only=True)
        assert "model" in state, name
    state = torch.load(run_dir / ckpt.CHECKPOINT_NAME, weights_only=True)
    kind, keys, *_ = state["rng"]["numpy"]
    assert kind == "MT19937" and isinstance(keys, list) and len(keys) == 624


def test_bundled_checkpoint_loads_with_weights_only() -> None:
    state = torch.load(BUNDLED, map_location="cpu", weights_only=True)
    assert state["model"] and state["model_config"]["input_size"] > 0
    assert ckpt.load_checkpoint(BUNDLED)["model"].keys() == state["model"].keys()


def test_plain_rng_state_restores_every_generator() -> None:
    saved = ckpt.plain_rng_state(ckpt.rng_state())
    expected = (random.random(), np.random.rand(), torch.rand(()).item())
    ckpt.set_rng_state(saved)
    assert (random.random(), np.random.rand(), torch.rand(()).item()) == expected


def test_older_checkpoint_with_a_numpy_rng_array_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "old.pt"
    torch.save({"model": {"w": torch.zeros(2)}, "rng": {"numpy": np.random.get_state()}}, path)
    state = ckpt.load_checkpoint(path)
    assert np.array_equal(state["rng"]["numpy"][1], np.random.get_state()[1])


def test_malicious_pickle_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    torch.save({"model": {}, "payload": _WritesMarker(marker)}, path)
    with pytest.raises(ckpt.CheckpointError, match="refused to load.*open"):
        ckpt.load_checkpoint(path)
    with pytest.raises(ckpt.CheckpointError, match="refused"):
        ckpt.load_checkpoint(ckpt.find_weights(tmp_path))
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncated", "random"])
def test_unreadable_checkpoint_names_the_file_and_the_fix(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "checkpoint.pt"
    data = BUNDLED.read_bytes()
    path.write_bytes(data[: len(data) // 3] if damage == "truncated" else np.random.bytes(4096))
    with pytest.raises(ckpt.CheckpointError, match="not a readable checkpoint.*retrain"):
        ckpt.load_checkpoint(path)


def test_two_checkpoints_are_kept_latest_and_previous(run_dir: Path) -> None:
    latest = ckpt.load_checkpoint(run_dir / ckpt.CHECKPOINT_NAME)
    previous = ckpt.load_checkpoint(run_dir / ckpt.PREVIOUS_NAME)
    assert (latest["position"]["step"], previous["position"]["step"]) == (2, 1)
    assert not list(run_dir.glob(".*.tmp"))  # no temp file left behind


def test_truncated_latest_falls_back_to_previous_with_a_warning(
    run_dir: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    for name in ("config.json", ckpt.CHECKPOINT_NAME, ckpt.PREVIOUS_NAME):
        (run / name).write_bytes((run_dir / name).read_bytes())
    latest = run / ckpt.CHECKPOINT_NAME
    latest.write_bytes(latest.read_bytes()[:1000])
    with pytest.warns(UserWarning, match="previous checkpoint"):
        state = ckpt.load_resume_checkpoint(run)
    assert state["position"]["step"] == 1
    with pytest.warns(UserWarning, match="previous checkpoint"):
        res = train(tiny_cfg(), run, resume=True)  # the run continues from step 1
    assert res.steps == 2
    assert ckpt.load_checkpoint(latest)["position"]["step"] == 2


def test_resume_without_any_checkpoint_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="--resume: no checkpoint.pt"):
        ckpt.load_resume_checkpoint(tmp_path)


def test_remove_checkpoints_deletes_latest_and_previous(tmp_path: Path) -> None:
    for name in (ckpt.CHECKPOINT_NAME, ckpt.PREVIOUS_NAME, ckpt.MODEL_NAME):
        (tmp_path / name).write_bytes(b"x")
    ckpt.remove_checkpoints(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [ckpt.MODEL_NAME]
