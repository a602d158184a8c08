"""RecordWriter: concurrent appends are group-committed and still form one intact chain."""

from __future__ import annotations

import threading
from pathlib import Path

from sidecar.records import FORMAT_VERSION, REQUIRED_KEYS, RecordWriter, verify


def _record(n: int, i: int) -> dict[str, object]:
    rec: dict[str, object] = dict.fromkeys(REQUIRED_KEYS[FORMAT_VERSION])
    rec.update({"format": FORMAT_VERSION, "decision_id": f"{n}-{i}", "decision": "allow", "reasons": []})
    return rec


def test_concurrent_writers_share_fsyncs_and_keep_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    writers = [RecordWriter(path), RecordWriter(path)]  # two "processes" on one file, as under gunicorn
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(40):
                writers[n % 2].write_many([_record(n, i), _record(n, i + 1000)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    result = verify(path)
    assert result.ok, result
    assert result.lines == 12 * 40 * 2
    # A list's records stay adjacent: one write per write_many call.
    lines = path.read_text().splitlines()
    first = next(i for i, ln in enumerate(lines) if '"decision_id":"3-7"' in ln)
    assert '"decision_id":"3-1007"' in lines[first + 1]
