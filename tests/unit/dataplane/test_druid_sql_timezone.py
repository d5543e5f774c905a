"""``context.sqlTimeZone``: Druid SQL computes on local time in the zone and prints TIMESTAMP
results as the zone's instants with their offset (Joda's ISO ``dateTime()``), as Druid's
SqlResource does. Expected values come from Python's zoneinfo, never from the engine."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_polaris.testing.dataplane import DataPlane, SqlError

from .conftest import NOW, load_rows

PARIS = ZoneInfo("Europe/Paris")
# Around the 2024-03-31 01:00Z switch to summer time in Paris, and across local midnights.
TIMES = [
    "2024-03-30T22:30:00Z",
    "2024-03-31T00:30:00Z",
    "2024-03-31T01:30:00Z",
    "2024-03-31T21:59:00Z",
    "2024-03-31T22:30:00Z",
]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _joda(moment: datetime) -> str:
    """Joda's ISODateTimeFormat.dateTime() of an aware datetime."""
    offset = moment.utcoffset() or timedelta(0)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _local_midnight(moment: datetime, zone: timezone | ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    return datetime(local.year, local.month, local.day, tzinfo=zone)


@pytest.fixture
def db(dp: DataPlane) -> DataPlane:
    rows = [{"t": t, "n": i} for i, t in enumerate(TIMES)]
    load_rows(dp, "z", rows, {"n": "long"})
    return dp


def q(db: DataPlane, sql: str, zone: str | None = "Europe/Paris") -> list[list]:
    return db.query(sql, None, zone).rows


def test_time_prints_in_the_zone_with_its_offset(db: DataPlane) -> None:
    rows = q(db, "SELECT __time, TIMESTAMP_TO_MILLIS(__time) FROM z ORDER BY __time")
    assert rows == [
        [_joda(_utc(t).astimezone(PARIS)), int(_utc(t).timestamp() * 1000)] for t in TIMES
    ]
    utc_rows = q(db, "SELECT __time FROM z ORDER BY __time LIMIT 1", None)
    assert utc_rows == [[_joda(_utc(TIMES[0]))]]  # no zone: UTC, printed with Z


def test_day_buckets_are_local_days(db: DataPlane) -> None:
    days = Counter(_joda(_local_midnight(_utc(t), PARIS)) for t in TIMES)
    expected = [[day, count] for day, count in sorted(days.items())]
    for bucket in ("TIME_FLOOR(__time, 'P1D')", "FLOOR(__time TO DAY)"):
        assert q(db, f"SELECT {bucket} AS d, COUNT(*) FROM z GROUP BY 1") == expected


def test_extract_and_format_use_local_time(db: DataPlane) -> None:
    rows = q(
        db,
        "SELECT EXTRACT(HOUR FROM __time), TIME_EXTRACT(__time, 'DAY'), TIME_FORMAT(__time), "
        "TIME_FORMAT(__time, 'yyyy-MM-dd HH:mm Z') FROM z ORDER BY __time",
    )
    expected = []
    for t in TIMES:
        local = _utc(t).astimezone(PARIS)
        hhmm = local.strftime("%z")
        expected.append(
            [local.hour, local.day, _joda(local), local.strftime("%Y-%m-%d %H:%M ") + hhmm]
        )
    assert rows == expected


def test_literals_parse_and_current_time_are_local(db: DataPlane) -> None:
    start = datetime(2024, 3, 31, tzinfo=PARIS)
    inside = sum(1 for t in TIMES if _utc(t) >= start)
    assert q(db, "SELECT COUNT(*) FROM z WHERE __time >= TIMESTAMP '2024-03-31 00:00:00'") == [
        [inside]
    ]
    now = datetime.fromtimestamp(NOW, timezone.utc).astimezone(PARIS)
    rows = q(
        db,
        "SELECT CURRENT_TIMESTAMP, CURRENT_DATE, TIME_PARSE('2024-01-01T00:00:00'), "
        "TIME_PARSE('2024-01-01T00:00:00Z'), MILLIS_TO_TIMESTAMP(0)",
    )
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert rows == [
        [
            _joda(now),
            _joda(_local_midnight(now, PARIS)),
            _joda(datetime(2024, 1, 1, tzinfo=PARIS)),
            _joda(datetime(2024, 1, 1, tzinfo=timezone.utc).astimezone(PARIS)),
            _joda(epoch.astimezone(PARIS)),
        ]
    ]


def test_a_fixed_offset_zone(db: DataPlane) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    rows = q(db, "SELECT __time, FLOOR(__time TO HOUR) FROM z ORDER BY __time LIMIT 1", "+05:30")
    local = _utc(TIMES[0]).astimezone(india)
    assert rows == [[_joda(local), _joda(local.replace(minute=0))]]


def test_joins_and_ctes_read_local_time_too(db: DataPlane) -> None:
    rows = q(
        db,
        "WITH d AS (SELECT FLOOR(__time TO DAY) AS day, COUNT(*) AS c FROM z GROUP BY 1) "
        "SELECT z.n, d.c FROM z JOIN d ON FLOOR(z.__time TO DAY) = d.day ORDER BY z.n",
    )
    days = Counter(_local_midnight(_utc(t), PARIS) for t in TIMES)
    assert rows == [[i, days[_local_midnight(_utc(t), PARIS)]] for i, t in enumerate(TIMES)]


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "+25:00", "not a zone", "UTC'; DROP"])
def test_an_unknown_zone_is_refused(db: DataPlane, zone: str) -> None:
    with pytest.raises(SqlError, match="is not recognised") as caught:
        db.query("SELECT COUNT(*) FROM z", None, zone)
    assert caught.value.category == "INVALID_INPUT" and zone in caught.value.message


@pytest.mark.parametrize("session", [None, "Asia/Tokyo"])
def test_a_zone_argument_overrides_the_session_zone(db: DataPlane, session: str | None) -> None:
    la = ZoneInfo("America/Los_Angeles")
    shown = ZoneInfo(session) if session else timezone.utc
    rows = q(
        db,
        "SELECT TIME_FLOOR(__time, 'P1D', NULL, 'America/Los_Angeles'), "
        "TIME_EXTRACT(__time, 'HOUR', 'America/Los_Angeles'), "
        "TIME_FORMAT(__time, 'yyyy-MM-dd HH:mm Z', 'America/Los_Angeles'), "
        "TIME_PARSE('2024-01-01 00:00', 'yyyy-MM-dd HH:mm', 'America/Los_Angeles'), "
        "TIME_PARSE('2024-01-01T00:00:00', NULL, 'America/Los_Angeles'), "
        "TIME_PARSE('2024-01-01T00:00:00Z', NULL, 'America/Los_Angeles') FROM z ORDER BY __time",
        session,
    )
    la_midnight = datetime(2024, 1, 1, tzinfo=la).astimezone(shown)
    expected = []
    for t in TIMES:
        local = _utc(t).astimezone(la)
        expected.append(
            [
                _joda(_local_midnight(local, la).astimezone(shown)),
                local.hour,
                local.strftime("%Y-%m-%d %H:%M %z"),
                _joda(la_midnight),
                _joda(la_midnight),
                _joda(datetime(2024, 1, 1, tzinfo=timezone.utc).astimezone(shown)),
            ]
        )
    assert rows == expected


def test_time_in_interval_reads_offsets_and_local_times(db: DataPlane) -> None:
    start = datetime(2024, 3, 31, tzinfo=PARIS)
    by_local = sum(1 for t in TIMES if start <= _utc(t) < start + timedelta(days=1))
    by_utc = sum(1 for t in TIMES if _utc(t).date().isoformat() == "2024-03-31")
    local = "SELECT COUNT(*) FROM z WHERE TIME_IN_INTERVAL(__time, '2024-03-31/2024-04-01')"
    utc = (
        "SELECT COUNT(*) FROM z "
        "WHERE TIME_IN_INTERVAL(__time, '2024-03-31T00:00:00Z/2024-04-01T00:00:00Z')"
    )
    assert q(db, local) == [[by_local]] and q(db, utc) == [[by_utc]]
    assert by_local != by_utc  # the data tells the two readings apart


def test_a_date_is_not_read_as_an_offset(db: DataPlane) -> None:
    rows = q(db, "SELECT TIME_PARSE('2024-01-01', NULL, 'America/Los_Angeles')", None)
    midnight = datetime(2024, 1, 1, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert rows == [[_joda(midnight.astimezone(timezone.utc))]]  # not 01:00Z ("-01" offset)
