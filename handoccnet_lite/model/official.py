"""The released FIT/SET state-dict keys and their conversion to this package's names.

Release (github.com/namepllet/HandOccNet, common/nets/transformer.py), per block ``layers.{i}``:
``encode_query``, ``encode_key``, ``encode_value`` (1x1 convs), ``encode_query2``,
``encode_key2`` (FIT's gate convs), ``norm2`` (LayerNorm before the MLP), ``mlp.fc1``,
``mlp.fc2``, ``q_embedding``, ``k_embedding`` (1, 256, 32, 32); FIT also has ``conv1.0``,
``conv1.2`` (3x3 fusion convs) and ``conv2.0`` (1x1 skip). The full list with shapes, read from
the release's ``state_dict()`` at the paper size, is ``assets/official_transformer_keys.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from torch import Tensor

KEYS_PATH = Path(__file__).resolve().parent.parent / "assets" / "official_transformer_keys.json"

FIT_BLOCK_NAMES = {
    "encode_query": "query_soft",
    "encode_key": "key_soft",
    "encode_query2": "query_sig",
    "encode_key2": "key_sig",
    "encode_value": "value",
    "norm2": "ffn.norm",
    "mlp.fc1": "ffn.mlp.0",
    "mlp.fc2": "ffn.mlp.2",
}
SET_BLOCK_NAMES = {
    "encode_query": "query",
    "encode_key": "key",
    "encode_value": "value",
    "norm2": "ffn.norm",
    "mlp.fc1": "ffn.mlp.0",
    "mlp.fc2": "ffn.mlp.2",
}
EMBEDDING_NAMES = {"q_embedding": "pos_query", "k_embedding": "pos_key"}
FIT_TOP_NAMES = {"conv1.0": "fuse.0", "conv1.2": "fuse.2", "conv2.0": "fuse_skip"}
_BLOCK_KEY = re.compile(r"layers\.(\d+)\.(.+)")


@cache
def _keys_file() -> dict:
    return json.loads(KEYS_PATH.read_text())


def official_transformer_keys(part: str) -> dict[str, tuple[int, ...]]:
    """Release key -> shape for part "fit" or "set" (module-relative keys, paper size)."""
    if part not in ("fit", "set"):
        raise ValueError(f"part must be 'fit' or 'set', got {part!r}.")
    return {k: tuple(v) for k, v in _keys_file()[part].items()}


def _rename(key: str, block_names: Mapping[str, str], top_names: Mapping[str, str]) -> str | None:
    """One release key (module-relative) -> ours, or None when it is not a known key."""
    if match := _BLOCK_KEY.fullmatch(key):
        index, rest = match.groups()
        if rest in EMBEDDING_NAMES:
            return f"blocks.{index}.{EMBEDDING_NAMES[rest]}"
        module, _, param = rest.rpartition(".")
        if module in block_names and param in ("weight", "bias"):
            return f"blocks.{index}.{block_names[module]}.{param}"
        return None
    module, _, param = key.rpartition(".")
    if module in top_names and param in ("weight", "bias"):
        return f"{top_names[module]}.{param}"
    return None


def _convert(
    state: Mapping[str, Tensor],
    prefix: str,
    block_names: Mapping[str, str],
    top_names: Mapping[str, str],
    module: str,
) -> dict[str, Tensor]:
    """Select `prefix` keys (or take `state` as module-relative when none has it) and rename."""
    selected = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if not selected:
        selected = dict(state)  # already the module's own state_dict (keys like "layers.0....")
    renamed = {key: _rename(key, block_names, top_names) for key in selected}
    unknown = sorted(k for k, v in renamed.items() if v is None)
    if unknown or not selected:
        raise ValueError(
            f"convert_official_{module.lower()}_state: keys {unknown[:5] or list(state)[:5]} are "
            f"not the release's {module} keys (expected '{prefix}layers.<i>.encode_query.weight' "
            f"and the like, see assets/{KEYS_PATH.name}); pass the right prefix, e.g. "
            f"prefix='{module}.' for a state without DataParallel's 'module.'."
        )
    return {renamed[k]: v for k, v in selected.items()}


def convert_official_fit_state(
    state: Mapping[str, Tensor], prefix: str = "module.FIT."
) -> dict[str, Tensor]:
    """Release FIT weights -> ``FIT(official cfg).load_state_dict`` keys.

    `state` is the whole released checkpoint (keys under `prefix` are taken, the rest ignored)
    or the FIT module's own state_dict (no key has the prefix: all are taken).
    """
    return _convert(state, prefix, FIT_BLOCK_NAMES, FIT_TOP_NAMES, "FIT")


def convert_official_set_state(
    state: Mapping[str, Tensor], prefix: str = "module.SET."
) -> dict[str, Tensor]:
    """Release SET weights -> ``SET(official cfg).load_state_dict`` keys (see the FIT one)."""
    return _convert(state, prefix, SET_BLOCK_NAMES, {}, "SET")
