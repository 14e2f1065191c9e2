"""A text playground: type a prefix, press Enter, watch the trained model continue it.

Hand-written course infrastructure (not generated from a notebook). The logic lives in
`continue_text`, a plain function that never raises for anything a person can type; `Playground`
only wires ipywidgets controls to it.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import torch

from chapter_rnn.data import Vocab
from chapter_rnn.prediction import Continuation, generate_ch8, prefix_for_model

__all__ = ["MAX_PREFIX_CHARS", "PlaygroundResult", "continue_text", "render_html", "Playground",
           "show_playground"]

# The model reads at most this many (preprocessed) characters of a prefix: the hidden state
# forgets what came much earlier anyway, and a huge paste would make the widget feel stuck.
MAX_PREFIX_CHARS = 2000
# How much of what the model read is shown in front of the generated text.
SHOWN_PREFIX_CHARS = 200
TEMPERATURE_NOTE = ("temperature = 1/α of the book's exercise: colder (smaller) = more "
                    "conservative, hotter = more surprising; greedy is the coldest of all")


@dataclass
class PlaygroundResult:
    """What to show for one input: a continuation, or a one-line message instead of it."""

    continuation: Continuation | None
    message: str
    note: str = ""  # how the model's view of the prefix differs from what was typed

    @property
    def ok(self) -> bool:
        return self.continuation is not None


def _describe_seen(changed: bool, kept: int, cut: int) -> str:
    notes = []
    if cut:
        notes.append(f"the model read only the last {kept:,} of {kept + cut:,} characters")
    if changed:
        notes.append("it knows only the letters a-z and the space: upper case was lowered and "
                     "every run of other characters became one space")
    return "; ".join(notes)


def continue_text(prefix: str, net, vocab: Vocab, num_chars: int = 50,
                  temperature: float = 0.0, device: torch.device | None = None,
                  generator: torch.Generator | None = None,
                  max_prefix_chars: int = MAX_PREFIX_CHARS) -> PlaygroundResult:
    """Continue `prefix` by `num_chars` characters (greedy when `temperature` is 0).

    Never raises for a string a person could type: problems come back as a one-line message."""
    if not isinstance(prefix, str):
        return PlaygroundResult(None, f"the prefix must be text, got {type(prefix).__name__}")
    if not prefix:
        return PlaygroundResult(None, "Type a few words first: the model needs at least one "
                                      "character to start from.")
    if not 0 <= num_chars <= 10_000:
        return PlaygroundResult(None, f"Choose between 0 and 10,000 characters, not {num_chars}.")
    if temperature < 0:
        return PlaygroundResult(None, f"The temperature must be 0 (greedy) or more, not "
                                      f"{temperature}.")
    if device is None:
        device = net.params[0].device if hasattr(net, "params") else torch.device("cpu")

    preprocessed = prefix_for_model(prefix)
    cut = max(0, len(preprocessed) - max_prefix_chars)
    seen = preprocessed[cut:]
    continuation = generate_ch8(seen, num_chars, net, vocab, device, temperature, generator)
    message = "greedy" if temperature == 0 else f"sampled at temperature {temperature:g}"
    return PlaygroundResult(continuation, message, _describe_seen(preprocessed != prefix, len(seen), cut))


def _shade(probability: float) -> str:
    """Background colour: strong blue for a confident choice, pale for an unlikely one."""
    return f"rgba(66, 133, 244, {0.1 + 0.6 * probability:.2f})"


def render_html(result: PlaygroundResult) -> str:
    """The result as HTML: what the model read in grey, each generated character shaded by its
    probability (hover for the number), and a one-line message."""
    if not result.ok:
        return f'<div class="crnn-message">{html.escape(result.message)}</div>'
    c = result.continuation
    shown = c.seen[-SHOWN_PREFIX_CHARS:]
    more = (f'<span class="crnn-more">…{len(c.seen) - len(shown):,} more characters…</span>'
            if len(shown) < len(c.seen) else "")
    generated = "".join(
        f'<span style="background:{_shade(p)}" title="p = {p:.2f}">{html.escape(ch)}</span>'
        for ch, p in zip(c.generated, c.probabilities))
    note = f" ({html.escape(result.note)})" if result.note else ""
    return (
        '<div style="font-family:monospace;white-space:pre-wrap;font-size:110%">'
        f'{more}<span class="crnn-seen" style="color:#777">{html.escape(shown)}</span>'
        f'<span class="crnn-generated">{generated}</span></div>'
        f'<div class="crnn-message" style="font-size:90%">grey: what the model read{note}; '
        f'shaded: generated ({html.escape(result.message)}), darker = more probable</div>')


class Playground:
    """ipywidgets controls around `continue_text`: a text box (Enter submits), the number of
    characters, greedy or sampling, and the temperature."""

    def __init__(self, net, vocab: Vocab, device: torch.device | None = None,
                 prefix: str = "time traveller", num_chars: int = 50) -> None:
        import ipywidgets as widgets

        self.net, self.vocab, self.device = net, vocab, device
        self.generator = torch.Generator().manual_seed(0)
        self.text = widgets.Text(value=prefix, continuous_update=False,
                                 placeholder="type a prefix and press Enter",
                                 description="prefix", layout=widgets.Layout(width="600px"))
        self.num_chars = widgets.IntSlider(value=num_chars, min=1, max=500,
                                           description="characters")
        self.mode = widgets.ToggleButtons(options=["greedy", "sample"], value="greedy",
                                          description="choose")
        self.temperature = widgets.FloatSlider(value=1.0, min=0.05, max=2.0, step=0.05,
                                               description="temperature", disabled=True,
                                               style={"description_width": "initial"})
        self.output = widgets.HTML()
        help_text = widgets.HTML(f'<span style="font-size:90%">{html.escape(TEMPERATURE_NOTE)}'
                                 f'</span>')
        for control in (self.text, self.num_chars, self.mode, self.temperature):
            control.observe(self._refresh, "value")
        self.widget = widgets.VBox([self.text, widgets.HBox([self.num_chars, self.mode]),
                                    widgets.HBox([self.temperature, help_text]), self.output])
        self._refresh()

    def _refresh(self, _change=None) -> None:
        sampling = self.mode.value == "sample"
        self.temperature.disabled = not sampling
        try:
            result = continue_text(self.text.value, self.net, self.vocab, self.num_chars.value,
                                   self.temperature.value if sampling else 0.0, self.device,
                                   self.generator)
        except Exception as err:  # the widget shows one line, never a traceback
            result = PlaygroundResult(None, f"Could not continue this text: "
                                            f"{type(err).__name__}: {err}")
        self.output.value = render_html(result)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def show_playground(net, vocab: Vocab, device: torch.device | None = None,
                    prefix: str = "time traveller") -> Playground:
    """Display a playground for `net` (trained in a notebook or loaded from a checkpoint)."""
    from IPython.display import display

    playground = Playground(net, vocab, device, prefix)
    display(playground.widget)
    return playground
