"""Log-mel features on the model's device against the Whisper feature extractor's own paths.

Clips are cut from the shipped example recordings (real speech and sound events) at lengths that
are not multiples of the hop, so a batch holds padded rows.
"""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from framestamp.backbones.log_mel import log_mel
from framestamp.backbones.tiny_scratch import build_feature_extractor
from framestamp.backbones.tiny_whisper import whisper_feature_extractor

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SR = 16_000
# The numpy path computes in float64 but for its FFT output (complex64); the torch path rounds
# every step to float32. Measured on these clips: at most 3.6e-5 (128 bins) and 2.7e-5 (80 bins)
# apart, on features in [-1.5, 1.35].
NUMPY_ATOL = 1e-4


def example(name: str) -> np.ndarray:
    return sf.read(EXAMPLES / f"{name}.wav", dtype="float32")[0]


@pytest.fixture(scope="module")
def clips() -> list[np.ndarray]:
    """Speech and events of 9.9 s, 2.05 s, 5.7 s and 0.44 s (7,003 samples: not a whole hop)."""
    words, events, speakers = example("words"), example("events"), example("speakers")
    return [words, events[:32_870], speakers[5_000:96_234], words[1_000:8_003]]


EXTRACTORS = {"128 bins (tiny-scratch, Qwen2.5-Omni)": build_feature_extractor,
              "80 bins (tiny, Whisper tiny.en)": whisper_feature_extractor}  # fmt: skip


def extractor_features(extractor, clips) -> torch.Tensor:
    """What the backbones' ``prepare`` passes the model today."""
    return extractor(clips, sampling_rate=SR, padding="longest", truncation=False, return_attention_mask=True,
                     return_tensors="pt")["input_features"]  # fmt: skip


def numpy_features(extractor, clips) -> np.ndarray:
    """The extractor's numpy path (the one it takes without torch), on the same zero-padded batch."""
    padded = np.zeros((len(clips), max(len(c) for c in clips)), dtype=np.float32)
    for row, clip in zip(padded, clips):
        row[: len(clip)] = clip
    return extractor._np_extract_fbank_features(padded, "cpu")


@pytest.mark.parametrize("make_extractor", EXTRACTORS.values(), ids=EXTRACTORS.keys())
def test_equals_the_extractor_bit_for_bit_on_cpu(make_extractor, clips):
    extractor = make_extractor()
    features = log_mel(extractor, clips)
    assert features.shape == (4, extractor.feature_size, len(clips[0]) // 160)
    assert torch.equal(features, extractor_features(extractor, clips))


@pytest.mark.parametrize("make_extractor", EXTRACTORS.values(), ids=EXTRACTORS.keys())
def test_matches_the_numpy_path_within_tolerance(make_extractor, clips):
    extractor = make_extractor()
    features = log_mel(extractor, clips).numpy()
    reference = numpy_features(extractor, clips)
    assert features.shape == reference.shape
    np.testing.assert_allclose(features, reference, rtol=0, atol=NUMPY_ATOL)


@pytest.mark.parametrize("n_samples", [7_003, 6_890, 7_040])
def test_padding_changes_only_frames_whose_window_reaches_past_the_clip(clips, n_samples):
    """Frame t reads samples ``160 t +- 200``: alone, the clip's end is reflected there; in a
    batch, the padding's zeros. So the last frame differs when ``n_samples % 160 < 40``. The clip is
    cut inside speech: a frame on the floor the extractor clamps to (its peak less 8 log10 units)
    would follow any change of the peak."""
    extractor = build_feature_extractor()
    clip = clips[0][8_000 : 8_000 + n_samples]
    alone, batched = log_mel(extractor, [clip])[0], log_mel(extractor, [clip, clips[0]])[0]
    n_frames = n_samples // 160
    assert alone.shape[-1] == n_frames
    differs = (alone != batched[:, :n_frames]).any(dim=0)
    reaches_past = torch.arange(n_frames) * 160 + extractor.n_fft // 2 > n_samples
    assert torch.equal(differs, reaches_past)


def test_tensors_stay_on_their_device_and_numpy_goes_to_the_one_asked(clips):
    extractor = build_feature_extractor()
    as_tensors = [torch.from_numpy(c) for c in clips[1:]]
    assert torch.equal(log_mel(extractor, as_tensors), log_mel(extractor, clips[1:], device="cpu"))
    assert log_mel(extractor, clips[1:], device="meta").device.type == "meta"


def test_prepare_on_device_gives_the_same_inputs_on_cpu(tiny_backbone, clips):
    questions = ["when does the apple"] * len(clips)
    today = tiny_backbone.prepare(questions, clips)
    tiny_backbone.features_on_device = True
    try:
        on_device = tiny_backbone.prepare(questions, clips)
    finally:
        tiny_backbone.features_on_device = False
    assert today.model_kwargs.keys() == on_device.model_kwargs.keys()
    for name, tensor in today.model_kwargs.items():
        assert torch.equal(tensor, on_device.model_kwargs[name]), name
    assert torch.equal(today.n_audio_tokens, on_device.n_audio_tokens)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("make_extractor", EXTRACTORS.values(), ids=EXTRACTORS.keys())
def test_on_cuda_matches_the_cpu_features(make_extractor, clips):
    extractor = make_extractor()
    features = log_mel(extractor, clips, device="cuda")
    assert features.device.type == "cuda"
    cpu = extractor_features(extractor, clips)
    difference = (features.cpu() - cpu).abs()
    print(f"cuda vs cpu: max abs {difference.max():.3g}, mean abs {difference.mean():.3g}")
    np.testing.assert_allclose(features.cpu().numpy(), numpy_features(extractor, clips), rtol=0, atol=NUMPY_ATOL)
