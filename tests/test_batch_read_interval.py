"""``libchatty batch`` reads each stream at most every READ_INTERVAL (bindings/batch.py,
bindings/batch_runner.py): the results are the same, time to first token is measured as
before, and ``--read-interval`` sets or turns off the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from libchatty.bindings.batch import Settings, _parser, run_file
from libchatty.bindings.batch_runner import READ_INTERVAL, batch_client
from libchatty.bindings.server import ReplayServer

USER = [{"role": "user", "content": "hi"}]
PACED = " ".join(f"word{i}" for i in range(20))  # 20 tokens, 20 ms apart: 0.4 s


def test_a_batch_client_rests_between_reads_unless_told_otherwise() -> None:
    url = "http://127.0.0.1:9/v1"
    assert READ_INTERVAL == 0.2
    assert batch_client(None, 8, base_url=url).backend.read_interval == READ_INTERVAL  # type: ignore[attr-defined]
    off = batch_client(None, 8, read_interval=None, base_url=url)
    assert off.backend.read_interval == 0.0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("argv", "interval"),
    [([], READ_INTERVAL), (["--read-interval", "0"], 0.0), (["--read-interval", "0.25"], 0.25)],
)
def test_the_read_interval_option(argv: list[str], interval: float) -> None:
    args = _parser().parse_args(["in.jsonl", "-o", "out.jsonl", *argv])
    assert args.read_interval == interval


@pytest.mark.parametrize("bad", ["-1", "inf", "nan", "soon"])
def test_a_read_interval_is_seconds(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["in.jsonl", "-o", "out.jsonl", "--read-interval", bad])
    assert f"must be a number >= 0, not {bad!r}" in capsys.readouterr().err


@pytest.mark.parametrize("interval", [READ_INTERVAL, None])
def test_rested_streams_give_the_same_records(interval: float | None, tmp_path: Path) -> None:
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps({"id": i, "messages": USER}) + "\n" for i in range(6)))
    with ReplayServer(text=PACED, token_delay=0.02) as server:
        summary = run_file(str(source), str(output), None, Settings(model="m", concurrency=3),
                           read_interval=interval, base_url=server.base_url)  # fmt: skip
    assert (summary.succeeded, summary.failures) == (6, 0)
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert sorted(r["id"] for r in records) == list(range(6))
    for record in records:
        assert record["text"] == PACED and record["finish_reason"] == "stop"
        # The first token is read as it comes; the rest of the stream comes after it.
        assert record["ttft"] is not None and 0 < record["ttft"] < record["duration"]
