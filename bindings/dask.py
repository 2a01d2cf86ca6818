"""Batches on a Dask cluster: :func:`batch_bag` runs a bag of requests partition by
partition (``pip install libchatty[dask]``).

::

    import dask.bag as db
    from distributed import Client
    from libchatty.bindings.batch import Settings
    from libchatty.bindings.dask import batch_bag

    with Client("scheduler:8786") as cluster:
        requests = db.read_text("prompts-*.jsonl")              # or db.from_sequence(dicts)
        results = batch_bag(requests, "openai", Settings(model="gpt-4o-mini", rpm=5000),
                            output_dir="results/")               # resumable, one file each
        results.count().compute()

* Each partition is one task: it builds its own ``AsyncClient`` on the worker (nothing
  but the settings and client options travel in the graph -- leave ``api_key`` out and
  the worker reads the provider's variable from its own environment) and runs the batch
  loop of :mod:`libchatty.bindings.batch` on the partition's lines or dicts, in both
  formats.
* **Rate caps are shared by division**: ``rpm`` and ``tpm`` are split evenly between the
  worker threads that can run partitions at once (``workers``; by default the total
  ``nthreads`` of the current ``distributed`` client, else the CPU count), so the
  cluster as a whole never exceeds them. ``concurrency`` is per task. Each task still
  backs off on its own 429s (AIMD and ``Retry-After``).
* With ``output_dir``, partition *i* appends to ``output_dir/part-0000i.jsonl`` with the
  crash-safety and resume rules of :mod:`libchatty.bindings.batch_output`: recomputing
  the bag after a failure (or a killed worker) skips what each partition file already
  holds. The bag's items are then the partition's final records (last line per id).
  Without it, the items are the records of this run.

Dask is imported only by :func:`batch_bag` (and this module imports nothing heavy).
A dataframe: ``batch_bag(df.to_bag(format="dict"), ...)``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .batch_input import id_key, read_jobs
from .batch_output import ResultWriter
from .batch_runner import Settings, batch_client, run_jobs

if TYPE_CHECKING:
    import dask.bag

__all__ = ["batch_bag", "run_partition", "worker_share"]


def worker_share(settings: Settings, workers: int) -> Settings:
    """``settings`` with ``rpm``/``tpm`` divided between ``workers`` concurrent tasks."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    return replace(
        settings,
        rpm=settings.rpm / workers if settings.rpm else None,
        tpm=settings.tpm / workers if settings.tpm else None,
    )


def _final_records(path: str) -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    with open(path, "rb") as file:
        for line in file:
            if line.endswith(b"\n") and line.strip():
                record = json.loads(line)
                key = id_key(record["id"]) if record["id"] is not None else f"line {record['line']}"
                latest[key] = record
    return list(latest.values())


def run_partition(
    records: Iterable[bytes | str | Mapping[str, Any]],
    index: int,
    provider: str | None,
    settings: Settings,
    client_options: Mapping[str, Any],
    output_dir: str | None = None,
) -> list[dict[str, Any]]:
    """One partition's batch, run to its end in a fresh event loop on this worker."""

    async def go(write: Any, state: Any) -> None:
        async with batch_client(provider, settings.concurrency, **client_options) as client:
            await run_jobs(client, read_jobs(records), write, settings, state=state)

    if output_dir is None:
        results: list[dict[str, Any]] = []
        asyncio.run(go(results.append, None))
        return results
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, f"part-{index:05d}.jsonl")
    with ResultWriter(path) as writer:
        asyncio.run(go(writer.write, writer.state))
    return _final_records(path)


def _default_workers() -> int:
    import importlib

    try:
        distributed: Any = importlib.import_module("distributed")  # untyped
        threads: int = sum(distributed.get_client().nthreads().values())
        return max(1, threads)
    except (ImportError, ValueError):  # no distributed client: the local scheduler
        return max(1, os.cpu_count() or 1)


def _task(
    records: list[Any], index: list[int], provider: str | None, settings: Settings,
    client_options: Mapping[str, Any], output_dir: str | None,
) -> list[dict[str, Any]]:  # fmt: skip
    return run_partition(records, index[0], provider, settings, client_options, output_dir)


def batch_bag(
    bag: dask.bag.Bag,
    provider: str | None = None,
    settings: Settings | None = None,
    *,
    output_dir: str | None = None,
    workers: int | None = None,
    **client_options: Any,
) -> dask.bag.Bag:
    """A lazy bag of result records, one partition per task (see the module docstring)."""
    import importlib

    db: Any = importlib.import_module("dask.bag")  # untyped
    share = worker_share(settings or Settings(), workers or _default_workers())
    count = bag.npartitions
    indices = db.from_sequence(range(count), npartitions=count)
    mapped: dask.bag.Bag = bag.map_partitions(  # type: ignore[no-untyped-call]
        _task, indices, provider, share, dict(client_options), output_dir
    )
    return mapped
