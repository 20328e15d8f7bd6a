"""The trainer's own training step under bf16 autocast and channels_last on the CPU, for the
official and supplement variants, explicit and fused attention: finite loss and gradients, and
close to the same step in float32.

Tolerances (bf16 keeps 8 mantissa bits, relative rounding 2**-9 = 2e-3 per operation):
the total loss within 5% of float32's; the gradient direction (cosine similarity of the whole
gradient vector) above 0.6. Measured on the tiny preset at initialisation (4 images): loss
within 5%, gradient cosine 0.72-0.94 depending on variant and path. The gradient at
initialisation is dominated by a few tensors whose bf16 rounding is large relative to their
size; a tighter, per-tensor bound is left for a GPU session (benchmarks/gpu_smoke.py compares
the trained bundled model instead: 0.4-0.7 mm mean joint difference on the CPU).
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import torch
from torch.utils.data import default_collate

from handoccnet_lite.config import preset
from handoccnet_lite.data.dataset import SynthOccDataset
from handoccnet_lite.engine import checkpoint as ckpt
from handoccnet_lite.engine import ddp, trainer
from handoccnet_lite.model import HandOccNet
from handoccnet_lite.utils import DATA_SAMPLES_DIR

LOSS_RTOL = 0.05
GRAD_COSINE = 0.6


def _batch(size: int) -> dict[str, torch.Tensor]:
    data = SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", preset("tiny").input_size)
    return default_collate([data[i] for i in range(size)])


def _step(model: HandOccNet, batch: dict, amp: str, tmp: Path) -> tuple[float, torch.Tensor]:
    """One `trainer._train_step` (lr 0: weights unchanged); (total loss, flat gradient)."""
    cfg = trainer.TrainConfig(model=model.cfg, amp=amp, progress=False, tensorboard=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    state = trainer._State(
        cfg, tmp, ddp.World(), torch.device("cpu"), model, opt, sched, 1, 1,
        ckpt.DataPosition(0, 0, 0),
    )  # fmt: skip
    row = trainer._train_step(state, batch, 1)
    grads = [p.grad.flatten() for p in model.parameters() if p.grad is not None]
    return row["total"], torch.cat(grads)


@pytest.mark.parametrize("path", ["explicit", "fused"])
@pytest.mark.parametrize("variant", ["official", "supplement"])
def test_bf16_channels_last_step_matches_float32(variant: str, path: str, tmp_path: Path) -> None:
    base = preset("tiny")
    t = dataclasses.replace(base.fit, variant=variant, path=path)
    cfg = base.replace(fit=t, set=dataclasses.replace(base.set, variant=variant, path=path))
    torch.manual_seed(0)
    model = HandOccNet(cfg).train()
    low = copy.deepcopy(model).to(memory_format=torch.channels_last)
    batch = _batch(4)
    loss32, grad32 = _step(model, batch, "off", tmp_path)
    cl_batch = batch | {"image": batch["image"].contiguous(memory_format=torch.channels_last)}
    loss16, grad16 = _step(low, cl_batch, "bf16", tmp_path)
    assert torch.isfinite(torch.tensor(loss16)) and torch.isfinite(grad16).all()
    rel = abs(loss16 - loss32) / abs(loss32)
    cos = torch.nn.functional.cosine_similarity(grad16, grad32, dim=0).item()
    assert rel < LOSS_RTOL, f"bf16 loss {loss16:.5g} vs fp32 {loss32:.5g}: {rel:.2%}"
    assert cos > GRAD_COSINE, f"gradient cosine bf16 vs fp32 {cos:.4f}"
    print(f"{variant}/{path}: loss rel diff {rel:.2e}, gradient cosine {cos:.5f}")
