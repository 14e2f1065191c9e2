"""The playground: every input a person can type gives a continuation or a one-line message."""
import re

import pytest
import torch

import chapter_rnn as crnn

CPU = torch.device("cpu")
LETTERS = re.compile("^[a-z ]*$")


@pytest.mark.parametrize("typed, seen", [
    ("time traveller", "time traveller"),
    ("The Time Machine", "the time machine"),
    ("in 1895 he", "in he"),
    ("Hello, world!", "hello world "),
    ("café crème", "caf cr me"),
    ("so 😀 happy", "so happy"),
    ("?!", " "),
    ("   ", " "),
    ("line one\nline two", "line one line two"),
])
def test_any_text_is_continued_and_says_what_the_model_read(typed, seen, small_net, vocab):
    result = crnn.continue_text(typed, small_net, vocab, num_chars=12)
    assert result.ok
    assert result.continuation.seen == seen
    assert len(result.continuation.generated) == 12
    assert len(result.continuation.probabilities) == 12
    assert LETTERS.match(result.continuation.generated)
    assert ("upper case was lowered" in result.note) == (seen != typed)
    page = crnn.render_html(result)
    assert f'<span class="crnn-seen" style="color:#777">{seen}</span>' in page
    assert "\n" not in result.message


def test_empty_prefix_gives_a_message_not_an_error(small_net, vocab):
    result = crnn.continue_text("", small_net, vocab)
    assert not result.ok and "Type a few words" in result.message
    assert crnn.render_html(result) == f'<div class="crnn-message">{result.message}</div>'


@pytest.mark.parametrize("kwargs, message", [
    ({"num_chars": -1}, "between 0 and 10,000"),
    ({"temperature": -0.5}, "temperature must be 0"),
])
def test_bad_controls_give_a_message(kwargs, message, small_net, vocab):
    result = crnn.continue_text("time", small_net, vocab, **kwargs)
    assert not result.ok and message in result.message


def test_not_text_gives_a_message(small_net, vocab):
    result = crnn.continue_text(None, small_net, vocab)
    assert not result.ok and "NoneType" in result.message


def test_a_huge_paste_reads_only_the_end(small_net, vocab):
    typed = "The Time Traveller (for so it will be convenient to speak of him) " * 1600
    assert len(typed) > 100_000
    result = crnn.continue_text(typed, small_net, vocab, num_chars=5)
    assert result.ok and len(result.continuation.seen) == crnn.MAX_PREFIX_CHARS
    assert "read only the last 2,000 of 102,400 characters" in result.note
    page = crnn.render_html(result)
    assert "more characters" in page and len(page) < 10_000


def test_markup_is_escaped():
    result = crnn.PlaygroundResult(crnn.Continuation("<b>", "&", [0.5]), "<i>", "<u>")
    page = crnn.render_html(result)
    assert "<b>" not in page and "<i>" not in page and "<u>" not in page
    assert "&lt;b&gt;" in page and ">&amp;</span>" in page


def test_greedy_is_repeatable_and_matches_predict(small_net, vocab):
    first = crnn.continue_text("time traveller", small_net, vocab, num_chars=20)
    again = crnn.continue_text("time traveller", small_net, vocab, num_chars=20)
    assert first.continuation == again.continuation
    assert first.continuation.text == crnn.predict_ch8("time traveller", 20, small_net, vocab, CPU)


def test_sampling_uses_the_generator(small_net, vocab):
    texts = [crnn.continue_text("time", small_net, vocab, 30, temperature=1.0,
                                generator=torch.Generator().manual_seed(s)).continuation.generated
             for s in (0, 0, 1)]
    assert texts[0] == texts[1] != texts[2]


def test_shading_follows_the_probabilities(small_net, vocab):
    result = crnn.continue_text("time", small_net, vocab, num_chars=4)
    page = crnn.render_html(result)
    for p in result.continuation.probabilities:
        assert f'title="p = {p:.2f}"' in page


def test_widget_reacts_to_enter_and_controls(small_net, vocab):
    playground = crnn.Playground(small_net, vocab, prefix="time")
    assert 'class="crnn-seen" style="color:#777">time<' in playground.output.value
    playground.text.value = "The Machine"  # what pressing Enter does with continuous_update=False
    assert ">the machine<" in playground.output.value
    playground.text.value = ""
    assert "Type a few words" in playground.output.value
    playground.text.value = "time"
    assert playground.temperature.disabled
    playground.mode.value = "sample"
    assert not playground.temperature.disabled and "temperature 1" in playground.output.value
    playground.num_chars.value = 7
    assert playground.output.value.count('title="p = ') == 7


def test_widget_turns_unexpected_errors_into_one_line(vocab):
    class Broken:
        params = [torch.zeros(1)]

        def begin_state(self, batch_size, device):
            raise RuntimeError("no state")

    playground = crnn.Playground(Broken(), vocab)
    assert "RuntimeError: no state" in playground.output.value
    assert "Traceback" not in playground.output.value


def test_works_with_a_loaded_checkpoint(tmp_path, small_net, vocab):
    path = crnn.save_checkpoint(tmp_path / "m.safetensors", small_net, vocab)
    net, loaded_vocab, _ = crnn.load_checkpoint(path)
    assert (crnn.continue_text("time", net, loaded_vocab, 10).continuation
            == crnn.continue_text("time", small_net, vocab, 10).continuation)


BAR = re.compile(r'class="crnn-bar-char"[^>]*>([^<]*)</span>.*?width:([\d.]+)%.*?'
                 r'class="crnn-bar-p">([\d.]+)<')


def bars_in(page: str) -> list[tuple[str, float, float]]:
    """(shown character, bar width in %, printed probability) of each bar, top to bottom."""
    return [(ch, float(w), float(p)) for ch, w, p in BAR.findall(page)]


def test_next_char_probabilities_cover_the_vocabulary_most_probable_first(small_net, vocab):
    pairs = crnn.next_char_probabilities(small_net, vocab, "time traveller")
    assert sorted(token for token, _ in pairs) == sorted(vocab.idx_to_token)
    probabilities = [p for _, p in pairs]
    assert probabilities == sorted(probabilities, reverse=True)
    assert sum(probabilities) == pytest.approx(1.0)


@pytest.mark.parametrize("typed", ["time traveller", "The Time Machine!", "?!", "so 😀 happy"])
def test_the_most_probable_next_char_is_what_greedy_writes(typed, small_net, vocab):
    (token, probability), *_ = crnn.next_char_probabilities(small_net, vocab, typed)
    first = crnn.continue_text(typed, small_net, vocab, num_chars=1).continuation
    assert (token, probability) == (first.generated, pytest.approx(first.probabilities[0]))


def test_next_char_probabilities_read_the_prefix_like_continue_text(small_net, vocab):
    typed = "The Time Traveller (for so it will be convenient to speak of him) " * 40
    seen = crnn.continue_text(typed, small_net, vocab, num_chars=0).continuation.seen
    assert len(typed) > crnn.MAX_PREFIX_CHARS == len(seen)
    assert (crnn.next_char_probabilities(small_net, vocab, typed)
            == crnn.next_char_probabilities(small_net, vocab, seen))


@pytest.mark.parametrize("typed", ["", None, 42])
def test_nothing_to_read_gives_no_probabilities(typed, small_net, vocab):
    assert crnn.next_char_probabilities(small_net, vocab, typed) == []


def test_topk_bars_are_proportional_to_the_probabilities_and_print_them():
    pairs = [("e", 0.1), (" ", 0.6), ("t", 0.25), ("a", 0.05)]
    page = crnn.topk_bars_html(pairs, k=3, title="after <time>")
    assert bars_in(page) == [("␣", 60.0, 0.6), ("t", 25.0, 0.25), ("e", 10.0, 0.1)]
    assert "after &lt;time&gt;" in page and "<time>" not in page


def test_topk_bars_show_markup_as_text_and_fewer_pairs_than_k():
    page = crnn.topk_bars_html([("<unk>", 1.0)], k=5)
    assert bars_in(page) == [("&lt;unk&gt;", 100.0, 1.0)]


def test_topk_bars_without_pairs_say_why_and_reject_k_below_one():
    assert "needs at least one character" in crnn.topk_bars_html([])
    with pytest.raises(ValueError, match="k must be at least 1"):
        crnn.topk_bars_html([("a", 1.0)], k=0)


def test_widget_shows_the_top_k_bars_for_the_character_after_the_text(small_net, vocab):
    playground = crnn.Playground(small_net, vocab, prefix="time")
    shown = bars_in(playground.bars.value)
    expected = crnn.next_char_probabilities(small_net, vocab, "time")[:5]
    assert [(ch, p) for ch, _, p in shown] == [(t.replace(" ", "␣"), round(p, 3))
                                                for t, p in expected]
    assert 'after “time”' in playground.bars.value
    playground.text.value = "The Machine"
    assert 'after “the␣machine”' in playground.bars.value
    playground.text.value = ""
    assert playground.bars.value == "" and "Type a few words" in playground.output.value
