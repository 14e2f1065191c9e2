"""Shared fixtures: tiny models and short data keep the unit tests fast.

- `vocab`: The Time Machine's character vocabulary (28 tokens); every loader below uses it.
- `short_corpus`: `(corpus, vocab)`, the first 2,000 characters of the book as token indices.
- `make_net(num_hiddens=16, *, seed=0, forward_fn=crnn.rnn)`: a new `RNNModelScratch` for `vocab`
  on the CPU, its parameters drawn after `set_seed(seed)` (which also seeds the minibatch
  offsets drawn afterwards, so build the data first and the model last).
- `small_net`: `make_net()`, 16 hidden units, seed 0.
- `make_iter(batch_size=4, num_steps=5, use_random_iter=False, max_tokens=300)`: a `train_iter`
  over the first `max_tokens` characters (300 tokens give 14 minibatches of 4x5 an epoch).
- `tiny_iter`: `make_iter()`.

The tools (paths, course, sync_package, launch) are importable by name: pyproject.toml puts
tools/ on pytest's `pythonpath`.
"""
import pytest
import torch

import chapter_rnn as crnn

CPU = torch.device("cpu")


@pytest.fixture
def vocab():
    return crnn.load_corpus_time_machine()[1]


@pytest.fixture
def short_corpus():
    return crnn.load_corpus_time_machine(2000)


@pytest.fixture
def make_net(vocab):
    def make(num_hiddens=16, *, seed=0, forward_fn=crnn.rnn):
        crnn.set_seed(seed)
        return crnn.RNNModelScratch(len(vocab), num_hiddens, CPU, crnn.get_params,
                                    crnn.init_rnn_state, forward_fn)

    return make


@pytest.fixture
def small_net(make_net):
    return make_net()


@pytest.fixture
def make_iter():
    def make(batch_size=4, num_steps=5, use_random_iter=False, max_tokens=300):
        return crnn.load_data_time_machine(batch_size, num_steps, use_random_iter,
                                           max_tokens=max_tokens)[0]

    return make


@pytest.fixture
def tiny_iter(make_iter):
    return make_iter()
