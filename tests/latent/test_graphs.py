"""The CUDA-graph replay's bookkeeping, with torch.cuda's graph API stood in for
(no GPU here): each key runs eagerly once and is captured, later calls replay."""
import contextlib

import pytest
import torch

from pranc_codec.latent.graphs import GraphReplay


class FakeGraph:
    fail = False

    def __init__(self):
        self.replays = 0

    def replay(self):
        self.replays += 1


@pytest.fixture
def fake_cuda(monkeypatch):
    events = []

    @contextlib.contextmanager
    def capture(graph):
        events.append("capture")
        yield
        if FakeGraph.fail:
            raise RuntimeError("operation not permitted when stream is capturing")

    class Current:
        def wait_stream(self, side):
            events.append("wait")

    monkeypatch.setattr(torch.cuda, "Stream", lambda: "side")
    monkeypatch.setattr(torch.cuda, "stream", lambda side: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "current_stream", Current)
    monkeypatch.setattr(torch.cuda, "CUDAGraph", FakeGraph)
    monkeypatch.setattr(torch.cuda, "graph", capture)
    FakeGraph.fail = False
    return events


def test_each_key_runs_eagerly_once_then_replays(fake_cuda):
    calls = []

    def step(x):
        calls.append(x)
        return (torch.tensor(float(len(calls))),)

    run = GraphReplay(step, lambda: fake_cuda.append("cleared"), enabled=True)
    first = run("a", 1)
    assert calls == [1, 1]  # the eager run, then the one captured
    assert fake_cuda == ["wait", "cleared", "capture"]
    assert float(first[0]) == 1.0  # the eager run's outputs
    again = run("a", 1)
    assert calls == [1, 1] and run.graphs["a"][0].replays == 1
    assert float(again[0]) == 2.0  # the captured outputs, which a replay refills
    run("b", 2)
    assert calls == [1, 1, 2, 2] and set(run.graphs) == {"a", "b"}


def test_a_failed_capture_warns_and_every_later_call_runs_eagerly(fake_cuda):
    FakeGraph.fail = True
    calls = []
    run = GraphReplay(lambda x: calls.append(x) or (torch.zeros(()),), lambda: None, enabled=True)
    with pytest.warns(UserWarning, match="CUDA graph capture failed"):
        run("a", 1)
    assert not run.graphs and not run.enabled
    run("a", 1)
    run("b", 2)
    assert calls == [1, 1, 1, 2]  # eager, the failed capture, then eager runs only


def test_on_a_cpu_every_call_runs_eagerly():
    calls = []
    run = GraphReplay(lambda x: calls.append(x) or (torch.zeros(()),), lambda: None, enabled=False)
    for _ in range(3):
        run("a", 1)
    assert calls == [1, 1, 1] and not run.graphs
