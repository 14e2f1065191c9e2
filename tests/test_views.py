"""Notebook 12's views: coloured text, static figures, and widgets that react to their controls.

The widgets are driven without a browser (setting a control's value, clicking a button): the
same calls work with ipywidgets 7 (Colab's) and 8."""
import re

import matplotlib
import pytest
import torch

import chapter_rnn as crnn
from chapter_rnn import views

matplotlib.use("Agg")
PASSAGE = "the time traveller for so it will be convenient to speak of him"
SPAN = re.compile(r'<span style="background:(#[0-9a-f]{6});')


def test_colored_text_html_colours_every_character_by_its_value():
    page = views.colored_text_html("ab c", [-1.0, 0.0, 1.0, 0.5], framed=[2], marked=3)
    colours = SPAN.findall(page)
    assert len(colours) == 4 and len(set(colours)) == 4
    assert page.count("border-bottom") == 1 and page.count("outline") == 1
    assert "<script" not in views.colored_text_html("<script>", [0.0] * 8)


def test_colored_text_html_needs_one_value_per_character():
    with pytest.raises(ValueError, match="one value per character: 3 characters, 2 values"):
        views.colored_text_html("abc", [0.0, 1.0])


def test_text_heat_figure_draws_every_character():
    figure = views.text_heat_figure("the cat", [0.1] * 7, width=4, title="t")
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.texts] == list("the␣cat")
    assert ax.images[0].get_array().shape == (2, 4)


def test_influence_colors_are_decades_below_the_largest():
    colors = views.influence_colors(torch.tensor([0.0, 1e-5, 1e-2, 1e-1, 1.0]))
    assert colors.tolist() == pytest.approx([-3.0, -3.0, -2.0, -1.0, 0.0])


def test_truncation_window_is_the_last_35_inputs():
    assert list(views.truncation_window(50)) == list(range(16, 51))
    assert list(views.truncation_window(3)) == [0, 1, 2, 3]


def test_unit_explorer_recolours_the_passage_for_another_unit(small_net, vocab):
    states = crnn.hidden_states(small_net, crnn.encode_text(PASSAGE, vocab))
    ranking = crnn.rank_units(states, crnn.char_features(PASSAGE))
    explorer = views.UnitExplorer(small_net, vocab, PASSAGE, ranking, top=3)
    best_space_unit = ranking["space (vs. inside a word)"][0][0]
    assert explorer.unit.value == best_space_unit
    before = explorer.passage.value
    explorer.unit.value = (best_space_unit + 1) % small_net.num_hiddens
    assert explorer.passage.value != before
    assert SPAN.findall(explorer.passage.value) == SPAN.findall(
        explorer.render(explorer.unit.value))
    explorer.feature.value = "vowel (vs. consonant)"
    assert len(explorer.ranked.options) == 3
    assert explorer.unit.value == ranking["vowel (vs. consonant)"][0][0]


def test_influence_explorer_shades_each_model_for_the_chosen_position(make_net, vocab):
    nets = {"one": make_net(seed=1), "two": make_net(seed=2)}
    explorer = views.InfluenceExplorer(nets, vocab, PASSAGE, position=20)
    page = explorer.views.value
    assert "<b>one</b>" in page and "<b>two</b>" in page
    assert page.count("border-bottom") == 2 * 21  # positions 0-20, all within 35 steps
    explorer.position.value = 50
    assert explorer.views.value != page
    assert explorer.views.value.count("border-bottom") == 2 * 35


def test_influence_explorer_needs_something_to_predict(small_net, vocab):
    with pytest.raises(ValueError, match="at least two characters"):
        views.InfluenceExplorer({"m": small_net}, vocab, "a")


def test_step_walker_steps_through_the_prefix_and_updates_the_bars(small_net, vocab):
    walker = views.StepWalker(small_net, vocab, "the time", k=4)
    first = walker.view.value
    assert walker.back.disabled and not walker.forward.disabled
    assert "step 1 of 8" in first and f"index {vocab['t']}" in first
    walker.forward.click()
    assert walker.index == 1 and "step 2 of 8" in walker.view.value
    assert walker.view.value != first
    for _ in range(10):
        walker.forward.click()
    assert walker.index == 7 and walker.forward.disabled
    walker.restart.click()
    assert walker.view.value == first


def test_step_walker_shows_a_message_for_an_empty_prefix(small_net, vocab):
    walker = views.StepWalker(small_net, vocab, "time")
    walker.prefix.value = ""
    assert "empty" in walker.view.value and walker.steps == []
    walker.forward.click()  # nothing to step through: no error
    walker.prefix.value = "he"
    assert "step 1 of 2" in walker.view.value


def test_show_prints_one_line_when_nobody_can_use_the_widget(small_net, vocab, capsys,
                                                             monkeypatch):
    monkeypatch.setenv("CHAPTER_RNN_HEADLESS", "1")
    views.StepWalker(small_net, vocab).show()
    assert capsys.readouterr().out == views.HEADLESS_NOTE + "\n"
