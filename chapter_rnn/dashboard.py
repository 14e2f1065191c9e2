"""Progress display for training: a live widget dashboard in JupyterLab, plain lines elsewhere.

Hand-written course infrastructure (not generated from a notebook). `train_ch8` talks to a
dashboard through four calls: `start`, `stop_requested` (after every minibatch), `epoch_end`
and `close`. Two implementations exist:

- `LiveDashboard`: in a Jupyter kernel with a widget front end. A perplexity plot (a PNG in an
  `ipywidgets.Image`, updated in place), a progress bar with epoch, tokens/s and time left, the
  latest generated sample, and a Stop button. When training ends the widgets are replaced by a
  static PNG and a summary, so a saved notebook shows the result without widget state.
- `TextDashboard`: headless (papermill, nbval, plain `python`, or `CHAPTER_RNN_HEADLESS=1`).
  About ten progress lines per run and, inside IPython, the final plot as a static PNG.

How a click on Stop reaches a kernel busy with the training cell:
- ipykernel < 7 (Colab's 6.17 included): the training loop itself reads pending front-end
  messages through `jupyter_ui_poll`, which calls `kernel.do_one_iteration`.
- ipykernel 7: that hook is gone, but the kernel has *subshells*: JupyterLab 4.4 and later
  sends widget messages to a subshell, whose own thread handles them while the main
  shell is busy. ipykernel 7.4 then reroutes each message for a comm to the shell that last sent
  on that comm (`_reply_subshell_for` in ipykernel/comm/comm.py, used by
  `Kernel.shell_channel_thread_main`): for a button created by the busy cell that is the busy
  main shell, so the click would wait for the cell to end. `_handle_where_sent` tells the Stop
  button's comm to keep each message on the subshell it was sent to.
- A front end that opens no subshell (the classic Notebook, some editors) with ipykernel 7:
  the dashboard says to use the kernel's interrupt button, which also stops cleanly.

The drawing is throttled by wall-clock time, so the dashboard costs a few per cent of training
throughput at most (see `make bench`). The plot shows the training perplexity of every epoch and,
when the history has one, the validation perplexity at the epochs where it was evaluated
(`history.valid_epochs`, `history.valid_perplexity`).

Only `make_dashboard` is re-exported as `chapter_rnn.make_dashboard`; the rest is imported from
`chapter_rnn.dashboard` by the code (and tests) that needs it.
"""
from __future__ import annotations

import contextlib
import html
import io
import math
import os
import sys
import time
from typing import Callable, Protocol, Sequence

__all__ = ["make_dashboard"]

# Redraw the plot at most this often (seconds): matplotlib takes ~50 ms per PNG.
PLOT_INTERVAL = 2.0
# Update the progress bar and status at most this often (seconds): with tiny epochs, one message
# per epoch would flood the browser.
STATUS_INTERVAL = 0.25
# Shown where clicks cannot reach the busy kernel: ipykernel 7 and a front end that opened no
# subshell (see the module's docstring).
STOP_FALLBACK = ("Stop reaches a busy ipykernel 7 only through a kernel subshell, which this "
                 "front end did not open; use the kernel's interrupt button instead: it also "
                 "keeps what was learned")
# Look for Stop clicks at most this often (seconds).
POLL_INTERVAL = 0.1


class Dashboard(Protocol):
    """What `train_ch8` calls while it trains."""

    def start(self, first_epoch: int, num_epochs: int) -> None: ...

    def stop_requested(self) -> bool: ...

    def epoch_end(self, history, sample: Callable[[], str]) -> None: ...

    def close(self, history) -> None: ...


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (where widgets can be shown and clicks polled)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def _handle_where_sent(widget) -> None:
    """Handle the widget's front-end messages on the subshell they were sent to (ipykernel 7.4
    would move them to the shell that last sent on the widget's comm: the busy main shell)."""
    comm = getattr(widget, "comm", None)
    if comm is not None and hasattr(comm, "_reply_subshell_for"):
        comm._reply_subshell_for = lambda _data, sent_to: sent_to


def _subshells_open(kernel) -> bool:
    """True when the front end has opened a kernel subshell (ipykernel 7)."""
    manager = getattr(getattr(kernel, "shell_channel_thread", None), "manager", None)
    return bool(manager is not None and manager.list_subshell())


def live_frontend() -> bool:
    """True inside a Jupyter kernel that a person is looking at (not a headless run)."""
    if os.environ.get("CHAPTER_RNN_HEADLESS", "") not in ("", "0"):
        return False
    return _in_kernel()


class Throttle:
    """Say yes at most once per `interval` seconds (always on `force`): keeps redraws cheap."""

    def __init__(self, interval: float) -> None:
        self.interval, self.last = interval, -math.inf

    def due(self, now: float, force: bool = False) -> bool:
        if force or now - self.last >= self.interval:
            self.last = now
            return True
        return False


def make_dashboard(title: str, live: bool | None = None) -> Dashboard:
    """A live dashboard where a person watches, plain text otherwise (`live` forces either)."""
    if live is None:
        live = live_frontend()
    return LiveDashboard(title) if live else TextDashboard(title)


def format_perplexity(value: float) -> str:
    """'1.03' for the usual range; '3.6e+166' for a run that blew up (not 170 digits)."""
    return f"{value:.2f}" if value < 1e4 else f"{value:.3g}"


def format_duration(seconds: float) -> str:
    """'1h02m', '3m05s' or '42s'."""
    seconds = max(0, int(round(seconds)))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


Curve = tuple[Sequence[int], Sequence[float]]  # (epochs, perplexities)


def label_2_3_5(value: float, _position=None) -> str:
    """A minor tick's label on a log axis: 2, 3 and 5 times a power of ten are labelled (20, 0.3),
    the others left blank so that the labels do not crowd."""
    if value <= 0:
        return ""
    leading = value / 10 ** math.floor(math.log10(value))
    return f"{value:g}" if round(leading, 6) in (2, 3, 5) else ""


def perplexity_png(curves: dict[str, Curve], title: str, num_epochs: int) -> bytes:
    """Render perplexity curves as PNG bytes: {label: (epochs, perplexities)}, e.g. the training
    perplexity of every epoch and the validation perplexity of the epochs where it was measured.
    Empty curves are left out."""
    from matplotlib.figure import Figure  # no pyplot: nothing is shown behind our back
    from matplotlib.ticker import FuncFormatter, ScalarFormatter

    fig = Figure(figsize=(5.5, 3.2), dpi=80)
    ax = fig.add_subplot()
    for label, (epochs, values) in curves.items():
        if values:
            # dots where there are few points (validation every few epochs, a short run)
            ax.plot(epochs, values, marker="o" if len(values) < 30 else None, markersize=3,
                    label=label)
    ax.set_xlim(1, max(num_epochs, 2))
    # Log scale: perplexity falls from about the vocabulary size to about 1, and the late,
    # small-looking gains (2 -> 1.2) are as large a step in log-loss as the early ones.
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(FuncFormatter(label_2_3_5))
    ax.set_xlabel("epoch")
    ax.set_ylabel("perplexity (log scale)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if any(values for _, values in curves.values()):
        ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def history_curves(history) -> dict[str, Curve]:
    """The curves of a `TrainingHistory`: training, and validation where it was evaluated."""
    curves = {"train": (history.epochs, history.perplexity)}
    if history.valid_epochs:
        curves["validation"] = (history.valid_epochs, history.valid_perplexity)
    return curves


def status_line(history, first_epoch: int, num_epochs: int, elapsed: float) -> str:
    """'epoch 50/500, perplexity 8.21, 24,800 tokens/s, 2m50s left' after `elapsed` seconds."""
    epoch = history.epochs[-1]
    done_here = epoch - first_epoch
    left = elapsed / max(done_here, 1) * (num_epochs - epoch)
    text = (f"epoch {epoch}/{num_epochs}, perplexity {format_perplexity(history.perplexity[-1])}, "
            f"{history.tokens_per_sec[-1]:,.0f} tokens/s, {format_duration(left)} left")
    if history.valid_epochs:
        text += f", validation perplexity {format_perplexity(history.valid_perplexity[-1])}"
        if history.valid_epochs[-1] != epoch:
            text += f" (epoch {history.valid_epochs[-1]})"
    return text


class TextDashboard:
    """About ten plain progress lines per run; the final plot as a PNG when inside IPython."""

    def __init__(self, title: str, lines: int = 10) -> None:
        self.title, self.lines = title, lines

    def start(self, first_epoch: int, num_epochs: int) -> None:
        self.first_epoch, self.num_epochs = first_epoch, num_epochs
        self.every = max(1, (num_epochs - first_epoch) // self.lines)
        self.started = time.perf_counter()

    def stop_requested(self) -> bool:
        return False

    def epoch_end(self, history, sample: Callable[[], str]) -> None:
        epoch = history.epochs[-1]
        if (epoch - self.first_epoch) % self.every == 0 or epoch == self.num_epochs:
            elapsed = time.perf_counter() - self.started
            print(f"{status_line(history, self.first_epoch, self.num_epochs, elapsed)} | "
                  f"{sample()}", flush=True)

    def close(self, history) -> None:
        ipython = sys.modules.get("IPython")
        if history.epochs and ipython is not None and ipython.get_ipython() is not None:
            from IPython.display import Image, display

            display(Image(perplexity_png(history_curves(history), self.title,
                                         self.num_epochs)))


class LiveDashboard:
    """Widgets updated in place while training runs, with a Stop button.

    Outside a Jupyter kernel (a plain `python` process, e.g. the benchmark) the widgets are built
    and updated but never shown, and polling for clicks does nothing."""

    def __init__(self, title: str) -> None:
        import ipywidgets as widgets

        self.title = title
        self.progress = widgets.IntProgress(min=0, max=1, description="epoch",
                                            layout=widgets.Layout(width="340px"))
        self.status = widgets.Label("starting...")
        self.plot = widgets.Image(format="png")
        self.sample = widgets.HTML()
        self.stop_button = widgets.Button(description="Stop", icon="stop",
                                          button_style="danger",
                                          tooltip="Stop after the current minibatch")
        self.stop_button.on_click(self._on_stop)
        _handle_where_sent(self.stop_button)
        self.box = widgets.VBox([
            widgets.HBox([self.progress, self.stop_button]), self.status, self.plot,
            self.sample])
        self._stop = False
        self._plot_throttle, self._poll_throttle = Throttle(PLOT_INTERVAL), Throttle(POLL_INTERVAL)
        self._status_throttle = Throttle(STATUS_INTERVAL)
        self._polling = contextlib.ExitStack()  # holds jupyter_ui_poll's context while training
        self._poll = None
        self._subshell_kernel = None  # ipykernel 7's kernel, while Stop relies on its subshells
        self._kernel = _in_kernel()
        if self._kernel:
            from IPython.display import display

            display(self.box)

    def _on_stop(self, _button) -> None:
        self._stop = True
        self.stop_button.disabled = True
        self.stop_button.description = "Stopping..."

    def start(self, first_epoch: int, num_epochs: int) -> None:
        self.first_epoch, self.num_epochs = first_epoch, num_epochs
        self.progress.max, self.progress.value = num_epochs, first_epoch
        self.started = time.perf_counter()
        if self._kernel:
            from IPython import get_ipython

            kernel = get_ipython().kernel
            if hasattr(kernel, "do_one_iteration"):
                from jupyter_ui_poll import ui_events

                # ipykernel < 7 reads no message while the cell is busy: polling lets Stop in.
                self._poll = self._polling.enter_context(ui_events())
            else:
                # ipykernel 7: a subshell's thread handles the click (see the docstring).
                self._subshell_kernel = kernel

    def stop_requested(self) -> bool:
        if self._poll is not None and self._poll_throttle.due(time.perf_counter()):
            self._poll(10)  # handle up to 10 pending front-end messages (clicks on Stop)
        return self._stop

    def epoch_end(self, history, sample: Callable[[], str]) -> None:
        now, last = time.perf_counter(), history.epochs[-1] == self.num_epochs
        if self._status_throttle.due(now, last):
            self.progress.value = history.epochs[-1]
            status = status_line(history, self.first_epoch, self.num_epochs, now - self.started)
            if self._subshell_kernel is not None and not _subshells_open(self._subshell_kernel):
                status = f"{status} ({STOP_FALLBACK})"
            self.status.value = status
        if self._plot_throttle.due(now, last):
            self.plot.value = perplexity_png(history_curves(history), self.title,
                                             self.num_epochs)
            self.sample.value = f"<code>{html.escape(sample())}</code>"

    def close(self, history) -> None:
        self._polling.close()  # leaves jupyter_ui_poll's context, if it was entered
        self._poll = None
        self.box.close()
        if history.epochs and self._kernel:
            from IPython.display import Image, display

            # A static PNG stays in the saved notebook; the widgets would need their state.
            display(Image(perplexity_png(history_curves(history), self.title,
                                         self.num_epochs)))
