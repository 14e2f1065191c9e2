"""`torch.compile` as a lever for the fast path: one minibatch's gradients, eager and compiled.

The function timed is the fast path's own minibatch as `train_epoch_fast` runs it, minus the
update: `RNNModelFast.forward_with_cache`, `cross_entropy_and_grad`, `RNNModelFast.backward`
and `grad_norm`, at the book's shapes (512 hidden units, batch 32, 35 steps). `torch.compile`
compiles that same code (the two Python floats it reads, the loss and the norm, split it into
graphs); the benchmark times it against the eager version, the two taking turns, with each
thread setting, and counts the matrix products the compiled version still calls: the compiler
fuses the element-wise work between them but hands the products to the same matrix library.
`make bench` prints these rows; run on its own:

    .venv/bin/python bench/compile_lever.py
"""
from __future__ import annotations

import logging
import os
import statistics
import time
from typing import Callable

import torch

import chapter_rnn as crnn

NUM_HIDDENS, BATCH_SIZE, NUM_STEPS, MAX_TOKENS = 512, 32, 35, 10_000
PRODUCT_OPS = {"aten::mm", "aten::addmm", "aten::addmm_"}


def fast_minibatch(net: crnn.RNNModelFast) -> Callable:
    """(X, Y, H0) -> (loss, gradients, gradient norm): the fast path's minibatch without the
    update, so that it can run again and again on the same parameters."""
    def gradients(X: torch.Tensor, Y: torch.Tensor, H0: torch.Tensor):
        outputs, cache = net.forward_with_cache(X, (H0,))
        loss, dO = crnn.cross_entropy_and_grad(outputs, Y.T.reshape(-1))
        grads = net.backward(dO, cache)
        return loss, grads, crnn.grad_norm(grads)
    return gradients


def products_called(fn: Callable, *args) -> int:
    """How many matrix products one call of `fn` runs (from the profiler's CPU events)."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn(*args)
    return sum(event.count for event in prof.key_averages() if event.key in PRODUCT_OPS)


def compare(threads: int, rounds: int = 5, backend: str = "inductor", *,
            num_hiddens: int = NUM_HIDDENS, max_tokens: int = MAX_TOKENS) -> dict:
    """Eager against compiled, `rounds` epochs' worth of minibatches each, taking turns."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    # The graph breaks at the two floats are expected (see above): no warning for each.
    logging.getLogger("torch._dynamo").setLevel(logging.ERROR)
    try:
        loader, vocab = crnn.load_data_time_machine(BATCH_SIZE, NUM_STEPS, max_tokens=max_tokens)
        batches = list(loader)
        crnn.set_seed(0)
        net = crnn.RNNModelFast(len(vocab), num_hiddens, torch.device("cpu"))
        H0 = torch.zeros(BATCH_SIZE, num_hiddens)
        eager = fast_minibatch(net)
        compiled = torch.compile(eager, backend=backend, dynamic=False)
        X, Y = batches[0]
        start = time.perf_counter()
        compiled(X, Y, H0)
        compile_s = time.perf_counter() - start
        (loss_e, grads_e, _), (loss_c, grads_c, _) = eager(X, Y, H0), compiled(X, Y, H0)
        largest_difference = max((a - b).abs().max().item() for a, b in zip(grads_e, grads_c))
        times = {"eager": [], "compiled": []}
        for round_ in range(rounds):
            order = [("eager", eager), ("compiled", compiled)]
            for name, fn in order if round_ % 2 == 0 else order[::-1]:
                for X, Y in batches:
                    start = time.perf_counter()
                    fn(X, Y, H0)
                    times[name].append(1000 * (time.perf_counter() - start))
        X, Y = batches[0]
        return {
            "compiled_over_eager_median": (statistics.median(times["compiled"])
                                           / statistics.median(times["eager"])),
            "threads": threads, "backend": backend, "compile_s": compile_s,
            "largest_gradient_difference": largest_difference,
            "loss_difference": abs(loss_e - loss_c),
            **{f"{name}_{stat}_ms": f(values) for name, values in times.items()
               for stat, f in [("median", statistics.median), ("fastest", min)]},
            "products_eager": products_called(eager, X, Y, H0),
            "products_compiled": products_called(compiled, X, Y, H0),
        }
    finally:
        torch.set_num_threads(previous)


def compile_table(rows: list[dict]) -> str:
    lines = ["threads  compile s  eager ms (median, fastest)  compiled ms (median, fastest)  "
             "compiled / eager (median)  products eager / compiled"]
    for r in rows:
        lines.append(
            f"{r['threads']:>7}  {r['compile_s']:>9.1f}  {r['eager_median_ms']:>14.2f}, "
            f"{r['eager_fastest_ms']:>6.2f}         {r['compiled_median_ms']:>14.2f}, "
            f"{r['compiled_fastest_ms']:>6.2f}            "
            f"{r['compiled_over_eager_median']:>12.2f}  "
            f"{r['products_eager']:>13} / {r['products_compiled']}")
    return "\n".join(lines)


def measure_compile(thread_settings: list[int]) -> list[dict]:
    return [compare(threads) for threads in thread_settings]


if __name__ == "__main__":
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")  # no "profiler_start/stop" lines from torch
    settings = sorted({torch.get_num_threads(), 1}, reverse=True)
    print(compile_table(measure_compile(settings)))
