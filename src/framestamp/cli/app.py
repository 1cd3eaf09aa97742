"""The one ``framestamp`` typer app; command modules register on it when imported."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Timestamps from audio LM hidden states.")
console = Console()
errors = Console(stderr=True, soft_wrap=True)
