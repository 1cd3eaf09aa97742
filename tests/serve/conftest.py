import numpy as np
import pytest
import soundfile as sf


@pytest.fixture(scope="session")
def examples_dir(tmp_path_factory):
    """A folder of two example clips (2 s of noise, a click at 1.23 s or at 0.40 s) and a text file,
    beside a WAV that is not an example (``secret.wav``)."""
    root = tmp_path_factory.mktemp("served")
    folder = root / "examples"
    folder.mkdir()
    for name, click_s in (("clip.wav", 1.23), ("other.wav", 0.40)):
        samples = (0.05 * np.random.default_rng(0).standard_normal(32_000)).astype(np.float32)
        samples[int(click_s * 16_000)] = 0.9
        sf.write(folder / name, samples, 16_000)
    (folder / "clip.json").write_text("{}")
    sf.write(root / "secret.wav", np.zeros(16_000, dtype=np.float32), 16_000)
    return folder


@pytest.fixture(scope="session")
def client(checkpoint, examples_dir):
    """A test client of the app offering the random tiny ``checkpoint``, with a 1 MB upload limit."""
    from starlette.testclient import TestClient

    from framestamp.serve.app import create_app
    from framestamp.serve.config import ServeConfig

    config = ServeConfig(checkpoints=[str(checkpoint)], examples_dir=str(examples_dir), max_upload_mb=1.0,
                         device="cpu")  # fmt: skip
    with TestClient(create_app(config), base_url="http://127.0.0.1") as client:
        yield client
