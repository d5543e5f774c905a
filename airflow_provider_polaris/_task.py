"""What every Polaris task (operator or sensor) shares, below both: its client's life cycle,
the "Polaris job" XCom/link it publishes and the failure message it raises.

- :class:`ClosesPolarisClient` closes the Polaris client a task opened, in one place. Every
  operator and sensor talks to Polaris through ``self.hook.get_client()``, a client cached on the
  hook that holds a connection pool; the mixin closes it when the outermost of ``execute``,
  ``execute_complete``, ``poke`` or ``on_kill`` returns or raises, including ``TaskDeferred`` (a
  deferred task keeps no socket open while the triggerer, which has its own async client,
  waits). Subclasses need nothing: the methods a class defines are wrapped when the class is
  created. Nested calls (``execute`` -> ``poke``, ``execute`` -> ``super().execute``) close once,
  at the outermost exit. The hook reopens a client on the next ``get_client()``, so ``on_kill``
  after ``execute`` closed still works; ``on_kill`` closes only a client it opened itself, so a
  kill arriving while another thread still uses the client (a signal handler, a test) never
  closes it under that thread. The same outermost exit applies the provider's one rule for
  permanent errors (:func:`~airflow_provider_polaris.hooks.errors.fail_fast`): a 4xx answer (but
  408/429), a malformed connection or spec leaves ``execute``/``execute_complete``/``poke`` as an
  ``AirflowFailException`` naming the connection and the field to fix, so Airflow does not retry.
- :func:`publish_job` pushes ``job_id``/``job_url`` (the extra link reads them) and
  :func:`explain_failure` writes the message a failed job raises: what failed, why, how far it
  got and where to look, without opening Polaris.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_polaris._compat import conf
from airflow_provider_polaris.exceptions import PolarisJobCanceledError, PolarisJobFailedError
from airflow_provider_polaris.links import JOB_ID_XCOM_KEY, JOB_URL_XCOM_KEY
from airflow_provider_polaris.outcomes import JobState, Outcome, decide_outcome, health_text

if TYPE_CHECKING:
    from airflow_provider_polaris.hooks.polaris import PolarisHook

# The entry points Airflow calls on a task; each is where a client may be opened and must end.
_ENTRY_POINTS = ("execute", "execute_complete", "poke", "on_kill")
_DEPTH = "_polaris_client_depth"
_MARK = "_closes_polaris_client"

F = TypeVar("F", bound=Callable[..., Any])


def _client_open(obj: Any) -> bool:
    hook = obj.__dict__.get("hook")  # the ``hook`` cached_property, once used
    return bool(hook is not None and getattr(hook, "client_open", False))


def _closing(method: F, *, only_own: bool) -> F:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        depth = self.__dict__.get(_DEPTH, 0)
        had_client = only_own and _client_open(self)
        self.__dict__[_DEPTH] = depth + 1
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            if depth == 0 and not only_own:
                # The one rule for permanent errors (4xx, bad connection or spec): no retries.
                from airflow_provider_polaris.hooks.errors import fail_fast

                fail_fast(exc, self)
            raise
        finally:
            self.__dict__[_DEPTH] = depth
            if depth == 0 and not had_client:
                self.close_polaris_client()

    setattr(wrapper, _MARK, True)
    return wrapper  # type: ignore[return-value]


class ClosesPolarisClient:
    """Mixin for the provider's operators and sensors: ``self.hook`` on ``self.polaris_conn_id``,
    its client closed after each task entry point (see the module docstring). Put it before
    ``BaseOperator`` in the bases."""

    polaris_conn_id: str

    @cached_property
    def hook(self) -> PolarisHook:
        """The ``PolarisHook`` of ``polaris_conn_id`` (made at first use)."""
        from airflow_provider_polaris.hooks.polaris import PolarisHook

        return PolarisHook(polaris_conn_id=self.polaris_conn_id)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in _ENTRY_POINTS:
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, _MARK, False):
                setattr(cls, name, _closing(method, only_own=name == "on_kill"))

    def close_polaris_client(self) -> None:
        """Close the hook's cached client if one was opened (never creates the hook)."""
        hook = self.__dict__.get("hook")  # the ``hook`` cached_property, when it was used
        if hook is None:
            return
        try:
            hook.close()
        except Exception as exc:  # closing must never mask the task's own result or error
            log = getattr(self, "log", None)
            if log is not None:
                log.debug("Closing the Polaris client failed: %s", exc)


def default_deferrable() -> bool:
    """``[operators] default_deferrable``, read when a task is built (not at import)."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def console_url(hook: Any, job_id: str) -> str | None:
    """The job's page in the Polaris console; ``None`` when the connection cannot say."""
    try:
        return hook.get_config().job_console_url(job_id)
    except Exception:  # a link is a convenience; never fail the task for it
        return None


def publish_job(context: Mapping[str, Any], hook: Any, job_id: str, log: Any) -> str:
    """Push ``job_id`` and ``job_url`` to XCom (before waiting: the extra link reads them).

    Returns the URL pushed (``""`` when the connection cannot say): the task keeps it in
    ``polaris_job_url`` so the link never reads an XCom that was not pushed.
    """
    url = console_url(hook, job_id) or ""
    ti = context["ti"]
    ti.xcom_push(key=JOB_ID_XCOM_KEY, value=job_id)
    if url:
        ti.xcom_push(key=JOB_URL_XCOM_KEY, value=url)
        log.info("Polaris job %s: %s", job_id, url)
    return url


def raise_for_outcome(
    task: Any, outcome: Outcome, job_id: str, job: Mapping[str, Any] | None
) -> None:
    """Log a successful outcome's warning; for any other outcome log and raise the explained
    failure (``PolarisJobCanceledError`` for a canceled job, else ``PolarisJobFailedError``)."""
    if outcome.kind == "success":
        if outcome.warning:
            task.log.warning("%s", outcome.warning)
        return
    message = explain_failure(task.hook, job_id, job, outcome.message, task.log)
    task.log.error("%s", message)
    error = PolarisJobCanceledError if outcome.kind == "canceled" else PolarisJobFailedError
    raise error(message)


def explain_failure(
    hook: Any, job_id: str, job: Mapping[str, Any] | None, headline: str, log: Any
) -> str:
    """The failure message: ``headline``, the job's state, row metrics (``/metrics``), the last
    log lines (``/logs``) and the console URL. Fetching is best effort."""
    logs = metrics = None
    try:
        client = hook.get_client()
        logs = client.jobs.get_logs(job_id)
        metrics = client.jobs.get_metrics(job_id)
    except Exception as exc:
        log.debug("Could not fetch logs/metrics of Polaris job %s: %s", job_id, exc)
    return describe_failure(job, logs, metrics, console_url(hook, job_id), headline=headline)


# ``GET /jobs/{id}/metrics`` totals in the order a message names them.
ROW_COUNTS = (
    ("numRowsProcessed", "processed"),
    ("numRowsPersisted", "persisted"),
    ("numRowsSkippedByError", "skipped by error (unparseable)"),
    ("numRowsSkippedByFilter", "skipped by filter"),
    ("numRowsProcessedWithWarning", "processed with warnings"),
    ("numRowsProcessedWithWarnings", "processed with warnings"),  # an older spelling
)


def row_counts(totals: Mapping[str, Any]) -> str:
    """The row totals of a job in words (``"10 processed, 8 persisted"``); empty when none."""
    counts = [(key, label) for key, label in ROW_COUNTS if totals.get(key) is not None]
    return ", ".join(f"{totals[key]} {label}" for key, label in counts)


def _format_logs(logs: Mapping[str, Any] | None, limit: int = 10) -> list[str]:
    entries = logs.get("logs") if isinstance(logs, Mapping) else None
    if not isinstance(entries, list):
        return []
    lines = []
    for entry in entries[-limit:]:
        if not isinstance(entry, Mapping):
            continue
        fields = [entry.get("timestamp"), entry.get("healthStatus"), entry.get("code")]
        prefix = " ".join(str(f) for f in fields if f)
        lines.append(f"  {prefix}: {entry.get('message', '')}".rstrip())
    return lines


def describe_failure(
    job: Mapping[str, Any] | None,
    logs: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    console_url: str | None = None,
    *,
    headline: str | None = None,
) -> str:
    """A failure message that explains itself: what failed, why, how far it got, where to look."""
    state = JobState(job or {})
    lines = [headline or decide_outcome(job or {}).message]
    lines.append(
        f"  job id: {state.job_id or '?'}; type: {state.job_type or '?'}; "
        f"target table: {state.target_table or '?'}; "
        f"executionStatus: {state.execution_status or '?'}"
    )
    if state.health_status:
        lines.append(f"  {health_text(state)}")
    totals = metrics.get("totals", metrics) if isinstance(metrics, Mapping) else None
    rows = row_counts(totals) if isinstance(totals, Mapping) else ""
    if rows:
        lines.append(f"  rows: {rows}")
    log_lines = _format_logs(logs)
    if log_lines:
        lines.append(f"  last {len(log_lines)} log line(s):")
        lines.extend(log_lines)
    if console_url:
        lines.append(f"  console: {console_url}")
    return "\n".join(lines)
