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

Shard arrays (n samples, H = W = resolution, V vertices): ``png`` uint8 (total bytes,) the
PNG-encoded images one after the other, ``png_offsets`` int64 (n + 1,), ``masks`` uint8
(n, H, W) with bit 1 hand, bit 2 visible object, bit 4 hidden hand, and one array per numeric
field of the raw record (records.py): K, joints_cam, joints_2d, pose, shape, hand_box,
joints_vis (float32), occlusion (float32), index (int64). Vertices are not stored (they would
double the size): `shard_vertices` recomputes them from pose and shape with the manifest's hand
model, placed so that the recomputed joints match joints_cam (checked to JOINT_TOL).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .. import __version__
from ..utils import DATA_SAMPLES_DIR, atomic_write_bytes, replaced_atomically
from .records import RECORD_KEYS
from .scene import SceneConfig, render_sample

FORMAT_VERSION = 1
SPLIT_CODES: dict[str, int] = {"train": 0, "val": 1, "test": 2}
LEVEL_ORDER: tuple[str, ...] = ("none", "light", "heavy")
NUMERIC_FIELDS: tuple[str, ...] = (
    "K", "joints_cam", "joints_2d", "pose", "shape", "hand_box", "joints_vis",
)  # fmt: skip
JOINT_TOL = 1e-4  # metres: recomputed joints must match the stored ones this closely
MASK_BITS: dict[str, int] = {"hand_mask": 1, "occluder_mask": 2, "occlusion_mask": 4}
DEFAULT_MIX: dict[str, float] = {"none": 1 / 3, "light": 1 / 3, "heavy": 1 / 3}
CHUNK = 32  # samples per worker task (one batched hand forward)
GOLDEN = 0.6180339887498949


class ShardError(RuntimeError):
    """A shard file is missing, unreadable or does not match its manifest."""


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


def encode_records(records: list[dict[str, Any]], png_level: int = 3) -> dict[str, np.ndarray]:
    """Pack raw records into shard arrays (see the module docstring)."""
    pngs = [_encode_png(r["image"], png_level) for r in records]
    masks = np.zeros((len(records),) + records[0]["image"].shape[:2], np.uint8)
    for key, bit in MASK_BITS.items():
        masks |= np.stack([r[key] for r in records]).astype(np.uint8) * np.uint8(bit)
    arrays = {
        "png": np.frombuffer(b"".join(pngs), np.uint8),
        "png_offsets": np.cumsum([0] + [len(p) for p in pngs]).astype(np.int64),
        "masks": masks,
        "occlusion": np.array([r["occlusion"] for r in records], np.float32),
        "index": np.array([r["index"] for r in records], np.int64),
    }
    for key in NUMERIC_FIELDS:
        arrays[key] = np.stack([r[key] for r in records]).astype(np.float32)
    return arrays


def _encode_png(image: np.ndarray, level: int) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_PNG_COMPRESSION, level])  # fmt: skip
    if not ok:
        raise RuntimeError("cv2.imencode failed to PNG-encode an image.")
    return buf.tobytes()


def _render_chunk(args: tuple[list[int], dict[str, Any]]) -> dict[str, np.ndarray]:
    indices, spec = args
    return encode_records(render_indices(indices, spec), spec.get("png_level", 3))


def concat_arrays(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate packed chunks into one shard's arrays."""
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k != "png_offsets"}
    offsets, base = [np.zeros(1, np.int64)], 0
    for p in parts:
        offsets.append(p["png_offsets"][1:] + base)
        base += int(p["png_offsets"][-1])
    out["png_offsets"] = np.concatenate(offsets)
    return out


# ----------------------------------------------------------------------------- shard io
def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """A deterministic .npz (deflated zip, fixed timestamps, sorted keys): same arrays, same
    bytes. np.savez stamps the current time into the zip, so it is not used."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for key in sorted(arrays):
            arr = io.BytesIO()
            np.lib.format.write_array(arr, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, arr.getvalue(), compresslevel=6)
    return buf.getvalue()


def read_shard(path: str | Path, sha256: str | None = None) -> dict[str, np.ndarray]:
    """Load every array of a shard; raise ShardError naming the file when it is missing,
    unreadable or (with sha256) not the file the manifest lists."""
    path = Path(path)
    if not path.is_file():
        raise ShardError(
            f"SynthOcc shard {path} is missing; its manifest lists it. Regenerate the set "
            "(generate_synthocc, or make_data_samples for data_samples/synthocc)."
        )
    data = path.read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise ShardError(
            f"SynthOcc shard {path} is corrupt: its sha256 differs from the manifest's. "
            "Regenerate the set, or restore the file."
        )
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as err:
        raise ShardError(f"SynthOcc shard {path} is unreadable ({err}); regenerate it.") from err
    missing = {"png", "png_offsets", "masks", "occlusion", "index", *NUMERIC_FIELDS} - set(arrays)
    if missing:
        raise ShardError(f"SynthOcc shard {path} lacks arrays {sorted(missing)}; regenerate it.")
    return arrays


def decode_record(arrays: Mapping[str, np.ndarray], i: int, verts: np.ndarray) -> dict[str, Any]:
    """Raw record (records.py) of the i-th sample of a loaded shard; verts (n, V, 3) from
    `shard_vertices`."""
    a, b = arrays["png_offsets"][i], arrays["png_offsets"][i + 1]
    bgr = cv2.imdecode(arrays["png"][a:b], cv2.IMREAD_COLOR)
    if bgr is None:
        raise ShardError(f"sample {i} of a shard has an undecodable PNG image; regenerate it.")
    rec: dict[str, Any] = {k: arrays[k][i] for k in NUMERIC_FIELDS}
    rec["image"] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    rec["verts_cam"] = verts[i]
    for key, bit in MASK_BITS.items():
        rec[key] = (arrays["masks"][i] & bit) > 0
    rec["occlusion"] = float(arrays["occlusion"][i])
    rec["index"] = int(arrays["index"][i])
    rec["has_mano"] = 1.0
    assert set(rec) == set(RECORD_KEYS)
    return rec


def shard_vertices(arrays: Mapping[str, np.ndarray], model, name: str = "shard") -> np.ndarray:
    """Camera-frame vertices (n, V, 3) float32 of a loaded shard, recomputed with `model` (the
    manifest's hand model) from pose and shape; raises when its joints do not match joints_cam
    (the set was made by a different hand model: regenerate it)."""
    import torch

    pose = torch.from_numpy(arrays["pose"]).to(model.dtype)  # (n, 48)
    shape = torch.from_numpy(arrays["shape"]).to(model.dtype)  # (n, 10)
    with torch.no_grad():
        out = model(pose, shape)
    joints, verts = out.joints.numpy(), out.vertices.numpy()  # (n, 21, 3), (n, V, 3)
    transl = arrays["joints_cam"][:, :1].astype(np.float64) - joints[:, :1]  # (n, 1, 3)
    err = np.abs(joints + transl - arrays["joints_cam"]).max()
    if not err <= JOINT_TOL:
        raise ShardError(
            f"{name}: the hand model {type(model).__name__} gives joints {err * 1000:.3f} mm away "
            f"from the stored joints_cam (tolerance {JOINT_TOL * 1000} mm): the set was made by "
            "a different hand model or version (manifest field 'hand_model'). Regenerate it."
        )
    return (verts + transl).astype(np.float32)


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
