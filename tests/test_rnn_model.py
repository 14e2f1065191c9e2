"""Parameters and the model: shapes, initialisation and the recurrence itself."""
import pytest
import torch

import chapter_rnn as crnn


def test_params_have_the_books_shapes_and_need_gradients():
    crnn.set_seed(0)
    params = crnn.get_params(28, 512, torch.device("cpu"))
    assert [tuple(p.shape) for p in params] == [(28, 512), (512, 512), (512,), (512, 28), (28,)]
    assert all(p.requires_grad for p in params)
    assert float(params[1].detach().std()) == pytest.approx(0.01, rel=0.05)
    assert not params[2].any() and not params[4].any()


@pytest.mark.parametrize("vocab_size, num_hiddens", [(0, 8), (28, 0), (28, -3)])
def test_non_positive_sizes_fail_up_front(vocab_size, num_hiddens):
    with pytest.raises(ValueError, match="must be positive"):
        crnn.get_params(vocab_size, num_hiddens, torch.device("cpu"))


def test_one_hot_steps_is_time_major():
    X = torch.tensor([[1, 2, 3], [4, 5, 6]])
    inputs = crnn.one_hot_steps(X, 8)
    assert inputs.shape == (3, 2, 8) and inputs.dtype == torch.float32
    assert inputs.argmax(dim=2).tolist() == X.T.tolist()


def test_model_output_and_state_shapes(small_net):
    X = torch.arange(10).reshape(2, 5)
    state = small_net.begin_state(2, torch.device("cpu"))
    assert len(state) == 1 and not state[0].any() and state[0].shape == (2, 16)
    Y, new_state = small_net(X, state)
    assert Y.shape == (10, 28) and new_state[0].shape == (2, 16)


def test_rnn_implements_the_recurrence(small_net):
    W_xh, W_hh, b_h, W_hq, b_q = small_net.params
    X = torch.tensor([[3, 1, 4]])
    H = torch.zeros(1, 16)
    expected = []
    for t in range(3):
        H = torch.tanh(W_xh[X[0, t]] + H @ W_hh + b_h)  # one-hot @ W_xh is a row of W_xh
        expected.append(H @ W_hq + b_q)
    Y, (H_last,) = small_net(X, small_net.begin_state(1, torch.device("cpu")))
    torch.testing.assert_close(Y, torch.cat(expected))
    torch.testing.assert_close(H_last, H)


def test_try_gpu_falls_back_to_the_cpu():
    expected = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert str(crnn.try_gpu()) == expected
    assert str(crnn.try_gpu(99)) == "cpu"
