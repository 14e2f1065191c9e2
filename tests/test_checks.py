"""The "Your turn" checks (checks.py): the course's functions pass, every typical wrong version
fails with its own hint, an exception gets a message, a stub is "not done yet"; and every "Your
turn" cell of the notebooks has a stub, a check and a solution that passes it."""
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


def one_hot_batch_major(X, vocab_size):
    return F.one_hot(X, vocab_size).type(torch.float32)


def one_hot_integers(X, vocab_size):
    return F.one_hot(X.T, vocab_size)


def one_hot_without_vocab_size(X, vocab_size):
    return F.one_hot(X.T).float()


# --- get_params -------------------------------------------------------------------------------


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
    "one_hot_steps": (checks.check_one_hot_steps, [crnn.one_hot_steps], [
        (one_hot_batch_major, "batch-major instead of time-major", "X.T"),
        (one_hot_integers, "integers, not floats", "float32"),
        (one_hot_without_vocab_size, "vocabulary size not passed", "vocab_size"),
    ]),
    "get_params": (checks.check_get_params, [crnn.get_params], [
        (params_without_biases, "missing bias", "b_h"),
        (params_in_another_order, "wrong order", "W_xh, W_hh, b_h, W_hq, b_q"),
        (params_with_W_xh_transposed, "transposed weights", "W_xh"),
        (params_without_gradients, "no gradients", "requires_grad_(True)"),
        (params_that_are_not_leaves, "not leaf tensors", "leaf"),
        (params_not_scaled, "weights not scaled", "0.01"),
        (params_uniform, "not centred on zero", "torch.randn"),
        (params_constant, "constant weights", "stay equal"),
        (params_with_random_biases, "biases not zero", "torch.zeros"),
    ]),
    "rnn": (checks.check_rnn, [crnn.rnn], [
        (rnn_without_tanh, "missing tanh", "tanh"),
        (rnn_with_relu, "another activation instead of tanh", "torch.tanh"),
        (rnn_without_hidden_bias, "missing bias", "b_h"),
        (rnn_without_output_bias, "missing bias", "b_q"),
        (rnn_batch_major, "batch-major instead of time-major outputs", "torch.cat"),
        (rnn_stacked, "outputs stacked, not concatenated", "num_steps * batch_size"),
        (rnn_from_zeros, "incoming state ignored", "state passed in"),
        (rnn_output_before_update, "output from the previous state", "new H_t"),
        (rnn_state_not_a_tuple, "state not a tuple", "(H,)"),
        (rnn_returning_the_old_state, "state not returned", "last H"),
    ]),
    "predict_ch8": (checks.check_predict_ch8, [crnn.predict_ch8], [
        (predict_emitting_during_the_prefix, "predictions emitted during the prefix", "warm-up"),
        (predict_without_warm_up, "no warm-up", "whole prefix"),
        (predict_feeding_the_last_character_twice, "last prefix character fed twice", "last"),
        (predict_only_the_continuation, "prefix missing from the result", "prefix followed"),
    ]),
    "grad_clipping": (checks.check_grad_clipping, [crnn.grad_clipping, clip_with_pytorch], [
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
    checks.check_get_params(crnn.get_params)  # draws from the global generator
    checks.check_get_params(params_uniform)
    assert torch.equal(torch.rand(3), expected[0]) and random.random() == expected[1]


def test_the_result_shows_as_text_and_as_html():
    result = checks.check_rnn(rnn_without_tanh)
    assert repr(result) == str(result)
    html = result._repr_html_()
    assert html.startswith("<div") and "✗ missing tanh" in html
    not_done = checks.check_rnn(stub)._repr_html_()
    assert "not done yet" in not_done and "<" not in checks.check_rnn(stub).message


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


def test_the_cells_the_hints_point_to_exist():
    headings = [line.lstrip("#").strip()
                for notebook in course_notebooks()
                for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]
                if cell["cell_type"] == "markdown"
                for line in "".join(cell["source"]).splitlines() if line.startswith("#")]
    missing = [h for h in checks.CELLS_REFERENCED
               if not any(heading.replace("`", "").startswith(h) for heading in headings)]
    assert checks.CELLS_REFERENCED and not missing, f"no notebook heading starts with {missing}"
