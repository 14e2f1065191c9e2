"""Your turn: the checks behind the notebooks' "Your turn" cells.

Hand-written course infrastructure (not generated from a notebook). In a "Your turn" cell the
learner writes one of the chapter's functions again (`my_rnn`, `my_grad_clipping`, ...); the
matching `check_*` runs it and the course's own version on small random inputs (a few shapes, a
fixed seed) and answers with a `CheckResult`:

- ✓ when they agree;
- ✗ with the mistake it recognises (it also runs the typical wrong versions, such as clipping
  each parameter on its own, and says which one the learner's function behaves like), a one-line
  hint and the cell that explains it; wrong shapes, wrong values and exceptions each get their own
  message, never a traceback;
- "not done yet" while the function is still the stub that raises `NotImplementedError`.

A check refuses a function that only calls the course's own version ("call-through"), leaves
the random number generators as it found them, answers with one line of plain text (the same in
JupyterLab, Colab, a headless run and a saved notebook), and sends nothing anywhere.
"""
from __future__ import annotations

import contextlib
import math
import random
import traceback
import types
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from chapter_rnn.checkpoint import PARAM_NAMES
from chapter_rnn.data import Vocab
from chapter_rnn.gradient_clipping import grad_clipping
from chapter_rnn.one_hot import one_hot_steps
from chapter_rnn.parameters import get_params
from chapter_rnn.prediction import generate_ch8, predict_ch8
from chapter_rnn.rnn_model import RNNModelScratch, init_rnn_state, rnn
from chapter_rnn.training import detach_state, perplexity_from_loss

__all__ = ["CheckResult", "check_one_hot_steps", "check_get_params", "check_rnn",
           "check_predict_ch8", "check_grad_clipping", "check_prepare_state",
           "check_minibatch_loss", "check_epoch_perplexity"]

PASSED, FAILED, NOT_DONE = "passed", "failed", "not done yet"
SEED = 0
CPU = torch.device("cpu")


# --- the answer -----------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckResult:
    """What a check found: `status` is "passed", "failed" or "not done yet"; `mistake` names
    what went wrong (None when it passed or is not done)."""

    status: str
    message: str
    mistake: str | None = None

    def __bool__(self) -> bool:
        return self.status == PASSED

    def __str__(self) -> str:
        prefix = {PASSED: "✓ ", FAILED: "✗ ", NOT_DONE: "not done yet: "}[self.status]
        return prefix + self.message

    def __repr__(self) -> str:
        # Plain text only: a notebook shows (and saves) one output, the same everywhere.
        return str(self)


@dataclass(frozen=True)
class _Mistake:
    """A mistake the checks recognise: what it is, what to do instead, and where the notebook
    explains it."""

    name: str
    hint: str
    where: str

    def result(self, detail: str = "") -> CheckResult:
        return CheckResult(FAILED, f"{self.name}{detail}: {self.hint} (see {self.where})",
                           self.name)


class _Verdict(Exception):
    """Ends a check early with its result (a stub, an exception, a malformed return value)."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.message)
        self.result = result


def _passed(fn: Callable, text: str) -> CheckResult:
    return CheckResult(PASSED, f"{_name(fn)} {text}")


def _failed(name: str, text: str) -> CheckResult:
    return CheckResult(FAILED, f"{name}: {text}", name)


def _name(fn: Callable) -> str:
    return getattr(fn, "__name__", "your function")


# --- running the learner's code safely --------------------------------------------------------

@contextlib.contextmanager
def _isolated_rng():
    """Seed everything for the check, then give the notebook back its random state untouched."""
    python_state = random.getstate()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        random.seed(SEED)
        try:
            yield
        finally:
            random.setstate(python_state)


def _where(fn: Callable, err: BaseException) -> str:
    """' (line N: `code`)' for the last line of the learner's function the error passed."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return ""
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if f.filename == code.co_filename]
    if not frames:
        return ""
    frame = frames[-1]
    return f" (line {frame.lineno}: `{frame.line.strip()}`)" if frame.line else \
        f" (line {frame.lineno})"


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= 200 else line[:197] + "..."


def _call(fn: Callable, case: str, *args: Any) -> Any:
    """The learner's function called on one case; a stub or an exception ends the check."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args)
    except NotImplementedError as err:
        text = _first_line(err) or f"{_name(fn)} still raises NotImplementedError"
        raise _Verdict(CheckResult(NOT_DONE, f"{text}; then run the check again")) from None
    except Exception as err:  # the learner's bug, summarised instead of a traceback
        message = _first_line(err)
        raise _Verdict(_failed(
            "exception", f"{_name(fn)} raised {type(err).__name__} {case}"
            + (f": {message}" if message else "") + _where(fn, err))) from None


def _fingerprint(code: types.CodeType) -> tuple:
    """What a function's code is made of, independent of where it was compiled (the bytecode
    itself differs between a module and a notebook cell that did not import `torch`)."""
    constants = tuple(c for c in code.co_consts if not isinstance(c, types.CodeType))
    return code.co_argcount, code.co_varnames, code.co_names, constants


def _is_course_function(obj: Any, course_fn: Callable) -> bool:
    """`obj` is the course's function: the package's, or the one the notebook's own #@save
    cell defines (another function object, with the same name and the same code)."""
    code = getattr(obj, "__code__", None)
    return obj is course_fn or (isinstance(code, types.CodeType)
                                and getattr(obj, "__name__", None) == course_fn.__name__
                                and _fingerprint(code) == _fingerprint(course_fn.__code__))


def _course_function_called(fn: Callable, course: Sequence[Callable],
                            notebook_names: Sequence[str] = ()) -> str | None:
    """The name of the course's version that `fn` calls, if it does: a global name bound to
    a course function, an attribute such as `chapter_rnn.rnn`, or one of `notebook_names`
    (a course version that only the notebook defines). Nested functions count too; a
    learner's own function that happens to share a course function's name does not."""
    by_name = {f.__name__: f for f in course}
    namespace = getattr(fn, "__globals__", {})
    codes = [fn.__code__] if isinstance(getattr(fn, "__code__", None), types.CodeType) else []
    while codes:
        code = codes.pop()
        for name in code.co_names:
            if name in notebook_names or (
                    name in by_name
                    and _is_course_function(namespace.get(name, by_name[name]), by_name[name])):
                return name
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return None


def _run(fn: Any, check: Callable[[Callable], CheckResult], usage: str,
         course: Sequence[Callable] = (), notebook_names: Sequence[str] = ()) -> CheckResult:
    """Run `check` on the learner's `fn`; `course` (and `notebook_names`) are the course's own
    versions, which `fn` may neither be nor call."""
    if not callable(fn):
        return _failed("not a function", f"pass your function itself, e.g. {usage}, "
                                         f"not {type(fn).__name__}")
    if any(_is_course_function(fn, f) for f in course):
        return _failed("call-through", f"that is the course's own {_name(fn)}: write yours and "
                                       f"pass it, e.g. {usage}")
    called = _course_function_called(fn, course, notebook_names)
    if called is not None:
        return _failed("call-through", f"{_name(fn)} calls the course's {called}: write it "
                                       "yourself, or the check only compares the course's "
                                       "code with itself")
    with _isolated_rng():
        try:
            return check(fn)
        except _Verdict as verdict:
            return verdict.result


def _first_mistake(learner: list, variants: Sequence[tuple[_Mistake, Callable]],
                   outputs_of: Callable[[Callable], list],
                   same: Callable[[Any, Any], bool]) -> _Mistake | None:
    """The first known wrong version whose outputs equal the learner's on every case."""
    for mistake, variant in variants:
        try:
            expected = outputs_of(variant)
        except Exception:  # a wrong version that cannot run on some case matches nothing
            continue
        if all(same(a, b) for a, b in zip(learner, expected, strict=True)):
            return mistake
    return None


def _same_tensor(a: Any, b: Any, atol: float = 1e-5) -> bool:
    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
            and a.dtype == b.dtype
            and torch.allclose(a.detach().double(), b.detach().double(), rtol=1e-4, atol=atol))


def _shape(t: torch.Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


# The headings the hints point to; a test checks that the notebooks still have them.
CELLS_REFERENCED: set[str] = set()


def _cell(heading: str) -> str:
    """Where a hint points: the notebook section whose heading starts with `heading` (above or
    below the check: the "Your turn" sections come before the course's version)."""
    CELLS_REFERENCED.add(heading)
    return f"the section '{heading}'"


# --- one-hot encoding (notebook 2) ------------------------------------------------------------

_TIME_FIRST = _cell("Time first")
_ONE_HOT_MISTAKES = [
    (_Mistake("batch-major instead of time-major",
              "transpose the minibatch first (X.T), so that the first axis is time", _TIME_FIRST),
     lambda X, V: F.one_hot(X, V).type(torch.float32)),
    (_Mistake("integers, not floats",
              "F.one_hot returns int64, which torch.mm refuses to multiply with float weights: "
              "convert with .type(torch.float32)", _TIME_FIRST),
     lambda X, V: F.one_hot(X.T, V)),
    (_Mistake("vocabulary size not passed",
              "give F.one_hot the number of classes, vocab_size; otherwise it uses the largest "
              "index in X plus one", _TIME_FIRST),
     lambda X, V: F.one_hot(X.T).type(torch.float32)),
]


def _one_hot_cases() -> list[tuple[torch.Tensor, int]]:
    g = torch.Generator().manual_seed(SEED)
    # (3, 3) is square, so a batch-major result has the right shape there and only its values
    # give it away. In the last case the indices stay below 26 while vocab_size is 28, so
    # F.one_hot without vocab_size (X.max() + 1 classes) gives too few classes there.
    return [(torch.randint(0, 7, (2, 5), generator=g), 7),
            (torch.randint(0, 6, (3, 3), generator=g), 6),
            (torch.randint(0, 26, (4, 2), generator=g), 28)]


def check_one_hot_steps(my_one_hot_steps: Callable) -> CheckResult:
    """Check a learner's `one_hot_steps(X, vocab_size)` against the course's."""
    return _run(my_one_hot_steps, _check_one_hot_steps, "check_one_hot_steps(my_one_hot_steps)",
                [one_hot_steps])


def _check_one_hot_steps(fn: Callable) -> CheckResult:
    cases = _one_hot_cases()
    learner = [_call(fn, f"for X of shape {_shape(X)} and vocab_size {V}", X.clone(), V)
               for X, V in cases]
    expected = [one_hot_steps(X, V) for X, V in cases]
    if all(_same_tensor(a, b) for a, b in zip(learner, expected)):
        return _passed(fn, f"agrees with the course's one_hot_steps on {len(cases)} random "
                           "minibatches")
    mistake = _first_mistake(learner, _ONE_HOT_MISTAKES,
                             lambda variant: [variant(X, V) for X, V in cases], _same_tensor)
    if mistake is not None:
        return mistake.result()
    for (X, V), got, want in zip(cases, learner, expected):
        case = f"for X of shape {_shape(X)} and vocab_size {V}"
        if not isinstance(got, torch.Tensor):
            return _failed("wrong type", f"{_name(fn)} returned {type(got).__name__} {case}; "
                                         "return a tensor")
        if got.shape != want.shape:
            return _failed("wrong shape", f"{case} the result should have shape "
                                          f"(num_steps, batch_size, vocab_size) = {_shape(want)}, "
                                          f"got {_shape(got)} (see {_TIME_FIRST})")
        if got.dtype != want.dtype:
            return _failed("wrong dtype", f"{case} the result should be {want.dtype}, got "
                                          f"{got.dtype} (see {_TIME_FIRST})")
        if not _same_tensor(got, want):
            return _failed("wrong values", f"{case} step t should hold the one-hot vectors of "
                                           f"column t of X (see {_TIME_FIRST})")
    raise AssertionError("unreachable: some case differs")


# --- the parameters (notebook 3) --------------------------------------------------------------

_PARAM_TABLE = "the table at the top of this notebook"
_SMALL_RANDOM = _cell("Small random weights")
_WHY_RANDOM = _cell("Why random: identical units stay identical")
_GET_PARAMS_TASK = _cell("Your turn: write get_params")
# Tensors with a shape and a dtype but no values: a second device that costs nothing, so the
# check sees whether every tensor is created on (or moved to) the device it is given.
_META = torch.device("meta")


def _expected_shapes(V: int, h: int) -> list[tuple[int, ...]]:
    return [(V, h), (h, h), (h,), (h, V), (V,)]


def check_get_params(my_get_params: Callable) -> CheckResult:
    """Check a learner's `get_params(vocab_size, num_hiddens, device)`: shapes, order, leaves
    with gradients, float32, on the device given, weights drawn like the course's, biases at
    zero."""
    return _run(my_get_params, _check_get_params, "check_get_params(my_get_params)",
                [get_params])


def _check_get_params(fn: Callable) -> CheckResult:
    # The first case is large enough to measure the weights' spread; V != h everywhere, so a
    # transposed or misplaced tensor shows in its shape.
    for V, h in [(28, 64), (5, 3)]:
        case = f"for vocab_size={V}, num_hiddens={h}"
        params = _call(fn, case, V, h, CPU)
        problem = _params_problem(params, V, h, case)
        if problem is not None:
            return problem
    V, h = 5, 3
    case = f"for vocab_size={V}, num_hiddens={h}, device={_META}"
    params = _call(fn, case, V, h, _META)
    problem = _params_problem(params, V, h, case, has_values=False)
    if problem is not None:
        return problem
    elsewhere = {name: p.device for name, p in zip(PARAM_NAMES, params) if p.device != _META}
    if elsewhere:
        got = ", ".join(f"{name} on {device}" for name, device in elsewhere.items())
        return _Mistake("device ignored", "create every tensor on the device passed in "
                        "(device=device in torch.randn and torch.zeros)", _GET_PARAMS_TASK
                        ).result(f" (asked for device {_META}, got {got})")
    return _passed(fn, "gives five tensors in the course's order and shapes, float32 leaves "
                       "that require gradients, on the device it is given, weights like "
                       "randn * 0.01 and zero biases")


def _params_problem(params: Any, V: int, h: int, case: str,
                    has_values: bool = True) -> CheckResult | None:
    """What is wrong with `params` for these sizes, if anything; without values (the meta
    device) only their types, shapes, autograd flags and dtype."""
    if not isinstance(params, (list, tuple)) or not all(isinstance(p, torch.Tensor)
                                                        for p in params):
        return _failed("wrong type", f"{case} it returned {type(params).__name__}; return the "
                                     f"list [W_xh, W_hh, b_h, W_hq, b_q] (see {_PARAM_TABLE})")
    shapes = [_shape(p) for p in params]
    expected = _expected_shapes(V, h)
    if len(params) != len(expected):
        missing = [name for name, shape in zip(PARAM_NAMES, expected) if shape not in shapes]
        if missing and all(name.startswith("b_") for name in missing):
            return _Mistake("missing bias", "the hidden layer has a bias b_h and the output layer "
                            "a bias b_q, each starting at zero", _PARAM_TABLE
                            ).result(f" ({', '.join(missing)})")
        return _failed("wrong number of tensors", f"{case} it returned {len(params)} tensors, "
                       f"expected 5: W_xh, W_hh, b_h, W_hq, b_q (see {_PARAM_TABLE})")
    if shapes != expected:
        if sorted(shapes) == sorted(expected):
            return _Mistake("wrong order", "return [W_xh, W_hh, b_h, W_hq, b_q] in this order: "
                            "rnn unpacks them by position", _PARAM_TABLE).result()
        name, got, want = next((n, s, e) for n, s, e in zip(PARAM_NAMES, shapes, expected)
                               if s != e)
        if got == want[::-1]:
            return _Mistake("transposed weights", f"{name} should have shape {want} "
                            f"(rows: what the layer reads), got {got}", _PARAM_TABLE).result()
        return _failed("wrong shape", f"{case} {name} should have shape {want}, got {got} "
                                      f"(see {_PARAM_TABLE})")
    if any(p.requires_grad and not p.is_leaf for p in params):
        return _Mistake("not leaf tensors", "call requires_grad_(True) after the * 0.01 (and "
                        "after any .to(device)): torch.randn(..., requires_grad=True) * 0.01 is "
                        "the result of an operation, not a leaf tensor, and autograd leaves its "
                        ".grad at None", _GET_PARAMS_TASK).result()
    if not all(p.requires_grad for p in params):
        return _Mistake("no gradients", "call requires_grad_(True) on every tensor, biases "
                        "included, so that autograd fills in .grad", _SMALL_RANDOM).result()
    if any(p.dtype != torch.float32 for p in params):
        return _failed("wrong dtype", f"the parameters should be float32, got "
                                      f"{[str(p.dtype) for p in params]}")
    if not has_values:
        return None
    with torch.no_grad():
        if any(p.abs().max() > 0 for p in params[2::2]):
            return _Mistake("biases not zero", "create b_h and b_q with torch.zeros",
                            _SMALL_RANDOM).result()
        weights = [params[0], params[1], params[3]]
        if any(bool((w == w.flatten()[0]).all()) for w in weights):
            return _Mistake("constant weights", "draw the weights at random: units that start "
                            "equal get equal gradients and stay equal",
                            _WHY_RANDOM).result()
        if V * h < 1000:  # too few numbers to measure the spread
            return None
        for name, w in zip(("W_xh", "W_hh", "W_hq"), weights):
            mean, std = float(w.mean()), float(w.std())
            if abs(mean) > 0.003 and abs(mean) > std:
                return _Mistake("not centred on zero", "draw the weights from a normal "
                                "distribution (torch.randn), not a uniform one (torch.rand)",
                                _SMALL_RANDOM).result(f" ({name} has mean {mean:.4f})")
            if 0.7 < std < 1.3:
                return _Mistake("weights not scaled", "multiply the standard normal samples by "
                                "0.01", _SMALL_RANDOM).result(f" ({name} has std {std:.3f})")
            if not 0.008 < std < 0.012:
                return _failed("wrong scale", f"{case} {name} has standard deviation "
                               f"{std:.4f}; the course draws randn * 0.01 (see {_SMALL_RANDOM})")
    return None


# --- the RNN step (notebook 4) ----------------------------------------------------------------

_FORWARD = _cell("The forward pass over all time steps")
_BY_HAND = _cell("One step by hand")
_INITIAL_STATE = _cell("The initial state")
_WHY_TANH = _cell("Why tanh")


def _rnn_variant(*, activation=torch.tanh, hidden_bias=True, output_bias=True,
                 layout="time-major", keep_state=True, output_from_previous=False,
                 transpose_W_hh=False, update_state=True) -> Callable:
    """The course's `rnn` with one thing changed: the wrong versions the check recognises."""
    def forward(inputs, state, params):
        W_xh, W_hh, b_h, W_hq, b_q = params
        H0, = state
        H = H0 if keep_state else torch.zeros_like(H0)
        outputs = []
        for X in inputs:
            previous = H
            Z = X @ W_xh + H @ (W_hh.T if transpose_W_hh else W_hh)
            H = activation(Z + b_h if hidden_bias else Z)
            source = previous if output_from_previous else H
            outputs.append(source @ W_hq + b_q if output_bias else source @ W_hq)
        if layout == "time-major":
            Y = torch.cat(outputs, dim=0)
        elif layout == "batch-major":
            Y = torch.stack(outputs, dim=1).reshape(-1, W_hq.shape[1])
        else:  # stacked: (num_steps, batch_size, vocab_size)
            Y = torch.stack(outputs)
        return Y, ((H,) if update_state else (H0,))
    return forward


def _identity(Z: torch.Tensor) -> torch.Tensor:
    return Z


_RNN_MISTAKES = [
    (_Mistake("missing tanh", "H_t = tanh(X_t W_xh + H_{t-1} W_hh + b_h): the activation keeps "
              "the state between -1 and 1", _WHY_TANH),
     _rnn_variant(activation=_identity)),
    (_Mistake("another activation instead of tanh", "the chapter's RNN uses torch.tanh",
              _WHY_TANH), _rnn_variant(activation=torch.sigmoid)),
    (_Mistake("another activation instead of tanh", "the chapter's RNN uses torch.tanh",
              _WHY_TANH), _rnn_variant(activation=torch.relu)),
    (_Mistake("missing bias", "add b_h inside the tanh", _BY_HAND),
     _rnn_variant(hidden_bias=False)),
    (_Mistake("missing bias", "add b_q to the output scores: O_t = H_t W_hq + b_q", _BY_HAND),
     _rnn_variant(output_bias=False)),
    (_Mistake("batch-major instead of time-major outputs", "concatenate the steps' outputs "
              "with torch.cat(outputs, dim=0): row t * batch_size + b belongs to step t, "
              "sequence b", _FORWARD), _rnn_variant(layout="batch-major")),
    (_Mistake("outputs stacked, not concatenated", "torch.cat(outputs, dim=0) gives the shape "
              "(num_steps * batch_size, vocab_size) that the loss expects", _FORWARD),
     _rnn_variant(layout="stacked")),
    (_Mistake("incoming state ignored", "start the loop from the state passed in (H, = state), "
              "not from zeros: under sequential partitioning it carries the previous minibatch",
              _FORWARD), _rnn_variant(keep_state=False)),
    (_Mistake("output from the previous state", "compute O_t from the new H_t, after updating "
              "the state", _BY_HAND), _rnn_variant(output_from_previous=True)),
    (_Mistake("W_hh transposed", "multiply H_{t-1} @ W_hh, as in the equation", _BY_HAND),
     _rnn_variant(transpose_W_hh=True)),
    (_Mistake("state not returned", "return the last H as the new state, (H,), so the next call "
              "can go on from it", _FORWARD), _rnn_variant(update_state=False)),
]


def _rnn_cases() -> list[tuple[torch.Tensor, tuple[torch.Tensor], list[torch.Tensor]]]:
    """One-hot inputs, a non-zero state and parameters large enough for tanh to matter, and
    non-zero biases, so that every wrong version gives other numbers."""
    g = torch.Generator().manual_seed(SEED)
    cases = []
    for steps, batch, V, h in [(3, 2, 5, 4), (1, 3, 6, 2), (4, 1, 5, 3)]:
        inputs = one_hot_steps(torch.randint(0, V, (batch, steps), generator=g), V)
        params = [torch.randn(shape, generator=g) for shape in _expected_shapes(V, h)]
        H0 = torch.rand((batch, h), generator=g) - 0.5
        cases.append((inputs, (H0,), params))
    return cases


def _rnn_output(result: Any, fn: Callable, case: str) -> tuple[Any, Any]:
    """(outputs, H) from what an rnn returned, or a verdict on its form."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise _Verdict(_failed("wrong return value", f"{_name(fn)} returned "
                               f"{type(result).__name__} {case}; return (outputs, (H,)) "
                               f"(see {_FORWARD})"))
    Y, state = result
    if isinstance(state, torch.Tensor):
        raise _Verdict(_Mistake("state not a tuple", "return the new state as a tuple, (H,), "
                                "like init_rnn_state", _INITIAL_STATE).result())
    if not isinstance(state, (tuple, list)) or len(state) != 1:
        raise _Verdict(_failed("wrong return value", f"the state {_name(fn)} returned {case} "
                               f"should be a tuple holding one tensor, (H,) (see {_FORWARD})"))
    return Y, state[0]


def check_rnn(my_rnn: Callable) -> CheckResult:
    """Check a learner's `rnn(inputs, state, params)` against the course's."""
    return _run(my_rnn, _check_rnn, "check_rnn(my_rnn)", [rnn])


def _check_rnn(fn: Callable) -> CheckResult:
    cases = _rnn_cases()

    def describe(inputs):
        return f"for inputs of shape {_shape(inputs)}"

    learner = [_rnn_output(_call(fn, describe(inputs), inputs.clone(), (H0.clone(),),
                                 [p.clone() for p in params]), fn, describe(inputs))
               for inputs, (H0,), params in cases]

    def outputs_of(forward):
        return [_rnn_output(forward(inputs, (H0,), params), forward, "")
                for inputs, (H0,), params in cases]

    def same(a, b):
        return _same_tensor(a[0], b[0]) and _same_tensor(a[1], b[1])

    expected = outputs_of(rnn)
    if all(same(a, b) for a, b in zip(learner, expected)):
        return _passed(fn, f"agrees with the course's rnn on {len(cases)} random inputs: "
                           "outputs and the new state")
    mistake = _first_mistake(learner, _RNN_MISTAKES, outputs_of, same)
    if mistake is not None:
        return mistake.result()
    for (inputs, _, _), (Y, H), (Y_ref, H_ref) in zip(cases, learner, expected):
        case = describe(inputs)
        for what, got, want in [("outputs", Y, Y_ref), ("new state H", H, H_ref)]:
            if not isinstance(got, torch.Tensor):
                return _failed("wrong type", f"{case} the {what} should be a tensor, got "
                                             f"{type(got).__name__} (see {_FORWARD})")
            if got.shape != want.shape:
                return _failed("wrong shape", f"{case} the {what} should have shape "
                                              f"{_shape(want)}, got {_shape(got)} "
                                              f"(see {_FORWARD})")
            if not _same_tensor(got, want):
                gap = float((got.detach().double() - want.double()).abs().max())
                return _failed("wrong values", f"{case} the {what} differ from the course's rnn "
                                               f"by up to {gap:.3g}: compare your step with "
                                               f"the equations (see {_BY_HAND})")
    raise AssertionError("unreachable: some case differs")


# --- prediction (notebook 5) ------------------------------------------------------------------

_WARM_UP = _cell("The warm-up, one character at a time")


def _feed(net, token: int, state, device):
    return net(torch.tensor([[token]], device=device), state)


def _generate(net, vocab, device, state, token: int, num_preds: int) -> list[int]:
    """Greedy generation: feed `token`, append the argmax, feed it, `num_preds` times."""
    generated = []
    for _ in range(num_preds):
        y, state = _feed(net, token, state, device)
        token = int(y.argmax(dim=1)[-1])
        generated.append(token)
    return generated


def _predict_variant(mistake: str) -> Callable:
    """The book's explicit prediction loop with one thing wrong."""
    def predict(prefix, num_preds, net, vocab, device):
        tokens = vocab[list(prefix)]
        with torch.no_grad():
            state = net.begin_state(batch_size=1, device=device)
            if mistake == "no warm-up":
                return prefix + "".join(vocab.to_tokens(
                    _generate(net, vocab, device, state, tokens[-1], num_preds)))
            outputs, warm_up_predictions = [tokens[0]], []
            for token in tokens[1:]:
                y, state = _feed(net, outputs[-1], state, device)
                predicted = int(y.argmax(dim=1)[-1])
                warm_up_predictions.append(predicted)
                outputs.append(predicted if mistake == "fed its own predictions" else token)
            if mistake == "last character twice":
                _, state = _feed(net, outputs[-1], state, device)
            generated = _generate(net, vocab, device, state, outputs[-1], num_preds)
            if mistake == "only generated":
                return "".join(vocab.to_tokens(generated))
            if mistake == "warm-up predictions kept":
                outputs += warm_up_predictions
            return "".join(vocab.to_tokens(outputs + generated))
    return predict


_EMITS = _Mistake("predictions emitted during the prefix", "during the warm-up feed the "
                  "prefix's own characters and keep them; only after its last character append "
                  "the model's argmax", _WARM_UP)
_PREDICT_MISTAKES = [
    (_EMITS, _predict_variant("fed its own predictions")),
    (_EMITS, _predict_variant("warm-up predictions kept")),
    (_Mistake("no warm-up", "feed the whole prefix through the network before generating; "
              "starting from zeros with only its last character forgets the rest", _WARM_UP),
     _predict_variant("no warm-up")),
    (_Mistake("last prefix character fed twice", "the warm-up feeds every character but the "
              "last; the last one is the first input of the generation loop", _WARM_UP),
     _predict_variant("last character twice")),
    (_Mistake("prefix missing from the result", "return the prefix followed by the generated "
              "characters, as predict_ch8 does", _WARM_UP), _predict_variant("only generated")),
]
_PREDICT_CASES = [("time traveller ", 8), ("the", 6), ("t", 5), ("we said", 7)]


def _predict_net() -> tuple[RNNModelScratch, Vocab]:
    """A small random model whose greedy continuations depend on the context."""
    vocab = Vocab(list("abcdefghijklmnopqrstuvwxyz "))
    g = torch.Generator().manual_seed(SEED)
    net = RNNModelScratch(len(vocab), 16, CPU, get_params, init_rnn_state, rnn)
    net.params = [(torch.randn(_shape(p), generator=g) * 0.6).requires_grad_()
                  for p in net.params]
    return net, vocab


def check_predict_ch8(my_predict_ch8: Callable) -> CheckResult:
    """Check a learner's `predict_ch8(prefix, num_preds, net, vocab, device)` (warm-up, then
    greedy generation) against the course's, on prefixes that need no preprocessing."""
    return _run(my_predict_ch8, _check_predict_ch8, "check_predict_ch8(my_predict_ch8)",
                [predict_ch8, generate_ch8], ["predict_step_by_step"])


def _check_predict_ch8(fn: Callable) -> CheckResult:
    net, vocab = _predict_net()

    def describe(prefix, num_preds):
        return f"for prefix {prefix!r} and num_preds={num_preds}"

    learner = [_call(fn, describe(prefix, n), prefix, n, net, vocab, CPU)
               for prefix, n in _PREDICT_CASES]

    def outputs_of(predict):
        return [predict(prefix, n, net, vocab, CPU) for prefix, n in _PREDICT_CASES]

    expected = outputs_of(predict_ch8)
    if learner == expected:
        return _passed(fn, f"continues {len(expected)} prefixes exactly as the course's "
                           "predict_ch8 does (a small random model)")
    mistake = _first_mistake(learner, _PREDICT_MISTAKES, outputs_of, lambda a, b: a == b)
    if mistake is not None:
        return mistake.result()
    for (prefix, n), got, want in zip(_PREDICT_CASES, learner, expected):
        case = describe(prefix, n)
        if not isinstance(got, str):
            return _failed("wrong type", f"{case} {_name(fn)} returned {type(got).__name__}; "
                                         "return a string: ''.join(vocab.to_tokens(...))")
        if len(got) != len(want):
            return _failed("wrong length", f"{case} the result should have len(prefix) + "
                                           f"num_preds = {len(want)} characters, got {len(got)}: "
                                           f"{got!r} (see {_WARM_UP})")
        if not got.startswith(prefix):
            return _failed("prefix changed", f"{case} the result should start with the prefix, "
                                             f"got {got!r} (see {_WARM_UP})")
        if got != want:
            return _failed("wrong continuation", f"{case} the course's predict_ch8 gives "
                                                 f"{want!r}, yours {got!r}: take the argmax "
                                                 f"and feed it back (see {_WARM_UP})")
    raise AssertionError("unreachable: some case differs")


# --- gradient clipping (notebook 6) -----------------------------------------------------------

_CLIP_TOP = "the first cell of this notebook"


class _ParamsOnly:
    """The smallest stand-in for a model: `grad_clipping` only reads `net.params`."""

    def __init__(self, grads: list[torch.Tensor]) -> None:
        g = torch.Generator().manual_seed(SEED)
        self.params = [torch.randn(_shape(grad), generator=g).requires_grad_() for grad in grads]
        for param, grad in zip(self.params, grads):
            param.grad = grad.clone()


def _clip_cases() -> list[tuple[str, list[torch.Tensor], float]]:
    g = torch.Generator().manual_seed(SEED)
    random_grads = [torch.randn(shape, generator=g) for shape in _expected_shapes(5, 4)]
    t = torch.tensor
    return [("gradients (3, 4) and (0.5), θ = 1", [t([3.0, 4.0]), t([0.5])], 1.0),
            ("gradients (0.9, 0) and (0, 0.9), θ = 1", [t([0.9, 0.0]), t([0.0, 0.9])], 1.0),
            ("gradients (0.3, -0.2) and (0.1), θ = 1", [t([0.3, -0.2]), t([0.1])], 1.0),
            ("five random gradients, θ = 2", random_grads, 2.0)]


def _clip_by_value(net, theta):
    for p in net.params:
        p.grad.clamp_(-theta, theta)


def _clip_each(net, theta):
    for p in net.params:
        norm = p.grad.norm()
        if norm > theta:
            p.grad *= theta / norm


def _no_clipping(net, theta):
    return None


def _always_rescale(net, theta):
    norm = torch.sqrt(sum((p.grad ** 2).sum() for p in net.params))
    for p in net.params:
        p.grad *= theta / norm


def _no_square_root(net, theta):
    norm = sum((p.grad ** 2).sum() for p in net.params)
    if norm > theta:
        for p in net.params:
            p.grad *= theta / norm


_GLOBAL = ("compute one norm over all the gradients together, sqrt(sum of p.grad ** 2 over "
           "every p), and scale every gradient by theta / norm")
_CLIP_MISTAKES = [
    (_Mistake("per-parameter clipping", _GLOBAL + "; clipping each tensor on its own changes "
              "the direction of the step", _cell("Clipping keeps the direction")),
     _clip_each),
    (_Mistake("clipping by value", _GLOBAL + "; clamping each entry to ±θ changes the direction",
              _CLIP_TOP), _clip_by_value),
    (_Mistake("no clipping", "when the global norm exceeds θ, scale every gradient in place "
              "(param.grad[:] *= theta / norm)", _CLIP_TOP), _no_clipping),
    (_Mistake("short gradients rescaled too", "leave the gradients alone when their norm is at "
              "most θ: clipping only shortens", _CLIP_TOP), _always_rescale),
    (_Mistake("norm without the square root", "the norm is the square root of the sum of the "
              "squared gradients", _CLIP_TOP), _no_square_root),
]


def check_grad_clipping(my_grad_clipping: Callable) -> CheckResult:
    """Check a learner's `grad_clipping(net, theta)` against the course's on made-up gradients.
    Returning nothing (as the book does) or the norm before clipping (as the course does) are
    both fine."""
    return _run(my_grad_clipping, _check_grad_clipping, "check_grad_clipping(my_grad_clipping)",
                [grad_clipping])


def _clipped(clip: Callable, grads: list[torch.Tensor], theta: float, case: str | None = None):
    """(gradients after, returned value, parameters changed?) of clipping `grads` with `clip`;
    `case` describes the call when `clip` is the learner's."""
    net = _ParamsOnly(grads)
    before = [p.detach().clone() for p in net.params]
    returned = clip(net, theta) if case is None else _call(clip, case, net, theta)
    changed = any(not torch.equal(p.detach(), b) for p, b in zip(net.params, before))
    return [p.grad for p in net.params], returned, changed


def _check_grad_clipping(fn: Callable) -> CheckResult:
    cases = _clip_cases()
    learner = [_clipped(fn, grads, theta, f"for {description}")
               for description, grads, theta in cases]

    def outputs_of(clip):
        return [_clipped(clip, grads, theta) for _, grads, theta in cases]

    def same(a, b):
        return all(_same_tensor(x, y) for x, y in zip(a[0], b[0], strict=True))

    expected = outputs_of(grad_clipping)
    if any(changed for _, _, changed in learner):
        return _failed("parameters changed", "clipping changes only the gradients (p.grad), "
                                             f"never the parameters themselves (see {_CLIP_TOP})")
    if not all(same(a, b) for a, b in zip(learner, expected)):
        mistake = _first_mistake(learner, _CLIP_MISTAKES, outputs_of, same)
        if mistake is not None:
            return mistake.result()
        i = next(i for i, (a, b) in enumerate(zip(learner, expected)) if not same(a, b))
        (description, _, theta), got, (want, norm, _) = cases[i], learner[i][0], expected[i]
        if any(not isinstance(x, torch.Tensor) or x.shape != y.shape for x, y in zip(got, want)):
            return _failed("wrong shape", f"for {description} the gradients should keep their "
                                          "shapes: scale them in place")
        return _failed("wrong values", f"for {description} the global norm is {norm:.4f}, so "
                       f"every gradient should be multiplied by {min(1.0, theta / norm):.4f}; "
                       f"yours were not (see {_CLIP_TOP})")
    for (description, _, _), (_, returned, _), (_, norm, _) in zip(cases, learner, expected):
        if returned is None:
            continue
        try:
            value = float(returned)
        except (TypeError, ValueError, RuntimeError):
            value = math.nan
        if not math.isclose(value, norm, rel_tol=1e-5):
            return _Mistake("wrong return value", "return the norm before clipping, "
                            "float(norm), or nothing, as the book does",
                            _cell("The course's grad_clipping")).result(
                f" (for {description}: {value:.4f} instead of {norm:.4f})")
    return _passed(fn, f"clips like the course's grad_clipping in {len(cases)} cases: one global "
                       "norm, every gradient scaled by the same factor, short ones left alone")


# --- the state between minibatches (notebook 7) -----------------------------------------------

_HIDDEN_STATE = _cell("The hidden state between minibatches")


def _course_prepare_state(state, net, batch_size: int, device: torch.device,
                          use_random_iter: bool):
    """The state handling at the top of train_epoch_ch8's loop, as one function."""
    if state is None or use_random_iter:
        return net.begin_state(batch_size=batch_size, device=device)
    detach_state(state)
    return state


def _state_net() -> RNNModelScratch:
    g = torch.Generator().manual_seed(SEED)
    net = RNNModelScratch(5, 4, CPU, get_params, init_rnn_state, rnn)
    net.params = [(torch.randn(_shape(p), generator=g) * 0.5).requires_grad_()
                  for p in net.params]
    return net


def _state_after_a_minibatch(net: RNNModelScratch, batch_size: int) -> tuple[torch.Tensor]:
    """The state a minibatch leaves, still attached to the graph that computed it."""
    g = torch.Generator().manual_seed(SEED + 1)
    X = torch.randint(0, net.vocab_size, (batch_size, 3), generator=g)
    return net(X, net.begin_state(batch_size, CPU))[1]


def check_prepare_state(my_prepare_state: Callable) -> CheckResult:
    """Check a learner's `prepare_state(state, net, batch_size, device, use_random_iter)`: the
    state a minibatch of one training epoch starts from."""
    return _run(my_prepare_state, _check_prepare_state,
                "check_prepare_state(my_prepare_state)")


def _check_prepare_state(fn: Callable) -> CheckResult:
    net, batch_size = _state_net(), 3
    cases = [("the first minibatch of an epoch, sequential partitioning", False, False),
             ("a later minibatch, sequential partitioning", True, False),
             ("the first minibatch of an epoch, random sampling", False, True),
             ("a later minibatch, random sampling", True, True)]
    for description, later, use_random_iter in cases:
        previous = _state_after_a_minibatch(net, batch_size) if later else None
        values = previous[0].detach().clone() if later else None
        result = _call(fn, f"for {description} (state={'the previous state' if later else None}"
                           f", use_random_iter={use_random_iter})",
                       previous, net, batch_size, CPU, use_random_iter)
        H = _state_tensor(result, fn, description)
        if H.shape != (batch_size, net.num_hiddens):
            return _failed("wrong shape", f"for {description} the state should have shape "
                           f"(batch_size, num_hiddens) = {(batch_size, net.num_hiddens)}, got "
                           f"{_shape(H)}")
        is_zero = not bool(H.detach().abs().max() > 0)
        if later and not use_random_iter:
            if is_zero:
                return _Mistake("state re-initialised every minibatch under sequential "
                                "partitioning", "only the first minibatch of an epoch starts "
                                "from begin_state; later ones go on from the previous state, "
                                "detached", _HIDDEN_STATE).result()
            if not torch.allclose(H.detach(), values):
                return _failed("state values changed", f"for {description} keep the previous "
                               f"state's values; detach only cuts its history (see "
                               f"{_HIDDEN_STATE})")
            if H.requires_grad or H.grad_fn is not None:
                return _Mistake("state not detached", "detach the carried state (detach_state("
                                "state), or tuple(s.detach() for s in state)); otherwise every "
                                "minibatch's graph hangs on to all the earlier ones, so the graph "
                                "keeps growing and the next backward pass fails",
                                _HIDDEN_STATE).result()
        elif not is_zero:
            if use_random_iter and later and torch.allclose(H.detach(), values):
                return _Mistake("state carried over under random sampling", "random sampling's "
                                "minibatches are unrelated: start every one from "
                                "net.begin_state(...)", _HIDDEN_STATE).result()
            return _failed("wrong initial state", f"for {description} the state should be "
                           f"net.begin_state(batch_size, device), all zeros (see {_HIDDEN_STATE})")
    return _passed(fn, "starts each epoch (and, under random sampling, each minibatch) from "
                       "begin_state, and carries the state detached under sequential "
                       "partitioning")


def _state_tensor(result: Any, fn: Callable, description: str) -> torch.Tensor:
    if isinstance(result, torch.Tensor):
        raise _Verdict(_Mistake("state not a tuple", "return the state as the tuple begin_state "
                                "gives, (H,)", _HIDDEN_STATE).result())
    if not isinstance(result, (tuple, list)) or len(result) != 1 \
            or not isinstance(result[0], torch.Tensor):
        raise _Verdict(_failed("wrong return value", f"for {description} {_name(fn)} returned "
                               f"{type(result).__name__}; return the state, a tuple holding one "
                               f"tensor (see {_HIDDEN_STATE})"))
    return result[0]


# --- the loss of a minibatch (notebook 7) -----------------------------------------------------

_ONE_EPOCH = _cell("One epoch")


def _course_minibatch_loss(net, X, Y, state):
    """train_epoch_ch8's forward pass and loss: time-major targets, the mean cross-entropy of
    the raw scores."""
    y_hat, state = net(X, state)
    return nn.functional.cross_entropy(y_hat, Y.T.reshape(-1)), state


def _loss_variant(*, softmax=False, targets="time-major", reduction="mean",
                  new_state=True) -> Callable:
    def minibatch_loss(net, X, Y, state):
        y_hat, new = net(X, state)
        scores = torch.softmax(y_hat, dim=1) if softmax else y_hat
        y = Y.T.reshape(-1) if targets == "time-major" else Y.reshape(-1)
        return nn.functional.cross_entropy(scores, y, reduction=reduction), \
            (new if new_state else state)
    return minibatch_loss


_LOSS_MISTAKES = [
    (_Mistake("softmax before the loss", "give CrossEntropyLoss the raw scores (logits): it "
              "applies log-softmax itself", _ONE_EPOCH), _loss_variant(softmax=True)),
    (_Mistake("batch-major instead of time-major targets", "the outputs of rnn are time-major, "
              "so the targets must be too: Y.T.reshape(-1)", _ONE_EPOCH),
     _loss_variant(targets="batch-major")),
    (_Mistake("summed instead of mean loss", "use the mean over all predicted characters "
              "(CrossEntropyLoss's default): the update divides by batch_size=1", _ONE_EPOCH),
     _loss_variant(reduction="sum")),
    (_Mistake("old state returned", "return the state the network gives back, so the next "
              "minibatch goes on from it", _ONE_EPOCH), _loss_variant(new_state=False)),
]


def _loss_cases(net: RNNModelScratch):
    g = torch.Generator().manual_seed(SEED)
    V, h = net.vocab_size, net.num_hiddens
    return [(torch.randint(0, V, (3, 4), generator=g), torch.randint(0, V, (3, 4), generator=g),
             (torch.zeros(3, h),)),
            (torch.randint(0, V, (2, 5), generator=g), torch.randint(0, V, (2, 5), generator=g),
             (torch.rand((2, h), generator=g) - 0.5,))]


def check_minibatch_loss(my_minibatch_loss: Callable) -> CheckResult:
    """Check a learner's `minibatch_loss(net, X, Y, state)`: the forward pass and the mean
    cross-entropy of one minibatch, returned as (loss, new state)."""
    return _run(my_minibatch_loss, _check_minibatch_loss,
                "check_minibatch_loss(my_minibatch_loss)")


def _loss_output(result: Any, fn: Callable, case: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise _Verdict(_failed("wrong return value", f"{case} {_name(fn)} returned "
                               f"{type(result).__name__}; return (loss, state)"))
    loss, state = result
    if not isinstance(loss, torch.Tensor):
        raise _Verdict(_Mistake("loss is not a tensor", "return the loss tensor itself, not "
                                ".item(): backward() needs it", _ONE_EPOCH).result())
    if loss.numel() != 1:
        raise _Verdict(_Mistake("loss not averaged", "reduce the per-character losses to their "
                                "mean, one number per minibatch", _ONE_EPOCH
                                ).result(f" (got shape {_shape(loss)})"))
    if not loss.requires_grad:
        raise _Verdict(_Mistake("loss without a graph", "compute the loss from the network's "
                                "outputs, outside torch.no_grad() and without .detach(), so that "
                                "backward() can reach the parameters", _ONE_EPOCH).result())
    if not isinstance(state, (tuple, list)) or len(state) != 1 \
            or not isinstance(state[0], torch.Tensor):
        raise _Verdict(_failed("wrong return value", f"{case} the state should be the tuple "
                               "the network returns, (H,)"))
    return loss.reshape(()), state[0]


def _check_minibatch_loss(fn: Callable) -> CheckResult:
    net = _state_net()
    cases = _loss_cases(net)

    def describe(X):
        return f"for a minibatch of shape {_shape(X)}"

    learner = [_loss_output(_call(fn, describe(X), net, X.clone(), Y.clone(),
                                  (H0.clone(),)), fn, describe(X))
               for X, Y, (H0,) in cases]

    def outputs_of(minibatch_loss):
        return [_loss_output(minibatch_loss(net, X, Y, (H0,)), minibatch_loss, "")
                for X, Y, (H0,) in cases]

    def same(a, b):
        return (_same_tensor(a[0].float(), b[0].float())
                and _same_tensor(a[1], b[1]))

    expected = outputs_of(_course_minibatch_loss)
    if all(same(a, b) for a, b in zip(learner, expected)):
        return _passed(fn, f"gives the course's loss and new state on {len(cases)} random "
                           "minibatches")
    mistake = _first_mistake(learner, _LOSS_MISTAKES, outputs_of, same)
    if mistake is not None:
        return mistake.result()
    (X, _, _), got, want = next((c, a, b) for c, a, b in zip(cases, learner, expected)
                                if not same(a, b))
    if not _same_tensor(got[0].float(), want[0].float()):
        return _failed("wrong values", f"{describe(X)} the loss should be {float(want[0]):.4f}, "
                                       f"got {float(got[0]):.4f} (see {_ONE_EPOCH})")
    return _failed("wrong state", f"{describe(X)} the state returned differs from the one the "
                                  f"network gives back (see {_ONE_EPOCH})")


# --- the perplexity of an epoch (notebook 7) --------------------------------------------------

_PERPLEXITY = _cell("Perplexity")


def _course_epoch_perplexity(losses: list[float], num_tokens: list[int]) -> float:
    """train_epoch_ch8's bookkeeping: each minibatch's mean loss weighted by its tokens."""
    total = sum(loss * n for loss, n in zip(losses, num_tokens))
    return perplexity_from_loss(total / sum(num_tokens))


_SUMMED = _Mistake("exp of the summed loss", "divide the total loss by the number of "
                   "predicted characters before taking exp: perplexity is exp of the mean",
                   _PERPLEXITY)
_PERPLEXITY_MISTAKES = [
    (_SUMMED, lambda losses, num_tokens: math.exp(sum(losses))),
    (_SUMMED, lambda losses, num_tokens: math.exp(sum(l * n for l, n in zip(losses, num_tokens)))),
    (_Mistake("minibatches not weighted by their tokens", "weight each minibatch's mean loss by "
              "its number of tokens, then divide by the total number of tokens", _ONE_EPOCH),
     lambda losses, num_tokens: math.exp(sum(losses) / len(losses))),
    (_Mistake("mean of the perplexities", "average the losses first, then take exp once; the "
              "mean of exp is not exp of the mean", _PERPLEXITY),
     lambda losses, num_tokens: sum(math.exp(l) * n for l, n in zip(losses, num_tokens))
     / sum(num_tokens)),
    (_Mistake("no exp", "perplexity is exp of the mean cross-entropy, not the mean itself",
              _PERPLEXITY),
     lambda losses, num_tokens: sum(l * n for l, n in zip(losses, num_tokens)) / sum(num_tokens)),
    (_Mistake("base 2 instead of e", "the cross-entropy is in nats (natural log), so take "
              "math.exp, not 2 ** ...", _PERPLEXITY),
     lambda losses, num_tokens: 2 ** (sum(l * n for l, n in zip(losses, num_tokens))
                                      / sum(num_tokens))),
]
_PERPLEXITY_CASES = [([2.0, 1.0, 0.5], [10, 10, 10]), ([3.2, 0.4], [20, 5]),
                     ([math.log(28)], [35]), ([0.0, 0.0], [4, 4]), ([1.3, 2.1, 0.7], [7, 3, 11])]


def check_epoch_perplexity(my_epoch_perplexity: Callable) -> CheckResult:
    """Check a learner's `epoch_perplexity(losses, num_tokens)`: the perplexity of an epoch from
    each minibatch's mean loss and its number of predicted tokens."""
    return _run(my_epoch_perplexity, _check_epoch_perplexity,
                "check_epoch_perplexity(my_epoch_perplexity)")


def _as_number(value: Any, fn: Callable, case: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        raise _Verdict(_failed("wrong type", f"{case} {_name(fn)} returned "
                                             f"{type(value).__name__}; return a number")) from None


def _check_epoch_perplexity(fn: Callable) -> CheckResult:
    def describe(losses, num_tokens):
        return f"for losses {losses} over {num_tokens} tokens"

    learner = [_as_number(_call(fn, describe(*case), list(case[0]), list(case[1])), fn,
                          describe(*case)) for case in _PERPLEXITY_CASES]

    def outputs_of(perplexity):
        return [perplexity(*case) for case in _PERPLEXITY_CASES]

    def same(a, b):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)

    expected = outputs_of(_course_epoch_perplexity)
    if all(same(a, b) for a, b in zip(learner, expected)):
        return _passed(fn, f"agrees with the course on {len(expected)} made-up epochs, uniform "
                           "guessing (28) and a perfect model (1) among them")
    mistake = _first_mistake(learner, _PERPLEXITY_MISTAKES, outputs_of, same)
    if mistake is not None:
        return mistake.result()
    case, got, want = next((c, a, b) for c, a, b in zip(_PERPLEXITY_CASES, learner, expected)
                           if not same(a, b))
    return _failed("wrong values", f"{describe(*case)} the perplexity is {want:.4f}, got "
                                   f"{got:.4f} (see {_PERPLEXITY})")
