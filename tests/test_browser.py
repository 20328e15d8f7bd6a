"""Notebook 08's attention explorer, driven in a real browser.

Starts JupyterLab on 127.0.0.1 (free port, random token, no browser of its own) over a temporary
copy of notebooks/08_attention_explorer.ipynb, opens it in headless Chromium through Playwright,
runs all cells, then drives the explorer's controls: moves the query's `col` slider with the
keyboard, places a disc in front of the hand, switches A and C to their own colour scales; after
each it checks that the plotted figure changed (and the hidden fraction after the disc), and that
the jump button's label is not cut off. Without a browser the same widget logic is covered by
tests/test_viz.py::test_explorer_controls_change_the_pictures (widget values set from Python).

Opt-in (it takes 20 s to two minutes, depending on the machine's load, and needs a browser):

    .venv/bin/pytest -q -m browser tests/test_browser.py        # `make browser-test`

or set HANDOCCNET_BROWSER=1; HANDOCCNET_BROWSER_SHOTS=DIR keeps the two screenshots. Needs
/usr/bin/chromium and the `playwright` Python package; the test never downloads a browser (it
launches the system Chromium by path).
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "08_attention_explorer.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_S = 90
RUN_ALL_S = 240  # kernel start + every cell of notebook 08 on a loaded 2-core machine
REDRAW_S = 60
# JupyterLab settings for the run: no news or update checks (nothing leaves the machine).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


@pytest.fixture(autouse=True)
def _requirements(request: pytest.FixtureRequest) -> None:
    """Skip, saying why, unless asked for and runnable."""
    markexpr = request.config.getoption("markexpr", default="") or ""
    if "browser" not in markexpr and os.environ.get("HANDOCCNET_BROWSER") != "1":
        pytest.skip("browser test is opt-in: run `pytest -m browser tests/test_browser.py`")
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (install the distribution's chromium package)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the `playwright` Python package is not installed in this environment")
    if not NOTEBOOK.is_file():
        pytest.skip(f"{NOTEBOOK} is missing (jupytext --to ipynb notebooks/08_*.py)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 (loopback only)
        return json.loads(r.read())


def _lab_environment(tmp: Path) -> dict[str, str]:
    """Everything the server and kernel write goes under tmp; figures too."""
    settings = tmp / "lab-settings"
    for name, values in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the kernel's own default (inline)
    env.update(
        HANDOCCNET_FIGURES=str(tmp / "figures"),
        HANDOCCNET_RUNS=str(tmp / "runs"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        IPYTHONDIR=str(tmp / "ipython"),
        OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "2"),
    )
    return env


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(base URL, token) of a JupyterLab serving a temporary copy of notebook 08."""
    root = tmp_path / "notebooks"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={root}",
    ] + (["--allow-root"] if os.geteuid() == 0 else [])  # fmt: skip
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen(
        cmd, env=_lab_environment(tmp_path), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                _get_json(f"{base}/api/status?token={token}")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = (tmp_path / "lab.log").read_text()[-2000:]
                    pytest.fail(f"JupyterLab did not start on {base}; its log ends:\n{tail}")
                time.sleep(0.5)
        yield base, token
    finally:
        _stop(proc)
        log.close()


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server we started and the kernels it started (its own process group)."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_kernel_idle(base: str, token: str, timeout: float) -> None:
    """Until the server reports one kernel and it is idle (busy while cells run)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kernels = _get_json(f"{base}/api/kernels?token={token}")
        if kernels and all(k["execution_state"] == "idle" for k in kernels):  # type: ignore[union-attr]
            return
        time.sleep(1.0)
    raise AssertionError(f"the kernel was not idle after {timeout} s: {kernels}")


def _pixels(png: bytes):
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)  # (H, W, 3)


def _changed_share(before: bytes, after: bytes) -> float:
    """Share of the plot's pixels that differ between two screenshots of it. The PNG is cropped
    to its content, so a redraw may change its height (a CI run saw 918 -> 847 px after the
    colour-scale switch): pixels outside the common area count as changed."""
    a, b = _pixels(before), _pixels(after)
    h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    common = int((a[:h, :w] != b[:h, :w]).any(axis=-1).sum())
    area = max(a.shape[0] * a.shape[1], b.shape[0] * b.shape[1])
    return (common + area - h * w) / area


def _redraw_after(page, base: str, token: str, action) -> bytes:
    """Do `action()`, wait until the plot's PNG is replaced and the kernel idle; screenshot."""
    plot = page.locator(".hoc-explorer-plot").first
    src_before = plot.get_attribute("src")
    action()
    page.wait_for_function(
        "([sel, old]) => document.querySelector(sel).getAttribute('src') !== old",
        arg=[".hoc-explorer-plot", src_before],
        timeout=REDRAW_S * 1000,
    )
    _wait_kernel_idle(base, token, REDRAW_S)
    return plot.screenshot()


def _toggle(page, hook: str, label: str):
    """A click on the ToggleButtons option `label` of the widget with class hoc-explorer-hook."""
    button = page.locator(f".hoc-explorer-{hook} button", has_text=label).first
    return button.click


def test_explorer_controls_redraw_the_figure(lab: tuple[str, str]) -> None:
    """Move the query, place a disc over the hand, switch the colour scale: each redraws."""
    from playwright.sync_api import sync_playwright

    base, token = lab
    shots: dict[str, bytes] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(f"{base}/lab/tree/{NOTEBOOK.name}?token={token}")
            page.locator(".jp-Notebook").first.wait_for()
            _wait_kernel_idle(base, token, SERVER_START_S)  # kernel started for the notebook

            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator('li[data-command="runmenu:run-all"]').click()
            plot = page.locator(".hoc-explorer-plot").first
            plot.wait_for(state="visible", timeout=RUN_ALL_S * 1000)
            _wait_kernel_idle(base, token, RUN_ALL_S)
            plot.scroll_into_view_if_needed()
            shots["start"] = plot.screenshot()

            readout = page.locator(".hoc-explorer-col .widget-readout").first
            col_before = readout.inner_text()
            handle = page.locator(".hoc-explorer-col .noUi-handle").first
            handle.focus()
            key = "ArrowLeft" if int(col_before) > 0 else "ArrowRight"
            shots["query"] = _redraw_after(page, base, token, lambda: handle.press(key))
            col_after = readout.inner_text()
            status_before = page.locator(".hoc-explorer-status").first.inner_text()
            shots["disc"] = _redraw_after(page, base, token, _toggle(page, "shape", "disc"))
            status_after = page.locator(".hoc-explorer-status").first.inner_text()
            shots["own"] = _redraw_after(page, base, token, _toggle(page, "scale", "own scale"))
            jump = page.locator(".hoc-explorer-jump").first
            jump_cut = jump.evaluate("e => e.scrollWidth > e.clientWidth")
        finally:
            browser.close()

    keep = os.environ.get("HANDOCCNET_BROWSER_SHOTS")  # a folder: keep the screenshots
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for name, png in shots.items():
            (Path(keep) / f"explorer_{name}.png").write_bytes(png)
    assert abs(int(col_after) - int(col_before)) == 1, f"col {col_before} -> {col_after}"
    assert _changed_share(shots["start"], shots["query"]) > 0.005, (
        "moving the query changed nothing"
    )
    assert _changed_share(shots["query"], shots["disc"]) > 0.02, "the disc changed nothing"
    assert status_after.split(" | ")[0] != status_before.split(" | ")[0], "no recount"
    assert _changed_share(shots["disc"], shots["own"]) > 0.002, "the colour scale changed nothing"
    assert not jump_cut, "the jump button's label is cut off"
