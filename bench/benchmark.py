"""Performance benchmark (`make bench`): the book's code against the course's paths.

One process, one run, the book's hyperparameters (512 hidden units, batch 32, 35 steps, the first
10,000 tokens of The Time Machine, lr 1, clipping at theta 1). Each configuration trains a fresh
model from the same seed for one warm-up epoch, `--epochs` measured epochs and one more, and the
whole set is repeated `--rounds` times (medians over all rounds' epochs); a table is printed
and bench/results.json written. CPU always, CUDA as well when present.

tokens/s is the median over the measured epochs of the epoch's tokens divided by its wall time
(everything between the starts of two epochs: training, and whatever the loop does at the end of
an epoch, such as the dashboard and its text sample); "loop t/s" is train_ch8's own per-epoch
figure, the training loop alone (the same as tokens/s for the book's loops, which do nothing
else). On a CPU with more than one torch thread, every configuration runs twice: with torch's
default thread count and with one thread. Peak memory is the growth of the process's resident set size
(sampled from /proc every 10 ms) over what it was when the configuration started; on CUDA it is
torch.cuda.max_memory_allocated.
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
    def __init__(self, corpus):
        self.corpus = corpus

    def __iter__(self):
        return book_seq_data_iter_sequential(self.corpus, BATCH_SIZE, NUM_STEPS)


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
    return row


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

    yield "book's code (baseline)", book_scratch, book_loader
    yield "teaching path, dashboard off", teaching(False), loader
    yield "teaching path, dashboard on", teaching(True), loader
    yield "fast path", fast, loader
    yield "nn.RNN + linear (book's concise)", book_concise, book_loader


def table(rows) -> str:
    lines = [f"{'configuration':36s} {'device':6s} {'set':>7s} {'thr':>3s} {'tokens/s':>10s} "
             f"{'x base':>7s} {'loop t/s':>10s} {'x base':>7s} {'peak MB':>8s}"]
    for r in rows:
        lines.append(f"{r['name']:36s} {r['device']:6s} {r['threads_setting']!s:>7s} "
                     f"{r['threads']:3d} "
                     f"{r['tokens_per_sec']:10,.0f} {r['ratio_to_baseline']:7.2f} "
                     f"{r['loop_tokens_per_sec']:10,.0f} {r['loop_ratio_to_baseline']:7.2f} "
                     f"{r['peak_memory_mb']:8.1f}" + (f"  {r['note']}" if r['note'] else ""))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2,
                        help="measured epochs per configuration and round")
    parser.add_argument("--rounds", type=int, default=2,
                        help="times the whole set is run, interleaved, so that a change in the "
                             "machine's load affects every configuration alike")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    os.environ.setdefault("CHAPTER_RNN_HEADLESS", "1")
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
            base = None
            for rounds in measured.values():
                row = merge(rounds)
                row["threads_setting"] = threads or "default"
                base = row["tokens_per_sec"] if base is None else base
                row["ratio_to_baseline"] = row["tokens_per_sec"] / base
                row["loop_ratio_to_baseline"] = row["loop_tokens_per_sec"] / base
                rows.append(row)
    load_after = os.getloadavg()
    print(table(rows))
    by_name = {(r["device"], r["threads_setting"], r["name"]): r for r in rows}
    for device, setting in sorted({(r["device"], r["threads_setting"]) for r in rows}, key=str):
        off = by_name[device, setting, "teaching path, dashboard off"]
        on = by_name[device, setting, "teaching path, dashboard on"]
        print(f"dashboard on / off ({device}, threads {setting}): "
              f"{on['tokens_per_sec'] / off['tokens_per_sec']:.2f}")
    print(f"load average (1, 5, 15 min) before {load_before}, after {load_after}; "
          f"{os.cpu_count()} CPUs; torch {torch.__version__}, {default_threads} threads by default")
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
    }
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
