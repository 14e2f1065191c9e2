"""The training notebook, once, with the book's parameters on the CPU: the book's perplexities.

The book reports 1.0 (sequential partitioning) and 1.5 (random sampling) after 500 epochs; the
course must reach `course.BOOK_BOUNDS` (1.1 and 1.6). Seeded runs on the CPU repeat exactly, so
the outputs that nbval would check are also compared with the committed notebook here.
"""
import json
import re

import pytest

import chapter_rnn as crnn
import course
from paths import NOTEBOOKS

NOTEBOOK = NOTEBOOKS / "07_training.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    # The noise across seeds (extra_seeds) would add four more full runs: the committed
    # notebook shows them; here the two book runs and the checked cells are what is tested.
    tmp = tmp_path_factory.mktemp("full")
    return course.execute(NOTEBOOK, tmp / NOTEBOOK.name,
                          {"device": "cpu", "extra_seeds": [], "checkpoint_dir": str(tmp)})


def report(perplexity: float, epochs: int = 500) -> str:
    """What a training cell prints at the end: the history's summary, then generated text."""
    history = crnn.TrainingHistory(device="cpu")
    for epoch in range(1, epochs + 1):
        history.record(epoch, perplexity, 30_000.0, [1.0])
    return f"{history.summary()}\ntime traveller you can show black is white\ntraveller said\n"


def training_notebook(**reports: str) -> dict:
    """An executed notebook whose `train-NAME` cells printed the given reports."""
    return {"cells": [{"cell_type": "code", "metadata": {"tags": [f"train-{name}"]},
                       "outputs": [{"output_type": "stream", "name": "stdout",
                                    "text": ["epoch 50/500, perplexity 9.1\n", text]}]}
                      for name, text in reports.items()]}


def test_the_bounds_check_reads_the_summary_line_and_fails_a_missed_run():
    """The check the slow test relies on can fail: it reads TrainingHistory.summary()'s line."""
    reached = training_notebook(sequential=report(1.03), random=report(1.34))
    assert course.missed_bounds({"07_training": reached}) == []
    missed = training_notebook(sequential=report(1.03), random=report(1.71))
    assert course.missed_bounds({"07_training": missed}) == ["random: perplexity 1.71 > 1.6"]
    blown_up = training_notebook(sequential=report(3.6e166), random=report(1.2))
    assert course.missed_bounds({"07_training": blown_up}) == \
        ["sequential: perplexity 3.6e+166 > 1.1"]
    with pytest.raises(ValueError, match="no perplexity summary"):
        course.final_perplexity("time traveller")


@pytest.mark.slow
def test_book_perplexities_are_reached(executed):
    results = course.training_results(executed)
    assert set(course.BOOK_BOUNDS) <= set(results), f"training cells found: {sorted(results)}"
    final = {name: course.final_perplexity(results[name]) for name in course.BOOK_BOUNDS}
    print(final)
    for name, bound in course.BOOK_BOUNDS.items():
        assert 1.0 <= final[name] <= bound, f"{name}: perplexity {final[name]} > {bound}"
        assert "after 500 epochs" in results[name]
    assert re.search(r"^time traveller", results["sequential"], re.MULTILINE)


@pytest.mark.slow
def test_checked_outputs_match_the_committed_notebook(executed):
    committed = json.loads(NOTEBOOK.read_text(encoding="utf-8"))

    def checked(nb):
        return [course.cell_text(c) for c in nb["cells"]
                if "nbval-check-output" in c.get("metadata", {}).get("tags", [])]

    assert checked(committed), "the training notebook has no checked cells"
    assert checked(executed) == checked(committed)
