"""A profile's SynthOcc sets: generated when missing, checked against the profile when present."""

from __future__ import annotations

import json
from pathlib import Path

from handoccnet_lite.engine.profiles import DataSpec, Profile, render_size


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
            resolution=render_size(profile),
            progress=progress,
        )
