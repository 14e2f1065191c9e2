"""The views' numbers: hidden states, feature rankings, influence and the step-by-step walk."""
import numpy as np
import pytest
import torch
from torch.nn import functional as F

import chapter_rnn as crnn

TEXT = "the time traveller for so it will be convenient to speak of him"


def space_copying_net(make_net, vocab, unit=3):
    """A model whose unit `unit` is +1 exactly after a space and -1 after anything else."""
    net = make_net(8)
    W_xh, W_hh, b_h, W_hq, b_q = net.params
    with torch.no_grad():
        W_hh[:, unit] = 0
        b_h[unit] = 0
        W_xh[:, unit] = -20.0
        W_xh[vocab[" "], unit] = 20.0
    return net


def test_hidden_states_are_the_states_the_model_computes(small_net, vocab):
    tokens = crnn.encode_text(TEXT, vocab)
    states = crnn.hidden_states(small_net, tokens)
    assert states.shape == (len(TEXT), small_net.num_hiddens)
    outputs, (last,) = small_net(torch.tensor([tokens]), small_net.begin_state(1, None))
    torch.testing.assert_close(crnn.next_token_logits(small_net, states), outputs)
    torch.testing.assert_close(states[-1], last[0])


def test_hidden_states_of_a_batch_are_those_of_each_row(small_net, vocab):
    rows = torch.tensor([crnn.encode_text(TEXT[:20], vocab), crnn.encode_text(TEXT[5:25], vocab)])
    batch = crnn.hidden_states(small_net, rows)
    assert batch.shape == (2, 20, small_net.num_hiddens)
    for row, states in zip(rows, batch):
        torch.testing.assert_close(states, crnn.hidden_states(small_net, row.tolist()))


def test_encode_text_reads_text_as_the_model_does(vocab):
    assert vocab.to_tokens(crnn.encode_text("The Time!", vocab)) == list("the time ")


def test_char_features_describe_each_character():
    features = crnn.char_features("the cat")
    np.testing.assert_array_equal(features["space (vs. inside a word)"], [0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(features["position within the word"],
                                  [1, 2, 3, np.nan, 1, 2, 3])
    np.testing.assert_array_equal(features["vowel (vs. consonant)"],
                                  [0, 0, 1, np.nan, 0, 1, 0])
    np.testing.assert_array_equal(features["just read 'th'"], [0, 1, 0, 0, 0, 0, 0])


def test_a_unit_that_copies_the_space_input_ranks_first_with_correlation_one(make_net, vocab):
    net = space_copying_net(make_net, vocab, unit=3)
    states = crnn.hidden_states(net, crnn.encode_text(TEXT, vocab))
    ranking = crnn.rank_units(states, crnn.char_features(TEXT))
    unit, r = ranking["space (vs. inside a word)"][0]
    assert unit == 3 and r == pytest.approx(1.0, abs=1e-6)
    assert all(abs(r) < 0.999 for _, r in ranking["space (vs. inside a word)"][1:])
    assert sorted(u for u, _ in ranking["vowel (vs. consonant)"]) == list(range(8))


def test_a_constant_unit_or_feature_correlates_zero_not_nan():
    states = torch.tensor([[0.5, 0.1], [0.5, 0.2], [0.5, 0.3]])
    np.testing.assert_allclose(crnn.unit_correlations(states, np.array([1.0, 2.0, 3.0])),
                               [0.0, 1.0])
    np.testing.assert_array_equal(crnn.unit_correlations(states, np.array([1.0, 1.0, 1.0])),
                                  [0.0, 0.0])


def test_influence_is_zero_after_the_position_and_matches_autograd(small_net, vocab):
    tokens = crnn.encode_text(TEXT, vocab)
    position = 20
    result = crnn.influence(small_net, tokens, position)
    assert result.shape == (len(tokens),)
    assert torch.all(result[position + 1:] == 0) and result[position] > 0
    W_xh, W_hh, b_h, W_hq, b_q = [p.detach() for p in small_net.params]
    X = F.one_hot(torch.tensor(tokens[:position + 1]), len(vocab)).float().requires_grad_(True)
    H = torch.zeros(small_net.num_hiddens)
    for x in X:
        H = torch.tanh(x @ W_xh + H @ W_hh + b_h)
    log_prob = torch.log_softmax(H @ W_hq + b_q, dim=0)[tokens[position + 1]]
    expected = torch.autograd.grad(log_prob, X)[0].norm(dim=1)
    torch.testing.assert_close(result[:position + 1], expected)


def test_without_recurrence_only_the_character_just_read_has_influence(small_net, vocab):
    with torch.no_grad():
        small_net.params[1].zero_()  # W_hh = 0: H_t depends on X_t alone
    result = crnn.influence(small_net, crnn.encode_text(TEXT, vocab), 10)
    assert result[10] > 0 and torch.count_nonzero(result) == 1


def test_influence_by_distance_reads_each_window_backwards(small_net, vocab):
    tokens = crnn.encode_text(TEXT, vocab)
    profile = crnn.influence_by_distance(small_net, tokens, [12, 30], max_distance=10)
    assert profile.shape == (2, 11)
    for row, position in zip(profile, [12, 30]):
        window = tokens[position - 10:position + 2]
        torch.testing.assert_close(row, crnn.influence(small_net, window, 10)[:11].flip(0))


@pytest.mark.parametrize("position", [-1, len(TEXT) - 1, len(TEXT)])
def test_influence_needs_a_next_character_to_predict(small_net, vocab, position):
    with pytest.raises(ValueError, match="position must be in"):
        crnn.influence(small_net, crnn.encode_text(TEXT, vocab), position)


def test_influence_by_distance_names_positions_without_enough_context(small_net, vocab):
    with pytest.raises(ValueError, match=r"need 10 characters before them.*\[5\]"):
        crnn.influence_by_distance(small_net, crnn.encode_text(TEXT, vocab), [5, 20], 10)


def test_walk_text_keeps_every_step(small_net, vocab):
    steps = crnn.walk_text(small_net, vocab, "Time!")
    assert [s.char for s in steps] == list("time ")
    assert [s.token for s in steps] == vocab[list("time ")]
    states = crnn.hidden_states(small_net, vocab[list("time ")])
    for step, state in zip(steps, states):
        torch.testing.assert_close(step.hidden, state)
        assert step.probabilities.sum().item() == pytest.approx(1.0, abs=1e-5)
    top = steps[-1].top(vocab, 3)
    assert len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1]
    assert top[0][1] == pytest.approx(steps[-1].probabilities.max().item())
