#!/usr/bin/python3
"""exits.py: what each kind of VM exit costs under kvmini, beside the raw-KVM floor (tests/bench/exit_floor.c)
and QEMU booting the same guest (guest/exitlat), interleaved.

On arm64 (KVM_ENV_ARCH=arm64, BUILD=build/arm64) the runs take place in kvm-env's emulated arm64 machine,
all of them in one session: its busybox userland has no Python, so a shell script does the rounds there and
this program reads their output from the shared working tree. Nor has it a QEMU: the QEMU peer there is
Debian's arm64 qemu-system-aarch64, which scripts/setup unpacks into its arm64 cache, run from /host with
the host's arm64 libraries."""

import json
import os
import platform
import shutil
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common  # noqa: E402
from harness import env, proc, results  # noqa: E402

BENCH = "exits"
ARM64 = os.environ.get("KVM_ENV_ARCH") == "arm64"
FLOOR = env.BUILD / "tests" / "exit-floor"
EXITLAT = env.BUILD / "guest" / "exitlat.img" if ARM64 else env.EXITLAT
NO_IOEVENTFD_IN_QEMU = ("pio_ioeventfd", "mmio_ioeventfd", "mmio_wildcard")
FLOOR_ROWS = ("mmio_user_write",) if ARM64 else ("pio_user_out", "mmio_user_write")
# The guest's clock: the TSC (x86) or the virtual counter (arm64), as kvmini's JSON names it.
CLOCK, UNIT, KHZ_KEY = ("counter", "ticks", "counter_khz") if ARM64 else ("TSC", "cycles", "tsc_khz")
# arm64: scripts/setup's unpacked qemu-system-arm:arm64; the emulated machine sees the host's root at /host.
ARM64_CACHE = Path(os.environ.get("KVMINI_ARM64_CACHE", "/var/cache/kvmini/arm64"))
QEMU_ARM64 = ARM64_CACHE / "qemu" / "usr" / "bin" / "qemu-system-aarch64"
# The keys of a console row record ("exitlat: row=NAME status=ok count=N min=N p50=N p99=N max=N").
ROW_KEYS = ("row", "status", "count", "min", "p50", "p99", "max")


def commands(args, monitor):
    """Each peer's argv. QEMU's is not Guest.qemu_argv's Linux guest: a bare-metal Multiboot image, its
    own command line, the debug-exit port it ends with and a monitor for the stall watchdog's NMI. Port
    0x540 and MMIO 0xe8000000 are unassigned on QEMU's q35: it answers them in userspace, as kvmini does.
    Its default irqchip for q35 is in-kernel, so the pio_kernel row stays inside KVM there too.

    On arm64, QEMU's virt board (GICv3, in-kernel, as kvmini's) boots the arm64 Image, which finds the
    board's PL011 and redistributors in the device tree and ends with PSCI SYSTEM_OFF (exit status 0).
    The exit targets at 0x0e000000 are unassigned there (no secure=on): QEMU serves them in userspace.
    No monitor: arm64 has no NMI to send, and the rounds run under busybox's timeout."""
    n, cpus = str(args.iterations), str(args.cpus)
    if ARM64:
        qemu = [Path("/host") / QEMU_ARM64.relative_to("/"), "-L", "/host/usr/share/qemu", "-M", "virt,gic-version=3",
                "-accel", "kvm", "-cpu", "host", "-smp", cpus, "-m", "256M", "-display", "none", "-nodefaults",
                "-serial", "stdio", "-no-reboot", "-kernel", EXITLAT, "-append", f"iterations={n} cpus={cpus}"]
    else:
        qemu = ["qemu-system-x86_64", "-accel", "kvm", "-cpu", "host", "-M", "q35", "-smp", cpus, "-m", "256",
                "-display", "none", "-nodefaults", "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
                "-no-reboot", "-kernel", EXITLAT, "-append", f"iterations={n} cpus={cpus}",
                "-monitor", f"unix:{monitor},server,nowait"]
    return {
        "kvmini": [env.KVMINI, "bench", "exits", "--json", "--cpus", cpus, "--iterations", n],
        "floor": [FLOOR, "--iterations", n],
        "qemu": qemu,
    }


def unavailable(name):
    """Why NAME's peer cannot run at all, or None."""
    if name == "kvmini":
        if not os.access(env.KVMINI, os.X_OK):
            return f"{env.KVMINI} is not built (make)"
        # An arm64 kvmini runs only inside the arm64 machine.
        if not ARM64 and proc.run([env.KVMINI, "bench", "exits", "--help"], os.devnull, 30) != 0:
            return f"{env.KVMINI} has no 'bench exits' subcommand"
    if name == "floor" and not os.access(FLOOR, os.X_OK):
        return f"{FLOOR} is not built (make {FLOOR})"
    if name == "qemu" and ARM64 and not os.access(QEMU_ARM64, os.X_OK):
        return f"{QEMU_ARM64} is not there (scripts/setup unpacks qemu-system-arm:arm64 there)"
    if name == "qemu" and not ARM64 and not shutil.which("qemu-system-x86_64"):
        return "qemu-system-x86_64 is not installed"
    if name in ("kvmini", "qemu") and not os.access(EXITLAT, os.R_OK):
        return f"{EXITLAT} is not built (make guest)"
    return None


def send_nmi(monitor):
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(monitor))
            s.sendall(b"nmi\n")
            s.recv(4096)
    except OSError:
        pass


def wait_qemu(p, out, monitor, timeout, stall):
    """QEMU's exit status within TIMEOUT seconds. A row stalls when an `sti; hlt` wake-up is lost (seen
    under emulated CPUs): kvmini then sends the guest an NMI, which ends the row as "timeout". QEMU gets
    the same help through its monitor, with the same budget: no new console line for STALL seconds."""
    end, last, idle = time.monotonic() + timeout, -1, 0
    while p.running() and time.monotonic() < end:
        time.sleep(1)
        size = out.stat().st_size if out.exists() else 0
        if size != last:
            last, idle = size, 0
            continue
        idle += 1
        if idle >= stall:
            print(f"bench-exits: qemu: no progress for {stall}s: sending the guest an NMI", file=sys.stderr)
            send_nmi(monitor)
            idle = 0
    return p.wait(max(1, end - time.monotonic()), grace=10)


def finished(name, text, status):
    """Whether a run's output is complete (QEMU's exit status on x86 is the guest's debug-exit value 0,
    shifted and ORed with 1, so 1 is its success; on arm64 PSCI SYSTEM_OFF's 0): its rows, or a string
    saying why not."""
    if name == "kvmini":
        if status != 0:
            return None
        try:
            return [(r["name"], r["status"], r.get(f"min_{UNIT}"), r.get(f"median_{UNIT}"), r.get(f"p99_{UNIT}"))
                    for r in json.loads(text)["rows"]]
        except (ValueError, KeyError, TypeError) as e:
            return f"kvmini's JSON does not parse: {e}"
    tag = name + ":" if name == "floor" else "exitlat:"
    if status != (1 if name == "qemu" and not ARM64 else 0) or not results.records(text, tag, "done"):
        return None
    return [(r["row"], r["status"], r["min"], r["p50"], r["p99"]) for r in results.records(text, tag, "row")
            if all(k in r for k in ROW_KEYS)]


def summary(runs, name):
    """Over the rounds' figures RUNS of row NAME: (median of the per-run medians, min, median p99, good
    runs), or a status word."""
    got = [r for r in runs if r[0] == name]
    ok = [r for r in got if r[1] == "ok" and None not in r[2:]]
    if not ok:
        return got[-1][1] if got else "-"
    return (results.median([r[3] for r in ok]), min(r[2] for r in ok), results.median([r[4] for r in ok]),
            len(ok))


def cell(s, rounds):
    if isinstance(s, str):
        return s
    return results.fmt(float(s[0]), 0) + ("" if s[3] == rounds else f"({s[3]})")


def ratio(a, b):
    return None if isinstance(a, str) or isinstance(b, str) else results.ratio(a[0], b[0])


def report(args, runs, order, meta):
    """The table: per-run medians in, median over rounds out."""
    cpu = meta.get("host_cpu")
    if not cpu:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    label = ("nested KVM: QEMU TCG arm64 at EL2 (emulation: compare ratios only)" if ARM64 else common.where())
    if "nested" in meta:
        label += f"; kvmini reports nested={str(meta['nested']).lower()}"
    tsc_khz = meta.get(KHZ_KEY)
    print(f"host: {cpu}; kernel {meta.get('kernel') or platform.release()}; {label}")
    print(f"{CLOCK} {tsc_khz or 'n/a'} kHz; {args.iterations} iterations; {args.cpus} vCPU(s); rounds: {args.rounds}, "
          "interleaved")
    print(f"{CLOCK} {UNIT} per exit round trip: median over rounds of each run's median; kvmini min is the lowest")
    print("over rounds, p99 the median over rounds; (n) = only n rounds gave a figure")
    rows, over_floor, over_qemu, compared, qemu_userspace = [], {}, [], 0, []
    for name in order:
        k, f, q = (summary(runs[peer], name) for peer in ("kvmini", "floor", "qemu"))
        kf, kq = ratio(k, f), ratio(k, q)
        ns = "-" if isinstance(k, str) or not tsc_khz else results.fmt(k[0] * 1e6 / tsc_khz, 0)
        qcell = cell(q, args.rounds)
        if name in NO_IOEVENTFD_IN_QEMU:
            if not isinstance(q, str):
                qemu_userspace.append(f"{name} {results.fmt(float(q[0]), 0)}")
            qcell, kq = "n/a*", None
        if kf is not None and name in FLOOR_ROWS:
            over_floor[name] = kf
        if kq is not None:
            compared += 1
            if kq > 1.0:
                over_qemu.append(f"{name} {kq:.2f}x")
        rows.append([name, cell(k, args.rounds), ns, "-" if isinstance(k, str) else k[1],
                     "-" if isinstance(k, str) else results.fmt(float(k[2]), 0), cell(f, args.rounds), qcell,
                     "-" if kf is None else results.fmt(kf, 2), "-" if kq is None else results.fmt(kq, 2)])
    results.table(["row", "kvmini", "ns", "min", "p99", "floor", "QEMU", "kvmini/floor", "kvmini/QEMU"], rows)
    if qemu_userspace:
        print("* QEMU has no ioeventfd there: it measured an unassigned address served in userspace:",
              ", ".join(qemu_userspace))
    elif any(n in order for n in NO_IOEVENTFD_IN_QEMU):
        print("* QEMU has no ioeventfd there: kvmini's ioeventfd rows have no QEMU peer")
    for name in FLOOR_ROWS:
        r = over_floor.get(name)
        verdict = "no figure" if r is None else f"{r:.2f}x, {'met' if r <= 1.10 else 'MISSED'}"
        print(f"target {name} <= 1.10x floor: {verdict}")
    if not compared:
        print("target kvmini <= QEMU on every row: no figures")
    else:
        print(f"target kvmini <= QEMU on every row ({compared} compared): "
              + ("met" if not over_qemu else "MISSED on " + ", ".join(over_qemu)))


def arm64_session(schedule, cmds, tmp, timeout):
    """Every run of SCHEDULE ((round, peer) in order) in one session of kvm-env's arm64 machine, each under
    busybox's timeout, its output, errors and exit status left in TMP (on the shared working tree). Returns
    kvm-env's own exit status."""
    lines = ["#!/bin/sh", "# bench-exits: the rounds, inside kvm-env's arm64 machine"]
    for rnd, name in schedule:
        base = tmp / f"{name}.{rnd}"
        argv = " ".join(f"'{a}'" for a in cmds[name])
        lines.append(f"timeout {timeout} {argv} </dev/null >'{base}.out' 2>'{base}.err'; echo $? >'{base}.rc'")
    script = tmp / "rounds.sh"
    script.write_text("\n".join(lines) + "\n")
    session = proc.Proc(["flock", "/tmp/kvmini-emu.lock", "env", "KVM_ENV_ARCH=arm64",
                         env.ROOT / "scripts" / "kvm-env", "sh", script], tmp / "kvm-env.log")
    status = session.wait(timeout * len(schedule) + 300, grace=10)
    if status != 0:
        print(f"bench-exits: kvm-env's arm64 session ended with status {status}; its log:", file=sys.stderr)
        for line in results.read(tmp / "kvm-env.log").rstrip("\n").split("\n")[-10:]:
            print("    " + line, file=sys.stderr)
    return status


def arm64_status(tmp, name, rnd):
    """The exit status a run in the arm64 session left, or proc.TIMED_OUT when it left none."""
    try:
        return int((tmp / f"{name}.{rnd}.rc").read_text().strip())
    except (OSError, ValueError):
        return proc.TIMED_OUT


def main():
    p = common.parser(
        BENCH, "R rounds (default 3), each running once, in rotating order: `kvmini bench exits --json`, the "
        "floor program (build/tests/exit-floor: a raw KVM loop with no exit handling) and QEMU (-accel kvm, "
        "q35) booting build/guest/exitlat.elf; N timed exits per row (default 10000) on N vCPUs (default 1). "
        "Prints one table of TSC cycles: for each peer the per-run median, then the median over rounds.\n\n"
        "A peer that fails is reported (its output kept in build/bench-exits/) and left out; the exit status "
        "is 1 if any run failed.\n\n"
        "With KVM_ENV_ARCH=arm64 (and BUILD=build/arm64, as scripts/bench-exits sets): the arm64 kvmini, floor "
        "and guest (build/arm64/guest/exitlat.img), all rounds in one session of kvm-env's emulated arm64 "
        "machine, in counter ticks (CNTVCT_EL0); the QEMU peer there is scripts/setup's arm64 qemu-system-aarch64 "
        "(-M virt,gic-version=3) from the arm64 cache (KVMINI_ARM64_CACHE) under /host.",
        "BUILD (build), BENCH_TIMEOUT (seconds per run, 600), KVM_ENV_ARCH (arm64: as above), KVMINI_ARM64_CACHE "
        "(/var/cache/kvmini/arm64).")
    p.add_argument("--iterations", metavar="N", type=common.positive, default=10000, help="timed exits per row")
    p.add_argument("--rounds", metavar="R", type=common.positive, default=3, help="rounds of every peer")
    p.add_argument("--cpus", metavar="N", type=common.positive, default=1, help="vCPUs")
    args = common.parse(p)
    timeout = common.setting(BENCH, "BENCH_TIMEOUT", 600)
    # arm64: the runs write their output where the emulated machine sees it too, the working tree.
    tmp = common.start(BENCH, prefix_dir=env.BUILD if ARM64 else None)
    monitor = tmp / "qemu.monitor"
    cmds = commands(args, monitor)
    stall = 10 + args.iterations * 2 // 1000
    failures = common.Failures(BENCH)
    peers = []
    for name in cmds:
        why = unavailable(name)
        if why:
            print(f"bench-exits: {name} left out: {why}", file=sys.stderr)
            failures.runs.append(f"{name} (left out)")
        else:
            peers.append(name)
    print(f"bench-exits: rounds: {args.rounds}, each of: {' '.join(peers) or 'nothing'} (order rotating); "
          f"{args.iterations} iterations, {args.cpus} vCPU(s)", file=sys.stderr)
    runs, order, meta = {name: [] for name in cmds}, [], {}
    schedule = [(rnd, peers[(i + rnd - 1) % len(peers)]) for rnd in range(1, args.rounds + 1)
                for i in range(len(peers))]
    if ARM64 and schedule:
        arm64_session(schedule, cmds, tmp, timeout)
    for rnd, name in schedule:
        out, err = tmp / f"{name}.{rnd}.out", tmp / f"{name}.{rnd}.err"
        if ARM64:
            status = arm64_status(tmp, name, rnd)
        else:
            run = proc.Proc(cmds[name], out, stderr=err)
            status = wait_qemu(run, out, monitor, timeout, stall) if name == "qemu" else run.wait(timeout, grace=10)
        text = results.read(out)
        got = finished(name, text, status)
        if not isinstance(got, list):
            why = got or (f"timed out after {timeout}s" if status == proc.TIMED_OUT else
                          f"exit status {status}, output incomplete")
            failures.keep(name, rnd, why, [out, err], lines=5, unit="round")
            continue
        if name == "kvmini":
            meta = json.loads(text)
        runs[name] += got
        order += [r[0] for r in got if r[0] not in order]
    report(args, runs, order, meta)
    failures.end()


if __name__ == "__main__":
    main()
