"""A run folder is never overwritten by accident: `train --out DIR` into an existing run needs
`--resume` (continue it) or `--overwrite` (replace it, its files deleted first so nothing of the
old run, such as its previous checkpoint, can be mistaken for the new one's)."""

from __future__ import annotations

from pathlib import Path

#: What `train` writes into a run folder (config, log, checkpoints, weights, summary).
RUN_FILES = (
    "config.json",
    "log.csv",
    "checkpoint.pt",
    "checkpoint.prev.pt",
    "model.pt",
    "summary.json",
)

BOTH_FLAGS = "--resume continues a run and --overwrite replaces it: pass one, not both."


def existing_run_files(out_dir: str | Path) -> list[str]:
    """The names of RUN_FILES present in out_dir."""
    return [name for name in RUN_FILES if (Path(out_dir) / name).is_file()]


def prepare_run_folder(out_dir: str | Path, resume: bool, overwrite: bool) -> None:
    """Refuse to start a new run over an existing one unless `overwrite` (which deletes the old
    run's files); `resume` continues it. Raises ValueError with the flags to use."""
    if resume and overwrite:
        raise ValueError(
            "--resume continues a run and --overwrite replaces it: pass one, not both."
        )
    found = existing_run_files(out_dir)
    if not found or resume:
        return
    if not overwrite:
        raise ValueError(
            f"{out_dir} already holds a run ({', '.join(found)}); pass --resume to continue it, "
            "--overwrite to replace it, or another --out."
        )
    for name in found:
        (Path(out_dir) / name).unlink()
