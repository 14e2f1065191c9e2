"""One-hot encoding (notebook 2): time-major float inputs."""
import torch

import chapter_rnn as crnn


def test_one_hot_steps_is_time_major():
    X = torch.tensor([[1, 2, 3], [4, 5, 6]])
    inputs = crnn.one_hot_steps(X, 8)
    assert inputs.shape == (3, 2, 8) and inputs.dtype == torch.float32
    assert inputs.argmax(dim=2).tolist() == X.T.tolist()
