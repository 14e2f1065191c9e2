"""Gradient clipping (notebook 6): one global norm, direction kept."""
import math

import pytest
import torch

import chapter_rnn as crnn


def test_grad_clipping_projects_onto_the_ball():
    class Net:
        params = [torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)]

    net = Net()
    net.params[0].grad = torch.tensor([3.0, 0.0])
    net.params[1].grad = torch.tensor([4.0])
    assert crnn.grad_clipping(net, 1.0) == pytest.approx(5.0)
    assert net.params[0].grad.tolist() == pytest.approx([0.6, 0.0])
    assert net.params[1].grad.tolist() == pytest.approx([0.8])
    assert crnn.grad_clipping(net, 10.0) == pytest.approx(1.0)  # small: left alone
    assert net.params[1].grad.tolist() == pytest.approx([0.8])
    assert crnn.grad_clipping(net, math.inf) == pytest.approx(1.0)
