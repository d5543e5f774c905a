"""_compat: the right Airflow names on each line, no deprecation noise, masking, async lookups."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import airflow
import pytest
from packaging.version import Version

from airflow_provider_polaris import _compat

AIRFLOW_NAMES = [
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "Connection",
    "Context",
    "AirflowException",
    "AirflowFailException",
    "AirflowSkipException",
    "AirflowSensorTimeout",
    "TaskDeferred",
    "BaseTrigger",
    "TriggerEvent",
    "XCom",
    "conf",
    "get_current_context",
]


def test_version_flags() -> None:
    version = Version(Version(airflow.__version__).base_version)
    assert version == _compat.AIRFLOW_VERSION
    flags = (_compat.AIRFLOW_V_3_0_PLUS, _compat.AIRFLOW_V_3_1_PLUS, _compat.AIRFLOW_V_3_3_PLUS)
    assert flags == tuple(version >= Version(v) for v in ("3.0", "3.1", "3.3"))


@pytest.mark.parametrize("name", AIRFLOW_NAMES)
def test_names_come_from_the_current_lines_public_module(name: str) -> None:
    value = getattr(_compat, name)
    assert name in _compat.__all__
    module = getattr(value, "__module__", None) or type(value).__module__
    if name in ("BaseTrigger", "TriggerEvent"):
        assert module == "airflow.triggers.base"
    elif _compat.AIRFLOW_V_3_0_PLUS:
        assert module.startswith("airflow.sdk"), module
    else:
        assert not module.startswith("airflow.sdk"), module


def test_exception_hierarchy() -> None:
    assert issubclass(_compat.AirflowFailException, _compat.AirflowException)
    assert issubclass(_compat.AirflowSkipException, _compat.AirflowException)
    assert issubclass(_compat.AirflowSensorTimeout, _compat.AirflowException)
    # TaskDeferred must not be swallowed by `except Exception` in operator code.
    assert issubclass(_compat.TaskDeferred, BaseException)


def test_importing_compat_emits_no_deprecation_warnings() -> None:
    code = (
        "import warnings; warnings.simplefilter('error', FutureWarning);"
        "import airflow_provider_polaris._compat as c, airflow_provider_polaris.hooks.polaris"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_resumable_job_mixin_detection() -> None:
    has_mixin = _compat.ResumableJobMixin is not None
    assert has_mixin is _compat.HAS_RESUMABLE_JOB_MIXIN
    if _compat.AIRFLOW_V_3_3_PLUS:
        mixin = _compat.ResumableJobMixin
        assert mixin is not None
        for method in (
            "execute_resumable",
            "submit_job",
            "get_job_status",
            "is_job_active",
            "is_job_succeeded",
            "poll_until_complete",
            "get_job_result",
        ):
            assert hasattr(mixin, method), method
        assert mixin.external_id_key == "remote_job_id"
    else:
        assert _compat.ResumableJobMixin is None


def _redact(value: str) -> str:
    try:
        from airflow.sdk._shared.secrets_masker import redact
    except ImportError:
        from airflow.utils.log.secrets_masker import redact
    return str(redact(value))


def test_mask_secret_registers_with_airflows_masker() -> None:
    secret = "compat-test-secret-5f2e9a"
    _compat.mask_secret(secret)
    assert secret not in _redact(f"token={secret}")
    _compat.mask_secret(None)  # ignored, no error
    _compat.mask_secret("")


async def test_amask_secret_in_a_running_loop() -> None:
    secret = "compat-async-secret-81c3d7"
    await _compat.amask_secret(secret)
    assert secret not in _redact(f"token={secret}")
    await _compat.amask_secret(None)


async def test_aget_connection_reads_env_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_COMPAT_TEST",
        json.dumps({"conn_type": "imply_polaris", "host": "myorg", "extra": {"a": "1"}}),
    )
    conn = await _compat.aget_connection("compat_test")
    assert conn.host == "myorg"
    assert conn.extra_dejson == {"a": "1"}
    native = hasattr(_compat.BaseHook, "aget_connection")
    assert native == _compat.AIRFLOW_V_3_1_PLUS


def test_compat_type_checks_on_this_airflow_line() -> None:
    """mypy resolves _compat's imports differently per line; ``make lint`` checks both venvs."""
    pytest.importorskip("mypy")
    result = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--cache-dir", "/dev/null"),
            *("--config-file", "pyproject.toml", _compat.__file__),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=Path(_compat.__file__).parents[1],
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
