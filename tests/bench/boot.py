#!/usr/bin/python3
"""boot.py: time to the guest's init, kvmini against QEMU's microvm (-accel kvm), same kernel, initramfs,
vCPUs and RAM, interleaved; plus kvmini's start-up time and resident memory beside guest RAM."""

import os
import select
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common  # noqa: E402
from harness import proc, results  # noqa: E402
from harness.guest import Guest  # noqa: E402

BENCH = "boot"
MARKER = "KVMINI-TEST: init reached"
# A boot that has not reached init by then is stopped (nested emulation boots in 20 to 40 s).
DEADLINE = 300


def rss_kib(pid):
    """The resident memory (anonymous and file-backed, KiB) of process PID, from /proc/PID/status."""
    kib = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile"):
                kib += int(value.split()[0])
    return kib


def pump(fd, log, until):
    """Copy what the read end FD of the console's FIFO brings to LOG until the time UNTIL, the text read
    having MARKER (True) or the writers' end (False); the FIFO is read as the VMM writes, so the moment
    the marker comes is the moment it is written."""
    pending = b""
    while True:
        left = until - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return False
        data = os.read(fd, 65536)
        if not data:
            return False
        log.write(data)
        pending = (pending + data)[-4096:]
        if MARKER.encode() in pending:
            return True


def one(name, argv, run, tmp):
    """Boot ARGV once: (init ms, resident KiB, start-up ms or None), or None once the failure is said.
    The console goes through a FIFO to the run's log (kept in build/bench-boot/ when the run fails)."""
    fifo, logpath = tmp / "fifo", tmp / f"{name}.{run}.log"
    if fifo.exists():
        fifo.unlink()
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader first: the VMM's open then never waits
    try:
        with open(logpath, "wb") as log:
            t0 = time.monotonic()
            p = proc.Proc(argv, fifo)
            reached = pump(fd, log, t0 + DEADLINE)
            t1 = time.monotonic()
            rss = None
            if reached:
                time.sleep(0.5)  # let init settle before reading its VMM's memory
                rss = rss_kib(p.pid)
                p.signal(signal.SIGTERM)
            else:
                p.signal(signal.SIGKILL)
            while pump(fd, log, t0 + DEADLINE + 30):
                pass  # the rest of the console: kvmini's start-up line comes as it exits
            p.wait(max(1, t0 + DEADLINE + 30 - time.monotonic()))
    finally:
        os.close(fd)
    if not reached:
        return None
    init_ms = (t1 - t0) * 1000
    startup = results.scan(results.read(logpath), r"start-up: ([0-9.]+) ms")
    print(f"bench-boot: {name}: init after {init_ms:.1f} ms, {rss} KiB resident", file=sys.stderr)
    return init_ms, rss, startup


def main():
    args = common.parse(common.runs_parser(
        BENCH, "Time to the guest's init (its first line, 'KVMINI-TEST: init reached'), kvmini against "
        "QEMU's microvm (-accel kvm, guest RAM as a memfd in both), same kernel, initramfs, vCPUs and RAM, "
        "interleaved (kvmini first); medians and the ratio kvmini/QEMU, resident memory beside guest RAM, "
        "and kvmini's start-up time to the first KVM_RUN. The first run that fails ends the benchmark "
        "(exit status 1), its console kept in build/bench-boot/.",
        "BENCH_CPUS (1), BENCH_MEM in MiB (256), BUILD (build).", 5))
    cpus = common.setting(BENCH, "BENCH_CPUS", 1)
    mem = common.setting(BENCH, "BENCH_MEM", 256)
    tmp = common.start(BENCH)
    guest = Guest(cpus=cpus, mem=mem, cmdline="kvmini.test=shell")
    # Guest RAM as a memfd in both, so that "resident beside guest RAM" means the same thing.
    peers = {"kvmini": guest.kvmini_argv(extra=["-v"]), "qemu": guest.qemu_argv(machine="microvm")}
    print(f"bench-boot: {args.runs} runs each, interleaved; {cpus} vCPU, {mem} MiB, kernel {common.kernel_name()}; "
          f"{common.where()}", flush=True)
    got = {"kvmini": [], "qemu": []}
    failures = common.Failures(BENCH)
    for run in range(1, args.runs + 1):
        for name in ("kvmini", "qemu"):
            r = one(name, peers[name], run, tmp)
            if r is None:
                failures.keep(name, run, "never reached init", [tmp / f"{name}.{run}.log"])
                failures.end()
            got[name].append(r)

    def med(name, i):
        return results.median([r[i] for r in got[name]])

    rows = []
    for label, i in (("start to init (ms)", 0), ("resident beside guest RAM (KiB)", 1)):
        k, q = med("kvmini", i), med("qemu", i)
        rows.append([label, results.fmt(k), results.fmt(q), results.fmt(results.ratio(k, q), 2)])
    rows.append(["kvmini start-up to 1st KVM_RUN (ms)", results.fmt(med("kvmini", 2))])
    results.table([f"median of {args.runs}", "kvmini", "qemu microvm", "ratio"], rows)
    print("ratio = kvmini / QEMU: below 1.00 is kvmini faster or smaller")


if __name__ == "__main__":
    main()
