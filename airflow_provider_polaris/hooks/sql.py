"""PolarisSqlHook: common-sql's ``DbApiHook`` for the Polaris SQL API, on the same
``imply_polaris`` connection as :class:`~airflow_provider_polaris.hooks.polaris.PolarisHook`.

How one connection type serves both hooks: Airflow resolves a connection to the hook class
registered for its type (``PolarisHook``) and calls it with the connection id and, from
common-sql's SQL operators, the connection's extras (``BaseSQLOperator.get_hook``) plus the
operator's ``hook_params``. ``PolarisHook`` called with any such keyword returns a
``PolarisSqlHook`` (a subclass), so ``SQLExecuteQueryOperator(conn_id="polaris_default")`` and
the SQL check operators get a ``DbApiHook`` while ``PolarisHook(polaris_conn_id=...)`` stays the
plain hook. ``hook_params={"sql": True}`` asks for it explicitly (e.g. ``SqlSensor``, which
passes no extras). Importing this module imports common-sql; nothing else in the provider does.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from airflow.providers.common.sql.hooks.sql import DbApiHook

from airflow_provider_polaris._compat import AirflowFailException
from airflow_provider_polaris.hooks import _dbapi
from airflow_provider_polaris.hooks.errors import permanent_failure
from airflow_provider_polaris.hooks.polaris import PolarisHook

# Keywords common-sql's DbApiHook itself reads; everything else must be this hook's own option
# or one of the connection's extras (which the SQL operators pass along).
_DBAPI_KEYWORDS = frozenset(
    {
        "schema",
        "log_sql",
        "insert_statement_format",
        "replace_statement_format",
        "escape_word_format",
        "escape_column_names",
        "connection",
    }
)
_OWN_KEYWORDS = frozenset(
    {"sql", "query_mode", "query_context", "poll_interval", "statement_timeout"}
)


class PolarisSqlHook(DbApiHook, PolarisHook):
    """Run Druid SQL on a Polaris project through Airflow's common-sql interface.

    Works with ``SQLExecuteQueryOperator``, ``SQLCheckOperator``, ``SQLValueCheckOperator``,
    ``SQLIntervalCheckOperator``, ``SQLColumnCheckOperator``, ``SQLTableCheckOperator`` and
    ``get_records`` / ``get_first`` / ``get_df`` (pandas). Parameters are ``?`` placeholders
    (``paramstyle = "qmark"``). Polaris SQL is read-only: ``insert_rows`` is refused.

    :param polaris_conn_id: the Airflow connection id (type ``imply_polaris``).
    :param query_mode: ``"sync"`` (``POST /query/sql``, default) or ``"async"`` (the statements
        API, for long or deep-storage queries; the statement is canceled if the task is killed).
    :param query_context: Druid query context sent with every query.
    :param poll_interval: seconds between status reads of an async statement.
    :param statement_timeout: seconds an async statement may run before it is canceled.
    """

    conn_name_attr = "polaris_conn_id"
    default_conn_name = "polaris_default"
    conn_type = "imply_polaris"
    hook_name = "Imply Polaris SQL"
    supports_autocommit = False
    supports_executemany = False
    strip_semicolon = True
    _test_connection_sql = "SELECT 1"
    _placeholder = "?"

    def __init__(
        self,
        polaris_conn_id: str = default_conn_name,
        *,
        sql: bool = True,
        query_mode: str = "sync",
        query_context: Mapping[str, Any] | None = None,
        poll_interval: float = 1.0,
        statement_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        del sql  # only selects this class (see PolarisHook.__new__)
        dbapi = {key: kwargs.pop(key) for key in list(kwargs) if key in _DBAPI_KEYWORDS}
        DbApiHook.__init__(self, polaris_conn_id=polaris_conn_id, **dbapi)
        _dbapi.check_query_mode(query_mode, ValueError)
        self.query_mode = query_mode
        self.query_context = dict(query_context or {})
        self.poll_interval = poll_interval
        self.statement_timeout = statement_timeout
        # The connection's extras, passed by common-sql's operators; checked on first use
        # against the connection (no lookup while constructing).
        self._passed_extras = kwargs

    def __repr__(self) -> str:
        return f"{type(self).__name__}(polaris_conn_id={self.polaris_conn_id!r})"

    @property
    def placeholder(self) -> str:
        """Druid's positional placeholder ``?``, whatever the connection says."""
        return "?"

    def _check_passed_extras(self) -> None:
        """An unknown keyword (a typo in ``hook_params``) fails, naming the closest valid one."""
        extras = set(self.connection_extra)
        unknown = sorted(set(self._passed_extras) - extras)
        if not unknown:
            return
        valid = sorted(_OWN_KEYWORDS | _DBAPI_KEYWORDS)
        close = difflib.get_close_matches(unknown[0], valid, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise AirflowFailException(
            f"PolarisSqlHook got unknown hook parameter {unknown[0]!r} (Airflow connection "
            f"{self.polaris_conn_id!r}): {hint}valid hook_params are {valid}, plus the "
            "connection's own extras."
        )

    def get_conn(self) -> _dbapi.Connection:
        """A PEP 249 connection over a new Polaris client (closed with the connection)."""
        self._check_passed_extras()
        return _dbapi.connect(
            self.new_client(),
            query_mode=self.query_mode,
            context=self.query_context,
            poll_interval=self.poll_interval,
            statement_timeout=self.statement_timeout,
        )

    def run(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        """common-sql's ``run``; a query Polaris refuses for good (bad SQL, unknown table,
        missing permission) raises ``AirflowFailException`` so Airflow does not retry it."""
        try:
            return super().run(sql, *args, **kwargs)
        except _dbapi.DatabaseError as err:
            if not err.permanent:
                raise
            if err.error_code is None and err.category is None:
                # Not a Druid error: a 401/403/404 explained like every other Polaris call.
                failure = permanent_failure(err, self.polaris_conn_id, self._config)
                raise (failure or AirflowFailException(str(err))) from err
            raise AirflowFailException(str(err)) from err
        except Exception as err:  # a malformed connection, ...: the provider's one rule
            failure = permanent_failure(err, self.polaris_conn_id, self._config)
            if failure is not None:
                raise failure from err
            raise

    def get_uri(self) -> str:
        """Refused: Polaris has no SQLAlchemy dialect (and the URI would hold the API key)."""
        raise NotImplementedError(
            "PolarisSqlHook has no SQLAlchemy URI: Polaris is reached through its REST API. "
            "Use get_records/get_first/get_df or the SQL operators instead."
        )

    def insert_rows(self, table: str, rows: Iterable[Any], *args: Any, **kwargs: Any) -> None:
        """Refused: Polaris SQL is read-only."""
        raise _dbapi.NotSupportedError(
            f"Cannot insert rows into {table!r} with SQL: Polaris SQL is read-only. Load rows "
            "with an ingestion job (PolarisSqlIngestionOperator, PolarisBatchIngestionOperator) "
            "or push events (PolarisPushEventsOperator)."
        )

    def test_connection(self) -> tuple[bool, str]:  # type: ignore[override]
        """The Polaris connection test (an authenticated project read), then ``SELECT 1``."""
        ok, message = PolarisHook.test_connection(self)
        if not ok:
            return ok, message
        try:
            self.get_first(self._test_connection_sql)
        except Exception as err:
            return False, f"{message} But SQL failed: {err}"
        return True, f"{message} SQL queries work."
