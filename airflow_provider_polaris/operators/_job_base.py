"""The submit base: operators that submit one Polaris job, then wait on it.

``execute`` reads top to bottom: build and validate the spec (no request yet), check it against
Polaris' tables, reattach to an earlier try's job or submit a new one, then follow it
(:class:`~airflow_provider_polaris.operators._job_wait.PolarisJobWaitMixin`: XCom, wait in the
worker or deferred, decide).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_polaris._compat import AirflowFailException
from airflow_provider_polaris.exceptions import (
    PolarisJobCanceledError,
    PolarisJobFailedError,
    PolarisJobTimeoutError,
)
from airflow_provider_polaris.operators._job_wait import PolarisJobWaitMixin
from airflow_provider_polaris.operators._request import (
    check_max_parse_exceptions,
    place_max_parse_exceptions,
)
from airflow_provider_polaris.operators._wait import execution_timeout_deadline, wait_for_job
from airflow_provider_polaris.outcomes import JobState

__all__ = [  # the exceptions and the sync wait stay importable from here, as before
    "PolarisJobCanceledError",
    "PolarisJobFailedError",
    "PolarisJobOperatorBase",
    "PolarisJobTimeoutError",
    "execution_timeout_deadline",
    "wait_for_job",
]

if TYPE_CHECKING:
    import jinja2

    from airflow_provider_polaris._compat import Context

_INGESTION_TYPES = frozenset({"batch", "sql"})

# Set on an operator while Airflow renders the inside of a template field (see render_template).
_RENDERING_NESTED = "_polaris_rendering_nested"


class PolarisJobOperatorBase(PolarisJobWaitMixin):
    """Base of the operators that submit one Polaris job and (optionally) wait for it.

    Takes the waiting arguments of
    :class:`~airflow_provider_polaris.operators._job_wait.PolarisJobWaitMixin`
    (``polaris_conn_id``, ``wait_for_completion``, ``deferrable``, ``poll_interval``,
    ``timeout``, ``cancel_on_kill``, ``max_unknown_polls``, ``progress_interval``) and:

    :param max_parse_exceptions: unparseable rows the job may skip before it fails (sent as
        ``maxParseExceptions``; for a SQL job as ``context.maxParseExceptions``); ``0`` fails
        the job on the first bad row. ``None`` (default): Polaris' default (skip and count them;
        the task log then warns with the count).
    :param allow_unknown_fields: send spec fields the provider does not know (newer Polaris
        fields): ``True`` for any, or their paths (``["source.someNewField"]``); a warning is
        logged per field. Default ``False``: an unknown field fails before any request.
    :param emit_asset: declare the ``AssetAlias`` outlet through which a completed job emits
        the Asset event of the table it wrote, ``polaris://{org}/{project_id}/{table}``
        (docs/lineage.md). Default ``True``.

    Permanent errors (4xx answers but 408/429, a malformed connection or spec) fail the task
    without Airflow retries, naming the connection and the field to fix; 429, 5xx, network
    errors and timeouts stay retryable.
    """

    # Always send partitionedBy in replace mode (operators that build the body set it).
    pin_partitioning: ClassVar[bool] = False

    def __init__(
        self,
        *,
        max_parse_exceptions: int | None = None,
        allow_unknown_fields: bool | Sequence[str] = False,
        emit_asset: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_parse_exceptions = max_parse_exceptions
        self.polaris_asset_alias: str | None = None
        if emit_asset:
            # The table's URI needs the connection (read at run time only): declare an alias
            # now, add the table's event through it when the job completed.
            from airflow_provider_polaris._compat import AssetAlias
            from airflow_provider_polaris.assets import alias_name

            dag_id = self.dag.dag_id if self.has_dag() else None
            self.polaris_asset_alias = alias_name(dag_id, self.task_id)
            outlets: list[Any] = list(getattr(self, "outlets", None) or [])
            self.outlets = [*outlets, AssetAlias(self.polaris_asset_alias)]
        self.lineage_job: Mapping[str, Any] | None = None
        self.lineage_totals: Mapping[str, Any] | None = None
        from airflow_provider_polaris.models._strict import check_allow_unknown_fields

        self.allow_unknown_fields = check_allow_unknown_fields(allow_unknown_fields)

    @property
    def max_parse_exceptions(self) -> int | None:
        """Unparseable rows the job may skip (``None``: Polaris' default); validated on set."""
        return self.__dict__.get("_max_parse_exceptions")

    @max_parse_exceptions.setter
    def max_parse_exceptions(self, value: int | None) -> None:
        self.__dict__["_max_parse_exceptions"] = check_max_parse_exceptions(value)

    # -- templating ---------------------------------------------------------------------------
    def render_template(
        self,
        content: Any,
        context: Context,
        jinja_env: jinja2.Environment | None = None,
        seen_oids: set[int] | None = None,
    ) -> Any:
        """Render like Airflow, except that only a template field's own string may name a
        template file (``template_ext``): strings nested in a spec -- ``s3://b/events.json``,
        an uploaded ``events.json``, a ``*.json`` pattern -- render as plain templates.

        Airflow matches ``template_ext`` against every string of a dict or list field, so a
        nested ``.json`` value would be looked up as a file (``TemplateNotFound``).
        """
        nested = self.__dict__.get(_RENDERING_NESTED, False)
        if isinstance(content, str):
            if not nested:
                return super().render_template(content, context, jinja_env, seen_oids)
            env = jinja_env or self.get_template_env()
            return self._render(env.from_string(content), context)
        self.__dict__[_RENDERING_NESTED] = True
        try:
            return super().render_template(content, context, jinja_env, seen_oids)
        finally:
            self.__dict__[_RENDERING_NESTED] = nested

    # -- to implement ---------------------------------------------------------------------------
    def build_job_spec(self, context: Context) -> Any:
        """The job request (a dict, JSON text or a ``JobSpec`` model) for this run; may raise
        ``IntervalError``."""
        raise NotImplementedError

    def check_job_spec(self, spec: Any) -> None:
        """Reject specs of the wrong kind for this operator (raise ``AirflowFailException``)."""

    def prepare_request(
        self, context: Context, client: Any, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Checks and completions that need Polaris' answers (read-only calls such as
        ``GET /tables``), run after the spec validated and before any job is looked up or
        created. Returns the body to submit.

        Here: the fields expressions name must exist in the source, and replace intervals must
        align with the partitioning (``check_against_tables``); a misaligned request without
        ``partitionedBy`` gets the coarsest granularity that aligns it. Operators that build
        the body themselves pin ``partitionedBy`` (see ``operators/jobs.py``).
        """
        from airflow_provider_polaris.operators._intervals import (
            IntervalError,
            TableCheckError,
            check_against_tables,
        )

        pin = self.pin_partitioning
        try:
            return check_against_tables(client, body, log=self.log, pin_partitioning=pin)
        except TableCheckError as exc:
            raise AirflowFailException(str(exc)) from None
        except IntervalError as exc:
            raise AirflowFailException(f"{type(self).__name__}: {exc}") from None

    # -- execute ------------------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        from airflow_provider_polaris.operators._reattach import find_previous_job

        self.polaris_job_url = ""  # no job yet: the link stays quietly absent if we fail now
        body = self.render_job_request(context)
        client = self.hook.get_client()
        body = self.prepare_request(context, client, body)
        targets = self.wait_targets(body)
        job = find_previous_job(context, client, body, self.log, target_statuses=targets)
        if job is None:
            job = self.submit(context, client, body)
        return self.follow(context, client, job, targets)

    def succeeded(self, context: Context, job: Mapping[str, Any], *, waited: bool) -> None:
        """Log the rows a completed ingestion job loaded, emit its table's Asset event; drop
        the reattach record."""
        from airflow_provider_polaris.operators._lineage import emit_table_event
        from airflow_provider_polaris.operators._reattach import forget_job
        from airflow_provider_polaris.operators._report import report_rows

        state = JobState(job)
        if waited and state.execution_status == "completed" and state.job_type in _INGESTION_TYPES:
            self.lineage_job = job
            self.lineage_totals = report_rows(self.hook, job, self.log)
            emit_table_event(self, context, job, self.lineage_totals)
        forget_job(context, self.log)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage inputs/outputs of the completed job (called by the OpenLineage
        provider's listener; see docs/lineage.md). Never raises."""
        from airflow_provider_polaris.operators._lineage import openlineage_facets

        return openlineage_facets(self)

    def render_job_request(self, context: Context) -> dict[str, Any]:
        """Build and validate the request body; fails before any HTTP request."""
        from airflow_provider_polaris.models import JobSpec, PolarisSpecError, parse_job_spec
        from airflow_provider_polaris.operators._intervals import IntervalError

        try:
            raw = self.build_job_spec(context)
        except IntervalError as exc:
            raise AirflowFailException(f"{type(self).__name__}: {exc}") from None
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError as exc:
                raise AirflowFailException(f"job_spec is not valid JSON: {exc}") from None
        if not isinstance(raw, Mapping | JobSpec):
            raise AirflowFailException(
                "job_spec must be a mapping, JSON text, a .json template file or a JobSpec "
                f"model (parse_job_spec), got {type(raw).__name__}"
            )
        try:
            spec = parse_job_spec(raw, allow_unknown_fields=self.allow_unknown_fields)
        except PolarisSpecError as exc:
            raise AirflowFailException(str(exc)) from None
        self.check_job_spec(spec)
        body: dict[str, Any] = spec.to_api()
        return place_max_parse_exceptions(body, self.max_parse_exceptions)

    def submit(self, context: Context, client: Any, body: Mapping[str, Any]) -> Mapping[str, Any]:
        from airflow_provider_polaris.operators._reattach import record_intent, remember_job

        record_intent(context, body, self.log)  # before the create: a lost response is found
        job: Mapping[str, Any] = client.jobs.create(body)
        remember_job(context, str(job["id"]), self.log)
        state = JobState(job)
        self.log.info(
            "Submitted Polaris %s job %s into %r", state.job_type, state.job_id, state.target_table
        )
        return job
