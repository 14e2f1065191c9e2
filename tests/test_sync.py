"""The package is generated from the notebooks' #@save cells; drift between them fails."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sync_package
from paths import PACKAGE, ROOT, course_notebooks, module_name

MARKER = re.compile(r"^# %% (notebooks/\S+\.ipynb) cell (\d+)(?: \(id (\S+)\))?$")


def test_committed_package_is_in_sync_with_the_notebooks():
    problems = sync_package.check()
    assert not problems, "\n".join(problems)


@pytest.fixture
def repo_copy(tmp_path):
    for part in ("notebooks", "chapter_rnn", "tools"):
        shutil.copytree(ROOT / part, tmp_path / part,
                        ignore=shutil.ignore_patterns("__pycache__", "*.ipynb_checkpoints"))
    return tmp_path


def run_tool(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "tools/sync_package.py", *args], cwd=repo,
                          capture_output=True, text=True)


def saved_cell_containing(nb: dict, text: str) -> tuple[int, dict]:
    for index, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        if source.startswith("#@save") and text in source:
            return index, cell
    raise AssertionError(f"no #@save cell contains {text!r}")


def edit_saved_cell(notebook: Path, old: str, new: str) -> str:
    """Change a #@save cell; return the cell's marker ('notebooks/... cell N (id ...)')."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    index, cell = saved_cell_containing(nb, old)
    cell["source"] = "".join(cell["source"]).replace(old, new)
    notebook.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return f"notebooks/{notebook.name} cell {index} (id {cell['id']})"


def test_editing_a_save_cell_without_sync_fails_naming_notebook_cell_and_function(repo_copy):
    where = edit_saved_cell(repo_copy / "notebooks" / "06_gradient_clipping.ipynb",
                            "if norm > theta:", "if norm >= theta:")
    result = run_tool(repo_copy, "--check")
    assert result.returncode == 1
    assert "notebooks/06_gradient_clipping.ipynb" in result.stderr
    assert "grad_clipping differ" in result.stderr
    # the cell that differs, by index and id, and what it defines
    assert re.search(rf"^  {re.escape(where)} differs: .*grad_clipping", result.stderr,
                     re.MULTILINE), result.stderr
    assert "matches no #@save cell" not in result.stderr  # the same block, not reported twice

    assert run_tool(repo_copy).returncode == 0  # make sync
    assert run_tool(repo_copy, "--check").returncode == 0
    assert "if norm >= theta:" in (repo_copy / "chapter_rnn/gradient_clipping.py").read_text()


def test_a_hand_edited_package_names_the_block_and_its_cell(repo_copy):
    module = repo_copy / "chapter_rnn" / "gradient_clipping.py"
    text = module.read_text(encoding="utf-8")
    module.write_text(text.replace("if norm > theta:", "if norm >= theta:"), encoding="utf-8")
    result = run_tool(repo_copy, "--check")
    assert result.returncode == 1
    assert "grad_clipping differ" in result.stderr
    assert re.search(r"^  notebooks/06_gradient_clipping\.ipynb cell \d+ \(id \S+\) differs: "
                     r".*grad_clipping", result.stderr, re.MULTILINE), result.stderr


def test_a_cell_added_above_moves_the_markers_and_check_says_only_that(repo_copy):
    notebook = repo_copy / "notebooks" / "06_gradient_clipping.ipynb"
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    nb["cells"].insert(2, {"cell_type": "markdown", "id": "new-cell", "metadata": {},
                           "source": ["A new paragraph."]})
    notebook.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    result = run_tool(repo_copy, "--check")
    assert result.returncode == 1
    assert "only the cell markers or the layout differ" in result.stderr
    assert " differs: " not in result.stderr
    assert run_tool(repo_copy).returncode == 0
    assert run_tool(repo_copy, "--check").returncode == 0


def test_sync_twice_changes_nothing(repo_copy):
    assert run_tool(repo_copy).returncode == 0  # writes only what is out of date, if anything
    before = {p: p.read_bytes() for p in (repo_copy / "chapter_rnn").glob("*.py")}
    again = run_tool(repo_copy)
    assert again.returncode == 0 and again.stdout == ""  # nothing written the second time
    assert before == {p: p.read_bytes() for p in (repo_copy / "chapter_rnn").glob("*.py")}
    assert run_tool(repo_copy, "--check").returncode == 0


def test_generated_modules_say_where_they_come_from():
    for path in PACKAGE.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        if text.startswith(sync_package.GENERATED_PREFIX):
            first = text.splitlines()[0]
            notebook = first.split("notebooks/")[1].split(" ")[0]
            assert "do not edit" in first
            assert notebook == "*.ipynb" or (ROOT / "notebooks" / notebook).exists()


@pytest.mark.parametrize("notebook", [nb for nb in course_notebooks()
                                      if sync_package.saved_cells(nb)],
                         ids=lambda nb: nb.stem)
def test_every_block_names_the_cell_it_came_from(notebook):
    """Each `# %%` marker names a #@save cell by index and id, and the code under it, up to the
    next marker, is that cell's code: a traceback into the package leads to the right cell."""
    module = (PACKAGE / f"{module_name(notebook)}.py").read_text(encoding="utf-8")
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    lines = module.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("# %% ")]
    assert len(starts) == len(sync_package.saved_cells(notebook))
    for start, end in zip(starts, starts[1:] + [len(lines)]):
        match = MARKER.match(lines[start])
        assert match, lines[start]
        path, index, cell_id = match.group(1), int(match.group(2)), match.group(3)
        assert path == f"notebooks/{notebook.name}"
        cell = cells[index]
        source = "".join(cell["source"])
        assert cell["cell_type"] == "code" and source.startswith("#@save")
        assert cell_id == cell.get("id")
        block = "\n".join(lines[start + 1:end])
        block = re.sub(r"\n__all__ = .*\Z", "", block, flags=re.DOTALL).strip("\n")
        assert block == source.partition("\n")[2].strip("\n")


def test_a_traceback_line_leads_to_its_cell():
    import chapter_rnn as crnn

    with pytest.raises(ValueError, match="prefix is empty") as err:
        crnn.predict_ch8("", 5, None, None, None)
    frame = err.traceback[-1]
    lines = Path(frame.path).read_text(encoding="utf-8").splitlines()
    marker = next(line for line in reversed(lines[:frame.lineno]) if line.startswith("# %% "))
    notebook, index = MARKER.match(marker).group(1, 2)
    cell = json.loads((ROOT / notebook).read_text(encoding="utf-8"))["cells"][int(index)]
    assert f"def {frame.name}(" in "".join(cell["source"])  # the raising function's own cell


def test_book_names_have_the_books_signatures():
    import inspect

    import chapter_rnn as crnn

    expected = {
        "load_data_time_machine": "(batch_size, num_steps, use_random_iter, max_tokens)",
        "get_params": "(vocab_size, num_hiddens, device)",
        "init_rnn_state": "(batch_size, num_hiddens, device)",
        "rnn": "(inputs, state, params)",
        "predict_ch8": "(prefix, num_preds, net, vocab, device)",
        "grad_clipping": "(net, theta)",
        "train_epoch_ch8": "(net, train_iter, loss, updater, device, use_random_iter",
        "train_ch8": "(net, train_iter, vocab, lr, num_epochs, device, use_random_iter",
    }
    for name, params in expected.items():
        sig = inspect.signature(getattr(crnn, name))
        assert "(" + ", ".join(sig.parameters) + ")" == params or \
            ("(" + ", ".join(sig.parameters)).startswith(params), name
    model = inspect.signature(crnn.RNNModelScratch)
    assert list(model.parameters) == ["vocab_size", "num_hiddens", "device", "get_params",
                                      "init_state", "forward_fn"]
    assert list(inspect.signature(crnn.RNNModelScratch.begin_state).parameters) == \
        ["self", "batch_size", "device"]
    for name in ["read_time_machine", "tokenize", "Vocab", "load_corpus_time_machine",
                 "seq_data_iter_random", "seq_data_iter_sequential", "try_gpu"]:
        assert hasattr(crnn, name), name
