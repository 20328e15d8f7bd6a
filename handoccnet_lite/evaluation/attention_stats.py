"""Attention behaviour measured over a data set, per block and head.

Three questions about a trained HandOccNet, each answered by one number per block and head:
does the spatial gate s find the visible hand; do FIT's occluded-hand queries look at the visible
hand; how much of FIT's sigmoid gate g is still undecided (not saturated)?

Cells. Every measure works on the feature grid (G x G cells, N = G * G tokens, row-major as the
attention's tokens). Per cell the data set gives v = ``visible_mask`` (visible-hand fraction) and
o = ``occluded_mask`` (hidden-hand fraction), pooled over the same cells the model's grid uses
(data.dataset: one feature stride of pixels), so v + o is the hand fraction. With a threshold
tau (``THRESHOLD`` = 0.5, "at least half the cell"):

    visible hand     v >= tau          occluded hand    o >= tau
    hand             v + o >= tau      background       v + o == 0   (no hand pixel at all)
    no visible hand  v == 0            (background and fully hidden hand)

Only items with ``has_mask == 1`` count (real sets have no masks).

Measures (``MEASURES``; rows of the returned DataFrame):

* ``gate_auc`` (module "gate"): ROC AUC of the spatial gate s per cell, positives the
  visible-hand cells, negatives the no-visible-hand cells; pooled over all cells of all images.
  The Mann-Whitney statistic P(s_pos > s_neg) + P(s_pos == s_neg) / 2 from average ranks, so
  ties (a saturated gate) count one half. 1: s ranks every visible-hand cell above every cell
  without visible hand; 0.5: no information; 0: the reverse.
* ``gate_auc_vs_occluded`` (module "gate"): the same with negatives the occluded-hand cells only:
  does s tell the visible hand from the hidden hand (the split F_P / F_S is meant to make)?
* ``visible_attention_ratio`` (modules "fit", "set"): for each occluded-hand query q of an image
  with at least one visible-hand token, m_q = sum of A[q, k] over the visible-hand keys k, divided
  by that image's visible-hand token share |visible| / N; the value is the mean over queries (each
  query weighs the same). 1: no preference (what a uniform map gives, exactly); > 1: the
  occluded hand looks at the visible hand more than chance; N / |visible| at most. A is the
  softmax map; the head-mean row is the mean of the head values (= the ratio of the head-mean
  map, the measure being linear in A). The product C = g A is not measured separately: g is one
  scalar per query row, so C normalised per row *is* A.
* ``visible_attention_ratio_background`` (modules "fit", "set"): the same with the background
  queries: the control. A ratio > 1 for the occluded hand means a targeted look at the visible
  hand only when it exceeds this one (keys F_P = F * s are large where s is, so every query may
  favour the visible hand).
* ``gate_unsaturated_hand`` / ``gate_unsaturated_background`` (module "fit"): the fraction of FIT
  gate values g (one per query and head) strictly inside ``UNSATURATED`` = (0.05, 0.95), over
  hand queries / background queries. Near 0: the gate is saturated (a switch, no gradient).

Variants: attention="softmax" FIT has no gate (the gate_unsaturated rows are absent and a note
says so); attention="sigmoid" FIT's softmax map is uniform, so its visible_attention_ratio is 1 by
construction; use_fit=False has no FIT rows; the supplement variant has one head.

Memory: the (B, H, N, N) maps are reduced batch by batch to a few sums; only the spatial gate's
labelled cell values are kept for the AUC (at most G * G floats per image).

    df = attention_stats(model, dataset, max_batches=10)
    print(summarize_attention_stats(df)); write_attention_stats(df, "results/attention")

Command line (prints the summary, writes attention_stats.{csv,json,txt} into --out)::

    handoccnet-lite attention \\
        --checkpoint data_samples/checkpoints/lite_synthocc.pt --data data_samples/synthocc \\
        --split test --out results/attention_stats
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import rankdata
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

THRESHOLD = 0.5  # a cell belongs to a class when at least this fraction of it does
UNSATURATED = (0.05, 0.95)  # open interval of gate values counted as "not saturated"
MEASURES = (
    "gate_auc",
    "gate_auc_vs_occluded",
    "visible_attention_ratio",
    "visible_attention_ratio_background",
    "gate_unsaturated_hand",
    "gate_unsaturated_background",
)
COLUMNS = ["measure", "module", "block", "head", "value", "n"]
MASK_KEYS = ("visible_mask", "occluded_mask", "has_mask")
RATIO_QUERIES = {  # measure -> the query cells whose attention on visible-hand keys it measures
    "visible_attention_ratio": "occluded",
    "visible_attention_ratio_background": "background",
}
HEAD_MEAN = "mean"  # the `head` of a row averaged over heads


# --------------------------------------------------------------------------- cell classes
def cell_classes(
    visible: Tensor, occluded: Tensor, threshold: float = THRESHOLD
) -> dict[str, Tensor]:
    """Boolean token masks (B, N) of the classes in the module docstring.

    visible, occluded: (B, G, G) or (B, N) fractions in [0, 1] (visible_mask, occluded_mask).
    Returns "visible", "occluded", "hand", "background", "no_visible", each (B, N) bool.
    """
    if visible.shape != occluded.shape:
        raise ValueError(
            f"visible {tuple(visible.shape)} and occluded {tuple(occluded.shape)} masks must have "
            "the same shape (both are (B, G, G) items of one data set)."
        )
    v, o = visible.flatten(1), occluded.flatten(1)  # (B, N) row-major, as the tokens
    hand = v + o  # (B, N)
    return {
        "visible": v >= threshold,
        "occluded": o >= threshold,
        "hand": hand >= threshold,
        "background": hand <= 0,
        "no_visible": v <= 0,
    }


# --------------------------------------------------------------------------- measures
def rank_auc(positives: Tensor, negatives: Tensor) -> float:
    """ROC AUC = P(pos > neg) + P(pos == neg) / 2 (Mann-Whitney U / (n_pos n_neg)).

    positives (P,), negatives (M,) scores; average ranks handle ties. NaN when either is empty.
    """
    pos = positives.detach().flatten().double().cpu().numpy()
    neg = negatives.detach().flatten().double().cpu().numpy()
    if len(pos) == 0 or len(neg) == 0:
        return math.nan
    ranks = rankdata(np.concatenate([pos, neg]))  # (P + M,), ties get their mean rank
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def spatial_gate_auc(gate: Tensor, positives: Tensor, negatives: Tensor) -> float:
    """AUC of the spatial gate s (B, 1, G, G) or (B, G, G) between two cell sets (B, N) bool."""
    s = gate.flatten(1)  # (B, N)
    if s.shape != positives.shape or s.shape != negatives.shape:
        raise ValueError(
            f"gate {tuple(gate.shape)} has {s.shape[1]} cells per image but the cell masks are "
            f"{tuple(positives.shape)} and {tuple(negatives.shape)}; the masks must come from a "
            "data set cropped to the model's input size."
        )
    return rank_auc(s[positives], s[negatives])


def visible_attention_ratio_sums(attn: Tensor, queries: Tensor, keys: Tensor) -> tuple[Tensor, int]:
    """Sum over the queries of m_q / share (see ``visible_attention_ratio``) and their count.

    attn (B, H, N, N) row-stochastic; queries, keys (B, N) bool. Images without a key token
    contribute no query. Returns sums (H,) float64 and the number of queries counted.
    """
    keys_f = keys.to(attn.dtype)  # (B, N)
    mass = torch.einsum("bhqk,bk->bhq", attn, keys_f).double()  # (B, H, N) mass on the keys
    share = keys_f.double().mean(-1)  # (B,) token share of the keys
    used = queries & (share > 0)[:, None]  # (B, N)
    ratio = mass / share.clamp_min(1e-30)[:, None, None]  # (B, H, N)
    sums = (ratio * used[:, None, :]).sum((0, 2))  # (H,)
    return sums.cpu(), int(used.sum())


def visible_attention_ratio(attn: Tensor, queries: Tensor, keys: Tensor) -> Tensor:
    """Per head (H,): mean over queries q of A[q, keys].sum() / (|keys| / N); NaN without queries.

    With queries = occluded-hand cells and keys = visible-hand cells this is the FIT measure of
    the module docstring: 1 = no preference, > 1 = the hidden hand looks at the visible hand.
    """
    sums, n = visible_attention_ratio_sums(attn, queries, keys)
    return sums / n if n else torch.full_like(sums, math.nan)


def gate_unsaturated_counts(
    gate: Tensor, queries: Tensor, band: tuple[float, float] = UNSATURATED
) -> tuple[Tensor, int]:
    """FIT gate g (B, H, N, 1), queries (B, N) bool -> per head (H,) count of the queries' g
    strictly inside `band`, and the number of queries (the same for every head)."""
    g = gate[..., 0]  # (B, H, N)
    inside = (g > band[0]) & (g < band[1]) & queries[:, None, :]  # (B, H, N)
    return inside.sum((0, 2)).double().cpu(), int(queries.sum())


def gate_unsaturated_fraction(
    gate: Tensor, queries: Tensor, band: tuple[float, float] = UNSATURATED
) -> Tensor:
    """Per head (H,): the share of the queries' gate values inside `band`; NaN without queries."""
    counts, n = gate_unsaturated_counts(gate, queries, band)
    return counts / n if n else torch.full_like(counts, math.nan)


# --------------------------------------------------------------------------- streaming
class AttentionStatsAccumulator:
    """Streams the measures over batches: ``update(model_output, batch)``, then ``frame()``.

    model_output: the dict of ``HandOccNet.forward(image, return_maps=True)``; batch: the
    collated items (visible_mask, occluded_mask (B, G, G), has_mask (B,)).
    """

    def __init__(self, threshold: float = THRESHOLD, band: tuple[float, float] = UNSATURATED):
        if not 0 < threshold <= 1 or not 0 <= band[0] < band[1] <= 1:
            raise ValueError(
                f"threshold={threshold} must lie in (0, 1] and band={band} be (low, high) with "
                "0 <= low < high <= 1; e.g. threshold=0.5, band=(0.05, 0.95)."
            )
        self.threshold, self.band = threshold, band
        self.images = self.images_with_masks = 0
        self.gate_scores: dict[str, list[Tensor]] = {
            "visible": [],
            "no_visible": [],
            "occluded": [],
        }
        self.ratio: dict[tuple, list[Any]] = {}  # (measure, module, block) -> [sums (H,), n]
        self.unsaturated: dict[tuple[str, int], list[Any]] = {}  # (queries, block) -> same
        self.notes: list[str] = []

    def update(self, out: dict[str, Any], batch: dict[str, Tensor]) -> None:
        """Add one batch: reduce its maps to sums, keep the gate's labelled cells."""
        keep = self._masked_items(batch)  # (B,) bool
        self.images += len(keep)
        self.images_with_masks += int(keep.sum())
        self._note_maps(out)
        if not keep.any():
            return
        gate = out["gate"][keep.to(out["gate"].device)]  # (B', 1, G, G)
        classes = self._classes(batch, keep, gate)
        self._add_gate(gate, classes)
        for module, maps in out["maps"].items():
            if maps is not None:
                self._add_maps(module, maps, classes, keep.to(gate.device))

    def _add_maps(self, module: str, maps: Any, classes: dict[str, Tensor], keep: Tensor) -> None:
        """Reduce one module's AttentionMaps (the items `keep`, (B,) bool) to sums and counts."""
        for block, attn in enumerate(maps.softmax):  # (B, H, N, N)
            for measure, queries in RATIO_QUERIES.items():
                sums_n = visible_attention_ratio_sums(
                    attn[keep], classes[queries], classes["visible"]
                )
                self._add(self.ratio, (measure, module, block), sums_n)
        for block, g in enumerate(maps.gate if module == "fit" else []):  # (B, H, N, 1)
            for kind in ("hand", "background"):
                counts = gate_unsaturated_counts(g[keep], classes[kind], self.band)
                self._add(self.unsaturated, (kind, block), counts)

    def _masked_items(self, batch: dict[str, Tensor]) -> Tensor:
        missing = [k for k in MASK_KEYS if k not in batch]
        if missing:
            raise KeyError(
                f"The batch lacks {missing}: attention statistics need items with visible_mask, "
                "occluded_mask and has_mask (data.dataset.augment_sample adds them; SynthOcc "
                "has ground-truth masks)."
            )
        return batch["has_mask"].flatten() > 0.5  # (B,) bool, on the CPU

    def _classes(self, batch: dict[str, Tensor], keep: Tensor, gate: Tensor) -> dict[str, Tensor]:
        visible, occluded = batch["visible_mask"][keep], batch["occluded_mask"][keep]  # (B', G, G)
        if tuple(visible.shape[-2:]) != tuple(gate.shape[-2:]):
            raise ValueError(
                f"The data's feature cells ({visible.shape[-2]} x {visible.shape[-1]}) differ "
                f"from the model's grid ({gate.shape[-2]} x {gate.shape[-1]}): crop the data to "
                "the model's input size (SynthOccDataset(..., input_size=cfg.input_size)) with the "
                "model's feature stride."
            )
        classes = cell_classes(visible.to(gate.device), occluded.to(gate.device), self.threshold)
        return classes  # each (B', N) bool on the model's device

    def _add_gate(self, gate: Tensor, classes: dict[str, Tensor]) -> None:
        s = gate.flatten(1)  # (B', N)
        for name, scores in self.gate_scores.items():
            scores.append(s[classes[name]].float().cpu())

    @staticmethod
    def _add(store: dict, key: tuple[str, int], sums_n: tuple[Tensor, int]) -> None:
        sums, n = sums_n
        if key not in store:
            store[key] = [torch.zeros_like(sums), 0]
        store[key][0] += sums
        store[key][1] += n

    def _note_maps(self, out: dict[str, Any]) -> None:
        if "maps" not in out:
            raise KeyError("The model output has no 'maps': run the model with return_maps=True.")
        fit = out["maps"].get("fit")
        notes = []
        if fit is None:
            notes.append("no FIT maps (use_fit=False): no FIT rows.")
        elif not fit.gate:
            notes.append(
                "FIT has no sigmoid gate (attention='softmax'): gate_unsaturated_* absent."
            )
        self.notes += [n for n in notes if n not in self.notes]

    def frame(self) -> pd.DataFrame:
        """The tidy table (COLUMNS); attrs: threshold, band, images, images_with_masks, notes."""
        rows = self._gate_rows()
        for (measure, module, block), (sums, n) in sorted(self.ratio.items()):
            rows += _head_rows(measure, module, block, sums, n)
        by_kind = sorted(self.unsaturated.items(), key=lambda kv: (kv[0][0] != "hand", kv[0][1]))
        for (kind, block), (counts, n) in by_kind:
            rows += _head_rows(f"gate_unsaturated_{kind}", "fit", block, counts, n)
        df = pd.DataFrame(rows, columns=COLUMNS).astype({"block": "Int64", "n": "int64"})
        no_masks = ["no item had masks (has_mask == 0): no measure is defined."]
        df.attrs.update(
            threshold=self.threshold, band=list(self.band), images=self.images,
            images_with_masks=self.images_with_masks,
            notes=self.notes + (no_masks if self.images_with_masks == 0 else []),
        )  # fmt: skip
        return df

    def _gate_rows(self) -> list[tuple]:
        if self.images_with_masks == 0:
            return []
        cat = {k: torch.cat(v) if v else torch.zeros(0) for k, v in self.gate_scores.items()}
        rows = []
        for measure, negatives in (
            ("gate_auc", "no_visible"),
            ("gate_auc_vs_occluded", "occluded"),
        ):
            auc = rank_auc(cat["visible"], cat[negatives])
            rows.append(
                (measure, "gate", pd.NA, "", auc, len(cat["visible"]) + len(cat[negatives]))
            )
        return rows


def _head_rows(measure: str, module: str, block: int, sums: Tensor, n: int) -> list[tuple]:
    """One row per head and one for the mean over heads (every head counts the same n)."""
    values = (sums / n).tolist() if n else [math.nan] * len(sums)
    rows = [(measure, module, block, str(h), v, n) for h, v in enumerate(values)]
    return rows + [(measure, module, block, HEAD_MEAN, float(np.mean(values)), n)]


# --------------------------------------------------------------------------- running a model
def attention_stats(
    model: nn.Module,
    data: Dataset | DataLoader,
    device: str | torch.device | None = None,
    max_batches: int | None = None,
    batch_size: int = 8,
    threshold: float = THRESHOLD,
    band: tuple[float, float] = UNSATURATED,
    progress: bool = True,
) -> pd.DataFrame:
    """The measures of the module docstring for `model` over `data` (tidy DataFrame, COLUMNS).

    data: a Dataset of INTERFACES.md items (batched `batch_size`, in order) or a DataLoader;
    items with a "feat" key (a cached feature set) enter after the FPN (`forward_features`).
    device: where the model runs (None: where its parameters are). The model runs in eval mode
    under torch.no_grad with return_maps=True; its training mode is restored afterwards.
    """
    from tqdm.auto import tqdm

    loader = data if isinstance(data, DataLoader) else DataLoader(data, batch_size=batch_size)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    acc = AttentionStatsAccumulator(threshold, band)
    total = len(loader) if max_batches is None else min(max_batches, len(loader))
    was_training = model.training
    model.to(device).eval()
    try:
        with torch.no_grad():
            for i, batch in enumerate(tqdm(loader, total=total, disable=not progress)):
                if i >= total:
                    break
                acc.update(_forward_with_maps(model, batch, device), batch)
    finally:
        model.train(was_training)
    df = acc.frame()
    df.attrs["notes"] += _config_notes(model)
    return df


def _forward_with_maps(model: nn.Module, batch: dict[str, Tensor], device: torch.device) -> dict:
    """The model's output with its maps, from the batch's images or, for items of a cached
    feature set (engine.features.FeatureDataset: a "feat" key), from its pre-gate features."""
    if "feat" in batch:
        return model.forward_features(batch["feat"].to(device), return_maps=True)  # (B, C, G, G)
    return model(batch["image"].to(device), return_maps=True)  # (B, 3, S, S)


def _config_notes(model: nn.Module) -> list[str]:
    fit_cfg = getattr(getattr(model, "fit", None), "cfg", None)
    if fit_cfg is not None and fit_cfg.attention == "sigmoid":
        return ["FIT attention='sigmoid': its softmax map is uniform, so its ratio is 1."]
    return []
