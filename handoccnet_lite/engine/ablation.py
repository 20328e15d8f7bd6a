"""The ablation runner: a grid of variants x seeds, resumable, one folder per run, tidy results.

Layout under the output folder (default runs/ablation/<profile>):

    backbone/              cached protocol: the backbone + FPN run (full model, official variant)
    features/train.pt      cached pre-gate FPN features F (N, C, G, G) + targets (augmented copies)
    features/test.pt
    mean_pose.npz/.json    constant baselines fitted on the train set, scored on the test set:
    mean_hand.npz/.json    mean root-relative hand in the camera frame / in the hand's own frame
                           (evaluate.MeanPoseBaseline; the second is the stronger for PA-MPJPE)
    <variant>/seed<k>/     config.json, log.csv, model.pt, per_sample.csv, attention.csv (the
                           attention measures on the test set), metrics.json (its
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
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch.utils.data import Dataset

from handoccnet_lite.config import ModelConfig
from handoccnet_lite.engine import checkpoint as ckpt
from handoccnet_lite.engine import evaluate as ev
from handoccnet_lite.engine.ablation_attention import ATTENTION_NAME, write_run_attention
from handoccnet_lite.engine.ablation_report import (
    BASELINE_FILES,
    FAILED_NAME,
    STAGE1_METRICS,
    _write_json,
    collect,
    finish_run,
    record_failure,
    run_done,
    timed_stage,
)
from handoccnet_lite.engine.builders import ALL_SHARDS, first_items, load_trained_model
from handoccnet_lite.engine.features import FeatureDataset, adopt_stage1, extract_feature_cache
from handoccnet_lite.engine.profile_data import ensure_data
from handoccnet_lite.engine.profiles import (
    BASELINE_VARIANT,
    VARIANTS,
    Profile,
    imagenet_start_status,
    profile_model_config,
    variant_config,
)
from handoccnet_lite.engine.train_config import TrainConfig
from handoccnet_lite.engine.trainer import train
from handoccnet_lite.utils import atomic_torch_save

TIMINGS_NAME = "timings.json"


# --------------------------------------------------------------------------------------------
# one run
# --------------------------------------------------------------------------------------------
def _train_and_eval(
    train_cfg: Any,
    run_dir: Path,
    train_set: Dataset,
    test_set: Dataset,
    eval_batch: int,
    progress: bool,
) -> pd.DataFrame:
    """Train (resuming an interrupted run), write its attention measures on the test set
    (attention.csv) and return per-sample test records."""
    resume = ckpt.has_checkpoint(run_dir)
    result = train(train_cfg, run_dir, resume=resume, dataset=train_set)
    write_run_attention(result.model, test_set, run_dir, eval_batch, train_cfg.device)
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
    compile: bool | None = None  # torch.compile every run (None: the profile's `compile`)

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
        return profile_model_config(self.profile)

    def train_config(self, model_cfg: ModelConfig, seed: int, head: bool) -> Any:
        over = self.profile.head_train if head else self.profile.train
        over = {"threads": self.profile.threads} | over  # a stage may set its own threads
        over = {"compile": self.profile.compile if self.compile is None else self.compile} | over
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

        ensure_data(self.profile, self.progress)
        model, spec = self.base_model_config(), self.profile.data  # masks on the model's grid
        return (
            first_items(
                SynthOccDataset.for_model(
                    spec.root,
                    "train",
                    model,
                    augment=bool(self.profile.train.get("augment", True)),
                    seed=seed or self.seeds[0],
                    cache_shards=ALL_SHARDS,
                ),
                spec.max_train,
            ),
            first_items(SynthOccDataset.for_model(spec.test_dir, "test", model), spec.max_test),
        )

    # ---- cached protocol ------------------------------------------------------------------
    def backbone(self, train_set: Dataset) -> Path:
        """Train the full official model once (skipped when backbone/model.pt exists)."""
        run_dir = self.out_dir / "backbone"
        if (run_dir / ckpt.MODEL_NAME).is_file():
            self.log(f"skip backbone: {run_dir / ckpt.MODEL_NAME} exists")
            return run_dir / ckpt.MODEL_NAME
        if self.profile.stage1:  # adopted, not trained
            self.log(f"backbone: adopting {self.profile.stage1} as stage 1 ({run_dir})")
            dest = run_dir / ckpt.MODEL_NAME
            return adopt_stage1(self.profile.stage1, self.base_model_config(), dest)
        cfg = self.train_config(self.base_model_config(), self.seeds[0], head=False)
        self.log(f"backbone: training the full official model ({run_dir})")
        train(cfg, run_dir, resume=ckpt.has_checkpoint(run_dir), dataset=train_set)
        return run_dir / ckpt.MODEL_NAME

    def feature_cache(self, weights: Path, train_set: Dataset, test_set: Dataset) -> None:
        """features/train.pt and features/test.pt (skipped when present)."""
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
        model = load_trained_model(weights)
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
        status = imagenet_start_status(self.profile)
        if status and pending:
            self.log(status)
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
                        self.run_isolated(variant, seed, run_dir, train_set, test_set)
        return collect(self.out_dir, self.profile)

    def run_isolated(
        self, variant: str, seed: int, run_dir: Path, train_set: Dataset, test_set: Dataset
    ) -> dict[str, Any] | None:
        """`run_one`, but a failure (e.g. a non-finite loss) is recorded in the run folder's
        failed.json and logged, and the grid goes on; returns the metrics or None."""
        try:
            return self.run_one(variant, seed, run_dir, train_set, test_set)
        except Exception as err:  # noqa: BLE001 - recorded with its reason, see failed_runs
            record_failure(run_dir, variant, seed, err)
            self.log(f"FAILED {variant} seed {seed}: {type(err).__name__}: {err}")
            return None

    def _run_parallel(self, pending: list[tuple[str, int, Path]]) -> None:
        """Head runs in `profile.parallel_runs` spawned processes (each `profile.threads`
        threads), each reading the feature cache itself; results land as in the serial loop."""
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        ctx = mp.get_context("spawn")  # no fork after torch's thread pools started
        profile = self.profile  # the workers build their Ablation from the profile
        if self.compile is not None:
            profile = dataclasses.replace(profile, compile=self.compile)
        args = (profile, str(self.out_dir), self.device, self.keep_checkpoints)
        with ProcessPoolExecutor(self.profile.parallel_runs, mp_context=ctx) as pool:
            futures = {
                pool.submit(_parallel_run, *args, variant, seed): (variant, seed)
                for variant, seed, _ in pending
            }
            for i, fut in enumerate(as_completed(futures), 1):
                variant, seed = futures[fut]
                try:
                    m = fut.result()  # re-raises a failed run's error
                except Exception as err:  # noqa: BLE001 - recorded, the other runs go on
                    record_failure(self.out_dir / variant / f"seed{seed}", variant, seed, err)
                    self.log(f"[{i}/{len(pending)}] FAILED {variant} seed {seed}: {err}")
                    continue
                self.log(
                    f"[{i}/{len(pending)}] done {variant} seed {seed}: PA-MPJPE "
                    f"{m['pa_mpjpe']:.2f} mm in {m['seconds']:.0f} s"
                )

    def timed(self, stage: str) -> contextlib.AbstractContextManager[None]:
        """Add the wall time of the block to timings.json under `stage`."""
        return timed_stage(self.out_dir / TIMINGS_NAME, stage)

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
        """Score the stage-1 full model (official head) on the test set: backbone/test_metrics.json
        and its attention measures, backbone/attention.csv (each skipped when present).

        Its head runs on the cached test features, which equals running it on the test images
        (eval mode, same weights)."""
        path, batch = weights.parent / STAGE1_METRICS, self.profile.eval_batch
        if path.is_file() and (weights.parent / ATTENTION_NAME).is_file():
            return
        model = load_trained_model(weights)
        write_run_attention(model, test_set, weights.parent, batch, self.device)
        if path.is_file():
            return
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
        (run_dir / FAILED_NAME).unlink(missing_ok=True)  # a retry: the old failure is history
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
    abl = Ablation(profile, Path(out_dir), (variant,), (seed,), device, progress=False,
                   log=_quiet, keep_checkpoints=keep_checkpoints)  # fmt: skip
    run_dir = Path(out_dir) / variant / f"seed{seed}"
    return abl.run_one(variant, seed, run_dir, train_set, test_set)
