"""Sentences computed from numbers, for the notebooks' printed conclusions.

A notebook that states a conclusion should print it from the numbers it just measured, so that
the sentence stays true when the weights, the machine or the profile change. Each function takes
plain numbers and returns one sentence; the unit tests feed them hand-made inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

RATIO_TOL = 0.05  # ratios within 5% of 1 count as "about uniform"
# growth exponent e (time ~ N^e) -> words; the first bound above e picks the phrase
GROWTH_WORDS: tuple[tuple[float, str], ...] = (
    (0.3, "about flat over this range (fixed per-call costs dominate at these sizes)"),
    (0.8, "growing, but slower than N (fixed per-call costs still weigh)"),
    (1.4, "growing about linearly with N"),
    (1.8, "growing faster than N, slower than N²"),
    (math.inf, "growing about like N² or faster"),
)


def _finite(values: Sequence[float], what: str) -> list[float]:
    out = [float(v) for v in values]
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{what} must be finite numbers, got {out}.")
    return out


def ratio_verdict(ratios: Sequence[float], tol: float = RATIO_TOL) -> str:
    """What per-image attention ratios (attention share on the visible hand / its token share;
    1 = no preference) say about occluded queries, as the end of a sentence that starts
    "occluded queries ...". "in every image" is said only when every ratio is on that side of 1.
    """
    r = _finite(ratios, "ratios")
    if not 0.0 <= tol < 1.0:
        raise ValueError(f"tol is a fraction in [0, 1), got {tol}.")
    if not r:
        return "cannot be measured: no image has both occluded and visible-hand tokens"
    n, above, below = len(r), sum(v > 1 for v in r), sum(v < 1 for v in r)
    mean, lo, hi = sum(r) / n, min(r), max(r)
    stats = f"ratio mean {mean:.2f}, range {lo:.2f}-{hi:.2f} over {n} image(s)"
    if all(abs(v - 1) <= tol for v in r):
        return f"attend about uniformly (every ratio within {tol:.0%} of 1; {stats})"
    if lo > 1 + tol:
        return f"prefer the visible hand in every image (every ratio > {1 + tol:.2f}; {stats})"
    if hi < 1 - tol:
        return f"avoid the visible hand in every image (every ratio < {1 - tol:.2f}; {stats})"
    if above == n:
        return f"lean towards the visible hand in every image, some within {tol:.0%} of 1 ({stats})"
    if below == n:
        return (
            f"lean away from the visible hand in every image, some within {tol:.0%} of 1 ({stats})"
        )
    side = "towards" if mean > 1 else "away from"
    return (
        f"lean {side} the visible hand on average, but not in every image ({above} of {n} "
        f"above 1, {below} below; {stats})"
    )


def growth_exponent(n: Sequence[float], ms: Sequence[float]) -> float:
    """Least-squares slope of log(ms) against log(n): time grows like n ** slope."""
    x, y = _finite(n, "n"), _finite(ms, "ms")
    if len(x) != len(y) or len(x) < 2 or len(set(x)) < 2:
        raise ValueError(
            f"need at least two different sizes with one time each, got n={x} and ms={y}."
        )
    if min(x) <= 0 or min(y) <= 0:
        raise ValueError(f"sizes and times must be positive, got n={x} and ms={y}.")
    lx, ly = [math.log(v) for v in x], [math.log(v) for v in y]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum(
        (a - mx) ** 2 for a in lx
    )


def growth_sentence(label: str, n: Sequence[float], ms: Sequence[float]) -> str:
    """ "<label> goes from X ms at N = a to Y ms at N = b (time ~ N^e): <how it grows>", the words
    chosen from the measured exponent e by `GROWTH_WORDS`."""
    x, y = _finite(n, "n"), _finite(ms, "ms")
    e = growth_exponent(x, y)
    how = next(words for bound, words in GROWTH_WORDS if e < bound)
    first, last = x.index(min(x)), x.index(max(x))
    return (
        f"{label} goes from {y[first]:.3g} ms at N = {x[first]:g} to {y[last]:.3g} ms at "
        f"N = {x[last]:g} (time ~ N^{e:.2f}): {how}"
    )


def faster_sentence(
    fast_label: str, slow_label: str, n: Sequence[float], fast: Sequence[float],
    slow: Sequence[float],
) -> str:  # fmt: skip
    """Whether `fast` beats `slow` at every size of the table, and by how much at the largest."""
    f, s, n = _finite(fast, "fast"), _finite(slow, "slow"), _finite(n, "n")
    if not len(f) == len(s) == len(n) or not n:
        raise ValueError(
            f"n, fast and slow need one entry per size, got {len(n)}, {len(f)}, {len(s)}."
        )
    wins = [a < b for a, b in zip(f, s, strict=True)]
    last = max(range(len(n)), key=lambda i: n[i])
    where = "at every N in the table" if all(wins) else f"at {sum(wins)} of {len(n)} sizes"
    return (
        f"{fast_label} is faster than {slow_label} {where}; at N = {n[last]:g} it takes "
        f"{f[last] / s[last]:.2g}x the time"
    )


def _value(df, measure: str, module: str, block: int | None = None) -> float | None:
    """The head-mean value of one measure row of an attention_stats frame, or None."""
    sel = (df["measure"] == measure) & (df["module"] == module)
    if block is not None:
        sel &= (df["block"] == block) & (df["head"] == "mean")
    rows = df[sel]
    return None if rows.empty else float(rows["value"].iloc[0])


def attention_stats_sentences(df) -> list[str]:
    """What `evaluation.attention_stats`' numbers mean, one sentence per finding: the spatial
    gate's AUC (chance 0.5), each FIT block's occluded-query ratio against the background
    control (a targeted look at the visible hand only when it is larger), and how many gate
    values are not saturated."""
    out = []
    auc = _value(df, "gate_auc", "gate")
    if auc is not None:
        word = "well" if auc >= 0.8 else "somewhat" if auc > 0.6 else "hardly"
        out.append(f"The spatial gate s tells visible-hand cells from the rest {word} "
                   f"(AUC {auc:.2f}; 0.5 is chance, 1 perfect).")  # fmt: skip
    ratio = df[df["measure"] == "visible_attention_ratio"]
    for module, block in sorted({(m, int(b)) for m, b in zip(ratio["module"], ratio["block"],
                                                             strict=True)}):  # fmt: skip
        occ = _value(df, "visible_attention_ratio", module, block)
        bg = _value(df, "visible_attention_ratio_background", module, block)
        if occ is None or bg is None:
            continue
        if occ > bg * (1 + RATIO_TOL):
            verdict = "more than the background queries do: a targeted look at the visible hand"
        elif occ < bg * (1 - RATIO_TOL):
            verdict = "less than the background queries do"
        else:
            verdict = "about as much as the background queries: nothing specific to the occlusion"
        out.append(
            f"{module.upper()} block {block}: occluded-hand queries put {occ:.2f}x a uniform "
            f"share on the visible hand, background queries {bg:.2f}x; {verdict}."
        )
    free = df[(df["measure"] == "gate_unsaturated_hand") & (df["head"] == "mean")]
    if not free.empty:
        share = float(free["value"].mean())
        state = "saturated: it acts as an on/off switch" if share < 0.1 else "mostly graded"
        out.append(f"{share:.0%} of FIT's gate values at hand queries lie inside the band, so the "
                   f"gate is {state}.")  # fmt: skip
    return out
