"""The SynthOcc shard format: raw records packed into arrays and back, one shard per .npz file.

Shard arrays (n samples, H = W = resolution, V vertices): ``png`` uint8 (total bytes,) the
PNG-encoded images one after the other, ``png_offsets`` int64 (n + 1,), ``masks`` uint8
(n, H, W) with bit 1 hand, bit 2 visible object, bit 4 hidden hand, and one array per numeric
field of the raw record (records.py): K, joints_cam, joints_2d, pose, shape, hand_box,
joints_vis (float32), occlusion (float32), index (int64). Vertices are not stored (they would
double the size): `shard_vertices` recomputes them from pose and shape with the manifest's hand
model, placed so that the recomputed joints match joints_cam (checked to JOINT_TOL).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .records import RECORD_KEYS

NUMERIC_FIELDS: tuple[str, ...] = (
    "K", "joints_cam", "joints_2d", "pose", "shape", "hand_box", "joints_vis",
)  # fmt: skip
JOINT_TOL = 1e-4  # metres: recomputed joints must match the stored ones this closely
MASK_BITS: dict[str, int] = {"hand_mask": 1, "occluder_mask": 2, "occlusion_mask": 4}


class ShardError(RuntimeError):
    """A shard file is missing, unreadable or does not match its manifest."""


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
