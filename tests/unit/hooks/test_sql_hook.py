"""PolarisSqlHook and its PEP 249 adapter against the emulator over real HTTP (issue 13 item 1)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sql_seed import load_table

from airflow_provider_polaris._compat import AirflowFailException
from airflow_provider_polaris.hooks import _dbapi
from airflow_provider_polaris.hooks._dbapi_base import (
    count_placeholders,
    druid_parameter,
)


@pytest.fixture
def emu(polaris_emulator: Any) -> Any:
    load_table(polaris_emulator, "sales")
    return polaris_emulator


def sql_hook(**params: Any) -> Any:
    """The hook exactly as common-sql's operators get it: the connection type's hook class,
    called with the connection's extras and the operator's hook_params."""
    from airflow.providers.common.sql.operators.sql import BaseSQLOperator

    return BaseSQLOperator.get_hook("polaris_default", hook_params=params)


def query_posts(emu: Any) -> int:
    return int(emu.count_requests("POST", r"/query/sql.*"))


# -- one connection type, two hooks -----------------------------------------------------------


def test_the_sql_operators_get_a_dbapi_hook_from_the_polaris_connection(emu: Any) -> None:
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    from airflow_provider_polaris.hooks.polaris import PolarisHook
    from airflow_provider_polaris.hooks.sql import PolarisSqlHook

    hook = sql_hook()
    assert type(hook) is PolarisSqlHook
    assert isinstance(hook, DbApiHook) and isinstance(hook, PolarisHook)
    assert hook.polaris_conn_id == "polaris_default"
    assert type(PolarisHook(polaris_conn_id="polaris_default")) is PolarisHook
    assert type(PolarisHook("polaris_default")) is PolarisHook
    explicit = PolarisHook(polaris_conn_id="polaris_default", sql=True)
    assert type(explicit) is PolarisSqlHook
    assert explicit.get_first("SELECT 1 AS one") == (1,)


def test_sql_sensor_and_split_statements_with_the_documented_hook_params(emu: Any) -> None:
    from airflow.providers.common.sql.sensors.sql import SqlSensor

    sensor = SqlSensor(
        task_id="rows",
        conn_id="polaris_default",
        sql='SELECT COUNT(*) FROM "sales"',
        hook_params={"sql": True},  # SqlSensor passes no extras: ask for the SQL hook
    )
    assert sensor.poke({}) is True
    script = 'SELECT COUNT(*) FROM "sales"; SELECT 2 AS "b";'
    results = sql_hook().run(
        script, split_statements=True, return_last=False, handler=lambda cur: cur.fetchall()
    )
    assert results == [[(5,)], [(2,)]]


def test_importing_the_provider_does_not_import_common_sql() -> None:
    """Every provider module but hooks.sql loads without common-sql's hooks or operators
    (Airflow 3 itself imports the bare ``airflow.providers.common.sql`` package while
    discovering providers, so the baseline is taken after ``import airflow``)."""
    script = textwrap.dedent(
        """
        import importlib, json, pkgutil, sys
        import airflow
        try:
            import airflow.sdk
        except ImportError:
            pass
        before = {m for m in sys.modules if "common.sql" in m or m.startswith("sqlparse")}
        import airflow_provider_polaris as package
        names = [
            m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
            if m.name != "airflow_provider_polaris.hooks.sql" and ".testing" not in m.name
            and not m.name.endswith("__main__")
        ]
        for name in names:
            importlib.import_module(name)
        from airflow_provider_polaris.hooks.polaris import PolarisHook
        PolarisHook(polaris_conn_id="x")
        after = {m for m in sys.modules if "common.sql" in m or m.startswith("sqlparse")}
        print(json.dumps({"modules": len(names), "new": sorted(after - before)}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["modules"] > 30
    assert result["new"] == []


# -- queries, parameters, results -------------------------------------------------------------


def test_records_first_and_description_on_real_rows(emu: Any) -> None:
    hook = sql_hook()
    rows = hook.get_records(
        'SELECT "country", SUM("amount") AS "total", COUNT(*) AS "n" FROM "sales" '
        "GROUP BY 1 ORDER BY 1"
    )
    assert rows == [("FR", 12, 2), ("US", 13, 3)]
    assert [(d[0], d[1]) for d in hook.last_description] == [
        ("country", "VARCHAR"),
        ("total", "BIGINT"),
        ("n", "BIGINT"),
    ]
    assert hook.get_first('SELECT MAX("__time") FROM "sales";') == ("2024-01-08T12:15:00.000Z",)
    assert query_posts(emu) == 2


def test_parameters_are_typed_druid_parameters(emu: Any) -> None:
    hook = sql_hook()
    when = dt.datetime(2024, 1, 8, tzinfo=dt.timezone.utc)
    row = hook.get_first(
        'SELECT COUNT(*) AS n, ? AS s, ? + 1 AS i, ? * 2 AS d, ? AS t FROM "sales" '
        'WHERE "country" = ? AND "__time" >= ? AND "amount" > ?',
        ["x", 41, 1.25, when, "US", when, 1],
    )
    assert row == (1, "x", 42, 2.5, "2024-01-08T00:00:00.000Z")
    types = [d[1] for d in hook.last_description]
    assert types == ["BIGINT", "VARCHAR", "BIGINT", "DOUBLE", "TIMESTAMP"]


def test_druid_parameter_types_per_python_type() -> None:
    assert druid_parameter(True, 1) == {"type": "BOOLEAN", "value": True}
    assert druid_parameter(7, 1) == {"type": "BIGINT", "value": 7}
    assert druid_parameter(Decimal("1.5"), 1) == {"type": "DOUBLE", "value": 1.5}
    assert druid_parameter(None, 1) == {"type": "VARCHAR", "value": None}
    assert druid_parameter(dt.date(2024, 1, 2), 1) == {"type": "DATE", "value": "2024-01-02"}
    paris = dt.timezone(dt.timedelta(hours=1))
    stamp = dt.datetime(2024, 1, 2, 1, 30, 0, 250000, tzinfo=paris)
    assert druid_parameter(stamp, 1) == {"type": "TIMESTAMP", "value": "2024-01-02 00:30:00.250"}
    with pytest.raises(_dbapi.ProgrammingError, match=r"^SQL parameter 3 is a bytes"):
        druid_parameter(b"x", 3)


def test_placeholders_in_literals_names_and_comments_do_not_count() -> None:
    sql = "SELECT '?', \"a?\", 'it''s ?' -- ?\n/* ? */ FROM t WHERE x = ? AND y = ?"
    assert count_placeholders(sql) == 2


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        (["US"], r"^The query has 2 \? placeholder\(s\) but 1 parameter\(s\) were given"),
        ({"c": "US"}, r"^SQL parameters are a mapping, but Polaris takes positional \?"),
        ("US", r"^SQL parameters must be a list or tuple of values, got str"),
        (["US", object()], r"^SQL parameter 2 is a object"),
    ],
)
def test_bad_parameters_fail_before_any_request(emu: Any, parameters: Any, message: str) -> None:
    with pytest.raises(AirflowFailException, match=message):
        sql_hook().get_records(
            'SELECT * FROM "sales" WHERE "country" = ? AND "amount" > ?', parameters
        )
    assert emu.request_log() == []


def test_quoted_table_names(emu: Any) -> None:
    load_table(emu, "My Table")
    assert sql_hook().get_first('SELECT COUNT(*) FROM "My Table"') == (5,)


# -- errors -----------------------------------------------------------------------------------


def test_druid_errors_carry_error_code_and_message_and_do_not_retry(emu: Any) -> None:
    with pytest.raises(AirflowFailException) as caught:
        sql_hook().get_records('SELECT "nope" FROM "sales"')
    first = str(caught.value).splitlines()[0]
    assert first.startswith("Polaris SQL query failed (invalidInput, INVALID_INPUT): Column 'nope'")
    cause = caught.value.__cause__
    assert isinstance(cause, _dbapi.ProgrammingError)
    assert (cause.error_code, cause.category, cause.status_code) == (
        "invalidInput",
        "INVALID_INPUT",
        400,
    )
    assert query_posts(emu) == 1


def test_a_server_error_stays_retryable(emu: Any) -> None:
    emu.inject_fault("POST", r"/query/sql", status=503, count=100)
    hook = sql_hook()
    with pytest.raises(_dbapi.OperationalError) as caught:
        hook.get_records("SELECT 1 AS one")
    assert not isinstance(caught.value, AirflowFailException)
    assert caught.value.permanent is False and caught.value.status_code == 503


def test_a_typo_in_hook_params_names_the_closest_parameter(emu: Any) -> None:
    with pytest.raises(
        AirflowFailException, match=r"unknown hook parameter 'query_mod'.*'query_mode'"
    ):
        sql_hook(query_mod="async").get_records("SELECT 1 AS one")
    assert emu.request_log() == []


def test_writes_and_sqlalchemy_are_refused_with_the_fix(emu: Any) -> None:
    hook = sql_hook()
    with pytest.raises(_dbapi.NotSupportedError, match="Polaris SQL is read-only"):
        hook.insert_rows("sales", [("US", 1)])
    with pytest.raises(NotImplementedError, match="no SQLAlchemy URI"):
        hook.get_uri()
    with hook.get_conn() as conn, conn.cursor() as cursor:
        with pytest.raises(_dbapi.NotSupportedError, match="executemany is not supported"):
            cursor.executemany("SELECT ?", [[1]])
        with pytest.raises(_dbapi.InterfaceError, match="No result to fetch"):
            cursor.fetchone()
    assert emu.request_log() == []


def test_cursor_fetch_methods(emu: Any) -> None:
    with sql_hook().get_conn() as conn:
        cursor = conn.cursor()
        cursor.execute('SELECT "amount" FROM "sales" ORDER BY "amount"')
        assert cursor.rowcount == 5
        assert cursor.description[0][1] == _dbapi.NUMBER
        assert cursor.fetchone() == (3,)
        assert cursor.fetchmany(2) == [(4,), (5,)]
        assert cursor.fetchall() == [(6,), (7,)]
        assert cursor.fetchone() is None
    with pytest.raises(_dbapi.InterfaceError, match="connection is closed"):
        conn.cursor()


def test_connection_test_runs_select_1(emu: Any) -> None:
    ok, message = sql_hook().test_connection()
    assert ok, message
    assert message.endswith("SQL queries work.")


def test_get_df_with_pandas(emu: Any) -> None:
    pytest.importorskip("pandas", reason="pandas is not installed: get_df needs it")
    frame = sql_hook().get_df('SELECT "country", "amount" FROM "sales" ORDER BY "amount"')
    assert list(frame.columns) == ["country", "amount"]
    assert frame["amount"].sum() == 25


# -- async statements -------------------------------------------------------------------------


def async_cursor(emu: Any, **options: Any) -> Any:
    from airflow_provider_polaris.hooks.polaris import PolarisHook

    options.setdefault("sleep", emu.advance)  # waiting moves the emulator's clock, not ours
    conn = _dbapi.connect(
        PolarisHook(polaris_conn_id="polaris_default").new_client(),
        query_mode="async",
        poll_interval=0.5,
        **options,
    )
    return conn.cursor()


def test_async_statement_is_polled_until_success(emu: Any) -> None:
    emu.configure(manual_clock=True)
    cursor = async_cursor(emu)
    cursor.execute(
        'SELECT "country", COUNT(*) AS "n" FROM "sales" WHERE "amount" > ? GROUP BY 1', [3]
    )
    assert cursor.fetchall() == [("FR", 2), ("US", 2)]
    assert [d[:2] for d in cursor.description] == [("country", "VARCHAR"), ("n", "BIGINT")]
    assert cursor.query_id
    assert emu.count_requests("GET", r"/query/sql/statements/[^/]+") >= 1
    assert emu.count_requests("DELETE") == 0


class Killed(BaseException):
    """What Airflow's SIGTERM handler raises in a killed task, as far as the cursor can tell."""


def test_a_killed_wait_cancels_the_statement(emu: Any) -> None:
    emu.configure(manual_clock=True)

    def killed(_seconds: float) -> None:
        raise Killed

    cursor = async_cursor(emu, sleep=killed)
    with pytest.raises(Killed):
        cursor.execute('SELECT COUNT(*) FROM "sales"')
    assert emu.count_requests("DELETE", r"/query/sql/statements/[^/]+") == 1
    status = cursor.connection.client.query.get_statement(cursor.query_id)
    assert status["state"] == "FAILED"


def test_statement_timeout_cancels_and_fails_retryably(emu: Any) -> None:
    emu.configure(manual_clock=True)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds  # our clock moves, the emulator's does not: the statement runs on

    cursor = async_cursor(emu, sleep=sleep, clock=lambda: now[0], statement_timeout=2)
    with pytest.raises(
        _dbapi.OperationalError, match=r"still ran after statement_timeout=2 s"
    ) as caught:
        cursor.execute('SELECT COUNT(*) FROM "sales"')
    assert caught.value.permanent is False
    assert emu.count_requests("DELETE", r"/query/sql/statements/[^/]+") == 1


def test_async_mode_through_hook_params(emu: Any) -> None:
    hook = sql_hook(query_mode="async", poll_interval=0.01)
    assert hook.get_first('SELECT SUM("amount") FROM "sales"') == (25,)
    assert emu.count_requests("POST", r"/query/sql/statements") == 1
