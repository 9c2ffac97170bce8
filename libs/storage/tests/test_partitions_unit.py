from datetime import UTC, datetime

import pytest

from eip.storage import redact_dsn
from eip.storage.partitions import partition_bounds, partition_name


def test_daily_bounds_cover_the_range() -> None:
    bounds = partition_bounds(
        datetime(2026, 11, 30, 15, tzinfo=UTC),
        datetime(2026, 12, 2, 1, tzinfo=UTC),
        "day",
    )
    assert [b[0].day for b in bounds] == [30, 1, 2]
    assert bounds[-1][1] == datetime(2026, 12, 3, tzinfo=UTC)
    assert partition_name("trades", bounds[1][0], "day") == "trades_p20261201"


def test_monthly_bounds_cross_the_year() -> None:
    bounds = partition_bounds(
        datetime(2026, 12, 31, tzinfo=UTC),
        datetime(2027, 2, 1, tzinfo=UTC),
        "month",
    )
    assert [(b[0].year, b[0].month) for b in bounds] == [(2026, 12), (2027, 1)]
    assert partition_name("candles", bounds[1][0], "month") == "candles_p202701"


def test_naive_datetimes_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        partition_bounds(datetime(2026, 1, 1), datetime(2026, 1, 2), "day")


def test_redact_dsn() -> None:
    assert redact_dsn("postgresql://eip:s3cr3t@h:5432/eip") == "postgresql://eip:***@h:5432/eip"
    assert "s3cr3t" not in redact_dsn("host=h password=s3cr3t dbname=x")
