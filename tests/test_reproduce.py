"""`make reproduce`'s helpers: per-notebook timings to a CSV and the README's table, CPU time of
child processes, and the pixel comparison of drawn figures with the committed ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from handoccnet_lite import reproduce

matplotlib.use("Agg")


def _timing(name: str, cpu: float, wall: float = 10.0) -> reproduce.NotebookTiming:
    return reproduce.NotebookTiming(name, "quick", wall, cpu, 1.5, 2, "1", "2026-12-07")


def test_timings_are_merged_per_notebook_and_tabulated(tmp_path: Path) -> None:
    path = tmp_path / "timings.csv"
    reproduce.write_timings([_timing("01_a", 5.0), _timing("00_b", 3.0)], path)
    reproduce.write_timings([_timing("01_a", 7.0)], path)  # a rerun replaces the row
    rows = reproduce.read_timings(path)
    assert [r["notebook"] for r in rows] == ["00_b", "01_a"]
    assert float(rows[1]["cpu_s"]) == 7.0
    table = reproduce.timings_table(rows).splitlines()
    assert table[2].startswith("| `00_b` | 3 | 10 | 1.5 on 2 cores | 2026-12-07 |")
    assert table[-1] == "| all 2 | 10 | 20 | | |"


def test_a_foreign_csv_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("name,seconds\nx,1\n")
    with pytest.raises(ValueError, match="not a timings file"):
        reproduce.read_timings(path)


def test_children_cpu_seconds_counts_a_finished_child() -> None:
    before = reproduce.children_cpu_seconds()
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    subprocess.run([sys.executable, "-c", burn], check=True)
    assert reproduce.children_cpu_seconds() - before >= 0.25


def _draw(path: Path, slope: float, noise: float = 0.0) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, slope])
    ax.set_ylim(0, 2)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    if noise:  # a faint change of every pixel, as another rasteriser might give
        import matplotlib.image as mpimg

        image = mpimg.imread(path)
        mpimg.imsave(path, np.clip(image - noise, 0, 1))
    return path


def test_compare_png_tolerates_faint_changes_not_new_content(tmp_path: Path) -> None:
    committed = _draw(tmp_path / "committed.png", 1.0)
    assert reproduce.compare_png(_draw(tmp_path / "same.png", 1.0), committed).matches
    faint = reproduce.compare_png(_draw(tmp_path / "faint.png", 1.0, noise=0.03), committed)
    assert faint.matches and 0.02 < faint.max_abs < 0.05
    changed = reproduce.compare_png(_draw(tmp_path / "changed.png", 1.6), committed)
    assert not changed.matches and "of pixels differ" in changed.reason


def test_compare_figures_names_stale_and_new_figures(tmp_path: Path) -> None:
    drawn, committed = tmp_path / "drawn", tmp_path / "committed"
    drawn.mkdir(), committed.mkdir()
    _draw(drawn / "a.png", 1.0), _draw(committed / "a.png", 1.5)
    _draw(drawn / "new.png", 1.0)
    diffs = reproduce.compare_figures(drawn, committed)
    assert [d.name for d in diffs if not d.matches] == ["a.png", "new.png"]
    message = reproduce.stale_figures_message(diffs)
    assert "new.png: not committed" in message and "run `make reproduce`" in message


def test_size_change_is_a_difference(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots(figsize=(3, 3))
    fig.savefig(tmp_path / "square.png", dpi=80)
    plt.close(fig)
    diff = reproduce.compare_png(tmp_path / "square.png", _draw(tmp_path / "c.png", 1.0))
    assert not diff.matches and diff.reason.startswith("size")


def test_readme_shows_the_recorded_timings() -> None:
    """The README's per-notebook table is the one `--timings-table` prints from the CSV."""
    readme = (reproduce.REPO_ROOT / "README.md").read_text()
    table = reproduce.timings_table(reproduce.read_timings(reproduce.TIMINGS_CSV))
    assert table in readme, (
        "README.md's notebook timings differ from results/notebook_timings.csv: paste the output "
        "of `python -m handoccnet_lite.reproduce --timings-table results/notebook_timings.csv`."
    )
