"""Prediction: the book's warm-up + greedy semantics, and any string a person may type."""
import pytest
import torch

import chapter_rnn as crnn

CPU = torch.device("cpu")


def book_predict(prefix, num_preds, net, vocab):
    """The book's predict_ch8, step by step, as the reference."""
    state = net.begin_state(batch_size=1, device=CPU)
    outputs = [vocab[prefix[0]]]
    get_input = lambda: torch.tensor([outputs[-1]]).reshape(1, 1)  # noqa: E731
    for y in prefix[1:]:
        _, state = net(get_input(), state)
        outputs.append(vocab[y])
    for _ in range(num_preds):
        y, state = net(get_input(), state)
        outputs.append(int(y.argmax(dim=1).reshape(1)))
    return "".join(vocab.idx_to_token[i] for i in outputs)


@pytest.mark.parametrize("prefix", ["time traveller ", "t", "the time machine by h g"])
def test_same_result_as_the_books_step_by_step_prediction(small_net, vocab, prefix):
    assert crnn.predict_ch8(prefix, 30, small_net, vocab, CPU) == \
        book_predict(prefix, 30, small_net, vocab)


def test_empty_prefix_is_a_clear_value_error(small_net, vocab):
    with pytest.raises(ValueError, match="prefix is empty"):
        crnn.predict_ch8("", 10, small_net, vocab, CPU)
    with pytest.raises(TypeError, match="must be a string"):
        crnn.predict_ch8(None, 10, small_net, vocab, CPU)
    with pytest.raises(ValueError, match="num_preds"):
        crnn.predict_ch8("time", -1, small_net, vocab, CPU)


@pytest.mark.parametrize("typed, seen", [
    ("Time Traveller", "time traveller"),
    ("1895: the TIME-machine!", " the time machine "),
    ("Café déjà vu", "caf d j vu"),
    ("time 🚀 travel", "time travel"),
    ("???", " "),
])
def test_characters_outside_the_vocabulary_are_mapped_like_the_corpus(small_net, vocab,
                                                                       typed, seen):
    continuation = crnn.generate_ch8(typed, 5, small_net, vocab, CPU)
    assert continuation.seen == seen
    assert crnn.predict_ch8(typed, 5, small_net, vocab, CPU).startswith(seen)
    assert "<unk>" not in continuation.seen


class RecordingNet:
    """Wraps a model and records, per call, the sequence length and whether autograd was on."""

    def __init__(self, net):
        self.net, self.calls = net, []

    def __call__(self, X, state):
        self.calls.append((X.shape[1], torch.is_grad_enabled()))
        return self.net(X, state)

    def begin_state(self, batch_size, device):
        return self.net.begin_state(batch_size, device)


def test_a_very_long_prefix_is_read_in_one_pass_without_a_graph(small_net, vocab):
    prefix = "the time traveller " * 5300  # about 100k characters
    net = RecordingNet(small_net)
    continuation = crnn.generate_ch8(prefix, 10, net, vocab, CPU)
    assert len(continuation.seen) == len(prefix) and len(continuation.generated) == 10
    # one warm-up call over the whole prefix, then one call per generated token; autograd off,
    # so memory stays linear in the prefix instead of holding a 100k-step graph
    assert net.calls[0] == (len(prefix), False)
    assert all(call == (1, False) for call in net.calls[1:])


def test_sampling_is_reproducible_and_reports_probabilities(small_net, vocab):
    def sample(seed):
        generator = torch.Generator().manual_seed(seed)
        return crnn.generate_ch8("time ", 20, small_net, vocab, CPU, temperature=1.0,
                                 generator=generator)

    assert sample(1) == sample(1)
    first = sample(1)
    assert len(first.probabilities) == 20 and all(0 < p <= 1 for p in first.probabilities)
    greedy = crnn.generate_ch8("time ", 20, small_net, vocab, CPU)
    assert crnn.generate_ch8("time ", 20, small_net, vocab, CPU, temperature=1e-6,
                             generator=torch.Generator().manual_seed(0)).generated == \
        greedy.generated  # a very cold temperature is greedy decoding
    with pytest.raises(ValueError, match="temperature"):
        crnn.generate_ch8("time", 5, small_net, vocab, CPU, temperature=-1)
