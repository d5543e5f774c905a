"""common-sql's operators on a Polaris connection (see tests/integration/sql/test_sql_dags.py).

The ``sales`` table holds 3 rows on 2024-01-01 (amounts 3, 4, 5) and 2 on 2024-01-08 (7, 6).
``test_sql_checks_pass`` must succeed; every task of ``test_sql_checks_fail`` must fail. The
column and table checks build subqueries and UNION ALL, so they live in their own DAGs.
"""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.providers.common.sql.operators.sql import (
    SQLCheckOperator,
    SQLColumnCheckOperator,
    SQLExecuteQueryOperator,
    SQLIntervalCheckOperator,
    SQLTableCheckOperator,
    SQLValueCheckOperator,
)

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
CONN = {"conn_id": "polaris_default", "retries": 0}
# A day of __time as 'yyyy-MM-dd', the form of {{ ds }} the interval check compares it with.
DAY = "TIME_FORMAT(\"__time\", 'yyyy-MM-dd')"

with DAG("test_sql_checks_pass", schedule=None, start_date=START, catchup=False) as pass_dag:
    SQLExecuteQueryOperator(
        task_id="totals",
        sql='SELECT "country", SUM("amount") AS "total" FROM "sales" WHERE "amount" > ? '
        "GROUP BY 1 ORDER BY 1",
        parameters=[0],
        **CONN,
    )
    SQLCheckOperator(task_id="has_rows", sql='SELECT COUNT(*) FROM "sales"', **CONN)
    SQLValueCheckOperator(
        task_id="total_amount",
        sql='SELECT SUM("amount") FROM "sales"',
        pass_value=25,
        **CONN,
    )
    SQLIntervalCheckOperator(
        task_id="week_over_week",
        table='"sales"',
        date_filter_column=DAY,
        days_back=7,
        metrics_thresholds={"COUNT(*)": 1.6, 'SUM("amount")': 1.2},
        **CONN,
    )

with DAG("test_sql_checks_fail", schedule=None, start_date=START, catchup=False) as fail_dag:
    SQLExecuteQueryOperator(task_id="bad_query", sql='SELECT "nope" FROM "sales"', **CONN)
    SQLCheckOperator(
        task_id="no_rows_for_xx",
        sql='SELECT COUNT(*) FROM "sales" WHERE "country" = \'XX\'',
        **CONN,
    )
    SQLValueCheckOperator(
        task_id="total_amount_is_26",
        sql='SELECT SUM("amount") FROM "sales"',
        pass_value=26,
        **CONN,
    )
    SQLIntervalCheckOperator(
        task_id="count_week_over_week",
        table='"sales"',
        date_filter_column=DAY,
        days_back=7,
        metrics_thresholds={"COUNT(*)": 1.2},
        **CONN,
    )

# The queries users check a rollup with (issue 12), each a value check; the pass values are
# worked out by hand from the rows in the module docstring (US 3 and 4 at 10:05 and 10:35, FR 5
# at 11:45 on 01-01; FR 7 at 10:15 and US 6 at 12:15 on 01-08).
ROLLUP_CHECKS = {
    # 3 US rows
    "filter": ('SELECT COUNT(*) FILTER (WHERE "country" = \'US\') FROM "sales"', 3),
    # US 3+4+6 = 13 beats FR 5+7 = 12
    "subquery": (
        'SELECT MAX("total") FROM (SELECT "country", SUM("amount") AS "total" '
        'FROM "sales" GROUP BY 1) AS t',
        13,
    ),
    # the day before the last row (01-08 12:15) holds 10:15 and 12:15
    "with_join_interval": (
        'WITH "last" AS (SELECT MAX("__time") AS "t" FROM "sales") SELECT COUNT(*) FROM "sales" '
        'JOIN "last" ON "sales"."__time" >= "last"."t" - INTERVAL \'1\' DAY',
        2,
    ),
    # ordered pairs within a country: 3 among the US rows, 1 among the FR rows
    "self_join": (
        'SELECT COUNT(*) FROM "sales" AS a JOIN "sales" AS b '
        'ON a."country" = b."country" AND a."__time" < b."__time"',
        4,
    ),
    # each country's latest amount: US 6 + FR 7
    "row_number": (
        'SELECT SUM("amount") FROM (SELECT "amount", ROW_NUMBER() OVER (PARTITION BY "country" '
        'ORDER BY "__time" DESC) AS "rn" FROM "sales") AS t WHERE "rn" = 1',
        13,
    ),
    # 3 US rows + 2 FR rows
    "union_all": (
        'SELECT SUM("n") FROM (SELECT COUNT(*) AS "n" FROM "sales" WHERE "country" = \'US\' '
        'UNION ALL SELECT COUNT(*) AS "n" FROM "sales" WHERE "country" = \'FR\') AS u',
        5,
    ),
    # 01-01 10:05 to 01-08 12:15: 7 whole days
    "timestampdiff": ('SELECT TIMESTAMPDIFF(DAY, MIN("__time"), MAX("__time")) FROM "sales"', 7),
    # every row is older than a day before the emulator's clock (it starts after 2024-01-08)
    "last_day": (
        'SELECT COUNT(*) FROM "sales" WHERE "__time" < CURRENT_TIMESTAMP - INTERVAL \'1\' DAY',
        5,
    ),
    # hourly buckets: 01-01 10 (3, 4), 01-01 11, 01-08 10, 01-08 12
    "hourly_rollup": (
        'SELECT COUNT(*) FROM (SELECT TIME_FLOOR("__time", \'PT1H\') AS "h", SUM("amount") '
        'FROM "sales" GROUP BY 1) AS r',
        4,
    ),
}

with DAG("test_sql_rollup_checks", schedule=None, start_date=START, catchup=False) as rollup_dag:
    for check, (query, value) in ROLLUP_CHECKS.items():
        SQLValueCheckOperator(task_id=check, sql=query, pass_value=value, **CONN)

COLUMN_CHECKS_OK = {
    "amount": {"null_check": {"equal_to": 0}, "min": {"geq_to": 3}, "max": {"leq_to": 7}},
    "country": {"distinct_check": {"equal_to": 2}},
}
TABLE_CHECKS_OK = {"row_count_check": {"check_statement": "COUNT(*) = 5"}}

with DAG("test_sql_column_checks_pass", schedule=None, start_date=START, catchup=False) as cpass:
    SQLColumnCheckOperator(
        task_id="columns", table='"My Table"', column_mapping=COLUMN_CHECKS_OK, **CONN
    )
    SQLTableCheckOperator(task_id="table", table='"My Table"', checks=TABLE_CHECKS_OK, **CONN)

with DAG("test_sql_column_checks_fail", schedule=None, start_date=START, catchup=False) as cfail:
    SQLColumnCheckOperator(
        task_id="columns",
        table='"My Table"',
        column_mapping={"amount": {"max": {"less_than": 7}}},
        **CONN,
    )
    SQLTableCheckOperator(
        task_id="table",
        table='"My Table"',
        checks={"row_count_is_4": {"check_statement": "COUNT(*) = 4"}},
        **CONN,
    )
