"""The verification objects and the node DaemonSet: shape, inputs, and what the script does."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from sctpctl import __version__
from sctpctl.manifests.daemonset import (
    READINESS_COMMAND,
    SCRIPT,
    Tolerate,
    render_daemonset,
)
from sctpctl.manifests.verification import DEFAULT_IMAGE, verification_objects
from sctpctl.node.modules import BootState, module_boot_state

SEED = Path(__file__).parent / "seed"


def seed(name: str) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((SEED / name).read_text())
    return loaded


def test_default_image_follows_the_version() -> None:
    assert f"quay.io/sctpctl/sctpctl:v{__version__}" == DEFAULT_IMAGE


def test_verification_objects_keep_the_seed_names_labels_ports_and_service() -> None:
    server, service, client = verification_objects()
    assert service == seed("sctp-service.yaml")
    seed_server = seed("sctp-server.yaml")
    assert server["metadata"] == seed_server["metadata"]
    (container,) = server["spec"]["containers"]
    assert container["name"] == "sctpserver"
    assert container["ports"] == [
        {"containerPort": 30102, "name": "sctpserver", "protocol": "SCTP"}
    ]
    assert client["metadata"] == seed("sctp-client.yaml")["metadata"]
    assert "ports" not in client["spec"]["containers"][0]


def test_containers_run_sctpctl_instead_of_installing_nc() -> None:
    server, _, client = verification_objects()
    (serve,) = server["spec"]["containers"]
    assert [*serve["command"], *serve["args"]] == [
        "sctpctl",
        "listen",
        "30102",
        "--echo",
        "--keep-open",
    ]
    (idle,) = client["spec"]["containers"]
    assert idle["command"] == ["sleep", "infinity"]
    assert "dnf" not in str(server) + str(client)
    assert serve["image"] == idle["image"] == DEFAULT_IMAGE


def test_port_namespace_image_and_labels() -> None:
    objects = verification_objects(
        image="registry.local/sctpctl:dev",
        port=38412,
        namespace="sctpctl-verify-ab12",
        labels={"sctpctl.io/verify": "ab12"},
    )
    server, service, client = objects
    assert {o["metadata"]["namespace"] for o in objects} == {"sctpctl-verify-ab12"}
    assert all(o["metadata"]["labels"]["sctpctl.io/verify"] == "ab12" for o in objects)
    assert service["spec"]["selector"] == {"app": "sctpserver"}
    assert service["spec"]["ports"][0] | {} == {
        "name": "sctpserver",
        "protocol": "SCTP",
        "port": 38412,
        "targetPort": 38412,
    }
    assert server["spec"]["containers"][0]["args"][1] == "38412"
    assert client["spec"]["containers"][0]["image"] == "registry.local/sctpctl:dev"


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"port": 0}, "outside 1-65535"),
        ({"port": 70000}, "outside 1-65535"),
        ({"namespace": "Bad_NS"}, "not a valid name"),
        ({"image": ""}, "must not be empty"),
    ],
)
def test_bad_verification_inputs(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        verification_objects(**kwargs)  # type: ignore[arg-type]


def test_daemonset_is_privileged_with_the_host_directories_and_a_readiness_probe() -> None:
    ds = render_daemonset()
    spec = ds["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["securityContext"] == {"privileged": True}
    assert spec["hostPID"] is True
    assert {v["hostPath"]["path"] for v in spec["volumes"]} == {
        "/etc/modprobe.d",
        "/etc/modules-load.d",
        "/lib/modules",
    }
    mounts = {m["mountPath"]: m["readOnly"] for m in container["volumeMounts"]}
    assert mounts == {
        "/host/etc/modprobe.d": False,
        "/host/etc/modules-load.d": False,
        "/host/lib/modules": True,
    }
    assert container["readinessProbe"]["exec"]["command"] == list(READINESS_COMMAND)
    assert "/sys/module/sctp/initstate" in READINESS_COMMAND
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert "tolerations" not in spec
    assert ds["spec"]["selector"]["matchLabels"].items() <= (
        ds["spec"]["template"]["metadata"]["labels"].items()
    )


def test_daemonset_node_choice() -> None:
    everywhere = render_daemonset(tolerate=Tolerate.ALL, node_selector={})
    spec = everywhere["spec"]["template"]["spec"]
    assert spec["tolerations"] == [{"operator": "Exists"}]
    assert "nodeSelector" not in spec
    control = render_daemonset(tolerate="control-plane", node_selector={"sctp": "on"})
    spec = control["spec"]["template"]["spec"]
    assert {t["key"] for t in spec["tolerations"]} == {
        "node-role.kubernetes.io/control-plane",
        "node-role.kubernetes.io/master",
    }
    assert spec["nodeSelector"] == {"sctp": "on"}


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"namespace": "Kube_System"}, "namespace"),
        ({"name": "x" * 70}, "name"),
        ({"node_selector": {"bad key!": "x"}}, "node selector"),
        ({"tolerate": "some"}, "some"),
    ],
)
def test_bad_daemonset_inputs(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        render_daemonset(**kwargs)  # type: ignore[arg-type]


@pytest.fixture
def node(tmp_path: Path) -> Path:
    """A fake node: /host with RHCOS's blacklist and a kernel module tree, a fake nsenter that
    records its arguments and makes the module live in a fake /sys."""
    kernel = os.uname().release
    (tmp_path / "host/etc/modprobe.d").mkdir(parents=True)
    (tmp_path / "host/etc/modules-load.d").mkdir(parents=True)
    (tmp_path / "host/etc/modprobe.d/sctp-blacklist.conf").write_text(
        "# shipped blacklisted\nblacklist sctp\n"
    )
    (tmp_path / "host/etc/modprobe.d/local.conf").write_text(
        "install sctp /bin/true\ninstall dccp /bin/true\n"
        "install sctp /sbin/modprobe --ignore-install sctp\n"
    )
    modules = tmp_path / f"host/lib/modules/{kernel}/kernel/net/sctp"
    modules.mkdir(parents=True)
    (modules / "sctp.ko.xz").write_bytes(b"")
    (tmp_path / "sys/module").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    nsenter = bin_dir / "nsenter"
    nsenter.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > {tmp_path}/nsenter.args\n'
        f"mkdir -p {tmp_path}/sys/module/sctp && echo live > {tmp_path}/sys/module/sctp/initstate\n"
    )
    nsenter.chmod(0o755)
    return tmp_path


def run_script(node: Path) -> tuple[int, str, str]:
    """Run the DaemonSet's script against the fake node until it idles, then stop it with TERM
    as the kubelet would."""
    script = SCRIPT.replace("/host", f"{node}/host").replace("/sys/module", f"{node}/sys/module")
    env = {"PATH": f"{node}/bin:/usr/bin:/bin"}
    with subprocess.Popen(
        ["sh", "-c", script],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        try:
            out = ""
            for line in process.stdout:  # the last line before idling is "sctp: <state>"
                out += line
                if line.startswith("sctp: "):
                    process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)
            err = process.stderr.read()
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # only the group this test started
                process.wait()
    return process.returncode, out, err


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX sh")
def test_script_persists_unblocks_and_loads(node: Path) -> None:
    code, out, err = run_script(node)
    assert code == 0, err
    assert (node / "nsenter.args").read_text().split() == [
        "--target",
        "1",
        "--mount",
        "--",
        "modprobe",
        "sctp",
    ]
    assert "sctp: live" in out
    etc = node / "host/etc"
    modprobe_d = {p.name: p.read_text() for p in (etc / "modprobe.d").iterdir()}
    modules_load_d = {p.name: p.read_text() for p in (etc / "modules-load.d").iterdir()}
    # judged by the same code that decides a node's state
    assert module_boot_state(modprobe_d, modules_load_d).state is BootState.LOADED_AT_BOOT
    local = modprobe_d["local.conf"].splitlines()
    assert local == [
        "# disabled by sctpctl: install sctp /bin/true",
        "install dccp /bin/true",
        "install sctp /sbin/modprobe --ignore-install sctp",
    ]


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX sh")
def test_script_is_idempotent(node: Path) -> None:
    run_script(node)
    etc = node / "host/etc"
    before = {p: p.read_text() for p in etc.rglob("*") if p.is_file()}
    (node / "sys/module/sctp/initstate").write_text("live\n")
    code, out, _ = run_script(node)
    assert code == 0
    assert {p: p.read_text() for p in etc.rglob("*") if p.is_file()} == before
    assert "wrote" not in out and "unblocked" not in out


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX sh")
def test_script_says_when_the_kernel_has_no_sctp(node: Path) -> None:
    for module in node.rglob("sctp.ko*"):
        module.unlink()
    code, _, err = run_script(node)
    assert code == 1
    assert "has no sctp module" in err
    assert not (node / "nsenter.args").exists()
