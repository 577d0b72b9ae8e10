#!/usr/bin/python3
"""net.py: virtio-net over a tap, kvmini against QEMU's userspace virtio-net (q35, virtio-net-pci, -netdev
tap with vhost=off), same kernel, initramfs, vCPUs, RAM and tap, interleaved. Rows: TCP throughput
host-to-guest (rx) and guest-to-host (tx) with guest/tools/xfer, and the guest's ping round trip to the
host. Host side and tap live in a network namespace of their own."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common  # noqa: E402
from harness import env, proc, results  # noqa: E402
from harness.guest import Guest, Nic  # noqa: E402

BENCH = "net"
TAP = "kbt0"
MAC = "06:00:ac:10:00:02"


def netns(tmp):
    """A network namespace of the benchmark's own with the tap kbt0 (10.0.2.1/24) up: its name."""
    ns = f"kvmini-bench-{os.getpid()}"
    log = tmp / "netns.log"
    for argv in (["ip", "netns", "add", ns], ["ip", "-n", ns, "link", "set", "lo", "up"],
                 ["ip", "-n", ns, "tuntap", "add", TAP, "mode", "tap"],
                 ["ip", "-n", ns, "addr", "add", "10.0.2.1/24", "dev", TAP],
                 ["ip", "-n", ns, "link", "set", TAP, "up"]):
        if proc.run(argv, log, 30, append=True) != 0:
            common.die(BENCH, f"{' '.join(argv)} failed: {results.read(log).strip()}")
    return ns


def one(name, argv, run, tmp, ns, nbytes, timeout, failures):
    """Boot ARGV once in namespace NS: (rx MB/s, tx MB/s, ping ms), or None once the failure is kept and
    said. The host tools write files of their own: lines added to the console log could land inside the
    guest's."""
    files = log, host, hostrx = [tmp / f"{name}.{run}.{s}" for s in ("log", "host", "hostrx")]
    xfer = [env.XFER, "--timeout", timeout]
    ok, status = common.stream_run(argv, files, timeout, [("XFER listening", timeout)],
                                   [xfer + ["send", "tcp:10.0.2.2:5001", nbytes, 1]], xfer + ["recv", "tcp::5002"],
                                   netns=ns)
    text = results.read(log)
    rtt = results.scan(text, r"round-trip min/avg/max = [0-9.]+/([0-9.]+)/")
    rx = results.field(results.read(host), "XFER", "sent", "MBps")
    tx = results.field(results.read(hostrx), "XFER", "recvd", "MBps")
    if not ok or status != 0 or None in (rtt, rx, tx):
        failures.keep(name, run, common.why(status, timeout), [log, host, hostrx])
        return None
    print(f"bench-net: {name} run {run}: rx {rx} MB/s, tx {tx} MB/s, ping {rtt} ms", file=sys.stderr)
    return rx, tx, rtt


def main():
    args = common.parse(common.runs_parser(
        BENCH, __doc__.split(": ", 1)[1] + " Medians and ratios; a failed run's console is kept in "
        "build/bench-net/ (exit status 1).",
        "BENCH_CPUS (2), BENCH_MEM in MiB (512), BENCH_NET_BYTES per transfer (256M), BENCH_TIMEOUT per run "
        "in seconds (300), BENCH_INITRD (build/guest/test-initramfs.cpio.gz), BUILD (build).", 3))
    cpus, mem, initrd = common.guest_settings(BENCH, 2, 512, [env.XFER])
    nbytes = common.setting(BENCH, "BENCH_NET_BYTES", 256 << 20, common.size)
    timeout = common.setting(BENCH, "BENCH_TIMEOUT", 300)

    tmp = common.start(BENCH)
    ns = None
    try:
        ns = netns(tmp)
        # The guest receives BYTES, sends BYTES back, then pings: test-init turns commas into spaces.
        guest = Guest(cpus=cpus, mem=mem, initrd=initrd, nics=[Nic(TAP, MAC)],
                      cmdline="quiet kvmini.test=run kvmini.ip=eth0=10.0.2.2/24 kvmini.run=xfer,recv,tcp::5001&&"
                      f"xfer,send,tcp:10.0.2.1:5002,{nbytes},2&&ping,-c,20,-i,0.2,10.0.2.1")
        peers = {"kvmini": guest.kvmini_argv(), "qemu": guest.qemu_argv()}
        print(f"bench-net: {args.runs} runs each, interleaved; {cpus} vCPU, {mem} MiB, kernel "
              f"{common.kernel_name()}; {nbytes} bytes of TCP each way over tap {TAP}; {common.where()}", flush=True)
        got = {"kvmini": [], "qemu": []}
        failures = common.Failures(BENCH)
        for run, name in common.interleaved(args.runs, "kvmini", "qemu"):
            r = one(name, peers[name], run, tmp, ns, nbytes, timeout, failures)
            got[name] += [r] if r else []
    finally:
        if ns:
            proc.run(["ip", "netns", "del", ns], tmp / "netns.log", 30, append=True)

    table = []
    for label, i, up in (("rx host-to-guest MB/s", 0, True), ("tx guest-to-host MB/s", 1, True),
                         ("ping round trip ms", 2, False)):
        k, q = (results.median([r[i] for r in got[peer]]) for peer in ("kvmini", "qemu"))
        digits = 1 if up else 3
        table.append([label, results.fmt(k, digits), results.fmt(q, digits),
                      results.fmt(results.ratio(k, q) if up else results.ratio(q, k), 2)])
    print()
    results.table([f"median of {args.runs}", "kvmini", "QEMU (virtio-net-pci, vhost=off)", "ratio"], table,
                  markdown=True)
    print("ratio: kvmini's advantage (throughput kvmini/QEMU, latency QEMU/kvmini): 1.00 or more meets the target")
    failures.end()


if __name__ == "__main__":
    main()
