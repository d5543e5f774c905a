"""The Imply Polaris connection form in a real browser (headless Chromium) on Airflow 3.3.

Drives ``airflow api-server`` on 127.0.0.1 with Playwright, using Debian's ``chromium`` (never a
downloaded browser: it must work offline). The connection typed into the form is read back
through ``PolarisHook`` from the same metadata DB, then a deferrable job DAG uses it against the
emulator and the task instance page shows the "Polaris job" link.

Skipped on Airflow 2.11 (its Flask form is covered by the unit tests) and, with the reason, when
chromium or playwright is missing. Screenshots are rewritten under docs/img/ only with
``POLARIS_UPDATE_SCREENSHOTS=1`` so that a test run never dirties the tree.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.dagtest

CHROMIUM = os.environ.get("POLARIS_CHROMIUM", "/usr/bin/chromium")
REPO_ROOT = Path(__file__).resolve().parents[2]
IMG_DIR = REPO_ROOT / "docs" / "img"
CONN_ID = "polaris_default"

if not importlib.metadata.version("apache-airflow").startswith("3."):
    pytest.skip("the browser test drives Airflow 3's React UI", allow_module_level=True)
if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
    pytest.skip(
        f"chromium not found at {CHROMIUM}: `apt-get install chromium` (make test does it "
        "where apt is usable) to run the browser test",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright not installed: pip install -e '.[dev]'"
)
sys.path.insert(0, str(REPO_ROOT / "tests" / "unit" / "jobs"))

from job_helpers import batch_spec  # noqa: E402


class ApiServer:
    """``airflow api-server`` on 127.0.0.1 in a subprocess sharing this session's AIRFLOW_HOME."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.port, self.log_path = port, log_path
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        from airflow.configuration import conf

        env = {
            # The test reads back what the server encrypted: one Fernet key for both.
            "AIRFLOW__CORE__FERNET_KEY": conf.get("core", "fernet_key"),
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple."
            "simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__BASE_URL": self.url,
        }
        env.pop("AIRFLOW_CONN_POLARIS_DEFAULT", None)
        command = [sys.executable, "-m", "airflow", "api-server", "-H", "127.0.0.1"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*command, "-p", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its workers stop with it (killpg)
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # a real process coming up: poll its health URL
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(
            f"airflow api-server did not start:\n{self.log_path.read_text()[-3000:]}"
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _shot(page: Any, name: str, tmp_path: Path) -> Path:
    """Screenshot into docs/img when asked to update them, else into the test's temp dir."""
    target = IMG_DIR if os.environ.get("POLARIS_UPDATE_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    path = target / name
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def api_server(airflow_db: None, tmp_path: Path) -> Iterator[ApiServer]:
    server = ApiServer(free_port(), tmp_path / "api-server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        from airflow.models import Connection
        from airflow.utils.session import create_session

        with create_session() as session:  # later tests expect no stored polaris_default
            session.query(Connection).filter_by(conn_id=CONN_ID).delete()


@contextlib.contextmanager
def chromium_page(server: ApiServer, path: str) -> Iterator[Any]:
    """A logged-in page at ``path``. Closed before any ``dag.test()``: Playwright's sync API
    keeps an event loop running in this thread, and dag.test() runs triggers with asyncio.run().
    """
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(20_000)
            # SimpleAuthManager with all_admins: this URL logs in without a password.
            page.goto(f"{server.url}/auth/token/login?next={path}")
            yield page
        finally:
            browser.close()


def _fill_form(page: Any, emu: Any) -> None:
    page.get_by_text("Select Connection Type").click(force=True)  # its placeholder div covers it
    page.keyboard.type("Imply Polaris")
    page.keyboard.press("Enter")
    page.get_by_label("Connection ID").fill(CONN_ID)
    page.get_by_label("Organization or API URL").fill(emu.base_url)
    page.get_by_label("API key or OAuth client secret").fill(emu.api_key)
    # One section open at a time: opening the extra fields folds the standard ones.
    page.get_by_text("Extra Fields", exact=True).click()
    page.locator("input[name=element_project_id]").wait_for()


def test_connection_form_round_trip_and_job_link(
    api_server: ApiServer,
    polaris_emulator: Any,
    dag_runner: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from airflow.models import Connection
    from airflow.utils.session import create_session

    from airflow_provider_polaris.client import PolarisClient
    from airflow_provider_polaris.hooks.polaris import PolarisHook

    emu = polaris_emulator
    monkeypatch.delenv("AIRFLOW_CONN_POLARIS_DEFAULT")  # the DAG must use the form's connection
    with chromium_page(api_server, "/connections") as page:
        page.get_by_role("button", name="Add Connection").click()
        _fill_form(page, emu)

        # Empty selects show a readable label, never the text "null".
        auth = page.locator("#element_auth_type")
        assert "null" not in auth.inner_text(), auth.inner_text()
        assert "(infer from the OAuth client ID)" in auth.inner_text()
        dialog = page.get_by_role("dialog")
        assert "null" not in dialog.inner_text().split(), dialog.inner_text()
        # Project ID is required: left empty, the form says so and Save is refused.
        assert dialog.get_by_text("This field is required").count() >= 1
        _shot(page, "connection-form-empty.png", tmp_path)
        save = dialog.get_by_role("button", name="Save")
        assert save.is_disabled()

        # Region: a text field suggesting the known regions that accepts any other.
        page.locator("input[name=element_region]").fill("me-central-1")
        page.locator("input[name=element_project_id]").fill(emu.project_id)
        _shot(page, "connection-form-filled.png", tmp_path)
        save.click()
        page.get_by_text(CONN_ID).first.wait_for()

    # Read back from the metadata DB the API server wrote (outside a task, Airflow 3's hook
    # lookup sees only env/secrets backends, so the stored row is handed to the hook's parser).
    with create_session() as session:
        stored = session.query(Connection).filter_by(conn_id=CONN_ID).one()
        session.expunge(stored)
    assert stored.conn_type == "imply_polaris"
    assert stored.extra_dejson["region"] == "me-central-1"
    config = PolarisHook.config_from_connection(stored)
    assert (config.project_id, config.base_url.rstrip("/")) == (emu.project_id, emu.base_url)
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", stored.as_json())
    assert PolarisHook(CONN_ID).get_config() == config
    # The DAG runs on the stored connection too (dag.test()'s inline trigger looks connections
    # up outside the task API, so it gets the DB row through the environment).

    # A deferrable job DAG on that connection, then its "Polaris job" link on the task page.
    with PolarisClient(config) as client:
        job = client.jobs.create(batch_spec("events"))
    while emu.get_job(job["id"])["executionStatus"] != "completed":  # scaled emulator time
        pass
    dag = dag_runner.load("test_jobs_rollup.py", "test_jobs_rollup")
    run = dag_runner.run(dag, datetime(2024, 1, 1, 11, tzinfo=timezone.utc))
    assert str(getattr(run.state, "value", run.state)) == "success"
    run_id = urllib.parse.quote(run.run_id, safe="")  # "+00:00" in it
    task_page = f"/dags/test_jobs_rollup/runs/{run_id}/tasks/rollup_hour"
    with chromium_page(api_server, task_page) as page:
        page.get_by_text("Details", exact=True).click()  # extra links live on this tab
        link = page.get_by_role("link", name="Polaris job")
        link.wait_for()
        assert "/jobs/" in (link.get_attribute("href") or "")
        _shot(page, "task-instance-polaris-job-link.png", tmp_path)
