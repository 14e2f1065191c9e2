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


def test_a_tiny_influence_does_not_underflow_to_zero(small_net, vocab):
    """Entries near 1e-25 square below float32's range; the norm must still be positive."""
    with torch.no_grad():
        small_net.params[1].mul_(1e-3 / small_net.params[1].abs().max())  # each step: x 1e-3 or less
    result = crnn.influence(small_net, crnn.encode_text(TEXT, vocab), 12)
    assert result[:13].min() > 0 and result[:13].min() < 1e-25


def test_backward_factor_of_a_scaled_rotation_is_its_scale(make_net, vocab):
    """With every tanh' = 1 (zero states) a step back is W_hh^T alone: here 0.7 times a rotation."""
    net = make_net(16)
    rotation, _ = torch.linalg.qr(torch.randn(16, 16, generator=torch.Generator().manual_seed(1)))
    with torch.no_grad():
        net.params[1].copy_(0.7 * rotation)
    factor = crnn.backward_factor_per_step(net, torch.zeros(200, 16), burn_in=10)
    assert factor == pytest.approx(0.7)


def test_backward_factor_counts_the_tanh_derivatives(make_net, vocab):
    net = make_net(16)
    with torch.no_grad():
        net.params[1].copy_(torch.eye(16))
    states = torch.full((200, 16), 0.5)  # every tanh' = 1 - 0.25
    assert crnn.backward_factor_per_step(net, states, burn_in=10) == pytest.approx(0.75)


def test_backward_factor_without_recurrence_is_zero(small_net):
    with torch.no_grad():
        small_net.params[1].zero_()
    assert crnn.backward_factor_per_step(small_net, torch.zeros(200, small_net.num_hiddens)) == 0


def test_backward_factor_matches_how_influence_fades(make_net, vocab):
    """The factor per step is the rate at which the influence of older inputs falls."""
    net = make_net(32)
    rotation, _ = torch.linalg.qr(torch.randn(32, 32, generator=torch.Generator().manual_seed(2)))
    with torch.no_grad():  # as in the trained models: large inputs, W_hh's radius above 1
        net.params[0].mul_(30)
        net.params[1].copy_(1.2 * rotation)
    tokens = crnn.encode_text(TEXT * 8, vocab)
    factor = crnn.backward_factor_per_step(net, crnn.hidden_states(net, tokens), burn_in=20)
    profile = crnn.influence_by_distance(net, tokens, list(range(60, len(tokens) - 1)), 60)
    fit = np.arange(10, 50)
    slope = np.polyfit(fit, np.log(profile.median(dim=0).values[fit].double().numpy()), 1)[0]
    assert factor < 0.95 and np.exp(slope) == pytest.approx(factor, rel=0.02)


def test_backward_factor_needs_more_steps_than_the_burn_in(small_net):
    with pytest.raises(ValueError, match="need more than burn_in = 100 steps, got 50"):
        crnn.backward_factor_per_step(small_net, torch.zeros(50, small_net.num_hiddens))
