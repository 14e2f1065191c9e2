"""Training: the book's loop, and staying calm under divergence, interrupts and bad arguments."""
import math
import os
import signal

import pytest
import torch
from torch import nn

import chapter_rnn as crnn

CPU = torch.device("cpu")


def tiny_setup(seed=0, use_random_iter=False, num_hiddens=16):
    crnn.set_seed(seed)
    train_iter, vocab = crnn.load_data_time_machine(4, 5, use_random_iter, max_tokens=300)
    net = crnn.RNNModelScratch(len(vocab), num_hiddens, CPU, crnn.get_params,
                               crnn.init_rnn_state, crnn.rnn)
    return net, train_iter, vocab


def snapshot(net):
    return [p.detach().clone() for p in net.params]


def test_grad_clipping_projects_onto_the_ball():
    class Net:
        params = [torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)]

    net = Net()
    net.params[0].grad = torch.tensor([3.0, 0.0])
    net.params[1].grad = torch.tensor([4.0])
    assert crnn.grad_clipping(net, 1.0) == pytest.approx(5.0)
    assert net.params[0].grad.tolist() == pytest.approx([0.6, 0.0])
    assert net.params[1].grad.tolist() == pytest.approx([0.8])
    assert crnn.grad_clipping(net, 10.0) == pytest.approx(1.0)  # small: left alone
    assert net.params[1].grad.tolist() == pytest.approx([0.8])
    assert crnn.grad_clipping(net, math.inf) == pytest.approx(1.0)


@pytest.mark.parametrize("use_random_iter", [False, True])
def test_seeded_runs_repeat_exactly(use_random_iter, capsys):
    histories = []
    for _ in range(2):
        net, train_iter, vocab = tiny_setup(3, use_random_iter)
        histories.append(crnn.train_ch8(net, train_iter, vocab, 1, 4, CPU, use_random_iter,
                                        dashboard=False))
    assert histories[0].perplexity == histories[1].perplexity
    assert histories[0].max_grad_norm == histories[1].max_grad_norm
    assert histories[0].epochs == [1, 2, 3, 4] and histories[0].stopped is None
    assert "perplexity" in capsys.readouterr().out


def test_training_lowers_perplexity(capsys):
    net, train_iter, vocab = tiny_setup(num_hiddens=32)
    history = crnn.train_ch8(net, train_iter, vocab, 1, 30, CPU, dashboard=False)
    assert history.perplexity[-1] < history.perplexity[0] < 28


def test_sequential_partitioning_detaches_and_random_sampling_resets_the_state():
    net, train_iter, vocab = tiny_setup()
    seen_states = []
    original_call = net.__call__

    class Spy:
        def __call__(self, X, state):
            seen_states.append((state[0].clone(), state[0].grad_fn))
            return original_call(X, state)

        def __getattr__(self, name):
            return getattr(net, name)

    loss = nn.CrossEntropyLoss()
    updater = lambda batch_size: crnn.sgd(net.params, 1, batch_size)  # noqa: E731
    crnn.train_epoch_ch8(Spy(), train_iter, loss, updater, CPU, use_random_iter=False)
    assert not seen_states[0][0].any()
    assert all(state.any() and grad_fn is None for state, grad_fn in seen_states[1:])
    seen_states.clear()
    crnn.train_epoch_ch8(Spy(), train_iter, loss, updater, CPU, use_random_iter=True)
    assert all(not state.any() for state, _ in seen_states)


class NaNAfter:
    """A model that returns NaN scores from its `n`-th training minibatch on."""

    def __init__(self, net, n):
        self.net, self.n, self.calls = net, n, 0
        self.params, self.vocab_size = net.params, net.vocab_size

    def __call__(self, X, state):
        self.calls += X.shape[0] > 1  # generating samples feeds one sequence: not training
        Y, state = self.net(X, state)
        return (Y * float("nan") if self.calls >= self.n else Y), state

    def begin_state(self, batch_size, device):
        return self.net.begin_state(batch_size, device)


def test_a_diverging_loss_stops_with_a_message_and_keeps_the_last_finite_parameters(capsys):
    net, train_iter, vocab = tiny_setup()
    per_epoch = len(list(train_iter))
    crnn.set_seed(0)
    before = None

    class Watch(NaNAfter):
        def __call__(self, X, state):
            nonlocal before
            if X.shape[0] > 1 and self.calls + 1 == self.n:
                before = snapshot(self.net)
            return super().__call__(X, state)

    bad = Watch(net, per_epoch + 3)  # the 3rd minibatch of epoch 2
    history = crnn.train_ch8(bad, train_iter, vocab, 1, 5, CPU, dashboard=False)
    assert history.epochs == [1]
    assert "epoch 2" in history.stopped and "minibatch 3" in history.stopped
    assert "learning rate" in history.stopped and "loss" in history.stopped
    assert all(torch.equal(a, b) for a, b in zip(before, snapshot(net)))
    assert "diverged" in capsys.readouterr().out


def relu_rnn(inputs, state, params):
    """The book's rnn with ReLU instead of tanh: nothing bounds the hidden state any more."""
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        H = torch.relu(X @ W_xh + H @ W_hh + b_h)
        outputs.append(H @ W_hq + b_q)
    return torch.cat(outputs, dim=0), (H,)


def test_an_overflowing_hidden_state_ends_training_cleanly(capsys):
    crnn.set_seed(0)
    train_iter, vocab = crnn.load_data_time_machine(4, 30, max_tokens=300)
    net = crnn.RNNModelScratch(len(vocab), 16, CPU, crnn.get_params, crnn.init_rnn_state,
                               relu_rnn)
    with torch.no_grad():  # each step multiplies the state by 100: float32 overflows by step 20
        net.params[1].copy_(100 * torch.eye(16))
        net.params[0].abs_()
    history = crnn.train_ch8(net, train_iter, vocab, 1, 3, CPU, theta=math.inf,
                             dashboard=False)
    assert history.epochs == [] and "epoch 1" in history.stopped
    assert "diverged" in history.stopped and "minibatch 1" in history.stopped
    assert all(torch.isfinite(p).all() for p in net.params)
    assert "no epoch completed" in capsys.readouterr().out


def test_stop_mid_epoch_returns_the_history_and_training_continues(capsys):
    net, train_iter, vocab = tiny_setup()
    calls = {"n": 0}

    class StopDuringEpoch3:
        def __init__(self, title):
            pass

        def start(self, first_epoch, num_epochs):
            pass

        def stop_requested(self):
            calls["n"] += 1
            return len(history_so_far) == 2 and calls["n"] % 2 == 0

        def epoch_end(self, history, sample):
            history_so_far.append(history.epochs[-1])

        def close(self, history):
            pass

    history_so_far = []
    original = crnn.training.make_dashboard
    crnn.training.make_dashboard = lambda title, live=None: StopDuringEpoch3(title)
    try:
        history = crnn.train_ch8(net, train_iter, vocab, 1, 6, CPU)
    finally:
        crnn.training.make_dashboard = original
    assert history.epochs == [1, 2] and "stopped during epoch 3" in history.stopped
    assert all(torch.isfinite(p).all() for p in net.params)
    history = crnn.train_ch8(net, train_iter, vocab, 1, 6, CPU, history=history,
                             dashboard=False)
    assert history.epochs == [1, 2, 3, 4, 5, 6] and history.stopped is None


def test_keyboard_interrupt_returns_the_history(capsys):
    net, train_iter, vocab = tiny_setup()

    class InterruptInEpoch2:
        def __iter__(self):
            for i, batch in enumerate(train_iter):
                if self.epoch == 2 and i == 1:
                    raise KeyboardInterrupt
                yield batch

        epoch = 0

    data = InterruptInEpoch2()
    original = crnn.training.train_epoch_ch8

    def counting_epoch(*args, **kwargs):
        data.epoch += 1
        return original(*args, **kwargs)

    crnn.training.train_epoch_ch8 = counting_epoch
    try:
        history = crnn.train_ch8(net, data, vocab, 1, 4, CPU, dashboard=False)
    finally:
        crnn.training.train_epoch_ch8 = original
    assert history.epochs == [1] and "stopped during epoch 2" in history.stopped


def test_an_interrupt_during_the_update_is_applied_after_it():
    params = [torch.zeros(3, requires_grad=True) for _ in range(4)]
    for p in params:
        p.grad = torch.ones(3)

    def update_with_interrupt_in_the_middle():
        with torch.no_grad():
            for i, p in enumerate(params):
                if i == 2:
                    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C halfway through
                p -= 1.0 * p.grad

    with pytest.raises(KeyboardInterrupt):
        with crnn.interrupts_held_back():
            update_with_interrupt_in_the_middle()
    assert all(p.tolist() == [-1.0, -1.0, -1.0] for p in params)  # all or nothing: all


@pytest.mark.parametrize("lr, num_epochs, message", [
    (0, 5, "learning rate"), (-1, 5, "learning rate"), (1, 0, "num_epochs")])
def test_bad_training_arguments_fail_up_front(lr, num_epochs, message):
    net, train_iter, vocab = tiny_setup()
    with pytest.raises(ValueError, match=message):
        crnn.train_ch8(net, train_iter, vocab, lr, num_epochs, CPU, dashboard=False)


def test_nn_module_models_train_too(capsys):
    """train_ch8 also takes an nn.Module (the book's concise model), as in the book."""

    class Concise(nn.Module):
        def __init__(self, vocab_size, num_hiddens):
            super().__init__()
            self.rnn = nn.RNN(vocab_size, num_hiddens)
            self.linear = nn.Linear(num_hiddens, vocab_size)
            self.vocab_size, self.num_hiddens = vocab_size, num_hiddens

        def forward(self, X, state):
            Y, state = self.rnn(crnn.one_hot_steps(X, self.vocab_size), state)
            return self.linear(Y.reshape(-1, Y.shape[-1])), state

        def begin_state(self, batch_size, device):
            return torch.zeros((1, batch_size, self.num_hiddens), device=device)

    crnn.set_seed(0)
    train_iter, vocab = crnn.load_data_time_machine(4, 5, max_tokens=300)
    history = crnn.train_ch8(Concise(len(vocab), 16), train_iter, vocab, 1, 3, CPU,
                             dashboard=False)
    assert history.epochs == [1, 2, 3] and history.stopped is None
