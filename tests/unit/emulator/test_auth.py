"""Authentication: Basic base64(key:), Basic raw key, Bearer tokens from the OAuth endpoint."""

from __future__ import annotations

import base64

import httpx

from airflow_provider_polaris.testing.server import PolarisEmulator


def _get(emu: PolarisEmulator, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization else {}
    return httpx.get(f"{emu.base_url}/v1/projects/{emu.project_id}/jobs", headers=headers)


def test_basic_variants_accepted_and_logged(emu: PolarisEmulator) -> None:
    encoded = base64.b64encode(f"{emu.api_key}:".encode()).decode()
    assert _get(emu, f"Basic {encoded}").status_code == 200
    assert _get(emu, f"Basic {emu.api_key}").status_code == 200
    assert [e["auth_kind"] for e in emu.request_log()] == ["basic", "basic_raw"]


def test_standard_and_url_safe_base64_of_key_colon_are_accepted() -> None:
    # The official SDK sends urlsafe_b64encode(key + ":"), curl the standard alphabet.
    key = "pok_>>>"
    standard = base64.b64encode(f"{key}:".encode()).decode()
    url_safe = base64.urlsafe_b64encode(f"{key}:".encode()).decode()
    assert standard != url_safe
    with PolarisEmulator(api_key=key, manual_clock=True) as emu:
        assert _get(emu, f"Basic {standard}").status_code == 200
        assert _get(emu, f"Basic {url_safe}").status_code == 200
        assert _get(emu, f"Basic {url_safe.rstrip('=')}").status_code == 200


def test_bad_credentials_are_401(emu: PolarisEmulator) -> None:
    key = emu.api_key

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    refused = (
        None,
        f"Basic {b64('pok_wrong:')}",
        "Basic pok_wrong",
        f"Basic {b64(key)}",  # no colon: not "key as user, empty password"
        f"Basic {b64(key + ':anything')}",  # a password is not part of a Polaris API key
        f"Basic {b64(':' + key)}",
        f"Basic {b64(key + '::')}",
        f"Basic {key}:",
        f"Basic {b64(key + ':')}!",
        f"Bearer {key}",  # an API key is not a token
        "Token abc",
        "Bearer nope",
        "Basic",
    )
    for header in refused:
        response = _get(emu, header)
        assert response.status_code == 401, header
        assert response.json()["code"] == "Unauthorized" and response.json()["message"], header
        assert response.headers["WWW-Authenticate"] == 'Basic realm="polaris"'
    assert {e["status"] for e in emu.request_log()} == {401}


def test_oauth_token_and_expiry_on_emulator_clock(emu: PolarisEmulator) -> None:
    emu.register_oauth_client("ci", "s3cret")
    response = httpx.post(
        emu.token_url,
        data={"grant_type": "client_credentials", "client_id": "ci", "client_secret": "s3cret"},
    )
    assert response.status_code == 200
    token = response.json()
    assert token["expires_in"] == 300 and token["token_type"] == "Bearer"
    bearer = f"Bearer {token['access_token']}"
    assert _get(emu, bearer).status_code == 200
    assert emu.request_log()[-1]["auth_kind"] == "bearer"
    emu.advance(299)
    assert _get(emu, bearer).status_code == 200
    emu.advance(2)
    expired = _get(emu, bearer)
    assert expired.status_code == 401
    assert expired.json() == {"message": 'Token claims invalid: ["exp"]="token expired"'}


def test_token_endpoint_errors(emu: PolarisEmulator) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": "emulator-client",
        "client_secret": "x",
    }
    assert httpx.post(emu.token_url, data=form).status_code == 401
    form["client_secret"] = "emulator-secret"
    assert httpx.post(emu.token_url, data=form).status_code == 200
    assert httpx.post(emu.token_url, data={**form, "grant_type": "password"}).status_code == 400
    other_realm = emu.token_url.replace(f"/realms/{emu.org}/", "/realms/other/")
    assert httpx.post(other_realm, data=form).status_code == 404
    basic = httpx.post(
        emu.token_url,
        data={"grant_type": "client_credentials"},
        auth=("emulator-client", "emulator-secret"),
    )
    assert basic.status_code == 200


def test_unknown_project_is_404(emu: PolarisEmulator) -> None:
    response = httpx.get(f"{emu.base_url}/v1/projects/other/jobs", auth=(emu.api_key, ""))
    assert response.status_code == 404 and response.json()["code"] == "NotFound"
