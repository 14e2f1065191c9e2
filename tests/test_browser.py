"""The playground notebook in a real JupyterLab, driven by headless Chromium through Playwright.

Follows the recipe in shared/docs/browser-testing.md: JupyterLab on 127.0.0.1 with a token and
isolated config dirs, Debian's /usr/bin/chromium (never `playwright install`). The kernel does
not inherit CHAPTER_RNN_HEADLESS, so the live dashboard is what runs."""
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from paths import BUILD, NOTEBOOKS

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = BUILD / "screenshots"
NOTEBOOK = "08_playground.ipynb"
STOP_NOTEBOOK = "08_playground_stop.ipynb"
# Small enough that training takes a few seconds, big enough for the plot to show a curve.
SMALL = {"num_hiddens": 32, "num_epochs": 8, "max_tokens": 2000}
# Far too many epochs to finish: only the Stop button ends this run in time.
ENDLESS = {**SMALL, "num_epochs": 100_000}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
KERNEL_READY = """() => {
    const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const context = widget && widget.sessionContext;
    const kernel = context && context.session && context.session.kernel;
    return !!(context && context.isReady && kernel && kernel.status === 'idle'
              && kernel.connectionStatus === 'connected');
}"""

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_settings(settings: Path) -> None:
    """No outbound news/update checks; lay out every cell even when off screen."""
    for name, value in {
        "apputils-extension/notification.jupyterlab-settings":
            {"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True},
        "notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    }.items():
        path = settings / "@jupyterlab" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))


def small_copy(tmp: Path) -> Path:
    """The course's notebooks under a temp root: 08 with small training parameters injected, and
    a copy of it that would train (almost) forever."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    course = tmp / "course"
    shutil.copytree(NOTEBOOKS, course / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for name, parameters in [(NOTEBOOK, SMALL), (STOP_NOTEBOOK, ENDLESS)]:
        notebook = load_notebook_node(str(NOTEBOOKS / NOTEBOOK))  # adds papermill fields
        nbformat.write(parameterize_notebook(notebook, parameters), course / "notebooks" / name)
    return course


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("jupyterlab")
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    course = small_copy(tmp_path)
    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k != "CHAPTER_RNN_HEADLESS"}
    for var, name in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                      ("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "mpl")]:
        env[var] = str(tmp_path / name)
    write_settings(tmp_path / "settings")
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
               f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
               f"--LabApp.workspaces_dir={tmp_path / 'ws'}", "--LabApp.expose_app_in_browser=True"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = open(tmp_path / "jupyterlab.log", "wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("JupyterLab did not start:\n"
                            + (tmp_path / "jupyterlab.log").read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        yield url, token, course
    finally:
        shutdown_kernels(url, token)
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def shutdown_kernels(url: str, token: str) -> None:
    """Stop the kernels the server started, so none is left running after the test."""
    try:
        with urllib.request.urlopen(f"{url}/api/kernels?token={token}", timeout=10) as r:
            kernels = json.load(r)
        for kernel in kernels:
            request = urllib.request.Request(f"{url}/api/kernels/{kernel['id']}?token={token}",
                                             method="DELETE")
            urllib.request.urlopen(request, timeout=20).close()
    except OSError:
        pass  # the server is already gone: its kernels went with it


def wait_for(page, predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        page.wait_for_timeout(500)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_and_run_all(browser, url: str, token: str, notebook: str):
    page = browser.new_page(viewport={"width": 1280, "height": 2000})
    page.goto(f"{url}/lab/tree/notebooks/{notebook}?token={token}&reset")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    # "idle" can show before the kernel is connected; Run All would then ask for one.
    wait_for(page, lambda: page.evaluate(KERNEL_READY), 120, "the kernel")
    # Not awaited: the command's promise settles only when every cell has finished.
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    return page


def wait_until_done(page, timeout: float) -> None:
    """Every code cell has an execution count and the kernel is idle; fail on an error output."""
    prompts = page.locator(".jp-CodeCell .jp-InputPrompt")
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")

    def finished() -> bool:
        if errors.count():
            pytest.fail(f"a cell failed:\n{errors.first.inner_text()[-2000:]}")
        texts = prompts.all_inner_texts()
        return (bool(texts) and all(re.search(r"\[\d+\]", t) for t in texts)
                and page.evaluate(KERNEL_READY))

    wait_for(page, finished, timeout, "all cells to run")


def test_playground_notebook_in_jupyterlab(jupyterlab, browser):
    url, token, _ = jupyterlab
    page = open_and_run_all(browser, url, token, NOTEBOOK)
    wait_until_done(page, 300)

    # The live dashboard ran (no plain progress lines) and left the final plot.
    outputs = page.locator(".jp-OutputArea-output")
    assert " left | time traveller" not in " ".join(outputs.all_inner_texts())
    plot = page.locator(".jp-OutputArea-output img").first
    assert plot.is_visible() and plot.evaluate("img => img.naturalWidth") > 100
    assert "identical parameters: True" in page.locator(".jp-Notebook").inner_text()

    # The playground's widgets rendered and answer Enter in the text box.
    text_box = page.locator(".widget-text input[type=text]").first
    assert text_box.is_visible()
    assert page.locator(".widget-slider").count() >= 2
    assert page.locator(".widget-toggle-buttons").count() == 1
    text_box.fill("The Time Machine!")
    text_box.press("Enter")
    seen = page.locator(".crnn-seen")
    wait_for(page, lambda: seen.count() and seen.first.inner_text() == "the time machine ",
             60, "the playground to answer")
    generated = page.locator(".crnn-generated").first.inner_text()
    shown = seen.first.evaluate("el => el.parentElement.innerText")
    assert shown.startswith("the time machine ")
    assert len(generated) == 50 and re.fullmatch("[a-z ]+", generated)
    assert "upper case was lowered" in page.locator(".crnn-message").first.inner_text()

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".jp-Notebook .jp-Cell").last.evaluate(
        "cell => cell.scrollIntoView({block: 'end'})")
    page.wait_for_timeout(300)
    page.locator(".jp-NotebookPanel").first.screenshot(
        path=str(SCREENSHOTS / "08_playground.png"))


# Needs ipykernel < 7 (requirements.txt): jupyter_ui_poll 1.1 polls a busy kernel through
# kernel.do_one_iteration(), which ipykernel 7 removed.
def test_stop_button_ends_training_while_the_cell_is_busy(jupyterlab, browser):
    url, token, _ = jupyterlab
    page = open_and_run_all(browser, url, token, STOP_NOTEBOOK)
    status = page.locator(".widget-label", has_text=re.compile(r"^epoch \d+/100000"))
    status.first.wait_for(timeout=120_000)  # the live dashboard shows progress
    assert page.locator(".jp-OutputArea-output [class*='progress']").count() >= 1
    page.get_by_role("button", name="Stop").click()
    wait_until_done(page, 60)  # would take hours without the Stop button
    text = page.locator(".jp-Notebook").inner_text()
    assert "Training was stopped during epoch" in text
    assert "identical parameters: True" in text  # the notebook went on with what was learned
