"""The lint rules and their checks, in two explicit tables.

Adding a rule means writing its :class:`~sctpctl.manifests.findings.Rule` and a check in one of
the modules below, then adding one row to each table; the CLI, JSON and SARIF read them.
"""

from __future__ import annotations

from sctpctl.manifests.findings import Rule, Severity
from sctpctl.manifests.rules import machineconfigs, policies, ports, services
from sctpctl.manifests.rules.common import Check, LintOptions

LOAD_ERROR = Rule(
    "load-error",
    Severity.ERROR,
    "file that cannot be read as Kubernetes YAML",
    "A file that is missing, unreadable, not YAML, has a mapping key twice, or holds something "
    "other than Kubernetes objects cannot be applied either; nothing in it was checked.",
)

RULES: tuple[Rule, ...] = (
    LOAD_ERROR,
    ports.PROTOCOL_SPELLING,
    ports.PORT_RANGE,
    ports.HOST_PORT,
    services.SERVICE_TYPE,
    services.SERVICE_TARGET_PORT,
    policies.NETPOL_PORT_PROTOCOL,
    policies.NETPOL_SCTP_ONLY,
    machineconfigs.MC_IGNITION,
    machineconfigs.MC_IGNITION_VERSION,
    machineconfigs.MC_SCTP_FILES,
    machineconfigs.MC_DATA_URL,
    machineconfigs.MC_MODE,
    machineconfigs.MC_ROLE,
)
"Every rule, in the order documentation and SARIF list them."

CHECKS: tuple[Check, ...] = (
    ports.check_protocol_spelling,
    ports.check_port_range,
    ports.check_host_port,
    services.check_service_type,
    services.check_service_target_port,
    policies.check_netpol_port_protocol,
    policies.check_netpol_sctp_only,
    machineconfigs.check_machineconfig_ignition,
    machineconfigs.check_machineconfig_mode,
    machineconfigs.check_machineconfig_sctp,
    machineconfigs.check_machineconfig_role,
)
"Every check; each yields findings of one or more of the rules above."

__all__ = ["CHECKS", "LOAD_ERROR", "RULES", "Check", "LintOptions"]
