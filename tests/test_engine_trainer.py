"""Trainer unit tests: config round trip, lr rule, schedule, seeded data order, NaN guard, and a
tiny end-to-end run (train -> model.pt -> eval -> demo)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from handoccnet_lite.config import preset
from handoccnet_lite.engine import checkpoint as ckpt
from handoccnet_lite.engine import ddp
from handoccnet_lite.engine.sampling import EpochSampler, SeededSamples, make_loader
from handoccnet_lite.engine.train_config import TrainConfig
from handoccnet_lite.engine.trainer import NonFiniteLossError, step_decay, train
from handoccnet_lite.utils import DATA_SAMPLES_DIR

SAMPLES = DATA_SAMPLES_DIR / "synthocc"
TINY = preset("tiny")


def tiny_cfg(**kw) -> TrainConfig:
    base = dict(
        model=TINY,
        data_root=str(SAMPLES),
        max_samples=16,
        batch_size=4,
        epochs=1,
        base_lr=0.01,
        ckpt_every=2,
        progress=False,
        tensorboard=False,
        device="cpu",
    )
    return TrainConfig(**(base | kw))


def test_train_config_json_round_trip(tmp_path: Path) -> None:
    cfg = tiny_cfg(seed=3, lr_scaling="none").with_schedule("dexycb")
    cfg.save(tmp_path / "c.json")
    back = TrainConfig.load(tmp_path / "c.json")
    assert back == cfg and back.lr_gamma == 0.9 and back.lr_step_epochs == 1 and back.epochs == 25
    assert json.loads((tmp_path / "c.json").read_text())["model"]["feat_dim"] == TINY.feat_dim
    with pytest.raises(ValueError, match="Unknown TrainConfig keys"):
        TrainConfig.from_dict({"model": TINY.to_dict(), "lr": 1.0})
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        tiny_cfg(batch_size=0)
    with pytest.raises(ValueError, match="lr_gamma"):
        tiny_cfg(lr_gamma=1.5)
    with pytest.raises(ValueError, match="Unknown schedule"):
        cfg.with_schedule("coco")


def test_lr_scaling_rule() -> None:
    assert ddp.scaled_lr(1e-4, 64) == pytest.approx(1e-4)  # the paper: 4 GPUs x 16
    assert ddp.scaled_lr(1e-4, 16) == pytest.approx(2.5e-5)  # one GPU x 16: lr / 4
    assert ddp.scaled_lr(1e-4, 16, "none") == 1e-4  # the release's behaviour
    with pytest.raises(ValueError, match="linear"):
        ddp.scaled_lr(1e-4, 16, "sqrt")  # type: ignore[arg-type]


def test_step_decay_matches_the_paper_schedules() -> None:
    ho3d = step_decay(steps_per_epoch=5, every_epochs=10, gamma=0.7)
    assert ho3d(0) == 1 and ho3d(49) == 1 and ho3d(50) == pytest.approx(0.7)
    assert ho3d(100) == pytest.approx(0.49)
    dex = step_decay(steps_per_epoch=5, every_epochs=1, gamma=0.9)
    assert dex(4) == 1 and dex(5) == pytest.approx(0.9) and dex(12) == pytest.approx(0.81)


def test_epoch_sampler_is_seeded_sharded_and_resumable() -> None:
    w0, w1 = ddp.World(0, 2, 0), ddp.World(1, 2, 1)
    s0, s1 = EpochSampler(20, 3, 5, w0), EpochSampler(20, 3, 5, w1)
    a, b = list(s0), list(s1)
    assert len(a) == len(b) == 9 and not set(a) & set(b)  # 3 global batches of 6, disjoint
    assert list(EpochSampler(20, 3, 5, w0)) == a  # same (seed, epoch): same order
    s0.set_epoch(1)
    assert list(s0) != a
    s0.set_epoch(0, skip_batches=2)
    assert list(s0) == a[6:]
    with pytest.raises(ValueError, match="fewer than one global batch"):
        EpochSampler(5, 3, 0, w0)


def test_seeded_augmentation_independent_of_workers() -> None:
    from handoccnet_lite.data.dataset import SynthOccDataset

    base = SynthOccDataset(SAMPLES, "train", 64, augment=True, seed=11)
    data = SeededSamples(torch.utils.data.Subset(base, range(8)), seed=11)
    cfg = tiny_cfg(batch_size=4)
    sampler = EpochSampler(8, 4, 11, ddp.World())
    b0 = [b["image"] for b in make_loader(data, sampler, cfg, epoch=0, skip=0)]
    b2 = [b["image"] for b in make_loader(data, sampler, cfg.replace(num_workers=2), 0, 0)]
    assert all(torch.equal(x, y) for x, y in zip(b0, b2, strict=True))
    e1 = [b["image"] for b in make_loader(data, sampler, cfg, epoch=1, skip=0)]
    assert not torch.equal(torch.cat(b0), torch.cat(e1))  # new epoch: new order / augmentation


class NaNAfter(Dataset):
    """The real samples, then NaN targets from item `good` on (counts items served)."""

    def __init__(self, base: Dataset, good: int) -> None:
        self.base, self.good, self.served = base, good, 0

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict:
        item = dict(self.base[i])
        self.served += 1
        if self.served > self.good:
            item["joints_cam"] = torch.full_like(item["joints_cam"], float("nan"))
        return item


def test_nan_loss_stops_with_step_and_term_and_keeps_last_good_checkpoint(tmp_path: Path) -> None:
    from handoccnet_lite.data.dataset import SynthOccDataset

    base = SynthOccDataset(SAMPLES, "train", TINY.input_size, augment=False)
    data = NaNAfter(torch.utils.data.Subset(base, range(24)), good=12)  # steps 1-3 fine
    with pytest.raises(NonFiniteLossError) as err:
        train(tiny_cfg(max_samples=0, epochs=2), tmp_path, dataset=data)
    msg = str(err.value)
    m = re.search(r"Loss term '(\w+)' is nan at step (\d+)", msg)
    assert m and m.group(1) in ("verts", "joints") and m.group(2) == "4", msg
    assert "last good checkpoint" in msg and "(step 2)" in msg
    state = ckpt.load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["position"]["step"] == 2
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert not (tmp_path / "model.pt").exists()


def test_nan_gradient_with_finite_loss_stops_before_the_update(tmp_path: Path, monkeypatch) -> None:
    """A finite loss whose gradient is NaN (here sqrt'(0) * 0) must stop the run before the
    optimizer writes NaN into the weights, naming the step and a parameter."""
    from handoccnet_lite.engine import trainer as tr

    real, calls = tr.compute_losses, {"n": 0}

    def poisoned(outputs, batch, cfg):
        terms = real(outputs, batch, cfg)
        calls["n"] += 1
        if calls["n"] >= 3:  # steps 1-2 fine
            bad = torch.sqrt(outputs["joints"].sum() * 0.0)  # value 0, gradient inf * 0 = NaN
            terms["total"] = terms["total"] + bad
        return terms

    monkeypatch.setattr(tr, "compute_losses", poisoned)
    with pytest.raises(NonFiniteLossError) as err:
        train(tiny_cfg(epochs=2), tmp_path)
    msg = str(err.value)
    assert re.search(r"finite at step 3 but the gradient of '[\w.]+' is not", msg), msg
    assert "(step 2)" in msg and "feature_norm=batch" in msg
    state = ckpt.load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["position"]["step"] == 2
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_tiny_end_to_end_train_eval(tmp_path: Path) -> None:
    from handoccnet_lite.data.dataset import SynthOccDataset
    from handoccnet_lite.engine import evaluate as ev

    res = train(tiny_cfg(epochs=2), tmp_path)
    assert res.steps == 8 and res.summary["global_batch"] == 4
    assert res.summary["lr_initial"] == pytest.approx(0.01 * 4 / 64)
    for name in ("config.json", "log.csv", "checkpoint.pt", "model.pt", "summary.json"):
        assert (tmp_path / name).is_file(), name
    log = np.genfromtxt(tmp_path / "log.csv", delimiter=",", names=True)
    assert log["step"].tolist() == list(range(1, 9)) and np.isfinite(log["total"]).all()
    assert (log["images_per_s"] > 0).all()
    test = torch.utils.data.Subset(SynthOccDataset(SAMPLES, "test", TINY.input_size), range(8))
    df = ev.evaluate_model(res.model, test, batch_size=4, device="cpu", progress=False)
    assert len(df) == 8 and {"index", "occlusion", "visible_joints", "pa_mpjpe", "f5"} <= set(df)
    assert (df["pa_mpjpe"] <= df["mpjpe"] + 1e-6).all() and (df["visible_joints"] <= 21).all()
    curve = ev.occlusion_curve(df, "pa_mpjpe")
    assert curve["count"].sum() == 8


def test_auto_hand_model_is_pinned_in_the_run_config(monkeypatch) -> None:
    """A run saved with hand_model="auto" would load a MANO hand on SynthHand-trained weights
    once a user adds MANO: the trainer pins the backend it actually used."""
    from handoccnet_lite.config import preset
    from handoccnet_lite.engine.builders import pin_hand_model
    from handoccnet_lite.engine.train_config import TrainConfig

    monkeypatch.delenv("HANDOCCNET_MANO_DIR", raising=False)
    cfg = TrainConfig(model=preset("tiny").replace(hand_model="auto"))
    assert pin_hand_model(cfg).model.hand_model == "synth"
    mano = TrainConfig(model=preset("tiny").replace(hand_model="mano"))
    assert pin_hand_model(mano) is mano
