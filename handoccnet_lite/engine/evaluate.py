"""Evaluation: per-sample metric records, summaries, accuracy vs occlusion, constant baselines.

Predictions of HandOccNet are root-relative; as in HandOccNet's own evaluation they are moved to
the ground-truth root before scoring, so `mpjpe` here equals the root-relative MPJPE and
`pa_mpjpe` is after similarity Procrustes. Every record carries the sample index, its occlusion
fraction and its number of visible joints, so any slice can be recomputed later.

Alignment protocol (`engine.protocols.PROTOCOLS`): whether the Procrustes alignments behind
pa_mpjpe, pa_mpvpe, f5/f15 and the AUCs may reflect. Each dataset is scored by its own protocol
by default (its `eval_protocol` attribute; `dataset_protocol`): HO-3D as its official eval.py
(reflections allowed), Dex-YCB as HandOccNet's Dex-YCB evaluation that gave the paper's numbers
(no reflection; "dexycb_toolkit" for the toolkit's, which allows them), SynthOcc without
reflection (unchanged, so committed SynthOcc results stay comparable). Every record carries the
protocol (columns `alignment`, `allow_reflection`) and `results_record` puts it in results files
as ``"alignment": {"protocol": ..., "allow_reflection": ...}``.

Two columns say whether a model reads its images at all (SPREAD): `pred_spread` is how far each
predicted hand is from the average predicted hand after rigid alignment (mm), `gt_spread` the
same for the ground truth. A model whose `pred_spread` is near 0 predicts one constant hand,
whatever its PA-MPJPE; a perfect model has `pred_spread == gt_spread`.

Two constant baselines (`MeanPoseBaseline`, by `frame`): "camera" averages the root-relative
hands in the camera frame, the least-squares constant for MPJPE; under many global orientations
that average shrinks towards a point (E[R x] = 0 for rotations R uniform on SO(3)). "hand" averages
them in the hand's own frame (generalised Procrustes): the average articulation, the constant
that PA-MPJPE, which ignores rotation, should be compared with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from handoccnet_lite.engine.features import forward_batch
from handoccnet_lite.engine.protocols import resolve_protocol
from handoccnet_lite.utils import resolve_device

#: Metric columns in the order tables show them (mm, F-scores as fractions).
METRICS: tuple[str, ...] = (
    "pa_mpjpe",
    "mpjpe",
    "pa_mpvpe",
    "mpvpe",
    "f5",
    "f15",
    "auc_j",
    "auc_v",
    "root_mpjpe",
    "root_mpvpe",
)
#: Spread columns (mm; see the module docstring): constant-output check, not accuracy.
SPREAD: tuple[str, ...] = ("pred_spread", "gt_spread")
#: Occlusion bins (fraction of hand pixels hidden) for the accuracy-vs-occlusion curves.
OCCLUSION_BINS: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)
ROOT = 0  # wrist, canonical order


def results_record(df: pd.DataFrame) -> dict[str, Any]:
    """Means of the metric and spread columns (floats, plus `n`) and, when the records carry it,
    ``"alignment": {"protocol", "allow_reflection"}``: what every results JSON stores."""
    out: dict[str, Any] = {k: float(v) for k, v in summary_table(df).iloc[0].to_dict().items()}
    if "alignment" in df and len(df):
        pairs = df[["alignment", "allow_reflection"]].drop_duplicates()
        if len(pairs) != 1:
            raise ValueError(
                f"These records mix evaluation protocols {pairs.to_dict('records')}; summarise "
                "each protocol separately."
            )
        name, allow = pairs.iloc[0]
        out["alignment"] = {"protocol": str(name), "allow_reflection": bool(allow)}
    return out


#: A predictor maps a batch (dict of tensors on the device) to root-relative joints (B, 21, 3)
#: and vertices (B, V, 3), metres.
Predictor = Callable[[dict[str, Tensor]], tuple[Tensor, Tensor]]


def model_predictor(model: nn.Module, inputs: str = "image") -> Predictor:
    """Predictor running a HandOccNet on images, or on cached features (inputs='features')."""

    def predict(batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        out = forward_batch(model, batch, inputs)
        return out["joints"].float(), out["verts"].float()

    return predict


def _records(
    pred_j: Tensor, pred_v: Tensor, batch: dict[str, Tensor], allow_reflection: bool
) -> dict[str, np.ndarray]:
    """Per-sample metrics of one batch after moving the prediction to the GT root."""
    from handoccnet_lite.metrics import evaluate_batch

    gt_j = batch["joints_cam"].float()  # (B, 21, 3) absolute
    gt_v = batch["verts_cam"].float()  # (B, V, 3)
    if pred_v.shape[-2] != gt_v.shape[-2]:
        raise ValueError(
            f"The model predicts {pred_v.shape[-2]} vertices but the data has {gt_v.shape[-2]}: "
            "evaluate on data made with the same hand model (hand_model in the config)."
        )
    root = gt_j[:, ROOT : ROOT + 1]  # (B, 1, 3)
    rec = evaluate_batch(
        pred_j + root, gt_j, pred_v + root, gt_v, allow_reflection=allow_reflection
    )
    out = {k: v.cpu().numpy() for k, v in rec.items()}
    # root-relative hands (B, 21, 3): the spread columns need the whole set (evaluate_predictor)
    out["_pred_hands"] = pred_j.detach().double().cpu().numpy()
    out["_gt_hands"] = (gt_j - root).double().cpu().numpy()
    out["index"] = batch["index"].cpu().numpy()
    out["occlusion"] = batch["occlusion"].float().cpu().numpy()
    out["visible_joints"] = batch["joints_vis"].float().sum(-1).cpu().numpy().astype(int)
    return out


@torch.no_grad()
def evaluate_predictor(
    predict: Predictor,
    dataset: Dataset,
    batch_size: int = 32,
    device: str | torch.device = "auto",
    progress: bool = True,
    num_workers: int = 0,
    protocol: str | None = None,
) -> pd.DataFrame:
    """`predict` over `dataset`: one row per sample (index, occlusion, visible_joints, metrics,
    then the alignment protocol: `alignment`, `allow_reflection`). `protocol`: a name of
    PROTOCOLS, or None for the dataset's own (see the module docstring)."""
    from tqdm.auto import tqdm

    align = resolve_protocol(protocol, dataset)
    device = resolve_device(device) if isinstance(device, str) else device
    if len(dataset) == 0:  # type: ignore[arg-type]
        raise ValueError("The evaluation dataset is empty; check --data and --split.")
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    parts: list[dict[str, np.ndarray]] = []
    for batch in tqdm(loader, desc="eval", unit="batch", disable=not progress):
        batch = {k: v.to(device) for k, v in batch.items()}
        pred_j, pred_v = predict(batch)
        parts.append(_records(pred_j, pred_v, batch, align.allow_reflection))
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    for name, hands in zip(SPREAD, ("_pred_hands", "_gt_hands"), strict=True):
        cols[name] = rigid_spread_mm(cols.pop(hands))  # (N,) mm
    front = ["index", "occlusion", "visible_joints"]
    df = pd.DataFrame(cols).assign(alignment=align.name, allow_reflection=align.allow_reflection)
    known = front + list(METRICS) + list(SPREAD)
    return df[[c for c in known if c in df] + [c for c in df if c not in known]]


def evaluate_model(
    model: nn.Module,
    dataset: Dataset,
    batch_size: int = 32,
    device: str | torch.device = "auto",
    progress: bool = True,
    inputs: str = "image",
    protocol: str | None = None,
) -> pd.DataFrame:
    """Per-sample records of a model (put in eval mode, moved to `device`); `protocol` as in
    `evaluate_predictor` (None: the dataset's own)."""
    device = resolve_device(device) if isinstance(device, str) else device
    model = model.to(device).eval()
    predict = model_predictor(model, inputs)
    return evaluate_predictor(predict, dataset, batch_size, device, progress, protocol=protocol)


# --------------------------------------------------------------------------------------------
# constant baselines
# --------------------------------------------------------------------------------------------
#: The mean hand is fitted on at most this many training hands (an even stride over the set):
#: the average is then exact to well under a millimetre and memory stays below ~1.5 GB.
MAX_HANDS_FOR_MEAN = 20000


def procrustes_mean(points: np.ndarray, iters: int = 10, tol: float = 1e-9) -> np.ndarray:
    """Generalised Procrustes mean of N point sets (N, P, 3) -> (P, 3), centred at the origin.

    Each set is rigidly aligned (rotation + translation, no scale, no reflection) onto the
    current mean, the aligned sets are averaged, and this repeats until the mean stops moving:
    the average *shape*, with every set's own pose removed.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[-1] != 3 or len(pts) == 0:
        raise ValueError(f"points must be a non-empty (N, P, 3) array, got shape {pts.shape}.")
    from handoccnet_lite.alignment import procrustes_align

    x = torch.from_numpy(pts - pts.mean(1, keepdims=True))  # (N, P, 3) centred
    mean = x[0].clone()  # (P, 3)
    for _ in range(iters):
        aligned = procrustes_align(x, mean.expand_as(x), scale=False)  # (N, P, 3)
        new = aligned.mean(0)
        new = new - new.mean(0)
        moved = float((new - mean).norm(dim=-1).max())
        mean = new
        if moved < tol:
            break
    return mean.numpy()


def rigid_spread_mm(joints: np.ndarray) -> np.ndarray:
    """(N, J, 3) hands, metres -> (N,) mm: each hand's mean joint distance to the set's
    Procrustes mean after rigid alignment. 0 for every sample of a constant prediction."""
    from handoccnet_lite.alignment import procrustes_align

    x = torch.from_numpy(np.asarray(joints, dtype=np.float64))
    if len(x) < 2:
        return np.zeros(len(x))
    mean = torch.from_numpy(procrustes_mean(x.numpy())).expand_as(x)  # (N, J, 3)
    aligned = procrustes_align(x, mean, scale=False)
    return ((aligned - mean).norm(dim=-1).mean(-1) * 1000).numpy()


BASELINE_FRAMES: tuple[str, ...] = ("camera", "hand")
BASELINE_NAMES = {"camera": "mean pose", "hand": "mean hand"}


@dataclass
class MeanPoseBaseline:
    """Predicts one constant root-relative hand (joints and vertices) for every image.

    The reference any trained model must beat: it knows the average hand, nothing about the
    image. frame "camera" (the default, "mean pose"): the training set's mean root-relative hand
    in the camera frame. frame "hand" ("mean hand"): its generalised Procrustes mean, i.e. the
    average hand in its own frame; the stronger constant for PA-MPJPE when global orientations
    vary (see the module docstring).
    """

    joints: np.ndarray  # (21, 3) metres, root-relative
    verts: np.ndarray  # (V, 3) metres, root-relative
    frame: str = "camera"

    @property
    def name(self) -> str:
        """'mean pose' (camera frame) or 'mean hand' (hand frame)."""
        return BASELINE_NAMES[self.frame]

    @classmethod
    def fit(
        cls,
        dataset: Dataset,
        batch_size: int = 64,
        progress: bool = False,
        frame: str = "camera",
    ) -> MeanPoseBaseline:
        """Average root-relative joints and vertices over `dataset` (items as INTERFACES.md)."""
        from tqdm.auto import tqdm

        if frame not in BASELINE_FRAMES:
            raise ValueError(f"frame must be one of {BASELINE_FRAMES}, got {frame!r}.")
        sum_j, sum_v, n = 0.0, 0.0, 0
        hands: list[np.ndarray] = []  # frame "hand": every (21 + V, 3) hand, float32
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
        for batch in tqdm(loader, desc=BASELINE_NAMES[frame], unit="batch", disable=not progress):
            j = batch["joints_cam"].double()  # (B, 21, 3)
            root = j[:, ROOT : ROOT + 1]  # (B, 1, 3)
            v = batch["verts_cam"].double() - root  # (B, V, 3)
            if frame == "hand":
                hands.append(torch.cat([j - root, v], 1).float().numpy())
            sum_j = sum_j + (j - root).sum(0)
            sum_v = sum_v + v.sum(0)
            n += j.shape[0]
        if n == 0:
            raise ValueError(
                f"Cannot fit the {BASELINE_NAMES[frame]} baseline on an empty dataset."
            )
        if frame == "camera":
            return cls((sum_j / n).float().numpy(), (sum_v / n).float().numpy(), frame)
        every = np.concatenate(hands)  # (N, 21 + V, 3), joints and surface together
        stride = -(-len(every) // MAX_HANDS_FOR_MEAN)  # ceil: at most MAX_HANDS_FOR_MEAN hands
        mean = procrustes_mean(every[::stride])
        mean = mean - mean[ROOT]  # root-relative, as predictions are
        return cls(mean[:21].astype(np.float32), mean[21:].astype(np.float32), frame)

    def predictor(self) -> Predictor:
        def predict(batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
            ref = batch["joints_cam"]
            b = ref.shape[0]
            j = torch.as_tensor(self.joints, device=ref.device).expand(b, -1, -1)  # (B, 21, 3)
            v = torch.as_tensor(self.verts, device=ref.device).expand(b, -1, -1)  # (B, V, 3)
            return j, v

        return predict

    def save(self, path: str | Path) -> None:
        np.savez(path, joints=self.joints, verts=self.verts, frame=np.array(self.frame))

    @classmethod
    def load(cls, path: str | Path) -> MeanPoseBaseline:
        with np.load(path) as z:
            frame = str(z["frame"]) if "frame" in z else "camera"  # older files: camera frame
            return cls(joints=z["joints"], verts=z["verts"], frame=frame)


def evaluate_baseline(
    baseline: MeanPoseBaseline,
    dataset: Dataset,
    batch_size: int = 64,
    progress: bool = False,
    protocol: str | None = None,
) -> pd.DataFrame:
    """Per-sample records of a constant baseline (CPU); `protocol` as in `evaluate_predictor`."""
    predict = baseline.predictor()
    return evaluate_predictor(predict, dataset, batch_size, "cpu", progress, protocol=protocol)


# --------------------------------------------------------------------------------------------
# tables and curves
# --------------------------------------------------------------------------------------------
def summary_table(df: pd.DataFrame, by: str | list[str] | None = None) -> pd.DataFrame:
    """Mean of every metric and spread column (grouped by `by` when given), plus the count."""
    metrics = [c for c in (*METRICS, *SPREAD) if c in df]
    if by is None:
        out = df[metrics].mean().to_frame().T
        out.insert(0, "n", len(df))
        return out
    grouped = df.groupby(by, sort=False)
    out = grouped[metrics].mean()
    out.insert(0, "n", grouped.size())
    return out.reset_index()


def add_occlusion_bins(df: pd.DataFrame, bins: tuple[float, ...] = OCCLUSION_BINS) -> pd.DataFrame:
    """Copy of df with an `occlusion_bin` column ("0-10%" ...); NaN occlusion stays NaN."""
    labels = [f"{lo * 100:.0f}-{hi * 100:.0f}%" for lo, hi in zip(bins[:-1], bins[1:], strict=True)]
    out = df.copy()
    out["occlusion_bin"] = pd.cut(
        out["occlusion"], bins=list(bins), labels=labels, include_lowest=True
    )
    return out


def occlusion_curve(
    df: pd.DataFrame,
    metric: str = "pa_mpjpe",
    by: str | list[str] | None = None,
    bins: tuple[float, ...] = OCCLUSION_BINS,
) -> pd.DataFrame:
    """Mean, standard error and count of `metric` per occlusion bin (and per `by` group)."""
    if metric not in df:
        raise KeyError(
            f"No metric column {metric!r}; available: {[c for c in METRICS if c in df]}."
        )
    binned = add_occlusion_bins(df, bins)
    keys = ([by] if isinstance(by, str) else list(by or [])) + ["occlusion_bin"]
    g = binned.groupby(keys, observed=True)[metric]
    out = g.agg(["mean", "sem", "count"]).reset_index()
    return out.rename(columns={"mean": metric})


def plot_vs_occlusion(
    df: pd.DataFrame,
    metric: str = "pa_mpjpe",
    hue: str | None = None,
    ax: Any = None,
    min_images: int | None = None,
) -> Any:
    """Plot `metric` per occlusion bin; returns the figure.

    Bins holding fewer than `min_images` test images (default
    `occlusion.MIN_IMAGES_PER_BIN`) are merged with a neighbour and each bin shows its image
    count; the error bars are 95% t-intervals over images, each image's error first averaged
    over its seeds (`occlusion.occlusion_table`), so seeds are not counted as images.
    """
    import matplotlib.pyplot as plt

    from handoccnet_lite import occlusion

    min_images = occlusion.MIN_IMAGES_PER_BIN if min_images is None else min_images
    table = occlusion.occlusion_table(df, metric, by=hue, min_images=min_images)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    occlusion.draw_occlusion_table(table, metric, hue, ax)
    note = occlusion.interval_note(table, min_images)
    ax.set_title(f"{occlusion.metric_label(metric)} vs occlusion\n{note}", fontsize=9)
    return ax.figure
