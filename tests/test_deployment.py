"""The server configuration issue 6 reviewed, and the limits it shares with the code."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import kubernetes_validate
import pytest
import yaml

from cnnviz.data.images import MAX_BYTES
from cnnviz.models.custom import MAX_MODEL_BYTES
from cnnviz.ui.uploads import widget_cap_mb
from tests.conftest import ROOT
from tests.servers import debian_tool

DEPLOY = ROOT / "deploy"

CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())


def test_security_settings():
    server = CONFIG["server"]
    assert server["enableXsrfProtection"] is True and server["enableCORS"] is True
    assert server["enableAgentApi"] is False
    assert CONFIG["client"]["showErrorDetails"] == "type"  # never a traceback or message on the page


def test_upload_limits_let_the_code_refuse_with_its_own_message():
    """Streamlit's uploaders count 10⁶-byte megabytes and the server 2²⁰-byte ones; every file the code accepts
    must get through both, and the caps must sit just above the code's limits."""
    assert MAX_BYTES == 25 * 2**20 < MAX_MODEL_BYTES == 200 * 2**20
    for limit in (MAX_BYTES, MAX_MODEL_BYTES):
        assert limit <= widget_cap_mb(limit) * 10**6 < limit + 10**6
        assert limit <= widget_cap_mb(limit) * 2**20 <= CONFIG["server"]["maxUploadSize"] * 2**20
    assert CONFIG["server"]["maxUploadSize"] * 2**20 < MAX_MODEL_BYTES * 1.1


def test_idle_sessions_expire():
    assert 0 < CONFIG["server"]["disconnectedSessionTTL"] <= 300


def test_dockerfile_serves_the_app_as_a_user_with_a_health_check():
    text = (ROOT / "Dockerfile").read_text()
    assert "USER 10001" in text and "HEALTHCHECK" in text and "/_stcore/health" in text
    for path in ("app.py", ".streamlit", "cnnviz", "pages", "assets"):
        assert f" {path} " in text or f" {path}\n" in text, path


def test_the_proxies_in_deploy_close_the_metrics_endpoint_and_set_framing_headers():
    """Streamlit serves /_stcore/metrics to anyone and sends no framing headers: the shipped proxies must."""
    haproxy = (DEPLOY / "haproxy.cfg").read_text()
    assert "http-response set-header X-Frame-Options SAMEORIGIN" in haproxy
    assert "http-response set-header Content-Security-Policy \"frame-ancestors 'self'\"" in haproxy
    assert "http-request deny if { path /_stcore/metrics } !{ src 127.0.0.0/8 }" in haproxy
    documents = [d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / "cnnviz.yaml").read_text()) if d]
    (ingress,) = [d for d in documents if d["kind"] == "Ingress"]
    notes = ingress["metadata"]["annotations"]
    assert "location = /_stcore/metrics { deny all; }" in notes["nginx.ingress.kubernetes.io/server-snippet"]
    framing = notes["nginx.ingress.kubernetes.io/configuration-snippet"]
    assert "X-Frame-Options: SAMEORIGIN" in framing and "frame-ancestors 'self'" in framing


def test_security_section_states_the_limits_the_code_enforces():
    from cnnviz import links
    from cnnviz.data.images import MAX_DECODED_BYTES, MAX_PIXELS
    from cnnviz.server import jobs

    security = " ".join((ROOT / "README.md").read_text().split("## Security")[1].split("\n## ")[0].split())
    words = ["zero", "one", "two", "three", "four", "five"]
    claims = [
        f"at most {MAX_MODEL_BYTES // 2**20} MiB",
        f"{MAX_BYTES // 2**20} MiB, {MAX_PIXELS // 10**6} megapixels and {MAX_DECODED_BYTES // 2**20} MiB",
        f"At most {words[jobs.TRAININGS.workers]} trainings run and {words[jobs.TRAININGS.max_waiting]} wait",
        f"run {words[jobs.COMPUTATIONS.workers]} at a time on the server ({jobs.COMPUTATIONS.max_waiting} more wait",
        f"length ≤ {links.MAX_LENGTH}, at most {links.MAX_PARAMS} parameters",
    ]
    for claim in claims:
        assert claim in security, claim


def test_the_file_watcher_is_off_and_would_skip_the_virtualenv():
    """Watching the app's folder would walk the multi-GB .venv and flood the log with inotify overflows."""
    server = CONFIG["server"]
    assert server["fileWatcherType"] == "none" and server["runOnSave"] is False
    assert ".venv" in server["folderWatchBlacklist"]


def test_the_page_icon_is_a_file_of_the_app_not_a_web_font():
    text = (ROOT / "app.py").read_text()
    assert "page_icon=str(FAVICON)" in text and (ROOT / "assets" / "favicon.png").is_file()
    assert ":material/" not in text.split("st.set_page_config", 1)[1].split("\n", 1)[0]


def test_the_compose_file_follows_the_compose_specification():
    def check(path) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    assert check(DEPLOY / "compose.yaml").returncode == 0
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert {"app1", "app2", "redis", "haproxy"} <= set(compose["services"])
    assert all(
        compose["services"][a]["environment"]["CNNVIZ_REDIS_URL"].startswith("redis://") for a in ("app1", "app2")
    )
    assert compose["services"]["haproxy"]["volumes"] == ["./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro"]


def test_the_validators_refuse_broken_files(tmp_path):
    """Each check above fails on a broken file (else a green check would prove nothing)."""
    import kubernetes_validate

    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  app1:\n    image: 3\n    portz: []\n")
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(broken)]
    assert subprocess.run(command, capture_output=True, timeout=120).returncode != 0
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": {"replicas": "2"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.30.0", strict=True)


def test_the_kubernetes_manifests_follow_kubernetes_schemas_with_cookie_affinity():
    documents = [d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / "cnnviz.yaml").read_text()) if d]
    for document in documents:
        kubernetes_validate.validate(document, "1.30.0", strict=True)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in documents}
    assert {
        ("Deployment", "cnnviz"),
        ("Service", "cnnviz"),
        ("Ingress", "cnnviz"),
        ("Deployment", "cnnviz-redis"),
    } <= kinds
    (ingress,) = [d for d in documents if d["kind"] == "Ingress"]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    (app,) = [d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == "cnnviz"]
    env = {e["name"]: e["value"] for e in app["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CNNVIZ_REDIS_URL"].startswith("redis://cnnviz-redis:")


def test_the_haproxy_configuration_is_valid_and_sticky():
    env = {**os.environ, "CNNVIZ_BIND": "127.0.0.1:1", "CNNVIZ_APP1": "127.0.0.1:2", "CNNVIZ_APP2": "127.0.0.1:3"}
    checked = subprocess.run(
        [debian_tool("haproxy"), "-c", "-f", str(DEPLOY / "haproxy.cfg")], env=env, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    assert "Warnings were found" not in checked.stdout + checked.stderr
    config = (DEPLOY / "haproxy.cfg").read_text()
    assert "cookie CNNVIZ_REPLICA insert" in config and "option redispatch" in config
