"""The fast path trains the same model with the same maths as the teaching path."""
import math

import pytest
import torch
from torch import nn

import chapter_rnn as crnn

CPU = torch.device("cpu")


@pytest.fixture
def twin_models(make_iter, make_net, vocab):
    """`make(num_hiddens, use_random_iter, seed)` -> (teaching, fast, train_iter, vocab): the
    data first, then one model as a scratch model and as a fast-path copy."""
    def make(num_hiddens=32, use_random_iter=False, seed=0):
        train_iter = make_iter(6, 9, use_random_iter, max_tokens=1500)
        teaching = make_net(num_hiddens, seed=seed)
        fast = crnn.RNNModelFast(len(vocab), num_hiddens, CPU, teaching.params)
        return teaching, fast, train_iter, vocab

    return make


def test_fast_model_starts_from_a_copy(twin_models):
    teaching, fast, _, _ = twin_models()
    assert all(torch.equal(p.detach(), q) for p, q in zip(teaching.params, fast.params))
    assert all(not q.requires_grad for q in fast.params)
    fast.params[0] += 1  # training one must not move the other
    assert not torch.equal(teaching.params[0].detach(), fast.params[0])


def test_same_forward_outputs_and_state(twin_models):
    teaching, fast, train_iter, _ = twin_models()
    X, _ = next(iter(train_iter))
    state = teaching.begin_state(X.shape[0], CPU)
    with torch.no_grad():
        expected, (H_ref,) = teaching(X, state)
    outputs, (H,) = fast(X, fast.begin_state(X.shape[0], CPU))
    torch.testing.assert_close(outputs, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(H, H_ref, rtol=1e-5, atol=1e-6)
    # forward is what net(X, state) calls, as in PyTorch; forward_with_cache adds the cache.
    outputs_forward, (H_forward,) = fast.forward(X, fast.begin_state(X.shape[0], CPU))
    cached, (tokens, Hs) = fast.forward_with_cache(X, fast.begin_state(X.shape[0], CPU))
    assert torch.equal(outputs_forward, outputs) and torch.equal(cached, outputs)
    assert torch.equal(H_forward, H) and torch.equal(Hs[-1], H)
    assert tokens.shape == X.T.shape and Hs.shape == (X.shape[1] + 1, X.shape[0], 32)


def test_fast_gradients_equal_autograd(twin_models):
    teaching, fast, train_iter, _ = twin_models()
    X, Y = next(iter(train_iter))
    y = Y.T.reshape(-1)
    y_hat, _ = teaching(X, teaching.begin_state(X.shape[0], CPU))
    l = nn.CrossEntropyLoss()(y_hat, y)
    l.backward()
    outputs, cache = fast.forward_with_cache(X, fast.begin_state(X.shape[0], CPU))
    loss, dO = crnn.cross_entropy_and_grad(outputs, y)
    grads = fast.backward(dO, cache)
    assert loss == pytest.approx(l.item(), rel=1e-6)
    for p, g in zip(teaching.params, grads):
        torch.testing.assert_close(g, p.grad, rtol=1e-4, atol=1e-7)


def test_in_place_steps_leave_their_inputs_alone(twin_models):
    # the step loops write into fresh tensors of their own: a cache and a loss gradient can be
    # used twice, and the gradients come out the same
    _, fast, train_iter, _ = twin_models()
    X, Y = next(iter(train_iter))
    outputs, cache = fast.forward_with_cache(X, fast.begin_state(X.shape[0], CPU))
    _, dO = crnn.cross_entropy_and_grad(outputs, Y.T.reshape(-1))
    Hs, dO_before = cache[1].clone(), dO.clone()
    first = fast.backward(dO, cache)
    assert torch.equal(cache[1], Hs) and torch.equal(dO, dO_before)
    second = fast.backward(dO, cache)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    again, _ = fast.forward_with_cache(X, fast.begin_state(X.shape[0], CPU))
    assert torch.equal(again, outputs)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("use_random_iter", [False, True])
def test_same_losses_and_parameters_over_an_epoch(use_random_iter, seed, twin_models):
    teaching, fast, train_iter, _ = twin_models(use_random_iter=use_random_iter, seed=seed)
    norms_teaching, norms_fast = [], []
    # Every pass over the loader draws a new random offset: read the minibatches once and give
    # both paths the same list (as notebook 11's check does).
    minibatches = list(train_iter)
    ppl_teaching, _ = crnn.train_epoch_ch8(
        teaching, minibatches, nn.CrossEntropyLoss(),
        lambda batch_size: crnn.sgd(teaching.params, 1.0, batch_size), CPU, use_random_iter,
        theta=1.0, grad_norms=norms_teaching)
    ppl_fast, _ = crnn.train_epoch_fast(fast, minibatches, 1.0, CPU, use_random_iter,
                                        theta=1.0, grad_norms=norms_fast)
    assert len(norms_fast) == len(norms_teaching) >= 5
    assert ppl_fast == pytest.approx(ppl_teaching, rel=1e-5)
    assert norms_fast == pytest.approx(norms_teaching, rel=1e-4)
    for p, q in zip(teaching.params, fast.params):
        torch.testing.assert_close(q, p.detach(), rtol=1e-4, atol=1e-6)


def test_train_ch8_fast_matches_train_ch8(capsys, twin_models):
    teaching, fast, train_iter, vocab = twin_models(num_hiddens=16)
    crnn.set_seed(5)  # the iterator draws a random offset per epoch: the same for both
    h_teaching = crnn.train_ch8(teaching, train_iter, vocab, 1.0, 3, CPU, dashboard=False)
    threads = torch.get_num_threads()
    crnn.set_seed(5)
    h_fast = crnn.train_ch8_fast(fast, train_iter, vocab, 1.0, 3, CPU, dashboard=False)
    assert torch.get_num_threads() == threads  # the thread setting is given back
    assert isinstance(h_fast, crnn.TrainingHistory) and h_fast.epochs == [1, 2, 3]
    assert h_fast.perplexity == pytest.approx(h_teaching.perplexity, rel=1e-5)
    assert h_fast.max_grad_norm == pytest.approx(h_teaching.max_grad_norm, rel=1e-4)
    assert "time traveller" in capsys.readouterr().out


def test_train_ch8_fast_continues_a_history(twin_models):
    _, fast, train_iter, vocab = twin_models(num_hiddens=16)
    history = crnn.train_ch8_fast(fast, train_iter, vocab, 1.0, 1, CPU, dashboard=False)
    crnn.train_ch8_fast(fast, train_iter, vocab, 1.0, 2, CPU, history=history,
                        dashboard=False)
    assert history.epochs == [1, 2] and history.stopped is None


def test_options_after_the_book_arguments_are_keyword_only(twin_models):
    _, fast, train_iter, _ = twin_models(num_hiddens=16)
    with pytest.raises(TypeError, match="positional"):
        crnn.train_epoch_fast(fast, train_iter, 1.0, CPU, False, 1.0)


def test_clip_and_step_is_grad_clipping_then_sgd(twin_models):
    teaching, fast, train_iter, _ = twin_models(num_hiddens=16)
    X, Y = next(iter(train_iter))
    y = Y.T.reshape(-1)
    outputs, cache = fast.forward_with_cache(X, fast.begin_state(X.shape[0], CPU))
    grads = fast.backward(crnn.cross_entropy_and_grad(outputs, y)[1], cache)
    for p, g in zip(teaching.params, grads):
        p.grad = g.clone()
    for theta in (1e-3, 1e6):  # clipped, then not
        norm = crnn.grad_norm(grads)
        assert norm == pytest.approx(crnn.grad_clipping(teaching, theta), rel=1e-6)
        crnn.sgd(teaching.params, 0.5, 1)
        crnn.clip_and_step(fast.params, grads, 0.5, theta, norm)
        for p, q in zip(teaching.params, fast.params):
            torch.testing.assert_close(q, p.detach(), rtol=1e-5, atol=1e-7)
        for p, g in zip(teaching.params, grads):
            p.grad = g.clone()


def test_train_ch8_fast_validates_like_train_ch8(twin_models):
    teaching, fast, train_iter, vocab = twin_models(num_hiddens=16)
    valid = crnn.load_corpus_time_machine(2000)[0][1500:]
    options = dict(dashboard=False, valid_corpus=valid, eval_every=2, verbose=False)
    crnn.set_seed(5)
    h_teaching = crnn.train_ch8(teaching, train_iter, vocab, 1.0, 3, CPU, **options)
    crnn.set_seed(5)
    h_fast = crnn.train_ch8_fast(fast, train_iter, vocab, 1.0, 3, CPU, **options)
    assert h_fast.valid_epochs == h_teaching.valid_epochs == [2, 3]
    assert h_fast.valid_perplexity == pytest.approx(h_teaching.valid_perplexity, rel=1e-4)


def test_quiet_training_prints_nothing(capsys, twin_models):
    _, fast, train_iter, vocab = twin_models(num_hiddens=16)
    history = crnn.train_ch8_fast(fast, train_iter, vocab, 1.0, 1, CPU, verbose=False)
    assert history.epochs == [1] and capsys.readouterr().out == ""


@pytest.mark.parametrize("what", ["loss", "gradient norm"])
def test_divergence_ends_cleanly_before_the_update(what, twin_models):
    _, fast, train_iter, vocab = twin_models(num_hiddens=16)
    if what == "loss":
        fast.params[3].fill_(math.inf)
    else:  # finite scores and loss, gradients (~1e20) whose squares overflow float32
        fast.params[3].mul_(1e22)
    before = [p.clone() for p in fast.params]
    history = crnn.train_ch8_fast(fast, train_iter, vocab, 1.0, 2, CPU, dashboard=False)
    assert history.epochs == [] and "diverged" in history.stopped
    assert f"the {what} became NaN or infinite at minibatch 1" in history.stopped
    assert all(torch.equal(p, q) for p, q in zip(before, fast.params))  # no update applied


def test_bad_arguments_are_refused(twin_models):
    _, fast, train_iter, vocab = twin_models(num_hiddens=16)
    with pytest.raises(ValueError, match="learning rate"):
        crnn.train_ch8_fast(fast, train_iter, vocab, 0.0, 1, CPU)
    with pytest.raises(ValueError, match="num_epochs"):
        crnn.train_ch8_fast(fast, train_iter, vocab, 1.0, 0, CPU)
