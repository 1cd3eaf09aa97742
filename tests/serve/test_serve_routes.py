"""The web app's routes through an HTTP test client, on a random tiny checkpoint and 2 s clips."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from framestamp.cli import app as cli

# each question of the page, and the CLI command that asks the same
QUESTIONS = {
    "word": ({"kind": "word", "word": "apple", "occurrence": "2"}, ["locate", "--word", "apple", "--occurrence", "2"]),
    "words": ({"kind": "words", "transcript": "the apple"}, ["align", "--transcript", "the apple"]),
    "speakers": ({"kind": "speakers"}, ["diarize"]),
    "events": ({"kind": "events", "classes": "bark, speech"}, ["events", "--classes", "bark,speech"]),
}


def ask(client, fields: dict, upload: tuple[str, bytes] | None = None):
    files = {"file": (upload[0], upload[1], "audio/wav")} if upload else None
    return client.post("/api/ask", data=fields, files=files)


def cli_output(checkpoint, audio, args: list[str], fmt: str) -> str:
    result = CliRunner().invoke(cli, [args[0], str(audio), *args[1:], "--checkpoint", str(checkpoint), "-q",
                                      "-f", fmt], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_setup_offers_the_examples_checkpoints_and_limit(client, checkpoint):
    setup = client.get("/api/setup").json()
    assert setup == {"examples": ["clip.wav", "other.wav"], "checkpoints": [str(checkpoint)],
                     "default_checkpoints": None, "max_upload_bytes": 1_000_000}  # fmt: skip


def test_the_page_and_its_script_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and '<script src="/static/page.js">' in page.text
    assert client.get("/static/page.js").status_code == 200
    assert client.get("/api/examples/clip.wav").content[:4] == b"RIFF"


@pytest.mark.parametrize("kind", QUESTIONS)
def test_an_upload_is_answered_and_every_file_is_what_the_cli_writes(client, checkpoint, examples_dir, kind):
    fields, command = QUESTIONS[kind]
    clip = examples_dir / "clip.wav"
    response = ask(client, fields, ("clip.wav", clip.read_bytes()))
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["answer"]["audio"] == "clip.wav" and payload["checkpoint"] == str(checkpoint)
    expected_formats = {"word": ["table", "json"], "words": ["table", "json", "textgrid", "tsv", "srt", "vtt"],
                        "speakers": ["table", "json", "rttm", "textgrid", "tsv"],
                        "events": ["table", "json", "textgrid", "tsv"]}[kind]  # fmt: skip
    assert list(payload["files"]) == expected_formats
    for fmt, file in payload["files"].items():
        written = cli_output(checkpoint, clip, command, fmt)
        if fmt == "json":  # the CLI names the audio by its path, the page by the uploaded file's name
            assert json.loads(file["text"]) | {"audio": str(clip)} == json.loads(written) == payload["answer"] | {
                "audio": str(clip)}
        else:
            assert file["text"] == written, fmt
        assert file["filename"].startswith("clip.")
    times = payload["answer"]["times_s"] if kind == "word" else [s["start_s"] for s in payload["answer"]["spans"]]
    assert [m["start_s"] for m in payload["markers"]] == times
    assert payload["waveform"]["duration_s"] == pytest.approx(2.0) and len(payload["waveform"]["high"]) <= 2000
    assert payload["curves"] and all(len(c["values"]) * c["step_s"] == pytest.approx(2.0, abs=0.05)
                                     for c in payload["curves"])  # fmt: skip


def test_a_word_answer_carries_its_presence_on_the_marker(client):
    payload = ask(client, {"kind": "word", "word": "apple", "example": "clip.wav"}).json()
    (marker,) = payload["markers"]
    answer = payload["answer"]
    assert marker == {"label": "apple", "start_s": answer["times_s"][0], "end_s": None,
                      "presence_probability": answer["presence_probability"], "present": answer["present"]}


def test_an_example_picked_by_name_is_answered_like_its_upload(client, examples_dir):
    fields = QUESTIONS["words"][0]
    by_name = ask(client, fields | {"example": "other.wav"}).json()
    uploaded = ask(client, fields, ("other.wav", (examples_dir / "other.wav").read_bytes())).json()
    assert by_name["answer"] == uploaded["answer"] and by_name["files"] == uploaded["files"]


@pytest.mark.parametrize("content, error", [
    (b"this is text, not sound", "cannot read bad.wav as audio: "),
    (b"", "bad.wav: the file is empty (0 bytes)"),
])  # fmt: skip
def test_a_bad_file_is_the_clis_one_line_error_and_the_server_goes_on(client, content, error):
    response = ask(client, {"kind": "speakers"}, ("bad.wav", content))
    assert response.status_code == 400
    message = response.json()["error"]
    assert message.startswith(error) and "\n" not in message and "/tmp" not in message and "upload" not in message
    assert ask(client, {"kind": "speakers", "example": "clip.wav"}).status_code == 200


def test_a_caveat_of_reading_the_audio_reaches_the_page_and_the_json(client, tmp_path):
    channel = np.random.default_rng(1).standard_normal(16_000).astype(np.float32) * 0.1
    sf.write(tmp_path / "cancel.wav", np.stack([channel, -channel], axis=1), 16_000)  # the average is silence
    payload = ask(client, {"kind": "speakers"}, ("cancel.wav", (tmp_path / "cancel.wav").read_bytes())).json()
    expected = ("cancel.wav: its 2 channels cancel when averaged (the mix is over 20 dB quieter than channel 1); "
                "channel 1, the loudest, is used alone")  # fmt: skip
    assert payload["warnings"] == payload["answer"]["warnings"] == [expected]


@pytest.mark.parametrize("fields, error", [
    ({"kind": "word"}, "type the word to look for"),
    ({"kind": "word", "word": "apple", "occurrence": "0"}, "the occurrence is a whole number from 1, got '0'"),
    ({"kind": "when"}, "unknown question 'when'"),
    ({"kind": "words"}, "choose an example or upload an audio file"),
])  # fmt: skip
def test_an_incomplete_question_is_a_one_line_error(client, fields, error):
    response = ask(client, fields)
    assert response.status_code == 400 and response.json()["error"].startswith(error)


def test_an_upload_over_the_limit_is_refused_with_413(client):
    response = ask(client, {"kind": "speakers"}, ("big.wav", bytes(1_200_000)))
    assert response.status_code == 413
    assert response.json() == {"error": "the upload is larger than the server's limit of 1 MB"}
    assert ask(client, {"kind": "speakers", "example": "clip.wav"}).status_code == 200


def test_a_body_without_a_declared_length_is_cut_off_at_the_limit(client):
    def chunks():  # sent chunked: no Content-Length to refuse it by
        for _ in range(5):
            yield b"x" * 300_000

    response = client.post("/api/ask", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"})
    assert response.status_code == 413 and "limit of 1 MB" in response.json()["error"]


@pytest.mark.parametrize("name", ["../secret.wav", "/etc/passwd", "..", "clip.wav/../../secret.wav", "clip.json",
                                  "./clip.wav", "CLIP.WAV", "<absolute path of clip.wav>",
                                  "<absolute path of secret.wav>"])  # fmt: skip
def test_only_listed_examples_are_readable(client, examples_dir, name):
    absolute = {"<absolute path of clip.wav>": examples_dir / "clip.wav",
                "<absolute path of secret.wav>": examples_dir.parent / "secret.wav"}  # fmt: skip
    name = str(absolute.get(name, name))
    assert ask(client, {"kind": "speakers", "example": name}).status_code == 404
    assert client.get(f"/api/examples/{quote(name, safe='')}").status_code == 404


@pytest.mark.parametrize("path", ["/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2Fapp.py",
                                  "/static//etc/passwd", "/static/%2Fetc%2Fpasswd"])  # fmt: skip
def test_static_files_do_not_reach_outside_their_folder(client, path):
    response = client.get(path)
    assert response.status_code == 404 and "Starlette" not in response.text


def test_only_offered_checkpoints_are_used(client, checkpoint):
    for asked in ("words", str(checkpoint.parent), "../" + checkpoint.name):
        response = ask(client, {"kind": "speakers", "example": "clip.wav", "checkpoint": asked})
        assert response.status_code == 400 and "is not offered here" in response.json()["error"]


def test_an_uploaded_file_name_is_only_a_name(client, examples_dir):
    response = ask(client, {"kind": "speakers"}, ("../../elsewhere/clip.wav", (examples_dir / "clip.wav").read_bytes()))
    assert response.status_code == 200 and response.json()["answer"]["audio"] == "clip.wav"


def test_concurrent_requests_get_their_own_answers(client):
    requests = [(QUESTIONS[kind][0] | {"example": example}) for kind in ("words", "speakers", "word")
                for example in ("clip.wav", "other.wav")]  # fmt: skip
    alone = [ask(client, fields).json() for fields in requests]
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        together = list(pool.map(lambda fields: ask(client, fields).json(), requests * 2))
    for i, payload in enumerate(together):
        expected = alone[i % len(requests)]
        assert payload["answer"] == expected["answer"] and payload["markers"] == expected["markers"]


def test_a_host_name_other_than_loopback_is_refused(client):
    assert client.get("/api/setup", headers={"host": "attacker.example:7860"}).status_code == 400


def test_a_long_answer_reports_its_windows_while_it_runs(client, monkeypatch, tmp_path):
    """The page polls /api/progress/{job}: the engine's window count, while the answer runs (the
    test holds the answer at its second window), and 404 once it is sent."""
    import io
    import threading
    from contextlib import contextmanager

    from framestamp.serve import progress as progress_module

    held, release = threading.Event(), threading.Event()
    real = progress_module.reporting_windows

    @contextmanager
    def held_at_second_window(listener):
        def heard(done, total):
            listener(done, total)
            if done == 1:
                held.set()
                release.wait(timeout=60)

        with real(heard):
            yield

    monkeypatch.setattr(progress_module, "reporting_windows", held_at_second_window)
    upload = io.BytesIO()
    sf.write(upload, 0.05 * np.random.default_rng(1).standard_normal(70 * 8_000), 8_000, format="WAV", subtype="PCM_U8")
    fields = {"kind": "speakers", "job": "page-job-1"}
    with ThreadPoolExecutor(max_workers=1) as pool:
        answer = pool.submit(ask, client, fields, ("long.wav", upload.getvalue()))
        assert held.wait(timeout=60)
        assert client.get("/api/progress/page-job-1").json() == {"done": 1, "total": 3}
        release.set()
        assert answer.result().status_code == 200
    assert client.get("/api/progress/page-job-1").status_code == 404


@pytest.mark.parametrize("job", ["../x", "a" * 65, "two words"])
def test_a_bad_job_name_is_a_one_line_error(client, job):
    response = ask(client, {"kind": "speakers", "example": "clip.wav", "job": job})
    assert response.status_code == 400 and "job name" in response.json()["error"]
    assert client.get(f"/api/progress/{quote(job, safe='')}").status_code in (400, 404)
