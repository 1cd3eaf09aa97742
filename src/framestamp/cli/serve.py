"""``framestamp serve``: the local web page (:mod:`framestamp.serve`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ConfigError
from .app import app, errors


@app.command()
def serve(
    checkpoint: Annotated[Optional[list[str]], typer.Option(
        help="checkpoint name or directory the page offers (repeat for several; default: the shipped ones, "
             "each question answered by its own)")] = None,
    host: Annotated[str, typer.Option(help="address to listen on (other than 127.0.0.1: reachable from other "
                                           "machines)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 7860,
    examples: Annotated[Optional[Path], typer.Option(help="folder of example audio the page offers by name")] = Path(
        "examples"),
    max_upload_mb: Annotated[float, typer.Option(help="largest upload accepted, in MB")] = 200.0,
    device: Annotated[Optional[str], typer.Option(help="torch device (default: cuda when available, else cpu)")] = None,
) -> None:  # fmt: skip
    """A local web page: upload audio or pick an example, ask, see and hear the timestamps."""
    from ..serve.config import ServeConfig

    try:
        config = ServeConfig(host=host, port=port, checkpoints=list(checkpoint or []), device=device,
                             examples_dir=None if examples is None else str(examples), max_upload_mb=max_upload_mb)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    from ..serve.app import run

    if not config.loopback:
        errors.print(f"warning: listening on {host}: anyone who can reach it can upload files and run the models",
                     highlight=False)  # fmt: skip
    errors.print(f"framestamp serve: http://{_url_host(host)}:{port}/  (Ctrl-C stops)", highlight=False)
    run(config)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
