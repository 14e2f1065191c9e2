"""A text playground: type a prefix, press Enter, watch the trained model continue it.

Hand-written course infrastructure (not generated from a notebook). The logic lives in plain
functions that never raise for anything a person can type: `continue_text` (the continuation)
and `next_char_probabilities` (the model's distribution over the character after the text,
drawn as bars by `topk_bars_html`). `Playground` only wires ipywidgets controls to them; it works
with ipywidgets 7 (Colab) and 8.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import torch

from chapter_rnn.data import Vocab
from chapter_rnn.prediction import Continuation, generate_ch8, prefix_for_model

__all__ = ["MAX_PREFIX_CHARS", "PlaygroundResult", "continue_text", "render_html",
           "next_char_probabilities", "topk_bars_html", "Playground", "show_playground"]

# The model reads at most this many (preprocessed) characters of a prefix: the hidden state
# forgets what came much earlier anyway, and a huge paste would make the widget feel stuck.
MAX_PREFIX_CHARS = 2000
# How much of what the model read is shown in front of the generated text.
SHOWN_PREFIX_CHARS = 200
# How many of the most probable next characters the playground draws as bars.
TOP_K = 5
# The bars' track width: a bar of probability p fills p of it.
BAR_TRACK_PX = 240
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

def next_char_probabilities(net, vocab: Vocab, prefix: str,
                            device: torch.device | None = None) -> list[tuple[str, float]]:
    """The model's probability for every token of `vocab` (`<unk>` included) to come right after
    `prefix`, most probable first (ties in vocabulary order): [(token, probability), ...].

    The prefix is read as `continue_text` reads it (preprocessed like the book, only its last
    `MAX_PREFIX_CHARS` characters), so the first pair is the character greedy generation writes
    next. An empty prefix, or anything that is not text, gives `[]`: with nothing read, the
    model has no scores to turn into probabilities. Never raises for a string."""
    if not isinstance(prefix, str) or not prefix:
        return []
    if device is None:
        device = net.params[0].device if hasattr(net, "params") else torch.device("cpu")
    seen = prefix_for_model(prefix)[-MAX_PREFIX_CHARS:]
    with torch.no_grad():
        state = net.begin_state(batch_size=1, device=device)
        scores, _ = net(torch.tensor([vocab[list(seen)]], device=device), state)
        # float64 softmax, as generate_ch8 computes the probabilities it reports
        probabilities = torch.softmax(scores[-1].double(), dim=0).tolist()
    pairs = zip(vocab.to_tokens(list(range(len(probabilities)))), probabilities)
    return sorted(pairs, key=lambda pair: -pair[1])


def _visible(token: str) -> str:
    """A token as a person can see it: the space as '␣', markup escaped."""
    return html.escape(token.replace(" ", "␣"))


def _bar_row(token: str, probability: float) -> str:
    width = 100 * min(max(probability, 0.0), 1.0)
    return (
        '<div class="crnn-bar-row" style="display:flex;align-items:center;gap:8px;'
        'font-family:monospace;line-height:1.6">'
        f'<span class="crnn-bar-char" style="display:inline-block;width:4em;text-align:right">'
        f'{_visible(token)}</span>'
        f'<span style="display:inline-block;width:{BAR_TRACK_PX}px;background:#eee">'
        f'<span class="crnn-bar" style="display:block;width:{width:.2f}%;height:0.9em;'
        f'background:rgba(66, 133, 244, 0.8)"></span></span>'
        f'<span class="crnn-bar-p">{probability:.3f}</span></div>')


def topk_bars_html(pairs: list[tuple[str, float]], k: int = TOP_K, title: str = "") -> str:
    """The `k` most probable of `pairs` (token, probability) as horizontal bars, most probable
    on top: each bar's width is proportional to its probability, which is printed beside it; the
    space shows as '␣'. Self-contained HTML with inline styles, for an ipywidgets `HTML` (7 or 8)
    or `IPython.display.HTML`. No pairs (e.g. an empty prefix) gives a one-line message."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    heading = (f'<div class="crnn-bars-title" style="font-size:90%">{html.escape(title)}</div>'
               if title else "")
    if not pairs:
        return (f'<div class="crnn-bars">{heading}<div class="crnn-message">no next-character '
                f'probabilities: the model needs at least one character to read</div></div>')
    top = sorted(pairs, key=lambda pair: -pair[1])[:k]
    return (f'<div class="crnn-bars">{heading}'
            + "".join(_bar_row(token, p) for token, p in top) + "</div>")


def _bars_title(prefix: str) -> str:
    """'the next character after “…me traveller”': the end of what the model read."""
    seen = prefix_for_model(prefix)[-MAX_PREFIX_CHARS:]
    tail = seen[-20:].replace(" ", "␣")
    return f'the next character after “{"…" if len(seen) > 20 else ""}{tail}”'


class Playground:
    """ipywidgets controls around `continue_text`: a text box (Enter submits), the number of
    characters, greedy or sampling, and the temperature; under the text, the `TOP_K` most
    probable characters after the typed text as bars (`next_char_probabilities`)."""

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
        self.bars = widgets.HTML()
        help_text = widgets.HTML(f'<span style="font-size:90%">{html.escape(TEMPERATURE_NOTE)}'
                                 f'</span>')
        for control in (self.text, self.num_chars, self.mode, self.temperature):
            control.observe(self._refresh, "value")
        self.widget = widgets.VBox([self.text, widgets.HBox([self.num_chars, self.mode]),
                                    widgets.HBox([self.temperature, help_text]), self.output,
                                    self.bars])
        self._refresh()

    def _refresh(self, _change=None) -> None:
        sampling = self.mode.value == "sample"
        self.temperature.disabled = not sampling
        try:
            result = continue_text(self.text.value, self.net, self.vocab, self.num_chars.value,
                                   self.temperature.value if sampling else 0.0, self.device,
                                   self.generator)
            bars = (topk_bars_html(next_char_probabilities(self.net, self.vocab,
                                                           self.text.value, self.device),
                                   TOP_K, _bars_title(self.text.value))
                    if result.ok else "")
        except Exception as err:  # the widget shows one line, never a traceback
            result = PlaygroundResult(None, f"Could not continue this text: "
                                            f"{type(err).__name__}: {err}")
            bars = ""
        self.output.value = render_html(result)
        self.bars.value = bars

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
