"""The HTTP edge of the lab's API server: authentication, bad input, discovery negotiation,
durability across a kill -9. Bad input must get a clear 4xx and leave the store unchanged."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.lab.harness import LabThread


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabThread]:
    running = LabThread(tmp_path_factory.mktemp("http-lab")).start(kubelet=False)
    yield running
    running.stop()


def request(
    lab: LabThread,
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    token: str | None = "",
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """One HTTPS request with the lab's CA; ``token=""`` means the lab's token."""
    import http.client

    context = ssl.create_default_context(cafile=str(lab.state.ca_certificate))
    connection = http.client.HTTPSConnection("127.0.0.1", lab.server.port, context=context)
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token or lab.state.token()}"
    connection.request(method, path, body=body, headers=sent)
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw.decode()
    return response.status, parsed, dict(response.getheaders())


def resource_version(lab: LabThread) -> int:
    return lab.registry.store.resource_version


@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["no-token", "wrong-token"])
@pytest.mark.parametrize("path", ["/version", "/api/v1/namespaces", "/healthz", "/openapi/v3"])
def test_without_the_token_everything_is_401_and_nothing_else(
    lab: LabThread, token: str | None, path: str
) -> None:
    status, body, _ = request(lab, "GET", path, token=token)
    assert status == 401
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "Unauthorized", "reason": "Unauthorized", "code": 401}  # fmt: skip


def test_the_server_listens_on_loopback_only_with_a_private_kubeconfig(lab: LabThread) -> None:
    assert lab.server.url.startswith("https://127.0.0.1:")
    assert oct(lab.state.kubeconfig.stat().st_mode & 0o777) == "0o600"
    assert oct(lab.state.root.stat().st_mode & 0o777) == "0o700"
    config = yaml.safe_load(lab.state.kubeconfig.read_text())
    assert config["clusters"][0]["cluster"]["server"] == lab.server.url


PODS = "/api/v1/namespaces/default/pods"


@pytest.mark.parametrize(
    ("body", "content_type", "code", "message"),
    [
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b"a: [b", "application/yaml", 400, "not valid YAML"),
        (b'{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"}}', "application/json",
         400, "does not match the expected v1, Kind=Pod"),
        (b'{"metadata":{"name":"x"},"spec":{"containers":"main"}}', "application/json", 400,
         'Pod in version "v1" cannot be handled as a Pod: spec.containers: expected array'),
        (b'{"metadata":{"name":"x"},"spec":{"containers":[{"name":"m","image":"i",'
         b'"ports":[{"containerPort":"80"}]}]}}', "application/json", 400,
         "spec.containers[0].ports[0].containerPort: expected integer, got string"),
        (b'{"metadata":{"name":"Bad_Name"},"spec":{"containers":[{"name":"m","image":"i"}]}}',
         "application/json", 422, 'metadata.name: Invalid value: "Bad_Name"'),
        (b"k8s\x00\x0a\x02\x12\x00", "application/vnd.kubernetes.protobuf", 415,
         "not supported"),
        (b"[1, 2]", "text/plain", 415, "unknown format"),
    ],
    ids=["json", "yaml", "wrong-kind", "wrong-type", "wrong-port-type", "bad-name", "protobuf",
         "content-type"],
)  # fmt: skip
def test_bad_bodies_get_a_clear_4xx_and_change_nothing(
    lab: LabThread, body: bytes, content_type: str, code: int, message: str
) -> None:
    before = resource_version(lab)
    status, answer, _ = request(lab, "POST", PODS, body, headers={"Content-Type": content_type})
    assert status == code
    assert answer["kind"] == "Status" and answer["code"] == code
    assert message in answer["message"]
    assert resource_version(lab) == before


def test_a_bad_watch_is_a_4xx_and_a_good_one_answers_before_any_event(lab: LabThread) -> None:
    status, body, _ = request(lab, "GET", "/api/v1/pods?watch=1&labelSelector=a%20in%20(")
    assert status == 400 and "unable to parse requirement" in body["message"]
    status, body, _ = request(lab, "GET", "/api/v1/pods?watch=1&resourceVersion=x")
    assert status == 400 and body["message"] == 'invalid resource version "x"'
    # Nothing changes during this watch: a 200 with an empty stream when its timeout ends it.
    status, body, _ = request(
        lab, "GET", "/api/v1/namespaces/none/pods?watch=1&timeoutSeconds=1&resourceVersion=1"
    )
    assert (status, body) == (200, "")


def test_an_oversized_body_is_413(lab: LabThread) -> None:
    before = resource_version(lab)
    huge = json.dumps({"metadata": {"name": "big"}, "data": {"a": "x" * (4 * 1024 * 1024)}})
    status, answer, _ = request(
        lab, "POST", "/api/v1/namespaces/default/configmaps", huge.encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert status == 413 and answer["reason"] == "RequestEntityTooLarge"
    assert resource_version(lab) == before


def test_unknown_resources_and_namespaces(lab: LabThread) -> None:
    status, answer, _ = request(lab, "GET", "/api/v1/unicorns")
    assert status == 404 and answer["reason"] == "NotFound"
    body = b'{"metadata":{"name":"p"},"spec":{"containers":[{"name":"m","image":"i"}]}}'
    status, answer, _ = request(lab, "POST", "/api/v1/namespaces/nowhere/pods", body)
    assert status == 404 and answer["message"] == 'namespaces "nowhere" not found'


def test_a_post_without_content_type_is_json(lab: LabThread) -> None:
    body = b'{"metadata":{"name":"no-type"},"data":{"a":"b"}}'
    status, answer, _ = request(lab, "POST", "/api/v1/namespaces/default/configmaps", body)
    assert status == 201 and answer["data"] == {"a": "b"}


def test_warn_validation_answers_with_warning_headers(lab: LabThread) -> None:
    body = b'{"metadata":{"name":"warned"},"bogus":1}'
    status, answer, headers = request(
        lab, "POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Warn", body
    )
    assert status == 201 and "bogus" not in answer
    assert headers["Warning"] == '299 - "unknown field \\"bogus\\""'


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
         "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"),
        ("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
         "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"),
        ("application/json", "application/json"),
    ],
    ids=["v2", "v2beta1", "legacy"],
)  # fmt: skip
def test_discovery_follows_the_accept_header(
    lab: LabThread, accept: str, content_type: str
) -> None:
    status, body, headers = request(lab, "GET", "/apis", headers={"Accept": accept})
    assert status == 200 and headers["Content-Type"] == content_type
    if content_type == "application/json":
        names = [g["name"] for g in body["groups"]]
    else:
        names = [item["metadata"]["name"] for item in body["items"]]
    assert "machineconfiguration.openshift.io" in names and "networking.k8s.io" in names


def test_openapi_declares_field_validation_for_every_kind(lab: LabThread) -> None:
    _, index, _ = request(lab, "GET", "/openapi/v3")
    url = index["paths"]["apis/machineconfiguration.openshift.io/v1"]["serverRelativeURL"]
    _, document, headers = request(lab, "GET", url)
    assert headers["Cache-Control"] == "public, immutable"
    patch = document["paths"]["/apis/machineconfiguration.openshift.io/v1/machineconfigs/{name}"]
    names = [p["name"] for p in patch["patch"]["parameters"]]
    assert "fieldValidation" in names


def _start_server(state: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "sctpctl", "lab", "apiserver", "--state", str(state), "--port", "0"],
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    line = process.stderr.readline().decode()
    assert "lab API server on https://127.0.0.1:" in line, line
    return process


def _client_request(state: Path, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    import http.client

    config = yaml.safe_load((state / "kubeconfig").read_text())
    port = int(config["clusters"][0]["cluster"]["server"].rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=str(state / "pki" / "ca.crt"))
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context)
    token = (state / "token").read_text().strip()
    connection.request(method, path, body=None if body is None else json.dumps(body),
                       headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    response = connection.getresponse()
    data = json.loads(response.read())
    connection.close()
    return response.status, data


def test_kill_9_loses_no_acknowledged_write_and_versions_keep_growing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    process = _start_server(state)
    acknowledged = []
    try:
        for i in range(20):
            status, created = _client_request(
                state, "POST", "/api/v1/namespaces/default/configmaps",
                {"metadata": {"name": f"cm-{i}"}, "data": {"i": str(i)}},
            )  # fmt: skip
            assert status == 201
            acknowledged.append(int(created["metadata"]["resourceVersion"]))
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert process.stderr is not None
        process.stderr.close()
    process = _start_server(state)
    try:
        status, found = _client_request(state, "GET", "/api/v1/namespaces/default/configmaps")
        assert status == 200
        names = {item["metadata"]["name"] for item in found["items"]}
        assert names >= {f"cm-{i}" for i in range(20)}
        status, again = _client_request(
            state, "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "after"}}
        )
        assert int(again["metadata"]["resourceVersion"]) > max(acknowledged)
        # Events from before the restart are gone: a watch from there gets 410 in the stream.
        status, event = _client_request(
            state, "GET",
            f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={acknowledged[0]}",
        )  # fmt: skip
        assert status == 200 and event["type"] == "ERROR" and event["object"]["code"] == 410
    finally:
        process.terminate()
        process.wait(10)
        assert process.stderr is not None
        process.stderr.close()


def _established(local_port: int, remote_port: int) -> bool:
    """Whether this machine has an established IPv4 TCP socket from ``local_port`` to
    ``remote_port`` on loopback (``/proc/net/tcp``; state 01 is ESTABLISHED)."""
    wanted = (f"0100007F:{local_port:04X}", f"0100007F:{remote_port:04X}")
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if (fields[1], fields[2]) == wanted and fields[3] == "01":
            return True
    return False


def test_stopping_the_server_drops_an_idle_keep_alive_connection(tmp_path: Path) -> None:
    # A TLS close waits for the client's close_notify; a client that keeps its connection for
    # the next request (kr8s, lightkube) never sends it, and the server side stayed open.
    import http.client

    lab = LabThread(tmp_path).start(kubelet=False)
    context = ssl.create_default_context(cafile=str(lab.state.ca_certificate))
    connection = http.client.HTTPSConnection("127.0.0.1", lab.server.port, context=context)
    try:
        connection.request(
            "GET", "/version", headers={"Authorization": f"Bearer {lab.state.token()}"}
        )
        assert connection.getresponse().read()
        assert connection.sock is not None
        server_port, client_port = lab.server.port, connection.sock.getsockname()[1]
        assert _established(server_port, client_port)
        lab.stop()
        assert not _established(server_port, client_port)
    finally:
        connection.close()


def test_lab_kubeconfig_prints_the_path_or_says_what_is_missing(
    lab: LabThread, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from sctpctl.cli.main import cli

    found = CliRunner().invoke(cli, ["lab", "kubeconfig", "--state", str(lab.state.root)])
    assert found.exit_code == 0 and found.output.strip() == str(lab.state.kubeconfig)
    missing = CliRunner().invoke(cli, ["lab", "kubeconfig", "--state", str(tmp_path / "none")])
    assert missing.exit_code == 1
    assert "has no kubeconfig yet" in " ".join(missing.output.split())
