"""The notebook collection: pairs in sync, outputs stripped, one skeleton, and every notebook runs
top to bottom in quick mode (papermill, the venv's `python3` kernel) and draws exactly the
committed figures (decoded pixels within `reproduce.FigureTolerance`)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from handoccnet_lite import reproduce

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_collection_is_numbered_without_gaps() -> None:
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(len(numbers))), f"notebook numbers must be 00..NN, got {numbers}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_pair_in_sync(path: Path) -> None:
    import jupytext

    twin = path.with_suffix(".py")
    assert twin.exists(), f"{path.name} has no jupytext twin: run `jupytext --sync {path}`"
    assert _cells(jupytext.read(twin)) == _cells(nbformat.read(path, as_version=4)), (
        f"{path.name} and {twin.name} differ: run `jupytext --sync notebooks/{twin.name}`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_outputs_stripped_and_kernel_set(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, (
                f"{path.name} stores outputs: strip them (jupytext --sync from the .py twin)"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_skeleton(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    first, last = nb.cells[0], nb.cells[-1]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "title cell first"
    assert "goal" in first.source.lower(), "the first cell states the notebook's goal"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "PROFILE" in tagged[0].source, "one `parameters` cell with PROFILE"
    assert last.cell_type == "markdown" and "exercise" in last.source.lower(), (
        "the last cell holds the summary and exercises"
    )


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs_in_quick_mode(path: Path, tmp_path: Path, monkeypatch) -> None:
    """Runs the notebook as `make reproduce` does (one thread, fixed SOURCE_DATE_EPOCH), then
    compares every figure it drew with the committed one: a stale figure fails here."""
    import papermill

    figures = tmp_path / "figures"
    monkeypatch.setenv("HANDOCCNET_FIGURES", str(figures))
    monkeypatch.setenv("HANDOCCNET_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for key, value in reproduce.DETERMINISTIC_ENV.items():
        monkeypatch.setenv(key, os.environ.get(key, value))
    papermill.execute_notebook(
        str(path),
        str(tmp_path / path.name),
        parameters={"PROFILE": "quick"},
        kernel_name="python3",
        cwd=str(path.parent),
        progress_bar=False,
    )
    if figures.is_dir():
        diffs = reproduce.compare_figures(figures, ROOT / "figures")
        assert all(d.matches for d in diffs), reproduce.stale_figures_message(diffs)
