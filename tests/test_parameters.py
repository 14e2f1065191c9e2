"""Parameters (notebook 3): shapes, initialisation, sizes checked up front; the device."""
import pytest
import torch

import chapter_rnn as crnn


def test_params_have_the_books_shapes_and_need_gradients():
    crnn.set_seed(0)
    params = crnn.get_params(28, 512, torch.device("cpu"))
    assert [tuple(p.shape) for p in params] == [(28, 512), (512, 512), (512,), (512, 28), (28,)]
    assert all(p.requires_grad for p in params)
    assert float(params[1].detach().std()) == pytest.approx(0.01, rel=0.05)
    assert not params[2].any() and not params[4].any()


@pytest.mark.parametrize("vocab_size, num_hiddens", [(0, 8), (28, 0), (28, -3)])
def test_non_positive_sizes_fail_up_front(vocab_size, num_hiddens):
    with pytest.raises(ValueError, match="must be positive"):
        crnn.get_params(vocab_size, num_hiddens, torch.device("cpu"))


def test_try_gpu_falls_back_to_the_cpu():
    expected = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert str(crnn.try_gpu()) == expected
    assert str(crnn.try_gpu(99)) == "cpu"
