from __future__ import annotations

import os
from pathlib import Path

import pytest

from keel.guards.validators.sources import CsvSource, CsvWhere, SourceUnavailable

STOCK = "id,name,in_stock\nSKU-1,Kettle,true\n SKU-2 ,Toaster, false\nSKU-3,Mug,true\n"


def _touch_later(path: Path) -> None:
    """Move the file's modification time forward, so a rewrite is seen even on coarse clocks."""
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 5_000_000_000))


async def test_values_of_a_column(tmp_path: Path) -> None:
    path = tmp_path / "stock.csv"
    path.write_text(STOCK)
    source = CsvSource(path, "id")
    assert await source.contains(["SKU-1", "SKU-2", "SKU-9", "Kettle"]) == {
        "SKU-1": True,
        "SKU-2": True,  # spaces around a cell are trimmed
        "SKU-9": False,
        "Kettle": False,
    }


async def test_the_where_filter_keeps_matching_rows_only(tmp_path: Path) -> None:
    path = tmp_path / "stock.csv"
    path.write_text(STOCK)
    source = CsvSource(path, "id", CsvWhere(column="in_stock", equals="true"))
    assert await source.contains(["SKU-1", "SKU-2", "SKU-3"]) == {"SKU-1": True, "SKU-2": False, "SKU-3": True}


async def test_the_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "stock.csv"
    path.write_text(STOCK)
    source = CsvSource(path, "id", CsvWhere(column="in_stock", equals="true"))
    assert await source.contains(["SKU-2"]) == {"SKU-2": False}
    path.write_text(STOCK.replace(" false", "true"))
    _touch_later(path)
    assert await source.contains(["SKU-2"]) == {"SKU-2": True}


async def test_an_unchanged_file_is_not_read_again(tmp_path: Path) -> None:
    path = tmp_path / "stock.csv"
    path.write_text(STOCK)
    source = CsvSource(path, "id")
    assert (await source.contains(["SKU-1"]))["SKU-1"]
    stamp = path.stat()
    # Same size and modification time: the cached set is used, as the file was not replaced.
    path.write_text(STOCK.replace("SKU-1", "SKU-7"))
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert (await source.contains(["SKU-1"]))["SKU-1"]
    _touch_later(path)
    assert await source.contains(["SKU-1", "SKU-7"]) == {"SKU-1": False, "SKU-7": True}


async def test_a_byte_order_mark_does_not_hide_the_first_column(tmp_path: Path) -> None:
    path = tmp_path / "stock.csv"
    path.write_bytes("\ufeffid\nSKU-1\n".encode())
    assert await CsvSource(path, "id").contains(["SKU-1"]) == {"SKU-1": True}


async def test_a_missing_file_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match=r"csv gone\.csv: cannot read"):
        await CsvSource(tmp_path / "gone.csv", "id").contains(["SKU-1"])


async def test_a_missing_column_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "stock.csv"
    path.write_text(STOCK)
    with pytest.raises(SourceUnavailable, match="no column 'available'"):
        await CsvSource(path, "id", CsvWhere(column="available", equals="yes")).contains(["SKU-1"])
