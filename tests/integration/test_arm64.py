"""kvmini on arm64 (issue 14): build/arm64/kvmini, cross-built (make ARCH=arm64), booting Debian's arm64
kernel (build/arm64/guest) on KVM inside scripts/kvm-env's emulated arm64 machine (KVM_ENV_ARCH=arm64:
qemu-system-aarch64 -M virt,virtualization=on, KVM at EL2).

Host phase (run --host): booting that machine takes ~10 s and its KVM is emulated, so one session of it
(tests/integration/arm64/run, under /tmp/kvmini-emu.lock, one emulated machine at a time) runs every case
once, each with a time limit, and records each case's status, output and files under
build/tests/integration/arm64/CASE/; each test here judges one case, on this host (a disk the arm64
guest wrote is checked with this host's blkpattern). Skipped only where the arm64 test environment is
not installed (scripts/setup installs it): no qemu-system-aarch64, or no arm64 kernel and busybox in
KVMINI_ARM64_CACHE.

Environment: BUILD_ARM64 (default $BUILD/arm64, where make puts it: build/arm64), KVMINI_ARM64_TIMEOUT (the
session's limit in seconds, default 1800), ARM64_CASE_TIMEOUT (each case's, default 300),
KVMINI_ARM64_LOCK_WAIT (seconds to wait for the lock, default 1800).
"""

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import env
from harness.results import read

pytestmark = pytest.mark.host

ARM64 = env.ROOT / os.environ.get("BUILD_ARM64", os.environ.get("BUILD", "build") + "/arm64")
CACHE = Path(os.environ.get("KVMINI_ARM64_CACHE", "/var/cache/kvmini/arm64"))
RESULTS = env.LOGS / "arm64"
LOCK = "/tmp/kvmini-emu.lock"
SESSION_TIMEOUT = int(os.environ.get("KVMINI_ARM64_TIMEOUT", "1800"))
CASE_TIMEOUT = int(os.environ.get("ARM64_CASE_TIMEOUT", "300"))
LOCK_WAIT = int(os.environ.get("KVMINI_ARM64_LOCK_WAIT", "1800"))
NEEDS = ["kvmini", "guest/Image", "guest/Image.gz", "guest/test-initramfs.cpio.gz", "guest/tools/xfer",
         "guest/exitlat.img"]
# The rows kvmini bench exits times on arm64, in its order.
EXIT_ROWS = ["loop", "hvc", "mmio_user_read", "mmio_user_write", "mmio_ioeventfd", "mmio_wildcard", "wfi_timer",
             "ipi"]


def not_installed():
    """Why the arm64 test environment is missing here, or None."""
    if not shutil.which("qemu-system-aarch64"):
        return "no qemu-system-aarch64 (scripts/setup installs qemu-system-arm)"
    if not list(CACHE.glob("kernel/boot/vmlinuz-*")) or not (CACHE / "busybox/bin/busybox").is_file():
        return f"no arm64 kernel and busybox in {CACHE} (scripts/setup fetches them; KVMINI_ARM64_CACHE)"
    return None


@dataclass
class Session:
    rc: int
    seconds: float
    log: Path

    def tail(self, n=30):
        return "\n".join(f"  | {line}" for line in read(self.log).rstrip("\n").split("\n")[-n:])


@pytest.fixture(scope="module")
def session():
    """The one run of every case in the emulated arm64 machine."""
    why = not_installed()
    if why:
        pytest.skip(why)
    missing = [str(ARM64 / p) for p in NEEDS if not (ARM64 / p).exists()]
    if missing:
        pytest.fail(f"not built: {', '.join(missing)} (make ARCH=arm64 all)", pytrace=False)
    shutil.rmtree(RESULTS, ignore_errors=True)
    RESULTS.mkdir(parents=True)
    log = RESULTS / "session.log"
    # The x86 kernel the refusal case gives to the arm64 kvmini, through the machine's /host.
    x86_kernel = "/host" + str(Path(env.kernel()).resolve())
    run_env = dict(os.environ, KVM_ENV_ARCH="arm64", KVM_ENV_TIMEOUT=str(SESSION_TIMEOUT),
                   ARM64_CASE_TIMEOUT=str(CASE_TIMEOUT), BUILD_ARM64=str(ARM64), KVMINI_X86_KERNEL=x86_kernel)
    argv = ["flock", "-w", str(LOCK_WAIT), LOCK, str(env.ROOT / "scripts/kvm-env"),
            str(env.ROOT / "tests/integration/arm64/run"), str(RESULTS)]
    t0 = time.monotonic()
    with open(log, "wb") as out:
        p = subprocess.Popen(argv, cwd=env.ROOT, env=run_env, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = p.wait(LOCK_WAIT + SESSION_TIMEOUT + 60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            rc = 124
    return Session(rc, time.monotonic() - t0, log)


def case(t, session, name):
    """Load case NAME's records into the test T (its log, its status as t.rc): the case's directory, or
    None (and a failure) when the session did not record it."""
    d = RESULTS / name
    if not (d / "status").is_file():
        t.fail(f"case {name} has no result: the arm64 session ended with status {session.rc} after "
               f"{session.seconds:.0f}s (limit {SESSION_TIMEOUT}s); the last lines of {session.log}:\n"
               + session.tail())
        return None
    shutil.copy(d / "log", t.log)
    t.logs.add(d / "log")
    t.rc = int(read(d / "status").strip() or -1)
    t.check(t.rc != 124, f"case {name} ran past its limit of {CASE_TIMEOUT}s: kvmini stopped")
    return d


def test_arm64_boot_1cpu_poweroff(t, session):
    if case(t, session, "boot_1cpu"):
        t.expect_status(0)
        t.expect_booted(1)
        t.expect_mem(512)


def test_arm64_boot_2cpus(t, session):
    if case(t, session, "boot_2cpus"):
        t.expect_status(0)
        t.expect_booted(2)
        t.expect_mem(512)


def test_arm64_reboot_status_4(t, session):
    if case(t, session, "reboot"):
        t.expect_status(4)
        t.expect_booted(1)


def test_arm64_image_gz_boots(t, session):
    if case(t, session, "image_gz"):
        t.expect_status(0)
        t.expect_booted(1)
        t.expect_mem(512)


def test_arm64_blk_write_verified_on_host(t, session):
    """The arm64 guest's flushed virtio-blk write is on the image, as this host's blkpattern reads it."""
    d = case(t, session, "blk_write")
    if d:
        t.expect_status(0)
        t.expect_booted(1)
        t.expect_line("KVMINI-TEST: flushed")
        seed = read(d / "seed").strip()
        t.check(seed != "" and t.pattern("check", d / "disk.img", seed),
                f"{d / 'disk.img'} does not hold the guest's pattern {seed}")


def test_arm64_vsock_both_ways(t, session):
    """Hybrid vsock: 4 MiB from the host side (the arm64 xfer next to kvmini) to the guest and 4 MiB back,
    each checked against its pattern by its receiver."""
    d = case(t, session, "vsock")
    if d:
        t.append_log(d / "host-tx.log", d / "host-rx.log")
        t.expect_status(0)
        t.expect_booted(2)
        t.expect_line("KVMINI-TEST: run ok")
        t.check(read(d / "host-tx.status").strip() == "0", f"the host's send to the guest failed: "
                f"{read(d / 'host-tx.log').strip()}")
        t.check(read(d / "host-rx.status").strip() == "0" and "XFER ok" in read(d / "host-rx.log"),
                f"the guest's 4 MiB did not reach the host intact: {read(d / 'host-rx.log').strip()}")


def test_arm64_refuses_x86_bzimage(t, session):
    """An x86 bzImage given to the arm64 kvmini: status 2 and one line saying what is wrong."""
    if case(t, session, "x86_kernel"):
        t.expect_error(2, r"^kvmini: error: .*(x86|bzImage)")


def test_arm64_net_ping_both_ways(t, session):
    """virtio-net on a tap kvmini makes: the guest pings this side, this side pings the guest."""
    d = case(t, session, "net")
    if d:
        t.append_log(d / "host-ping.log")
        t.expect_status(143)  # stopped with SIGTERM once both pings are done
        t.expect_booted(1)
        t.expect_line("KVMINI-TEST: pinged")
        t.check(read(d / "host-ping.status").strip() == "0",
                f"this side cannot ping the guest: {read(d / 'host-ping.log').strip()}")


def bench_rows(t, d):
    """The rows of case directory D's exits.json, by name; checks what every run must show."""
    try:
        data = json.loads(read(d / "exits.json"))
    except ValueError as e:
        t.fail(f"kvmini bench exits --json printed no JSON object ({e}): {read(d / 'exits.json')[:300]!r}")
        return None
    t.check(data.get("counter_khz", 0) > 0, f"no counter frequency: {data}")
    names = [r["name"] for r in data.get("rows", [])]
    t.check(names == EXIT_ROWS, f"rows {names}, want {EXIT_ROWS}")
    return {r["name"]: r for r in data.get("rows", [])}


def test_arm64_bench_exits_times_each_row(t, session):
    """kvmini bench exits on arm64 with 2 vCPUs: every row timed, 300 samples each, ordered as the exits'
    costs are: an exit to kvmini costs more than one KVM answers itself, which costs more than no exit."""
    d = case(t, session, "bench_exits_2cpus")
    if not d:
        return
    t.expect_status(0)
    rows = bench_rows(t, d)
    if not rows:
        return
    for name, r in rows.items():
        ok = r["status"] == "ok" or (name in ("wfi_timer", "ipi") and r["status"] == "timeout")
        t.check(ok, f"row {name}: status {r['status']}")
        if r["status"] == "ok":
            t.check(r["count"] == 300, f"row {name}: {r['count']} samples, want 300")
            t.check(0 < r["min_ticks"] <= r["median_ticks"] <= r["p99_ticks"] <= r["max_ticks"],
                    f"row {name}: min, median, p99, max out of order: {r}")
    med = {name: r["median_ticks"] for name, r in rows.items() if r["status"] == "ok"}
    if all(n in med for n in ("loop", "hvc", "mmio_user_write", "mmio_ioeventfd")):
        t.check(med["mmio_user_write"] > med["mmio_ioeventfd"] > med["loop"] and med["hvc"] > med["loop"],
                f"medians out of the exits' order (userspace > ioeventfd > no exit; hvc > no exit): {med}")


def test_arm64_bench_exits_one_vcpu_has_no_ipi(t, session):
    d = case(t, session, "bench_exits_1cpu")
    if not d:
        return
    t.expect_status(0)
    rows = bench_rows(t, d)
    if rows and "ipi" in rows:
        t.check(rows["ipi"]["status"] == "unsupported", f"ipi with one vCPU: {rows['ipi']['status']}")
