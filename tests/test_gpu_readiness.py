"""Failures that only a GPU machine would show, reproduced on the CPU: resuming from a checkpoint
read onto another device, the silent CPU fallback of device='auto', the hand layer under bf16
autocast."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from handoccnet_lite import utils
from handoccnet_lite.engine import checkpoint as ckpt
from handoccnet_lite.hand import load_hand_model


# ----------------------------------------------------------------- resume onto another device
def _tiny_run_state(path: Path) -> torch.Tensor:
    """Save a checkpoint of a trained-one-step Linear; return the next torch.rand after it."""
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    ckpt.save_checkpoint(path, model, opt, sched, ckpt.DataPosition(1, 0, 1), {})
    return torch.rand(5)


def test_resume_with_a_non_cpu_map_location_restores_cpu_rng(tmp_path: Path) -> None:
    """`train --resume` on CUDA read the checkpoint with map_location=device, which moved the
    RNG states off the CPU: torch.set_rng_state then raised "RNG state must be a
    torch.ByteTensor". The meta device reproduces it here (the weights go there as asked)."""
    expected = _tiny_run_state(tmp_path / "c.pt")
    state = ckpt.load_checkpoint(tmp_path / "c.pt", map_location="meta")
    assert state["model"]["weight"].device.type == "meta"  # weights follow map_location
    model = nn.Linear(3, 2, device="meta")
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1)
    torch.manual_seed(123)  # anything else: the restore must bring the saved state back
    position = ckpt.restore_training_state(state, model, opt, sched)
    assert position.step == 1
    assert torch.equal(torch.rand(5), expected)


def test_rng_states_loaded_onto_a_device_are_moved_back_to_cpu() -> None:
    """set_rng_state accepts a state dict whose tensors were moved elsewhere (here: a dtype
    change stands in for a device move; a meta state gets a clear error)."""
    state = ckpt.rng_state()
    expected = torch.rand(3)
    state["torch"] = state["torch"].to(torch.int16)  # not a ByteTensor any more
    ckpt.set_rng_state(state)
    assert torch.equal(torch.rand(3), expected)
    state["torch"] = state["torch"].to("meta")
    with pytest.raises(ValueError, match="meta device"):
        ckpt.set_rng_state(state)


# ----------------------------------------------------------------- device="auto"
@pytest.fixture
def gpu_present_but_unusable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A machine whose NVIDIA driver is loaded while torch cannot use CUDA (driver too old)."""
    driver = tmp_path / "version"
    driver.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.57.02\n")
    monkeypatch.setattr(utils, "NVIDIA_DRIVER_FILES", (str(driver),))
    monkeypatch.setattr(utils, "_warned_unusable_cuda", False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: True)
    return driver


def test_auto_device_warns_once_when_the_gpu_is_unusable(gpu_present_but_unusable: Path) -> None:
    with pytest.warns(utils.CudaUnusableWarning) as record:
        assert utils.resolve_device("auto") == torch.device("cpu")
        assert utils.resolve_device("auto") == torch.device("cpu")
    assert len(record) == 1  # once per process
    text = str(record[0].message)
    assert "470.57.02" in text and "--device cpu" in text and "wheels" in text


def test_explicit_cpu_and_gpu_free_machines_stay_silent(
    gpu_present_but_unusable: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert utils.resolve_device("cpu") == torch.device("cpu")
        monkeypatch.setattr(utils, "NVIDIA_DRIVER_FILES", ("/nonexistent/nvidia",))
        assert utils.resolve_device("auto") == torch.device("cpu")


def test_cpu_only_torch_build_is_named(gpu_present_but_unusable: Path, monkeypatch) -> None:
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: False)
    assert "CPU-only build" in (utils.cuda_unusable_reason() or "")


# ----------------------------------------------------------------- hand layer under autocast
def test_hand_layer_is_float32_under_bf16_autocast() -> None:
    """bf16 autocast used to add about 0.5 mm in the hand layer; it now runs in float32."""
    hand = load_hand_model("synth")
    g = torch.Generator().manual_seed(0)
    pose = 0.4 * torch.randn(8, 48, generator=g)  # (B, 48)
    shape = torch.randn(8, 10, generator=g)  # (B, 10)
    ref = hand(pose, shape)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = hand(pose, shape)
    assert out.vertices.dtype == torch.float32
    err_mm = 1000 * (out.vertices - ref.vertices).abs().max()
    assert err_mm < 1e-4, f"bf16 autocast moved the vertices by {err_mm:.2e} mm"
    assert 1000 * (out.joints - ref.joints).abs().max() < 1e-4


def test_regressor_rotations_are_float32_under_bf16_autocast() -> None:
    """The 6D -> matrix -> axis-angle conversions feed the hand layer in float32 too."""
    from handoccnet_lite.config import preset
    from handoccnet_lite.model import HandOccNet

    torch.manual_seed(0)
    cfg = preset("tiny")
    model = HandOccNet(cfg).eval()
    image = torch.rand(2, 3, cfg.input_size, cfg.input_size)  # (B, 3, S, S)
    feat = model.extract_features(image).detach()  # (B, C, G, G)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model.forward_features(feat)
    assert out["rotmats"].dtype == torch.float32 and out["pose"].dtype == torch.float32
    assert out["verts"].dtype == torch.float32
    eye = torch.eye(3).expand_as(out["rotmats"])
    orth = out["rotmats"] @ out["rotmats"].transpose(-1, -2)  # (B, 16, 3, 3)
    assert (orth - eye).abs().max() < 1e-5  # bf16 Gram-Schmidt is off by ~1e-2


# ----------------------------------------------------------------- loader
def test_loader_pins_memory_when_training_on_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches were never page-locked, so the non_blocking copies to the GPU were synchronous."""
    from handoccnet_lite.engine import ddp, trainer

    data = [{"x": torch.zeros(2)} for _ in range(8)]
    sampler = trainer.EpochSampler(8, 4, 0, ddp.World())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    auto = trainer.TrainConfig(batch_size=4, device="auto")
    assert trainer.make_loader(data, sampler, auto, 0, 0).pin_memory
    cpu = auto.replace(device="cpu")
    assert not trainer.make_loader(data, sampler, cpu, 0, 0).pin_memory
