"""Progress display for training: a live widget dashboard in JupyterLab, plain lines elsewhere.

Hand-written course infrastructure (not generated from a notebook). `train_ch8` talks to a
dashboard through four calls: `start`, `stop_requested` (after every minibatch), `epoch_end`
and `close`. Two implementations exist:

- `LiveDashboard`: in a Jupyter kernel with a widget front end. A perplexity plot (a PNG in an
  `ipywidgets.Image`, updated in place), a progress bar with epoch, tokens/s and time left, the
  latest generated sample, and a Stop button. Button clicks reach a busy kernel through
  `jupyter_ui_poll`. When training ends the widgets are replaced by a static PNG and a summary,
  so a saved notebook shows the result without widget state.
- `TextDashboard`: headless (papermill, nbval, plain `python`, or `CHAPTER_RNN_HEADLESS=1`).
  About ten progress lines per run and, inside IPython, the final plot as a static PNG.

The drawing is throttled by wall-clock time, so the dashboard costs a few per cent of training
throughput at most (see `make bench`).
"""
from __future__ import annotations

import io
import os
import sys
import time
from typing import Callable, Protocol, Sequence

__all__ = ["Dashboard", "LiveDashboard", "TextDashboard", "live_frontend", "make_dashboard",
           "perplexity_png", "format_duration"]

# Redraw the plot at most this often (seconds): matplotlib takes ~50 ms per PNG.
PLOT_INTERVAL = 2.0
# Look for Stop clicks at most this often (seconds).
POLL_INTERVAL = 0.1


class Dashboard(Protocol):
    """What `train_ch8` calls while it trains."""

    def start(self, first_epoch: int, num_epochs: int) -> None: ...

    def stop_requested(self) -> bool: ...

    def epoch_end(self, history, sample: Callable[[], str]) -> None: ...

    def close(self, history) -> None: ...


def live_frontend() -> bool:
    """True inside a Jupyter kernel that a person is looking at (not a headless run)."""
    if os.environ.get("CHAPTER_RNN_HEADLESS", "") not in ("", "0"):
        return False
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def make_dashboard(title: str, live: bool | None = None) -> Dashboard:
    """A live dashboard where a person watches, plain text otherwise (`live` forces either)."""
    if live is None:
        live = live_frontend()
    return LiveDashboard(title) if live else TextDashboard(title)


def format_duration(seconds: float) -> str:
    """'1h02m', '3m05s' or '42s'."""
    seconds = max(0, int(round(seconds)))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def perplexity_png(epochs: Sequence[int], curves: dict[str, Sequence[float]], title: str,
                   num_epochs: int) -> bytes:
    """Render perplexity curves (train, and validation where there is one) as PNG bytes."""
    from matplotlib.figure import Figure  # no pyplot: nothing is shown behind our back

    fig = Figure(figsize=(5.5, 3.2), dpi=80)
    ax = fig.add_subplot()
    for label, values in curves.items():
        if values:
            ax.plot(epochs[-len(values):], values, label=label)
    ax.set_xlim(1, max(num_epochs, 2))
    ax.set_xlabel("epoch")
    ax.set_ylabel("perplexity")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if any(curves.values()):
        ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _curves(history) -> dict[str, list[float]]:
    curves = {"train": history.perplexity}
    if getattr(history, "val_perplexity", None):
        curves["validation"] = history.val_perplexity
    return curves


def _status(history, first_epoch: int, num_epochs: int, started: float) -> str:
    """'epoch 50/500, perplexity 8.21, 24,800 tokens/s, 2m50s left'."""
    epoch = history.epochs[-1]
    done_here = epoch - first_epoch
    left = (time.perf_counter() - started) / max(done_here, 1) * (num_epochs - epoch)
    text = (f"epoch {epoch}/{num_epochs}, perplexity {history.perplexity[-1]:.2f}, "
            f"{history.tokens_per_sec[-1]:,.0f} tokens/s, {format_duration(left)} left")
    if getattr(history, "val_perplexity", None):
        text += f", validation perplexity {history.val_perplexity[-1]:.2f}"
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
            print(f"{_status(history, self.first_epoch, self.num_epochs, self.started)} | "
                  f"{sample()}", flush=True)

    def close(self, history) -> None:
        if history.epochs and "IPython" in sys.modules:
            from IPython.display import Image, display

            display(Image(perplexity_png(history.epochs, _curves(history), self.title,
                                         self.num_epochs)))


class LiveDashboard:
    """Widgets updated in place while training runs, with a Stop button."""

    def __init__(self, title: str) -> None:
        import ipywidgets as widgets
        from IPython.display import display

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
        self.box = widgets.VBox([
            widgets.HBox([self.progress, self.stop_button]), self.status, self.plot,
            self.sample])
        self._stop = False
        self._last_plot = self._last_poll = 0.0
        self._poll = None
        display(self.box)

    def _on_stop(self, _button) -> None:
        self._stop = True
        self.stop_button.disabled = True
        self.stop_button.description = "Stopping..."

    def start(self, first_epoch: int, num_epochs: int) -> None:
        from jupyter_ui_poll import ui_events

        self.first_epoch, self.num_epochs = first_epoch, num_epochs
        self.progress.max, self.progress.value = num_epochs, first_epoch
        self.started = time.perf_counter()
        self._events = ui_events()
        self._poll = self._events.__enter__()

    def stop_requested(self) -> bool:
        now = time.perf_counter()
        if self._poll is not None and now - self._last_poll >= POLL_INTERVAL:
            self._last_poll = now
            self._poll(10)  # let the kernel handle pending clicks on Stop
        return self._stop

    def epoch_end(self, history, sample: Callable[[], str]) -> None:
        import html

        self.progress.value = history.epochs[-1]
        self.status.value = _status(history, self.first_epoch, self.num_epochs, self.started)
        now = time.perf_counter()
        if now - self._last_plot >= PLOT_INTERVAL or history.epochs[-1] == self.num_epochs:
            self._last_plot = now
            self.plot.value = perplexity_png(history.epochs, _curves(history), self.title,
                                             self.num_epochs)
            self.sample.value = f"<code>{html.escape(sample())}</code>"

    def close(self, history) -> None:
        from IPython.display import Image, display

        if self._poll is not None:
            self._events.__exit__(None, None, None)
            self._poll = None
        self.box.close()
        if history.epochs:
            display(Image(perplexity_png(history.epochs, _curves(history), self.title,
                                         self.num_epochs)))
