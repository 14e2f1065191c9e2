"""The package is generated from the notebooks' #@save cells; drift between them fails."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sync_package

ROOT = Path(__file__).resolve().parent.parent


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


def edit_saved_cell(notebook: Path, old: str, new: str) -> None:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if source.startswith("#@save") and old in source:
            cell["source"] = source.replace(old, new)
            break
    else:
        raise AssertionError(f"no #@save cell contains {old!r}")
    notebook.write_text(json.dumps(nb, indent=1), encoding="utf-8")


def test_editing_a_save_cell_without_sync_fails_naming_notebook_and_function(repo_copy):
    edit_saved_cell(repo_copy / "notebooks" / "06_gradient_clipping.ipynb",
                    "if norm > theta:", "if norm >= theta:")
    result = run_tool(repo_copy, "--check")
    assert result.returncode == 1
    assert "notebooks/06_gradient_clipping.ipynb" in result.stderr
    assert "grad_clipping differ" in result.stderr

    assert run_tool(repo_copy).returncode == 0  # make sync
    assert run_tool(repo_copy, "--check").returncode == 0
    assert "if norm >= theta:" in (repo_copy / "chapter_rnn/gradient_clipping.py").read_text()


def test_sync_twice_changes_nothing(repo_copy):
    before = {p: p.read_bytes() for p in (repo_copy / "chapter_rnn").glob("*.py")}
    first, second = run_tool(repo_copy), run_tool(repo_copy)
    assert first.stdout == second.stdout == ""  # nothing written: already in sync
    assert before == {p: p.read_bytes() for p in (repo_copy / "chapter_rnn").glob("*.py")}


def test_generated_modules_say_where_they_come_from():
    for path in (ROOT / "chapter_rnn").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        if text.startswith(sync_package.GENERATED_PREFIX):
            first = text.splitlines()[0]
            notebook = first.split("notebooks/")[1].split(" ")[0]
            assert "do not edit" in first
            assert notebook == "*.ipynb" or (ROOT / "notebooks" / notebook).exists()


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
