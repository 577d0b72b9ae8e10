"""Where things are, for tests and benchmarks alike."""

import functools
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("BUILD", "build")
KVMINI = BUILD / "kvmini"
KVMINI_SAN = BUILD / "kvmini-san"
INITRD = BUILD / "guest" / "test-initramfs.cpio.gz"
EXITLAT = BUILD / "guest" / "exitlat.elf"
XFER = BUILD / "guest" / "tools" / "xfer"
PATTERN = BUILD / "guest" / "tools" / "blkpattern"
LOGS = BUILD / "tests" / "integration"
# Seconds a test's guest may run before it is stopped (and counted as hung).
TIMEOUT = int(os.environ.get("KVMINI_TEST_TIMEOUT", "240"))


@functools.lru_cache(maxsize=None)
def kernel():
    """The guest kernel: the one scripts/kvm-env boots (KVM_ENV_KERNEL, else the newest /boot/vmlinuz-*
    with its modules), so that the test initramfs's modules match it."""
    out = subprocess.run([str(ROOT / "scripts" / "kvm-env"), "--print-kernel"], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip() or "scripts/kvm-env --print-kernel failed")
    return out.stdout.strip()


def emulated():
    """Whether KVM here runs on QEMU's software CPU (inside scripts/kvm-env's machine)."""
    return os.environ.get("KVM_ENV", "").startswith("qemu")  # qemu, or qemu-arm64


def host_kvm_kind():
    """What this host's /dev/kvm is, as scripts/kvm-env judges it first: pvm, none, or other."""
    mods = Path("/sys/module")
    if (mods / "kvm_pvm").is_dir() and not (mods / "kvm_amd").is_dir() and not (mods / "kvm_intel").is_dir():
        return "pvm"
    if not Path("/dev/kvm").is_char_device():
        return "none"
    return "other"
