"""Every course notebook executes headless with papermill (small parameters where it trains).

The cells whose output teaches something deterministic are compared with the committed outputs
by nbval (see the Makefile's test target); the training notebook's are compared in
test_training_full.py, which runs it once with the book's parameters.
"""
import json
from pathlib import Path

import pytest

import course
from paths import course_notebooks

NOTEBOOKS = course_notebooks()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_runs_headless(notebook, tmp_path):
    parameters = course.SMALL_PARAMETERS.get(notebook.stem, {})
    executed = course.execute(notebook, tmp_path / notebook.name, parameters)
    outputs = [out for cell in executed["cells"] for out in cell.get("outputs", [])]
    assert not [out for out in outputs if out["output_type"] == "error"]
    text = "".join(course.cell_text(cell) for cell in executed["cells"])
    assert "IProgress not found" not in text and "Traceback" not in text


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_committed_notebook_is_clean(notebook):
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    assert nb == course.clean(json.loads(notebook.read_text(encoding="utf-8"))), \
        f"{notebook.name} carries execution noise: run `make clean-notebooks`"
    counts = [c["execution_count"] for c in nb["cells"] if c["cell_type"] == "code"
              and c["execution_count"] is not None]
    assert counts == list(range(1, len(counts) + 1)), "execution counts out of order"
    raw = notebook.read_text(encoding="utf-8")
    assert str(Path.home()) not in raw and "/work/" not in raw, "absolute path in outputs"
    assert "0x7f" not in raw, "memory address in outputs"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert any("parameters" in c["metadata"].get("tags", []) for c in code), \
        "no papermill parameters cell"
    assert all(c["execution_count"] is not None for c in code), \
        f"{notebook.name} has cells that were not executed: run `make notebooks`"


def test_clean_joins_a_print_that_the_kernel_split_into_chunks():
    cell = {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": ["print(1)"],
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["minibatch:"]},
                        {"output_type": "stream", "name": "stdout", "text": [" (2, 5)\n", "x\n"]},
                        {"output_type": "stream", "name": "stderr", "text": ["warning\n"]}]}
    nb = course.clean({"cells": [cell], "metadata": {}})
    assert [(o["name"], o["text"]) for o in nb["cells"][0]["outputs"]] == [
        ("stdout", ["minibatch: (2, 5)\n", "x\n"]), ("stderr", ["warning\n"])]
