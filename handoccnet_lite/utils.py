"""Small helpers shared by every part: device, seeding, atomic writes, figure saving."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
FIGURES_DIR = Path(os.environ.get("HANDOCCNET_FIGURES", REPO_ROOT / "figures"))
DATA_SAMPLES_DIR = REPO_ROOT / "data_samples"


def resolve_device(device: str = "auto"):
    """'auto' -> CUDA when available, else CPU. Any other string is passed to torch.device."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device={device!r} was requested but CUDA is not available on this machine; "
            "use device='auto' or 'cpu'."
        )
    return dev


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA). Remaining non-determinism: CUDA atomics in
    some backward kernels; set torch.use_deterministic_algorithms(True) to forbid them."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: readers never see a
    half-written file, and a crash leaves the previous version intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """torch.save through a temp file + rename (see atomic_write_bytes)."""
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def save_figure(fig, name: str, folder: str | Path | None = None, dpi: int = 120) -> Path:
    """Save a matplotlib figure (or a plotly figure as HTML) under figures/ with a stable name."""
    folder = Path(folder) if folder is not None else FIGURES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    if hasattr(fig, "savefig"):
        path = folder / (name if name.endswith((".png", ".svg", ".pdf")) else f"{name}.png")
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
    elif hasattr(fig, "write_html"):
        path = folder / (name if name.endswith(".html") else f"{name}.html")
        fig.write_html(path, include_plotlyjs="cdn", full_html=True)
    else:
        raise TypeError(f"save_figure expects a matplotlib or plotly figure, got {type(fig)!r}.")
    return path
