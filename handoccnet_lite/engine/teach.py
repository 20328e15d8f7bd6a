"""Teaching runs (`handoccnet-lite teach`; the curves' picture and the bundling of a snapshot are
in `engine.teach_report`): the long, resumable training of the models that the
notebooks and the attention explorer show (one per variant: the release's "official" FIT/SET and
the supplement's).

Why a separate runner. A model that *shows* the paper's point (a spatial gate that finds the
visible hand, FIT attention that looks from the occluded hand to the visible one) needs a 2D
branch far better than the 20-minute stage 1 of the cpu ablation gives: from random weights the
2D error still falls by a roughly constant amount per doubling of the images seen after 1900
steps (results/cpu_ablation/stage1_log.csv). So the teaching run trains for hours, in chunks, and
after every chunk it

1. evaluates on the held-out SynthOcc test split (PA-MPJPE, MPJPE, PA-MPVPE and the 2D error in
   crop sides, RMS per coordinate) and appends a row to ``curve.csv``;
2. writes a float16 snapshot of the weights (< 10 MB, `export_model`) with the run's log and
   config into a folder meant to be committed (``results/teach/<variant>/``).

A stopped run resumes exactly from ``runs/teach/<variant>/checkpoint.pt`` (optimizer and data
position included). On a fresh clone, where runs/ is absent, it continues from the committed
snapshot: the weights are restored, the optimizer starts anew (its state is never committed),
and the step count goes on from the snapshot's, so the learning curve stays one curve.

The recipe is the cpu profile's (engine.profiles.CPU_MODEL_OVERRIDES) with 16 x 16 tokens: the
lite preset's own 128-px input, or (``input_size=64``, the bundled models since the tenth
session) 64 px with feature stride 4 from a backbone pre-trained on a dense task
(``start="dense"``, engine.pretrain). The learning rate is constant within a
*phase* and changes between phases (``--lr``): a call whose lr differs from the last segment's
archives the run folder (``runs/teach/<variant>.segment<k>``) and starts a new segment from its
latest weights with a fresh Adam at the new lr, so a schedule is written as phases (1e-3 while the
curve falls, then 1e-4 to settle) and every snapshot stays a valid branch point. The curve and
the step count run on across phases; each segment records its lr in ``teach_state.json``.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from handoccnet_lite.engine.profiles import TEACH_MODEL_OVERRIDES, VARIANTS
from handoccnet_lite.engine.teach_eval import headline_attention
from handoccnet_lite.utils import DATA_SAMPLES_DIR, REPO_ROOT, repo_relative, repo_relative_tree

#: The variants the explorer offers a teaching model of.
TEACH_VARIANTS: tuple[str, ...] = ("official", "supplement")

#: Model recipe: engine.profiles.TEACH_MODEL_OVERRIDES (the cpu recipe at 128 px, G = 16).

#: Training settings (TrainConfig fields). lr_gamma 1: constant lr.
TEACH_TRAIN: dict[str, Any] = {
    "batch_size": 32,
    "base_lr": 1e-3,
    "lr_scaling": "none",
    "lr_gamma": 1.0,
    "lr_step_epochs": 1,
    "augment": True,  # the training set repeats over hours: scale/rotation/colour jitter
    "ckpt_every": 50,
    "tensorboard": False,
    "epochs": 10_000,  # the run is bounded by steps/time, never by epochs
}

#: The data's viewpoint options: SynthOcc's own (uniform on SO(3)) and "upright" (the crop turns
#: the hand fingers-up, then N(0, 30 deg) clipped to +- 60 deg; data.dataset.AugmentConfig).
VIEWPOINTS: dict[str, float | None] = {"uniform": None, "upright": 30.0}
#: How a new run's backbone starts: random weights (the recipe), or dense pre-training at 64 px
#: (engine.pretrain; trials T6, T8). A run of another start has its own folders.
STARTS: tuple[str, ...] = ("random", "dense")
#: Input sizes of a teaching model and their feature strides: 16 x 16 tokens either way. 64 px
#: with stride 4 (the FPN's P2 without the release's pooling) costs about 0.6x the CPU per image
#: and learns about as fast per image (trial T11); its own folders: <variant>-64px.
INPUTS: dict[int, int] = {128: 8, 64: 4}

CURVE_NAME = "curve.csv"
STATE_NAME = "teach_state.json"
SNAPSHOT_NAME = "model.pt"


@dataclass(frozen=True)
class TeachPlan:
    """Where a teaching run reads and writes, and how it is cut into chunks."""

    variant: str = "official"
    preset: str = "lite"  # tests use "tiny"
    data_root: str = str(REPO_ROOT / "runs" / "synthocc_teach")
    test_root: str = str(DATA_SAMPLES_DIR / "synthocc")
    run_root: str = str(REPO_ROOT / "runs" / "teach")
    snapshot_root: str = str(REPO_ROOT / "results" / "teach")
    chunk_steps: int = 250  # steps between evaluations and snapshots
    lr: float | None = None  # the phase's constant Adam lr; None: the last phase's (new run: 1e-3)
    viewpoint: str = "uniform"  # VIEWPOINTS; a run of another viewpoint has its own folders
    start: str = "random"  # STARTS
    input_size: int = 128  # INPUTS (the tiny preset, in tests: its own 64 px)
    pretrain_images: int = 64_000  # start "dense": images of the 64-px pre-training
    threads: int = 1
    seed: int = 0
    eval_batch: int = 50
    eval_max: int = 0  # > 0: evaluate on the first eval_max test images only (tests)

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"Unknown variant {self.variant!r}; choose from {sorted(VARIANTS)}.")
        if self.chunk_steps < 1:
            raise ValueError(f"chunk_steps must be >= 1, got {self.chunk_steps}.")
        if self.viewpoint not in VIEWPOINTS:
            raise ValueError(
                f"viewpoint must be one of {list(VIEWPOINTS)}, got {self.viewpoint!r}."
            )
        if self.input_size not in INPUTS:
            raise ValueError(f"input_size must be one of {list(INPUTS)}, got {self.input_size}.")
        if self.start not in STARTS:
            raise ValueError(f"start must be one of {list(STARTS)}, got {self.start!r}.")
        if self.lr is not None and not 0 < self.lr < 1:
            raise ValueError(f"lr must be in (0, 1), e.g. 1e-3 or 1e-4; got {self.lr}.")

    @property
    def name(self) -> str:
        """The run's folder name: the variant, then the viewpoint and start when not the default."""
        pairs = ((self.viewpoint, "uniform"), (self.start, "random"))
        pairs += ((f"{self.input_size}px", "128px"),)
        extra = [v for v, default in pairs if v != default]
        return "-".join([self.variant, *extra])

    def cli_options(self) -> str:
        """The `teach` options that name this run: `--variant official --input 64 --start dense`."""
        opts = [f"--variant {self.variant}"]
        opts += [f"--viewpoint {self.viewpoint}"] * (self.viewpoint != "uniform")
        opts += [f"--input {self.input_size}"] * (self.input_size != 128)
        opts += [f"--start {self.start}"] * (self.start != "random")
        return " ".join(opts)

    @property
    def run_dir(self) -> Path:
        return Path(self.run_root) / self.name

    @property
    def snapshot_dir(self) -> Path:
        return Path(self.snapshot_root) / self.name


def teach_train_config(plan: TeachPlan) -> Any:
    """The TrainConfig of a teaching run (lite preset, recipe, variant, plan's data/threads)."""
    from handoccnet_lite.config import preset
    from handoccnet_lite.engine.overrides import apply_overrides
    from handoccnet_lite.engine.train_config import TrainConfig

    model = apply_overrides(preset(plan.preset), TEACH_MODEL_OVERRIDES | VARIANTS[plan.variant])
    if plan.preset == "lite" and plan.input_size != model.input_size:  # same grid, other stride
        model = model.replace(input_size=plan.input_size, feature_stride=INPUTS[plan.input_size])
    train = TEACH_TRAIN | {"base_lr": plan.lr or TEACH_TRAIN["base_lr"]}
    return TrainConfig(
        model=model, data_root=plan.data_root, seed=plan.seed, threads=plan.threads,
        upright_sigma_deg=VIEWPOINTS[plan.viewpoint], **train,
    )  # fmt: skip


# ---------------------------------------------------------------------------- state on disk
def read_state(plan: TeachPlan) -> dict[str, Any]:
    """The committed progress record: steps done, images seen, the segments (resume points)."""
    path = plan.snapshot_dir / STATE_NAME
    if not path.is_file():
        return {"steps": 0, "segments": []}
    return json.loads(path.read_text())


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n")
    tmp.replace(path)


def _local_steps(run_dir: Path) -> int:
    """Optimizer steps recorded in the run folder's checkpoint (0 when there is none)."""
    from handoccnet_lite.engine import checkpoint as ckpt

    if not ckpt.has_checkpoint(run_dir):
        return 0
    return int(ckpt.load_resume_checkpoint(run_dir)["position"]["step"])  # latest, else previous


# ---------------------------------------------------------------------------- evaluation
def evaluate_teaching_model(model: Any, plan: TeachPlan) -> dict[str, float]:
    """Test-split metrics of `model`: the evaluation's means (mm), `rms_2d` (the 2D joint error
    in crop sides, root mean square over joints, coordinates and images) and the attention
    measures the acceptance names (evaluation.attention_stats): `gate_auc`, `fit_ratio` (FIT's
    occluded-to-visible ratio, head mean, best block) with its block's background control
    `fit_ratio_background`, and `gate_unsat_hand` (share of FIT gate values of hand queries
    inside (0.05, 0.95), head mean, best block). Always on the test images as SynthOcc drew them;
    a run of another viewpoint is also scored on that viewpoint's view of the same images
    (keys prefixed with the viewpoint, e.g. `upright_rms_2d`)."""
    from handoccnet_lite.engine.teach_eval import evaluate_view

    where = (plan.test_root, plan.eval_max, plan.eval_batch)
    row = evaluate_view(model, *where, None)
    sigma = VIEWPOINTS[plan.viewpoint]
    if sigma is not None:
        row |= {f"{plan.viewpoint}_{k}": v for k, v in evaluate_view(model, *where, sigma).items()}
    return row


def _train_means(run_dir: Path, first: int, last: int) -> dict[str, float]:
    """Means of the logged training losses over steps first..last of this run folder."""
    import pandas as pd

    log = run_dir / "log.csv"
    if not log.is_file():
        return {}
    df = pd.read_csv(log)
    part = df[(df["step"] >= first) & (df["step"] <= last)]
    keep = ("joints_img", "heatmap", "joints_hand", "total", "images_per_s")
    return {f"train_{k}": float(part[k].mean()) for k in keep if k in part and len(part)}


# ---------------------------------------------------------------------------- the runner
def _segment_lr(segment: dict[str, Any]) -> float:
    """The lr a segment trained at (segments recorded before phases existed: the default)."""
    return float(segment.get("lr", TEACH_TRAIN["base_lr"]))


def resolve_lr(plan: TeachPlan, state: dict[str, Any]) -> TeachPlan:
    """plan with its lr made explicit: the given one, else the last segment's (a plain call
    continues the current phase), else TEACH_TRAIN's for a new run."""
    if plan.lr is not None:
        return plan
    last = state["segments"][-1] if state["segments"] else None
    lr = _segment_lr(last) if last is not None else float(TEACH_TRAIN["base_lr"])
    return replace(plan, lr=lr)


def _start_segment(plan: TeachPlan, cfg: Any, state: dict[str, Any]) -> tuple[Any, bool, int]:
    """(config, resume?, step offset) for the next train() call of this session."""
    local = _local_steps(plan.run_dir)
    last = state["segments"][-1] if state["segments"] else None
    if local > 0 and last is not None and _segment_lr(last) != plan.lr:
        # a new phase: archive this run folder and continue from its latest weights
        archived = plan.run_dir.with_name(f"{plan.name}.segment{len(state['segments']) - 1}")
        if archived.exists():
            shutil.rmtree(archived)
        plan.run_dir.rename(archived)
        plan.run_dir.mkdir(parents=True)
        offset = int(last["offset"]) + local
        change = f"lr {_segment_lr(last):g} -> {plan.lr:g}"
        seg = {"offset": offset, "lr": plan.lr, "source": f"step {offset} weights ({change})"}
        seg["started"] = _now()
        state["segments"].append(seg)
        return cfg.replace(init_from=str(archived / "checkpoint.pt")), False, offset
    if local > 0:
        offset = last["offset"] if last is not None else 0
        return cfg, True, offset
    snapshot = plan.snapshot_dir / SNAPSHOT_NAME
    if state["steps"] > 0 and snapshot.is_file():
        # a fresh clone: continue from the committed weights with a new optimizer
        plan.run_dir.mkdir(parents=True, exist_ok=True)
        seg = {"offset": state["steps"], "lr": plan.lr, "source": "committed snapshot"}
        seg["started"] = _now()
        state["segments"].append(seg)
        return cfg.replace(init_from=str(snapshot)), False, state["steps"]
    source = "random initialisation"
    if plan.start == "dense":  # engine.pretrain: resumable; its curve is kept beside the snapshot
        from handoccnet_lite.engine.pretrain import pretrained_start

        folder = plan.run_dir.with_name(f"{plan.name}.pretrain")
        args = (plan.data_root, plan.test_root, folder, plan.snapshot_dir)
        weights, source = pretrained_start(cfg.model, plan.pretrain_images, plan.eval_max, *args)
        cfg = cfg.replace(init_from=str(weights))
    state["segments"] = [{"offset": 0, "lr": plan.lr, "source": source, "started": _now()}]
    return cfg, False, 0


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def snapshot(plan: TeachPlan, state: dict[str, Any], row: dict[str, Any]) -> Path:
    """float16 weights, config, log and curve into plan.snapshot_dir (all small, committable)."""
    from handoccnet_lite.engine.checkpoint import export_model

    out = plan.snapshot_dir
    out.mkdir(parents=True, exist_ok=True)
    note = f"teaching run ({plan.name}), step {state['steps']}: handoccnet_lite.engine.teach"
    _write_json(out / "test_metrics.json", row)
    export_model(plan.run_dir / "checkpoint.pt", out / SNAPSHOT_NAME, note=note, evaluation=row)
    seg = len(state["segments"]) - 1
    shutil.copyfile(plan.run_dir / "log.csv", out / f"log_segment{seg}.csv")
    config = json.loads((plan.run_dir / "config.json").read_text())
    _write_json(out / "config.json", repo_relative_tree(config))
    _write_json(out / STATE_NAME, state)
    _write_json(out / "plan.json", {k: repo_relative(v) for k, v in asdict(plan).items()})
    return out


def append_curve(plan: TeachPlan, row: dict[str, Any]) -> None:
    """One row of the learning curve (csv with a header, appended)."""
    import pandas as pd

    path = plan.snapshot_dir / CURVE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame([row])
    if path.is_file():
        df = pd.concat([pd.read_csv(path), df], ignore_index=True)
    tmp = path.with_suffix(".tmp")
    df.to_csv(tmp, index=False)
    tmp.replace(path)


def teach(plan: TeachPlan, hours: float = 0.0, max_steps: int = 0) -> dict[str, Any]:
    """Train plan.variant in chunks of plan.chunk_steps until `hours` of wall time (0: no limit)
    or `max_steps` total steps (0: no limit) have passed; evaluate and snapshot after each chunk.
    Returns the last curve row."""
    import torch

    from handoccnet_lite.engine.trainer import train

    if hours <= 0 and max_steps <= 0:
        raise ValueError("teach: give a time budget (hours > 0) or a step budget (max_steps > 0).")
    if not (Path(plan.data_root) / "train" / "manifest.json").is_file():
        raise FileNotFoundError(
            f"No SynthOcc training split at {plan.data_root}; render one first: "
            f"`handoccnet-lite data --out {plan.data_root} --n-train 24000 --n-test 1 --seed 7`."
        )
    torch.set_num_threads(plan.threads)
    state = read_state(plan)
    plan = resolve_lr(plan, state)
    cfg, resume, offset = _start_segment(plan, teach_train_config(plan), state)
    deadline = time.monotonic() + hours * 3600 if hours > 0 else float("inf")
    row: dict[str, Any] = {}
    local = _local_steps(plan.run_dir) if resume else 0
    while time.monotonic() < deadline and (max_steps <= 0 or offset + local < max_steps):
        target = local + plan.chunk_steps
        if max_steps > 0:
            target = min(target, max_steps - offset)
        tick = time.monotonic()
        result = train(cfg.replace(max_steps=target), plan.run_dir, resume=resume)
        resume, cfg = True, cfg.replace(init_from="")
        first, local = local + 1, result.steps
        state["steps"] = offset + local
        row = {
            "step": state["steps"],
            "images_seen": state["steps"] * cfg.batch_size,
            "wall_s": round(time.monotonic() - tick, 1),
            "time": _now(),
            **evaluate_teaching_model(result.model, plan),
            **_train_means(plan.run_dir, first, local),
        }
        append_curve(plan, row)
        snapshot(plan, state, row)
        print(
            f"[teach {plan.name}] step {row['step']}: PA-MPJPE {row['pa_mpjpe']:.2f} mm, "
            f"2D {row['rms_2d']:.4f} crop sides RMS, gate AUC {row['gate_auc']:.3f}, "
            f"FIT ratio {row['fit_ratio']:.2f}, unsaturated gates {row['gate_unsat_hand']:.3f}",
            flush=True,
        )
    return row


__all__ = [
    "TEACH_MODEL_OVERRIDES",
    "TEACH_TRAIN",
    "TEACH_VARIANTS",
    "INPUTS",
    "VIEWPOINTS",
    "TeachPlan",
    "append_curve",
    "evaluate_teaching_model",
    "headline_attention",
    "read_state",
    "snapshot",
    "teach",
    "teach_train_config",
]
