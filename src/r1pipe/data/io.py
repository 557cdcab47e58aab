"""Datasets on disk: loading with clear errors, and turning rows into SFT pairs."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset, DatasetDict, load_from_disk
from datasets.utils.logging import disable_progress_bar

from r1pipe import R1pipeError
from r1pipe.data.templates import render_completion

# r1pipe draws its own rich progress; datasets' tqdm bars would interleave with it.
disable_progress_bar()


def load_split(path: str | Path, split: str | None = None) -> Dataset:
    """A ``datasets`` directory: a DatasetDict (pick ``split``, default train) or a single Dataset."""
    path = Path(path)
    if not path.exists():
        raise R1pipeError(f"dataset not found: {path}")
    try:
        # In memory, so that map/filter never write cache files into a DVC-tracked output.
        ds = load_from_disk(str(path), keep_in_memory=True)
    except (FileNotFoundError, ValueError) as e:
        raise R1pipeError(f"{path}: not a datasets directory ({str(e).splitlines()[0][:120]})") from None
    if isinstance(ds, DatasetDict):
        split = split or "train"
        if split not in ds:
            raise R1pipeError(f"{path}: no split {split!r} (have: {', '.join(ds)})")
        return ds[split]
    return ds


def require_columns(ds: Dataset, columns: list[str], where: str | Path) -> None:
    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise R1pipeError(f"{where}: missing column {missing[0]!r} (have: {', '.join(ds.column_names)})")


def sft_pairs(ds: Dataset, where: str | Path) -> Dataset:
    """prompt/completion rows for SFT.

    Rows that already have a ``completion`` (reject-sample output, a long-CoT
    dataset) are used as they are; prompt rows with a worked ``solution`` are
    rendered in the think/answer format. The completion is an assistant message,
    so TRL applies the chat template and masks the prompt out of the loss.
    """
    if len(ds) == 0:
        raise R1pipeError(f"{where}: the dataset has no rows to train on")
    if "completion" in ds.column_names:
        require_columns(ds, ["prompt"], where)
        return ds.select_columns(["prompt", "completion"])
    require_columns(ds, ["prompt", "solution", "answer"], where)
    given = len(ds)
    ds = ds.filter(lambda r: bool(r["solution"]))
    if len(ds) == 0:
        raise R1pipeError(f"{where}: no row has a worked solution to train on (SFT trains on the `solution` "
                          "column: map yours with the source's `columns: {solution: <column>}`, or give "
                          "prompt/completion rows)")
    if len(ds) < given:  # said, not silent: these rows are in the data but not in the training
        from r1pipe.progress import console

        console.print(f"{where}: {given - len(ds)} of {given} rows have no worked solution and are left out of "
                      "SFT (`rows_left_out` in the summary and manifest)")
    return ds.map(
        lambda r: {"completion": [{"role": "assistant", "content": render_completion(r["solution"], r["answer"])}]},
        remove_columns=[c for c in ds.column_names if c != "prompt"],
    )


def load_prompts(path: str | Path, split: str, limit: int | None = None) -> list[dict]:
    """Prompt rows of one split as dicts, at most ``limit`` of them."""
    ds = load_split(path, split)
    require_columns(ds, ["prompt", "answer"], path)
    if limit:
        ds = ds.select(range(min(limit, len(ds))))
    return ds.to_list()
