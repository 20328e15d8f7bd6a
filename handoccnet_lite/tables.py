"""Published numbers as data (with their sources), and our measurements placed beside them.

Every row carries a ``source`` ("paper" or "ours") and a ``dataset`` column, so numbers measured
on our synthetic data can never be mistaken for the paper's HO-3D / Dex-YCB numbers.

Included: HandOccNet's Table 5 (HO-3D v2, after Procrustes), Table S1 (HO-3D v2, MPJPE before
Procrustes), Table S2 (Dex-YCB s0) and the newer-methods context table from WiLoR (CVPR 2025,
Table 4). Not included: see :data:`NOT_INCLUDED_NOTE`.

Units: errors in mm; F-scores and AUC as fractions in [0, 1]. Metric columns use the keys of
:func:`handoccnet_lite.metrics.evaluate_batch` (``pa_mpjpe``, ``f5``, ...); :data:`METRIC_LABELS`
gives display names. Rendering a table as Markdown or HTML: :mod:`handoccnet_lite.table_format`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

DATASET_SYNTHOCC = "SynthOcc (synthetic)"
DATASET_HO3D_V2 = "HO-3D v2"
DATASET_HO3D_V3 = "HO-3D v3"
DATASET_DEXYCB_S0 = "Dex-YCB s0"

NOT_INCLUDED_NOTE = (
    "Not included: the HandOccNet paper's ablation tables (main paper Tables 1-4: FIT/SET on and "
    "off, attention variants, feature split) and its FPHA table could not be retrieved, so their "
    "numbers are NOT given here and must not be quoted from this package. handoccnet-lite "
    "reproduces those ablations as protocols and reports only its own measurements."
)

METRIC_LABELS: dict[str, str] = {
    "mpjpe": "MPJPE (mm)",
    "root_mpjpe": "root-aligned MPJPE (mm)",
    "pa_mpjpe": "PA-MPJPE (mm)",
    "mpvpe": "MPVPE (mm)",
    "pa_mpvpe": "PA-MPVPE (mm)",
    "f5": "F@5mm",
    "f15": "F@15mm",
    "auc_j": "AUC_J",
    "auc_v": "AUC_V",
}
FRACTION_METRICS = frozenset({"f5", "f15", "auc_j", "auc_v"})

# spellings people use for the metric columns -> our keys
_METRIC_ALIASES: dict[str, str] = {
    "pa-mpjpe": "pa_mpjpe", "pampjpe": "pa_mpjpe", "pa-mpvpe": "pa_mpvpe", "pampvpe": "pa_mpvpe",
    "f@5": "f5", "f@5mm": "f5", "f_5": "f5", "f@15": "f15", "f@15mm": "f15", "f_15": "f15",
    "aucj": "auc_j", "auc_j": "auc_j", "aucv": "auc_v", "auc_v": "auc_v",
}  # fmt: skip


@dataclass(frozen=True)
class PaperTable:
    """One published table: rows of (method, values in ``metrics`` order)."""

    key: str
    title: str
    dataset: str
    metrics: tuple[str, ...]
    protocol: str
    source: str
    rows: tuple[tuple[str, tuple[float, ...]], ...]


_PAPER = "HandOccNet (Park et al., CVPR 2022)"
_HO3D_PROTOCOL = (
    "HO-3D v2 evaluation split, official server/eval.py: Procrustes with scale (eval.py allows "
    "reflections), the mesh aligned by its own Procrustes on the vertices, F-scores on the "
    "aligned vertices. Compare with metrics.evaluate_batch(..., allow_reflection=True)."
)

_TABLES: dict[str, PaperTable] = {
    "table5": PaperTable(
        key="table5",
        title="Table 5: HO-3D v2, after Procrustes alignment",
        dataset=DATASET_HO3D_V2,
        metrics=("pa_mpjpe", "pa_mpvpe", "f5", "f15"),
        protocol=_HO3D_PROTOCOL,
        source=f"{_PAPER}, main paper Table 5; also asset/comparison_sota_HO3D.png in "
        "github.com/namepllet/HandOccNet",
        rows=(
            ("Pose2Mesh", (12.5, 12.7, 0.441, 0.909)),
            ("Hasson et al. (CVPR'20)", (11.4, 11.4, 0.428, 0.932)),
            ("I2L-MeshNet", (11.2, 13.9, 0.409, 0.932)),
            ("Hasson et al. (CVPR'19)", (11.1, 11.0, 0.460, 0.930)),
            ("Hampali et al.", (10.7, 10.6, 0.506, 0.942)),
            ("METRO", (10.4, 11.1, 0.484, 0.946)),
            ("Liu et al.", (10.2, 9.8, 0.529, 0.950)),
            ("HandOccNet", (9.1, 8.8, 0.564, 0.963)),
        ),
    ),
    "tables1": PaperTable(
        key="tables1",
        title="Table S1: HO-3D v2, MPJPE before Procrustes alignment",
        dataset=DATASET_HO3D_V2,
        metrics=("mpjpe",),
        protocol="MPJPE before Procrustes alignment on the HO-3D v2 evaluation split. HO-3D's "
        "evaluation annotations give the GT root joint, so this most likely corresponds to "
        "metrics.root_mpjpe (inferred, not stated in the supplement).",
        source=f"{_PAPER}, supplementary material Table S1",
        rows=(
            ("Pose2Mesh", (33.2,)),
            ("Hasson et al. (CVPR'19)", (55.2,)),
            ("I2L-MeshNet", (26.8,)),
            ("Liu et al.", (30.0,)),
            ("HandOccNet", (24.9,)),
        ),
    ),
    "tables2": PaperTable(
        key="tables2",
        title="Table S2: Dex-YCB (split s0)",
        dataset=DATASET_DEXYCB_S0,
        metrics=("mpjpe", "pa_mpjpe"),
        protocol="Dex-YCB s0 test split, HandOccNet's own evaluation: prediction moved onto the "
        "GT root (= metrics.root_mpjpe), PA-MPJPE with scale and without reflections "
        "(= metrics.pa_mpjpe(allow_reflection=False)).",
        source=f"{_PAPER}, supplementary material Table S2; also asset/comparison_sota_DexYCB.png "
        "in github.com/namepllet/HandOccNet",
        rows=(
            ("METRO", (15.24, 6.99)),
            ("Spurr et al.", (17.34, 6.83)),
            ("Liu et al.", (15.28, 6.58)),
            ("HandOccNet", (14.04, 5.80)),
        ),
    ),
    "wilor": PaperTable(
        key="wilor",
        title="Newer methods on HO-3D v2 (context)",
        dataset=DATASET_HO3D_V2,
        metrics=("auc_j", "pa_mpjpe", "auc_v", "pa_mpvpe", "f5", "f15"),
        protocol=_HO3D_PROTOCOL + " AUC over 0-50 mm, 100 thresholds, Procrustes-aligned.",
        source="WiLoR (Potamias et al., CVPR 2025), Table 4 (HO-3D v2)",
        rows=(
            ("HandOccNet", (0.819, 9.1, 0.819, 8.8, 0.564, 0.963)),
            ("AMVUR", (0.835, 8.3, 0.836, 8.2, 0.608, 0.965)),
            ("HaMeR", (0.846, 7.7, 0.841, 7.9, 0.635, 0.980)),
            ("WiLoR", (0.851, 7.5, 0.846, 7.7, 0.646, 0.983)),
        ),
    ),
}

_NOT_INCLUDED_KEYS = {"table1", "table2", "table3", "table4", "fpha", "ablation"}


class TableNotAvailableError(KeyError):
    """Raised for a paper table this package does not (or cannot) hold."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


def _normalise_name(name: str) -> str:
    """'Table 5', 'table_5', '5' -> 'table5'; 'S2' -> 'tables2'; 'WiLoR context' -> 'wilor'."""
    key = re.sub(r"[\s_\-]+", "", name.lower())
    if key.startswith("wilor"):
        return "wilor"
    if key.startswith("ablation"):
        return "ablation"
    key = key.removeprefix("table")
    return key if key == "fpha" else f"table{key}"


def available_tables() -> dict[str, str]:
    """{key: title} of the tables held here."""
    return {k: t.title for k, t in _TABLES.items()}


def table_info(name: str) -> PaperTable:
    """The :class:`PaperTable` (dataset, protocol, source, rows) for ``name``."""
    key = _normalise_name(name)
    if key in _TABLES:
        return _TABLES[key]
    if key in _NOT_INCLUDED_KEYS:
        raise TableNotAvailableError(f"{name!r}: {NOT_INCLUDED_NOTE}")
    raise TableNotAvailableError(
        f"unknown table {name!r}; available: {list(_TABLES)} ({NOT_INCLUDED_NOTE})"
    )


def paper_table(name: str) -> pd.DataFrame:
    """The published table as a DataFrame.

    Columns: ``method``, ``source`` (always "paper"), ``dataset``, the metric columns (mm or
    fractions), ``reference`` (where the numbers come from). Names: "table5", "S1", "S2",
    "wilor" (spelling-tolerant). The ablation tables raise :class:`TableNotAvailableError`.
    """
    t = table_info(name)
    rows = [
        {
            "method": m,
            "source": "paper",
            "dataset": t.dataset,
            **dict(zip(t.metrics, v, strict=True)),
        }
        for m, v in t.rows
    ]
    df = pd.DataFrame(rows, columns=["method", "source", "dataset", *t.metrics])
    df["reference"] = t.source
    return df


# --------------------------------------------------------------------------------------------
# ours beside the paper
# --------------------------------------------------------------------------------------------
def _metric_key(name: str) -> str:
    low = name.strip().lower().replace(" ", "")
    return _METRIC_ALIASES.get(low, low)


def _ours_frame(ours: Mapping[str, object] | pd.DataFrame, default_method: str) -> pd.DataFrame:
    """Our values as rows with normalised metric names."""
    df = pd.DataFrame([dict(ours)]) if isinstance(ours, Mapping) else ours.copy()
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise ValueError("ours must be a non-empty dict {metric: value} or DataFrame.")
    df = df.rename(columns={c: _metric_key(c) for c in df.columns if c != "method"})
    if "method" not in df.columns:
        df.insert(0, "method", default_method)
    return df


def _check_ours(df: pd.DataFrame, table: PaperTable) -> list[str]:
    """Validate our metric columns against the table; returns the metrics we have."""
    ci_cols = {c for c in df.columns if c.endswith(("_ci_low", "_ci_high"))}
    extra = [c for c in df.columns if c not in (*table.metrics, "method", *ci_cols)]
    if extra:
        raise ValueError(
            f"ours has column(s) {extra} that {table.key} does not report; expected a subset of "
            f"{list(table.metrics)} (plus 'method'). Pass only comparable metrics."
        )
    have = [m for m in table.metrics if m in df.columns]
    if not have:
        raise ValueError(f"ours has none of {table.key}'s metrics {list(table.metrics)}.")
    for m in have:
        vals = pd.to_numeric(df[m], errors="raise").to_numpy(float)
        if m in FRACTION_METRICS and np.any((vals < 0) | (vals > 1)):
            raise ValueError(
                f"{m} must be a fraction in [0, 1] (the paper writes F@5 = 0.564), got {vals}; "
                "divide percentages by 100."
            )
        if m not in FRACTION_METRICS and np.any(vals < 0):
            raise ValueError(f"{m} is an error in mm and cannot be negative, got {vals}.")
    return have


def _ci_columns(ci: Mapping[str, object], mine: pd.DataFrame, have: Sequence[str]) -> dict:
    """{metric: (low, high) or half-width h} -> {'<m>_ci_low': low, '<m>_ci_high': high}."""
    if len(mine) != 1:
        raise ValueError(
            "ci= applies to a single row of ours; for several rows put "
            "'<metric>_ci_low' / '<metric>_ci_high' columns in the DataFrame."
        )
    out: dict[str, float] = {}
    for name, spec in ci.items():
        m = _metric_key(name)
        if m not in have:
            raise ValueError(f"ci given for {name!r}, which is not among our metrics {have}.")
        out[f"{m}_ci_low"], out[f"{m}_ci_high"] = _ci_bounds(spec, float(mine[m].iloc[0]))
    return out


def _ci_bounds(spec: object, value: float) -> tuple[float, float]:
    """(low, high) as given, or a half-width h -> (value - h, value + h)."""
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        low, high = float(spec[0]), float(spec[1])
    elif isinstance(spec, (int, float, np.floating)) and spec >= 0:
        low, high = value - float(spec), value + float(spec)
    else:
        raise ValueError(f"a CI must be (low, high) or a half-width >= 0, got {spec!r}.")
    if not low <= value <= high:
        raise ValueError(f"CI ({low}, {high}) does not contain the value {value}.")
    return low, high


def side_by_side(
    name: str,
    ours: Mapping[str, object] | pd.DataFrame,
    dataset: str,
    seeds: Sequence[int],
    ci: Mapping[str, object] | None = None,
    method: str = "handoccnet-lite (ours)",
) -> pd.DataFrame:
    """The paper's rows of table ``name`` with our measured values appended below them.

    Args:
        name: "table5", "S1", "S2" or "wilor".
        ours: {metric: value} (one row) or a DataFrame (one row per configuration, optional
            "method" column). Metric names as in the table ("pa_mpjpe", "f5", ... ; "PA-MPJPE",
            "F@5" are accepted). Errors in mm, F-scores/AUC as fractions.
        dataset: what ours was measured on, e.g. ``DATASET_SYNTHOCC`` ("SynthOcc (synthetic)"),
            "HO-3D v2", "Dex-YCB s0". Required: it is what keeps the numbers apart.
        seeds: the training seeds behind our numbers (non-empty).
        ci: optional {metric: (low, high) or half-width} confidence intervals (e.g. from
            :func:`handoccnet_lite.stats.summarize`) for a single row of ours.
        method: name for our rows when ours has no "method" column.

    Returns:
        DataFrame with ``method``, ``source`` ("paper"/"ours"), ``dataset``, the table's metrics,
        any ``<metric>_ci_low/_ci_high`` columns, ``seeds`` (e.g. "0,1,2"), ``n_seeds``,
        ``reference`` (paper rows) and ``note`` (ours: whether the dataset matches the paper's).
    """
    table = table_info(name)
    if not isinstance(dataset, str) or not dataset.strip():
        raise ValueError(
            "dataset must name what our numbers were measured on, e.g. "
            f"{DATASET_SYNTHOCC!r}, {DATASET_HO3D_V2!r} or {DATASET_DEXYCB_S0!r}."
        )
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must list the seeds behind our numbers, e.g. [0, 1, 2].")
    mine = _ours_frame(ours, method)
    have = _check_ours(mine, table)
    if ci:
        for col, v in _ci_columns(ci, mine, have).items():
            mine[col] = v
    mine = mine.assign(
        source="ours",
        dataset=dataset,
        seeds=",".join(map(str, seeds)),
        n_seeds=len(seeds),
        reference="",
        note=_note(dataset, table),
    )
    paper = paper_table(table.key).assign(seeds="", n_seeds=np.nan, note="")
    out = pd.concat([paper, mine], ignore_index=True)
    ci_cols = [c for c in mine.columns if c.endswith(("_ci_low", "_ci_high"))]
    cols = ["method", "source", "dataset", *table.metrics, *ci_cols, "seeds", "n_seeds"]
    return out[[*cols, "reference", "note"]]


def _note(dataset: str, table: PaperTable) -> str:
    if dataset.strip().lower() == table.dataset.lower():
        return f"same dataset as the paper; protocol: {table.protocol}"
    return (
        f"measured on {dataset}, NOT comparable with the paper's {table.dataset} numbers "
        "(shown for orientation only)"
    )
