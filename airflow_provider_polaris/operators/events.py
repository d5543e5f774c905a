"""Push events to a Polaris ``push_streaming`` connection (``POST /events/{connectionName}``)."""

from __future__ import annotations

import ast
import gzip
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_polaris._compat import AirflowFailException
from airflow_provider_polaris.operators._base import PolarisOperator

if TYPE_CHECKING:
    from airflow_provider_polaris._compat import Context
    from airflow_provider_polaris.events import PushReport


#: Largest rendered text read as a Python literal: ``ast.literal_eval`` builds a syntax tree
#: first (measured: 9.3 s and +1.9 GB for 15.8 MB of text); JSON has no such cost.
MAX_LITERAL_CHARS = 4_000_000

_TEXT_FORMS = (
    "events must be a list of events: pass the upstream result directly (events=build_events() "
    "or events=upstream.output, an XComArg), or render templates as native objects "
    "(render_template_as_native_obj=True on the DAG); a rendered string must be JSON (an array "
    "or an object), NDJSON (one JSON object per line) or the Python repr of a list of dicts; "
    "or pass the path or URL of an NDJSON file"
)


def events_from_text(text: str) -> list[Any] | None:
    """The events in a rendered ``events`` string; ``None`` when it is a path or URL.

    Accepts JSON (an array, or one object), NDJSON (one object per line: each line is then
    checked on its own and a bad one is rejected with its line number) and the Python repr of
    a list of dicts (what Jinja renders for ``{{ ti.xcom_pull(...) }}``; read with
    ``ast.literal_eval``, which evaluates literals only, never code). Raises
    ``AirflowFailException`` naming ``events`` when the text is none of these.
    """
    text = text.strip()
    if not text:
        raise AirflowFailException(f"events rendered to an empty string; {_TEXT_FORMS}")
    if text[0] not in "[{":
        if "\n" in text:
            raise AirflowFailException(
                f"events is text of several lines that do not start with a JSON object; "
                f"{_TEXT_FORMS}"
            )
        return None  # a path or URL
    try:
        value = json.loads(text)
    except RecursionError:
        raise AirflowFailException(
            "events is nested too deeply to be read (JSON arrays or objects inside each other "
            f"thousands of times); {_TEXT_FORMS}"
        ) from None
    except ValueError as json_error:
        if "\n" in text and text[0] == "{":
            return text.splitlines()  # NDJSON
        if len(text) > MAX_LITERAL_CHARS:
            raise AirflowFailException(
                f"events rendered to {len(text):,} characters of text that is not JSON ("
                f"{json_error}); a Python literal that large is not read (over "
                f"{MAX_LITERAL_CHARS:,} characters it costs seconds and gigabytes); "
                f"{_TEXT_FORMS}"
            ) from None
        try:
            value = ast.literal_eval(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise AirflowFailException(
                f"events could not be read as JSON ({json_error}) nor as a Python literal; "
                f"{_TEXT_FORMS}"
            ) from None
    if isinstance(value, dict):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise AirflowFailException(
        f"events is {type(value).__name__} text, not a list of events; {_TEXT_FORMS}"
    )


class PolarisPushEventsOperator(PolarisOperator):
    """Push events to the ``push_streaming`` connection ``connection_name``.

    :param connection_name: the Polaris push_streaming connection. Templated.
    :param events: the events. Templated. One of:

        - a list of event dicts (or of NDJSON lines), typically the upstream task's result
          passed directly: ``events=build_events()`` or ``events=upstream.output`` (an
          ``XComArg``, resolved to the list itself at run time);
        - text rendered from a template, e.g. ``"{{ ti.xcom_pull('build_events') }}"``: JSON
          (an array or one object), NDJSON (one object per line) or the Python repr Jinja
          renders for a list of dicts (read with ``ast.literal_eval``: literals only). With
          ``render_template_as_native_obj=True`` on the DAG the template renders the list itself;
        - a local path or fsspec URL (``file://``, ``s3://``, ...) of an NDJSON file, streamed
          line by line (``.gz`` files are decompressed on the fly). Line numbers in the report
          are the file's line numbers.
    :param time_field: the event field holding the time (default ``__time``).
    :param max_events_per_request: events per request (default 60, Polaris' recommendation).
    :param max_concurrent_requests: requests in flight (default
        :data:`~airflow_provider_polaris.events.DEFAULT_MAX_CONCURRENT_REQUESTS`, 128: enough
        for the organisation's rate limit at ~50 ms per request; the pacer keeps within it).
    :param gzip: send gzip-compressed bodies.
    :param max_rejected: fail the task (after pushing the valid events) when more events than
        this were rejected by the checks; ``None`` (default) only reports them.
    :param push_options: further :class:`~airflow_provider_polaris.events.PushOptions` fields
        (``late_rejection_period``, ``max_retries``, ``start_line``, ...).
    :param require_reader: before pushing, one ``GET /jobs`` call checks that a streaming job
        (pending, running or idle) reads ``connection_name``: Polaris accepts events pushed to a
        connection nobody reads and stores none. ``False`` (default): log a warning and push;
        ``True``: fail (``AirflowFailException``) without pushing.
    :param resume: on Airflow 3.3+ (task state store), record the lines delivered so far every
        ``checkpoint_seconds`` and when the push stops, so that a retry (after a failure or a
        worker killed outright) sends only the lines not delivered; cleared on success. Lines in
        flight, or acknowledged after the last checkpoint, may be sent again (at least once).
    :param checkpoint_seconds: how often the progress is recorded (one task state write).
    :return: (XCom) the push report as a dict (counts, rejected lines with reasons, requests).

    When the push fails for any reason (a request failed for good, the input failed to read,
    the task was killed) the task log gets the summary and the line to resume from
    (``push_options={"start_line": N}``). ``on_kill`` stops a running push: nothing more is
    sent, and the lines not accepted are reported undelivered.

    Delivery is at least once: a request that failed with a 5xx or a network error is retried,
    and Polaris may have ingested it before failing. When a request finally fails the task fails
    with :class:`~airflow_provider_polaris.events.EventsDeliveryError` naming the undelivered
    lines. A task retry resumes where the last try stopped on Airflow 3.3+ (``resume``); on
    older Airflow it pushes everything again unless ``push_options={"start_line": N}``.
    """

    template_fields: Sequence[str] = ("connection_name", "events")

    def __init__(
        self,
        *,
        connection_name: str,
        events: Any,
        time_field: str | None = "__time",
        max_events_per_request: int = 60,
        max_concurrent_requests: int | None = None,
        gzip: bool = False,
        max_rejected: int | None = None,
        push_options: dict[str, Any] | None = None,
        require_reader: bool = False,
        resume: bool = True,
        checkpoint_seconds: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.connection_name = connection_name
        self.events = events
        self.time_field = time_field
        self.max_events_per_request = max_events_per_request
        self.max_concurrent_requests = max_concurrent_requests
        self.gzip = gzip
        self.max_rejected = max_rejected
        self.push_options = dict(push_options or {})
        self.require_reader = require_reader
        self.resume = resume
        self.checkpoint_seconds = checkpoint_seconds

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_polaris.operators._push_resume import PushResume, check_reader

        check_reader(self.hook.get_client(), self.connection_name, self.require_reader, self.log)
        options: dict[str, Any] = {
            "time_field": self.time_field,
            "max_events_per_request": self.max_events_per_request,
            "gzip": self.gzip,
        }
        if self.max_concurrent_requests is not None:
            options["max_concurrent_requests"] = self.max_concurrent_requests
        options.update(self.push_options)
        resume = PushResume(context, self.connection_name, self.log, enabled=self.resume)
        self._push_control = resume.control
        with self._open_events() as events:
            try:
                source = self.events.strip()[:500] if isinstance(self.events, str) else None
                with resume.checkpoints(events, self.checkpoint_seconds, source) as pending:
                    report = self.hook.push_events(
                        self.connection_name, pending, control=resume.control, **options
                    )
            except BaseException as exc:
                failed = getattr(exc, "report", None)  # attached by the pusher, whatever failed
                resume.stopped(failed)
                if failed is not None:
                    self._log_report(failed)
                    self._log_resume(failed)
                raise
        resume.succeeded()
        self._log_report(report)
        if self.max_rejected is not None and report.rejected > self.max_rejected:
            raise AirflowFailException(
                f"{report.rejected} events were rejected (max_rejected={self.max_rejected}); "
                f"first: {'; '.join(str(r) for r in report.rejections[:5])}"
            )
        return report.to_dict()

    def on_kill(self) -> None:
        """Stop a running push: nothing more is sent; the task then fails naming the lines not
        delivered."""
        control = getattr(self, "_push_control", None)
        if control is not None:
            control.abort("the task was killed (on_kill)")

    def _log_resume(self, report: PushReport) -> None:
        line = report.first_undelivered_line
        if line is None:
            self.log.error("the push stopped after delivering or rejecting every event read")
            return
        self.log.error(
            "the push stopped: %d events accepted; resume from line %d with "
            'push_options={"start_line": %d} (delivered lines after it are then sent again; '
            "the report's undelivered_ranges has the exact lines)",
            report.accepted,
            line,
            line,
        )

    def _log_report(self, report: PushReport) -> None:
        self.log.info("%s", report.summary())
        for rejection in report.rejections[:20]:
            self.log.warning("rejected %s", rejection)
        if report.rejected > 20:
            self.log.warning("... and %d more rejected (see the report)", report.rejected - 20)

    @contextmanager
    def _open_events(self) -> Iterator[Iterable[Any] | IO[bytes]]:
        events = self.events
        if isinstance(events, bytes):
            events = events.decode()
        if isinstance(events, str):
            parsed = events_from_text(events)
            if parsed is not None:
                yield parsed
                return
            location = events.strip()
            from airflow_provider_polaris.operators._sources import open_source

            with open_source(location) as raw:
                if location.endswith(".gz"):
                    with gzip.GzipFile(fileobj=raw) as unzipped:
                        yield unzipped
                else:
                    yield raw
            return
        if isinstance(events, dict):
            yield [events]
            return
        if events is None:
            raise AirflowFailException(f"events is None; {_TEXT_FORMS}")
        yield events
