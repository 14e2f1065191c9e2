"""Launching elsewhere: Binder's environment, Colab's setup cell, generated from one place."""
import json
import subprocess
import sys
import types

import pytest

import launch
from paths import ROOT, course_notebooks


def test_launch_files_are_up_to_date():
    result = subprocess.run([sys.executable, "tools/launch.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_binder_requirements_follow_requirements_txt():
    binder = launch.BINDER_REQUIREMENTS.read_text().splitlines()
    learner = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
               if line and not line.startswith("#")]
    assert "torch==2.13.0+cpu" in binder and "torch==2.13.0" in learner
    assert [line for line in learner if not line.startswith("torch")] == \
        [line for line in binder if line and not line.startswith(("#", "--", "torch"))]
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"


def setup_cells():
    for path in course_notebooks():
        nb = json.loads(path.read_text(encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        yield path.name, code[0], nb["cells"][0]


def run_setup_cell(source, monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    exec(compile(source, "setup-cell", "exec"), {})
    return calls


@pytest.mark.parametrize("name, setup, title", list(setup_cells()))
def test_every_notebook_has_a_badge_and_a_setup_cell_that_is_a_no_op_here(
        name, setup, title, monkeypatch):
    assert launch.SETUP_TAG in setup["metadata"]["tags"]
    assert launch.colab_url(name) in "".join(title["source"])
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert run_setup_cell("".join(setup["source"]), monkeypatch) == []


def test_on_colab_the_setup_cell_installs_the_course_and_never_touches_torch(monkeypatch):
    _, setup, _ = next(setup_cells())
    google = types.ModuleType("google")
    google.colab = types.ModuleType("google.colab")
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", google.colab)
    calls = run_setup_cell("".join(setup["source"]), monkeypatch)
    assert len(calls) == 1
    command = calls[0]
    assert command[1:5] == ["-m", "pip", "install", "-q"] and "--no-deps" in command
    assert f"chapter-rnn @ git+{launch.repository_url()}" in command
    installed = " ".join(command[5:])
    for colab_owned in ("torch", "numpy", "matplotlib", "ipywidgets"):
        assert colab_owned not in installed.replace("chapter-rnn", "")


def test_readme_badges_point_at_the_configured_repository():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert launch.binder_url("01_data.ipynb") in readme
    assert launch.colab_url("01_data.ipynb") in readme


@pytest.mark.slow
def test_binder_environment_builds_from_binder_alone_and_runs_the_course(tmp_path):
    result = subprocess.run(["bash", "tools/check_binder.sh", str(tmp_path / "venv")],
                            cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "binder env: torch 2.13.0+cpu" in result.stdout
    assert "=== training runs ===" in result.stdout
