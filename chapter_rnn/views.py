"""Drawing what a trained RNN does: coloured text, and the widgets of notebook 12.

Hand-written course infrastructure (not generated from a notebook). The numbers come from the
plain functions of `chapter_rnn.look_inside` (hidden states, unit rankings, influence, a walk
through a prefix); this module only turns them into HTML, matplotlib figures and ipywidgets.

Every view exists twice: a static figure, which headless runs commit so that a reader on GitHub
sees it, and a widget (`UnitExplorer`, `InfluenceExplorer`, `StepWalker`) built from standard
ipywidgets controls that behave the same in ipywidgets 7 (Colab) and 8 (JupyterLab). A widget's
`show()` displays it in a live notebook and prints one line in a headless run, where nobody could
use it.
"""
from __future__ import annotations

import base64
import functools
import html
import io
from typing import Sequence

import numpy as np
import torch

from chapter_rnn.dashboard import live_frontend
from chapter_rnn.data import Vocab
from chapter_rnn.look_inside import (
    encode_text,
    hidden_states,
    influence,
    walk_text,
)
from chapter_rnn.playground import topk_bars_html

__all__ = ["colored_text_html", "text_heat_figure", "influence_colors", "UnitExplorer",
           "InfluenceExplorer", "StepWalker"]

DIVERGING = "RdBu_r"  # unit activations in [-1, 1]: blue negative, white 0, red positive
SEQUENTIAL = "Purples"  # influence: white (none) to dark (strong)
# Influence falls by orders of magnitude with distance: colour log10(influence / largest),
# clipped at this many decades below the largest.
INFLUENCE_DECADES = 3.0
TRUNCATION = 35  # the training's num_steps: the longest stretch its gradients ever crossed
HEADLESS_NOTE = "(an interactive widget: run this notebook in JupyterLab or Colab to use it)"


def _colormap(name: str):
    import matplotlib

    return matplotlib.colormaps[name]


def _hex_colors(values: np.ndarray, vmin: float, vmax: float, cmap: str) -> list[str]:
    from matplotlib.colors import to_hex

    scaled = np.clip((np.asarray(values, dtype=float) - vmin) / (vmax - vmin), 0.0, 1.0)
    return [to_hex(c) for c in _colormap(cmap)(scaled)]


def _ink(background: str) -> str:
    """Black or white text, whichever reads better on `background` (a #rrggbb colour)."""
    r, g, b = (int(background[i:i + 2], 16) for i in (1, 3, 5))
    return "#000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#fff"


def _shown(char: str) -> str:
    return "␣" if char == " " else char


def colored_text_html(text: str, values: Sequence[float], vmin: float = -1.0,
                      vmax: float = 1.0, cmap: str = DIVERGING,
                      framed: Sequence[int] = (), marked: int | None = None) -> str:
    """`text` with each character's background coloured by its value (hover for the number).

    `framed`: positions drawn with a line under them (the truncation window); `marked`: one
    position drawn with a box (the character just read)."""
    if len(values) != len(text):
        raise ValueError(f"one value per character: {len(text)} characters, "
                         f"{len(values)} values")
    framed = set(framed)
    spans = []
    for i, (char, value, color) in enumerate(zip(text, values,
                                                 _hex_colors(values, vmin, vmax, cmap))):
        style = f"background:{color};color:{_ink(color)}"
        if i in framed:
            style += ";border-bottom:2px solid #e08000"
        if i == marked:
            style += ";outline:2px solid #000"
        spans.append(f'<span style="{style}" title="{i}: {float(value):.3g}">'
                     f'{html.escape(char)}</span>')
    return ('<div class="crnn-colored" style="font-family:monospace;white-space:pre-wrap;'
            f'line-height:1.6;font-size:105%">{"".join(spans)}</div>')


def text_heat_figure(text: str, values: Sequence[float], vmin: float = -1.0,
                     vmax: float = 1.0, cmap: str = DIVERGING, title: str = "",
                     width: int = 70, framed: Sequence[int] = (), marked: int | None = None,
                     colorbar_label: str = ""):
    """The static twin of `colored_text_html`: a matplotlib figure, `width` characters a line."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    rows = -(-len(text) // width)
    grid = np.full((rows, width), np.nan)
    grid.flat[:len(text)] = np.asarray(values, dtype=float)
    fig, ax = plt.subplots(figsize=(width * 0.15 + 1.2, rows * 0.3 + 0.8))
    image = ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto",
                      interpolation="nearest")
    colors = _hex_colors(values, vmin, vmax, cmap)
    for i, char in enumerate(text):
        row, col = divmod(i, width)
        ax.text(col, row, _shown(char), ha="center", va="center", family="monospace",
                fontsize=8, color=_ink(colors[i]))
        if i in framed:
            ax.plot([col - 0.5, col + 0.5], [row + 0.45, row + 0.45], color="#e08000", lw=2)
        if i == marked:
            ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, lw=1.5))
    ax.set(xticks=[], yticks=[], title=title)
    fig.colorbar(image, ax=ax, fraction=0.02, pad=0.01, label=colorbar_label)
    fig.tight_layout()
    return fig


def influence_colors(values: torch.Tensor) -> np.ndarray:
    """log10(influence / largest influence), clipped to [-INFLUENCE_DECADES, 0]; zeros map to
    the bottom of the scale."""
    values = np.asarray(values, dtype=float)
    largest = values.max() if values.size and values.max() > 0 else 1.0
    with np.errstate(divide="ignore"):
        return np.clip(np.log10(values / largest), -INFLUENCE_DECADES, 0.0)


def truncation_window(position: int) -> range:
    """The inputs that one minibatch's gradient could reach from a prediction at `position`."""
    return range(max(0, position - TRUNCATION + 1), position + 1)


def _strip_png(values: torch.Tensor, vmin: float = -1.0, vmax: float = 1.0) -> bytes:
    """A 1-pixel-high PNG of `values` in the diverging colours (scaled up by the browser)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    plt.imsave(buffer, np.asarray(values, dtype=float)[None, :], cmap=DIVERGING, vmin=vmin,
               vmax=vmax, format="png")
    return buffer.getvalue()


def _one_thread(method):
    """Run `method` with torch on one thread: a view's products are single rows times 512 x 512
    matrices, too small for a second thread to pay for the hand-over at every step."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return method(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)

    return wrapper


def _show(widget) -> None:
    from IPython.display import display

    if live_frontend():
        display(widget)
    else:
        print(HEADLESS_NOTE)


class UnitExplorer:
    """Colour a passage by one hidden unit: pick a feature, then a unit from its ranking (or any
    unit with the slider)."""

    @_one_thread
    def __init__(self, net, vocab: Vocab, passage: str,
                 ranking: dict[str, list[tuple[int, float]]], top: int = 10) -> None:
        import ipywidgets as widgets

        self.text = "".join(vocab.to_tokens(encode_text(passage, vocab)))
        self.states = hidden_states(net, encode_text(passage, vocab)).cpu()
        self.ranking, self.top = ranking, top
        self.feature = widgets.Dropdown(options=list(ranking), description="feature",
                                        layout=widgets.Layout(width="420px"))
        self.ranked = widgets.Dropdown(description="ranked", layout=widgets.Layout(width="420px"))
        self.unit = widgets.IntSlider(min=0, max=self.states.shape[1] - 1,
                                      description="unit", continuous_update=False)
        self.passage = widgets.HTML()
        self.feature.observe(self._feature_changed, "value")
        self.ranked.observe(self._ranked_changed, "value")
        self.unit.observe(self._redraw, "value")
        self.widget = widgets.VBox([widgets.HBox([self.feature, self.ranked]), self.unit,
                                    self.passage])
        self._feature_changed()

    def _feature_changed(self, _change=None) -> None:
        options = [(f"unit {u} (r = {r:+.2f})", u)
                   for u, r in self.ranking[self.feature.value][:self.top]]
        self.ranked.options = options
        self.ranked.value = options[0][1]  # ipywidgets 8 leaves a new list unselected
        self._ranked_changed()

    def _ranked_changed(self, _change=None) -> None:
        if self.ranked.value is not None:
            self.unit.value = self.ranked.value
        self._redraw()

    def _redraw(self, _change=None) -> None:
        self.passage.value = self.render(self.unit.value)

    def render(self, unit: int) -> str:
        """The passage coloured by `unit`'s activation after each character."""
        return colored_text_html(self.text, self.states[:, unit].tolist())

    def show(self) -> None:
        _show(self.widget)


class InfluenceExplorer:
    """Pick a position in a passage: each earlier character is shaded by how strongly it
    sways the prediction there, for every model given, with the truncation window underlined."""

    @_one_thread
    def __init__(self, nets: dict[str, object], vocab: Vocab, passage: str,
                 position: int | None = None) -> None:
        import ipywidgets as widgets

        self.nets, self.vocab = nets, vocab
        self.tokens = encode_text(passage, vocab)
        if len(self.tokens) < 2:
            raise ValueError("the passage needs at least two characters: one to read, one to "
                             "predict")
        self.text = "".join(vocab.to_tokens(self.tokens))
        # The states do not depend on the position: read the passage once per model.
        self.states = {name: hidden_states(net, self.tokens) for name, net in nets.items()}
        last = len(self.tokens) - 2
        self.position = widgets.IntSlider(value=last if position is None else position, min=0,
                                          max=last, description="position",
                                          continuous_update=False,
                                          layout=widgets.Layout(width="600px"))
        self.views = widgets.HTML()
        self.position.observe(self._redraw, "value")
        self.widget = widgets.VBox([self.position, self.views])
        self._redraw()

    def _redraw(self, _change=None) -> None:
        self.views.value = self.render(self.position.value)

    @_one_thread
    def render(self, position: int) -> str:
        """For each model: the passage shaded by influence on the prediction after `position`."""
        target = _shown(self.text[position + 1])
        parts = [f"<div>after reading position {position} "
                 f"(<b>{html.escape(_shown(self.text[position]))}</b>), predicting "
                 f"<b>{html.escape(target)}</b>; underlined: the last {TRUNCATION} inputs, "
                 f"as far as one minibatch's gradient reached in training; shading: log scale, "
                 f"{INFLUENCE_DECADES:g} decades</div>"]
        for name, net in self.nets.items():
            values = influence(net, self.tokens, position, self.states[name])
            parts.append(f"<div><b>{html.escape(name)}</b></div>" + colored_text_html(
                self.text, influence_colors(values), -INFLUENCE_DECADES, 0.0, SEQUENTIAL,
                framed=truncation_window(position), marked=position))
        return "".join(parts)

    def show(self) -> None:
        _show(self.widget)


class StepWalker:
    """Walk a prefix one character at a time: the input's index (its row of W_xh), the hidden
    state (its norm and a strip of its values) and the top-k next characters as bars."""

    def __init__(self, net, vocab: Vocab, prefix: str = "time traveller", k: int = 5) -> None:
        import ipywidgets as widgets

        self.net, self.vocab, self.k = net, vocab, k
        self.prefix = widgets.Text(value=prefix, description="prefix", continuous_update=False,
                                   layout=widgets.Layout(width="600px"))
        self.back = widgets.Button(description="◀ back")
        self.forward = widgets.Button(description="step ▶")
        self.restart = widgets.Button(description="start again")
        self.view = widgets.HTML()
        self.prefix.observe(self._new_prefix, "value")
        self.back.on_click(lambda _b: self.go(self.index - 1))
        self.forward.on_click(lambda _b: self.go(self.index + 1))
        self.restart.on_click(lambda _b: self.go(0))
        self.widget = widgets.VBox([self.prefix,
                                    widgets.HBox([self.back, self.forward, self.restart]),
                                    self.view])
        self._new_prefix()

    @_one_thread
    def _new_prefix(self, _change=None) -> None:
        try:
            self.steps = walk_text(self.net, self.vocab, self.prefix.value)
        except (TypeError, ValueError) as err:  # e.g. an empty prefix: one line, no traceback
            self.steps = []
            self.view.value = f"<div>{html.escape(str(err))}</div>"
        self.index = 0
        if self.steps:
            self.go(0)

    def go(self, index: int) -> None:
        """Show step `index` (clamped to the prefix)."""
        if not self.steps:
            return
        self.index = min(max(index, 0), len(self.steps) - 1)
        self.back.disabled = self.index == 0
        self.forward.disabled = self.index == len(self.steps) - 1
        self.view.value = self.render(self.index)

    def render(self, index: int) -> str:
        step, text = self.steps[index], "".join(s.char for s in self.steps)
        read = html.escape(text[:index])
        strip = base64.b64encode(_strip_png(step.hidden)).decode("ascii")
        return (
            '<div style="font-family:monospace;font-size:110%">'
            f'<span style="color:#777">{read}</span>'
            f'<span style="outline:2px solid #000">{html.escape(_shown(step.char))}</span>'
            f'<span style="color:#bbb">{html.escape(text[index + 1:])}</span></div>'
            f"<div>step {index + 1} of {len(self.steps)}: read <b>{html.escape(_shown(step.char))}"
            f"</b> = index {step.token}, so X<sub>t</sub>W<sub>xh</sub> is row {step.token} "
            f"of W<sub>xh</sub>; ‖H<sub>t</sub>‖ = {float(step.hidden.norm()):.2f}</div>"
            f'<div>H<sub>t</sub>, {len(step.hidden)} values (blue −1 … red +1):</div>'
            f'<img src="data:image/png;base64,{strip}" style="width:600px;height:24px;'
            'image-rendering:pixelated">'
            + topk_bars_html(step.top(self.vocab, len(self.vocab)), self.k,
                             "what the model expects next"))

    def show(self) -> None:
        _show(self.widget)
