"""Shared fixtures: a tiny trained-or-not model and a short corpus keep the unit tests fast."""
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))  # tests use the repo's tools (course.py, sync_package.py)

import chapter_rnn as crnn  # noqa: E402


@pytest.fixture
def vocab():
    return crnn.load_corpus_time_machine()[1]


@pytest.fixture
def small_net(vocab):
    crnn.set_seed(0)
    return crnn.RNNModelScratch(len(vocab), 16, torch.device("cpu"), crnn.get_params,
                                crnn.init_rnn_state, crnn.rnn)
