"""The disk spool: ordering, durability, permissions and crash recovery."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from keel.store.spool import REJECTED_PREFIX, SEGMENT_PREFIX, Spool, SpoolLockedError, encode_records
from tests.store.conftest import full_record, make_record


def test_append_then_read_oldest_first_then_remove(tmp_path: Path) -> None:
    with Spool(tmp_path / "spool") as spool:
        assert spool.read_oldest() is None and spool.is_empty()
        spool.append([make_record(1), make_record(2)])
        first = spool.read_oldest()  # seals the segment: the next append starts another
        spool.append([make_record(3)])
        assert first is not None
        assert [r.request_id for r in first[1]] == ["req-00000001", "req-00000002"]
        assert len(spool) == 2
        spool.remove(first[0])
        second = spool.read_oldest()
        assert second is not None and [r.request_id for r in second[1]] == ["req-00000003"]
        spool.remove(second[0])
        assert spool.read_oldest() is None and spool.is_empty()
        assert list((tmp_path / "spool").glob(f"{SEGMENT_PREFIX}*")) == []


def test_appends_share_a_segment_until_it_is_full(tmp_path: Path) -> None:
    one_record = len(encode_records([make_record(0)]))
    with Spool(tmp_path, max_segment_bytes=3 * one_record) as spool:
        for i in range(7):
            spool.append([make_record(i)])
        assert len(spool) == 3  # 3 + 3 + 1
        seen = []
        while (segment := spool.read_oldest()) is not None:
            seen += [r.request_id for r in segment[1]]
            spool.remove(segment[0])
        assert seen == [make_record(i).request_id for i in range(7)]


def test_records_round_trip_every_field(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append([full_record()])
        segment = spool.read_oldest()
    assert segment is not None and segment[1] == [full_record()]


def test_files_are_private(tmp_path: Path) -> None:
    directory = tmp_path / "private" / "spool"
    with Spool(directory) as spool:
        spool.append([make_record(1)])
        spool.reject([make_record(2)])
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = [p for p in directory.iterdir() if p.name.endswith(".jsonl")]
    assert len(files) == 2
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)


def test_a_new_process_finds_what_an_old_one_spooled(tmp_path: Path) -> None:
    with Spool(tmp_path) as old:
        old.append([make_record(1)])
        old.append([make_record(2)])
    with Spool(tmp_path) as new:
        new.append([make_record(3)])  # never into the old process's segment
        assert len(new) == 2
        segment = new.read_oldest()
        assert segment is not None and [r.request_id for r in segment[1]] == ["req-00000001", "req-00000002"]


def test_a_torn_last_line_is_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with Spool(tmp_path) as spool:
        spool.append([make_record(1), make_record(2)])
    [segment_file] = tmp_path.glob(f"{SEGMENT_PREFIX}*")
    whole = encode_records([make_record(3)])
    with segment_file.open("ab") as f:
        f.write(whole[: len(whole) // 2])  # what a crash mid-write leaves behind

    caplog.set_level(logging.WARNING)
    with Spool(tmp_path) as spool:
        segment = spool.read_oldest()
    assert segment is not None and [r.request_id for r in segment[1]] == ["req-00000001", "req-00000002"]
    assert "torn last line 3" in caplog.text


def test_an_unreadable_line_in_the_middle_does_not_lose_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lines = encode_records([make_record(1)]) + b'{"not": "a record"}\n' + b"garbage\n"
    (tmp_path / f"{SEGMENT_PREFIX}00000000000000000001-1-000000.jsonl").write_bytes(
        lines + encode_records([make_record(2)])
    )
    with Spool(tmp_path) as spool:
        segment = spool.read_oldest()
    assert segment is not None and [r.request_id for r in segment[1]] == ["req-00000001", "req-00000002"]
    assert caplog.text.count("unreadable line") == 2


def test_rejected_records_are_never_replayed(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        path = spool.reject([make_record(1)])
        assert path is not None and path.name.startswith(REJECTED_PREFIX)
        assert spool.read_oldest() is None
    with Spool(tmp_path) as spool:
        assert spool.is_empty()


def test_one_owner_per_directory(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    with pytest.raises(SpoolLockedError):
        Spool(tmp_path)
    spool.close()
    Spool(tmp_path).close()


def test_a_failed_append_starts_a_fresh_segment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Spool(tmp_path) as spool:
        spool.append([make_record(1)])

        def disk_full(fd: int, data: object) -> int:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr("keel.store.spool.os.write", disk_full)
        with pytest.raises(OSError):
            spool.append([make_record(2)])
        monkeypatch.undo()
        spool.append([make_record(3)])
        assert len(spool) == 2  # the possibly torn segment is not appended to again
