"""The project's setup files agree with each other, and the package imports light."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _pyproject_requirements() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = data["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return {r.replace(" ", "") for r in reqs}


def _environment_pip_requirements() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml must have exactly one pip section"
    return {r.replace(" ", "") for r in pip_sections[0] if not r.startswith("-e")}


def test_environment_yml_matches_pyproject() -> None:
    env, proj = _environment_pip_requirements(), _pyproject_requirements()
    assert env == proj, (
        "environment.yml and pyproject.toml disagree: "
        f"only in environment.yml {sorted(env - proj)}, "
        f"only in pyproject.toml {sorted(proj - env)}. "
        "Edit both together."
    )


def test_environment_yml_python_version() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]


def test_torch_pins_are_exact() -> None:
    proj = _pyproject_requirements()
    assert "torch==2.14.1" in proj and "torchvision==0.29.1" in proj


def test_lock_covers_every_direct_dependency() -> None:
    lock = (ROOT / "requirements.lock").read_text()
    pinned = {m.group(1).lower() for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==", lock, re.M)}
    for req in _pyproject_requirements():
        name = re.split(r"[<>=!\[]", req)[0].lower().replace("_", "-")
        assert name in pinned, (
            f"{name} is in pyproject.toml but not in requirements.lock: run `make lock`."
        )


def test_import_is_light() -> None:
    """No torch at import (its time budget is measured by benchmarks/bench_budgets.py)."""
    code = "import sys; import handoccnet_lite; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"], "import handoccnet_lite must not import torch eagerly"


def test_readme_quick_start_is_the_two_make_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make reproduce" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
