"""Rich progress bars for long loops, and the one-screen summary each stage ends with."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from r1pipe import distributed

console = Console(stderr=True)


def progress() -> Progress:
    """A bar with count, elapsed and remaining time, and a free-form ``status`` field; drawn by the main
    process only."""
    return Progress(
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
        disable=not distributed.is_main(),
    )


def summary(stage: str, wrote: dict[str, str], numbers: dict, started: float) -> None:
    """The one-screen summary: what the stage wrote, its key numbers, its time."""
    table = Table(title=f"r1pipe {stage}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for name, path in wrote.items():
        table.add_row(f"wrote {name}", str(path))
    for key, value in numbers.items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    table.add_row("time", f"{time.time() - started:.1f} s")
    console.print(table)
