"""The training dashboard: plain lines headless, widgets that work even outside a kernel."""
import subprocess
import sys

import pytest
import torch

import chapter_rnn as crnn
from chapter_rnn import dashboard

CPU = torch.device("cpu")


def tiny(seed=0):
    crnn.set_seed(seed)
    train_iter, vocab = crnn.load_data_time_machine(4, 5, max_tokens=300)
    net = crnn.RNNModelScratch(len(vocab), 16, CPU, crnn.get_params, crnn.init_rnn_state,
                               crnn.rnn)
    return net, train_iter, vocab


def test_format_duration():
    assert crnn.format_duration(42.4) == "42s"
    assert crnn.format_duration(185) == "3m05s"
    assert crnn.format_duration(3720) == "1h02m"
    assert crnn.format_duration(-3) == "0s"


def test_status_line_estimates_the_time_left():
    history = crnn.TrainingHistory(device="cpu")
    history.record(10, 8.214, 24800.0, [1.0])
    # 10 epochs done in 20 s (starting from 0), 40 to go: 80 s left
    assert (crnn.status_line(history, 0, 50, 20.0)
            == "epoch 10/50, perplexity 8.21, 24,800 tokens/s, 1m20s left")


def test_throttle():
    throttle = crnn.Throttle(2.0)
    assert throttle.due(100.0)
    assert not throttle.due(101.0)
    assert throttle.due(101.5, force=True)
    assert not throttle.due(103.0)
    assert throttle.due(103.6)


def test_perplexity_png():
    png = crnn.perplexity_png([1, 2, 3], {"train": [9.0, 5.0, 3.0], "validation": []}, "t", 10)
    assert png.startswith(b"\x89PNG")


def test_headless_chooses_plain_text(monkeypatch):
    monkeypatch.setenv("CHAPTER_RNN_HEADLESS", "1")
    assert not crnn.live_frontend()
    assert isinstance(crnn.make_dashboard("x"), crnn.TextDashboard)
    assert isinstance(crnn.make_dashboard("x", live=True), crnn.LiveDashboard)


def test_text_dashboard_prints_about_ten_lines(capsys):
    board, history = crnn.TextDashboard("test"), crnn.TrainingHistory(device="cpu")
    board.start(0, 30)
    for epoch in range(1, 31):
        history.record(epoch, 30.0 / epoch, 1000.0, [1.0])
        board.epoch_end(history, lambda: "time traveller")
    board.close(history)  # outside IPython: no image, no "<IPython.core.display.Image ...>"
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 10
    assert lines[-1].startswith("epoch 30/30, perplexity ")
    assert lines[0].startswith("epoch 3/30, perplexity 10.00, 1,000 tokens/s, ")
    assert lines[0].endswith(" left | time traveller")


def test_live_dashboard_outside_a_kernel_trains_and_can_stop(capsys):
    net, train_iter, vocab = tiny()
    board = crnn.LiveDashboard("test")
    board.start(0, 3)
    assert board._poll is None and not board.stop_requested()  # no kernel: polling is a no-op
    history = crnn.TrainingHistory(device="cpu")
    history.record(1, 20.0, 1000.0, [1.0])
    board.epoch_end(history, lambda: "time traveller <b>")
    assert board.progress.value == 1 and board.status.value.startswith("epoch 1/3")
    assert bytes(board.plot.value).startswith(b"\x89PNG")
    assert board.sample.value == "<code>time traveller &lt;b&gt;</code>"
    board.stop_button.click()
    assert board.stop_requested() and board.stop_button.disabled
    board.close(history)
    assert capsys.readouterr().out == ""  # nothing displayed outside a kernel


def test_stop_button_ends_training_and_training_continues(monkeypatch, capsys):
    net, train_iter, vocab = tiny()
    boards = []
    original = dashboard.LiveDashboard.stop_requested

    def click_during_epoch_2(self):
        boards.append(self)
        if self.progress.value == 1:
            self.stop_button.click()
        return original(self)

    monkeypatch.setattr(dashboard.LiveDashboard, "stop_requested", click_during_epoch_2)
    history = crnn.train_ch8(net, train_iter, vocab, 1.0, 4, CPU, dashboard=True)
    assert history.epochs == [1] and "stopped during epoch 2" in history.stopped
    monkeypatch.setattr(dashboard.LiveDashboard, "stop_requested", original)
    history = crnn.train_ch8(net, train_iter, vocab, 1.0, 4, CPU, history=history,
                             dashboard=True)
    assert history.epochs == [1, 2, 3, 4] and history.stopped is None


def test_plain_python_process_with_live_dashboard_is_clean():
    code = ("import torch, chapter_rnn as c\n"
            "c.set_seed(0)\n"
            "it, v = c.load_data_time_machine(4, 5, max_tokens=300)\n"
            "net = c.RNNModelScratch(len(v), 8, torch.device('cpu'), c.get_params,"
            " c.init_rnn_state, c.rnn)\n"
            "h = c.train_ch8(net, it, v, 1.0, 2, torch.device('cpu'), dashboard=True)\n"
            "assert h.epochs == [1, 2]\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "IProgress" not in done.stderr + done.stdout and "VBox" not in done.stdout
    assert done.stdout.splitlines()[0].startswith("perplexity ")
