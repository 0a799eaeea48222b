"""The driver of a ``type: parallel`` job, run as the step's command: Azure ML's parallel run, locally.

    python -m ctloop.engine.parallel_run --entry score.py --input DATA --mini-batch-size 10kb \
        --workers 4 --error-threshold 5 [--output FILE] -- <program_arguments>

The input is split into mini-batches: a folder of files (``uri_folder``) gives lists of file
paths, ``--mini-batch-size`` files each; tabular data (an ``mltable`` folder, or CSV/Parquet
files) gives pandas DataFrames of about ``--mini-batch-size`` bytes each (``10kb``, ``1mb``).
``--workers`` processes (``instance_count`` × ``max_concurrency_per_instance``) each import the
entry script, call its ``init()`` once with ``sys.argv`` set to the program arguments, then
``run(mini_batch)`` per mini-batch. Results are appended in
mini-batch order to ``--output`` (``append_row``; DataFrames as space-separated rows, list items
one per line); without ``--output`` only the summary is kept (``summary_only``). A mini-batch
whose ``run()`` raises counts as failed; more than ``--error-threshold`` failed mini-batches (-1:
no limit) fails the step.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing as mp
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Any

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?b?)\s*$", re.I)
_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}
TABULAR_SUFFIXES = (".csv", ".tsv", ".parquet")
_entry: Any = None
_init_error: str | None = None


def parse_size(text: str) -> tuple[int, bool]:
    """(amount, is_bytes): ``10kb`` is 10240 bytes; a bare number is a count of files (or bytes)."""
    match = _SIZE.match(str(text))
    if match is None:
        raise ValueError(f"mini_batch_size {text!r}: expected a number or a size like 10kb, 1mb")
    unit = match.group(2).lower()
    return int(float(match.group(1)) * _UNITS[unit]), bool(unit)


def _mltable_files(folder: Path) -> tuple[list[Path], dict[str, Any]]:
    import yaml

    spec = yaml.safe_load((folder / "MLTable").read_text(encoding="utf-8")) or {}
    files: list[Path] = []
    for entry in spec.get("paths") or []:
        if "file" in entry:
            files.append(folder / entry["file"])
        elif "folder" in entry:
            files.extend(sorted(p for p in (folder / entry["folder"]).rglob("*") if p.is_file()))
        elif "pattern" in entry:
            files.extend(sorted(folder.glob(entry["pattern"].lstrip("./"))))
    options: dict[str, Any] = {}
    for step in spec.get("transformations") or []:
        if isinstance(step, dict) and "read_delimited" in step:
            options["sep"] = (step["read_delimited"] or {}).get("delimiter", ",")
        elif isinstance(step, dict) and "read_parquet" in step:
            options["parquet"] = True
    return files, options


def _read_table(files: list[Path], options: dict[str, Any]) -> Any:
    import pandas as pd

    frames = []
    for f in files:
        if options.get("parquet") or f.suffix == ".parquet":
            frames.append(pd.read_parquet(f))
        else:
            frames.append(pd.read_csv(f, sep=options.get("sep", "\t" if f.suffix == ".tsv" else ",")))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def mini_batches(source: Path, size_text: str) -> list[Any]:
    """The input split into mini-batches: lists of ``size`` paths, or DataFrames of about ``size`` bytes.

    As on Azure ML, the number is a count of files for file data and bytes for tabular data
    (an ``mltable`` folder, or CSV/Parquet files with a size like ``10kb``).
    """
    size, is_bytes = parse_size(size_text)
    size = max(size, 1)
    if source.is_dir() and (source / "MLTable").is_file():
        files, options = _mltable_files(source)
        tabular = True
    elif source.is_dir():
        files, options = sorted(p for p in source.rglob("*") if p.is_file()), {}
        tabular = is_bytes and bool(files) and all(p.suffix in TABULAR_SUFFIXES for p in files)
        # a folder of files is a file dataset (count) unless the size says bytes (10kb)
    else:
        files, options, tabular = [source], {}, source.suffix in TABULAR_SUFFIXES
    if not tabular:
        names = [str(p) for p in files]
        return [names[i : i + size] for i in range(0, len(names), size)]
    table = _read_table(files, options)
    total = sum(f.stat().st_size for f in files) or 1
    rows = len(table)
    per_batch = max(1, int(rows * size / total))  # tabular data: mini_batch_size is bytes
    return [table.iloc[i : i + per_batch] for i in range(0, rows, per_batch)]


def _load_entry(path: Path) -> Any:
    sys.path.insert(0, str(path.parent.resolve()))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"parallel: cannot import entry script {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _init_worker(entry: str, argv: list[str]) -> None:
    """Import the entry script and call its init(); a failure fails every mini-batch of this worker."""
    global _entry, _init_error
    sys.argv = [entry, *argv]
    try:
        _entry = _load_entry(Path(entry))
        if hasattr(_entry, "init"):
            _entry.init()
    except BaseException:  # a raising initializer would make the pool respawn workers forever
        _init_error = "init() failed:\n" + traceback.format_exc()


def _run_batch(item: tuple[int, Any]) -> tuple[int, Any, str | None]:
    index, batch = item
    if _init_error is not None:
        return index, None, _init_error
    try:
        return index, _entry.run(batch), None
    except Exception:
        return index, None, traceback.format_exc()


def _rows(result: Any) -> list[str]:
    if result is None:
        return []
    if hasattr(result, "to_csv"):
        text = result.to_csv(sep=" ", header=False, index=False)
        return [line for line in text.splitlines() if line]
    if isinstance(result, list | tuple):
        return [str(r) for r in result]
    return [str(result)]


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    program: list[str] = []
    if "--" in args_list:
        cut = args_list.index("--")
        args_list, program = args_list[:cut], args_list[cut + 1 :]
    parser = argparse.ArgumentParser(prog="parallel_run")
    parser.add_argument("--entry", required=True)
    parser.add_argument("--input", required=True, type=Path)
    parser.add_argument("--mini-batch-size", default="1")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--error-threshold", type=int, default=-1)
    parser.add_argument("--output", default="")
    args = parser.parse_args(args_list)
    batches = mini_batches(args.input, args.mini_batch_size)
    workers = max(1, min(args.workers, len(batches) or 1))
    print(f"parallel: {len(batches)} mini-batches on {workers} worker processes", flush=True)
    results: dict[int, Any] = {}
    failed: list[int] = []
    context = mp.get_context("fork")
    with context.Pool(workers, initializer=_init_worker, initargs=(args.entry, program)) as pool:
        for index, result, error in pool.imap_unordered(_run_batch, list(enumerate(batches))):
            if error is not None:
                failed.append(index)
                print(f"parallel: mini-batch {index} failed:\n{error}", file=sys.stderr, flush=True)
            else:
                results[index] = result
    if args.output:
        out = Path(args.output)
        if out.is_dir():
            out = out / "parallel_run_step.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a", encoding="utf-8") as fh:
            for index in sorted(results):
                fh.writelines(f"{row}\n" for row in _rows(results[index]))
    print(f"parallel: {len(results)} mini-batches succeeded, {len(failed)} failed", flush=True)
    if args.error_threshold >= 0 and len(failed) > args.error_threshold:
        print(
            f"parallel: {len(failed)} failed mini-batches exceed mini_batch_error_threshold "
            f"{args.error_threshold}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
