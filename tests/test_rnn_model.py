"""The model (notebook 4): the initial state, shapes and the recurrence itself."""
import torch


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
