"""bench/benchmark.py: the bound's products, the breakdown's parts and the tables, at tiny sizes.

Nothing here times anything against a threshold; the measurements themselves are `make bench`'s.
"""
import importlib.util
import json
import sys
from types import SimpleNamespace

import pytest
import torch

import chapter_rnn as crnn
from paths import ROOT

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("benchmark", ROOT / "bench" / "benchmark.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["benchmark"] = module  # the breakdown labels the book's code by module name
    spec.loader.exec_module(module)
    yield module
    del sys.modules["benchmark"]


def test_the_bound_runs_exactly_the_unavoidable_products(bench):
    n, steps, h, vocab_size = 4, 5, 8, 6
    products = bench.unavoidable_products(n, steps, h, vocab_size, CPU)
    with torch.profiler.profile(record_shapes=True) as prof:
        products()
    mms = [e for e in prof.events() if e.name == "aten::mm"]
    recurrence = [e for e in mms if e.input_shapes[:2] == [[n, h], [h, h]]]
    assert len(recurrence) == steps + steps - 1  # forward, and backward without the first step
    assert len(mms) == len(recurrence) + 4  # dW_hh, scores, dW_hq, gradient reaching H
    assert [[h, steps * n], [steps * n, h]] in [e.input_shapes[:2] for e in mms]


def test_the_bound_row_runs_the_products_for_every_minibatch(bench, monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "unavoidable_products",
                        lambda *shapes: (lambda: calls.append(shapes)))
    minibatches = [(torch.zeros(4, 5, dtype=torch.long), None)] * 3
    bench.bound_epochs(minibatches, 28, CPU)(minibatches, 2)
    assert len(calls) == 6 and calls[0] == (4, 5, bench.NUM_HIDDENS, 28, CPU)


def event(name, parent=None):
    return SimpleNamespace(name=name, cpu_parent=parent)


def test_events_are_sorted_into_parts(bench):
    engine_node = event("MmBackward0", event("autograd::engine::evaluate_function: MmBackward0"))
    assert bench.part_of(engine_node) == bench.AUTOGRAD
    assert bench.part_of(event("aten::mm", engine_node)) == bench.PRODUCTS
    assert bench.part_of(event("aten::t", engine_node)) == bench.PRODUCTS
    assert bench.part_of(event("aten::tanh_")) == bench.ELEMENTWISE
    assert bench.part_of(event("aten::mm", event(bench.LOSS))) == bench.LOSS  # a label owns all
    assert bench.part_of(event("aten::index_select")) == bench.LOOKUP
    assert bench.part_of(event("aten::empty")) == bench.OTHER


@pytest.fixture(scope="module")
def small_breakdown(bench):
    corpus, vocab = crnn.load_corpus_time_machine(600)
    crnn.set_seed(0)
    return bench.breakdown(corpus, vocab, CPU, 1, 1, num_hiddens=16, loader_args=(4, 5))


def test_breakdown_parts_add_up_to_the_profiled_wall_time(bench, small_breakdown):
    assert set(small_breakdown["paths"]) == {"book's code", "teaching path", "fast path"}
    for name, path in small_breakdown["paths"].items():
        parts = path["parts_ms"]
        assert list(parts) == bench.PARTS
        assert sum(parts.values()) == pytest.approx(path["profiled_wall_ms"], rel=1e-9), name
        assert parts[bench.BOUND_PART] == small_breakdown["bound_ms"] > 0
        measured = [p for p in bench.PARTS if p not in (bench.BEYOND, bench.PYTHON)]
        assert all(parts[p] >= 0 for p in measured), name
        assert parts[bench.LOSS] > 0 and parts[bench.CLIP] > 0 and parts[bench.DATA] > 0
    paths = small_breakdown["paths"]
    assert paths["fast path"]["parts_ms"][bench.AUTOGRAD] == 0  # no autograd on the fast path
    assert paths["teaching path"]["parts_ms"][bench.AUTOGRAD] > 0
    assert "sum of the parts" in bench.breakdown_table(small_breakdown)


def test_breakdown_labels_are_removed_afterwards(small_breakdown):
    assert crnn.training.grad_clipping is crnn.grad_clipping
    fast_path = sys.modules["chapter_rnn.fast_path"]
    assert fast_path.grad_norm is crnn.grad_norm
    assert fast_path.cross_entropy_and_grad is crnn.cross_entropy_and_grad


def fake_row(name, tokens_per_sec, setting="default", threads=2):
    """A merged row whose two rounds measured `tokens_per_sec` and 1.2 times that."""
    rounds = [tokens_per_sec, 1.2 * tokens_per_sec]
    return {"name": name, "device": "cpu", "threads_setting": setting, "threads": threads,
            "tokens_per_sec": tokens_per_sec, "loop_tokens_per_sec": tokens_per_sec,
            "round_tokens_per_sec": rounds, "round_loop_tokens_per_sec": rounds,
            "best_tokens_per_sec": max(rounds),
            "peak_memory_mb": 1.0, "note": ""}


def test_ratios_read_against_the_book_and_the_bound(bench):
    rows = [fake_row(bench.BOUND, 80_000), fake_row(bench.BASELINE, 40_000),
            fake_row("fast path", 60_000),
            fake_row(bench.BOUND, 50_000, 1, 1), fake_row(bench.BASELINE, 25_000, 1, 1)]
    bench.add_ratios(rows)
    fast = rows[2]
    assert fast["ratio_to_baseline"] == pytest.approx(1.5)
    assert fast["fraction_of_bound"] == pytest.approx(0.75)
    assert rows[4]["fraction_of_bound"] == pytest.approx(0.5)  # within its own thread setting
    markdown = bench.markdown_table(rows)
    assert fast["best_ratio_to_baseline"] == pytest.approx(1.5)
    assert fast["best_fraction_of_bound"] == pytest.approx(0.75)
    assert "| fast path | 60,000 | 1.50 [1.50-1.50] | 1.50 | 0.75 |  |  |  |  |" in markdown
    assert "cpu, 2 threads (torch default): tokens/s" in markdown and "cpu, 1 thread:" in markdown
    assert "fast path" in bench.table(rows)


def test_table_option_prints_the_saved_table_without_running(bench, tmp_path, capsys,
                                                             monkeypatch):
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps({"markdown_table": "| saved | table |"}))
    monkeypatch.setattr(sys, "argv", ["benchmark.py", "--table", str(saved)])
    assert bench.main() == 0
    assert capsys.readouterr().out == "| saved | table |\n"


def test_measure_times_every_epoch_but_the_warm_up_and_the_last(bench):
    loader = [(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long))] * 4

    def run(clock, epochs):
        for _ in range(epochs):
            for _ in clock:
                pass

    row = bench.measure("fake", run, loader, CPU, 3, threads=1)
    assert len(row["epoch_tokens_per_sec"]) == 3 and row["note"] == ""
    assert row["threads"] == 1 and row["epoch_loop_tokens_per_sec"] == row["epoch_tokens_per_sec"]


def test_ratios_are_paired_round_by_round(bench):
    # the machine slowed down by half in round 2: every row alike, so the ratio stays 2
    rows = [fake_row(bench.BOUND, 100.0), fake_row(bench.BASELINE, 50.0)]
    rows[0]["round_tokens_per_sec"] = [100.0, 50.0]
    rows[1]["round_tokens_per_sec"] = [50.0, 25.0]
    bench.add_ratios(rows)
    assert rows[0]["ratio_to_baseline"] == 2.0 and rows[0]["ratio_to_baseline_range"] == [2.0, 2.0]
    assert rows[1]["fraction_of_bound"] == 0.5


def test_merge_keeps_each_round_s_median(bench):
    rounds = [{"epoch_tokens_per_sec": [1.0, 3.0], "epoch_loop_tokens_per_sec": [1.0, 3.0],
               "note": "", "peak_memory_mb": 1.0},
              {"epoch_tokens_per_sec": [5.0], "epoch_loop_tokens_per_sec": [5.0], "note": "",
               "peak_memory_mb": 2.0}]
    row = bench.merge(rounds)
    assert row["round_tokens_per_sec"] == [2.0, 5.0] and row["tokens_per_sec"] == 3.0
    assert row["epochs"] == 3 and row["peak_memory_mb"] == 2.0
    assert row["best_tokens_per_sec"] == 5.0
