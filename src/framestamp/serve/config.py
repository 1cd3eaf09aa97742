"""What ``framestamp serve`` serves and where: a typed config with defaults and validation."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config, option, register_config

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@register_config
@dataclass
class ServeConfig(Config):
    """The web app's address, models, examples folder and upload limit."""

    host: str = option("127.0.0.1", "address to listen on; anything but loopback lets other machines in")
    port: int = option(7860, "TCP port to listen on")
    checkpoints: list[str] = option([], "checkpoint names or directories offered on the page; empty: the shipped "
                                   "ones, each question answered by its default")  # fmt: skip
    examples_dir: str | None = option("examples", "folder whose audio files the page offers by name; None: none")
    max_upload_mb: float = option(200.0, "largest request body (an uploaded file) accepted, in megabytes")
    device: str | None = option(None, "torch device; None: cuda when available, else cpu")

    def __post_init__(self):
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port must be in [1, 65535], got {self.port}")
        if not self.max_upload_mb > 0:
            raise ValueError(f"max_upload_mb must be positive, got {self.max_upload_mb}")
        if len(set(self.checkpoints)) != len(self.checkpoints):
            raise ValueError(f"checkpoints are given more than once: {self.checkpoints}")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)

    @property
    def loopback(self) -> bool:
        """Whether only this machine can reach the app."""
        return self.host in LOOPBACK_HOSTS or self.host.startswith("127.")
