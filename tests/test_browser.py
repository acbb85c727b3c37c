"""A real browser: JupyterLab with the project's config, notebooks run in smoke, every explorer moved once.

Starts ``jupyter lab`` on 127.0.0.1 (a free port, a random token, ``JUPYTER_CONFIG_PATH=jupyter``)
and drives Debian's ``chromium`` headless with the ``playwright`` package (never ``playwright
install``: the browser comes from apt, see ``make system-deps``). Each notebook with explorers is
copied with ``profile = "smoke"`` injected after the parameters cell (papermill's way; the setup
call ``start_notebook`` resolves the smoke values), run with Run All, and then

- no cell shows an error, a stderr box (warnings, stale progress text) or a widget error;
- every progress bar is visibly wide;
- each explorer's first slider is moved once and its image must change.

Screenshots of each explorer before and after go to ``$WORKBOOK_SCREENSHOTS`` (default: the
test's temporary folder); the folder is printed.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from helpers.paths import REPO_ROOT

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("WORKBOOK_CHROMIUM", "/usr/bin/chromium")
EXPLORERS = {"01_cnn_classifier": 3, "02_autoencoders": 1, "04_denoising": 2, "05_gan": 1}
NOTEBOOK_TIMEOUT_S = 240


def smoke_copy(notebook: str, folder: Path) -> Path:
    """A copy of the notebook with ``profile = "smoke"`` injected after its parameters cell, as
    papermill's ``-p profile smoke`` does; the notebook's setup call resolves the profile's values."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(REPO_ROOT / "notebooks" / f"{notebook}.ipynb"))
    nb = parameterize_notebook(nb, {"profile": "smoke"})
    target = folder / f"{notebook}.ipynb"
    nbformat.write(nb, str(target))
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server over smoke copies of the notebooks; yields (base URL, token, folder)."""
    if not Path(CHROMIUM).exists():
        message = f"no browser at {CHROMIUM}; install it with `sudo apt-get install chromium` (make system-deps)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    pytest.importorskip("playwright", reason="pip install -r requirements.txt (playwright is pinned there)")
    root = tmp_path_factory.mktemp("browser")
    folder = root / "notebooks"
    folder.mkdir()
    for notebook in EXPLORERS:
        smoke_copy(notebook, folder)
    # The test's own user settings: every cell stays in the page (no windowing), so all explorers can be found.
    tracker = root / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBOOK_", "JPY_"))}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "JUPYTER_CONFIG_PATH": str(REPO_ROOT / "jupyter"),
            "JUPYTERLAB_SETTINGS_DIR": str(root / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"),
            "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
            "IPYTHONDIR": str(root / "ipython"),
            "WORKBOOK_FIGURES": str(root / "figures"),
            "WORKBOOK_CHECKPOINTS": str(root / "checkpoints"),
            "WORKBOOK_OUTPUT": str(root / "out"),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        }
    )
    log = open(root / "jupyter.log", "w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={folder}",
            "--LabApp.expose_app_in_browser=True",
            "--ServerApp.open_browser=False",
            *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=folder,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(
                    f"JupyterLab did not start; see {root / 'jupyter.log'}:\n"
                    + (root / "jupyter.log").read_text()[-3000:]
                )
            time.sleep(0.5)
    try:
        yield base, token, root
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def screenshots(lab) -> Path:
    folder = Path(os.environ.get("WORKBOOK_SCREENSHOTS") or lab[2] / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    return folder


RUN_ALL = """async () => {
  const panel = window.jupyterapp.shell.currentWidget;
  await panel.sessionContext.ready;
  window.jupyterapp.commands.execute('notebook:run-all-cells');   // not awaited: DONE polls
}"""

DONE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = panel.content.model.cells;
  let unrun = 0, errors = 0;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    if (cell.sharedModel.getSource().trim() && cell.executionCount === null) unrun++;
    if (cell.toJSON().outputs.some(o => o.output_type === 'error')) errors++;
  }
  const running = panel.node.querySelectorAll('.jp-InputArea-prompt').length &&
    [...panel.node.querySelectorAll('.jp-InputArea-prompt')].some(p => p.textContent.includes('*'));
  if (errors || (kernel && kernel.status === 'idle' && !running && unrun === 0)) return {unrun, errors};
  return null;
}"""


def open_notebook(page, base: str, token: str, notebook: str) -> None:
    # A workspace of its own (reset): JupyterLab does not reopen the previous notebooks' tabs.
    page.goto(f"{base}/lab/workspaces/{notebook}/tree/{notebook}.ipynb?reset&token={token}")
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget && "
        "window.jupyterapp.shell.currentWidget.sessionContext",
        timeout=60_000,
    )
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)


PROBLEMS = """() => {
  const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
  const found = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    for (const output of cell.toJSON().outputs) {
      const text = [].concat(output.text || output.evalue || '').join('');
      if (output.output_type === 'error') found.push(`cell ${i} error ${output.ename}: ${text}`);
      if (output.output_type === 'stream' && output.name === 'stderr') found.push(`cell ${i} stderr: ${text}`);
    }
  }
  return found;
}"""


def output_problems(page) -> list[str]:
    """Error outputs and stderr boxes (from the notebook model, rendered or not), widget errors."""
    problems = [p[:600] for p in page.evaluate(PROBLEMS)]
    problems += [
        f"widget error: {e.inner_text()[:300]}"
        for e in page.locator(".jp-OutputArea-output:has-text('Error displaying widget')").all()
    ]
    return problems


def image_bytes(explorer) -> bytes:
    return explorer.locator("img").first.screenshot()


def move_first_slider(page, explorer) -> None:
    """Move the explorer's first slider one step right with the keyboard, as a user would."""
    handle = explorer.locator(".noUi-handle").first
    handle.scroll_into_view_if_needed()
    handle.focus()
    page.keyboard.press("ArrowRight")
    handle.blur()


@pytest.mark.parametrize("notebook", list(EXPLORERS))
def test_notebook_runs_in_jupyterlab_and_its_explorers_respond(lab, browser, screenshots, notebook):
    base, token, _ = lab
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    try:
        open_notebook(page, base, token, notebook)
        config = json.loads(page.locator("#jupyter-config-data").text_content())
        assert "@jupyterlab/apputils-extension:announcements" in config["disabledExtensions"], (
            "the project's page_config.json (news prompt off) was not loaded"
        )
        started = time.monotonic()
        page.evaluate(RUN_ALL)
        try:
            state = page.wait_for_function(DONE, polling=1000, timeout=NOTEBOOK_TIMEOUT_S * 1000).json_value()
        except Exception:
            page.screenshot(path=str(screenshots / f"{notebook}_timeout.png"))
            raise
        seconds = time.monotonic() - started
        print(f"\n{notebook}: Run All took {seconds:.0f} s in the browser")
        problems = output_problems(page)
        assert not problems, f"{notebook}: " + "\n".join(problems)
        assert state["unrun"] == 0, f"{notebook}: {state['unrun']} code cells did not run"
        assert page.locator("text=Would you like to get notified").count() == 0

        bars = page.locator(".jp-OutputArea-output .widget-hprogress")
        assert bars.count() >= 1, f"{notebook}: no training progress bar was drawn"
        for k in range(bars.count()):
            box = bars.nth(k).bounding_box()
            assert box and box["width"] >= 100, f"{notebook}: progress bar {k + 1} is {box and box['width']} px wide"
        bars.first.locator("xpath=..").screenshot(path=str(screenshots / f"{notebook}_progress_bar.png"))

        explorers = page.locator(".workbook-explorer")
        explorers.first.wait_for(state="attached", timeout=30_000)
        assert explorers.count() == EXPLORERS[notebook]
        for k in range(explorers.count()):
            explorer = explorers.nth(k)
            explorer.scroll_into_view_if_needed()
            page.wait_for_timeout(300)
            before = image_bytes(explorer)
            explorer.screenshot(path=str(screenshots / f"{notebook}_explorer{k + 1}_before.png"))
            move_first_slider(page, explorer)
            deadline = time.monotonic() + 30
            while image_bytes(explorer) == before:
                assert time.monotonic() < deadline, f"{notebook}: explorer {k + 1}'s image did not change"
                page.wait_for_timeout(250)
            page.wait_for_timeout(300)
            explorer.screenshot(path=str(screenshots / f"{notebook}_explorer{k + 1}_after.png"))
        problems = output_problems(page)
        assert not problems, f"{notebook} after moving the controls: " + "\n".join(problems)
    finally:
        page.close()
        shutdown_kernels(base, token)


def shutdown_kernels(base: str, token: str) -> None:
    """End every session of the test server and its kernel (frees the memory before the next notebook)."""
    with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=10) as response:
        sessions = json.load(response)
    for session in sessions:
        request = urllib.request.Request(f"{base}/api/sessions/{session['id']}?token={token}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()
