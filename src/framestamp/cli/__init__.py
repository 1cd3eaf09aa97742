"""The ``framestamp`` command line: one typer app (:mod:`.app`) whose commands are thin layers
over public functions: inference (:mod:`.inference`), experiments (:mod:`.experiments`), the web
page (:mod:`.serve`) and the corpus sub-app (:mod:`.corpus`), all registered when this package is imported.
"""

from __future__ import annotations

import sys

import click
import typer

from ..errors import FramestampError
from ..train.stopping import StoppedOnRequest
from . import corpus, experiments, inference, serve  # noqa: F401  (they register their commands on ``app``)
from .app import app, errors

__all__ = ["app", "main"]


def _usage_errors() -> tuple[type[Exception], ...]:
    """Click's usage-error class and, where typer vendors its own click (typer >= 0.22), that one too."""
    vendored = getattr(getattr(typer, "_click", None), "ClickException", None)
    return (click.ClickException,) + ((vendored,) if vendored is not None else ())


def main() -> None:
    """Entry point: run the app; user errors and usage errors print one line, never a traceback."""
    try:
        code = app(standalone_mode=False)
    except StoppedOnRequest as stopped:  # on request, checkpoint saved: interrupted, not failed
        errors.print(f"[bold]stopped:[/] {stopped}", highlight=False)
        sys.exit(130)
    except FramestampError as error:
        errors.print(f"[bold red]error:[/] {error}", highlight=False)
        sys.exit(1)
    except (typer.Abort, click.exceptions.Abort, KeyboardInterrupt):
        errors.print("aborted")
        sys.exit(130)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except _usage_errors() as error:
        errors.print(f"[bold red]error:[/] {error.format_message()}", highlight=False)
        sys.exit(error.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
