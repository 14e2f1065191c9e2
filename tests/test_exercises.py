"""The exercises' helpers: held-out split and validation perplexity, embeddings, other books,
repetition loops, training without detaching, and the ReLU RNN."""
import math

import pytest
import torch
from torch import nn

import chapter_rnn as crnn

CPU = torch.device("cpu")


@pytest.fixture
def corpus_and_vocab():
    return crnn.load_corpus_time_machine(2000)


def loader(corpus, vocab, batch_size=4, num_steps=5):
    return crnn.SeqDataLoader(batch_size, num_steps, False, -1, corpus, vocab)


def scratch(vocab, num_hiddens=8, forward_fn=crnn.rnn, seed=0):
    crnn.set_seed(seed)
    return crnn.RNNModelScratch(len(vocab), num_hiddens, CPU, crnn.get_params,
                                crnn.init_rnn_state, forward_fn)


def test_split_corpus_holds_out_the_end():
    train, valid = crnn.split_corpus(list(range(100)), 0.1)
    assert train == list(range(90)) and valid == list(range(90, 100))
    with pytest.raises(ValueError, match="valid_fraction"):
        crnn.split_corpus(list(range(10)), 1.0)


def test_evaluate_perplexity_of_uniform_guessing_is_the_vocabulary_size(corpus_and_vocab):
    corpus, vocab = corpus_and_vocab
    net = scratch(vocab)
    for p in net.params:
        p.data.zero_()
    assert crnn.evaluate_perplexity(net, loader(corpus, vocab), CPU) == pytest.approx(len(vocab))
    assert crnn.evaluate_perplexity(net, loader(corpus, vocab), CPU, use_random_iter=True) \
        == pytest.approx(len(vocab))


def test_evaluate_perplexity_matches_the_loss_and_leaves_no_gradients(corpus_and_vocab):
    corpus, vocab = corpus_and_vocab
    net = scratch(vocab)
    X = torch.tensor([corpus[:20]])
    Y = torch.tensor([corpus[1:21]])
    y_hat, _ = net(X, net.begin_state(1, CPU))
    expected = math.exp(nn.functional.cross_entropy(y_hat, Y.T.reshape(-1)).item())
    assert crnn.evaluate_perplexity(net, [(X, Y)], CPU) == pytest.approx(expected, rel=1e-6)
    assert all(p.grad is None for p in net.params)
    assert torch.is_grad_enabled()


def test_evaluate_perplexity_carries_the_state_in_sequential_order(corpus_and_vocab):
    corpus, vocab = corpus_and_vocab
    net = scratch(vocab)
    with torch.no_grad():
        for p in net.params:
            p.mul_(100)  # large weights, so that the state matters
    # One sequence of 20 tokens cut into two minibatches of 10 steps: carrying the state gives
    # exactly the perplexity of reading it in one go.
    X, Y = torch.tensor([corpus[:20]]), torch.tensor([corpus[1:21]])
    whole = crnn.evaluate_perplexity(net, [(X, Y)], CPU)
    halves = [(X[:, :10], Y[:, :10]), (X[:, 10:], Y[:, 10:])]
    assert crnn.evaluate_perplexity(net, halves, CPU) == pytest.approx(whole, rel=1e-6)
    assert crnn.evaluate_perplexity(net, halves, CPU, use_random_iter=True) != \
        pytest.approx(whole, rel=1e-6)


def test_fit_records_both_perplexities_and_learns(corpus_and_vocab):
    corpus, vocab = corpus_and_vocab
    train, valid = crnn.split_corpus(corpus, 0.2)
    net = scratch(vocab, 16)
    result = crnn.fit(net, loader(train, vocab), loader(valid, vocab), 1.0, 5, CPU, eval_every=2)
    assert result.epochs == [2, 4, 5]
    assert len(result.train_perplexity) == len(result.valid_perplexity) == 3
    assert len(result.max_grad_norm) == 5
    assert result.train_perplexity[-1] < len(vocab) and result.stopped is None
    assert result.best()[1] == min(result.valid_perplexity)


def test_fit_stops_cleanly_when_training_diverges(corpus_and_vocab):
    corpus, vocab = corpus_and_vocab
    net = scratch(vocab)
    with torch.no_grad():
        net.params[3].fill_(math.inf)  # W_hq: the scores, hence the loss, are not finite
    result = crnn.fit(net, loader(corpus, vocab), loader(corpus, vocab), 1.0, 3, CPU)
    assert result.stopped.startswith("diverged in epoch 1")
    assert result.epochs == []


def test_embedding_model_shapes(vocab):
    net = crnn.RNNModelEmbedding(len(vocab), 16, CPU, embed_size=4)
    assert [tuple(p.shape) for p in net.params] == [
        (len(vocab), 4), (4, 16), (16, 16), (16,), (16, len(vocab)), (len(vocab),)]
    X = torch.randint(0, len(vocab), (3, 7))
    Y, (H,) = net(X, net.begin_state(3, CPU))
    assert Y.shape == (7 * 3, len(vocab)) and H.shape == (3, 16)
    with pytest.raises(ValueError, match="embed_size"):
        crnn.get_embedding_params(len(vocab), 16, CPU, 0)


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


def test_train_epoch_no_detach_grows_the_graph_but_not_the_update(corpus_and_vocab):
    corpus, vocab = corpus_and_vocab
    runs = {}
    for detach in (True, False):
        net = scratch(vocab, 8)
        crnn.set_seed(1)  # the same random offset for both epochs
        runs[detach] = (crnn.train_epoch_no_detach(net, loader(corpus, vocab), 1.0, CPU,
                                                   detach=detach, max_minibatches=6), net)
    detached, carried = runs[True][0], runs[False][0]
    assert len(detached.seconds) == len(carried.graph_nodes) == 6
    assert len(set(detached.graph_nodes)) == 1  # one minibatch's graph every time
    assert carried.graph_nodes == sorted(carried.graph_nodes)
    # Each minibatch adds the same amount: the state's chain through its steps.
    growth = {b - a for a, b in zip(carried.graph_nodes, carried.graph_nodes[1:])}
    assert len(growth) == 1 and growth.pop() > 0
    assert carried.graph_nodes[0] == detached.graph_nodes[0]
    assert carried.graph_bytes[-1] > 3 * detached.graph_bytes[-1]
    # The gradient that flows into earlier minibatches lands on the old parameter tensors:
    # the model's own update is the same as with detaching.
    assert carried.perplexity == pytest.approx(detached.perplexity, rel=1e-6)
    for p, q in zip(runs[True][1].params, runs[False][1].params):
        assert torch.allclose(p, q, atol=1e-6)
