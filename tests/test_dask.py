"""``libchatty.bindings.dask``: a 1,000-request batch on a LocalCluster of two worker
processes against the replay server, every result exact; resumable per partition."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from libchatty.bindings.batch import Settings
from libchatty.bindings.server import ReplayServer

dask_bag = pytest.importorskip("dask.bag")
distributed = pytest.importorskip("distributed")

from libchatty.bindings.dask import batch_bag, worker_share  # noqa: E402

TOTAL = 1000
USER = [{"role": "user", "content": "hi"}]


def _answer(i: int) -> str:
    return f"Answer {i}: ok."


def test_worker_share_divides_the_caps() -> None:
    settings = worker_share(Settings(rpm=600, tpm=90_000, concurrency=8), 3)
    assert (settings.rpm, settings.tpm, settings.concurrency) == (200, 30_000, 8)
    assert worker_share(Settings(), 4).rpm is None
    with pytest.raises(ValueError, match="at least 1"):
        worker_share(Settings(), 0)


def test_import_does_not_load_dask_or_tqdm() -> None:
    import subprocess

    code = (
        "import sys, libchatty, libchatty.bindings.batch, libchatty.bindings.dask;"
        "print(sorted(m for m in ('dask', 'distributed', 'tqdm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_local_cluster_two_processes_1000_requests(tmp_path: Path) -> None:
    routes = {f"m{i}": _answer(i) for i in range(TOTAL)}
    records = [
        {"id": i, "messages": USER, "model": f"m{i}"} if i % 2 else
        json.dumps({"custom_id": f"c{i}", "method": "POST", "url": "/v1/chat/completions",
                    "body": {"model": f"m{i}", "messages": USER}})
        for i in range(TOTAL)
    ]  # fmt: skip
    expected = sorted((str(i if i % 2 else f"c{i}"), _answer(i)) for i in range(TOTAL))
    with (
        ReplayServer(routes=routes, max_recorded=10) as server,
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        bag = dask_bag.from_sequence(records, npartitions=8)
        settings = Settings(concurrency=16, rpm=600_000)
        results = batch_bag(bag, settings=settings, base_url=server.base_url,
                            output_dir=str(tmp_path)).compute()  # fmt: skip
        assert sorted((str(r["id"]), r["text"]) for r in results) == expected
        assert all(r["ok"] and r["attempts"] == 1 for r in results)
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            f"part-{i:05d}.jsonl" for i in range(8)
        ]
        # Recomputing resumes: every partition file is complete, nothing is sent again.
        before = server.connections
        again = batch_bag(bag, settings=settings, base_url=server.base_url,
                          output_dir=str(tmp_path)).compute()  # fmt: skip
        assert sorted((str(r["id"]), r["text"]) for r in again) == expected
        assert server.connections == before
        # Without an output directory, the bag holds this run's records.
        small = batch_bag(dask_bag.from_sequence(records[:10], npartitions=2),
                          base_url=server.base_url, settings=settings).compute()  # fmt: skip
        assert sorted((str(r["id"]), r["text"]) for r in small) == expected_subset(expected, 10)
        assert sum(client.nthreads().values()) == 2


def expected_subset(expected: list[tuple[str, str]], count: int) -> list[tuple[str, str]]:
    names = {str(i if i % 2 else f"c{i}") for i in range(count)}
    return [pair for pair in expected if pair[0] in names]


# The README's Dask recipe, verbatim (tests/test_readme.py runs the README's copy too).
README_DASK = """\
import dask.bag as db
from distributed import Client, LocalCluster
from libchatty.bindings.batch import Settings
from libchatty.bindings.dask import batch_bag
from libchatty.bindings.server import ReplayServer

requests = [{"id": i, "messages": [{"role": "user", "content": f"Say {i}"}]} for i in range(100)]
with ReplayServer(text="Done.") as server, LocalCluster(n_workers=2, processes=True,
        threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster):
    results = batch_bag(db.from_sequence(requests, npartitions=4), base_url=server.base_url,
                        settings=Settings(model="replay-1", rpm=60_000)).compute()
assert sorted(r["id"] for r in results if r["ok"] and r["text"] == "Done.") == list(range(100))
"""


def test_readme_dask_recipe() -> None:
    exec(compile(README_DASK, "README.md (Dask recipe)", "exec"), {"__name__": "__main__"})
