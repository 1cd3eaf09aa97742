"""The web app's parts on their own: settings, question forms, the checkpoint shelf, the curves' points."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from framestamp.cli import app as cli
from framestamp.errors import ConfigError
from framestamp.inference.api import QuestionError
from framestamp.serve.config import ServeConfig
from framestamp.serve.models import ModelShelf, UnknownCheckpointError
from framestamp.serve.payload import envelope, peaks
from framestamp.serve.questions import Question, QuestionKind
from framestamp.serve.sources import upload_name


def test_settings_are_checked_and_loopback_is_the_default():
    assert ServeConfig().host == "127.0.0.1" and ServeConfig().loopback
    assert ServeConfig(host="::1").loopback and not ServeConfig(host="0.0.0.0").loopback
    with pytest.raises(ValueError, match="port"):
        ServeConfig(port=0)
    with pytest.raises(ValueError, match="max_upload_mb"):
        ServeConfig(max_upload_mb=0)
    with pytest.raises(ValueError, match="more than once"):
        ServeConfig(checkpoints=["words", "words"])
    assert ServeConfig(max_upload_mb=0.5).max_upload_bytes == 500_000


def test_the_command_refuses_a_bad_setting_before_serving():
    result = CliRunner().invoke(cli, ["serve", "--port", "70000"])
    assert isinstance(result.exception, ConfigError) and "port must be in [1, 65535]" in str(result.exception)


def test_a_form_becomes_a_question():
    form = {"kind": "events", "classes": " whoosh, ,dog bark ", "word": "", "occurrence": "", "transcript": " "}
    assert Question.from_form(form) == Question(QuestionKind.events, classes=("whoosh", "dog bark"))
    word = Question.from_form({"kind": "word", "word": " forest ", "occurrence": "3"})
    assert (word.word, word.occurrence, word.label, word.default_checkpoint) == ("forest", 3, "forest", "words")
    with pytest.raises(QuestionError, match="whole number"):
        Question.from_form({"kind": "word", "word": "forest", "occurrence": "2.5"})


@pytest.mark.parametrize("sent, shown", [
    ("talk.wav", "talk.wav"), ("../../etc/passwd", "passwd"), ("C:\\Users\\me\\talk.flac", "talk.flac"),
    ("", "upload"), ("..", "upload"), ("folder/", "folder"),
])  # fmt: skip
def test_an_upload_is_named_by_the_last_part_of_its_file_name(sent, shown):
    assert upload_name(sent) == shown


def test_the_shelf_loads_each_offered_checkpoint_once_on_first_use():
    loaded = []
    shelf = ModelShelf(["a", "b"], loader=lambda name: loaded.append(name) or f"model {name}")
    assert loaded == []
    for name in ("a", "a", "b", "a"):
        with shelf.using(name) as model:
            assert model == f"model {name}"
    assert loaded == ["a", "b"]
    with pytest.raises(UnknownCheckpointError, match="'/models/c' is not offered here; choose one of a, b"):
        with shelf.using("/models/c"):
            pass


def test_the_shelf_lends_models_to_one_thread_at_a_time():
    shelf = ModelShelf(["a", "b"], loader=str)
    holders, most = [], []

    def answer(name: str) -> None:
        with shelf.using(name):
            holders.append(name)
            most.append(len(holders))
            time.sleep(0.01)
            holders.remove(name)

    threads = [threading.Thread(target=answer, args=("ab"[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(most) == 8 and max(most) == 1


def test_peaks_keep_the_largest_value_of_each_stretch():
    values, n = peaks(np.array([1.0, 5.0, 2.0, 8.0, 3.0]), max_points=2)
    assert n == 3 and values.tolist() == [5.0, 8.0]  # [1, 5, 2] and the shorter [8, 3]
    assert peaks(np.array([1.0, 5.0, 2.0, 8.0, 3.0]), max_points=2, reduce=np.min)[0].tolist() == [1.0, 3.0]
    values, n = peaks(np.array([1.0, 5.0]), max_points=4)
    assert n == 1 and values.tolist() == [1.0, 5.0]


def test_the_envelope_holds_each_stretchs_lowest_and_highest_sample():
    waveform = np.zeros(16_000 * 3, dtype=np.float32)
    waveform[100] = -0.5
    waveform[16_000 * 2] = 0.25
    drawn = envelope(waveform)
    assert drawn["duration_s"] == 3.0 and len(drawn["high"]) == 2000 and drawn["step_s"] == 24 / 16_000
    assert drawn["low"][100 // 24] == -0.5 and drawn["high"][16_000 * 2 // 24] == 0.25
    assert min(drawn["low"]) == -0.5 and max(drawn["high"]) == 0.25


def test_a_missing_web_stack_names_the_extra_to_install(monkeypatch):
    import importlib
    import sys

    from framestamp.errors import MissingDependencyError

    monkeypatch.delitem(sys.modules, "framestamp.serve.app", raising=False)
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # what an interpreter without it imports
    with pytest.raises(MissingDependencyError, match=r"uvicorn is missing\): pip install 'framestamp\[serve\]'"):
        importlib.import_module("framestamp.serve.app")
