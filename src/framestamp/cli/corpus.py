"""``framestamp corpus ...``: build the built-in corpus from the command line."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import app

from framestamp.corpus.config import SIZES

corpus_app = typer.Typer(no_args_is_help=True)



@corpus_app.callback()
def _group() -> None:
    """The built-in corpus (words, speakers, events) with exact timing truth."""


Size = Enum("Size", {name: name for name in SIZES}, type=str)


@corpus_app.command("build")
def build(
    size: Annotated[Size, typer.Option(help="Named size: tiny (tests), small, default (training), open (default "
                                            "with words of ordinary English, some held out: the open-vocabulary "
                                            "models), large.")] = "default",
    seed: Annotated[int, typer.Option(help="Random seed; same settings and seed give identical files.")] = 0,
    out: Annotated[Optional[Path], typer.Option(help="Cache root (default $FRAMESTAMP_CACHE/corpus or ~/.cache/framestamp/corpus).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Processes generating clips (the output does not depend on it).")] = 1,
    train_max_duration: Annotated[Optional[float], typer.Option(help="Cap on train clip durations in seconds (length-generalisation studies).")] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even when the cache has this build.")] = False,
) -> None:
    """Build (or find in the cache) the corpus and print its directory."""
    from dataclasses import replace

    from framestamp.corpus.build import build_corpus
    from framestamp.corpus.sources import MissingSourceError

    size_name = size.value if isinstance(size, Enum) else str(size)
    config = SIZES[size_name]
    if train_max_duration is not None:
        config = replace(config, train_max_duration_s=train_max_duration)
    try:
        path = build_corpus(size_name, seed, out, config=config, workers=workers, force=force)
    except MissingSourceError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(str(path))


app.add_typer(corpus_app, name="corpus", help="Build the built-in corpus.")
