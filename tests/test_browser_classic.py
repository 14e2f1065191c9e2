"""The course's widgets with Colab's widget stack: ipywidgets 7, ipykernel 6 and the classic
Notebook 6.5 front end, driven by headless Chromium through Playwright.

Runs in `.venv-colab` (requirements-colab.txt), which `make test` builds; in an environment
without the classic Notebook 6 (the main `.venv`) the tests skip themselves and say so. Server
and browser as in shared/docs/browser-testing.md ("Colab's widget stack in the classic Notebook
front end"): type with `locator.type`, which reaches the kernel where `fill` did not always."""
import re
import secrets
import sys
from importlib import metadata

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
PLAYGROUND, STOP = "08_playground.ipynb", "08_playground_stop.ipynb"
SMALL = {"num_hiddens": 32, "num_epochs": 8, "max_tokens": 2000}
ENDLESS = {**SMALL, "num_epochs": 100_000}  # only the Stop button ends this run in time
KERNEL_READY = """() => !!(window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel
    && Jupyter.notebook.kernel.is_connected() && Jupyter.notebook.kernel_busy === false)"""
ALL_RUN = """() => Jupyter.notebook.get_cells().filter(c => c.cell_type === 'code')
    .every(c => typeof c.input_prompt_number === 'number') && !Jupyter.notebook.kernel_busy"""

pytestmark = pytest.mark.browser


def classic_notebook_version() -> str | None:
    try:
        return metadata.version("notebook")
    except metadata.PackageNotFoundError:
        return None


@pytest.fixture(scope="module")
def classic(tmp_path_factory):
    version = classic_notebook_version()
    if version is None or not version.startswith("6."):
        pytest.skip(f"needs the classic Notebook 6 (found {version}): `make test` runs this file "
                    f"in .venv-colab")
    require_chromium()
    tmp_path = tmp_path_factory.mktemp("classic")
    variants = {PLAYGROUND: (PLAYGROUND, SMALL), STOP: (PLAYGROUND, ENDLESS)}
    variants[LOOK_INSIDE] = (LOOK_INSIDE, LOOK_INSIDE_PARAMETERS)
    course = course_copy(tmp_path, variants)
    port, token = free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "notebook", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--NotebookApp.port_retries=0",
               f"--NotebookApp.token={token}", f"--notebook-dir={course}", *as_root()]
    url = f"http://127.0.0.1:{port}"
    with running_server(command, isolated_env(tmp_path), tmp_path / "notebook.log", url, token):
        yield url, token


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


def run_all(browser, classic, notebook: str):
    url, token = classic
    page = browser.new_page(viewport={"width": 1280, "height": 2000})
    page.goto(f"{url}/notebooks/notebooks/{notebook}?token={token}")
    # Running before the kernel is connected raced once (shared/docs/browser-testing.md).
    wait_for(page, lambda: page.evaluate(KERNEL_READY), 120, "the kernel")
    page.evaluate("() => Jupyter.notebook.execute_all_cells()")
    return page


def wait_until_done(page, timeout: float) -> None:
    """Every code cell has run and the kernel is idle; fail on an error output."""
    errors = page.locator(".output_error")

    def finished() -> bool:
        if errors.count():
            pytest.fail(f"a cell failed:\n{errors.first.inner_text()[-2000:]}")
        return page.evaluate(ALL_RUN)

    wait_for(page, finished, timeout, "all cells to run")


def screenshot(page, locator, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    locator.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    locator.screenshot(path=str(SCREENSHOTS / name))


def test_playground_and_its_bars_in_the_classic_notebook(classic, browser):
    page = run_all(browser, classic, PLAYGROUND)
    wait_until_done(page, 300)
    assert "identical parameters: True" in page.locator("#notebook").inner_text()

    text_box = page.locator(".widget-text input").first
    text_box.click()
    text_box.press("Control+A")
    text_box.type("The Time Machine!")
    text_box.press("Enter")
    seen = page.locator(".crnn-seen")
    wait_for(page, lambda: seen.count() and seen.first.inner_text() == "the time machine ",
             60, "the playground to answer")
    generated = page.locator(".crnn-generated").first.inner_text()
    assert len(generated) == 50 and re.fullmatch("[a-z ]+", generated)
    bars = page.locator(".crnn-bars")
    assert "the␣time␣machine␣" in bars.first.inner_text()
    assert page.locator(".crnn-bars .crnn-bar").count() == 5
    assert page.locator(".crnn-bar-char").first.inner_text() == generated[0].replace(" ", "␣")
    screenshot(page, bars.first.locator("xpath=ancestor::div[contains(@class, 'output')][1]"),
               "08_playground_classic.png")


def test_stop_button_ends_training_on_ipykernel_6(classic, browser):
    page = run_all(browser, classic, STOP)
    status = page.locator(".widget-label", has_text=re.compile(r"^epoch \d+/100000"))
    status.first.wait_for(timeout=120_000)  # the live dashboard shows progress
    assert "interrupt button" not in status.first.inner_text()
    page.get_by_role("button", name="Stop").click()
    wait_until_done(page, 60)  # would take hours without the Stop button
    text = page.locator("#notebook").inner_text()
    assert "Training was stopped during epoch" in text
    assert "identical parameters: True" in text  # the notebook went on with what was learned


def test_look_inside_views_in_the_classic_notebook(classic, browser):
    page = run_all(browser, classic, LOOK_INSIDE)
    wait_until_done(page, 300)
    check_unit_explorer(page)
    check_step_walker(page)
    screenshot(page, page.locator(".widget-html", has_text=re.compile(r"step \d+ of \d+")).first,
               "12_look_inside_classic.png")
