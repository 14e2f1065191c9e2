"""Training: the book's loop, and staying calm under divergence, interrupts and bad arguments."""
import math
import os
import signal

import pytest
import torch
from torch import nn

import chapter_rnn as crnn

CPU = torch.device("cpu")


@pytest.fixture
def tiny_setup(make_iter, make_net, vocab):
    """`setup(seed, use_random_iter, num_hiddens)` -> (net, train_iter, vocab), all seeded."""
    def setup(seed=0, use_random_iter=False, num_hiddens=16):
        train_iter = make_iter(use_random_iter=use_random_iter)
        return make_net(num_hiddens, seed=seed), train_iter, vocab

    return setup


def snapshot(net):
    return [p.detach().clone() for p in net.params]


@pytest.mark.parametrize("use_random_iter", [False, True])
def test_seeded_runs_repeat_exactly(use_random_iter, capsys, tiny_setup):
    histories = []
    for _ in range(2):
        net, train_iter, vocab = tiny_setup(3, use_random_iter)
        histories.append(crnn.train_ch8(net, train_iter, vocab, 1, 4, CPU, use_random_iter,
                                        dashboard=False))
    assert histories[0].perplexity == histories[1].perplexity
    assert histories[0].max_grad_norm == histories[1].max_grad_norm
    assert histories[0].epochs == [1, 2, 3, 4] and histories[0].stopped is None
    assert "perplexity" in capsys.readouterr().out


def test_training_lowers_perplexity(capsys, tiny_setup):
    net, train_iter, vocab = tiny_setup(num_hiddens=32)
    history = crnn.train_ch8(net, train_iter, vocab, 1, 30, CPU, dashboard=False)
    assert history.perplexity[-1] < history.perplexity[0] < 28


def test_sequential_partitioning_detaches_and_random_sampling_resets_the_state(tiny_setup):
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


def test_a_diverging_loss_stops_with_a_message_and_keeps_the_last_finite_parameters(
        capsys, tiny_setup):
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


def test_an_overflowing_hidden_state_ends_training_cleanly(capsys):
    crnn.set_seed(0)
    train_iter, vocab = crnn.load_data_time_machine(4, 30, max_tokens=300)
    net = crnn.RNNModelScratch(len(vocab), 16, CPU, crnn.get_params, crnn.init_rnn_state,
                               crnn.rnn_relu)
    with torch.no_grad():  # each step multiplies the state by 100: float32 overflows by step 20
        net.params[1].copy_(100 * torch.eye(16))
        net.params[0].abs_()
    history = crnn.train_ch8(net, train_iter, vocab, 1, 3, CPU, theta=math.inf,
                             dashboard=False)
    assert history.epochs == [] and "epoch 1" in history.stopped
    assert "diverged" in history.stopped and "minibatch 1" in history.stopped
    assert all(torch.isfinite(p).all() for p in net.params)
    assert "no epoch completed" in capsys.readouterr().out


def test_stop_mid_epoch_returns_the_history_and_training_continues(capsys, monkeypatch,
                                                                  tiny_setup):
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
    monkeypatch.setattr(crnn.training, "make_dashboard",
                        lambda title, live=None: StopDuringEpoch3(title))
    history = crnn.train_ch8(net, train_iter, vocab, 1, 6, CPU)
    monkeypatch.undo()
    assert history.epochs == [1, 2] and "stopped during epoch 3" in history.stopped
    assert all(torch.isfinite(p).all() for p in net.params)
    history = crnn.train_ch8(net, train_iter, vocab, 1, 6, CPU, history=history,
                             dashboard=False)
    assert history.epochs == [1, 2, 3, 4, 5, 6] and history.stopped is None


def test_keyboard_interrupt_returns_the_history(capsys, monkeypatch, tiny_setup):
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

    monkeypatch.setattr(crnn.training, "train_epoch_ch8", counting_epoch)
    history = crnn.train_ch8(net, data, vocab, 1, 4, CPU, dashboard=False)
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


@pytest.mark.parametrize("lr, num_epochs, eval_every, message", [
    (0, 5, 1, "learning rate"), (-1, 5, 1, "learning rate"), (1, 0, 1, "num_epochs"),
    (1, 5, 0, "eval_every")])
def test_bad_training_arguments_fail_up_front(lr, num_epochs, eval_every, message, tiny_setup):
    net, train_iter, vocab = tiny_setup()
    with pytest.raises(ValueError, match=message):
        crnn.train_ch8(net, train_iter, vocab, lr, num_epochs, CPU, dashboard=False,
                       eval_every=eval_every)


def test_train_epoch_takes_the_books_six_arguments_and_the_rest_by_keyword(tiny_setup):
    net, train_iter, _ = tiny_setup()
    updater = lambda batch_size: crnn.sgd(net.params, 1, batch_size)  # noqa: E731
    with pytest.raises(TypeError, match="positional"):
        crnn.train_epoch_ch8(net, train_iter, nn.CrossEntropyLoss(), updater, CPU, False, 1.0)


def test_a_run_that_is_lost_but_finite_stops_like_a_diverging_one(capsys, tiny_setup):
    """Scores a thousand times too large: every loss is finite, the perplexity is absurd."""
    net, train_iter, vocab = tiny_setup()
    with torch.no_grad():
        net.params[3].copy_(1000 * torch.randn_like(net.params[3]))
        net.params[0].copy_(torch.randn_like(net.params[0]))
    history = crnn.train_ch8(net, train_iter, vocab, 1e-9, 5, CPU, dashboard=False)
    assert history.epochs == [1]
    assert math.isfinite(history.max_grad_norm[0]) and history.perplexity[0] > 10 * len(vocab)
    assert "diverged in epoch 1" in history.stopped
    assert f"uniform guessing ({len(vocab)})" in history.stopped
    assert "learning rate below lr=1e-09" in history.stopped and "theta=1." in history.stopped
    assert "diverged" in capsys.readouterr().out


def test_validation_is_evaluated_every_few_epochs_and_after_the_last(capsys, tiny_setup):
    net, train_iter, vocab = tiny_setup(num_hiddens=32)
    valid = train_iter.corpus[:120]
    history = crnn.train_ch8(net, train_iter, vocab, 1, 7, CPU, dashboard=False,
                             valid_corpus=valid, eval_every=3)
    assert history.valid_epochs == [3, 6, 7]
    assert history.valid_perplexity[-1] == crnn.evaluate_perplexity(net, valid, CPU)
    best_epoch, best = history.best_valid()
    assert best == min(history.valid_perplexity)
    assert history.valid_perplexity[history.valid_epochs.index(best_epoch)] == best
    assert "validation" in history.summary() and history.seconds > 0


def test_a_history_without_validation_says_so():
    with pytest.raises(ValueError, match="valid_corpus"):
        crnn.TrainingHistory(device="cpu").best_valid()


def test_quiet_training_prints_nothing(capsys, tiny_setup):
    net, train_iter, vocab = tiny_setup()
    history = crnn.train_ch8(net, train_iter, vocab, 1, 2, CPU, verbose=False)
    assert history.epochs == [1, 2] and capsys.readouterr().out == ""


def test_perplexity_of_a_huge_loss_is_infinite_not_an_overflow():
    assert crnn.perplexity_from_loss(0.0) == 1.0
    assert crnn.perplexity_from_loss(math.log(28)) == pytest.approx(28)
    assert crnn.perplexity_from_loss(800.0) == math.inf


def context_free(net):
    """W_hh = 0: each prediction depends on the current character only, not on the state."""
    with torch.no_grad():
        net.params[1].zero_()
        net.params[0].normal_()
    return net


def test_evaluation_is_deterministic_and_uniform_guessing_scores_the_vocabulary_size(
        tiny_setup):
    net, train_iter, vocab = tiny_setup()
    corpus = train_iter.corpus[:200]
    assert crnn.evaluate_perplexity(net, corpus, CPU) == crnn.evaluate_perplexity(net, corpus,
                                                                                  CPU)
    for p in net.params:
        p.data.zero_()
    assert crnn.evaluate_perplexity(net, corpus, CPU) == pytest.approx(len(vocab))


@pytest.mark.parametrize("batch_size, num_steps", [(3, 4), (7, 35), (1, 1), (10, 6)])
def test_evaluation_predicts_every_token_exactly_once(batch_size, num_steps, tiny_setup):
    """With no memory, any cut of the text must give the perplexity of one pass over it, and
    199 targets do not divide into these rows: the leftover tokens count too."""
    net, train_iter, _ = tiny_setup()
    context_free(net)
    corpus = train_iter.corpus[:200]
    X, y = torch.tensor([corpus[:-1]]), torch.tensor(corpus[1:])
    with torch.no_grad():
        y_hat, _ = net(X, net.begin_state(1, CPU))
    expected = math.exp(float(nn.functional.cross_entropy(y_hat, y)))
    assert crnn.evaluate_perplexity(net, corpus, CPU, batch_size=batch_size,
                                    num_steps=num_steps) == pytest.approx(expected, rel=1e-5)


def test_evaluation_carries_the_state_and_leaves_no_gradients(tiny_setup):
    net, train_iter, _ = tiny_setup()
    corpus = train_iter.corpus[:200]
    one_pass = crnn.evaluate_perplexity(net, corpus, CPU, num_steps=199)
    assert crnn.evaluate_perplexity(net, corpus, CPU, num_steps=7) == pytest.approx(one_pass,
                                                                                    rel=1e-5)
    assert all(p.grad is None for p in net.params)
    with pytest.raises(ValueError, match="too short"):
        crnn.evaluate_perplexity(net, corpus[:3], CPU, batch_size=4)


def test_loss_by_position_reads_every_window_from_zeros(tiny_setup):
    net, train_iter, _ = tiny_setup()
    corpus = train_iter.corpus[:4 * 5 * 6 + 1]  # 4 rows of 6 windows of 5 steps, exactly
    by_position = crnn.loss_by_position(net, corpus, CPU, batch_size=4, num_steps=5)
    assert by_position.shape == (5,)
    tokens = torch.tensor(corpus)
    Xs, Ys = tokens[:-1].reshape(4, 30), tokens[1:].reshape(4, 30)
    windows = [(Xs[:, i:i + 5], Ys[:, i:i + 5]) for i in range(0, 30, 5)]
    with torch.no_grad():
        losses = [nn.functional.cross_entropy(net(X, net.begin_state(4, CPU))[0],
                                              Y.T.reshape(-1), reduction="none")
                  for X, Y in windows]
    expected = torch.stack(losses).reshape(6, 5, 4).mean(dim=(0, 2))
    torch.testing.assert_close(by_position, expected)


def test_loss_along_text_is_one_read_from_zeros(tiny_setup):
    net, train_iter, _ = tiny_setup()
    corpus = train_iter.corpus[:200]
    losses = crnn.loss_along_text(net, corpus, CPU)
    assert losses.shape == (199,)
    assert float(losses.mean()) == pytest.approx(
        math.log(crnn.training.evaluate_perplexity(net, corpus, CPU)), rel=1e-5)


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
