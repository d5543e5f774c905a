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
