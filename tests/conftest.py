"""Shared pytest setup: a --runslow switch and one thread per xdist worker."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs one xdist worker per core: each worker, and the processes it starts
    # (notebook kernels, CLI runs), uses one thread, so the workers do not fight for the cores.
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow") or os.environ.get("HANDOCCNET_RUNSLOW") == "1":
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow or HANDOCCNET_RUNSLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)
