"""Each lint rule, with an example that breaks it and the corrected example that passes.

One row per case: the rule, a name, the failing YAML, the line the finding must point at, and the
passing YAML. The passing YAML must be clean of *every* rule, so a fix never trades one finding
for another.
"""

from __future__ import annotations

import textwrap

import pytest

from sctpctl.manifests.findings import Finding, Severity
from sctpctl.manifests.lint import lint_documents
from sctpctl.manifests.loader import load_text
from sctpctl.manifests.rules import RULES, LintOptions


def y(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


SERVER_POD = y(
    """
    apiVersion: v1
    kind: Pod
    metadata: {name: server, labels: {app: server}}
    spec:
      containers:
        - name: server
          image: example
          ports:
            - {containerPort: 30102, name: sctpserver, protocol: SCTP}
    """
)

SERVICE = """
apiVersion: v1
kind: Service
metadata: {{name: svc}}
spec:
  type: {type}
  selector: {{app: server}}
  ports:
    - {{name: sctpserver, protocol: SCTP, port: 30102, targetPort: {target}}}
"""

MC = """
apiVersion: machineconfiguration.openshift.io/v1
kind: MachineConfig
metadata:
  name: load-sctp-module
  labels: {{machineconfiguration.openshift.io/role: {role}}}
spec:
  config:
    ignition: {{version: {version}}}
    storage:
      files:
        - path: /etc/modprobe.d/sctp-blacklist.conf
          mode: {mode}
          overwrite: true{extra}
          contents: {{source: "{blacklist}"}}
        - path: /etc/modules-load.d/sctp-load.conf
          mode: 420
          overwrite: true
          contents: {{source: "{load}"}}
"""


def mc(**changes: str) -> str:
    values = {
        "role": "worker",
        "version": "3.2.0",
        "mode": "420",
        "extra": "",
        "blacklist": "data:,",
        "load": "data:,sctp",
    }
    values.update(changes)
    return y(MC.format(**values))


def policy(ports: str, pod_selector: str = "{matchLabels: {app: server}}", extra: str = "") -> str:
    head = y(
        f"""
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {{name: policy}}
        spec:
          podSelector: {pod_selector}
          ingress:
            - ports: {ports}
        """
    )
    return head + extra


def deployment(ports: str) -> str:
    return y(
        f"""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: amf}}
        spec:
          selector: {{matchLabels: {{app: server}}}}
          template:
            metadata: {{labels: {{app: server}}}}
            spec:
              containers:
                - name: amf
                  image: example
                  ports: {ports}
        """
    )


def cronjob(port: str) -> str:
    return y(
        f"""
        apiVersion: batch/v1
        kind: CronJob
        metadata: {{name: probe}}
        spec:
          schedule: "* * * * *"
          jobTemplate:
            spec:
              template:
                spec:
                  restartPolicy: Never
                  containers:
                    - name: probe
                      image: example
                      ports: [{port}]
        """
    )


POOL = y(
    """
    apiVersion: machineconfiguration.openshift.io/v1
    kind: MachineConfigPool
    metadata: {name: worker-cnf}
    spec:
      machineConfigSelector:
        matchExpressions:
          - key: machineconfiguration.openshift.io/role
            operator: In
            values: [worker, worker-cnf]
      nodeSelector: {matchLabels: {node-role.kubernetes.io/worker-cnf: ""}}
    """
)

# (rule, case, failing YAML, line of the finding, passing YAML)
CASES: list[tuple[str, str, str, int, str]] = [
    (
        "protocol-spelling",
        "lower-case in a pod",
        SERVER_POD.replace("protocol: SCTP", "protocol: sctp"),
        9,
        SERVER_POD,
    ),
    (
        "protocol-spelling",
        "misspelt in a CronJob's pod template",
        cronjob("{containerPort: 30102, protocol: STCP}"),
        14,
        cronjob("{containerPort: 30102, protocol: SCTP}"),
    ),
    (
        "protocol-spelling",
        "in a Service",
        SERVER_POD
        + "---\n"
        + y(SERVICE.format(type="ClusterIP", target=30102)).replace(
            "protocol: SCTP", "protocol: Sctp"
        ),
        18,
        SERVER_POD + "---\n" + y(SERVICE.format(type="ClusterIP", target=30102)),
    ),
    (
        "protocol-spelling",
        "in a NetworkPolicy",
        policy("[{protocol: sctp, port: 80}]"),
        7,
        policy("[{protocol: SCTP, port: 80}]"),
    ),
    (
        "port-range",
        "containerPort above 65535",
        SERVER_POD.replace("30102", "70000"),
        9,
        SERVER_POD,
    ),
    (
        "port-range",
        "containerPort as a string",
        SERVER_POD.replace("containerPort: 30102", 'containerPort: "30102"'),
        9,
        SERVER_POD,
    ),
    (
        "port-range",
        "nodePort outside the range",
        SERVER_POD
        + "---\n"
        + y(SERVICE.format(type="NodePort", target=30102)).replace(
            "targetPort: 30102", "targetPort: 30102, nodePort: 8080"
        ),
        18,
        SERVER_POD
        + "---\n"
        + y(SERVICE.format(type="NodePort", target=30102)).replace(
            "targetPort: 30102", "targetPort: 30102, nodePort: 30102"
        ),
    ),
    (
        "port-range",
        "nodePort on a ClusterIP Service",
        SERVER_POD
        + "---\n"
        + y(SERVICE.format(type="ClusterIP", target=30102)).replace(
            "targetPort: 30102", "targetPort: 30102, nodePort: 30102"
        ),
        18,
        SERVER_POD + "---\n" + y(SERVICE.format(type="ClusterIP", target=30102)),
    ),
    (
        "port-range",
        "targetPort name that is not a port name",
        SERVER_POD + "---\n" + y(SERVICE.format(type="ClusterIP", target='"30102"')),
        18,
        SERVER_POD + "---\n" + y(SERVICE.format(type="ClusterIP", target=30102)),
    ),
    (
        "port-range",
        "NetworkPolicy endPort below port",
        policy("[{protocol: SCTP, port: 30110, endPort: 30100}]"),
        7,
        policy("[{protocol: SCTP, port: 30100, endPort: 30110}]"),
    ),
    (
        "host-port",
        "SCTP hostPort",
        SERVER_POD.replace("protocol: SCTP}", "protocol: SCTP, hostPort: 30102}"),
        9,
        SERVER_POD,
    ),
    (
        "service-type",
        "SCTP LoadBalancer",
        SERVER_POD + "---\n" + y(SERVICE.format(type="LoadBalancer", target=30102)),
        15,
        SERVER_POD + "---\n" + y(SERVICE.format(type="NodePort", target=30102)),
    ),
    (
        "service-type",
        "SCTP ExternalName",
        SERVER_POD + "---\n" + y(SERVICE.format(type="ExternalName", target=30102)),
        15,
        SERVER_POD + "---\n" + y(SERVICE.format(type="ClusterIP", target=30102)),
    ),
    (
        "service-target-port",
        "named targetPort that the pod does not have",
        SERVER_POD + "---\n" + y(SERVICE.format(type="NodePort", target="ngap")),
        18,
        SERVER_POD + "---\n" + y(SERVICE.format(type="NodePort", target="sctpserver")),
    ),
    (
        "service-target-port",
        "named targetPort that the pods declare as TCP",
        deployment("[{containerPort: 30102, name: sctpserver}]")
        + "---\n"
        + y(SERVICE.format(type="NodePort", target="sctpserver")),
        21,
        deployment("[{containerPort: 30102, name: sctpserver, protocol: SCTP}]")
        + "---\n"
        + y(SERVICE.format(type="NodePort", target="sctpserver")),
    ),
    (
        "service-target-port",
        "numeric targetPort the pods declare only as TCP",
        deployment("[{containerPort: 30102}]")
        + "---\n"
        + y(SERVICE.format(type="NodePort", target=30102)),
        21,
        deployment("[{containerPort: 30102, protocol: SCTP}]")
        + "---\n"
        + y(SERVICE.format(type="NodePort", target=30102)),
    ),
    (
        "netpol-port-protocol",
        "port without protocol on an SCTP-only port",
        SERVER_POD + "---\n" + policy("[{port: 30102}]"),
        17,
        SERVER_POD + "---\n" + policy("[{port: 30102, protocol: SCTP}]"),
    ),
    (
        "netpol-port-protocol",
        "named port without protocol",
        SERVER_POD + "---\n" + policy("[{port: sctpserver}]"),
        17,
        SERVER_POD + "---\n" + policy("[{port: sctpserver, protocol: SCTP}]"),
    ),
    (
        "netpol-sctp-only",
        "SCTP-only ingress policy on pods that also serve TCP",
        deployment("[{containerPort: 30102, protocol: SCTP}, {containerPort: 8080, name: http}]")
        + "---\n"
        + policy("[{port: 30102, protocol: SCTP}]"),
        19,
        deployment("[{containerPort: 30102, protocol: SCTP}, {containerPort: 8080, name: http}]")
        + "---\n"
        + policy("[{port: 30102, protocol: SCTP}, {port: http}]"),
    ),
    (
        "netpol-sctp-only",
        "SCTP-only egress policy",
        policy(
            "[{port: 30102, protocol: SCTP}]",
            extra="  egress:\n    - ports: [{port: 38412, protocol: SCTP}]\n",
        ),
        8,
        policy(
            "[{port: 30102, protocol: SCTP}]",
            extra=(
                "  egress:\n    - ports: [{port: 38412, protocol: SCTP}]\n"
                "    - ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]\n"
            ),
        ),
    ),
    (
        "mc-ignition-version",
        "filesystem in Ignition 3",
        mc(extra="\n          filesystem: root"),
        14,
        mc(),
    ),
    (
        "mc-ignition-version",
        "2.2.0 without filesystem",
        mc(version="2.2.0"),
        11,
        mc(version="3.1.0"),
    ),
    ("mc-ignition-version", "unknown version", mc(version="3.9.0"), 8, mc(version="3.4.0")),
    (
        "mc-ignition",
        "append is refused by the operator",
        mc(extra="\n          append: [{source: 'data:,sctp'}]"),
        14,
        mc(),
    ),
    (
        "mc-data-url",
        "blacklist file still blacklisting",
        mc(blacklist="data:,blacklist%20sctp"),
        14,
        mc(blacklist="data:,%23%20sctp%20allowed%0A"),
    ),
    ("mc-data-url", "load file naming another module", mc(load="data:,stcp"), 18, mc()),
    (
        "mc-data-url",
        "undecodable base64",
        mc(load="data:;base64,c2N0c"),
        18,
        mc(load="data:;base64,c2N0cA=="),
    ),
    (
        "mc-sctp-files",
        "only the load file",
        y(
            """
            apiVersion: machineconfiguration.openshift.io/v1
            kind: MachineConfig
            metadata:
              name: load-sctp-module
              labels: {machineconfiguration.openshift.io/role: worker}
            spec:
              config:
                ignition: {version: 3.2.0}
                storage:
                  files:
                    - path: /etc/modules-load.d/sctp-load.conf
                      contents: {source: "data:,sctp"}
            """
        ),
        10,
        mc(),
    ),
    (
        "mc-sctp-files",
        "load file that systemd does not read",
        mc().replace("sctp-load.conf", "sctp-load.txt"),
        10,
        mc(),
    ),
    (
        "mc-sctp-files",
        "blacklist file listed without a source",
        mc().replace('overwrite: true\n          contents: {source: "data:,"}', ""),
        11,
        mc(),
    ),
    ("mc-mode", "decimal 644", mc(mode="644"), 12, mc(mode="0644")),
    ("mc-mode", "decimal 755", mc(mode="755"), 12, mc(mode="493")),
    (
        "mc-role",
        "custom role without a pool",
        mc(role="worker-cnf"),
        5,
        mc(role="worker-cnf") + "---\n" + POOL,
    ),
    (
        "mc-role",
        "no role label",
        mc().replace("labels: {machineconfiguration.openshift.io/role: worker}", "labels: {}"),
        3,
        mc(),
    ),
]


def findings_of(text: str, options: LintOptions | None = None) -> list[Finding]:
    return lint_documents(load_text(text, "case.yaml"), options)


@pytest.mark.parametrize(
    ("rule", "failing", "line", "passing"),
    [row[:1] + row[2:] for row in CASES],
    ids=[f"{row[0]}: {row[1]}" for row in CASES],
)
def test_rule_fails_and_passes(rule: str, failing: str, line: int, passing: str) -> None:
    found = [f for f in findings_of(failing) if f.rule.id == rule]
    assert found, f"{rule} did not fire on:\n{failing}"
    assert found[0].position.line == line, found[0]
    assert found[0].fix and found[0].message
    clean = findings_of(passing)
    assert clean == [], [f"{f.location} {f.rule.id}: {f.message}" for f in clean]


def test_every_rule_has_a_failing_and_a_passing_case() -> None:
    covered = {row[0] for row in CASES}
    assert covered == {rule.id for rule in RULES} - {"load-error"}


def test_allow_loadbalancer_accepts_sctp_loadbalancers() -> None:
    text = SERVER_POD + "---\n" + y(SERVICE.format(type="LoadBalancer", target=30102))
    assert [f.rule.id for f in findings_of(text)] == ["service-type"]
    assert findings_of(text, LintOptions(allow_loadbalancer=True)) == []


def test_node_port_range_follows_the_cluster() -> None:
    text = (
        SERVER_POD
        + "---\n"
        + y(SERVICE.format(type="NodePort", target=30102)).replace(
            "targetPort: 30102", "targetPort: 30102, nodePort: 40000"
        )
    )
    assert [f.rule.id for f in findings_of(text)] == ["port-range"]
    assert findings_of(text, LintOptions(node_port_range=(30000, 40000))) == []


def test_numeric_target_port_mismatch_is_a_warning_named_mismatch_an_error() -> None:
    numeric = (
        deployment("[{containerPort: 30102}]")
        + "---\n"
        + y(SERVICE.format(type="NodePort", target=30102))
    )
    named = SERVER_POD + "---\n" + y(SERVICE.format(type="NodePort", target="ngap"))
    assert [f.severity for f in findings_of(numeric)] == [Severity.WARNING]
    assert [f.severity for f in findings_of(named)] == [Severity.ERROR]


def test_relations_are_judged_only_on_pods_in_the_input() -> None:
    # without pods, a Service or policy alone cannot be judged: no guess, no finding
    assert findings_of(y(SERVICE.format(type="NodePort", target="ngap"))) == []
    assert findings_of(policy("[{port: 30102}]")) == []


def test_pods_in_other_namespaces_are_not_selected() -> None:
    other = SERVER_POD.replace("metadata: {name: server,", "metadata: {name: server, namespace: b,")
    text = other + "---\n" + y(SERVICE.format(type="NodePort", target="ngap"))
    assert findings_of(text) == []


def test_egress_port_without_protocol_towards_sctp_only_pods() -> None:
    text = (
        SERVER_POD
        + "---\n"
        + y(
            """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: client-egress}
        spec:
          podSelector: {matchLabels: {app: client}}
          policyTypes: [Egress]
          egress:
            - to: [{podSelector: {matchLabels: {app: server}}}]
              ports: [{port: 30102}]
            - ports: [{port: 53, protocol: UDP}]
        """
        )
    )
    assert [f.rule.id for f in findings_of(text)] == ["netpol-port-protocol"]


def test_namespace_selectors_use_the_namespace_name_label() -> None:
    pod = SERVER_POD.replace(
        "metadata: {name: server,", "metadata: {name: server, namespace: core,"
    )
    text = (
        pod
        + "---\n"
        + y(
            """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: client-egress, namespace: ran}
        spec:
          podSelector: {}
          policyTypes: [Egress]
          egress:
            - to:
                - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: core}}
              ports: [{port: 30102}]
            - ports: [{port: 53, protocol: UDP}]
        """
        )
    )
    assert [f.rule.id for f in findings_of(text)] == ["netpol-port-protocol"]


def test_another_policy_allowing_tcp_keeps_the_sctp_only_policy_quiet() -> None:
    pods = deployment("[{containerPort: 30102, protocol: SCTP}, {containerPort: 8080}]")
    allow_tcp = policy("[{port: 8080}]").replace("name: policy", "name: web")
    text = pods + "---\n" + policy("[{port: 30102, protocol: SCTP}]") + "---\n" + allow_tcp
    assert findings_of(text) == []


def test_a_decimal_mode_is_reported_once() -> None:
    found = findings_of(mc(mode="644", version="3.2.0"))
    assert [(f.rule.id, f.severity) for f in found] == [("mc-mode", Severity.WARNING)]
    assert "0o1204" in found[0].message and "420" in found[0].fix


def test_unrelated_machineconfigs_are_not_held_to_the_sctp_rules() -> None:
    chrony = y(
        """
        apiVersion: machineconfiguration.openshift.io/v1
        kind: MachineConfig
        metadata:
          name: chrony
          labels: {machineconfiguration.openshift.io/role: master}
        spec:
          config:
            ignition: {version: 3.2.0}
            storage:
              files:
                - path: /etc/chrony.conf
                  overwrite: true
                  contents: {source: "data:,server%20x"}
        """
    )
    assert findings_of(chrony) == []


def test_a_null_protocol_means_tcp_and_is_no_spelling_mistake() -> None:
    text = SERVER_POD.replace("protocol: SCTP", "protocol: null")
    assert findings_of(text) == []
    assert findings_of(policy("[{protocol: null, port: 80}]")) == []


@pytest.mark.parametrize(
    ("selector", "selects"),
    [
        ("{matchLabels: {app: server}}", True),
        ("{matchExpressions: [{key: app, operator: In, values: [server, other]}]}", True),
        ("{matchExpressions: [{key: app, operator: NotIn, values: [other]}]}", True),
        ("{matchExpressions: [{key: app, operator: Exists}]}", True),
        ("{matchLabels: {app: server, tier: db}}", False),
        ("{matchExpressions: [{key: app, operator: DoesNotExist}]}", False),
    ],
)
def test_policies_select_pods_with_every_selector_form(selector: str, selects: bool) -> None:
    text = SERVER_POD + "---\n" + policy("[{port: 30102}]", pod_selector=selector)
    assert bool(findings_of(text)) is selects
