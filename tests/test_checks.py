"""The "Your turn" checks (checks.py): correct versions written out pass, every typical wrong
version fails with its own hint, the course's own function (or one that calls it) is refused, an
exception gets a message, a stub is "not done yet"; and every "Your turn" cell of the notebooks
has a stub, a check and a solution that passes it, placed before the course's version."""
import inspect
import json
import math
import random
import re

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import chapter_rnn as crnn
from chapter_rnn import checks
from paths import course_notebooks

# --- one_hot_steps ----------------------------------------------------------------------------


def one_hot_time_major(X, vocab_size):
    return F.one_hot(X.T, vocab_size).float()


def one_hot_batch_major(X, vocab_size):
    return F.one_hot(X, vocab_size).type(torch.float32)


def one_hot_integers(X, vocab_size):
    return F.one_hot(X.T, vocab_size)


def one_hot_without_vocab_size(X, vocab_size):
    return F.one_hot(X.T).float()


# --- get_params -------------------------------------------------------------------------------


def params_like_the_book(vocab_size, num_hiddens, device):
    params = [torch.randn(vocab_size, num_hiddens, device=device) * 0.01,
              torch.randn(num_hiddens, num_hiddens, device=device) * 0.01,
              torch.zeros(num_hiddens, device=device),
              torch.randn(num_hiddens, vocab_size, device=device) * 0.01,
              torch.zeros(vocab_size, device=device)]
    return [p.requires_grad_(True) for p in params]


def params_without_biases(vocab_size, num_hiddens, device):
    W_xh = torch.randn(vocab_size, num_hiddens) * 0.01
    W_hh = torch.randn(num_hiddens, num_hiddens) * 0.01
    W_hq = torch.randn(num_hiddens, vocab_size) * 0.01
    return [p.requires_grad_() for p in (W_xh, W_hh, W_hq)]


def params_in_another_order(vocab_size, num_hiddens, device):
    W_xh = torch.randn(vocab_size, num_hiddens) * 0.01
    W_hh = torch.randn(num_hiddens, num_hiddens) * 0.01
    W_hq = torch.randn(num_hiddens, vocab_size) * 0.01
    b_h, b_q = torch.zeros(num_hiddens), torch.zeros(vocab_size)
    return [p.requires_grad_() for p in (W_xh, W_hh, W_hq, b_h, b_q)]


def params_with_W_xh_transposed(vocab_size, num_hiddens, device):
    W_xh = torch.randn(num_hiddens, vocab_size) * 0.01
    W_hh = torch.randn(num_hiddens, num_hiddens) * 0.01
    W_hq = torch.randn(num_hiddens, vocab_size) * 0.01
    b_h, b_q = torch.zeros(num_hiddens), torch.zeros(vocab_size)
    return [p.requires_grad_() for p in (W_xh, W_hh, b_h, W_hq, b_q)]


def params_without_gradients(vocab_size, num_hiddens, device):
    return [torch.randn(vocab_size, num_hiddens) * 0.01,
            torch.randn(num_hiddens, num_hiddens) * 0.01, torch.zeros(num_hiddens),
            torch.randn(num_hiddens, vocab_size) * 0.01, torch.zeros(vocab_size)]


def params_that_are_not_leaves(vocab_size, num_hiddens, device):
    return [torch.randn(vocab_size, num_hiddens, requires_grad=True) * 0.01,
            torch.randn(num_hiddens, num_hiddens, requires_grad=True) * 0.01,
            torch.zeros(num_hiddens, requires_grad=True),
            torch.randn(num_hiddens, vocab_size, requires_grad=True) * 0.01,
            torch.zeros(vocab_size, requires_grad=True)]


def params_ignoring_device(vocab_size, num_hiddens, device):
    return params_like_the_book(vocab_size, num_hiddens, torch.device("cpu"))


def params_moved_to_the_device_last(vocab_size, num_hiddens, device):
    return [p.to(device) for p in params_like_the_book(vocab_size, num_hiddens, None)]


def params_not_scaled(vocab_size, num_hiddens, device):
    return [p.requires_grad_() for p in (
        torch.randn(vocab_size, num_hiddens), torch.randn(num_hiddens, num_hiddens),
        torch.zeros(num_hiddens), torch.randn(num_hiddens, vocab_size), torch.zeros(vocab_size))]


def params_uniform(vocab_size, num_hiddens, device):
    return [p.requires_grad_() for p in (
        torch.rand(vocab_size, num_hiddens) * 0.01, torch.rand(num_hiddens, num_hiddens) * 0.01,
        torch.zeros(num_hiddens), torch.rand(num_hiddens, vocab_size) * 0.01,
        torch.zeros(vocab_size))]


def params_constant(vocab_size, num_hiddens, device):
    return [p.requires_grad_() for p in (
        torch.full((vocab_size, num_hiddens), 0.01), torch.full((num_hiddens, num_hiddens), 0.01),
        torch.zeros(num_hiddens), torch.full((num_hiddens, vocab_size), 0.01),
        torch.zeros(vocab_size))]


def params_with_random_biases(vocab_size, num_hiddens, device):
    return [p.requires_grad_() for p in (
        torch.randn(vocab_size, num_hiddens) * 0.01, torch.randn(num_hiddens, num_hiddens) * 0.01,
        torch.randn(num_hiddens) * 0.01, torch.randn(num_hiddens, vocab_size) * 0.01,
        torch.randn(vocab_size) * 0.01)]


# --- rnn --------------------------------------------------------------------------------------


def rnn_like_the_book(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        H = torch.tanh(torch.mm(X, W_xh) + torch.mm(H, W_hh) + b_h)
        outputs.append(torch.mm(H, W_hq) + b_q)
    return torch.cat(outputs, dim=0), (H,)


def rnn_without_tanh(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        H = X @ W_xh + H @ W_hh + b_h
        outputs.append(H @ W_hq + b_q)
    return torch.cat(outputs, dim=0), (H,)


def rnn_with_relu(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        H = torch.relu(X @ W_xh + H @ W_hh + b_h)
        outputs.append(H @ W_hq + b_q)
    return torch.cat(outputs, dim=0), (H,)


def rnn_without_hidden_bias(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        H = torch.tanh(X @ W_xh + H @ W_hh)
        outputs.append(H @ W_hq + b_q)
    return torch.cat(outputs, dim=0), (H,)


def rnn_without_output_bias(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        H = torch.tanh(X @ W_xh + H @ W_hh + b_h)
        outputs.append(H @ W_hq)
    return torch.cat(outputs, dim=0), (H,)


def rnn_batch_major(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        H = torch.tanh(X @ W_xh + H @ W_hh + b_h)
        outputs.append(H @ W_hq + b_q)
    return torch.stack(outputs, dim=1).reshape(-1, W_hq.shape[1]), (H,)


def rnn_stacked(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        H = torch.tanh(X @ W_xh + H @ W_hh + b_h)
        outputs.append(H @ W_hq + b_q)
    return torch.stack(outputs), (H,)


def rnn_from_zeros(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H = torch.zeros(inputs.shape[1], W_hh.shape[0])
    outputs = []
    for X in inputs:
        H = torch.tanh(X @ W_xh + H @ W_hh + b_h)
        outputs.append(H @ W_hq + b_q)
    return torch.cat(outputs, dim=0), (H,)


def rnn_output_before_update(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        outputs.append(H @ W_hq + b_q)
        H = torch.tanh(X @ W_xh + H @ W_hh + b_h)
    return torch.cat(outputs, dim=0), (H,)


def rnn_with_sigmoid(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        H = torch.sigmoid(X @ W_xh + H @ W_hh + b_h)
        outputs.append(H @ W_hq + b_q)
    return torch.cat(outputs, dim=0), (H,)


def rnn_with_W_hh_transposed(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        H = torch.tanh(X @ W_xh + H @ W_hh.T + b_h)
        outputs.append(H @ W_hq + b_q)
    return torch.cat(outputs, dim=0), (H,)


def rnn_state_not_a_tuple(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        H = torch.tanh(X @ W_xh + H @ W_hh + b_h)
        outputs.append(H @ W_hq + b_q)
    return torch.cat(outputs, dim=0), H


def rnn_returning_the_old_state(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        H = torch.tanh(X @ W_xh + H @ W_hh + b_h)
        outputs.append(H @ W_hq + b_q)
    return torch.cat(outputs, dim=0), state


# --- predict_ch8 ------------------------------------------------------------------------------


def predict_like_the_book(prefix, num_preds, net, vocab, device):
    outputs = [vocab[prefix[0]]]
    with torch.no_grad():
        state = net.begin_state(batch_size=1, device=device)
        for char in prefix[1:]:
            _, state = net(torch.tensor([[outputs[-1]]], device=device), state)
            outputs.append(vocab[char])
        for _ in range(num_preds):
            scores, state = net(torch.tensor([[outputs[-1]]], device=device), state)
            outputs.append(int(scores.argmax(dim=1)))
    return "".join(vocab.to_tokens(outputs))


def predict_in_one_call(prefix, num_preds, net, vocab, device):
    with torch.no_grad():
        scores, state = net(torch.tensor([vocab[list(prefix)]]), net.begin_state(1, device))
        generated = []
        for _ in range(num_preds):
            generated.append(int(scores[-1].argmax()))
            scores, state = net(torch.tensor([[generated[-1]]]), state)
    return prefix + "".join(vocab.to_tokens(generated))


def predict_emitting_during_the_prefix(prefix, num_preds, net, vocab, device):
    state = net.begin_state(batch_size=1, device=device)
    outputs = [vocab[prefix[0]]]
    for _ in prefix[1:]:  # the warm-up appends what the model predicts, not the prefix
        y, state = net(torch.tensor([[outputs[-1]]]), state)
        outputs.append(int(y.argmax(dim=1)))
    for _ in range(num_preds):
        y, state = net(torch.tensor([[outputs[-1]]]), state)
        outputs.append(int(y.argmax(dim=1)))
    return "".join(vocab.to_tokens(outputs))


def predict_keeping_the_warm_up_predictions(prefix, num_preds, net, vocab, device):
    state = net.begin_state(batch_size=1, device=device)
    tokens, predicted = vocab[list(prefix)], []
    for token in tokens[:-1]:  # the warm-up's predictions end up in the result too
        y, state = net(torch.tensor([[token]]), state)
        predicted.append(int(y.argmax(dim=1)))
    generated = []
    for _ in range(num_preds):
        y, state = net(torch.tensor([[([tokens[-1]] + generated)[-1]]]), state)
        generated.append(int(y.argmax(dim=1)))
    return "".join(vocab.to_tokens(tokens + predicted + generated))


def predict_without_warm_up(prefix, num_preds, net, vocab, device):
    state = net.begin_state(batch_size=1, device=device)
    outputs = [vocab[prefix[-1]]]
    for _ in range(num_preds):
        y, state = net(torch.tensor([[outputs[-1]]]), state)
        outputs.append(int(y.argmax(dim=1)))
    return prefix + "".join(vocab.to_tokens(outputs[1:]))


def predict_feeding_the_last_character_twice(prefix, num_preds, net, vocab, device):
    state = net.begin_state(batch_size=1, device=device)
    for token in vocab[list(prefix)]:
        _, state = net(torch.tensor([[token]]), state)
    outputs = vocab[list(prefix)]
    for _ in range(num_preds):
        y, state = net(torch.tensor([[outputs[-1]]]), state)
        outputs.append(int(y.argmax(dim=1)))
    return "".join(vocab.to_tokens(outputs))


def predict_only_the_continuation(prefix, num_preds, net, vocab, device):
    with torch.no_grad():
        y, state = net(torch.tensor([vocab[list(prefix)]]), net.begin_state(1, device))
        generated = []
        for _ in range(num_preds):
            generated.append(int(y[-1].argmax()))
            y, state = net(torch.tensor([[generated[-1]]]), state)
    return "".join(vocab.to_tokens(generated))


# --- grad_clipping ----------------------------------------------------------------------------


def clip_like_the_book(net, theta):
    norm = torch.sqrt(sum(torch.sum(p.grad ** 2) for p in net.params))
    if norm > theta:
        for p in net.params:
            p.grad[:] *= theta / norm


def clip_with_vector_norm(net, theta):
    norm = torch.linalg.vector_norm(torch.cat([p.grad.reshape(-1) for p in net.params]))
    scale = min(1.0, theta / float(norm))
    for p in net.params:
        p.grad = p.grad * scale  # a new tensor in p.grad, not in place: fine too
    return norm


def clip_each_parameter(net, theta):
    for p in net.params:
        torch.nn.utils.clip_grad_norm_([p], theta)


def clip_by_value(net, theta):
    torch.nn.utils.clip_grad_value_(net.params, theta)


def clip_forgetting_to_assign(net, theta):
    norm = torch.sqrt(sum(torch.sum(p.grad ** 2) for p in net.params))
    if norm > theta:
        for p in net.params:
            g = p.grad * theta / norm  # noqa: F841 (the mistake: computed, never written back)


def clip_short_gradients_too(net, theta):
    norm = torch.sqrt(sum(torch.sum(p.grad ** 2) for p in net.params))
    for p in net.params:
        p.grad[:] *= theta / norm


def clip_without_square_root(net, theta):
    norm = sum(torch.sum(p.grad ** 2) for p in net.params)
    if norm > theta:
        for p in net.params:
            p.grad[:] *= theta / norm


def clip_returning_the_norm_after(net, theta):
    norm = torch.sqrt(sum(torch.sum(p.grad ** 2) for p in net.params))
    if norm > theta:
        for p in net.params:
            p.grad[:] *= theta / norm
    return float(torch.sqrt(sum(torch.sum(p.grad ** 2) for p in net.params)))


def clip_with_pytorch(net, theta):
    return torch.nn.utils.clip_grad_norm_(net.params, theta)


# --- prepare_state ----------------------------------------------------------------------------


def state_always_new(state, net, batch_size, device, use_random_iter):
    return net.begin_state(batch_size=batch_size, device=device)


def state_not_detached(state, net, batch_size, device, use_random_iter):
    if state is None or use_random_iter:
        return net.begin_state(batch_size=batch_size, device=device)
    return state


def state_detach_thrown_away(state, net, batch_size, device, use_random_iter):
    if state is None or use_random_iter:
        return net.begin_state(batch_size=batch_size, device=device)
    for s in state:
        s.detach()  # returns a detached copy, which is dropped
    return state


def state_carried_under_random_sampling(state, net, batch_size, device, use_random_iter):
    if state is None:
        return net.begin_state(batch_size=batch_size, device=device)
    return tuple(s.detach() for s in state)


def state_as_a_bare_tensor(state, net, batch_size, device, use_random_iter):
    if state is None or use_random_iter:
        return net.begin_state(batch_size=batch_size, device=device)
    return state[0].detach()


def state_detached_in_place(state, net, batch_size, device, use_random_iter):
    if state is None or use_random_iter:
        return net.begin_state(batch_size=batch_size, device=device)
    crnn.detach_state(state)
    return state


# --- minibatch_loss ---------------------------------------------------------------------------


def loss_of_softmax(net, X, Y, state):
    y_hat, state = net(X, state)
    return nn.CrossEntropyLoss()(torch.softmax(y_hat, dim=1), Y.T.reshape(-1)), state


def loss_batch_major_targets(net, X, Y, state):
    y_hat, state = net(X, state)
    return F.cross_entropy(y_hat, Y.reshape(-1)), state


def loss_summed(net, X, Y, state):
    y_hat, state = net(X, state)
    return F.cross_entropy(y_hat, Y.T.reshape(-1), reduction="sum"), state


def loss_as_a_number(net, X, Y, state):
    y_hat, state = net(X, state)
    return F.cross_entropy(y_hat, Y.T.reshape(-1)).item(), state


def loss_not_averaged(net, X, Y, state):
    y_hat, state = net(X, state)
    return F.cross_entropy(y_hat, Y.T.reshape(-1), reduction="none"), state


def loss_without_graph(net, X, Y, state):
    with torch.no_grad():
        y_hat, state = net(X, state)
        return F.cross_entropy(y_hat, Y.T.reshape(-1)), state


def loss_with_the_old_state(net, X, Y, state):
    y_hat, _ = net(X, state)
    return F.cross_entropy(y_hat, Y.T.reshape(-1)), state


def loss_like_train_epoch_ch8(net, X, Y, state):
    y_hat, state = net(X, state)
    return nn.CrossEntropyLoss()(y_hat, Y.T.reshape(-1).long()).mean(), state


# --- epoch_perplexity -------------------------------------------------------------------------


def perplexity_of_summed_losses(losses, num_tokens):
    return math.exp(sum(losses))


def perplexity_of_total_loss(losses, num_tokens):
    return math.exp(sum(loss * n for loss, n in zip(losses, num_tokens)))


def perplexity_unweighted(losses, num_tokens):
    return math.exp(sum(losses) / len(losses))


def perplexity_averaged(losses, num_tokens):
    return sum(math.exp(loss) * n for loss, n in zip(losses, num_tokens)) / sum(num_tokens)


def perplexity_without_exp(losses, num_tokens):
    return sum(loss * n for loss, n in zip(losses, num_tokens)) / sum(num_tokens)


def perplexity_in_bits(losses, num_tokens):
    return 2 ** (sum(loss * n for loss, n in zip(losses, num_tokens)) / sum(num_tokens))


def perplexity_with_torch(losses, num_tokens):
    losses, num_tokens = torch.tensor(losses), torch.tensor(num_tokens, dtype=torch.float64)
    return torch.exp((losses * num_tokens).sum() / num_tokens.sum())


def epoch_perplexity(losses, num_tokens):
    total = sum(loss * n for loss, n in zip(losses, num_tokens))
    return crnn.perplexity_from_loss(total / sum(num_tokens))


# --- the table of checks ----------------------------------------------------------------------

CHECKS = {
    "one_hot_steps": (checks.check_one_hot_steps, [one_hot_time_major], [
        (one_hot_batch_major, "batch-major instead of time-major", "X.T"),
        (one_hot_integers, "integers, not floats", "float32"),
        (one_hot_without_vocab_size, "vocabulary size not passed", "vocab_size"),
    ]),
    "get_params": (checks.check_get_params, [params_like_the_book], [
        (params_without_biases, "missing bias", "b_h"),
        (params_in_another_order, "wrong order", "W_xh, W_hh, b_h, W_hq, b_q"),
        (params_with_W_xh_transposed, "transposed weights", "W_xh"),
        (params_without_gradients, "no gradients", "requires_grad_(True)"),
        (params_that_are_not_leaves, "not leaf tensors", "result of an operation"),
        (params_moved_to_the_device_last, "not leaf tensors", "after any .to(device)"),
        (params_ignoring_device, "device ignored", "device=device"),
        (params_not_scaled, "weights not scaled", "0.01"),
        (params_uniform, "not centred on zero", "torch.randn"),
        (params_constant, "constant weights", "stay equal"),
        (params_with_random_biases, "biases not zero", "torch.zeros"),
    ]),
    "rnn": (checks.check_rnn, [rnn_like_the_book], [
        (rnn_without_tanh, "missing tanh", "tanh"),
        (rnn_with_relu, "another activation instead of tanh", "torch.tanh"),
        (rnn_with_sigmoid, "another activation instead of tanh", "torch.tanh"),
        (rnn_with_W_hh_transposed, "W_hh transposed", "H_{t-1} @ W_hh"),
        (rnn_without_hidden_bias, "missing bias", "b_h"),
        (rnn_without_output_bias, "missing bias", "b_q"),
        (rnn_batch_major, "batch-major instead of time-major outputs", "torch.cat"),
        (rnn_stacked, "outputs stacked, not concatenated", "num_steps * batch_size"),
        (rnn_from_zeros, "incoming state ignored", "state passed in"),
        (rnn_output_before_update, "output from the previous state", "new H_t"),
        (rnn_state_not_a_tuple, "state not a tuple", "(H,)"),
        (rnn_returning_the_old_state, "state not returned", "last H"),
    ]),
    "predict_ch8": (checks.check_predict_ch8, [predict_like_the_book, predict_in_one_call], [
        (predict_emitting_during_the_prefix, "predictions emitted during the prefix", "warm-up"),
        (predict_keeping_the_warm_up_predictions, "predictions emitted during the prefix",
         "keep them"),
        (predict_without_warm_up, "no warm-up", "whole prefix"),
        (predict_feeding_the_last_character_twice, "last prefix character fed twice", "last"),
        (predict_only_the_continuation, "prefix missing from the result", "prefix followed"),
    ]),
    "grad_clipping": (checks.check_grad_clipping, [clip_like_the_book, clip_with_pytorch,
                                                   clip_with_vector_norm], [
        (clip_each_parameter, "per-parameter clipping", "one norm over all the gradients"),
        (clip_by_value, "clipping by value", "clamping"),
        (clip_forgetting_to_assign, "no clipping", "in place"),
        (clip_short_gradients_too, "short gradients rescaled too", "at most θ"),
        (clip_without_square_root, "norm without the square root", "square root"),
        (clip_returning_the_norm_after, "wrong return value", "before clipping"),
    ]),
    "prepare_state": (checks.check_prepare_state, [state_detached_in_place,
                                                   checks._course_prepare_state], [
        (state_always_new, "state re-initialised every minibatch under sequential "
                           "partitioning", "first minibatch"),
        (state_not_detached, "state not detached", "graph keeps growing"),
        (state_detach_thrown_away, "state not detached", "detach"),
        (state_carried_under_random_sampling, "state carried over under random sampling",
         "begin_state"),
        (state_as_a_bare_tensor, "state not a tuple", "(H,)"),
    ]),
    "minibatch_loss": (checks.check_minibatch_loss, [loss_like_train_epoch_ch8,
                                                     checks._course_minibatch_loss], [
        (loss_of_softmax, "softmax before the loss", "raw scores"),
        (loss_batch_major_targets, "batch-major instead of time-major targets", "Y.T"),
        (loss_summed, "summed instead of mean loss", "mean"),
        (loss_as_a_number, "loss is not a tensor", ".item()"),
        (loss_not_averaged, "loss not averaged", "mean"),
        (loss_without_graph, "loss without a graph", "torch.no_grad()"),
        (loss_with_the_old_state, "old state returned", "next minibatch"),
    ]),
    "epoch_perplexity": (checks.check_epoch_perplexity, [epoch_perplexity,
                                                         perplexity_with_torch], [
        (perplexity_of_summed_losses, "exp of the summed loss", "mean"),
        (perplexity_of_total_loss, "exp of the summed loss", "number of predicted characters"),
        (perplexity_unweighted, "minibatches not weighted by their tokens", "weight"),
        (perplexity_averaged, "mean of the perplexities", "exp once"),
        (perplexity_without_exp, "no exp", "exp of the mean"),
        (perplexity_in_bits, "base 2 instead of e", "math.exp"),
    ]),
}

CORRECT = [(name, fn) for name, (_, fns, _) in CHECKS.items() for fn in fns]
WRONG = [(name, fn, mistake, hint) for name, (_, _, wrong) in CHECKS.items()
         for fn, mistake, hint in wrong]


@pytest.mark.parametrize("name, fn", CORRECT, ids=[f"{n}-{f.__name__}" for n, f in CORRECT])
def test_a_correct_function_passes(name, fn):
    result = CHECKS[name][0](fn)
    assert result.status == checks.PASSED and result, str(result)
    assert str(result).startswith("✓ ")


@pytest.mark.parametrize("name, fn, mistake, hint", WRONG, ids=[w[1].__name__ for w in WRONG])
def test_a_wrong_version_fails_with_its_own_hint(name, fn, mistake, hint):
    result = CHECKS[name][0](fn)
    assert result.status == checks.FAILED and not result
    assert result.mistake == mistake, str(result)
    text = str(result)
    assert text.startswith(f"✗ {mistake}") and hint in text and "(see " in text, text


def raises_an_error(*args):
    values = [1, 2, 3]
    return values[len(args) + 10]


def stub(*args):
    raise NotImplementedError("write my_function: the body goes here")


@pytest.mark.parametrize("name", CHECKS)
def test_an_exception_gets_a_message_not_a_traceback(name):
    result = CHECKS[name][0](raises_an_error)
    text = str(result)
    assert result.status == checks.FAILED and result.mistake == "exception"
    assert "raises_an_error raised IndexError" in text and "list index out of range" in text
    assert "`return values[len(args) + 10]`" in text  # the learner's line
    assert "Traceback" not in text and "File \"" not in text


@pytest.mark.parametrize("name", CHECKS)
def test_a_stub_is_not_done_yet(name):
    result = CHECKS[name][0](stub)
    assert result.status == checks.NOT_DONE and not result
    assert str(result) == ("not done yet: write my_function: the body goes here; "
                           "then run the check again")


@pytest.mark.parametrize("name", CHECKS)
def test_something_that_is_not_a_function_is_named(name):
    result = CHECKS[name][0](None)
    assert result.mistake == "not a function" and "pass your function itself" in str(result)


def test_a_check_leaves_the_random_state_alone():
    torch.manual_seed(123)
    random.seed(123)
    expected = (torch.rand(3), random.random())
    torch.manual_seed(123)
    random.seed(123)
    for check, _, _ in CHECKS.values():
        check(stub)
    checks.check_get_params(params_like_the_book)  # draws from the global generator
    checks.check_get_params(params_uniform)
    assert torch.equal(torch.rand(3), expected[0]) and random.random() == expected[1]


def test_the_result_shows_as_one_line_of_plain_text():
    for result in (checks.check_rnn(rnn_without_tanh), checks.check_rnn(stub)):
        assert repr(result) == str(result) and "\n" not in str(result) and "<" not in str(result)
        assert not hasattr(result, "_repr_html_")  # one representation: shown once, saved once


# --- the course's own function is refused -----------------------------------------------------

COURSE_FUNCTIONS = {"one_hot_steps": crnn.one_hot_steps, "get_params": crnn.get_params,
                    "rnn": crnn.rnn, "predict_ch8": crnn.predict_ch8,
                    "grad_clipping": crnn.grad_clipping}


@pytest.mark.parametrize("name", COURSE_FUNCTIONS)
def test_the_course_function_itself_is_refused(name):
    result = CHECKS[name][0](COURSE_FUNCTIONS[name])
    assert result.status == checks.FAILED and result.mistake == "call-through", str(result)
    assert f"the course's own {name}" in str(result)


def my_rnn_calling_the_course(inputs, state, params):
    return crnn.rnn(inputs, state, params)


def my_predict_calling_generate(prefix, num_preds, net, vocab, device):
    return crnn.generate_ch8(prefix, num_preds, net, vocab, device).text


def my_clipping_with_a_helper_inside(net, theta):
    def clip():
        return crnn.grad_clipping(net, theta)
    return clip()


def my_predict_calling_the_notebooks_loop(prefix, num_preds, net, vocab, device):
    return predict_step_by_step(prefix, num_preds, net, vocab, device)  # noqa: F821


@pytest.mark.parametrize("name, fn, called", [
    ("rnn", my_rnn_calling_the_course, "rnn"),
    ("predict_ch8", my_predict_calling_generate, "generate_ch8"),
    ("predict_ch8", my_predict_calling_the_notebooks_loop, "predict_step_by_step"),
    ("grad_clipping", my_clipping_with_a_helper_inside, "grad_clipping"),
])
def test_a_function_that_calls_the_course_is_refused(name, fn, called):
    result = CHECKS[name][0](fn)
    assert result.status == checks.FAILED and result.mistake == "call-through", str(result)
    assert f"calls the course's {called}: write it yourself" in str(result)


def test_the_notebooks_own_copy_of_the_course_function_is_refused():
    """In notebook 4 `rnn` is the #@save cell's function, another object than chapter_rnn.rnn."""
    cell = inspect.getsource(crnn.rnn_model.rnn)  # compiled without `import torch`, as there
    namespace = {"torch": torch}
    exec(cell, namespace)
    exec("def my_rnn(inputs, state, params):\n    return rnn(inputs, state, params)\n", namespace)
    assert namespace["rnn"] is not crnn.rnn
    for fn in (namespace["rnn"], namespace["my_rnn"]):
        assert checks.check_rnn(fn).mistake == "call-through", str(checks.check_rnn(fn))


def test_a_learners_own_function_with_a_course_name_is_not_a_call_through():
    namespace = {"torch": torch}
    exec("def rnn(inputs, state, params):\n"  # the learner's own rnn, then a wrapper around it
         "    W_xh, W_hh, b_h, W_hq, b_q = params\n"
         "    H, = state\n"
         "    outputs = []\n"
         "    for X in inputs:\n"
         "        H = torch.tanh(X @ W_xh + H @ W_hh + b_h)\n"
         "        outputs.append(H @ W_hq + b_q)\n"
         "    return torch.cat(outputs, dim=0), (H,)\n"
         "def my_rnn(inputs, state, params):\n"
         "    return rnn(inputs, state, params)\n", namespace)
    assert checks.check_rnn(namespace["my_rnn"]), str(checks.check_rnn(namespace["my_rnn"]))


# --- the check's inputs tell the wrong versions apart -----------------------------------------


def test_a_one_hot_case_has_more_classes_than_its_largest_index_plus_one():
    """F.one_hot(X.T) without vocab_size infers X.max() + 1 classes: only such a case tells it
    from the course's version."""
    cases = checks._one_hot_cases()
    assert any(vocab_size > int(X.max()) + 1 for X, vocab_size in cases), cases


@pytest.mark.parametrize("wrong", [predict_without_warm_up,
                                   predict_feeding_the_last_character_twice])
def test_the_prediction_check_depends_on_the_state_not_only_the_last_character(wrong):
    """With the book's initialisation (weights * 0.01) the argmax of an untrained model hardly
    depends on anything but the last character fed, and these wrong warm-ups would pass; the
    check's model has larger weights, so they differ from predict_ch8 on most prefixes."""
    net, vocab = checks._predict_net()
    cpu = torch.device("cpu")
    differ = [prefix for prefix, n in checks._PREDICT_CASES
              if wrong(prefix, n, net, vocab, cpu) != crnn.predict_ch8(prefix, n, net, vocab, cpu)]
    assert len(differ) >= len(checks._PREDICT_CASES) - 1, differ


# --- the notebooks' "Your turn" sections ------------------------------------------------------

STUB = re.compile(r"^def (my_\w+)\(", re.MULTILINE)
SOLUTION = re.compile(r"<summary>Solution</summary>\s*```python\n(.*?)```", re.DOTALL)


def your_turn_sections() -> list[tuple[str, str, str, str]]:
    """(notebook, function name, stub source, solution source) of every "Your turn" section,
    checked for a check cell in between."""
    sections = []
    for notebook in course_notebooks():
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        sources = ["".join(c["source"]) for c in cells]
        for i, (cell, source) in enumerate(zip(cells, sources)):
            match = STUB.search(source)
            if cell["cell_type"] != "code" or not match or "NotImplementedError" not in source:
                continue
            name = match.group(1)
            check, solution = sources[i + 1], SOLUTION.search(sources[i + 2])
            assert f"check_{name[3:]}({name})" in check, f"{notebook.name}: no check after {name}"
            assert solution, f"{notebook.name}: no solution after the check of {name}"
            sections.append((notebook.stem, name, source, solution.group(1)))
    return sections


SECTIONS = your_turn_sections()


def test_there_are_at_least_seven_your_turn_sections():
    assert len(SECTIONS) >= 7, [s[:2] for s in SECTIONS]
    assert {name for _, name, _, _ in SECTIONS} >= {
        "my_one_hot_steps", "my_get_params", "my_rnn", "my_predict_ch8", "my_grad_clipping",
        "my_prepare_state", "my_epoch_perplexity"}


def run_your_turn(source: str, name: str):
    """Define the learner's function as the notebook would, and check it."""
    namespace = {"torch": torch, "nn": nn, "F": F, "math": math}
    exec(source, namespace)
    return getattr(checks, f"check_{name[3:]}")(namespace[name])


@pytest.mark.parametrize("notebook, name, stub_source, solution", SECTIONS,
                         ids=[s[1] for s in SECTIONS])
def test_the_stub_is_not_done_and_the_solution_passes(notebook, name, stub_source, solution):
    assert run_your_turn(stub_source, name).status == checks.NOT_DONE
    result = run_your_turn(solution, name)
    assert result, f"{notebook}: the solution of {name} fails its check: {result}"


# The course's own version of what each "Your turn" asks for: the code cell defining it must come
# after the exercise, or the answer would already be on the page.
COURSE_VERSION = {"my_one_hot_steps": "one_hot_steps", "my_get_params": "get_params",
                  "my_rnn": "rnn", "my_predict_ch8": "predict_step_by_step",
                  "my_grad_clipping": "grad_clipping", "my_prepare_state": "train_epoch_ch8",
                  "my_minibatch_loss": "train_epoch_ch8", "my_epoch_perplexity": "train_epoch_ch8"}


def test_every_your_turn_comes_before_the_course_version():
    found = set()
    for notebook in course_notebooks():
        sources = ["".join(c["source"]) if c["cell_type"] == "code" else ""
                   for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"]]
        for i, source in enumerate(sources):
            match = STUB.search(source)
            if not match or "NotImplementedError" not in source:
                continue
            name = match.group(1)
            course = COURSE_VERSION[name]
            defined = [j for j, other in enumerate(sources)
                       if re.search(rf"^def {course}\(", other, re.MULTILINE)]
            assert defined, f"{notebook.name}: no cell defines {course}"
            assert min(defined) > i, f"{notebook.name}: {course} is defined above {name}'s stub"
            found.add(name)
    assert found == set(COURSE_VERSION)


def test_the_cells_the_hints_point_to_exist():
    headings = [line.lstrip("#").strip()
                for notebook in course_notebooks()
                for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]
                if cell["cell_type"] == "markdown"
                for line in "".join(cell["source"]).splitlines() if line.startswith("#")]
    missing = [h for h in checks.CELLS_REFERENCED
               if not any(heading.replace("`", "").startswith(h) for heading in headings)]
    assert checks.CELLS_REFERENCED and not missing, f"no notebook heading starts with {missing}"
