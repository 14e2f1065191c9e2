"""Backpropagation through time by hand: the hand-written gradients equal autograd's."""
import pytest
import torch

import chapter_rnn as crnn


@pytest.mark.parametrize("vocab_size,num_hiddens,batch_size,num_steps",
                         [(28, 32, 4, 10), (5, 7, 1, 1), (11, 16, 3, 35)])
def test_bptt_matches_autograd_in_float64(vocab_size, num_hiddens, batch_size, num_steps):
    crnn.set_seed(1)
    errors = crnn.check_bptt(vocab_size, num_hiddens, batch_size, num_steps)
    assert set(errors) == {"W_xh", "W_hh", "b_h", "W_hq", "b_q", "H_0"}
    for name, error in errors.items():
        assert error < 1e-8, f"{name}: relative error {error}"


def test_a_wrong_gradient_is_detected():
    a = torch.tensor([1.0, 2.0], dtype=torch.float64)
    assert crnn.max_relative_error(a * (1 + 1e-6), a) > 1e-8
    assert crnn.max_relative_error(a, a) == 0.0


def test_cached_forward_is_the_course_rnn():
    crnn.set_seed(0)
    params = crnn.get_params(10, 8, torch.device("cpu"))
    X = crnn.one_hot_steps(torch.randint(0, 10, (3, 5)), 10)
    H0 = torch.randn(3, 8)
    with torch.no_grad():
        outputs, Hs = crnn.rnn_forward_cached(X, H0, params)
        expected, (H_T,) = crnn.rnn(X, (H0,), params)
    assert len(Hs) == 6 and torch.equal(Hs[0], H0)
    assert torch.equal(outputs, expected) and torch.equal(Hs[-1], H_T)


def test_backward_gradients_have_the_parameters_shapes():
    crnn.set_seed(0)
    params = [p.detach() for p in crnn.get_params(10, 8, torch.device("cpu"))]
    X = crnn.one_hot_steps(torch.randint(0, 10, (3, 5)), 10)
    outputs, Hs = crnn.rnn_forward_cached(X, torch.zeros(3, 8), params)
    grads, dH0 = crnn.rnn_backward(X, torch.randint(0, 10, (15,)), outputs, Hs, params)
    assert [g.shape for g in grads] == [p.shape for p in params]
    assert dH0.shape == (3, 8)
