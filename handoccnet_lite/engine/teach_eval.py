"""The teaching runs' test measures (engine.teach): accuracy, the 2D error and the attention
numbers the acceptance of issue #15 names, on one view of the held-out SynthOcc test split."""

from __future__ import annotations

from typing import Any


def evaluate_view(
    model: Any, test_root: str, eval_max: int, eval_batch: int, upright_sigma: float | None
) -> dict[str, float]:
    """The test split's measures (first `eval_max` images, all when 0) of `model` in one view:
    SynthOcc's own crops (upright_sigma None) or the upright view (data.dataset.AugmentConfig)."""
    import torch

    from handoccnet_lite.data.dataset import AugmentConfig, SynthOccDataset
    from handoccnet_lite.engine.builders import first_items
    from handoccnet_lite.engine.evaluate import evaluate_predictor
    from handoccnet_lite.evaluation.attention_stats import AttentionStatsAccumulator

    model = model.eval()
    size = model.cfg.input_size
    aug = AugmentConfig(
        input_size=size, augment=False, upright_sigma_deg=upright_sigma,
        feature_stride=model.cfg.feature_stride,
    )  # fmt: skip
    data = first_items(SynthOccDataset(test_root, "test", size, aug=aug), eval_max)
    sq_2d: list[torch.Tensor] = []
    attention = AttentionStatsAccumulator()

    def predict(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        out = model(batch["image"], return_maps=True)
        attention.update(out, batch)
        sq_2d.append((out["joints_img"].float() - batch["joints_img"]).square().flatten())
        return out["joints"].float(), out["verts"].float()

    df = evaluate_predictor(predict, data, eval_batch, "cpu", progress=False)
    metrics = {k: float(df[k].mean()) for k in ("pa_mpjpe", "mpjpe", "pa_mpvpe", "f15")}
    metrics["rms_2d"] = float(torch.cat(sq_2d).mean().sqrt())
    return metrics | headline_attention(attention.frame())


def headline_attention(stats: Any) -> dict[str, float]:
    """The acceptance's attention numbers from an attention_stats frame (NaN where undefined)."""
    mean = stats[stats["head"] == "mean"]

    def pick(measure: str, module: str) -> Any:
        return mean[(mean["measure"] == measure) & (mean["module"] == module)]

    out = {"gate_auc": float("nan"), "fit_ratio": float("nan")}
    out |= {"fit_ratio_background": float("nan"), "gate_unsat_hand": float("nan")}
    auc = stats[stats["measure"] == "gate_auc"]["value"]
    if len(auc):
        out["gate_auc"] = float(auc.iloc[0])
    ratio = pick("visible_attention_ratio", "fit")
    if len(ratio):
        best = ratio.loc[ratio["value"].idxmax()]
        out["fit_ratio"] = float(best["value"])
        control = pick("visible_attention_ratio_background", "fit")
        control = control[control["block"] == best["block"]]["value"]
        out["fit_ratio_background"] = float(control.iloc[0]) if len(control) else float("nan")
    unsat = pick("gate_unsaturated_hand", "fit")["value"]
    if len(unsat):
        out["gate_unsat_hand"] = float(unsat.max())
    return out


__all__ = ["evaluate_view", "headline_attention"]
