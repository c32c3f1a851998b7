"""A real browser on the real JupyterLab: what a user sees after `make lab PROFILE=tiny`.

JupyterLab starts on 127.0.0.1 with the repo's settings (lab/settings) and a fresh user-settings
directory; Debian's chromium, driven by Playwright, double-clicks 05_senses.py in the file
browser, runs all cells on `tiny`, types a sentence into the explorer, switches its layer, and
checks that widgets and images rendered, no cell failed, and the tracked source is unchanged.
Screenshots go to runs/tiny/browser/. Skipped, saying why, where no chromium can be found
(`.ci/run` installs it with apt-get).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from elmo.core.runs import REPO

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("ELMO_CHROMIUM", "/usr/bin/chromium")
# No sandbox: CI runs as root. The rest: no outbound connections from the browser.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "elmo-browser-test"
SHOTS = REPO / "runs" / "tiny" / "browser"
NOTEBOOK = "05_senses.py"
SENTENCE = "밤에 눈이 많이 내렸다."
RUN_SECONDS = 600  # 05 on tiny takes well under a minute when the tiny biLM exists, ~2 min when not


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory, data_root):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no browser: {CHROMIUM} not found (Debian: apt-get install -y chromium; .ci/run does it)")
    pytest.importorskip("playwright", reason="playwright is not installed (pip install -r requirements.txt)")
    home = tmp_path_factory.mktemp("lab")
    port = _free_port()
    env = {
        **os.environ,
        "ELMO_PROFILE": "tiny",
        "JUPYTERLAB_SETTINGS_DIR": str(home / "user-settings"),  # fresh: only the repo's defaults apply
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    env.pop("ELMO_WIDGETS", None)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={TOKEN}", f"--LabApp.app_settings_dir={REPO / 'lab' / 'settings'}",
           f"--ServerApp.root_dir={REPO / 'notebooks'}", "--LabApp.extension_manager=readonly"]  # fmt: skip
    if os.geteuid() == 0:  # CI containers run as root
        cmd.append("--allow-root")
    log = open(home / "lab.log", "w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"JupyterLab exited: {(home / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within 60 s")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def page(lab):
    from playwright.sync_api import sync_playwright

    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(60_000)
        pg.goto(f"{lab}/lab?token={TOKEN}")
        yield pg
        browser.close()


def test_notebook_opens_by_double_click_runs_and_explores(page):
    path = REPO / "notebooks" / NOTEBOOK
    source, mtime = path.read_bytes(), path.stat().st_mtime_ns
    page.locator(".jp-DirListing-itemName", has_text=NOTEBOOK).dblclick()
    notebook = page.locator(".jp-NotebookPanel").first
    notebook.wait_for()  # the shipped default viewer: a notebook, not the text editor
    assert page.locator(".jp-FileEditor").count() == 0
    # The kernel named in the header starts by itself; Run All before it is ready would be lost.
    page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle")).first.wait_for(timeout=120_000)
    page.screenshot(path=SHOTS / "1_opened.png")

    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator("li.lm-Menu-item[data-command='runmenu:run-all']").click()
    deadline, idle_polls = time.time() + RUN_SECONDS, 0
    prompts = notebook.locator(".jp-CodeCell .jp-InputPrompt")
    while time.time() < deadline:
        time.sleep(2)
        texts = [t.strip() for t in prompts.all_text_contents()]
        if texts and all(_ran(t) for t in texts):
            break
        # Run All stops at an error: the kernel idles with cells left unrun (three polls in a row,
        # after at least one cell ran, so the moment before the first cell starts does not count).
        stuck = any(_ran(t) for t in texts) and "[*]:" not in texts and _idle(page)
        idle_polls = idle_polls + 1 if stuck else 0
        if idle_polls >= 3:
            break
    page.screenshot(path=SHOTS / "2_ran.png", full_page=True)
    texts = prompts.all_text_contents()
    errors = [t for t in notebook.locator("[data-mime-type='application/vnd.jupyter.stderr']").all_text_contents()
              if "Traceback" in t or "Error" in t.splitlines()[0]]  # fmt: skip
    assert not errors, errors[0][:2000]
    assert all(_ran(t.strip()) for t in texts), f"cells not run: {texts}"

    # The interactive UMAPs: plotly renders them through its shipped JupyterLab extension.
    maps = notebook.locator(".js-plotly-plot")
    assert maps.count() >= 2, "the interactive maps did not render"
    maps.first.scroll_into_view_if_needed()
    maps.first.locator(".updatemenu-header").first.wait_for()  # the word/layer menu
    maps.first.screenshot(path=SHOTS / "2b_map.png")

    # The explorer: a live widget (a kernel started by Jupyter Server sees a frontend).
    widget = notebook.locator(".widget-vbox", has=page.locator(".widget-text")).first
    widget.scroll_into_view_if_needed()
    box = widget.locator(".widget-text input").first
    box.fill(SENTENCE)
    box.press("Enter")
    out = widget.locator(".widget-output").first
    out.get_by_text("'밤' (token 0)").first.wait_for(timeout=60_000)
    widget.locator(".widget-toggle-buttons button", has_text="layer 2").click()
    page.wait_for_function(
        "el => el.querySelector('.widget-toggle-buttons button.mod-active')?.textContent.includes('layer 2')",
        arg=widget.element_handle(),
    )
    out.get_by_text("in the bank, layer 2").first.wait_for(timeout=60_000)  # redrawn for the new layer
    out.locator("img").first.wait_for(timeout=60_000)
    widget.screenshot(path=SHOTS / "3_explorer.png")

    assert notebook.locator(".jupyter-widgets").count() >= 1
    assert notebook.locator(".jp-OutputArea-output img").count() >= 1
    assert out.locator("img").count() >= 1

    # Save (as autosave would): the tracked source must stay byte-identical.
    notebook.locator(".jp-Notebook").first.click()
    page.keyboard.press("Control+s")
    for _ in range(20):
        if path.stat().st_mtime_ns != mtime:
            break
        time.sleep(0.5)
    assert path.stat().st_mtime_ns != mtime, "JupyterLab did not save the notebook"
    assert path.read_bytes() == source, "saving from JupyterLab changed the tracked source (see git diff)"


def _ran(prompt: str) -> bool:
    """An input prompt such as "[12]:" (executed), not "[ ]:" or "[*]:"."""
    return prompt[1:-2].isdigit()


def _idle(page) -> bool:
    return page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count() > 0


def test_saved_maps_open_offline_and_hover_shows_the_context(page):
    """The standalone HTML beside the PNG: opened from disk (no server), a point's hover names
    its context, source and proxy sense."""
    path = REPO / "runs" / "tiny" / "figures" / "05_homograph_umap.html"
    if not path.exists():
        pytest.skip("05 has not run on tiny in this session")
    tab = page.context.browser.new_page(viewport={"width": 1000, "height": 700})
    tab.goto(path.as_uri())
    tab.locator(".js-plotly-plot").first.wait_for()
    tab.locator(".scatterlayer .point").first.hover(force=True)
    hover = tab.locator(".hovertext").first
    hover.wait_for(timeout=10_000)
    text = hover.text_content()
    assert "source: " in text and "proxy sense: " in text and "[" in text, text
    tab.screenshot(path=SHOTS / "4_saved_map_hover.png")
    tab.close()
