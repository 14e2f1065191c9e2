"""The exercises' helpers: held-out split, embeddings, other books, repetition loops,
untruncated backpropagation through time, the ReLU RNN and the probabilities behind the
perplexity."""
import math
import os
import signal

import pytest
import torch
from torch import nn

import chapter_rnn as crnn

CPU = torch.device("cpu")


def loader(corpus, vocab, batch_size=4, num_steps=5):
    return crnn.SeqDataLoader(batch_size, num_steps, use_random_iter=False, max_tokens=-1,
                              corpus=corpus, vocab=vocab)


@pytest.fixture
def scratch(make_net):
    """`make(vocab, num_hiddens, forward_fn, seed, scale)`: a small scratch model; `scale` > 1
    makes the weights large enough for the state to matter."""
    def make(vocab, num_hiddens=8, forward_fn=crnn.rnn, seed=0, scale=1.0):
        net = make_net(num_hiddens, seed=seed, forward_fn=forward_fn)
        with torch.no_grad():
            for p in net.params:
                p.mul_(scale)
        return net

    return make


def minibatches(corpus, batch_size=4, num_steps=5, count=3):
    """`count` sequential minibatches read from offset 0, rows continuing each other."""
    width = count * num_steps
    tokens = torch.tensor(corpus[:batch_size * width + 1])
    Xs = tokens[:-1].reshape(batch_size, width)
    Ys = tokens[1:].reshape(batch_size, width)
    return [(Xs[:, i:i + num_steps], Ys[:, i:i + num_steps]) for i in range(0, width, num_steps)]


def grads_of(loss_value, params):
    return torch.cat([g.flatten() for g in torch.autograd.grad(loss_value, params)])


def direct_loss(net, batches):
    """The last minibatch's loss after reading all of `batches` from a zero state, the state
    carried without detaching: untruncated BPTT written out."""
    loss = nn.CrossEntropyLoss()
    state = net.begin_state(batch_size=batches[0][0].shape[0], device=CPU)
    for X, _ in batches[:-1]:
        _, state = net(X, state)
    y_hat, _ = net(batches[-1][0], state)
    return loss(y_hat, batches[-1][1].T.reshape(-1))


def truncated_loss(net, batches):
    """The same loss with the carried state detached before the last minibatch."""
    loss = nn.CrossEntropyLoss()
    with torch.no_grad():
        state = net.begin_state(batch_size=batches[0][0].shape[0], device=CPU)
        for X, _ in batches[:-1]:
            _, state = net(X, state)
    y_hat, _ = net(batches[-1][0], state)
    return loss(y_hat, batches[-1][1].T.reshape(-1))


def test_split_corpus_holds_out_the_end():
    train, valid = crnn.split_corpus(list(range(100)), 0.1)
    assert train == list(range(90)) and valid == list(range(90, 100))
    with pytest.raises(ValueError, match="valid_fraction"):
        crnn.split_corpus(list(range(10)), 1.0)


def test_the_package_evaluates_with_the_training_loops_evaluate_perplexity():
    # The exercises no longer bring their own (random-offset) evaluation.
    assert crnn.evaluate_perplexity is crnn.training.evaluate_perplexity
    assert not hasattr(crnn.exercises, "fit") and not hasattr(crnn.exercises, "FitResult")


def test_embedding_model_shapes(vocab):
    net = crnn.RNNModelEmbedding(len(vocab), 16, CPU, embed_size=4)
    assert [tuple(p.shape) for p in net.params] == [
        (len(vocab), 4), (4, 16), (16, 16), (16,), (16, len(vocab)), (len(vocab),)]
    X = torch.randint(0, len(vocab), (3, 7))
    Y, (H,) = net(X, net.begin_state(3, CPU))
    assert Y.shape == (7 * 3, len(vocab)) and H.shape == (3, 16)
    with pytest.raises(ValueError, match="embed_size and embed_std must be positive"):
        crnn.get_embedding_params(len(vocab), 16, CPU, 0)
    with pytest.raises(ValueError, match="embed_size and embed_std must be positive"):
        crnn.get_embedding_params(len(vocab), 16, CPU, 4, embed_std=0.0)


@pytest.mark.parametrize("embed_std", [1.0, 1 / math.sqrt(64)])
def test_embedding_inputs_start_at_the_one_hot_scale_whatever_embed_std(embed_std):
    crnn.set_seed(0)
    E, W_xh, *_ = (p.detach() for p in crnn.get_embedding_params(200, 400, CPU, embed_size=64,
                                                                 embed_std=embed_std))
    assert float(E.std()) == pytest.approx(embed_std, rel=0.05)
    # A token's input to the hidden layer has entries of standard deviation 0.01, like a row
    # of the one-hot model's W_xh, while the rows of E have squared length 64 * embed_std^2.
    assert float((E @ W_xh).std()) == pytest.approx(0.01, rel=0.05)
    assert float((E ** 2).sum(dim=1).mean()) == pytest.approx(64 * embed_std ** 2, rel=0.05)


def test_identity_embedding_is_the_one_hot_model(vocab, small_net):
    # E = I and the one-hot model's W_xh: the embedding model computes exactly the same thing.
    emb = crnn.RNNModelEmbedding(len(vocab), small_net.num_hiddens, CPU, embed_size=len(vocab))
    emb.params = [torch.eye(len(vocab))] + [p.detach().clone() for p in small_net.params]
    X = torch.randint(0, len(vocab), (2, 6), generator=torch.Generator().manual_seed(0))
    y_onehot, (h_onehot,) = small_net(X, small_net.begin_state(2, CPU))
    y_emb, (h_emb,) = emb(X, emb.begin_state(2, CPU))
    assert torch.equal(y_onehot, y_emb) and torch.equal(h_onehot, h_emb)


def test_corpus_in_vocab_uses_the_given_vocabulary(vocab):
    lines = ["the martians", "", "zap 42"]
    corpus = crnn.corpus_in_vocab([crnn.preprocess_line(line) for line in lines], vocab)
    assert vocab.to_tokens(corpus) == list("the martians") + list("zap ")
    assert crnn.corpus_in_vocab(["ab"], vocab, max_tokens=1) == [vocab["a"]]
    small = crnn.Vocab(["a", "b"])
    assert crnn.corpus_in_vocab(["abc"], small) == [small["a"], small["b"], small.unk]


def test_war_of_the_worlds_fits_the_time_machine_vocabulary(vocab):
    lines = crnn.read_book(crnn.book_path(crnn.WAR_OF_THE_WORLDS),
                           crnn.BOOK_SHA1[crnn.WAR_OF_THE_WORLDS])
    corpus = crnn.corpus_in_vocab(lines, vocab, 5000)
    assert len(corpus) == 5000 and vocab.unk not in corpus


@pytest.mark.parametrize("text, expected", [
    ("abcxyzxyzxyz", (3, 3)),
    ("aaaa", (0, 1)),
    ("the cat the cat the cat ", (0, 8)),
    ("hello the the", (5, 4)),  # " the" twice
    ("hello the", None),
    ("abcd", None),
    ("", None),
])
def test_repetition_loop(text, expected):
    assert crnn.repetition_loop(text) == expected


def test_repetition_loop_needs_enough_repeats():
    assert crnn.repetition_loop("xabab") == (1, 2)
    assert crnn.repetition_loop("xabab", min_repeats=3) is None


def test_rnn_relu_clamps_the_state_and_differs_from_tanh(vocab, small_net):
    X = crnn.one_hot_steps(torch.randint(0, len(vocab), (2, 5)), len(vocab))
    state = small_net.begin_state(2, CPU)
    Y, (H,) = crnn.rnn_relu(X, state, small_net.params)
    assert Y.shape == (5 * 2, len(vocab)) and (H >= 0).all()
    W_xh, W_hh, b_h, W_hq, b_q = small_net.params
    # The first step by hand: ReLU of the same affine map tanh would get.
    H1 = torch.relu(X[0] @ W_xh + state[0] @ W_hh + b_h)
    assert torch.allclose(Y[:2], H1 @ W_hq + b_q)
    Y_tanh, _ = crnn.rnn(X, state, small_net.params)
    assert not torch.allclose(Y, Y_tanh)


def test_graph_size_counts_nodes_and_saved_tensors():
    a = torch.ones(3, requires_grad=True)
    b = torch.full((3,), 2.0, requires_grad=True)
    nodes, saved = crnn.graph_size((a * b).sum())
    assert nodes == 4  # SumBackward, MulBackward, and one AccumulateGrad per leaf
    assert saved == 2 * 3 * 4  # Mul saves both of its float32 inputs
    assert crnn.graph_size(a.detach()) == (0, 0)


# --- not detaching the state (exercise 5) ------------------------------------------------------

def test_without_detaching_pytorch_refuses_the_second_backward(short_corpus, scratch):
    # What the notebook shows and explains: the freed graph, then the in-place update.
    corpus, vocab = short_corpus
    loss = nn.CrossEntropyLoss()
    (X1, Y1), (X2, Y2) = minibatches(corpus, count=2)
    for retain_graph, message in [(False, "backward through the graph a second time"),
                                  (True, "modified by an inplace operation")]:
        net = scratch(vocab)
        y_hat, state = net(X1, net.begin_state(4, CPU))
        loss(y_hat, Y1.T.reshape(-1)).backward(retain_graph=retain_graph)
        crnn.sgd(net.params, 1.0, 1)  # in place, as in training
        y_hat, _ = net(X2, state)  # the state is carried, not detached
        with pytest.raises(RuntimeError, match=message):
            loss(y_hat, Y2.T.reshape(-1)).backward()


def test_new_parameter_tensors_still_need_retain_graph(short_corpus, scratch):
    # The workaround of updating into new tensors avoids the in-place error, but not the freed
    # graph: without retain_graph=True the second backward still fails.
    corpus, vocab = short_corpus
    loss = nn.CrossEntropyLoss()
    (X1, Y1), (X2, Y2) = minibatches(corpus, count=2)
    for retain_graph in [False, True]:
        net = scratch(vocab)
        y_hat, state = net(X1, net.begin_state(4, CPU))
        loss(y_hat, Y1.T.reshape(-1)).backward(retain_graph=retain_graph)
        net.params = [(p - p.grad).detach().requires_grad_(True) for p in net.params]
        y_hat, _ = net(X2, state)  # the state is carried, not detached
        if retain_graph:
            loss(y_hat, Y2.T.reshape(-1)).backward()
            assert all(p.grad is not None for p in net.params)
        else:
            with pytest.raises(RuntimeError, match="backward through the graph a second time"):
                loss(y_hat, Y2.T.reshape(-1)).backward()


def test_untruncated_loss_is_untruncated_bptt(short_corpus, scratch):
    corpus, vocab = short_corpus
    net, loss = scratch(vocab, scale=30.0), nn.CrossEntropyLoss()
    batches = minibatches(corpus, count=3)
    inputs = [X for X, _ in batches]
    for k in (2, 3):
        untruncated = crnn.untruncated_loss(net, loss, inputs[:k], batches[k - 1][1], CPU)
        assert untruncated.item() == pytest.approx(direct_loss(net, batches[:k]).item(), rel=1e-6)
        g = grads_of(untruncated, net.params)
        assert torch.allclose(g, grads_of(direct_loss(net, batches[:k]), net.params), atol=1e-6)
        # The truncated gradient is a different number: the part through the initial state is
        # missing (the forward values, hence the loss, are the same).
        g_truncated = grads_of(truncated_loss(net, batches[:k]), net.params)
        assert (g - g_truncated).norm() > 0.01 * g_truncated.norm()
    # For the first minibatch of an epoch there is nothing before it: both are the same.
    first = crnn.untruncated_loss(net, loss, inputs[:1], batches[0][1], CPU)
    assert torch.allclose(grads_of(first, net.params),
                          grads_of(truncated_loss(net, batches[:1]), net.params))


def test_train_epoch_untruncated_updates_with_the_full_gradient(short_corpus, scratch):
    corpus, vocab = short_corpus
    net, lr = scratch(vocab, scale=30.0), 0.1
    batches = minibatches(corpus, count=3)
    gradients, params_before = [], []

    def updater(batch_size):  # records what each update uses, then updates like train_ch8
        gradients.append([p.grad.clone() for p in net.params])
        params_before.append([p.detach().clone() for p in net.params])
        crnn.sgd(net.params, lr, batch_size)

    seconds, norms = [], []
    ppl, speed = crnn.train_epoch_untruncated(net, batches, nn.CrossEntropyLoss(), updater, CPU,
                                              theta=math.inf, grad_norms=norms, seconds=seconds)
    assert len(gradients) == len(seconds) == len(norms) == 3
    assert ppl > 1 and speed > 0
    # Minibatch 2's update: autograd of minibatches 1-2 re-read with the parameters as they
    # were after update 1, not the truncated gradient.
    replay = scratch(vocab)
    replay.params = [p.clone().requires_grad_(True) for p in params_before[1]]
    expected = grads_of(direct_loss(replay, batches[:2]), replay.params)
    used = torch.cat([g.flatten() for g in gradients[1]])
    assert torch.allclose(used, expected, atol=1e-6)
    truncated = grads_of(truncated_loss(replay, batches[:2]), replay.params)
    assert (used - truncated).norm() > 0.01 * truncated.norm()
    assert norms[1] == pytest.approx(float(expected.norm()), rel=1e-5)


def test_train_epoch_untruncated_clips_and_stops_on_nan(short_corpus, scratch):
    corpus, vocab = short_corpus
    batches = minibatches(corpus, count=2)
    net = scratch(vocab, scale=30.0)
    norms = []
    updater = lambda batch_size: crnn.sgd(net.params, 0.1, batch_size)  # noqa: E731
    crnn.train_epoch_untruncated(net, batches, nn.CrossEntropyLoss(), updater, CPU,
                                 theta=1e-3, grad_norms=norms)
    assert min(norms) > 1e-3  # measured before clipping
    with torch.no_grad():
        net.params[3].fill_(math.nan)
    with pytest.raises(crnn.TrainingDiverged, match="loss became NaN or infinite at minibatch 1"):
        crnn.train_epoch_untruncated(net, batches, nn.CrossEntropyLoss(), updater, CPU)


def test_an_interrupt_during_an_untruncated_update_waits_for_the_whole_update(short_corpus,
                                                                           scratch):
    corpus, vocab = short_corpus
    net = scratch(vocab, scale=30.0)
    before = [p.detach().clone() for p in net.params]

    def updater(batch_size):  # Ctrl-C after the first parameter has moved
        with torch.no_grad():
            for i, p in enumerate(net.params):
                if i == 1:
                    os.kill(os.getpid(), signal.SIGINT)
                p -= 0.1 * p.grad / batch_size

    with pytest.raises(KeyboardInterrupt):
        crnn.train_epoch_untruncated(net, minibatches(corpus, count=2), nn.CrossEntropyLoss(),
                                     updater, CPU)
    assert all(not torch.equal(p, b) for p, b in zip(net.params, before))  # all moved


def test_train_ch8_untruncated_runs_the_shared_loop(short_corpus, scratch):
    corpus, vocab = short_corpus
    train, valid = crnn.split_corpus(corpus[:400], 0.2)  # short: an epoch costs k^2 / 2
    net = scratch(vocab, 16)
    per_minibatch = []
    history = crnn.train_ch8_untruncated(net, loader(train, vocab, 4, 10), vocab, 1.0, 3, CPU,
                                         valid_corpus=valid, eval_every=2, verbose=False,
                                         minibatch_seconds=per_minibatch)
    assert history.epochs == [1, 2, 3] and history.valid_epochs == [2, 3]
    assert history.stopped is None and history.perplexity[-1] < len(vocab)
    assert history.valid_perplexity[-1] == crnn.evaluate_perplexity(net, valid, CPU)
    assert len(per_minibatch) == 3 and all(len(s) == len(per_minibatch[0]) for s in per_minibatch)
    with torch.no_grad():
        net.params[3].fill_(math.inf)  # W_hq: the scores, hence the loss, are not finite
    stopped = crnn.train_ch8_untruncated(net, loader(train, vocab), vocab, 1.0, 2, CPU,
                                         verbose=False)
    assert stopped.stopped.startswith("Training diverged in epoch 1") and stopped.epochs == []


def test_the_untruncated_graph_grows_by_one_minibatch_at_a_time(short_corpus, scratch):
    corpus, vocab = short_corpus
    net, loss = scratch(vocab), nn.CrossEntropyLoss()
    batches = minibatches(corpus, count=4)
    sizes = [crnn.graph_size(crnn.untruncated_loss(net, loss, [X for X, _ in batches[:k]],
                                                   batches[k - 1][1], CPU))
             for k in range(1, 5)]
    node_steps = {b[0] - a[0] for a, b in zip(sizes, sizes[1:])}
    byte_steps = {b[1] - a[1] for a, b in zip(sizes, sizes[1:])}
    assert len(node_steps) == 1 and node_steps.pop() > 0
    assert len(byte_steps) == 1 and byte_steps.pop() > 0


# --- perplexity and the means of the conditional probabilities (exercise 7) --------------------

@pytest.mark.parametrize("length", [100, 71, 36])  # a multiple of num_steps plus one, or not
def test_next_token_probabilities_give_the_perplexity_as_inverse_geometric_mean(
        short_corpus, length, scratch):
    corpus, vocab = short_corpus
    net = scratch(vocab, scale=30.0)
    text = corpus[:length]
    p = crnn.next_token_probabilities(net, text, CPU, num_steps=35)
    assert p.shape == (length - 1,) and p.dtype == torch.float64
    assert ((p > 0) & (p <= 1)).all()
    ppl = crnn.evaluate_perplexity(net, text, CPU, num_steps=35)
    assert math.exp(-float(p.log().mean())) == pytest.approx(ppl, rel=1e-5)
    # The harmonic mean is a different number, and AM >= GM >= HM orders the inverses.
    assert float(1 / p.mean()) < ppl < float((1 / p).mean())


def test_next_token_probabilities_read_the_text_with_the_state_carried(short_corpus, scratch):
    corpus, vocab = short_corpus
    net = scratch(vocab, scale=30.0)
    text = corpus[:50]
    with torch.no_grad():
        y_hat, _ = net(torch.tensor([text[:-1]]), net.begin_state(1, CPU))
    expected = torch.softmax(y_hat.double(), dim=1)[torch.arange(49), torch.tensor(text[1:])]
    p = crnn.next_token_probabilities(net, text, CPU, num_steps=7)
    assert torch.allclose(p, expected, atol=1e-9)


def test_uniform_model_gives_every_token_one_over_the_vocabulary(short_corpus, scratch):
    corpus, vocab = short_corpus
    net = scratch(vocab, scale=0.0)
    p = crnn.next_token_probabilities(net, corpus[:40], CPU)
    assert torch.allclose(p, torch.full_like(p, 1 / len(vocab)))
