"""Which KVM the host has (L-0). Tests marked host run on the host itself (run --host), before the
rest go to scripts/kvm-env; the others run with the rest, on the KVM that kvm-env chose."""

import json
import os
import re
import subprocess
import time

import pytest

from harness import env

KVM_KIND = env.host_kvm_kind()


@pytest.mark.host
def test_kvm_env_says_where_and_why(t):
    """kvm-env's one line says which way the command runs, and why."""
    t.run([env.ROOT / "scripts/kvm-env", "true"], env=dict(os.environ, KVM_ENV_MODE="auto"))
    t.expect_status(0)
    if KVM_KIND == "pvm":
        t.expect_line(r"^kvm-env: /dev/kvm is PVM \(kvm_pvm\), no hardware virtualization: running inside QEMU")
    elif KVM_KIND == "none":
        t.expect_line("^kvm-env: no usable /dev/kvm: running inside QEMU")
    else:
        t.expect_line("^kvm-env: (/dev/kvm is hardware-assisted KVM: running directly|/dev/kvm .*: running inside QEMU)")


@pytest.mark.host
@pytest.mark.skipif(KVM_KIND != "pvm", reason="this host's /dev/kvm is not PVM")
def test_pvm_refuses_stock_guests_at_once(t):
    """On PVM a stock kernel (and the Multiboot exit guest) is refused at once, naming the layer and the fix."""
    k = env.kernel()
    t0 = time.monotonic()
    t.kvmini("run", "--kernel", k, "--initrd", env.INITRD, "--cmdline", "quiet kvmini.test=poweroff")
    ms = (time.monotonic() - t0) * 1000
    t.expect_error(2, rf"^kvmini: error: L-0 hardware: guest kernel {re.escape(k)} cannot boot .* PVM \(kvm_pvm\)"
                      r".*VT-x/AMD-V.*--allow-pvm")
    t.check(ms < 5000, f"refused only after {ms:.0f} ms")
    t.kvmini("bench", "exits", "--cpus", "1", "--iterations", "10")
    t.expect_error(2, "L-0 hardware: guest kernel .*exitlat.elf cannot boot .* PVM")


@pytest.mark.host
def test_kvmini_host_summary(t):
    """kvmini host tells this host's KVM apart and runs its canary within its bound."""
    t0 = time.monotonic()
    t.kvmini("host")
    ms = (time.monotonic() - t0) * 1000
    t.check(ms < 5000, f"kvmini host took {ms:.0f} ms")
    t.expect_line("^L-0 CPU ")
    t.expect_line(f"^host kernel +{re.escape(os.uname().release)}")
    if KVM_KIND == "pvm":
        t.expect_status(1)
        t.expect_line(r"^L-0 KVM +/dev/kvm: PVM \(shadow paging, no hardware virtualisation\), module kvm_pvm")
        t.expect_line(r"^L-0 canary +real mode to long mode in [0-9.]+ ms; 8000000 ring-0 instructions: out of "
                      r"time after [0-9]+ in [0-9]+ ms \([0-9]+ ns each\)")
        t.expect_line("^verdict +a stock guest kernel cannot boot here")
    elif KVM_KIND == "none":
        t.expect_status(1)
        t.expect_line("^verdict +no usable KVM here")
    else:
        t.check(t.rc in (0, 1), f"exit status {t.rc}, expected 0 or 1")
        t.expect_line("^verdict ")
    t.kvmini("host", "--frobnicate")
    t.expect_error(2, "host: unknown option")


# kvmini doctor's table: a line per check, "L-n  RESULT  name  finding".
DOCTOR_LINE = r"^L-[0-3]  (PASS|WARN|FAIL|SKIP)  "


@pytest.mark.host
def test_doctor_on_this_host(t):
    """kvmini doctor checks this host by layer without running a guest; on PVM it fails L-0, saying
    what PVM does to a guest kernel and what to do, and exits 1."""
    t0 = time.monotonic()
    t.kvmini("doctor")
    ms = (time.monotonic() - t0) * 1000
    t.check(ms < 5000, f"kvmini doctor took {ms:.0f} ms")
    for layer in range(4):
        t.expect_line(rf"^L-{layer}  (PASS|WARN|FAIL|SKIP)  ")
    t.expect_line(r"^summary +[0-9]+ checks: [0-9]+ PASS, [0-9]+ WARN, [0-9]+ FAIL, [0-9]+ SKIP: ")
    t.expect_no_line(r"^L-0  (PASS|WARN|FAIL|SKIP)  canary")
    if KVM_KIND == "pvm":
        t.expect_status(1)
        t.expect_line(r"^L-0  FAIL  virtualisation extensions  none: /dev/kvm is PVM \(kvm_pvm\)")
        t.expect_line(r"^ +cause: PVM has no hardware virtualisation: guest kernel code is emulated instruction "
                      r"by instruction, so a stock kernel cannot boot in useful time$")
        t.expect_line(r"^ +fix: +run on a host with VT-x/AMD-V, or in a VM with nested virtualisation enabled; "
                      r"here, scripts/kvm-env runs kvmini inside QEMU$")
        # Short KVM ioctls work on PVM: the device, a scratch VM and its event channels pass.
        for name in ("KVM device", "API version", "capabilities", "scratch VM", "ioeventfd", "irqfd",
                     "MSI routing"):
            t.expect_line(rf"^L-[12]  PASS  {re.escape(name)} ")
        t.expect_line(r"^summary .*, [1-9][0-9]* FAIL, .*: fix each FAIL before running a VM here$")
    else:
        t.check(t.rc in (0, 1), f"exit status {t.rc}, expected 0 or 1")
    # Every WARN and FAIL has its cause and fix on the lines below it.
    lines = t.text().split("\n")
    for i, line in enumerate(lines):
        if re.match(r"^L-[0-3]  (WARN|FAIL)  ", line):
            t.check(i + 2 < len(lines) and lines[i + 1].lstrip().startswith("cause: ")
                    and lines[i + 2].lstrip().startswith("fix: "), f"no cause and fix under: {line}")
    t.kvmini("doctor", "--frobnicate")
    t.expect_error(2, "^kvmini: error: doctor: unknown option or missing value '--frobnicate'")


@pytest.mark.host
def test_doctor_without_kvm_device(t):
    """Where the KVM device is missing (when doctor is needed most) L-1 fails, naming the cause and fix,
    the checks that need KVM are skipped with why, the others are still made, and the status is 1."""
    binary = env.KVMINI_SAN if env.KVMINI_SAN.exists() else env.KVMINI
    t.run([binary, "doctor", "--kvm-device", "/nonexistent"])
    t.expect_status(1)
    t.expect_line(r"^L-1  FAIL  KVM device +cannot open /nonexistent: No such file or directory$")
    t.expect_line(r"^ +cause: .*/nonexistent")
    t.expect_line(r"^ +fix: ")
    for layer, name in (("L-1", "API version"), ("L-1", "scratch VM"), ("L-2", "ioeventfd"), ("L-2", "irqfd"),
                        ("L-2", "MSI routing")):
        t.expect_line(rf"^{layer}  SKIP  {name} +needs the KVM device \(L-1 KVM device failed\)$")
    for name in ("shared memory (memfd)", "fd passing (SCM_RIGHTS)", "seccomp filters", "Landlock",
                 "user namespace", "device-process lock-down", "cgroup v2 mounted"):
        t.expect_line(rf"^L-[23]  (PASS|WARN|FAIL)  {re.escape(name)} ")
    t.expect_line("^summary ")
    t.expect_sanitizers_clean()


@pytest.mark.host
def test_doctor_json(t):
    """kvmini doctor --json is one JSON object: each check's layer, name, result, finding, cause, fix
    (cause and fix for each WARN and FAIL, null for the others), the summary and ok, as the status says."""
    t.run([env.KVMINI, "doctor", "--json"], stderr=t.scratch / "stderr")
    try:
        report = json.loads(t.text())
    except ValueError as e:
        t.fail(f"not JSON: {e}")
        return
    t.check(t.rc in (0, 1), f"exit status {t.rc}, expected 0 or 1")
    t.check(report.get("ok") is (t.rc == 0), f"ok is {report.get('ok')} with exit status {t.rc}")
    t.check(report.get("kvm_device") == "/dev/kvm", f"kvm_device {report.get('kvm_device')}")
    t.check(re.match(r"^[0-9]+ checks: ", str(report.get("summary"))), f"summary {report.get('summary')!r}")
    checks = report.get("checks", [])
    t.check(len(checks) >= 20, f"only {len(checks)} checks")
    for c in checks:
        t.check(set(c) == {"layer", "name", "result", "finding", "cause", "fix"}, f"fields {sorted(c)}")
        t.check(c.get("layer") in ("L-0", "L-1", "L-2", "L-3"), f"layer {c.get('layer')}")
        t.check(c.get("result") in ("PASS", "WARN", "FAIL", "SKIP"), f"result {c.get('result')}")
        failing = c.get("result") in ("WARN", "FAIL")
        t.check(bool(c.get("cause")) == failing and bool(c.get("fix")) == failing,
                f"{c.get('name')}: {c.get('result')} with cause {c.get('cause')!r}, fix {c.get('fix')!r}")
    layers = [c.get("layer") for c in checks]
    t.check(layers == sorted(layers), "checks not in layer order")
    if KVM_KIND == "pvm":
        cpu = next((c for c in checks if c.get("name") == "virtualisation extensions"), {})
        t.check(cpu.get("result") == "FAIL" and "emulated instruction by instruction" in (cpu.get("cause") or ""),
                f"L-0 on PVM: {cpu}")
        t.check(report.get("ok") is False, "ok on PVM")


def test_host_summary_nested_or_hardware(t):
    """On the KVM the tests run on (hardware, or nested under kvm-env), the canary passes at speed."""
    t.kvmini("host")
    t.expect_status(0)
    t.expect_line(r"^L-0 KVM +/dev/kvm: (hardware-assisted|nested \(hardware-assisted, under a hypervisor\)), "
                  r"module kvm_(amd|intel)$")
    t.expect_line("^L-0 canary +real mode to long mode in [0-9.]+ ms; 8000000 ring-0 instructions in [0-9.]+ ms")
    t.expect_line("^verdict +usable")
    if env.emulated():
        t.expect_line(r"^L-0 CPU .*AMD-V \(svm\)")
        t.expect_line("^L-0 machine +a guest itself")
        t.expect_line("^L-0 KVM .*nested")
    t.kvmini("host", "-q")
    t.expect_status(0)
    t.check(t.text().count("\n") == 1, "-q printed more than the verdict")
    # With -v, a run names the kind of KVM it found.
    t.kvmini("run", "-v", "--kernel", "/nonexistent")
    t.expect_line("L-0 hardware: KVM here is (hardware-assisted|nested)")


def test_vsock_socket_on_shared_fs_says_so(t):
    """A Unix socket cannot live on a 9p share (kvm-env's working tree): the error says so, and where to go."""
    # By the mount's type: statfs() on 9p reports the host file system's.
    fstype = subprocess.run(["findmnt", "-no", "FSTYPE", "-T", env.LOGS], capture_output=True, text=True).stdout
    if fstype.strip() != "9p":
        pytest.skip(f"{env.LOGS} is not on 9p here")
    t.kvmini("run", "--kernel", env.kernel(), "--vsock", f"cid=3,uds={env.LOGS}/vm.sock")
    logs = re.escape(str(env.LOGS))
    t.expect_error(2, rf"vsock socket path {logs}/vm.sock: the file system holding {logs} \(9p\) cannot hold "
                      r"Unix sockets.*/tmp")


@pytest.mark.skipif(not env.emulated(), reason="not inside kvm-env's emulated machine")
def test_kvm_env_loads_modules_on_first_open(t):
    """kvm-env's machine loads tun and the vhost modules on first open, as a Debian host does."""
    for node in ("net/tun", "vhost-net", "vhost-vsock"):
        t.check(os.path.exists(f"/dev/{node}") and os.stat(f"/dev/{node}").st_mode & 0o170000 == 0o020000,
                f"no /dev/{node}")
    for node, module in (("vhost-vsock", "vhost_vsock"), ("net/tun", "tun")):
        try:
            os.close(os.open(f"/dev/{node}", os.O_RDWR))
        except OSError as e:
            t.fail(f"opening /dev/{node} failed: {e}")
        t.check(os.path.isdir(f"/sys/module/{module}"), f"opening /dev/{node} did not load {module}")
