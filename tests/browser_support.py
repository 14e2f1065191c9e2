"""What the browser tests share (test_browser.py: JupyterLab; test_browser_classic.py: the classic
Notebook of Colab's widget stack). Not a test module: pytest puts tests/ on the import path.

Follows shared/docs/browser-testing.md: a server on 127.0.0.1 with a token and isolated config
dirs, Debian's /usr/bin/chromium (never `playwright install`)."""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

import nbformat
import pytest

from course import SMALL_PARAMETERS
from paths import NOTEBOOKS

LOOK_INSIDE = "12_look_inside.ipynb"
# Notebook 12 as the smoke run has it (no checkpoints: small models trained in the notebook),
# but trained long enough that the next-character bars differ from one step to the next.
LOOK_INSIDE_PARAMETERS = {**SMALL_PARAMETERS["12_look_inside"], "num_hiddens": 32,
                          "num_epochs": 8}
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def require_chromium() -> None:
    """Fail in CI, skip elsewhere, when Debian's Chromium is missing."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_parameters(notebook: Path, parameters: dict):
    """The notebook with a cell setting `parameters` right after its `parameters` cell, as
    papermill injects them (without needing papermill in every test environment)."""
    nb = nbformat.read(notebook, as_version=4)
    where = next(i for i, cell in enumerate(nb.cells)
                 if "parameters" in cell.get("metadata", {}).get("tags", []))
    source = "# Parameters\n" + "".join(f"{name} = {value!r}\n"
                                        for name, value in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(where + 1, cell)
    return nb


def course_copy(tmp: Path, variants: dict[str, tuple[str, dict]]) -> Path:
    """The course's notebooks under `tmp/course`, plus `variants`: {new name: (course notebook,
    parameters)}, e.g. a small training run."""
    course = tmp / "course"
    shutil.copytree(NOTEBOOKS, course / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for name, (source, parameters) in variants.items():
        nbformat.write(with_parameters(NOTEBOOKS / source, parameters),
                       course / "notebooks" / name)
    return course


def isolated_env(tmp: Path) -> dict[str, str]:
    """The environment for a server: its own config dirs; no CHAPTER_RNN_HEADLESS, so the
    kernel shows the live widgets."""
    env = {k: v for k, v in os.environ.items() if k != "CHAPTER_RNN_HEADLESS"}
    for var, name in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                      ("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "mpl")]:
        env[var] = str(tmp / name)
    return env


def as_root() -> list[str]:
    return ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


@contextlib.contextmanager
def running_server(command: list[str], env: dict, log_path: Path, url: str,
                   token: str) -> Iterator[None]:
    """Start a Jupyter server, wait until it answers, and stop it and its kernels afterwards."""
    log = open(log_path, "wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
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
                pytest.fail("the Jupyter server did not start:\n"
                            + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        yield
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


def check_unit_explorer(page) -> None:
    """Pick another unit from the ranked list: the passage is coloured anew."""
    passage = page.locator(".crnn-colored").first  # the unit explorer is the first view
    before = passage.inner_html()
    page.locator(".widget-dropdown", has_text="ranked").locator("select").select_option(index=1)
    wait_for(page, lambda: passage.inner_html() != before, 30,
             "the passage to be coloured by another unit")


def check_step_walker(page) -> None:
    """Step once: the walker moves to step 2 and draws new next-character bars."""
    view = page.locator(".widget-html", has_text=re.compile(r"step \d+ of \d+")).first
    assert re.search(r"step 1 of \d+", view.inner_text())
    before = view.locator(".crnn-bars").inner_text()
    page.get_by_role("button", name="step ▶").click()
    wait_for(page, lambda: re.search(r"step 2 of \d+", view.inner_text()), 30,
             "the step walker to take a step")
    assert view.locator(".crnn-bars").inner_text() != before


def wait_for(page, predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        page.wait_for_timeout(500)


@contextlib.contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
