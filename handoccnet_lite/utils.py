"""Small helpers shared by every part: device, seeding, atomic writes, figure saving."""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
FIGURES_DIR = Path(os.environ.get("HANDOCCNET_FIGURES", REPO_ROOT / "figures"))
DATA_SAMPLES_DIR = REPO_ROOT / "data_samples"
#: The bundled teaching models (float16, lite preset at 128 px, 16 x 16 tokens; trained on
#: SynthOcc by `handoccnet-lite teach`, results/teach/README.md), one per FIT/SET variant.
BUNDLED_CHECKPOINTS: dict[str, Path] = {
    "official": DATA_SAMPLES_DIR / "checkpoints" / "lite_synthocc.pt",
    "supplement": DATA_SAMPLES_DIR / "checkpoints" / "lite_synthocc_supplement.pt",
}


#: Files that exist when the NVIDIA kernel driver is loaded (i.e. there is an NVIDIA GPU).
NVIDIA_DRIVER_FILES: tuple[str, ...] = ("/proc/driver/nvidia/version", "/dev/nvidia0")
_warned_unusable_cuda = False


class CudaUnusableWarning(UserWarning):
    """device='auto' found an NVIDIA GPU that this torch cannot use and fell back to the CPU."""


def nvidia_driver_present() -> str | None:
    """What says an NVIDIA driver is loaded (the driver's version line, or a device file), else
    None. Read from the kernel's files, so it works when torch cannot talk to the driver."""
    for name in NVIDIA_DRIVER_FILES:
        path = Path(name)
        if not path.exists():
            continue
        try:
            first = path.read_text().splitlines()[0].strip() if path.is_file() else ""
        except (OSError, IndexError, UnicodeDecodeError):
            first = ""
        return first or str(path)
    return None


def cuda_unusable_reason() -> str | None:
    """Why torch cannot use an NVIDIA GPU that is present, or None (no GPU, or CUDA works).

    The condition: `torch.cuda.is_available()` is False while the NVIDIA kernel driver is
    loaded (`NVIDIA_DRIVER_FILES`). The usual causes: a CPU-only torch build
    (`torch.backends.cuda.is_built()` False), or a CUDA build newer than the driver supports.
    """
    import torch

    if torch.cuda.is_available():
        return None
    driver = nvidia_driver_present()
    if driver is None:
        return None
    if not torch.backends.cuda.is_built():
        cause = f"this torch {torch.__version__} is a CPU-only build"
    else:
        cause = (
            f"this torch {torch.__version__} was built for CUDA {torch.version.cuda}, which the "
            "installed driver probably does not support (driver too old), or the GPU is busy or "
            "hidden (CUDA_VISIBLE_DEVICES)"
        )
    return (
        f"An NVIDIA GPU is present ({driver}) but torch cannot use it: {cause}. Running on the "
        "CPU. Fix: install torch wheels that match the driver (see `nvidia-smi` for the highest "
        "CUDA version the driver supports and pick that wheel index on pytorch.org), or update "
        "the driver; pass --device cpu (device='cpu') to run on the CPU without this warning."
    )


def resolve_device(device: str = "auto"):
    """'auto' -> CUDA when available, else CPU. Any other string is passed to torch.device.

    'auto' warns once per process (`CudaUnusableWarning`) when it falls back to the CPU although
    an NVIDIA GPU is present (see `cuda_unusable_reason`)."""
    import torch

    global _warned_unusable_cuda
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        reason = None if _warned_unusable_cuda else cuda_unusable_reason()
        if reason is not None:
            _warned_unusable_cuda = True
            warnings.warn(reason, CudaUnusableWarning, stacklevel=2)
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device={device!r} was requested but CUDA is not available on this machine; "
            "use device='auto' or 'cpu'."
            + (f" {cuda_unusable_reason()}" if cuda_unusable_reason() else "")
        )
    return dev


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA). Remaining non-determinism: CUDA atomics in
    some backward kernels; set torch.use_deterministic_algorithms(True) to forbid them."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def current_umask() -> int:
    """The process umask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode `open()` gives a new file: 0o666 less the process umask (0o644 under the usual
    022, 0o664 under a course group's 002). mkstemp's 0o600 would hide files from the group."""
    return 0o666 & ~current_umask()


def write_bytes_durably(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` (created with `new_file_mode`, replaced if present) and fsync it
    before returning, so a later rename publishes complete contents."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: readers never see a
    half-written file, and a crash leaves the previous version intact. The file gets the usual
    permissions (`new_file_mode`), readable by the group under the usual umask."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, new_file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def replaced_atomically(target: str | Path) -> Iterator[Path]:
    """Build a folder's new contents in a temp folder beside it (yielded); when the block ends
    without error the temp folder takes the target's place and the old one is deleted; on an
    error the temp folder is removed and the target is left as it was, complete.

    The swap is two renames (old aside, new in): a crash between them leaves the old folder,
    complete, at `.<name>.old-*` beside the target."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp's 0o700 -> what mkdir would give
    try:
        yield tmp
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap_in(new: Path, target: Path) -> None:
    """Put folder `new` at `target`: the old target is renamed aside, then deleted."""
    if not target.exists():
        os.replace(new, target)
        return
    old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
    os.replace(target, old / target.name)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(old / target.name, target)  # put the old one back
        raise
    finally:
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)


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


def repo_relative(value: Any) -> Any:
    """A path inside the repository as a repo-relative string (committed files name no
    machine); anything else unchanged."""
    if isinstance(value, str) and value.startswith(str(REPO_ROOT) + "/"):
        return value[len(str(REPO_ROOT)) + 1 :]
    return value


def repo_relative_tree(obj: Any) -> Any:
    """`repo_relative` applied to every string of nested dicts and lists (a run's config)."""
    if isinstance(obj, dict):
        return {k: repo_relative_tree(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [repo_relative_tree(v) for v in obj]
    return repo_relative(obj)
