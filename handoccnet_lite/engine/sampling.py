"""Seeded data order: per-item seeds, the resumable sharded epoch sampler and its DataLoader.

The data order of epoch e is a permutation drawn from (seed, e); the augmentation of sample i in
epoch e is drawn from its own seed (seed, e, i), so it depends neither on the worker count nor on
where a run was resumed.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import warnings
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from handoccnet_lite.engine import ddp
from handoccnet_lite.engine.train_config import TrainConfig


# --------------------------------------------------------------------------------------------
# seeded data order
# --------------------------------------------------------------------------------------------
def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers (stable across processes and Python versions)."""
    digest = hashlib.blake2b(",".join(str(int(p)) for p in parts).encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "little") >> 1


@contextlib.contextmanager
def isolated_rng(seed: int) -> Iterator[None]:
    """Seed Python, NumPy and torch for a block, then put the previous states back."""
    saved = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.set_rng_state(saved[2])


class SeededSamples(Dataset):
    """Wraps a dataset so item i of epoch e is drawn with its own seed (seed, e, i).

    Augmentation then depends neither on the worker that loads the item nor on where a run was
    resumed. Datasets that draw from the global Python/NumPy/torch generators are covered.
    """

    def __init__(self, base: Dataset, seed: int) -> None:
        self.base = base
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        set_dataset_epoch(self.base, epoch)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        with isolated_rng(derive_seed(self.seed, self.epoch, index)):
            return self.base[index]


def set_dataset_epoch(dataset: Dataset, epoch: int) -> None:
    """Tell a dataset (through Subset wrappers) which epoch it serves, for seeded augmentation."""
    while True:
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
            return
        if not hasattr(dataset, "dataset"):
            return
        dataset = dataset.dataset


def warn_if_unseeded(dataset: Dataset) -> None:
    """SynthOccDataset(seed=None) draws fresh OS entropy per item: runs would not repeat."""
    while hasattr(dataset, "dataset") and not hasattr(dataset, "seed"):
        dataset = dataset.dataset
    if getattr(dataset, "seed", 0) is None and getattr(
        getattr(dataset, "cfg", None), "augment", False
    ):
        warnings.warn(
            "The training dataset augments without a seed (seed=None): this run cannot be "
            "repeated or resumed to the same weights. Pass seed=... to the dataset.",
            stacklevel=3,
        )


class EpochSampler(Sampler[int]):
    """Shuffled order drawn from (seed, epoch), sharded over ranks, resumable mid-epoch.

    Incomplete global batches are dropped, so every rank takes the same number of steps.
    Global batch b holds the permuted positions [b*B*W, (b+1)*B*W); rank r takes its r-th slice.
    """

    def __init__(self, n: int, batch_size: int, seed: int, world: ddp.World) -> None:
        global_batch = batch_size * world.world_size
        if n < global_batch:
            raise ValueError(
                f"The dataset has {n} samples, fewer than one global batch ({batch_size} x "
                f"{world.world_size} processes = {global_batch}); lower --batch-size or use "
                "more data."
            )
        self.n, self.batch_size, self.seed, self.world = n, batch_size, seed, world
        self.batches = n // global_batch  # per epoch, per rank
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        self.epoch, self.skip = epoch, skip_batches

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch))
        perm = torch.randperm(self.n, generator=g)[
            : self.batches * self.batch_size * self.world.world_size
        ]
        mine = perm.view(self.batches, self.world.world_size, self.batch_size)[:, self.world.rank]
        return iter(mine[self.skip :].reshape(-1).tolist())

    def __len__(self) -> int:
        return (self.batches - self.skip) * self.batch_size


def worker_init_fn(worker_id: int) -> None:
    """Seed Python and NumPy in a DataLoader worker from the seed torch gave it."""
    seed = torch.initial_seed() % (2**32)
    random.seed(seed)
    np.random.seed(seed)


def make_loader(
    dataset: Dataset, sampler: EpochSampler, cfg: TrainConfig, epoch: int, skip: int
) -> DataLoader:
    """The DataLoader of one epoch (its generator seeded from (seed, epoch))."""
    sampler.set_epoch(epoch, skip)
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)
    return DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=cfg.num_workers,
        worker_init_fn=worker_init_fn,
        generator=torch.Generator().manual_seed(derive_seed(cfg.seed, epoch, 1)),
        drop_last=True,
        # page-locked batches make the non_blocking host-to-device copies in _to_device async
        pin_memory=cfg.device != "cpu" and torch.cuda.is_available(),
    )
