"""Former name of :mod:`airflow_provider_polaris.hooks.config` (kept so imports keep working).

"Connection" means a Polaris connection everywhere else in the provider; the module that parses
the *Airflow* connection into a ``PolarisConfig`` is now ``hooks.config``.
"""

from airflow_provider_polaris.hooks.config import (  # noqa: F401
    ConnectionLike,
    PolarisConnectionConfigError,
    config_from_connection,
    connection_secrets,
    extra_object,
)
