"""kvmini doctor where KVM runs guests (inside scripts/kvm-env's machine on this project's hosts): every
check PASS or WARN, exit status 0. Doctor runs no guest but its canary, so it needs no guest fixture."""

import json
import re

from harness import env

# What kvmini needs to run a VM with device processes: these must pass wherever KVM runs guests.
MUST_PASS = [
    ("L-0", "virtualisation extensions"), ("L-0", "canary"), ("L-1", "KVM device"), ("L-1", "API version"),
    ("L-1", "capabilities"), ("L-1", "max vCPUs"), ("L-1", "scratch VM"), ("L-2", "ioeventfd"), ("L-2", "irqfd"),
    ("L-2", "MSI routing"), ("L-2", "shared memory (memfd)"), ("L-2", "fd passing (SCM_RIGHTS)"),
    ("L-3", "seccomp filters"), ("L-3", "device-process lock-down"),
]


def test_doctor_passes_or_warns_where_kvm_runs(t):
    """Every check PASS or WARN (cgroup delegation SKIP only where cgroup v2 is not mounted), the canary
    at hardware speed, status 0."""
    t.kvmini("doctor", "--canary")
    t.expect_status(0)
    t.expect_no_line(r"^L-[0-3]  FAIL  ")
    for layer, name in MUST_PASS:
        t.expect_line(rf"^{layer}  PASS  {re.escape(name)} ")
    t.expect_line(r"^L-0  (PASS|WARN)  nested paging +")
    if env.emulated():
        t.expect_line(r"^L-0  PASS  virtualisation extensions  AMD-V \(svm\), kvm_amd loaded, nested under hypervisor ")
        t.expect_line(r"^L-0  PASS  nested paging +on \(kvm_amd npt=[Y1]\)")
    for line in re.findall(r"^L-[0-3]  SKIP  .*$", t.text(), re.M):
        t.check(re.match(r"^L-3  SKIP  cgroup v2 delegated +needs cgroup v2 mounted", line), f"skipped: {line}")
    t.expect_line(r"^summary +[0-9]+ checks: [0-9]+ PASS, [0-9]+ WARN, 0 FAIL, [0-9]+ SKIP: kvmini can run a VM here")


def test_doctor_json_and_sanitizers_where_kvm_runs(t):
    """The sanitizer build makes every check cleanly (the scratch VM, the probe device process); --json
    says ok."""
    t.run([env.KVMINI_SAN, "doctor"])
    t.expect_status(0)
    t.expect_sanitizers_clean()
    t.expect_no_line(r"^L-[0-3]  FAIL  ")
    t.run([env.KVMINI, "doctor", "--json"], stderr=t.scratch / "stderr")
    t.expect_status(0)
    try:
        report = json.loads(t.text())
    except ValueError as e:
        t.fail(f"not JSON: {e}")
        return
    t.check(report.get("ok") is True, f"ok is {report.get('ok')}")
    bad = [c for c in report.get("checks", []) if c.get("result") == "FAIL"]
    t.check(not bad, f"failed: {bad}")
