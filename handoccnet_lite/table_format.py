"""Tables as text: a DataFrame as a Markdown pipe table (and back) or as an HTML table."""

from __future__ import annotations

import html
import math
import re

import numpy as np
import pandas as pd


def _is_missing(v: object) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, (float, np.floating)) and math.isnan(v)


def _fmt(v: object, floatfmt: str | None) -> str:
    """One cell as text: '' for missing, floats with floatfmt (default: up to 6 significant)."""
    if _is_missing(v):
        return ""
    if isinstance(v, (float, np.floating)):
        return format(float(v), floatfmt or ".6g")
    return str(v)


def _is_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def to_markdown(df: pd.DataFrame, floatfmt: str | None = None) -> str:
    """GitHub-flavoured pipe table (no tabulate needed). Numeric columns are right-aligned,
    missing values are empty cells, '|' inside cells is escaped. :func:`read_markdown` parses
    it back."""

    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(esc(str(c)) for c in df.columns) + " |"
    sep = "|" + "|".join("---:" if _is_numeric(df[c]) else "---" for c in df.columns) + "|"
    body = [
        "| " + " | ".join(esc(_fmt(v, floatfmt)) for v in row) + " |"
        for row in df.itertuples(index=False, name=None)
    ]
    return "\n".join([header, sep, *body]) + "\n"


_PIPE_SPLIT = re.compile(r"(?<!\\)\|")


def _split_row(line: str) -> list[str]:
    cells = _PIPE_SPLIT.split(line.strip())[1:-1]  # drop the text outside the outer pipes
    return [c.strip().replace("\\|", "|").replace("\\\\", "\\") for c in cells]


def read_markdown(text: str) -> pd.DataFrame:
    """Parse a pipe table written by :func:`to_markdown`: empty cells -> NaN, columns whose every
    non-empty cell is a number -> numeric."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip().startswith("|")]
    if len(lines) < 2 or not re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", lines[1].replace(" ", "")):
        raise ValueError("not a markdown pipe table: expected a header row and a |---| row.")
    header = _split_row(lines[0])
    rows = [_split_row(ln) for ln in lines[2:]]
    bad = [i for i, r in enumerate(rows) if len(r) != len(header)]
    if bad:
        raise ValueError(f"rows {bad} do not have {len(header)} cells like the header.")
    df = pd.DataFrame(rows, columns=header).replace("", np.nan)
    for c in df.columns:
        converted = pd.to_numeric(df[c], errors="coerce")
        if converted.notna().sum() == df[c].notna().sum():
            df[c] = converted
    return df


def to_html(df: pd.DataFrame, floatfmt: str | None = None, caption: str | None = None) -> str:
    """A plain, escaped HTML table. Rows get class "paper" or "ours" from a ``source`` column so
    a stylesheet (or the notebooks) can set our rows apart."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    src = list(df["source"]) if "source" in df.columns else [""] * len(df)
    body = []
    for s, row in zip(src, df.itertuples(index=False, name=None), strict=True):
        cls = f' class="{html.escape(str(s))}"' if s else ""
        cells = "".join(f"<td>{html.escape(_fmt(v, floatfmt))}</td>" for v in row)
        body.append(f"<tr{cls}>{cells}</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (
        f'<table class="handoccnet-table">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
