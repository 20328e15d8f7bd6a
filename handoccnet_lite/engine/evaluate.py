"""Evaluation: per-sample metric records, summaries, accuracy vs occlusion, a mean-pose baseline.

Predictions of HandOccNet are root-relative; as in HandOccNet's own evaluation they are moved to
the ground-truth root before scoring, so `mpjpe` here equals the root-relative MPJPE and
`pa_mpjpe` is after similarity Procrustes (no reflection). Every record carries the sample index,
its occlusion fraction and its number of visible joints, so any slice can be recomputed later.
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
#: Occlusion bins (fraction of hand pixels hidden) for the accuracy-vs-occlusion curves.
OCCLUSION_BINS: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)
ROOT = 0  # wrist, canonical order

#: A predictor maps a batch (dict of tensors on the device) to root-relative joints (B, 21, 3)
#: and vertices (B, V, 3), metres.
Predictor = Callable[[dict[str, Tensor]], tuple[Tensor, Tensor]]


def model_predictor(model: nn.Module, inputs: str = "image") -> Predictor:
    """Predictor running a HandOccNet on images, or on cached features (inputs='features')."""
    from handoccnet_lite.engine.trainer import forward_batch

    def predict(batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        out = forward_batch(model, batch, inputs)
        return out["joints"].float(), out["verts"].float()

    return predict


def _records(pred_j: Tensor, pred_v: Tensor, batch: dict[str, Tensor]) -> dict[str, np.ndarray]:
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
    rec = evaluate_batch(pred_j + root, gt_j, pred_v + root, gt_v)
    out = {k: v.cpu().numpy() for k, v in rec.items()}
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
) -> pd.DataFrame:
    """`predict` over `dataset`: one row per sample (index, occlusion, visible_joints, metrics)."""
    from tqdm.auto import tqdm

    device = resolve_device(device) if isinstance(device, str) else device
    if len(dataset) == 0:  # type: ignore[arg-type]
        raise ValueError("The evaluation dataset is empty; check --data and --split.")
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    parts: list[dict[str, np.ndarray]] = []
    for batch in tqdm(loader, desc="eval", unit="batch", disable=not progress):
        batch = {k: v.to(device) for k, v in batch.items()}
        pred_j, pred_v = predict(batch)
        parts.append(_records(pred_j, pred_v, batch))
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    front = ["index", "occlusion", "visible_joints"]
    df = pd.DataFrame(cols)
    return df[
        front + [c for c in METRICS if c in df] + [c for c in df if c not in front + list(METRICS)]
    ]


def evaluate_model(
    model: nn.Module,
    dataset: Dataset,
    batch_size: int = 32,
    device: str | torch.device = "auto",
    progress: bool = True,
    inputs: str = "image",
) -> pd.DataFrame:
    """Per-sample records of a model (put in eval mode, moved to `device`)."""
    device = resolve_device(device) if isinstance(device, str) else device
    model = model.to(device).eval()
    return evaluate_predictor(model_predictor(model, inputs), dataset, batch_size, device, progress)


# --------------------------------------------------------------------------------------------
# mean-pose baseline
# --------------------------------------------------------------------------------------------
@dataclass
class MeanPoseBaseline:
    """Predicts the training set's mean root-relative joints and vertices for every image.

    The reference any trained model must beat: it knows the average hand, nothing about the image.
    """

    joints: np.ndarray  # (21, 3) metres, root-relative
    verts: np.ndarray  # (V, 3) metres, root-relative

    @classmethod
    def fit(
        cls, dataset: Dataset, batch_size: int = 64, progress: bool = False
    ) -> MeanPoseBaseline:
        """Average root-relative joints and vertices over `dataset` (items as INTERFACES.md)."""
        from tqdm.auto import tqdm

        sum_j, sum_v, n = 0.0, 0.0, 0
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
        for batch in tqdm(loader, desc="mean pose", unit="batch", disable=not progress):
            j = batch["joints_cam"].double()  # (B, 21, 3)
            root = j[:, ROOT : ROOT + 1]  # (B, 1, 3)
            sum_j = sum_j + (j - root).sum(0)
            sum_v = sum_v + (batch["verts_cam"].double() - root).sum(0)
            n += j.shape[0]
        if n == 0:
            raise ValueError("Cannot fit the mean-pose baseline on an empty dataset.")
        return cls(joints=(sum_j / n).float().numpy(), verts=(sum_v / n).float().numpy())

    def predictor(self) -> Predictor:
        def predict(batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
            ref = batch["joints_cam"]
            b = ref.shape[0]
            j = torch.as_tensor(self.joints, device=ref.device).expand(b, -1, -1)  # (B, 21, 3)
            v = torch.as_tensor(self.verts, device=ref.device).expand(b, -1, -1)  # (B, V, 3)
            return j, v

        return predict

    def save(self, path: str | Path) -> None:
        np.savez(path, joints=self.joints, verts=self.verts)

    @classmethod
    def load(cls, path: str | Path) -> MeanPoseBaseline:
        with np.load(path) as z:
            return cls(joints=z["joints"], verts=z["verts"])


def evaluate_baseline(
    baseline: MeanPoseBaseline, dataset: Dataset, batch_size: int = 64, progress: bool = False
) -> pd.DataFrame:
    """Per-sample records of the mean-pose baseline (CPU)."""
    return evaluate_predictor(baseline.predictor(), dataset, batch_size, "cpu", progress)


# --------------------------------------------------------------------------------------------
# tables and curves
# --------------------------------------------------------------------------------------------
def summary_table(df: pd.DataFrame, by: str | list[str] | None = None) -> pd.DataFrame:
    """Mean of every metric column (grouped by `by` when given), plus the sample count."""
    metrics = [c for c in METRICS if c in df]
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
    df: pd.DataFrame, metric: str = "pa_mpjpe", hue: str | None = None, ax: Any = None
) -> Any:
    """Plot `metric` (mean, 95% CI over samples) per occlusion bin; returns the figure."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    binned = add_occlusion_bins(df)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    sns.pointplot(
        data=binned,
        x="occlusion_bin",
        y=metric,
        hue=hue,
        errorbar=("ci", 95),
        dodge=0.3 if hue else False,
        ax=ax,
        markersize=4,
        linewidth=1.2,
    )
    ax.set_xlabel("fraction of hand pixels occluded")
    unitless = metric.startswith(("f", "auc"))  # F-scores and AUC are fractions
    ax.set_ylabel(metric if unitless else f"{metric} (mm)")
    ax.set_title(f"{metric} vs occlusion (SynthOcc, mean and 95% CI over samples)")
    return ax.figure


# --------------------------------------------------------------------------------------------
# demo: one image -> mesh .obj + overlay
# --------------------------------------------------------------------------------------------
def write_obj(path: str | Path, verts: np.ndarray, faces: np.ndarray) -> Path:
    """Wavefront OBJ: verts (V, 3), faces (F, 3) zero-based."""
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in verts]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def weak_perspective(points: np.ndarray, uv: np.ndarray) -> tuple[float, np.ndarray]:
    """Least-squares s, t with uv ~ s * points[:, :2] + t; points (J, 3), uv (J, 2)."""
    xy = points[:, :2] - points[:, :2].mean(0)  # (J, 2)
    duv = uv - uv.mean(0)  # (J, 2)
    s = float((xy * duv).sum() / max((xy**2).sum(), 1e-12))
    return s, uv.mean(0) - s * points[:, :2].mean(0)


@torch.no_grad()
def run_demo(
    model: nn.Module, image: np.ndarray, out_dir: Path, device: str = "auto"
) -> list[Path]:
    """image (S, S, 3) uint8 RGB -> out_dir/mesh.obj and out_dir/overlay.png."""
    import matplotlib.pyplot as plt

    from handoccnet_lite.hand.joints import SKELETON

    dev = resolve_device(device)
    model = model.to(dev).eval()
    size = image.shape[0]
    x = torch.as_tensor(image, device=dev).permute(2, 0, 1)[None].float() / 255  # (1, 3, S, S)
    out = model(x)
    joints = out["joints"][0].cpu().numpy()  # (21, 3) root-relative metres
    verts = out["verts"][0].cpu().numpy()  # (V, 3)
    uv = out["joints_img"][0].cpu().numpy() * size  # (21, 2) pixels
    faces = model.hand.faces.cpu().numpy()
    out_dir.mkdir(parents=True, exist_ok=True)
    obj = write_obj(out_dir / "mesh.obj", verts, faces)
    s, t = weak_perspective(joints, uv)
    vuv = verts[:, :2] * s + t  # (V, 2)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(image)
    ax.triplot(vuv[:, 0], vuv[:, 1], faces, lw=0.3, color="w", alpha=0.6)
    for a, b in SKELETON:
        ax.plot(uv[[a, b], 0], uv[[a, b], 1], color="tab:orange", lw=1.5)
    ax.scatter(uv[:, 0], uv[:, 1], s=10, c="tab:red", zorder=3)
    ax.set_axis_off()
    ax.set_title("2D joints, skeleton and the mesh (weak-perspective fit)")
    png = out_dir / "overlay.png"
    fig.savefig(png, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return [obj, png]
