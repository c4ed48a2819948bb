"""What every ``keel`` command shares: config loading, one-line errors, running a coroutine."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from keel.config.errors import ConfigError
from keel.config.runtime import RuntimeConfig
from keel.services.runtime import load_config

T = TypeVar("T")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="keel.yaml to use (default: $KEEL_CONFIG, else the embedded default)"),
]


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def config_path(path: Path | None) -> Path | None:
    if path is None and os.environ.get("KEEL_CONFIG"):
        path = Path(os.environ["KEEL_CONFIG"])
    return path


def load(path: Path | None) -> RuntimeConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        for issue in exc.issues:
            err.print(str(issue), highlight=False, soft_wrap=True)
        fail(f"{len(exc.issues)} problem(s) in the config")


def run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except ConfigError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot reach the store: {exc}")


def folding_table(*columns: str) -> Table:
    """A table whose cells wrap instead of being cut, so ids and keys stay whole on narrow terminals."""
    table = Table(*columns)
    for column in table.columns:
        column.overflow = "fold"
    return table
