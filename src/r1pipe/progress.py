"""Rich progress bars for long loops, and the one-screen summary each stage ends with."""

from __future__ import annotations

import os
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


def progress() -> Progress | LogProgress:
    """A bar with count, elapsed and remaining time, and a free-form ``status`` field; drawn by the main
    process only. Without a terminal (``dvc repro > log``, a batch job) rich draws nothing until the bar ends,
    so there it is a line every ``R1PIPE_LOG_SECONDS`` (30) seconds instead."""
    if not console.is_terminal:
        return LogProgress(float(os.environ.get("R1PIPE_LOG_SECONDS", 30)), enabled=distributed.is_main())
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


class LogProgress:
    """The part of rich's ``Progress`` that r1pipe uses, written as plain lines for a log: ``label: 12/45 steps
    (27%), 1.9/s, 0:00:17 left  loss=0.61``, at most one every ``every`` seconds per task, and one at the end."""

    def __init__(self, every: float, enabled: bool = True):
        self.every, self.enabled, self.tasks = every, enabled, []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self) -> None:
        pass

    def stop(self) -> None:
        for task in range(len(self.tasks)):
            self._write(task, final=True)

    def add_task(self, description: str, total: float | None = None, completed: float = 0, status: str = "") -> int:
        now = time.monotonic()
        self.tasks.append({"description": description, "total": total, "completed": completed, "status": status,
                           "started": now, "from": completed, "written": now, "done": False})
        return len(self.tasks) - 1

    def update(self, task: int, completed: float | None = None, status: str | None = None, advance: float = 0):
        t = self.tasks[task]
        t["completed"] = (t["completed"] if completed is None else completed) + advance
        t["status"] = t["status"] if status is None else status
        if time.monotonic() - t["written"] >= self.every:
            self._write(task)

    def advance(self, task: int, advance: float) -> None:
        self.update(task, advance=advance)

    def _write(self, task: int, final: bool = False) -> None:
        t = self.tasks[task]
        if not self.enabled or t["done"]:
            return
        t["written"], t["done"] = time.monotonic(), final
        elapsed = t["written"] - t["started"]
        rate = (t["completed"] - t["from"]) / elapsed if elapsed > 0 else 0.0
        line = f"{t['description']}: {t['completed']:g}"
        if t["total"]:
            line += f"/{t['total']:g} ({100 * t['completed'] / t['total']:.0f}%)"
            left = (t["total"] - t["completed"]) / rate if rate > 0 else None
            line += f", {rate:.3g}/s" + (f", {_clock(left)} left" if left is not None and not final else "")
        line += f", {_clock(elapsed)} so far" if not final else f", done in {_clock(elapsed)}"
        console.print(line + (f"  {t['status']}" if t["status"] else ""), markup=False, highlight=False,
                      soft_wrap=True)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


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
