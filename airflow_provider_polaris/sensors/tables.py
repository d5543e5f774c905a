"""Wait for a Polaris table to become queryable (``availability == "available"``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_polaris._compat import AirflowFailException, BaseSensorOperator
from airflow_provider_polaris._task import ClosesPolarisClient

if TYPE_CHECKING:
    from airflow_provider_polaris._compat import Context


class PolarisTableSensor(ClosesPolarisClient, BaseSensorOperator):
    """Wait until a Polaris table's ``availability`` is ``available`` (``GET /tables/{name}``).

    Works in ``poke`` and ``reschedule`` modes (a deferrable mode is not offered: a table
    check is one cheap GET, and ``mode="reschedule"`` frees the worker slot between checks).

    :param table_name: the table. Templated.
    :param target_availability: the availability to wait for (default ``available``).
    :param missing_ok: keep waiting while the table does not exist yet (default True); with False
        a missing table fails the task.
    """

    template_fields: Sequence[str] = ("table_name",)
    ui_color = "#c9e7f5"

    def __init__(
        self,
        *,
        table_name: str,
        target_availability: str = "available",
        missing_ok: bool = True,
        polaris_conn_id: str = "polaris_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table_name = table_name
        self.target_availability = target_availability
        self.missing_ok = missing_ok
        self.polaris_conn_id = polaris_conn_id

    def poke(self, context: Context) -> bool:
        from airflow_provider_polaris.client import PolarisNotFoundError

        try:
            table = self.hook.get_client().tables.get(self.table_name)
        except PolarisNotFoundError:
            if not self.missing_ok:
                raise AirflowFailException(
                    f"Polaris table {self.table_name!r} does not exist"
                ) from None
            self.log.info("Polaris table %r does not exist yet", self.table_name)
            return False
        availability = table.get("availability")
        self.log.info("Polaris table %r availability: %s", self.table_name, availability)
        return bool(availability == self.target_availability)
