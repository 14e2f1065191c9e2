"""bench/compile_lever.py: eager against compiled, at a tiny size and with dynamo's "eager"
backend (traced by torch.compile, no C++ compiler needed). No timing is checked here."""
import importlib.util

import pytest

from paths import ROOT


@pytest.fixture(scope="module")
def lever():
    spec = importlib.util.spec_from_file_location("compile_lever",
                                                  ROOT / "bench" / "compile_lever.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def measured(lever):
    return lever.compare(1, rounds=2, backend="eager", num_hiddens=16, max_tokens=2000)


def test_the_compiled_minibatch_gives_the_eager_gradients(measured):
    assert measured["largest_gradient_difference"] == 0
    assert measured["loss_difference"] == 0


def test_both_versions_call_every_product_of_the_minibatch(lever, measured):
    steps = lever.NUM_STEPS
    # forward: one per step and the output layer; backward: dW_hq, the gradient reaching H,
    # steps - 1 through W_hh and dW_hh
    expected = steps + 1 + 2 + (steps - 1) + 1
    assert measured["products_eager"] == measured["products_compiled"] == expected


def test_every_minibatch_is_timed_in_both_versions(measured):
    for name in ["eager", "compiled"]:
        assert 0 < measured[f"{name}_fastest_ms"] <= measured[f"{name}_median_ms"]


def test_the_table_has_one_line_per_thread_setting(lever, measured):
    lines = lever.compile_table([measured, dict(measured, threads=2)]).splitlines()
    assert len(lines) == 3 and lines[1].split()[0] == "1" and lines[2].split()[0] == "2"
