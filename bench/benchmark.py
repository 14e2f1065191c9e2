"""Performance benchmark (`make bench`): the book's code against the course's paths and the bound.

One process, one run, the book's hyperparameters (512 hidden units, batch 32, 35 steps, the first
10,000 tokens of The Time Machine, lr 1, clipping at theta 1). Each configuration trains a fresh
model from the same seed for one warm-up epoch, `--epochs` measured epochs and one more, and the
whole set is repeated `--rounds` times (medians over all rounds' epochs); a table is printed
and bench/results.json written. CPU always, CUDA as well when present.

The first row, "matmul bound", trains nothing: for every minibatch of an epoch it runs only the
matrix products that any way of training that minibatch must compute (`unavoidable_products`),
timed like the other rows, so "of bound" says what fraction of that speed a row reaches.

tokens/s is the median over the measured epochs of the epoch's tokens divided by its wall time
(everything between the starts of two epochs: training, and whatever the loop does at the end of
an epoch, such as the dashboard and its text sample); "loop t/s" is train_ch8's own per-epoch
figure, the training loop alone (the same as tokens/s for the book's loops, which do nothing
else). On a CPU with more than one torch thread, every configuration runs twice: with torch's
default thread count and with one thread. Peak memory is the growth of the process's resident set
size (sampled from /proc every 10 ms) over what it was when the configuration started; on CUDA it
is torch.cuda.max_memory_allocated.

Then, on the CPU, with both thread settings, `breakdown` profiles minibatches of the book's code,
the teaching path and the fast path (torch.profiler) and splits one of each into parts that add
up to its wall time, its products into the bound's time and what lies beyond it; and
compile_lever.py times the fast path's minibatch compiled by torch.compile against the eager one.
`--table`
prints README's markdown table again from a results.json without running anything.
"""
import argparse
import contextlib
import io
import json
import math
import os
import platform
import random
import statistics
import sys
import threading
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

import chapter_rnn as crnn

BATCH_SIZE, NUM_STEPS, NUM_HIDDENS, MAX_TOKENS, LR, THETA = 32, 35, 512, 10_000, 1.0, 1.0
RESULTS = Path(__file__).resolve().parent / "results.json"


# --- The book's reference code, re-implemented from the chapter (independent of chapter_rnn) ----

def book_seq_data_iter_sequential(corpus, batch_size, num_steps):
    """The chapter's sequential partitioning: a random offset, then consecutive windows."""
    offset = random.randint(0, num_steps)
    num_tokens = ((len(corpus) - offset - 1) // batch_size) * batch_size
    Xs = torch.tensor(corpus[offset: offset + num_tokens]).reshape(batch_size, -1)
    Ys = torch.tensor(corpus[offset + 1: offset + 1 + num_tokens]).reshape(batch_size, -1)
    for i in range(0, Xs.shape[1] // num_steps * num_steps, num_steps):
        yield Xs[:, i: i + num_steps], Ys[:, i: i + num_steps]


class BookLoader:
    def __init__(self, corpus, batch_size=BATCH_SIZE, num_steps=NUM_STEPS):
        self.corpus, self.batch_size, self.num_steps = corpus, batch_size, num_steps

    def __iter__(self):
        return book_seq_data_iter_sequential(self.corpus, self.batch_size, self.num_steps)


def book_get_params(vocab_size, num_hiddens, device):
    def normal(shape):
        return torch.randn(size=shape, device=device) * 0.01
    W_xh, W_hh = normal((vocab_size, num_hiddens)), normal((num_hiddens, num_hiddens))
    b_h = torch.zeros(num_hiddens, device=device)
    W_hq, b_q = normal((num_hiddens, vocab_size)), torch.zeros(vocab_size, device=device)
    params = [W_xh, W_hh, b_h, W_hq, b_q]
    for param in params:
        param.requires_grad_(True)
    return params


def book_rnn(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        H = torch.tanh(torch.mm(X, W_xh) + torch.mm(H, W_hh) + b_h)
        outputs.append(torch.mm(H, W_hq) + b_q)
    return torch.cat(outputs, dim=0), (H,)


class BookRNNScratch:
    def __init__(self, vocab_size, num_hiddens, device):
        self.vocab_size, self.num_hiddens = vocab_size, num_hiddens
        self.params = book_get_params(vocab_size, num_hiddens, device)

    def __call__(self, X, state):
        X = F.one_hot(X.T, self.vocab_size).type(torch.float32)
        return book_rnn(X, state, self.params)

    def begin_state(self, batch_size, device):
        return (torch.zeros((batch_size, self.num_hiddens), device=device),)


class BookRNNConcise(nn.Module):
    """The chapter's concise model: nn.RNN and a linear head."""

    def __init__(self, vocab_size, num_hiddens):
        super().__init__()
        self.vocab_size = vocab_size
        self.rnn = nn.RNN(vocab_size, num_hiddens)
        self.linear = nn.Linear(num_hiddens, vocab_size)

    def forward(self, inputs, state):
        X = F.one_hot(inputs.T.long(), self.vocab_size).type(torch.float32)
        Y, state = self.rnn(X, state)
        return self.linear(Y.reshape(-1, Y.shape[-1])), state

    def begin_state(self, batch_size, device):
        return torch.zeros((1, batch_size, self.rnn.hidden_size), device=device)


def book_grad_clipping(net, theta):
    params = [p for p in net.parameters() if p.requires_grad] if isinstance(net, nn.Module) \
        else net.params
    norm = torch.sqrt(sum(torch.sum(p.grad ** 2) for p in params))
    if norm > theta:
        for param in params:
            param.grad[:] *= theta / norm


def book_sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


def book_train_epoch(net, train_iter, loss, updater, device):
    state = None
    for X, Y in train_iter:
        if state is None:
            state = net.begin_state(batch_size=X.shape[0], device=device)
        elif isinstance(state, tuple):
            for s in state:
                s.detach_()
        else:
            state.detach_()
        y = Y.T.reshape(-1)
        X, y = X.to(device), y.to(device)
        y_hat, state = net(X, state)
        l = loss(y_hat, y.long()).mean()
        if isinstance(updater, torch.optim.Optimizer):
            updater.zero_grad()
            l.backward()
            book_grad_clipping(net, THETA)
            updater.step()
        else:
            l.backward()
            book_grad_clipping(net, THETA)
            updater(batch_size=1)
        float(l.detach())  # the book accumulates l * y.numel() into a float metric every minibatch


def book_train(net, train_iter, num_epochs, device):
    loss = nn.CrossEntropyLoss()
    if isinstance(net, nn.Module):
        updater = torch.optim.SGD(net.parameters(), LR)
    else:
        updater = lambda batch_size: book_sgd(net.params, LR, batch_size)
    for _ in range(num_epochs):
        book_train_epoch(net, train_iter, loss, updater, device)


# --- Measuring ---------------------------------------------------------------------------------

class EpochClock:
    """Wraps a data iterator; every `iter()` (the start of an epoch) records the time."""

    def __init__(self, loader, device):
        self.loader, self.device, self.starts = loader, device, []

    def __iter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        self.starts.append(time.perf_counter())
        return iter(self.loader)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """Largest resident set size seen while the block runs, sampled in a thread."""

    def __enter__(self):
        self.start = self.peak = rss_bytes()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while not self.done.wait(0.01):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, rss_bytes())


def count_tokens(loader) -> int:
    random.seed(0)
    return sum(Y.numel() for _, Y in loader)


def measure(name, run, loader, device, epochs, threads=None):
    """Run `run(clock, total_epochs)` with `threads` torch threads (None: the default); return
    the configuration's row for the table."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    random.seed(0)
    torch.manual_seed(0)
    clock = EpochClock(loader, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    note, loop_speeds = "", None
    try:
        with PeakRSS() as rss, contextlib.redirect_stdout(io.StringIO()):
            # a warm-up epoch, the measured ones, and one more whose start ends the last
            # measured epoch (so no epoch includes the report after training)
            loop_speeds = run(clock, epochs + 2)
    except Exception as err:  # a configuration that cannot run is reported, not fatal
        note = f"failed: {type(err).__name__}: {err}"
    finally:
        torch.set_num_threads(previous)
    tokens = count_tokens(loader)
    # epoch i's wall time: from its start to the next one's; drop the warm-up epoch (the last
    # epoch has no next start, so it is not measured)
    walls = [b - a for a, b in zip(clock.starts[1:], clock.starts[2:])]
    speeds = [tokens / w for w in walls] if not note else []
    # train_ch8's own per-epoch measure (the training loop only, without the end-of-epoch
    # sample and dashboard); for the book's loops, which do nothing else, it is the wall time.
    loops = list(loop_speeds[1:-1]) if loop_speeds and not note else speeds
    if device.type == "cuda":
        memory, memory_kind = torch.cuda.max_memory_allocated(), "cuda max_memory_allocated"
    else:
        memory, memory_kind = rss.peak - rss.start, "RSS growth"
    return {"name": name, "device": str(device), "threads": threads or previous,
            "epoch_tokens_per_sec": speeds, "epoch_loop_tokens_per_sec": loops,
            "peak_memory_mb": memory / 2**20, "memory_measure": memory_kind, "note": note}


def merge(rounds: list[dict]) -> dict:
    """One row from the same configuration's rounds: medians over all their measured epochs."""
    row = dict(rounds[0])
    row["epoch_tokens_per_sec"] = [x for r in rounds for x in r["epoch_tokens_per_sec"]]
    row["epoch_loop_tokens_per_sec"] = [x for r in rounds for x in r["epoch_loop_tokens_per_sec"]]
    row["note"] = "; ".join(sorted({r["note"] for r in rounds if r["note"]}))
    row["peak_memory_mb"] = max(r["peak_memory_mb"] for r in rounds)
    speeds, loops = row["epoch_tokens_per_sec"], row["epoch_loop_tokens_per_sec"]
    row["tokens_per_sec"] = statistics.median(speeds) if speeds else math.nan
    row["loop_tokens_per_sec"] = statistics.median(loops) if loops else math.nan
    row["epochs"] = len(speeds)
    row["best_tokens_per_sec"] = max(speeds) if speeds else math.nan  # least disturbed epoch
    # each round's median, for ratios paired round by round (the rows of one round ran back to
    # back, so a change in the machine's load between rounds cancels out of their ratio)
    row["round_tokens_per_sec"] = [median_or_nan(r["epoch_tokens_per_sec"]) for r in rounds]
    row["round_loop_tokens_per_sec"] = [median_or_nan(r["epoch_loop_tokens_per_sec"])
                                        for r in rounds]
    return row


def median_or_nan(values) -> float:
    return statistics.median(values) if values else math.nan


# --- The matmul bound: the products one minibatch cannot avoid ----------------------------------

def unavoidable_products(batch_size: int, num_steps: int, num_hiddens: int, vocab_size: int,
                         device: torch.device):
    """A function that runs, once, the matrix products every way of training one minibatch must
    compute at these shapes, on random stand-ins (the time of a product does not depend on the
    values): the recurrence H_{t-1} W_hh forward (num_steps of them) and dZ_t W_hh^T backward
    (num_steps - 1: no gradient into the initial state), the weight gradient of W_hh summed over
    all steps as one product, and the output layer's three products (scores, dW_hq, and the
    gradient reaching H). Everything else a minibatch does (tanh, the loss, clipping, ...) is
    left out, so its time is a bound that no rearrangement of the same products can beat."""
    g = torch.Generator().manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=g).to(device)

    n, h, steps = batch_size, num_hiddens, num_steps
    H, W_hh, W_hq = rand(n, h), rand(h, h), rand(h, vocab_size)
    H_all, dZ_all, dO = rand(steps * n, h), rand(steps * n, h), rand(steps * n, vocab_size)
    step_out, dW_hh, dW_hq = rand(n, h), rand(h, h), rand(h, vocab_size)
    scores, dH_all = rand(steps * n, vocab_size), rand(steps * n, h)

    def products() -> None:
        for _ in range(steps):
            torch.mm(H, W_hh, out=step_out)
        for _ in range(steps - 1):
            torch.mm(H, W_hh.T, out=step_out)
        torch.mm(H_all.T, dZ_all, out=dW_hh)
        torch.mm(H_all, W_hq, out=scores)
        torch.mm(H_all.T, dO, out=dW_hq)
        torch.mm(dO, W_hq.T, out=dH_all)

    return products


def bound_epochs(loader, vocab_size: int, device: torch.device):
    """`run(clock, epochs)` for the bound row: every epoch, for every minibatch the loader gives,
    the unavoidable products at that minibatch's shapes (so it is timed like a training run)."""
    def run(clock, epochs):
        products = None
        for _ in range(epochs):
            for X, _ in clock:
                if products is None:
                    products = unavoidable_products(X.shape[0], X.shape[1], NUM_HIDDENS,
                                                    vocab_size, device)
                products()
    return run


BOUND = "matmul bound (products only)"
BASELINE = "book's code (baseline)"


def configurations(corpus, vocab_size, vocab, device):
    loader = crnn.SeqDataLoader(BATCH_SIZE, NUM_STEPS, False, MAX_TOKENS)
    book_loader = BookLoader(corpus)

    def book_scratch(clock, epochs):
        book_train(BookRNNScratch(vocab_size, NUM_HIDDENS, device), clock, epochs, device)

    def book_concise(clock, epochs):
        book_train(BookRNNConcise(vocab_size, NUM_HIDDENS).to(device), clock, epochs, device)

    def teaching(dashboard):
        def run(clock, epochs):
            net = crnn.RNNModelScratch(vocab_size, NUM_HIDDENS, device, crnn.get_params,
                                       crnn.init_rnn_state, crnn.rnn)
            h = crnn.train_ch8(net, clock, vocab, LR, epochs, device, dashboard=dashboard)
            if h.stopped:
                raise RuntimeError(h.stopped)
            return h.tokens_per_sec
        return run

    def fast(clock, epochs):
        net = crnn.RNNModelFast(vocab_size, NUM_HIDDENS, device)
        h = crnn.train_ch8_fast(net, clock, vocab, LR, epochs, device, dashboard=False)
        if h.stopped:
            raise RuntimeError(h.stopped)
        return h.tokens_per_sec

    yield BOUND, bound_epochs(book_loader, vocab_size, device), book_loader
    yield BASELINE, book_scratch, book_loader
    yield "teaching path, dashboard off", teaching(False), loader
    yield "teaching path, dashboard on", teaching(True), loader
    yield "fast path", fast, loader
    yield "nn.RNN + linear (book's concise)", book_concise, book_loader


# --- Where one minibatch's time goes: a profile of each path, in parts that add up -------------

DATA, LOSS, CLIP = "data: next minibatch", "loss and its gradient", "clipping and update"
BOUND_PART = "products: the bound (same shapes, timed alone)"
BEYOND = "products: beyond the bound"
ELEMENTWISE = "element-wise: tanh, its derivative, adds"
LOOKUP = "one-hot or row lookup, and its gradient"
AUTOGRAD = "autograd engine (own time)"
OTHER = "other ops: copies, views, .item(), allocation"
PYTHON = "not in any op: Python and the rest"
PRODUCTS = "matrix products"  # split into BOUND_PART and BEYOND once the bound is known
PARTS = [BOUND_PART, BEYOND, ELEMENTWISE, LOSS, CLIP, LOOKUP, DATA, AUTOGRAD, OTHER, PYTHON]
LABELS = {DATA, LOSS, CLIP}  # record_function blocks: they own everything run inside them
OPS = {  # by name (backward nodes too); an op not listed takes the part of its nearest caller
    PRODUCTS: {"aten::mm", "aten::addmm", "aten::addmm_", "aten::matmul", "aten::bmm",
               "MmBackward0", "AddmmBackward0"},
    ELEMENTWISE: {"aten::tanh", "aten::tanh_", "aten::tanh_backward", "TanhBackward0",
                  "aten::add", "aten::add_", "AddBackward0", "aten::mul", "aten::mul_",
                  "aten::sub", "aten::rsub", "aten::pow", "aten::sum", "aten::neg"},
    LOSS: {"aten::cross_entropy_loss", "aten::mean", "LogSoftmaxBackward0", "NllLossBackward0",
           "MeanBackward0"},
    LOOKUP: {"aten::one_hot", "aten::index", "aten::index_select", "aten::embedding",
             "aten::index_add_"},
}


def is_engine(event) -> bool:
    """An autograd engine step (`autograd::engine::evaluate_function: ...`) or a backward node
    (`MmBackward0`, `AccumulateGrad`): their self time is the engine's, their children are not."""
    return event.name.startswith("autograd::") or event.name.endswith(("Backward0",
                                                                       "AccumulateGrad"))


def part_of(event) -> str:
    """The part of the minibatch that a profiled event's self time belongs to."""
    callers = []
    while event is not None:
        callers.append(event)
        event = event.cpu_parent
    for caller in callers:
        if caller.name in LABELS:
            return caller.name
    if is_engine(callers[0]):
        return AUTOGRAD
    for caller in callers:
        name = caller.name.removeprefix("autograd::engine::evaluate_function: ")
        for part, names in OPS.items():
            if name in names:
                return part
    return OTHER


def labelled(fn, label: str):
    """`fn` inside a profiler label; it computes the same."""
    def wrapper(*args, **kwargs):
        with torch.profiler.record_function(label):
            return fn(*args, **kwargs)
    return wrapper


class LabelledMinibatch:
    """An iterable giving one minibatch, taken inside the DATA label."""

    def __init__(self, stream):
        self.stream = stream

    def __iter__(self):
        with torch.profiler.record_function(DATA):
            minibatch = next(self.stream)
        yield minibatch


@contextlib.contextmanager
def patched(module, replacements: dict):
    """Replace module-level names for the duration of the block (profiler labels only)."""
    saved = {name: getattr(module, name) for name in replacements}
    for name, value in replacements.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


def endless(loader):
    while True:
        yield from loader


def minibatch_paths(corpus, vocab, device, num_hiddens: int = NUM_HIDDENS,
                    loader_args: tuple = (BATCH_SIZE, NUM_STEPS)) -> dict:
    """{path: a function that trains one minibatch, from a zero state, with the path's own
    epoch function (on a one-minibatch epoch) and profiler labels around the data, the loss,
    and clipping with the update}. Each call takes the next minibatch of an endless stream."""
    this = sys.modules[__name__]
    book_stream = endless(BookLoader(corpus, *loader_args))
    stream = endless(crnn.SeqDataLoader(*loader_args, False, len(corpus), corpus, vocab))
    loss = nn.CrossEntropyLoss()
    book = BookRNNScratch(len(vocab), num_hiddens, device)
    teaching = crnn.RNNModelScratch(len(vocab), num_hiddens, device, crnn.get_params,
                                    crnn.init_rnn_state, crnn.rnn)
    fast = crnn.RNNModelFast(len(vocab), num_hiddens, device)
    teaching_update = crnn.sgd_updater(teaching, LR)

    def book_minibatch():
        with patched(this, {"book_grad_clipping": labelled(book_grad_clipping, CLIP)}):
            book_train_epoch(book, LabelledMinibatch(book_stream), labelled(loss, LOSS),
                             labelled(lambda batch_size: book_sgd(book.params, LR, batch_size),
                                      CLIP), device)

    def teaching_minibatch():
        with patched(crnn.training, {"grad_clipping": labelled(crnn.grad_clipping, CLIP)}):
            crnn.train_epoch_ch8(teaching, LabelledMinibatch(stream), labelled(loss, LOSS),
                                 labelled(teaching_update, CLIP), device, False, theta=THETA)

    def fast_minibatch():
        fast_path = sys.modules["chapter_rnn.fast_path"]
        with patched(fast_path, {
                "cross_entropy_and_grad": labelled(crnn.cross_entropy_and_grad, LOSS),
                "grad_norm": labelled(crnn.grad_norm, CLIP),
                "clip_and_step": labelled(crnn.clip_and_step, CLIP)}):
            crnn.train_epoch_fast(fast, LabelledMinibatch(stream), LR, device, False,
                                  theta=THETA)

    return {"book's code": book_minibatch, "teaching path": teaching_minibatch,
            "fast path": fast_minibatch}


def profile_minibatch(minibatch) -> dict:
    """Profile one call of `minibatch`: its wall time (ms) and the wall time of each part,
    PYTHON being what the recorded events leave of the wall time, so the parts add up to it."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        minibatch()
        wall = 1000 * (time.perf_counter() - start)
    parts = dict.fromkeys([PRODUCTS, *PARTS], 0.0)
    for event in prof.events():
        parts[part_of(event)] += event.self_cpu_time_total / 1000
    parts[PYTHON] = wall - sum(parts.values())
    return {"wall": wall, "parts": parts}


def time_ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - start)


def breakdown(corpus, vocab, device, threads: int, repeats: int, *,
              num_hiddens: int = NUM_HIDDENS, loader_args: tuple = (BATCH_SIZE, NUM_STEPS)
              ) -> dict:
    """Profile `repeats` minibatches of each path with `threads` torch threads, the paths and the
    bound's products taking turns, each profiled minibatch next to an un-profiled one. Per path,
    the fastest profiled minibatch is split into PARTS (adding up to its wall time), its products
    into the bound (the fastest time of the products alone) and the rest."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        paths = minibatch_paths(corpus, vocab, device, num_hiddens, loader_args)
        X, _ = next(iter(crnn.SeqDataLoader(*loader_args, False, len(corpus), corpus, vocab)))
        products = unavoidable_products(X.shape[0], X.shape[1], num_hiddens, len(vocab), device)
        for fn in [*paths.values(), products]:  # warm-up
            fn()
        profiled = {name: [] for name in paths}
        unprofiled = {name: [] for name in paths}
        bound = []
        for round_ in range(repeats):
            order = list(paths.items())
            for name, fn in order if round_ % 2 == 0 else order[::-1]:
                unprofiled[name].append(time_ms(fn))
                profiled[name].append(profile_minibatch(fn))
            bound += [time_ms(products) for _ in range(3)]  # cheap; 2-thread times spread
    finally:
        torch.set_num_threads(previous)
    # The fastest of several timings: the one least disturbed by other programs (on a shared
    # machine, a product split across threads waits whenever one of its cores is taken).
    bound_ms = min(bound)
    result = {"threads": threads, "bound_ms": bound_ms, "paths": {}}
    for name in paths:
        chosen = min(profiled[name], key=lambda run: run["wall"])
        parts = dict(chosen["parts"])
        products_ms = parts.pop(PRODUCTS)
        parts[BOUND_PART], parts[BEYOND] = bound_ms, products_ms - bound_ms
        result["paths"][name] = {
            "profiled_wall_ms": chosen["wall"],
            "parts_ms": {part: parts[part] for part in PARTS},
            "unprofiled_fastest_ms": min(unprofiled[name]),
            "unprofiled_median_ms": statistics.median(unprofiled[name]),
            "profiled_over_unprofiled": statistics.median(
                [p["wall"] / u for p, u in zip(profiled[name], unprofiled[name])]),
        }
    return result


def guard_cost_us(repeats: int = 2000) -> float:
    """What the teaching path adds per minibatch to keep training safe, timed alone (µs): the
    loss read as a Python float (.item()), the two finiteness checks and the guard that holds
    back Ctrl-C during the update."""
    loss = torch.tensor(1.0)
    start = time.perf_counter()
    for minibatch in range(1, repeats + 1):
        value = crnn.check_finite(loss.item(), "loss", minibatch)
        crnn.check_finite(value, "gradient norm", minibatch)
        with crnn.interrupts_held_back():
            pass
    return 1e6 * (time.perf_counter() - start) / repeats


def breakdown_table(result: dict) -> str:
    names = list(result["paths"])
    lines = [f"ms per minibatch, {result['threads']} thread(s); the fastest of the profiled "
             f"minibatches, the fastest timing of the bound",
             f"{'':48s}" + "".join(f"{name:>16s}" for name in names)]
    for part in PARTS:
        lines.append(f"{part:48s}" + "".join(
            f"{result['paths'][n]['parts_ms'][part]:16.2f}" for n in names))
    lines.append(f"{'sum of the parts = profiled wall time':48s}" + "".join(
        f"{result['paths'][n]['profiled_wall_ms']:16.2f}" for n in names))
    for key, label in [("unprofiled_fastest_ms", "un-profiled minibatch, fastest"),
                       ("unprofiled_median_ms", "un-profiled minibatch, median")]:
        lines.append(f"{label:48s}" + "".join(
            f"{result['paths'][n][key]:16.2f}" for n in names))
    lines.append(f"{'profiled / un-profiled, per turn (median)':48s}" + "".join(
        f"{result['paths'][n]['profiled_over_unprofiled']:15.2f}x" for n in names))
    lines.append(f"{'fastest un-profiled minibatch / the bound':48s}" + "".join(
        f"{result['paths'][n]['unprofiled_fastest_ms'] / result['bound_ms']:15.2f}x"
        for n in names))
    return "\n".join(lines)


# --- Tables ------------------------------------------------------------------------------------

def add_ratios(rows: list[dict]) -> None:
    """x base (tokens/s over the book's) and of bound (over the bound's), for every row, within
    its device and thread setting: the median over rounds of the ratio within each round, with
    the smallest and largest round's ratio as the spread; and the same two ratios between the
    fastest epochs ("best")."""
    def paired(values, reference):
        ratios = [a / b for a, b in zip(values, reference)]
        return statistics.median(ratios), [min(ratios), max(ratios)]

    for row in rows:
        same = {r["name"]: r for r in rows
                if (r["device"], r["threads_setting"]) == (row["device"], row["threads_setting"])}
        base, bound = same[BASELINE]["round_tokens_per_sec"], same[BOUND]["round_tokens_per_sec"]
        row["ratio_to_baseline"], row["ratio_to_baseline_range"] = paired(
            row["round_tokens_per_sec"], base)
        row["loop_ratio_to_baseline"], _ = paired(row["round_loop_tokens_per_sec"], base)
        row["fraction_of_bound"], row["fraction_of_bound_range"] = paired(
            row["round_tokens_per_sec"], bound)
        # the fastest epochs: on a shared machine, the ones least slowed by other programs
        row["best_ratio_to_baseline"] = (row["best_tokens_per_sec"]
                                         / same[BASELINE]["best_tokens_per_sec"])
        row["best_fraction_of_bound"] = (row["best_tokens_per_sec"]
                                         / same[BOUND]["best_tokens_per_sec"])


def spread_text(low_high) -> str:
    return f"[{low_high[0]:.2f}-{low_high[1]:.2f}]"


def table(rows) -> str:
    lines = [f"{'configuration':36s} {'device':6s} {'set':>7s} {'thr':>3s} {'tokens/s':>10s} "
             f"{'x base':>7s} {'(rounds)':>11s} {'of bound':>8s} {'loop t/s':>10s} {'x base':>7s} "
             f"{'best t/s':>10s} {'x base':>7s} {'of bound':>8s} {'peak MB':>8s}"]
    for r in rows:
        lines.append(f"{r['name']:36s} {r['device']:6s} {r['threads_setting']!s:>7s} "
                     f"{r['threads']:3d} "
                     f"{r['tokens_per_sec']:10,.0f} {r['ratio_to_baseline']:7.2f} "
                     f"{spread_text(r['ratio_to_baseline_range']):>11s} "
                     f"{r['fraction_of_bound']:8.2f} "
                     f"{r['loop_tokens_per_sec']:10,.0f} {r['loop_ratio_to_baseline']:7.2f} "
                     f"{r['best_tokens_per_sec']:10,.0f} {r['best_ratio_to_baseline']:7.2f} "
                     f"{r['best_fraction_of_bound']:8.2f} "
                     f"{r['peak_memory_mb']:8.1f}" + (f"  {r['note']}" if r['note'] else ""))
    return "\n".join(lines)


def markdown_table(rows) -> str:
    """README's table: one line per configuration, a column group per (device, thread setting)."""
    settings = list(dict.fromkeys((r["device"], r["threads_setting"]) for r in rows))
    by_key = {(r["device"], r["threads_setting"], r["name"]): r for r in rows}
    names = list(dict.fromkeys(r["name"] for r in rows))

    def title(device, setting):
        threads = next(r["threads"] for r in rows
                       if (r["device"], r["threads_setting"]) == (device, setting))
        what = f"{threads} thread{'s' if threads > 1 else ''}"
        return f"{device}, {what}" + (" (torch default)" if setting == "default" else "")

    header = "| configuration | " + " | ".join(
        f"{title(*s)}: tokens/s | x book [rounds] | best epoch: x book | of bound"
        for s in settings) + " |"
    lines = [header, "|---" * (1 + 4 * len(settings)) + "|"]
    for name in names:
        cells = []
        for device, setting in settings:
            r = by_key.get((device, setting, name))
            cells += ([f"{r['tokens_per_sec']:,.0f}",
                       f"{r['ratio_to_baseline']:.2f} {spread_text(r['ratio_to_baseline_range'])}",
                       f"{r['best_ratio_to_baseline']:.2f}", f"{r['best_fraction_of_bound']:.2f}"]
                      if r else ["", "", "", ""])
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def print_table_from(path: Path) -> int:
    """`--table`: print README's markdown table from a results.json, running nothing."""
    results = json.loads(path.read_text())
    print(results["markdown_table"] if "markdown_table" in results
          else markdown_table(results["rows"]))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2,
                        help="measured epochs per configuration and round")
    parser.add_argument("--rounds", type=int, default=6,
                        help="times the whole set is run, interleaved, so that a change in the "
                             "machine's load affects every configuration alike")
    parser.add_argument("--profile-repeats", type=int, default=8,
                        help="minibatches profiled per path and thread setting (0: no breakdown)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--table", nargs="?", const=RESULTS, type=Path, metavar="RESULTS_JSON",
                        help="only print README's markdown table from a results.json "
                             "(default: bench/results.json) and exit")
    args = parser.parse_args()
    if args.table:
        return print_table_from(args.table)
    os.environ.setdefault("CHAPTER_RNN_HEADLESS", "1")
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")  # no "profiler_start/stop" lines from torch
    corpus, vocab = crnn.load_corpus_time_machine(MAX_TOKENS)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    default_threads = torch.get_num_threads()
    load_before = os.getloadavg()
    rows = []
    for device in devices:
        # On a CPU with several threads by default, the whole set runs twice: with torch's
        # default (what a learner gets) and with every configuration on one thread.
        settings = [None] + ([1] if device.type == "cpu" and default_threads > 1 else [])
        for threads in settings:
            measured = {}
            for round_ in range(1, args.rounds + 1):
                for name, run, loader in configurations(corpus, len(vocab), vocab, device):
                    print(f"round {round_}: {name} on {device}, threads="
                          f"{threads or 'default'} ...", file=sys.stderr, flush=True)
                    measured.setdefault(name, []).append(
                        measure(name, run, loader, device, args.epochs, threads))
            for rounds in measured.values():
                row = merge(rounds)
                row["threads_setting"] = threads or "default"
                rows.append(row)
    add_ratios(rows)
    # The breakdown: CPU only (the profiler's CPU times say little about a GPU's work).
    breakdowns = []
    if args.profile_repeats > 0:
        for threads in sorted({default_threads, 1}, reverse=True):
            print(f"profiling one minibatch of each path, {threads} thread(s) ...",
                  file=sys.stderr, flush=True)
            breakdowns.append(breakdown(corpus, vocab, torch.device("cpu"), threads,
                                        args.profile_repeats))
    guard_us = guard_cost_us()
    from compile_lever import compile_table, measure_compile  # beside this script
    from view_timings import measure_views, view_table

    print("compiling the fast path's minibatch with torch.compile ...", file=sys.stderr,
          flush=True)
    try:
        compile_rows = measure_compile(sorted({default_threads, 1}, reverse=True))
    except Exception as error:  # e.g. no C++ compiler for inductor on this machine
        compile_rows, compile_failure = [], f"{type(error).__name__}: {error}".splitlines()[0]
    else:
        compile_failure = None

    print("timing notebook 12's views ...", file=sys.stderr, flush=True)
    view_rows = measure_views()
    load_after = os.getloadavg()
    print(table(rows))
    by_name = {(r["device"], r["threads_setting"], r["name"]): r for r in rows}
    for device, setting in sorted({(r["device"], r["threads_setting"]) for r in rows}, key=str):
        off = by_name[device, setting, "teaching path, dashboard off"]
        on = by_name[device, setting, "teaching path, dashboard on"]
        print(f"dashboard on / off ({device}, threads {setting}): "
              f"{on['tokens_per_sec'] / off['tokens_per_sec']:.2f}")
    for result in breakdowns:
        print()
        print(breakdown_table(result))
    print(f"\nnotebook 12's views (torch's default threads), median of 5 calls:\n"
          f"{view_table(view_rows)}")
    print("\ntorch.compile of the fast path's minibatch (gradients, no update), "
          "eager and compiled taking turns:")
    print(compile_table(compile_rows) if compile_rows
          else f"could not compile here: {compile_failure}")
    print(f"\nthe teaching path's guards (.item(), two finiteness checks, the Ctrl-C guard), "
          f"timed alone: {guard_us:.1f} us per minibatch")
    print(f"load average (1, 5, 15 min) before {load_before}, after {load_after}; "
          f"{os.cpu_count()} CPUs; torch {torch.__version__}, {default_threads} threads by default")
    busiest = max(load_before[0], load_after[0])
    if busiest > 1.5 and default_threads > 1:  # this process alone keeps about one core busy
        print(f"caution: the 1-minute load average reached {busiest:.1f} on {os.cpu_count()} "
              "CPUs: other programs competed for the cores, and a product split across threads "
              "waits for the slowest; read the multi-thread figures as this load's, and run "
              "again on a quiet machine before comparing them with another run")
    markdown = markdown_table(rows)
    print(f"\nREADME table (`bench/benchmark.py --table` prints it again from results.json):\n"
          f"{markdown}")
    results = {
        "command": "make bench  (= .venv/bin/python bench/benchmark.py)",
        "rounds": args.rounds,
        "hyperparameters": {"batch_size": BATCH_SIZE, "num_steps": NUM_STEPS,
                            "num_hiddens": NUM_HIDDENS, "max_tokens": MAX_TOKENS, "lr": LR,
                            "theta": THETA, "measured_epochs": args.epochs, "warmup_epochs": 1},
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "torch": torch.__version__,
                    "torch_default_threads": default_threads,
                    "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                    "load_average_before": load_before, "load_average_after": load_after},
        "rows": rows,
        "breakdown": breakdowns,
        "teaching_guards_us_per_minibatch": guard_us,
        "views_ms": view_rows,
        "compile_fast_minibatch": compile_rows or compile_failure,
        "markdown_table": markdown,
    }
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
