"""How long notebook 12's views take to answer (`make bench` prints these rows).

One model with the book's size (512 hidden units; its parameters are freshly drawn: the time of
a view does not depend on what the model learned) and a 500-character passage of The Time
Machine. Each row is the median over `repeats` calls of what a widget does when its control
moves: build the view (the hidden states or the walk of the whole passage), recolour for another
unit, shade two models for another position, take one step. Run on its own:

    .venv/bin/python bench/view_timings.py
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch

import chapter_rnn as crnn
from chapter_rnn import views

NUM_HIDDENS, PASSAGE_CHARS, BUDGET_MS = 512, 500, 100.0


def median_ms(action: Callable[[], object], repeats: int) -> float:
    action()  # warm-up: first-call costs (imports, allocator) are not what a click costs
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure_views(repeats: int = 5) -> list[dict]:
    """[{view, action, ms}] for every widget action of notebook 12, at the book's size."""
    corpus, vocab = crnn.load_corpus_time_machine(10_000)
    passage = "".join(vocab.to_tokens(corpus[:PASSAGE_CHARS]))
    crnn.set_seed(0)
    cpu = torch.device("cpu")
    nets = [crnn.RNNModelScratch(len(vocab), NUM_HIDDENS, cpu, crnn.get_params,
                                 crnn.init_rnn_state, crnn.rnn) for _ in range(2)]
    states = crnn.hidden_states(nets[0], crnn.encode_text(passage, vocab))
    ranking = crnn.rank_units(states, crnn.char_features(passage))
    units = views.UnitExplorer(nets[0], vocab, passage, ranking)
    shades = views.InfluenceExplorer({"a": nets[0], "b": nets[1]}, vocab, passage)
    walker = views.StepWalker(nets[0], vocab, passage)
    cycle = iter(range(10**9))
    rows = [
        ("hidden units", "build (states of the passage)",
         lambda: views.UnitExplorer(nets[0], vocab, passage, ranking)),
        ("hidden units", "rank units by the features",
         lambda: crnn.rank_units(states, crnn.char_features(passage))),
        ("hidden units", "show another unit",
         lambda: setattr(units.unit, "value", next(cycle) % NUM_HIDDENS)),
        ("looks back at", "another position, two models (last character)",
         lambda: shades.render(len(passage) - 2)),
        ("one step", "build (walk the passage)", lambda: walker._new_prefix()),
        ("one step", "step forward", lambda: walker.go((walker.index + 1) % len(passage))),
    ]
    return [{"view": view, "action": action, "ms": median_ms(run, repeats)}
            for view, action, run in rows]


def view_table(rows: list[dict]) -> str:
    lines = [f"| view | action ({PASSAGE_CHARS} characters, {NUM_HIDDENS} hidden units) | ms | "
             f"within {BUDGET_MS:.0f} ms |", "|---|---|---:|---|"]
    lines += [f"| {r['view']} | {r['action']} | {r['ms']:.1f} | "
              f"{'yes' if r['ms'] <= BUDGET_MS else 'NO'} |" for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    print(f"torch threads: {torch.get_num_threads()}")
    print(view_table(measure_views()))
