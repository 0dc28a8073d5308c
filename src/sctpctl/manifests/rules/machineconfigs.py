"""Rules about MachineConfigs, above all the one that enables SCTP.

Every MachineConfig is read with the Ignition reader of :mod:`sctpctl.node.ignition`, the same
code the lab's MachineConfig operator uses, so lint refuses what the operator would refuse. A
MachineConfig counts as an SCTP one when its name mentions sctp or it writes into
``/etc/modprobe.d`` or ``/etc/modules-load.d`` something about sctp; for those, lint also checks
that the node ends up loading the module (:func:`sctpctl.node.machineconfig.sctp_boot_effect`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from sctpctl.manifests.findings import Finding, Rule, Severity, finding
from sctpctl.manifests.inventory import Inventory, dig, entries, selector_or_none
from sctpctl.manifests.loader import Document, FieldPath
from sctpctl.manifests.rules.common import LintOptions
from sctpctl.netpol.selectors import Selector
from sctpctl.node.ignition import IgnitionReading, Level, ProblemKind, read_machineconfig
from sctpctl.node.machineconfig import (
    BLACKLIST_PATH,
    MODPROBE_DIR,
    MODULES_LOAD_DIR,
    ROLE_LABEL,
    STANDARD_POOL_SELECTORS,
    sctp_boot_effect,
)
from sctpctl.node.modules import blocking_lines

MC_IGNITION = Rule(
    "mc-ignition",
    Severity.ERROR,
    "MachineConfig whose Ignition config the operator would refuse",
    "The MachineConfig operator validates spec.config as Ignition; a config it refuses marks "
    "the pool Degraded and no node is updated. It writes only data: URLs and does not support "
    "append.",
)
MC_IGNITION_VERSION = Rule(
    "mc-ignition-version",
    Severity.ERROR,
    "Ignition version missing, unknown, or not matching the fields",
    "The operator accepts Ignition 2.2.0 and 3.0.0-3.4.0. Version 2.2.0 needs 'filesystem: "
    "root' on every file; 3.x has no such field. The procedure's current version is 3.2.0.",
)
MC_SCTP_FILES = Rule(
    "mc-sctp-files",
    Severity.ERROR,
    "SCTP MachineConfig without both files of the procedure",
    "On RHCOS /etc/modprobe.d/sctp-blacklist.conf contains 'blacklist sctp', and "
    "systemd-modules-load honours blacklists. Enabling SCTP needs both: that file overwritten "
    "(emptied) and a /etc/modules-load.d/*.conf file listing sctp.",
)
MC_DATA_URL = Rule(
    "mc-data-url",
    Severity.ERROR,
    "data: URL that does not decode to what the file needs",
    "File contents travel as data: URLs (RFC 2397). The blacklist file must decode to something "
    "that no longer blocks sctp (the procedure uses 'data:,', empty), and the modules-load.d "
    "file must decode to a line 'sctp' ('data:,sctp').",
)
MC_MODE = Rule(
    "mc-mode",
    Severity.WARNING,
    "file mode written as a decimal copy of an octal mode",
    "Ignition modes are integers. YAML 0644 is octal (420) to kubectl and oc, and 420 is the "
    "same mode; but a decimal 644 is 0o1204 (sticky bit, owner write-only), which is not what "
    "anyone means. The same holds for 755, 600 and the other usual modes.",
)
MC_ROLE = Rule(
    "mc-role",
    Severity.WARNING,
    "MachineConfig that no pool selects",
    "A MachineConfig is applied by the MachineConfigPools whose machineConfigSelector matches "
    "its labels. The standard pools select machineconfiguration.openshift.io/role: master or "
    "worker; any other role needs a custom pool, or the MachineConfig is never applied.",
)

_RULE_OF_KIND: Mapping[ProblemKind, Rule] = {
    ProblemKind.VERSION: MC_IGNITION_VERSION,
    ProblemKind.SOURCE: MC_DATA_URL,
    ProblemKind.MODE: MC_MODE,
}
_FIX_OF_KIND: Mapping[ProblemKind, str] = {
    ProblemKind.VERSION: "declare ignition.version 3.2.0 (files without filesystem), or 2.2.0 "
    "with filesystem: root on every file",
    ProblemKind.STRUCTURE: "correct the field as the message says (Ignition spec of that version)",
    ProblemKind.PATH: "write an absolute, clean path such as /etc/modules-load.d/sctp-load.conf",
    ProblemKind.DUPLICATE: "keep one entry per path",
    ProblemKind.MODE: "write the mode as 420 (0644 in YAML)",
    ProblemKind.SOURCE: "use a data: URL such as data:,sctp (percent-encode other bytes, or "
    "use ;base64)",
    ProblemKind.VERIFICATION: "correct verification.hash for the decoded contents, or remove it",
    ProblemKind.UNSUPPORTED: "write the whole file with contents.source instead of append",
    ProblemKind.UNKNOWN_FIELD: "remove the field or correct its name",
}

DECIMAL_LOOKALIKES = frozenset(
    {400, 440, 444, 600, 640, 644, 660, 664, 666, 700, 750, 755, 775, 777}
)
"Usual octal modes that, written as decimal integers, mean something else entirely."

_FILES: FieldPath = ("spec", "config", "storage", "files")


def check_machineconfig_ignition(inventory: Inventory, options: LintOptions) -> Iterator[Finding]:
    for document in inventory.of_kind("MachineConfig"):
        reading = read_machineconfig(document.obj)
        for problem in reading.problems:
            if problem.kind is ProblemKind.MODE and dig(document.obj, problem.path) in (
                DECIMAL_LOOKALIKES
            ):
                continue  # check_machineconfig_mode says it better
            yield finding(
                _RULE_OF_KIND.get(problem.kind, MC_IGNITION),
                document,
                problem.path,
                problem.message,
                _FIX_OF_KIND[problem.kind],
                Severity.ERROR if problem.level is Level.ERROR else Severity.WARNING,
            )


def check_machineconfig_mode(inventory: Inventory, options: LintOptions) -> Iterator[Finding]:
    for document in inventory.of_kind("MachineConfig"):
        for path, entry in entries(document.obj, _FILES):
            mode = entry.get("mode")
            if mode in DECIMAL_LOOKALIKES and not isinstance(mode, bool):
                yield finding(
                    MC_MODE,
                    document,
                    (*path, "mode"),
                    f"mode {mode} is decimal, which is 0o{mode:o}; 0{mode} (octal) was probably "
                    f"meant, which is {int(str(mode), 8)}",
                    f"write mode: {int(str(mode), 8)} (or 0{mode} in YAML)",
                )


def check_machineconfig_sctp(inventory: Inventory, options: LintOptions) -> Iterator[Finding]:
    for document in inventory.of_kind("MachineConfig"):
        if not is_sctp_machineconfig(document):
            continue
        reading = read_machineconfig(document.obj)
        if reading.version is None:
            continue  # without a readable version nothing is written: mc-ignition-version says so
        yield from _missing_files(document, reading)
        yield from _wrong_contents(document, reading)


def check_machineconfig_role(inventory: Inventory, options: LintOptions) -> Iterator[Finding]:
    selectors = [
        selector_or_none(Selector.from_label_selector, s) for s in STANDARD_POOL_SELECTORS.values()
    ]
    for pool in inventory.of_kind("MachineConfigPool"):
        raw = dig(pool.obj, ("spec", "machineConfigSelector"))
        if isinstance(raw, Mapping):
            selectors.append(selector_or_none(Selector.from_label_selector, raw))
    for document in inventory.of_kind("MachineConfig"):
        labels = dig(document.obj, ("metadata", "labels"))
        labels = {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}
        if any(s is not None and s.matches(labels) for s in selectors):
            continue
        role = labels.get(ROLE_LABEL)
        if role is None:
            yield finding(
                MC_ROLE,
                document,
                ("metadata",),
                f"there is no {ROLE_LABEL} label, so no pool selects this MachineConfig and it "
                "is never applied",
                f"add the label {ROLE_LABEL}: worker (or the role of your pool)",
            )
        else:
            yield finding(
                MC_ROLE,
                document,
                ("metadata", "labels", ROLE_LABEL),
                f"role {role!r} is selected by neither standard pool (master, worker) nor a "
                "MachineConfigPool in the input, so this MachineConfig is never applied",
                f"use role worker or master, or create a MachineConfigPool whose "
                f"machineConfigSelector matches {ROLE_LABEL}: {role}",
            )


def is_sctp_machineconfig(document: Document) -> bool:
    """Whether a MachineConfig is about sctp (by its name or the files it writes)."""
    if "sctp" in document.name.lower():
        return True
    for _, entry in entries(document.obj, _FILES):
        path = str(entry.get("path", ""))
        source = str(dig(entry, ("contents", "source")) or "")
        if path == BLACKLIST_PATH:
            return True
        if path.startswith((MODPROBE_DIR, MODULES_LOAD_DIR)) and "sctp" in (path + source).lower():
            return True
    return False


def _missing_files(document: Document, reading: IgnitionReading) -> Iterator[Finding]:
    written = {str(entry.get("path", "")) for _, entry in entries(document.obj, _FILES)}
    if BLACKLIST_PATH not in written:
        yield finding(
            MC_SCTP_FILES,
            document,
            _FILES,
            f"{BLACKLIST_PATH} is not overwritten: on RHCOS it says 'blacklist sctp', and "
            "systemd-modules-load skips blacklisted modules",
            f"add a file {BLACKLIST_PATH} with overwrite: true and contents.source: 'data:,'",
        )
    loaders = sorted(p for p in written if p.startswith(MODULES_LOAD_DIR))
    if not any(_read_at_boot(p) for p in loaders):
        message = f"no {MODULES_LOAD_DIR}*.conf file is written, so nothing loads sctp at boot"
        if loaders:
            message += (
                f" ({', '.join(loaders)}: systemd-modules-load reads only *.conf files directly "
                "in that directory)"
            )
        yield finding(
            MC_SCTP_FILES,
            document,
            _FILES,
            message,
            f"add a file {MODULES_LOAD_DIR}sctp-load.conf with contents.source: 'data:,sctp'",
        )


def _read_at_boot(path: str) -> bool:
    name = path[len(MODULES_LOAD_DIR) :]
    return name.endswith(".conf") and "/" not in name


def _wrong_contents(document: Document, reading: IgnitionReading) -> Iterator[Finding]:
    effect = sctp_boot_effect(reading.attempted)
    kept = {f.path: f for f in reading.attempted if f.contents is None and not f.overwrite}
    for line in effect.blocked_by:
        file = kept.get(line.file)
        if file is not None and dig(document.obj, (*file.entry, "contents", "source")) is None:
            yield finding(
                MC_SCTP_FILES,
                document,
                file.entry,
                f"{file.path} is listed without contents.source or overwrite, so the node's own "
                f"file stays, and it says {line.text!r}",
                "set overwrite: true and contents.source: 'data:,'",
            )
    for file in reading.attempted:
        if file.contents is None:
            continue  # no source (above), or one that does not decode (reported already)
        text = file.contents.decode("utf-8", errors="replace")
        directory = file.path.rpartition("/")[0] + "/"
        where: FieldPath = (*file.entry, "contents", "source")
        if directory == MODPROBE_DIR and file.path.endswith(".conf"):
            blocking = list(blocking_lines(file.path, text))
            if blocking:
                yield finding(
                    MC_DATA_URL,
                    document,
                    where,
                    f"{file.path} decodes to {_quote(text)}, which still blocks sctp "
                    f"(line {blocking[0].line}: {blocking[0].text!r})",
                    "use contents.source: 'data:,' (an empty file)",
                )
        elif _read_at_boot(file.path) and directory == MODULES_LOAD_DIR and not effect.loaded_by:
            yield finding(
                MC_DATA_URL,
                document,
                where,
                f"{file.path} decodes to {_quote(text)}, which does not name the sctp module",
                "use contents.source: 'data:,sctp'",
            )


def _quote(text: str) -> str:
    shown = text if len(text) <= 40 else text[:37] + "..."
    return repr(shown) if shown else "'' (empty)"
