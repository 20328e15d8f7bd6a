"""The ablation runner: a grid of variants x seeds, resumable, one folder per run, tidy results.

Layout under the output folder (default runs/ablation/<profile>):

    backbone/              cached protocol: the backbone + FPN run (full model, official variant)
    features/train.pt      cached pre-gate FPN features F (N, C, G, G) + targets (augmented copies)
    features/test.pt
    mean_pose.npz/.json    constant baselines fitted on the train set, scored on the test set:
    mean_hand.npz/.json    mean root-relative hand in the camera frame / in the hand's own frame
                           (evaluate.MeanPoseBaseline; the second is the stronger for PA-MPJPE)
    <variant>/seed<k>/     config.json, log.csv, model.pt, per_sample.csv, metrics.json (its
                           presence marks the run as done: reruns skip it); checkpoint.pt (the
                           resumable state) only while the run trains, unless keep_checkpoints
    runs.csv               one row per run (variant, seed, metric means)
    per_sample.csv         one row per run x test sample (index, occlusion, visible joints, metrics)
    summary.csv            per variant and metric: mean, std, n, 95% t-interval
    paired.csv             every variant vs the official one, paired over seeds
    report.md              the tables above in Markdown

CPU budget protocol ("cached", see `engine.profiles`): one backbone for all variants, heads
(spatial gate, FIT, SET, regressor) trained per variant on cached features. Full protocol
("full", GPU): every variant and seed trains the whole model on images.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from handoccnet_lite.config import ModelConfig
from handoccnet_lite.engine import checkpoint as ckpt
from handoccnet_lite.engine import evaluate as ev
from handoccnet_lite.engine.profiles import BASELINE_VARIANT, VARIANTS, DataSpec, Profile
from handoccnet_lite.utils import atomic_torch_save, atomic_write_bytes, resolve_device

METRICS_NAME = "metrics.json"
TIMINGS_NAME = "timings.json"
STAGE1_METRICS = "test_metrics.json"  # of backbone/: the stage-1 full model on the test set
HEADLINE = ("pa_mpjpe", "mpjpe", "pa_mpvpe", "f5", "f15")
#: Constant baselines (evaluate.MeanPoseBaseline frames) and their result files.
BASELINE_FILES = {"camera": "mean_pose.json", "hand": "mean_hand.json"}
BASELINE_LABELS = {
    "camera": "Mean-pose baseline (mean root-relative hand in the camera frame)",
    "hand": "Mean-hand baseline (average hand in its own frame, the stronger constant for "
    "PA-MPJPE when orientations vary)",
}
HIGHER_IS_BETTER = {"f5", "f15", "auc_j", "auc_v"}


# --------------------------------------------------------------------------------------------
# config overrides
# --------------------------------------------------------------------------------------------
def apply_overrides(cfg: ModelConfig, overrides: dict[str, Any]) -> ModelConfig:
    """ModelConfig with dotted-key overrides: {"fit.attention": "softmax", "use_set": False}.

    ``input_size`` resizes the model (`ModelConfig.resized`: the token grid and the
    transformers' grids follow); put ``hourglass_depth`` before it when the grid shrinks.
    """
    for key, value in overrides.items():
        if key == "input_size":
            cfg = cfg.resized(int(value))
            continue
        head, _, rest = key.partition(".")
        if not hasattr(cfg, head):
            fields = sorted(f.name for f in dataclasses.fields(cfg))
            raise ValueError(f"Unknown config key {key!r}; top-level keys are {fields}.")
        if rest:
            sub = getattr(cfg, head)
            if not dataclasses.is_dataclass(sub) or not hasattr(sub, rest):
                raise ValueError(f"Unknown config key {key!r}: {head} has no field {rest!r}.")
            value = dataclasses.replace(sub, **{rest: value})
        cfg = dataclasses.replace(cfg, **{head: value})
    return cfg


def variant_config(base: ModelConfig, variant: str) -> ModelConfig:
    """The model config of a named grid variant (see profiles.VARIANTS)."""
    if variant not in VARIANTS:
        raise ValueError(f"Unknown variant {variant!r}; choose from {sorted(VARIANTS)}.")
    return apply_overrides(base, VARIANTS[variant])


# --------------------------------------------------------------------------------------------
# cached-feature protocol: the hooks into the model
# --------------------------------------------------------------------------------------------
def extract_pregate(model: nn.Module, image: Tensor) -> Tensor:
    """Backbone + FPN + 2x pooling: the pre-gate feature F (B, C, G, G) of images (B, 3, S, S)."""
    return ckpt.unwrap(model).extract_features(image)


def forward_from_features(model: nn.Module, feat: Tensor) -> dict[str, Tensor]:
    """Gate, FIT, SET and regressor on the pre-gate feature F (B, C, G, G): HandOccNet's output
    dict without `maps`."""
    if isinstance(model, FeatureHead) or _is_wrapped_head(model):
        return model(feat)
    return ckpt.unwrap(model).forward_features(feat)


def _is_wrapped_head(model: nn.Module) -> bool:
    return isinstance(getattr(model, "module", None), FeatureHead)


def backbone_prefixes(model: nn.Module) -> tuple[str, ...]:
    """State-dict prefixes of the parts before the gate (frozen in the cached protocol)."""
    return tuple(ckpt.unwrap(model).feature_modules)


def is_backbone_key(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def head_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Parameters after the FPN; the backbone's are frozen (requires_grad=False)."""
    m = ckpt.unwrap(model)
    prefixes = backbone_prefixes(m)
    params = []
    for name, p in m.named_parameters():
        frozen = is_backbone_key(name, prefixes)
        p.requires_grad_(not frozen)
        if not frozen:
            params.append(p)
    return params


class FeatureHead(nn.Module):
    """A HandOccNet seen as a module of the cached feature F (what DDP wraps in that protocol).

    The full network is kept as `.module` so checkpoints hold a complete, image-ready model.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.module = net

    def forward(self, feat: Tensor) -> dict[str, Tensor]:  # feat (B, C, G, G)
        return forward_from_features(self.module, feat)


# --------------------------------------------------------------------------------------------
# feature cache
# --------------------------------------------------------------------------------------------
TARGET_KEYS = (
    "joints_img",
    "joints_cam",
    "verts_cam",
    "mano_pose",
    "mano_shape",
    "joints_vis",
    "has_mano",
    "occlusion",
    "index",
    "visible_mask",
    "has_mask",
)


class FeatureDataset(Dataset):
    """Cached features + targets; item i = {"feat": (C, G, G) float32, targets as INTERFACES.md}."""

    eval_protocol = "synthocc"  # cached SynthOcc features (engine.evaluate.PROTOCOLS)

    def __init__(self, tensors: dict[str, Tensor]) -> None:
        missing = [k for k in ("feat", *TARGET_KEYS) if k not in tensors]
        if missing:
            raise ValueError(f"Feature cache lacks {missing}; delete it to rebuild.")
        self.tensors = tensors
        self.n = int(tensors["feat"].shape[0])

    @classmethod
    def load(cls, path: str | Path) -> FeatureDataset:
        return cls(torch.load(path, map_location="cpu", weights_only=True))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        item = {k: v[i] for k, v in self.tensors.items()}
        item["feat"] = item["feat"].float()
        return item


@torch.no_grad()
def extract_feature_cache(
    model: nn.Module,
    dataset: Dataset,
    copies: int = 1,
    seed: int = 0,
    batch_size: int = 32,
    device: str = "auto",
    progress: bool = True,
) -> dict[str, Tensor]:
    """F (copies*N, C, G, G) stored in bfloat16/float16, plus the targets of every item.

    Copy k of item i is drawn with seed (seed, k, i), so augmented copies differ and repeat.
    """
    from tqdm.auto import tqdm

    from handoccnet_lite.engine.trainer import SeededSamples

    dev = resolve_device(device)
    model = ckpt.unwrap(model).to(dev).eval()
    data = SeededSamples(dataset, seed)
    parts: dict[str, list[Tensor]] = {k: [] for k in ("feat", *TARGET_KEYS)}
    for copy in range(copies):
        data.set_epoch(copy)
        loader = DataLoader(data, batch_size=batch_size, shuffle=False)
        for batch in tqdm(loader, desc=f"features {copy + 1}/{copies}", disable=not progress):
            parts["feat"].append(extract_pregate(model, batch["image"].to(dev)).half().cpu())
            for k in TARGET_KEYS:
                parts[k].append(batch[k])
    return {k: torch.cat(v) for k, v in parts.items()}


# --------------------------------------------------------------------------------------------
# one run
# --------------------------------------------------------------------------------------------
def run_done(run_dir: Path) -> bool:
    """A run folder with metrics.json is finished (the runner skips it)."""
    return (run_dir / METRICS_NAME).is_file()


def _write_json(path: Path, obj: dict[str, Any]) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, default=float).encode())


def finish_run(run_dir: Path, per_sample: pd.DataFrame, meta: dict[str, Any]) -> dict[str, Any]:
    """Write per_sample.csv then metrics.json (last: it marks the run as done)."""
    per_sample.to_csv(run_dir / "per_sample.csv", index=False)
    metrics = {**meta, **ev.results_record(per_sample)}  # means + "alignment" protocol
    _write_json(run_dir / METRICS_NAME, metrics)
    return metrics


def _train_and_eval(
    train_cfg: Any,
    run_dir: Path,
    train_set: Dataset,
    test_set: Dataset,
    eval_batch: int,
    progress: bool,
) -> pd.DataFrame:
    """Train (resuming an interrupted run) and return per-sample test records."""
    from handoccnet_lite.engine.trainer import train

    resume = (run_dir / ckpt.CHECKPOINT_NAME).is_file()
    result = train(train_cfg, run_dir, resume=resume, dataset=train_set)
    return ev.evaluate_model(
        result.model, test_set, eval_batch, train_cfg.device, progress, inputs=train_cfg.inputs
    )


# --------------------------------------------------------------------------------------------
# the runner
# --------------------------------------------------------------------------------------------
@dataclass
class Ablation:
    """A grid of variants x seeds under one profile, written to `out_dir`."""

    profile: Profile
    out_dir: Path
    variants: tuple[str, ...] | None = None
    seeds: tuple[int, ...] | None = None
    device: str = "auto"
    progress: bool = True
    log: Callable[[str], None] = print
    # A finished run never resumes: its checkpoint.pt (weights + optimizer state, ~22 MB for a
    # lite head) is deleted once metrics.json is written; model.pt keeps the weights.
    keep_checkpoints: bool = False

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        self.variants = tuple(self.variants or self.profile.variants)
        self.seeds = tuple(self.seeds if self.seeds is not None else self.profile.seeds)
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown:
            raise ValueError(f"Unknown variants {unknown}; choose from {sorted(VARIANTS)}.")
        if BASELINE_VARIANT not in self.variants:
            self.log(f"note: {BASELINE_VARIANT!r} is not in the grid; paired comparisons skipped")

    # ---- pieces -------------------------------------------------------------------------
    def base_model_config(self) -> ModelConfig:
        from handoccnet_lite.engine.profiles import profile_model_config

        return profile_model_config(self.profile)

    def train_config(self, model_cfg: ModelConfig, seed: int, head: bool) -> Any:
        from handoccnet_lite.engine.trainer import TrainConfig

        over = self.profile.head_train if head else self.profile.train
        over = {"threads": self.profile.threads} | over  # a stage may set its own threads
        return TrainConfig(
            model=model_cfg,
            data_root=self.profile.data.root,
            seed=seed,
            device=self.device,
            progress=self.progress,
            inputs="features" if head else "image",
            **over,
        )

    def run_dirs(self) -> list[tuple[str, int, Path]]:
        return [(v, s, self.out_dir / v / f"seed{s}") for v in self.variants for s in self.seeds]

    def datasets(self, seed: int | None = None) -> tuple[Dataset, Dataset]:
        """Train (seeded; augmented unless the profile's train config says `augment: False`) and
        test SynthOcc image sets of the profile (generated if missing)."""
        from handoccnet_lite.data.dataset import SynthOccDataset
        from handoccnet_lite.engine.trainer import ALL_SHARDS, first_items

        ensure_data(self.profile, self.progress)
        size = self.base_model_config().input_size
        spec = self.profile.data
        return (
            first_items(
                SynthOccDataset(
                    spec.root,
                    "train",
                    size,
                    augment=bool(self.profile.train.get("augment", True)),
                    seed=seed or self.seeds[0],
                    cache_shards=ALL_SHARDS,
                ),
                spec.max_train,
            ),
            first_items(SynthOccDataset(spec.test_dir, "test", size, augment=False), spec.max_test),
        )

    # ---- cached protocol ------------------------------------------------------------------
    def backbone(self, train_set: Dataset) -> Path:
        """Train the full official model once (skipped when backbone/model.pt exists)."""
        from handoccnet_lite.engine.trainer import train

        run_dir = self.out_dir / "backbone"
        if (run_dir / ckpt.MODEL_NAME).is_file():
            self.log(f"skip backbone: {run_dir / ckpt.MODEL_NAME} exists")
            return run_dir / ckpt.MODEL_NAME
        cfg = self.train_config(self.base_model_config(), self.seeds[0], head=False)
        self.log(f"backbone: training the full official model ({run_dir})")
        train(cfg, run_dir, resume=(run_dir / ckpt.CHECKPOINT_NAME).is_file(), dataset=train_set)
        return run_dir / ckpt.MODEL_NAME

    def feature_cache(self, weights: Path, train_set: Dataset, test_set: Dataset) -> None:
        """features/train.pt and features/test.pt (skipped when present)."""
        from handoccnet_lite.engine.trainer import build_model

        folder = self.out_dir / "features"
        todo = [
            (n, d, c)
            for n, d, c in (
                ("train", train_set, self.profile.feature_copies),
                ("test", test_set, 1),
            )
            if not (folder / f"{n}.pt").is_file()
        ]
        if not todo:
            return
        state = ckpt.load_checkpoint(weights)
        model = build_model(ModelConfig.from_dict(ckpt.model_config_of(state)))
        model.load_state_dict(state["model"])
        for name, data, copies in todo:
            self.log(
                f"caching pre-gate features of {name} ({copies} cop{'y' if copies == 1 else 'ies'})"
            )
            cache = extract_feature_cache(
                model,
                data,
                copies,
                self.seeds[0],
                self.profile.eval_batch,
                self.device,
                self.progress,
            )
            atomic_torch_save(cache, folder / f"{name}.pt")

    def mean_pose(self, train_set: Dataset, frame: str = "camera") -> ev.MeanPoseBaseline:
        """The constant baseline of `frame` ("camera": mean_pose.npz, "hand": mean_hand.npz)."""
        path = self.out_dir / BASELINE_FILES[frame].replace(".json", ".npz")
        if path.is_file():
            return ev.MeanPoseBaseline.load(path)
        base = ev.MeanPoseBaseline.fit(train_set, progress=self.progress, frame=frame)
        base.save(path)
        return base

    # ---- main -----------------------------------------------------------------------------
    def pending(self) -> list[tuple[str, int, Path]]:
        """Runs without metrics.json."""
        return [r for r in self.run_dirs() if not run_done(r[2])]

    def run(self) -> pd.DataFrame:
        """Run every pending run, then collect results; returns the runs table.

        Wall time of each stage is added to timings.json (seconds; a resumed run adds its own).
        """
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.profile.threads > 0:
            torch.set_num_threads(self.profile.threads)
        pending = self.pending()
        done = len(self.run_dirs()) - len(pending)
        self.log(
            f"ablation '{self.profile.name}' ({self.profile.protocol} protocol): "
            f"{len(pending)} runs to do, {done} already done (skipped)"
        )
        if pending or not all((self.out_dir / f).is_file() for f in BASELINE_FILES.values()):
            train_set, test_set = self._prepare_sets()
            with self.timed("mean_pose_baseline"):
                self._baseline(train_set, test_set)
            with self.timed("head_runs" if self.profile.protocol == "cached" else "runs"):
                if self.profile.parallel_runs > 1 and self.profile.protocol == "cached":
                    self._run_parallel(pending)
                else:
                    for i, (variant, seed, run_dir) in enumerate(pending, 1):
                        self.log(f"[{i}/{len(pending)}] {variant} seed {seed} -> {run_dir}")
                        self.run_one(variant, seed, run_dir, train_set, test_set)
        return collect(self.out_dir, self.profile)

    def _run_parallel(self, pending: list[tuple[str, int, Path]]) -> None:
        """Head runs in `profile.parallel_runs` spawned processes (each `profile.threads`
        threads), each reading the feature cache itself; results land as in the serial loop."""
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        ctx = mp.get_context("spawn")  # no fork after torch's thread pools started
        args = (self.profile, str(self.out_dir), self.device, self.keep_checkpoints)
        with ProcessPoolExecutor(self.profile.parallel_runs, mp_context=ctx) as pool:
            futures = {
                pool.submit(_parallel_run, *args, variant, seed): (variant, seed)
                for variant, seed, _ in pending
            }
            for i, fut in enumerate(as_completed(futures), 1):
                variant, seed = futures[fut]
                m = fut.result()  # re-raises a failed run's error
                self.log(
                    f"[{i}/{len(pending)}] done {variant} seed {seed}: PA-MPJPE "
                    f"{m['pa_mpjpe']:.2f} mm in {m['seconds']:.0f} s"
                )

    @contextlib.contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Add the wall time of the block to timings.json under `stage`."""
        start = time.perf_counter()
        try:
            yield
        finally:
            path = self.out_dir / TIMINGS_NAME
            times = json.loads(path.read_text()) if path.is_file() else {}
            times[stage] = round(times.get(stage, 0.0) + time.perf_counter() - start, 1)
            _write_json(path, times)

    def _prepare_sets(self) -> tuple[Dataset, Dataset]:
        with self.timed("data"):
            train_img, test_img = self.datasets()
        if self.profile.protocol == "full":
            return train_img, test_img
        with self.timed("backbone"):
            weights = self.backbone(train_img)
        with self.timed("feature_cache"):
            self.feature_cache(weights, train_img, test_img)
        folder = self.out_dir / "features"
        train_set = FeatureDataset.load(folder / "train.pt")
        test_set = FeatureDataset.load(folder / "test.pt")
        with self.timed("backbone_eval"):
            self.evaluate_backbone(weights, test_set)
        return train_set, test_set

    def evaluate_backbone(self, weights: Path, test_set: Dataset) -> None:
        """Score the stage-1 full model (official head) on the test set: backbone/test_metrics.json.

        Its head runs on the cached test features, which equals running it on the test images
        (eval mode, same weights)."""
        path = weights.parent / STAGE1_METRICS
        if path.is_file():
            return
        from handoccnet_lite.engine.trainer import build_model

        state = ckpt.load_checkpoint(weights)
        model = build_model(ModelConfig.from_dict(ckpt.model_config_of(state)))
        model.load_state_dict(state["model"])
        df = ev.evaluate_model(
            model, test_set, self.profile.eval_batch, self.device, self.progress, inputs="features"
        )
        df.to_csv(weights.parent / "test_per_sample.csv", index=False)
        _write_json(path, ev.results_record(df))

    def _baseline(self, train_set: Dataset, test_set: Dataset) -> None:
        """Constant baselines: fit on the train set, score on the test set (mean_pose.json,
        mean_hand.json; see evaluate.MeanPoseBaseline)."""
        for frame, name in BASELINE_FILES.items():
            if (self.out_dir / name).is_file():
                continue
            base = self.mean_pose(train_set, frame)
            df = ev.evaluate_baseline(base, test_set, self.profile.eval_batch)
            df.to_csv(self.out_dir / name.replace(".json", "_per_sample.csv"), index=False)
            _write_json(self.out_dir / name, ev.results_record(df))

    def run_one(
        self, variant: str, seed: int, run_dir: Path, train_set: Dataset, test_set: Dataset
    ) -> dict[str, Any]:
        """Train and evaluate one (variant, seed); writes metrics.json last."""
        head = self.profile.protocol == "cached"
        cfg = self.train_config(variant_config(self.base_model_config(), variant), seed, head)
        if head:
            cfg = cfg.replace(init_from=str(self.out_dir / "backbone" / ckpt.MODEL_NAME))
        else:
            train_set = self.datasets(seed)[0]  # augmentation seeded per run
        start = time.perf_counter()
        per_sample = _train_and_eval(
            cfg, run_dir, train_set, test_set, self.profile.eval_batch, self.progress
        )
        meta = {
            "variant": variant,
            "seed": seed,
            "profile": self.profile.name,
            "protocol": self.profile.protocol,
            "seconds": round(time.perf_counter() - start, 2),
        }
        metrics = finish_run(run_dir, per_sample, meta)
        if not self.keep_checkpoints:
            ckpt.remove_checkpoints(run_dir)  # latest and previous; model.pt stays
        return metrics


_WORKER_SETS: dict[str, tuple[Dataset, Dataset]] = {}


def _quiet(message: str) -> None:
    """Workers do not print the runner's notes (the parent logs each finished run)."""


def _parallel_run(
    profile: Profile, out_dir: str, device: str, keep_checkpoints: bool, variant: str, seed: int
) -> dict[str, Any]:
    """One head run in a worker process (see Ablation._run_parallel); returns its metrics."""
    if profile.threads > 0:
        torch.set_num_threads(profile.threads)
    if out_dir not in _WORKER_SETS:
        folder = Path(out_dir) / "features"
        _WORKER_SETS[out_dir] = (
            FeatureDataset.load(folder / "train.pt"),
            FeatureDataset.load(folder / "test.pt"),
        )
    train_set, test_set = _WORKER_SETS[out_dir]
    abl = Ablation(
        profile,
        Path(out_dir),
        (variant,),
        (seed,),
        device,
        progress=False,
        log=_quiet,
        keep_checkpoints=keep_checkpoints,
    )
    run_dir = Path(out_dir) / variant / f"seed{seed}"
    return abl.run_one(variant, seed, run_dir, train_set, test_set)


def check_existing_set(folder: Path, n: int, spec: DataSpec) -> None:
    """An existing generated split must be the one the profile asks for (count, seed,
    resolution); otherwise a clear error, never a silent run on other data. n = 0: not ours."""
    manifest = folder / "manifest.json"
    if n == 0 or not manifest.is_file():
        return
    info = json.loads(manifest.read_text())
    want = {"count": n, "seed": spec.seed, "resolution": spec.image_size or info.get("resolution")}
    wrong = {k: (info.get(k), v) for k, v in want.items() if info.get(k) != v}
    if wrong:
        found = ", ".join(f"{k} {have} (profile: {v})" for k, (have, v) in wrong.items())
        raise ValueError(
            f"{folder} holds another SynthOcc set than the profile's: {found}. Delete the "
            f"folder (the profile regenerates it) or point the profile's data.root elsewhere."
        )


def ensure_data(profile: Profile, progress: bool = True) -> None:
    """Generate the profile's SynthOcc set when missing (bundled samples are never rebuilt)."""
    spec = profile.data
    splits = ((spec.root, "train", spec.n_train), (spec.test_dir, "test", spec.n_test))
    for root, split, n in splits:
        check_existing_set(Path(root) / split, n, spec)
    todo = [(Path(r), s, n) for r, s, n in splits if not (Path(r) / s / "manifest.json").is_file()]
    if not todo:
        return
    missing = [f"{r}/{s}" for r, s, n in todo if n == 0]
    if missing:
        raise FileNotFoundError(
            f"SynthOcc split(s) {missing} are missing and the profile does not generate them; "
            "for the bundled samples run `handoccnet-lite data --samples`."
        )
    from handoccnet_lite.data.synthocc import generate_synthocc

    for root, split, n in todo:
        generate_synthocc(
            root,
            n,
            seed=spec.seed,
            split=split,
            resolution=spec.image_size or 128,
            progress=progress,
        )


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------
def collect(out_dir: str | Path, profile: Profile | None = None) -> pd.DataFrame:
    """Gather every finished run into runs.csv, per_sample.csv, summary.csv, paired.csv,
    report.md (+ parquet when pyarrow is installed); returns the runs table."""
    out_dir = Path(out_dir)
    rows, samples = [], []
    for metrics_path in sorted(out_dir.glob(f"*/seed*/{METRICS_NAME}")):
        m = json.loads(metrics_path.read_text())
        rows.append(m)
        ps = pd.read_csv(metrics_path.parent / "per_sample.csv")
        samples.append(ps.assign(variant=m["variant"], seed=m["seed"]))
    if not rows:
        raise FileNotFoundError(f"No finished runs (*/seed*/{METRICS_NAME}) under {out_dir}.")
    runs = pd.json_normalize(rows, sep="_")  # "alignment": {...} -> alignment_protocol, ...
    per_sample = pd.concat(samples, ignore_index=True)
    summary = summary_long(runs)
    paired = paired_table(runs)
    _save_table(runs, out_dir / "runs.csv")
    _save_table(per_sample, out_dir / "per_sample.csv")
    summary.to_csv(out_dir / "summary.csv", index=False)
    paired.to_csv(out_dir / "paired.csv", index=False)
    write_report(out_dir, summary, paired, profile)
    return runs


def _save_table(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return
    df.to_parquet(path.with_suffix(".parquet"), index=False)


def summary_long(runs: pd.DataFrame, metrics: tuple[str, ...] = HEADLINE) -> pd.DataFrame:
    """Per variant and metric: mean, std, n and 95% Student-t interval over seeds."""
    from handoccnet_lite.stats import summarize

    parts = [summarize(runs, "variant", m).assign(metric=m) for m in metrics if m in runs]
    out = pd.concat(parts, ignore_index=True)
    return out[["variant", "metric", *[c for c in out if c not in ("variant", "metric")]]]


def paired_table(runs: pd.DataFrame, metrics: tuple[str, ...] = HEADLINE) -> pd.DataFrame:
    """Every variant vs the official one, paired over seeds (difference = variant - official)."""
    from handoccnet_lite.stats import paired_comparison

    variants = [v for v in runs["variant"].unique() if v != BASELINE_VARIANT]
    if BASELINE_VARIANT not in set(runs["variant"]):
        return pd.DataFrame()
    rows = []
    for v in variants:
        for m in metrics:
            if m in runs:
                res = paired_comparison(
                    runs, v, BASELINE_VARIANT, "seed", m, lower_is_better=m not in HIGHER_IS_BETTER
                )
                rows.append(res.as_dict())
    return pd.DataFrame(rows)


def _markdown(df: pd.DataFrame, digits: int = 3) -> str:
    """A pipe table (no tabulate dependency)."""
    cols = list(df.columns)

    def fmt(x: Any) -> str:
        return f"{x:.{digits}g}" if isinstance(x, float | np.floating) else str(x)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(x) for x in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def _relative(value: float, reference: float) -> str:
    """'12.3% better than' or '4.5% worse than' (errors: lower is better)."""
    gain = 1 - value / reference
    return f"{abs(gain):.1%} {'better' if gain >= 0 else 'worse'} than"


def _spread_line(what: str, m: dict[str, Any]) -> str:
    return (
        f"Prediction spread of the {what}: {m['pred_spread']:.2f} mm (ground truth "
        f"{m['gt_spread']:.2f} mm; near 0 = a constant hand whatever the image)."
    )


def _spread_by_variant(out_dir: Path) -> dict[str, float]:
    """Mean pred_spread per variant over its runs (+ '_gt'), from runs.csv when recorded."""
    path = out_dir / "runs.csv"
    if not path.is_file():
        return {}
    runs = pd.read_csv(path)
    if "pred_spread" not in runs:
        return {}
    means = runs.groupby("variant", sort=False)["pred_spread"].mean()
    out = {v: float(means[v]) for v in VARIANTS if v in means}
    out["_gt"] = float(runs["gt_spread"].mean())
    return out


def write_report(
    out_dir: Path, summary: pd.DataFrame, paired: pd.DataFrame, profile: Profile | None
) -> Path:
    """report.md: protocol statement, mean-pose reference, summary and paired tables."""
    lines = [
        "# Ablation results (SynthOcc (synthetic) test split; our measurements, not the paper's)",
        "",
    ]
    if profile is not None:
        lines += [
            f"Profile `{profile.name}` (preset {profile.preset}), {profile.protocol} "
            "protocol. "
            + (
                "CPU budget protocol: one backbone + FPN trained once "
                "(official variant); each variant's gate, FIT, SET and regressor trained on "
                "its cached pre-gate features."
                if profile.protocol == "cached"
                else "Full protocol: every variant trained end to end."
            ),
            "",
        ]
    refs: dict[str, dict[str, float]] = {}  # frame -> the baseline's metrics, when recorded
    for frame, name in BASELINE_FILES.items():
        path = out_dir / name
        if path.is_file():
            refs[frame] = m = json.loads(path.read_text())
            lines += [
                f"{BASELINE_LABELS[frame]}: PA-MPJPE {m['pa_mpjpe']:.2f} mm, "
                f"MPJPE {m['mpjpe']:.2f} mm.",
                "",
            ]
    stage1 = out_dir / "backbone" / STAGE1_METRICS
    if stage1.is_file() and "camera" in refs:
        s1m = json.loads(stage1.read_text())
        s1 = s1m["pa_mpjpe"]
        vs = [f"{_relative(s1, refs[f]['pa_mpjpe'])} the {ev.BASELINE_NAMES[f]}" for f in refs]
        lines += [
            f"Stage-1 full model (backbone + FPN + official head, trained on images): PA-MPJPE "
            f"{s1:.2f} mm, {', '.join(vs)}.",
            "",
        ]
        if "pred_spread" in s1m:
            lines += [_spread_line("stage-1 model", s1m), ""]
    spread = _spread_by_variant(out_dir)
    if spread:
        lines += [
            "Prediction spread (rigidly aligned distance of each predicted hand to the average "
            "predicted hand, mm; near 0 = one constant hand whatever the image; ground truth: "
            f"{spread.pop('_gt'):.2f} mm): "
            + ", ".join(f"{v} {x:.2f}" for v, x in spread.items())
            + ".",
            "",
        ]
    lines += ["## Mean over seeds with 95% t-interval", "", _markdown(summary), ""]
    if not paired.empty:
        cols = ["a", "b", "value", "n", "mean_diff", "ci_low", "ci_high", "p_value", "better"]
        lines += ["## Paired over seeds (a - b)", "", _markdown(paired[cols]), ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path


def _reference_lines(ax: Any, out_dir: Path) -> None:
    """Dashed lines for the constant baselines and the stage-1 full model, when recorded."""
    refs = [
        (out_dir / "mean_pose.json", "mean-pose baseline", "tab:red"),
        (out_dir / "mean_hand.json", "mean-hand baseline", "tab:orange"),
        (out_dir / "backbone" / STAGE1_METRICS, "stage-1 full model", "tab:blue"),
    ]
    for path, label, color in refs:
        if path.is_file():
            value = json.loads(path.read_text())["pa_mpjpe"]
            ax.axhline(value, ls="--", lw=1, color=color, label=f"{label} ({value:.1f} mm)")
    ax.legend(fontsize=7, ncols=2)


def plot_results(out_dir: str | Path, figures_dir: str | Path | None = None) -> list[Path]:
    """figures/ablation_pa_mpjpe.png and figures/ablation_vs_occlusion.png from the results."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from handoccnet_lite.utils import save_figure

    out_dir = Path(out_dir)
    runs = pd.read_csv(out_dir / "runs.csv")
    per_sample = pd.read_csv(out_dir / "per_sample.csv")
    order = [v for v in VARIANTS if v in set(runs["variant"])]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    sns.pointplot(
        data=runs,
        x="variant",
        y="pa_mpjpe",
        order=order,
        errorbar=("ci", 95),
        linestyle="none",
        capsize=0.2,
        ax=ax,
        color="k",
    )
    sns.stripplot(
        data=runs,
        x="variant",
        y="pa_mpjpe",
        order=order,
        hue="seed",
        ax=ax,
        palette="deep",
        size=5,
        alpha=0.8,
    )
    _reference_lines(ax, out_dir)
    ax.set_ylabel("PA-MPJPE (mm)")
    ax.set_title("Ablation on SynthOcc (synthetic) test: mean, bootstrap 95% CI over seeds")
    paths = [save_figure(fig, "ablation_pa_mpjpe", figures_dir)]
    plt.close(fig)
    fig = ev.plot_vs_occlusion(per_sample, "pa_mpjpe", hue="variant")
    fig.axes[0].set_title(
        "pa_mpjpe vs occlusion, SynthOcc (synthetic) test: mean, 95% CI over samples x seeds"
    )
    paths.append(save_figure(fig, "ablation_vs_occlusion", figures_dir))
    plt.close(fig)
    return paths
