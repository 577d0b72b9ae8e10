"""Which KVM the host has (L-0). Tests marked host run on the host itself (run --host), before the
rest go to scripts/kvm-env; the others run with the rest, on the KVM that kvm-env chose."""

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
