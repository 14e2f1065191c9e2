"""The training dashboard: plain lines headless, widgets that work even outside a kernel."""
import contextlib
import re
import subprocess
import sys
import types

import pytest
import torch

import chapter_rnn as crnn
from chapter_rnn import dashboard

CPU = torch.device("cpu")


def test_only_what_a_learner_calls_is_in_the_flat_namespace():
    assert dashboard.__all__ == ["make_dashboard"]
    assert crnn.make_dashboard is dashboard.make_dashboard
    for internal in ("Throttle", "status_line", "format_duration", "perplexity_png",
                     "LiveDashboard", "TextDashboard"):
        assert not hasattr(crnn, internal), internal


def test_format_duration():
    assert dashboard.format_duration(42.4) == "42s"
    assert dashboard.format_duration(185) == "3m05s"
    assert dashboard.format_duration(3720) == "1h02m"
    assert dashboard.format_duration(-3) == "0s"


def test_status_line_estimates_the_time_left():
    history = crnn.TrainingHistory(device="cpu")
    history.record(10, 8.214, 24800.0, [1.0])
    # 10 epochs done in 20 s (starting from 0), 40 to go: 80 s left
    assert (dashboard.status_line(history, 0, 50, 20.0)
            == "epoch 10/50, perplexity 8.21, 24,800 tokens/s, 1m20s left")


def test_status_line_shows_the_latest_validation_perplexity_and_its_epoch():
    history = crnn.TrainingHistory(device="cpu")
    for epoch in (1, 2, 3):
        history.record(epoch, 10.0 - epoch, 1000.0, [1.0])
    history.record_valid(2, 8.5)
    assert dashboard.status_line(history, 0, 10, 3.0).endswith(
        "7s left, validation perplexity 8.50 (epoch 2)")
    history.record(4, 6.0, 1000.0, [1.0])
    history.record_valid(4, 7.25)
    assert dashboard.status_line(history, 0, 10, 4.0).endswith(
        ", validation perplexity 7.25")


def test_throttle():
    throttle = dashboard.Throttle(2.0)
    assert throttle.due(100.0)
    assert not throttle.due(101.0)
    assert throttle.due(101.5, force=True)
    assert not throttle.due(103.0)
    assert throttle.due(103.6)


def test_perplexity_png():
    png = dashboard.perplexity_png({"train": ([1, 2, 3], [9.0, 5.0, 3.0]),
                                    "validation": ([], [])}, "t", 10)
    assert png.startswith(b"\x89PNG")


def test_perplexity_is_plotted_on_a_log_scale(monkeypatch):
    from matplotlib.axes import Axes

    scales = []
    original = Axes.set_yscale
    monkeypatch.setattr(Axes, "set_yscale",
                        lambda self, value, **kw: (scales.append(value),
                                                   original(self, value, **kw)))
    dashboard.perplexity_png({"train": ([1, 2, 3], [27.0, 5.0, 1.2])}, "t", 10)
    assert scales == ["log"]


def test_plots_validation_against_the_epochs_where_it_was_evaluated(monkeypatch):
    history = crnn.TrainingHistory(device="cpu")
    for epoch in range(1, 7):
        history.record(epoch, 20.0 / epoch, 1000.0, [1.0])
        if epoch % 3 == 0:
            history.record_valid(epoch, 30.0 / epoch)
    curves = dashboard.history_curves(history)
    assert curves == {"train": ([1, 2, 3, 4, 5, 6], [20.0 / e for e in range(1, 7)]),
                      "validation": ([3, 6], [10.0, 5.0])}
    plotted = {}
    from matplotlib.axes import Axes

    original = Axes.plot

    def recording_plot(self, x, y, *args, label=None, **kwargs):
        plotted[label] = (list(x), list(y))
        return original(self, x, y, *args, label=label, **kwargs)

    monkeypatch.setattr(Axes, "plot", recording_plot)
    dashboard.perplexity_png(curves, "t", 10)
    assert plotted == {"train": curves["train"], "validation": ([3, 6], [10.0, 5.0])}
    del history.valid_epochs[:], history.valid_perplexity[:]  # no validation text given
    assert list(dashboard.history_curves(history)) == ["train"]


def test_headless_chooses_plain_text(monkeypatch):
    monkeypatch.setenv("CHAPTER_RNN_HEADLESS", "1")
    assert not dashboard.live_frontend()
    assert isinstance(crnn.make_dashboard("x"), dashboard.TextDashboard)
    assert isinstance(crnn.make_dashboard("x", live=True), dashboard.LiveDashboard)


def test_text_dashboard_prints_about_ten_lines(capsys):
    board, history = dashboard.TextDashboard("test"), crnn.TrainingHistory(device="cpu")
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


def test_live_dashboard_escapes_the_sample():
    board = dashboard.LiveDashboard("test")
    board.start(0, 3)
    history = crnn.TrainingHistory(device="cpu")
    history.record(1, 20.0, 1000.0, [1.0])
    board.epoch_end(history, lambda: "time traveller <b>")
    assert board.sample.value == "<code>time traveller &lt;b&gt;</code>"
    board.close(history)


def test_in_a_kernel_clicks_are_polled_from_start_to_close(monkeypatch):
    import IPython
    import IPython.display
    import jupyter_ui_poll

    events, shown = [], []

    @contextlib.contextmanager
    def ui_events():
        events.append("enter")
        try:
            yield lambda n: events.append(f"poll {n}")
        finally:
            events.append("exit")

    kernel = types.SimpleNamespace(do_one_iteration=lambda: None)  # ipykernel < 7 has the hook
    monkeypatch.setattr(dashboard, "_in_kernel", lambda: True)
    monkeypatch.setattr(IPython, "get_ipython", lambda: types.SimpleNamespace(kernel=kernel))
    monkeypatch.setattr(IPython.display, "display", shown.append)
    monkeypatch.setattr(jupyter_ui_poll, "ui_events", ui_events)
    board = dashboard.LiveDashboard("test")
    assert shown == [board.box]
    board.start(0, 2)
    assert events == ["enter"]
    assert not board.stop_requested() and events == ["enter", "poll 10"]
    board.close(crnn.TrainingHistory(device="cpu"))  # e.g. stopped before an epoch completed
    assert events == ["enter", "poll 10", "exit"] and board._poll is None
    assert shown == [board.box]  # no final plot without a completed epoch


def test_on_ipykernel_7_subshells_take_the_click_and_polling_stays_off(monkeypatch):
    import IPython
    import IPython.display
    import jupyter_ui_poll

    subshells = []
    manager = types.SimpleNamespace(list_subshell=lambda: list(subshells))
    kernel = types.SimpleNamespace(shell_channel_thread=types.SimpleNamespace(manager=manager))
    monkeypatch.setattr(dashboard, "_in_kernel", lambda: True)
    monkeypatch.setattr(IPython, "get_ipython", lambda: types.SimpleNamespace(kernel=kernel))
    monkeypatch.setattr(IPython.display, "display", lambda *_: None)
    monkeypatch.setattr(jupyter_ui_poll, "ui_events", lambda: pytest.fail("polled ipykernel 7"))
    board, history = dashboard.LiveDashboard("test"), crnn.TrainingHistory(device="cpu")
    board._status_throttle = dashboard.Throttle(0)  # every epoch updates the status
    board.start(0, 4)
    assert not board.stop_requested() and board._poll is None
    history.record(1, 9.0, 1000.0, [1.0])
    board.epoch_end(history, lambda: "x")  # no subshell yet: the front end cannot reach Stop
    assert board.status.value.endswith(f"({dashboard.STOP_FALLBACK})")
    subshells.append("a3f")  # JupyterLab opened one for its widget messages
    history.record(2, 8.0, 1000.0, [1.0])
    board.epoch_end(history, lambda: "x")
    assert board.status.value.startswith("epoch 2/4") and "interrupt" not in board.status.value
    board.stop_button.click()  # what the subshell's thread does with the click
    assert board.stop_requested()
    board.close(history)


def test_stop_button_messages_stay_on_the_subshell_they_were_sent_to():
    class Ipykernel74Comm:
        """Routes every front-end message to the shell that last sent on the comm."""

        def _reply_subshell_for(self, data, default):
            return None  # the main shell, busy with the training cell

    button = types.SimpleNamespace(comm=Ipykernel74Comm())
    dashboard._handle_where_sent(button)
    assert button.comm._reply_subshell_for({"method": "custom"}, "a3f") == "a3f"
    assert button.comm._reply_subshell_for({}, None) is None
    dashboard._handle_where_sent(types.SimpleNamespace(comm=None))  # closed: nothing to do


KERNEL_CLICK = """
import threading, time
from chapter_rnn import dashboard
board = dashboard.LiveDashboard("test")
board.start(0, 1)
started, handled_on = time.monotonic(), []
board.stop_button.on_click(lambda _: handled_on.append(threading.current_thread().name))
print(board.stop_button.comm.comm_id, flush=True)
while not handled_on and time.monotonic() - started < 30:
    time.sleep(0.01)
print("stopped:", board.stop_requested(), "after", round(time.monotonic() - started), "s on",
      handled_on)
"""


def test_a_click_sent_to_a_subshell_stops_a_busy_ipykernel_7():
    """The real kernel: the cell makes the dashboard and stays busy until Stop is clicked; the
    click goes to a subshell, as JupyterLab sends it (ipykernel 7 only)."""
    ipykernel = pytest.importorskip("ipykernel")
    if int(ipykernel.__version__.split(".")[0]) < 7:
        pytest.skip(f"ipykernel {ipykernel.__version__} has no subshells (jupyter_ui_poll path)")
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    try:
        client.control_channel.send(client.session.msg("create_subshell_request", {}))
        subshell = client.control_channel.get_msg(timeout=30)["content"]["subshell_id"]
        cell = client.execute(KERNEL_CLICK)
        comm_id = None
        while comm_id is None:
            message = client.get_iopub_msg(timeout=60)
            if message["msg_type"] == "error":
                pytest.fail("\n".join(message["content"]["traceback"]))
            if message["msg_type"] == "stream":
                comm_id = message["content"]["text"].strip()
        click = client.session.msg("comm_msg", {"comm_id": comm_id, "data": {
            "method": "custom", "content": {"event": "click"}}})
        click["header"]["subshell_id"] = subshell
        client.shell_channel.send(click)
        reply = client.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != cell:
            reply = client.get_shell_msg(timeout=60)
        output = ""
        while True:
            message = client.get_iopub_msg(timeout=10)
            if message["msg_type"] == "stream":
                output += message["content"]["text"]
            if (message["parent_header"].get("msg_id") == cell
                    and message["content"].get("execution_state") == "idle"):
                break
        assert re.search(r"stopped: True after [0-2] s on \['subshell-", output), output
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


class ClickStopBefore:
    """A train_iter that clicks the live dashboard's Stop button just before handing out
    minibatch `click_at` (counted over all epochs), as a person would while it trains."""

    def __init__(self, batches, click_at: int, boards: list) -> None:
        self.batches, self.click_at, self.boards, self.handed_out = batches, click_at, boards, 0

    def __iter__(self):
        for batch in self.batches:
            self.handed_out += 1
            if self.handed_out == self.click_at:
                self.boards[-1].stop_button.click()
            yield batch


def test_live_dashboard_outside_a_kernel_trains_and_can_stop(make_iter, small_net, vocab,
                                                             monkeypatch, capsys):
    boards, made = [], dashboard.LiveDashboard.__init__

    def remember_board(self, title):
        made(self, title)
        boards.append(self)

    monkeypatch.setattr(dashboard.LiveDashboard, "__init__", remember_board)
    batches = make_iter(max_tokens=50)  # two minibatches an epoch
    assert len(list(batches)) == 2
    before = [p.detach().clone() for p in small_net.params]
    train_iter = ClickStopBefore(batches, click_at=3, boards=boards)  # epoch 2, minibatch 1

    history = crnn.train_ch8(small_net, train_iter, vocab, 1.0, 5, CPU, dashboard=True)

    (board,) = boards
    assert board._poll is None  # outside a kernel: nothing to poll, clicks arrive directly
    assert train_iter.handed_out == 3  # the minibatch in progress finished, no other began
    assert history.epochs == [1] and "stopped during epoch 2" in history.stopped
    assert not any(torch.equal(a, b.detach()) for a, b in zip(before, small_net.params))
    # epoch 1 reached the widgets: progress, status, plot and sample
    assert board.progress.value == 1 and board.status.value.startswith("epoch 1/5, perplexity")
    assert bytes(board.plot.value).startswith(b"\x89PNG")
    assert board.sample.value.startswith("<code>time traveller")
    assert board.stop_button.disabled and board.stop_button.description == "Stopping..."
    assert board.box.comm is None  # closed: no widget left behind
    out = capsys.readouterr().out  # only the run's own report: no widget was displayed
    assert out.startswith("Training was stopped during epoch 2") and "VBox" not in out
    assert "no epoch completed" not in out and "after 1 epochs" in out


def test_stop_button_ends_training_and_training_continues(small_net, make_iter, vocab,
                                                          monkeypatch, capsys):
    net, train_iter = small_net, make_iter(max_tokens=50)
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
    monkeypatch.undo()  # the real stop_requested again: no click this time
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


@pytest.mark.parametrize("value, label", [(2.0, "2"), (30.0, "30"), (0.5, "0.5"), (7.0, ""),
                                          (4.0, ""), (0.0, "")])
def test_only_2_3_and_5_label_the_minor_log_ticks(value, label):
    assert dashboard.label_2_3_5(value) == label
