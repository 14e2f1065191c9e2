"""The playground notebook in a real JupyterLab, driven by headless Chromium through Playwright.

Follows the recipe in shared/docs/browser-testing.md: JupyterLab on 127.0.0.1 with a token and
isolated config dirs, Debian's /usr/bin/chromium (never `playwright install`). The kernel does
not inherit CHAPTER_RNN_HEADLESS, so the live dashboard is what runs. The kernel is this
environment's ipykernel: 7 or later with requirements-test.txt, where Stop reaches the busy
kernel through a subshell (chapter_rnn/dashboard.py). tests/test_browser_classic.py does the
same in the classic Notebook with Colab's ipykernel 6 and ipywidgets 7."""
import json
import re
import secrets
import sys

import pytest
from browser_support import (
    LOOK_INSIDE,
    LOOK_INSIDE_PARAMETERS,
    as_root,
    check_step_walker,
    check_unit_explorer,
    chromium,
    course_copy,
    free_port,
    isolated_env,
    require_chromium,
    running_server,
    wait_for,
)

from paths import BUILD

SCREENSHOTS = BUILD / "screenshots"
NOTEBOOK = "08_playground.ipynb"
STOP_NOTEBOOK = "08_playground_stop.ipynb"
# Small enough that training takes a few seconds, big enough for the plot to show a curve.
SMALL = {"num_hiddens": 32, "num_epochs": 8, "max_tokens": 2000}
# Far too many epochs to finish: only the Stop button ends this run in time.
ENDLESS = {**SMALL, "num_epochs": 100_000}
KERNEL_READY = """() => {
    const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const context = widget && widget.sessionContext;
    const kernel = context && context.session && context.session.kernel;
    return !!(context && context.isReady && kernel && kernel.status === 'idle'
              && kernel.connectionStatus === 'connected');
}"""

pytestmark = pytest.mark.browser


def write_settings(settings) -> None:
    """No outbound news/update checks; lay out every cell even when off screen."""
    for name, value in {
        "apputils-extension/notification.jupyterlab-settings":
            {"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True},
        "notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    }.items():
        path = settings / "@jupyterlab" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("jupyterlab")
    require_chromium()
    # 08 with small training parameters, a copy of it that would train (almost) forever,
    # and 12 with small models trained in the notebook
    course = course_copy(tmp_path, {NOTEBOOK: (NOTEBOOK, SMALL),
                                    STOP_NOTEBOOK: (NOTEBOOK, ENDLESS),
                                    LOOK_INSIDE: (LOOK_INSIDE, LOOK_INSIDE_PARAMETERS)})
    port, token = free_port(), secrets.token_hex(16)
    write_settings(tmp_path / "settings")
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
               f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
               f"--LabApp.workspaces_dir={tmp_path / 'ws'}",
               "--LabApp.expose_app_in_browser=True", *as_root()]
    url = f"http://127.0.0.1:{port}"
    with running_server(command, isolated_env(tmp_path), tmp_path / "jupyterlab.log", url,
                        token):
        yield url, token, course


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


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
    # ... and draw the five most probable next characters as bars, greedy's choice on top.
    bars = page.locator(".crnn-bars")
    assert "the␣time␣machine␣" in bars.first.inner_text()
    assert page.locator(".crnn-bars .crnn-bar").count() == 5
    top = page.locator(".crnn-bar-char").first.inner_text()
    assert top == generated[0].replace(" ", "␣")
    widths = [bar.evaluate("el => el.getBoundingClientRect().width")
              for bar in page.locator(".crnn-bars .crnn-bar").all()]
    assert widths == sorted(widths, reverse=True) and widths[0] > 0

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".jp-Notebook .jp-Cell").last.evaluate(
        "cell => cell.scrollIntoView({block: 'end'})")
    page.wait_for_timeout(300)
    page.locator(".jp-NotebookPanel").first.screenshot(
        path=str(SCREENSHOTS / "08_playground.png"))


def test_look_inside_views_in_jupyterlab(jupyterlab, browser):
    url, token, _ = jupyterlab
    page = open_and_run_all(browser, url, token, LOOK_INSIDE)
    wait_until_done(page, 300)
    check_unit_explorer(page)
    check_step_walker(page)


def test_stop_button_ends_training_while_the_cell_is_busy(jupyterlab, browser):
    url, token, _ = jupyterlab
    page = open_and_run_all(browser, url, token, STOP_NOTEBOOK)
    status = page.locator(".widget-label", has_text=re.compile(r"^epoch \d+/100000"))
    status.first.wait_for(timeout=120_000)  # the live dashboard shows progress
    assert "interrupt button" not in status.first.inner_text()  # Stop can reach the kernel
    assert page.locator(".jp-OutputArea-output [class*='progress']").count() >= 1
    page.get_by_role("button", name="Stop").click()
    wait_until_done(page, 60)  # would take hours without the Stop button
    text = page.locator(".jp-Notebook").inner_text()
    assert "Training was stopped during epoch" in text
    assert "identical parameters: True" in text  # the notebook went on with what was learned
