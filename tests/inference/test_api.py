"""The Python API: loading, question building, decisions (presence, decoding on long audio)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

import framestamp
from framestamp.inference.api import (
    FramestampWarning,
    InferenceConfig,
    Located,
    QuestionError,
    Stamper,
    Timeline,
    build_question,
    pair_ends,
    resolve_checkpoint,
)  # fmt: skip
from framestamp.errors import AudioError, CheckpointError
from framestamp.inference.windows import WindowConfig

SR = 16_000


class ClickModel:
    """Stands in for a model: log-intensity -20 everywhere, log(mass) at frames holding a click
    (a sample above 0.5), whatever the question. Times of clicks are the known answers."""

    frame_rate_hz = 100.0

    def __init__(self, mass: float = 1.0, head_objective: str = "ihp", question_modes=None):
        self.mass = mass
        from framestamp.model import ModelConfig

        self.config = ModelConfig(head_objective=head_objective, question_modes=question_modes)
        self.backbone = SimpleNamespace(token_rate_hz=25.0, tokenizer=SimpleNamespace(unk_token_id=None),
                                        reuse_frozen_outputs=lambda: None)

    def score(self, questions, waveforms):
        rows = []
        for w in waveforms:
            frames = np.abs(w[: w.size // 160 * 160]).reshape(-1, 160).max(axis=1) > 0.5
            rows.append(np.where(frames, np.log(self.mass), -20.0).astype(np.float32))
        return rows


def clicks(seconds: float, at_s: list[float]) -> np.ndarray:
    samples = np.zeros(int(seconds * SR), dtype=np.float32)
    for t in at_s:
        samples[int(t * SR)] = 1.0
    return samples


def stamper(mass=1.0, head="ihp", question_modes=None, **config) -> Stamper:
    return Stamper(ClickModel(mass, head, question_modes), InferenceConfig(progress=False, **config), "click")


def test_locate_finds_a_click_in_long_audio_at_its_global_time():
    answer = stamper().locate(clicks(100.0, [47.3]), word="apple")
    assert isinstance(answer, Located)
    assert answer.times_s == [pytest.approx(47.305)]  # centre of the click's 10 ms frame
    assert answer.present and answer.count_estimate == pytest.approx(1.0, abs=1e-3)
    assert answer.presence_probability == pytest.approx(1 - np.exp(-1.0), abs=1e-3)
    assert answer.duration_s == pytest.approx(100.0)


def test_first_occurrence_on_long_audio_comes_from_the_first_window_where_it_is_present():
    answer = stamper(mass=5.0).locate(clicks(100.0, [70.0, 10.0]), word="apple")
    assert answer.times_s == [pytest.approx(10.005)]


def test_silence_is_not_present_with_its_lambda():
    answer = stamper().locate(np.zeros(2 * SR, dtype=np.float32), word="apple")
    assert not answer.present and answer.count_estimate < 1e-6 and answer.presence_probability < 1e-6
    assert len(answer.times_s) == 1  # the best guess is still reported


@pytest.mark.parametrize("mass, threshold, present", [(0.2, 0.5, False), (0.2, 0.1, True), (2.0, 0.5, True)])
def test_presence_rule_is_one_minus_exp_of_minus_lambda(mass, threshold, present):
    answer = stamper(mass, presence_threshold=threshold).locate(clicks(3.0, [1.0]), event="bark")
    assert answer.presence_probability == pytest.approx(1 - np.exp(-mass), abs=1e-4)
    assert answer.present is present and answer.presence_threshold == threshold


def test_binary_head_presence_is_the_highest_frame_probability():
    answer = stamper(mass=np.exp(2.0), head="binary").locate(clicks(3.0, [1.0]), word="apple")
    assert answer.presence_probability == pytest.approx(1 / (1 + np.exp(-2.0)), abs=1e-4)
    assert answer.times_s == [pytest.approx(1.005)]


def test_kth_occurrence_on_long_audio_is_counted_over_the_whole_recording():
    # one click in each of three windows (30 s windows, cut at 27.5 s and 52.5 s): the 2nd
    # occurrence of the recording is the one in the second window, the 3rd in the third
    audio = clicks(100.0, [10.0, 40.0, 90.0])
    assert stamper().locate(audio, word="apple", occurrence=2).times_s == [pytest.approx(40.005)]
    third = stamper().locate(audio, word="apple", occurrence=3)
    assert third.times_s == [pytest.approx(90.005)] and third.present and third.count_estimate == 3
    fourth = stamper().locate(audio, word="apple", occurrence=4)
    assert not fourth.present and fourth.count_estimate == 3


def test_kth_speaker_on_long_audio_warns_that_it_is_not_counted_across_windows():
    with pytest.warns(FramestampWarning, match="counted within one window where it is present"):
        stamper().locate(clicks(40.0, [3.0]), speaker=2)


def test_every_occurrence_question_decodes_round_lambda_times():
    answer = stamper().locate(clicks(65.0, [1.0, 33.3, 60.0]), question="When does each word start?", every=True)
    assert answer.times_s == pytest.approx([1.005, 33.305, 60.005])


def test_align_with_transcript_labels_exactly_that_many_words():
    timeline = stamper().align(clicks(5.0, [0.5, 1.5, 3.25]), transcript="the apple pie", ends=True)
    assert isinstance(timeline, Timeline) and timeline.task == "words"
    assert [s.label for s in timeline.spans] == ["the", "apple", "pie"]
    assert [s.start_s for s in timeline.spans] == pytest.approx([0.505, 1.505, 3.255])
    assert all(s.end_s is not None and s.end_s >= s.start_s for s in timeline.spans)


def test_align_without_ends_and_without_transcript():
    timeline = stamper().align(clicks(5.0, [0.5, 2.5]), ends=False)
    assert [(s.label, s.end_s) for s in timeline.spans] == [("word", None), ("word", None)]
    assert timeline.count_estimate == pytest.approx(2.0, abs=1e-3)
    assert len(timeline.questions) == 1


def test_diarize_and_events_give_labelled_spans():
    audio = clicks(6.0, [1.0, 4.0])
    speakers = stamper().diarize(audio)
    assert [s.label for s in speakers.spans] == ["speaker_1", "speaker_2"]
    assert [s.start_s for s in speakers.spans] == pytest.approx([1.005, 4.005])
    events = stamper().events(audio)
    assert [s.label for s in events.spans] == ["event", "event"]
    per_class = stamper(mass=3.0).events(audio, classes=["dog", "bark"], max_occurrences=2, ends=True)
    # the click model scores every question alike: each class's 2nd occurrence decodes to the time
    # of its 1st, which is not a later one, so only the 1st is kept
    assert [(s.label, s.start_s) for s in per_class.spans] == [("dog", pytest.approx(1.005)),
                                                               ("bark", pytest.approx(1.005))]  # fmt: skip
    assert len(per_class.questions) == 8 and len(per_class.curves) == 4  # curves of the start questions
    as_text = stamper(mass=3.0).events(audio, classes="dog, bark", max_occurrences=2, ends=True)
    assert as_text.spans == per_class.spans  # one comma-separated string: the same classes


def test_a_head_trained_on_single_occurrences_asks_ordinal_questions_or_says_what_it_needs():
    single = stamper(mass=3.0, question_modes=["one"])
    speakers = single.diarize(clicks(6.0, [1.0, 4.0]), max_speakers=3)
    assert speakers.questions == [f"When does the {k} speaker start speaking?" for k in ("1st", "2nd", "3rd")]
    assert [(s.label, s.start_s) for s in speakers.spans] == [("speaker_1", pytest.approx(1.005))]
    with pytest.raises(QuestionError, match="single-occurrence questions only: use a model trained on 'each word'"):
        single.align(clicks(6.0, [1.0]))
    with pytest.raises(QuestionError, match="--classes"):
        single.events(clicks(6.0, [1.0]))


class OrdinalSpeakerModel(ClickModel):
    """The k-th speaker question peaks (mass 3) at the k-th click; past the last click, a faint
    bump (mass 0.01) at 5.5 s: later than every click, but not there."""

    def score(self, questions, waveforms):
        rows = []
        for question, row in zip(questions, super().score(questions, waveforms)):
            k = int(re.search(r"the (\d+)\w\w speaker", question).group(1))
            frames = np.flatnonzero(row > -20)
            row = np.full_like(row, -20.0)
            row[frames[k - 1] if k <= frames.size else 550] = np.log(3.0 if k <= frames.size else 0.01)
            rows.append(row)
        return rows


@pytest.mark.parametrize("answers_absent, onsets", [(True, [1.005, 4.005]), (False, [1.005, 4.005, 5.505])])
def test_ordinal_diarize_stops_at_the_first_absent_speaker_when_the_head_learned_absence(answers_absent, onsets):
    model = OrdinalSpeakerModel(question_modes=["one"])
    model.config.answers_absent = answers_absent
    speakers = Stamper(model, InferenceConfig(progress=False)).diarize(clicks(6.0, [1.0, 4.0]), max_speakers=4)
    assert [s.start_s for s in speakers.spans] == pytest.approx(onsets)


def test_presence_threshold_is_the_given_one_else_the_checkpoints_else_a_half():
    audio = clicks(2.0, [1.0])  # mass 0.5: P(present) = 1 - exp(-0.5) = 0.393
    assert not stamper(mass=0.5).locate(audio, word="apple").present
    calibrated = stamper(mass=0.5)
    calibrated.model.config.presence_threshold = 0.3
    answer = calibrated.locate(audio, word="apple")
    assert answer.present and answer.presence_threshold == 0.3
    assert not stamper(mass=0.5, presence_threshold=0.45).locate(audio, word="apple").present


def test_pair_ends_takes_the_earliest_unused_end_after_each_start():
    assert pair_ends([1.0, 2.0, 5.0], [2.5, 1.5, 0.5]) == [1.5, 2.5, None]


@pytest.mark.parametrize("kwargs, message", [
    (dict(), "exactly one"), (dict(word="a", event="b"), "exactly one"), (dict(question="  "), "empty"),
    (dict(word=" "), "empty"), (dict(word="a", occurrence=0), "counted from 1"), (dict(speaker=0), "counted from 1"),
    (dict(word="?!"), "no letter or digit"), (dict(word="new york"), "one word at a time"),
])  # fmt: skip
def test_bad_questions_are_question_errors(kwargs, message):
    with pytest.raises(QuestionError, match=message):
        build_question(**kwargs)


def test_every_needs_a_free_question():
    with pytest.raises(QuestionError, match="free question"):
        stamper().locate(clicks(1.0, []), word="apple", every=True)


def test_questions_use_the_task_templates():
    assert build_question(word="apple", occurrence=2) == "When does the 2nd occurrence of the word 'apple' occur?"
    assert build_question(word=' "Kubernetes," ') == "When does the 1st occurrence of the word 'kubernetes' occur?"
    assert build_question(word="don't") == "When does the 1st occurrence of the word 'don't' occur?"
    assert build_question(speaker=1, end=True) == "When does the 1st speaker stop speaking?"
    assert build_question(event="bark", end=True) == "When does the 1st occurrence of the event 'bark' end?"


def test_load_by_path_and_the_lazy_export(checkpoint, clip):
    model = framestamp.load(checkpoint, device="cpu", config=InferenceConfig(progress=False))
    answer = model.locate(clip, word="apple")
    # the answer, recomputed here from the model's own frame scores (2 s: one window, 200 frames)
    samples, _ = sf.read(clip, dtype="float32")
    [scores] = model.model.score([answer.question], [samples])
    scores = np.asarray(scores, dtype=np.float64)
    assert answer.question == "When does the 1st occurrence of the word 'apple' occur?" and scores.shape == (200,)
    assert np.sort(scores)[-1] - np.sort(scores)[-2] > 1e-3  # one clear best frame
    assert answer.times_s == [pytest.approx((np.argmax(scores) + 0.5) / model.model.frame_rate_hz)]
    lam = np.exp(scores).sum()
    assert answer.count_estimate == pytest.approx(lam, rel=1e-5)
    assert answer.presence_probability == pytest.approx(1 - np.exp(-lam), rel=1e-5)
    assert answer.present is (answer.presence_probability >= 0.5)  # a random model has no calibrated threshold
    np.testing.assert_allclose(answer.curves[answer.question], np.exp(scores), rtol=1e-5)
    assert json.loads(json.dumps(answer.to_dict()))["times_s"] == pytest.approx(answer.times_s)


def test_import_framestamp_stays_light():
    code = "import sys, framestamp; assert 'torch' not in sys.modules and 'load' in framestamp.__all__"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_word_is_an_error_and_unknown_question_words_a_warning(stamper, clip):
    with pytest.raises(QuestionError, match="'zebra' is not in the vocabulary"):
        stamper.locate(clip, word="zebra")
    with pytest.raises(QuestionError, match="not in the vocabulary"):
        stamper.events(clip, classes=["dog", "zebra"])
    with pytest.warns(FramestampWarning, match="zebra"):
        stamper.locate(clip, question="When does the zebra occur?")


def test_a_word_never_asked_in_training_is_answered_with_a_warning(stamper, clip):
    with pytest.warns(FramestampWarning, match="'the' is never asked about in training"):
        stamper.locate(clip, word="The")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FramestampWarning)
        stamper.locate(clip, word="apple")


def test_arrays_at_any_rate_and_stereo_are_accepted(stamper):
    stereo = np.zeros((44_100, 2), dtype=np.float32)
    assert stamper.locate(stereo, word="apple", sample_rate_hz=44_100).duration_s == pytest.approx(1.0)
    with pytest.raises(AudioError, match="NaN"):
        stamper.locate(np.full(16_000, np.nan, dtype=np.float32), word="apple")


def test_checkpoint_names_and_paths(tmp_path, monkeypatch):
    from framestamp.inference import api

    assert resolve_checkpoint(tmp_path) == tmp_path
    monkeypatch.setattr(api, "shipped_checkpoints_dir", lambda: tmp_path / "nothing-shipped")
    with pytest.raises(CheckpointError, match="shipped checkpoint 'words' is not installed"):
        resolve_checkpoint("words")
    with pytest.raises(CheckpointError, match="neither a directory nor a shipped name"):
        resolve_checkpoint(tmp_path / "missing")
    with pytest.raises(CheckpointError, match="not a framestamp checkpoint"):
        framestamp.load(tmp_path)


def test_token_baseline_checkpoints_load_and_answer_by_generating_text(tmp_path, tiny_backbone):
    from framestamp.model import FrameStampModel, ModelConfig
    from framestamp.tasks import parse_answer

    FrameStampModel(tiny_backbone, ModelConfig(head_objective="none")).save_pretrained(tmp_path)
    model = framestamp.load(tmp_path, device="cpu", config=InferenceConfig(progress=False))
    answer = model.locate(clicks(3.0, [1.0]), word="apple")
    assert answer.method == "token baseline (generated text)" and answer.curves == {}
    parsed = parse_answer(answer.generated_text, "start", "one")
    assert answer.times_s == list(parsed.times_s)
    assert answer.presence_probability == (1.0 if parsed.times_s else 0.0)  # an empty list answers "absent"
    with pytest.raises(QuestionError, match="token baseline"):
        model.diarize(clicks(3.0, [1.0]))


def test_window_settings_reach_the_stitcher():
    model = stamper(windows=WindowConfig(window_s=10.0, overlap_s=2.0))
    answer = model.locate(clicks(35.0, [21.0]), word="apple")
    assert answer.times_s == [pytest.approx(21.005)]


def test_the_shipped_word_checkpoint_places_words_said_by_a_new_voice_and_none_in_silence():
    from framestamp.inference.api import shipped_checkpoints_dir
    from framestamp.tasks import task_named

    if not (shipped_checkpoints_dir() / "words").is_dir():
        pytest.skip("no shipped checkpoint in this tree")
    model = framestamp.load("words", device="cpu", config=InferenceConfig(progress=False))
    examples = Path(__file__).resolve().parents[2] / "examples"
    segments = json.loads((examples / "paragraph.json").read_text())["segments"]
    asked = [s for s in segments if task_named("word").askable(s["label"])]  # 20 words, each said once
    placed = []
    for segment in asked:
        answer = model.locate(examples / "paragraph.wav", word=segment["label"])
        if answer.present and abs(answer.times_s[0] - segment["start_s"]) <= 0.05:
            placed.append(segment["label"])
    assert len(placed) >= 7, placed  # the shipped model placed 8 of the 20 when it shipped
    silence = model.locate(np.zeros(16000 * 3, np.float32), word="kitchen")
    assert not silence.present and silence.count_estimate < 0.01


def test_align_with_transcript_places_each_word_by_its_length_past_a_spurious_peak():
    # "wonderful" also fires at 0.95 s: the 3 strongest peaks would give "day" that time
    timeline = stamper().align(clicks(3.0, [0.5, 0.6, 0.95, 1.3]), transcript="A wonderful day.")
    assert [s.label for s in timeline.spans] == ["a", "wonderful", "day"]
    assert [s.start_s for s in timeline.spans] == pytest.approx([0.505, 0.605, 1.305])


def test_a_transcript_far_longer_than_the_speech_is_answered_with_a_warning():
    import warnings

    audio = clicks(3.0, [0.5, 1.3, 2.1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stamper().align(audio, transcript="the apple pie")  # 3 words, 3 starts heard
        assert not [w for w in caught if issubclass(w.category, FramestampWarning)]
        timeline = stamper().align(audio, transcript=" ".join(["apple"] * 12))
    flagged = [str(w.message) for w in caught if issubclass(w.category, FramestampWarning)]
    assert flagged == ["the transcript has 12 words, but the audio sounds like about 3 (the expected number of word "
                       "starts): is it this recording's transcript?"]
    assert len(timeline.spans) == 12  # still answered: every word placed, in order


def test_a_transcript_may_be_a_list_of_words_or_lines_and_nothing_else():
    audio = clicks(3.0, [0.5, 1.3, 2.1])
    as_text = stamper().align(audio, transcript="The apple, pie!")
    for given in (["The", "apple,", "pie!"], ("The apple,", "pie!")):
        assert stamper().align(audio, transcript=given).spans == as_text.spans
    with pytest.raises(QuestionError, match="a string, or a list of strings"):
        stamper().align(audio, transcript=["the", 3])


def test_a_model_that_hears_asked_words_answers_about_any_word(tmp_path, clip):
    from framestamp.backbones.tiny_whisper import WhisperTinyBackbone
    from framestamp.inference.api import load
    from framestamp.model import FrameStampModel, ModelConfig

    backbone = WhisperTinyBackbone.create(["apple"], seed=0, spoken_words=True)
    FrameStampModel(backbone, ModelConfig(backbone="tiny", spoken_words=True)).save_pretrained(tmp_path)
    hearing = load(tmp_path, device="cpu", config=InferenceConfig(progress=False))
    assert hearing.hears_asked_words
    with warnings.catch_warnings():
        warnings.simplefilter("error", FramestampWarning)
        answer = hearing.locate(clip, word="Kubernetes")  # outside the word-level vocabulary: heard, not refused
        hearing.locate(clip, question="When does the 1st occurrence of the word 'zebra' occur?")
    assert answer.question == "When does the 1st occurrence of the word 'kubernetes' occur?"
    with pytest.raises(QuestionError, match="'zebra' is not in the vocabulary"):
        hearing.events(clip, classes=["zebra"])  # an event class is still read, not heard
