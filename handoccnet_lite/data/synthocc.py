"""SynthOcc generator: rendered hands occluded by objects, written as shards + manifest.json.

Layout of a generated set::

    <root>/<split>/manifest.json         counts, generator config, versions, seed, shard list
    <root>/<split>/shard_00000.npz       up to `shard_size` samples each

Each sample is deterministic from (seed, split, index): its generator is
``np.random.Generator(PCG64(SeedSequence([seed, SPLIT_CODES[split], index])))`` (the split code
keeps train and test apart when they share a seed). The hand model runs in float64, batched
over a chunk of indices; the result does not depend on the chunking or the number of workers,
so the same call gives the same bytes (same machine and library versions; the manifest records
them). Run ``python -m handoccnet_lite.data.synthocc`` to regenerate data_samples/synthocc/.

The shard format (arrays, reading, decoding, vertices) is in ``shards``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .. import __version__
from ..utils import DATA_SAMPLES_DIR, atomic_write_bytes, replaced_atomically
from .scene import SceneConfig, render_sample
from .shards import concat_arrays, encode_records, npz_bytes

FORMAT_VERSION = 1
SPLIT_CODES: dict[str, int] = {"train": 0, "val": 1, "test": 2}
LEVEL_ORDER: tuple[str, ...] = ("none", "light", "heavy")
DEFAULT_MIX: dict[str, float] = {"none": 1 / 3, "light": 1 / 3, "heavy": 1 / 3}
CHUNK = 32  # samples per worker task (one batched hand forward)
GOLDEN = 0.6180339887498949


# ----------------------------------------------------------------------------- sampling
def sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of sample `index`: PCG64 seeded by SeedSequence([seed, split code, index])."""
    if split not in SPLIT_CODES:
        raise ValueError(f"split must be one of {list(SPLIT_CODES)}, got {split!r}.")
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence([seed, SPLIT_CODES[split], index]))
    )


def normalise_mix(mix: str | float | Mapping[str, float]) -> dict[str, Any]:
    """Occlusion mix as JSON: {"levels": {name: weight}} or {"target": fraction}."""
    if isinstance(mix, str):
        mix = {mix: 1.0}
    if isinstance(mix, int | float):
        if not 0.0 <= float(mix) < 1.0:
            raise ValueError(f"a target occlusion fraction must be in [0, 1), got {mix}.")
        return {"target": float(mix)}
    unknown = set(mix) - set(LEVEL_ORDER)
    total = sum(float(w) for w in mix.values())
    if unknown or total <= 0 or any(float(w) < 0 for w in mix.values()):
        raise ValueError(
            f"occlusion_mix {dict(mix)} is invalid: expected non-negative weights for levels "
            f"{list(LEVEL_ORDER)} (e.g. {{'none': 1, 'light': 1, 'heavy': 1}}), a level name, "
            "or a target fraction in [0, 1)."
        )
    return {"levels": {k: float(mix[k]) / total for k in LEVEL_ORDER if k in mix}}


def occlusion_target(index: int, rng: np.random.Generator, mix: dict, cfg: SceneConfig):
    """(level name, target fraction) of sample `index`. Levels follow the mix's proportions
    through a golden-ratio sequence over the index (near-exact shares even for small n)."""
    if "target" in mix:
        return "target", mix["target"]
    u = ((index + 0.5) * GOLDEN) % 1.0
    names = list(mix["levels"])
    cum = np.cumsum([mix["levels"][k] for k in names])
    level = names[min(int(np.searchsorted(cum, u, side="right")), len(names) - 1)]
    lo, hi = cfg.levels[level]
    return level, float(rng.uniform(lo, hi)) if hi > 0 else 0.0


# ----------------------------------------------------------------------------- rendering
_WORKER: dict[str, Any] = {}


def _hand_model(kind: str, mano_dir: str | None = None):
    """The float64 hand model of this process (cached)."""
    key = (kind, mano_dir)
    if _WORKER.get("key") != key:
        from ..hand import load_hand_model

        _WORKER["model"] = load_hand_model(kind, mano_dir=mano_dir).double().eval()
        _WORKER["key"] = key
    return _WORKER["model"]


def _init_worker(kind: str, mano_dir: str | None) -> None:
    import torch

    torch.set_num_threads(1)
    _hand_model(kind, mano_dir)


def render_indices(indices: Iterable[int], spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Raw records of the given indices; the hand model runs once for the whole batch."""
    import torch

    from ..hand import sample_poses

    cfg = SceneConfig(**spec["scene"])
    model = _hand_model(spec["hand_model"], spec.get("mano_dir"))
    indices = [int(i) for i in indices]
    rngs = [sample_rng(spec["seed"], spec["split"], i) for i in indices]
    poses, shapes, targets = [], [], []
    for i, rng in zip(indices, rngs, strict=True):
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        mode = "grasp" if rng.uniform() < cfg.grasp_prob else "random"
        poses.append(sample_poses(1, gen, mode=mode, global_orient="random")[0])
        shapes.append(np.clip(rng.normal(0, cfg.beta_std, 10), -2.5, 2.5).astype(np.float32))
        targets.append(occlusion_target(i, rng, spec["occlusion_mix"], cfg)[1])
    pose = torch.stack(poses).double()  # (B, 48)
    shape = torch.from_numpy(np.stack(shapes)).double()  # (B, 10), float32 values
    with torch.no_grad():
        out = model(pose, shape)
    verts, joints = out.vertices.numpy(), out.joints.numpy()  # (B, V, 3), (B, 21, 3)
    faces = model.faces.numpy()
    return [
        render_sample(
            rng,
            verts[b],
            joints[b],
            faces,
            pose[b].numpy(),
            shape[b].numpy(),
            targets[b],
            indices[b],
            cfg,
        )  # fmt: skip
        for b, rng in enumerate(rngs)
    ]


def _render_chunk(args: tuple[list[int], dict[str, Any]]) -> dict[str, np.ndarray]:
    indices, spec = args
    return encode_records(render_indices(indices, spec), spec.get("png_level", 3))


# ----------------------------------------------------------------------------- generation
def _versions() -> dict[str, str]:
    import torch

    return {"handoccnet_lite": __version__, "numpy": np.__version__, "opencv": cv2.__version__,
            "torch": torch.__version__, "format": str(FORMAT_VERSION)}  # fmt: skip


def _chunks(n: int, size: int) -> list[list[int]]:
    return [list(range(s, min(s + size, n))) for s in range(0, n, size)]


def _run_chunks(chunks, spec, workers: int) -> Iterator[dict[str, np.ndarray]]:
    """Packed chunks in order, rendered in this process (workers <= 1) or a spawn pool."""
    if workers <= 1:
        for c in chunks:
            yield _render_chunk((c, spec))
        return
    ctx = get_context("spawn")
    init = (spec["hand_model"], spec.get("mano_dir"))
    with ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init_worker, initargs=init
    ) as ex:
        yield from ex.map(_render_chunk, [(c, spec) for c in chunks])


def generate_synthocc(
    out_dir: str | Path,
    n: int,
    seed: int = 0,
    split: str = "train",
    resolution: int = 128,
    occlusion_mix: str | float | Mapping[str, float] = "mixed",
    workers: int = 2,
    progress: bool = True,
    shard_size: int = 500,
    hand_model: str = "synth",
    mano_dir: str | None = None,
    scene: SceneConfig | None = None,
    png_level: int = 3,
) -> Path:
    """Render n samples of `split` into out_dir/split/ (shards + manifest.json). Returns the
    split folder. occlusion_mix: "mixed" (1/3 each of none/light/heavy), a level name, a dict
    of level weights, or a target fraction. hand_model: "synth", "mano" or "auto". png_level:
    PNG compression (0-9; 3 is ~2x faster to write than 6 and ~12 % larger)."""
    if n <= 0 or resolution < 16:
        raise ValueError(f"need n > 0 and resolution >= 16, got n={n}, resolution={resolution}.")
    scene = dataclasses.replace(scene or SceneConfig(), resolution=resolution)
    mix = normalise_mix(DEFAULT_MIX if occlusion_mix == "mixed" else occlusion_mix)
    if hand_model == "auto":
        from ..hand import find_mano_file

        hand_model = "synth" if find_mano_file(mano_dir) is None else "mano"
    spec = {"seed": int(seed), "split": split, "hand_model": hand_model, "mano_dir": mano_dir,
            "scene": dataclasses.asdict(scene), "occlusion_mix": mix,
            "png_level": png_level}  # fmt: skip
    sample_rng(seed, split, 0)  # validates split
    folder = Path(out_dir) / split
    folder.mkdir(parents=True, exist_ok=True)
    shards, occ = _write_shards(folder, n, spec, workers, shard_size, progress)
    manifest = _manifest(spec, n, shard_size, shards, occ)
    atomic_write_bytes(folder / "manifest.json", (json.dumps(manifest, indent=1) + "\n").encode())
    return folder


def _write_shards(folder: Path, n: int, spec, workers: int, shard_size: int, progress: bool):
    """Render chunk by chunk (in order) and write each shard as soon as its chunks are in."""
    from tqdm.auto import tqdm

    per_shard = [_chunks_range(s, min(CHUNK, shard_size)) for s in _chunks(n, shard_size)]
    flat = [c for chunks in per_shard for c in chunks]
    shards, parts, occ = [], [], []
    bar = tqdm(total=n, desc=f"SynthOcc {spec['split']}", disable=not progress, unit="img")
    for packed in _run_chunks(flat, spec, workers):
        parts.append(packed)
        bar.update(len(packed["index"]))
        if len(parts) == len(per_shard[len(shards)]):
            arrays = concat_arrays(parts)
            shards.append(_flush(folder, len(shards), arrays))
            occ.append(arrays["occlusion"])
            parts = []
    bar.close()
    return shards, np.concatenate(occ)


def _chunks_range(indices: list[int], size: int) -> list[list[int]]:
    return [indices[s : s + size] for s in range(0, len(indices), size)]


def _flush(folder: Path, k: int, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    name = f"shard_{k:05d}.npz"
    data = npz_bytes(arrays)
    atomic_write_bytes(folder / name, data)
    return {"file": name, "count": int(len(arrays["index"])),
            "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}  # fmt: skip


def _manifest(spec: dict[str, Any], n: int, shard_size: int, shards: list, occ: np.ndarray):
    m = {k: v for k, v in spec.items() if k != "mano_dir"}
    light = (occ > 0) & (occ <= 0.35)
    bins = {"zero": float((occ == 0).mean()), "(0, 0.35]": float(light.mean()),
            "> 0.35": float((occ > 0.35).mean()), "mean": float(occ.mean())}  # fmt: skip
    m.update(format="synthocc", format_version=FORMAT_VERSION, count=n, shard_size=shard_size,
             resolution=spec["scene"]["resolution"], occlusion_stats=bins, shards=shards,
             versions=_versions())  # fmt: skip
    return m


def make_data_samples(
    out_dir: str | Path | None = None, workers: int = 2, progress: bool = True
) -> Path:
    """Regenerate the committed set data_samples/synthocc/ bit-for-bit: 1000 train + 300 test
    images at 128 px, seed 2022, occlusion 1/3 none / light / heavy, SynthHand."""
    root = Path(out_dir) if out_dir is not None else DATA_SAMPLES_DIR / "synthocc"
    return generate_synthocc_set(root, COMMITTED, seed=COMMITTED_SEED, resolution=128,
                                 occlusion_mix="mixed", workers=workers, progress=progress,
                                 png_level=6)  # fmt: skip


def generate_synthocc_set(out_dir: str | Path, sizes: Mapping[str, int], **kw: Any) -> Path:
    """Render every split of a set ({"train": 3000, "test": 500}) into a temp folder beside
    `out_dir`, then put it in `out_dir`'s place in one swap (`utils.replaced_atomically`): a
    failure half-way (disk full, Ctrl-C) leaves the earlier set complete and unmixed. `kw` goes
    to `generate_synthocc`. Refuses an `out_dir` that holds anything but SynthOcc splits."""
    out_dir = Path(out_dir)
    check_replaceable_set(out_dir)
    with replaced_atomically(out_dir) as tmp:
        for split, n in sizes.items():
            generate_synthocc(tmp, n, split=split, **kw)
    return out_dir


def check_replaceable_set(root: Path) -> None:
    """Raise unless `root` is absent, empty, or holds only SynthOcc split folders (with a
    manifest.json): replacing it must never delete anything else."""
    if not root.exists():
        return
    if not root.is_dir():
        raise NotADirectoryError(f"--out {root} is a file; pass a folder for the SynthOcc set.")
    foreign = sorted(p.name for p in root.iterdir() if not _is_split_folder(p))
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise ValueError(
            f"--out {root} holds more than a SynthOcc set ({shown}); the set replaces the whole "
            "folder, so pass a new or empty folder (e.g. data/synthocc)."
        )


def _is_split_folder(path: Path) -> bool:
    """A folder of SynthOcc shards and a manifest (or what an interrupted write left of one)."""
    names = [p.name for p in path.iterdir()] if path.is_dir() else [None]
    return all(
        n is not None and (n == "manifest.json" or n.startswith(("shard_", "."))) for n in names
    )


COMMITTED: dict[str, int] = {"train": 1000, "test": 300}
COMMITTED_SEED = 2022


def main(argv: list[str] | None = None) -> None:
    """CLI: regenerate data_samples/synthocc, or generate a set of any size."""
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None, help="output root (default: data_samples/synthocc)")
    p.add_argument("--n", type=int, default=None, help="samples (default: the committed set)")
    p.add_argument("--split", default="train", choices=list(SPLIT_CODES))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resolution", type=int, default=128)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    a = p.parse_args(argv)
    if a.n is None:
        print(make_data_samples(a.out, workers=a.workers))
    else:
        print(generate_synthocc(a.out or "synthocc", a.n, a.seed, a.split, a.resolution,
                                workers=a.workers))  # fmt: skip


if __name__ == "__main__":
    main()
