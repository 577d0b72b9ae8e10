#!/usr/bin/python3
"""vsock.py: virtio-vsock stream throughput, kvmini's userspace device (host side: Unix sockets,
Firecracker's hybrid protocol) against QEMU's vhost-vsock-pci (the kernel's vhost device; host side:
AF_VSOCK), same kernel, initramfs, vCPUs and RAM, interleaved. Rows: host-to-guest (rx) and
guest-to-host (tx) throughput of one stream, and the connection latency a host client sees (connect, one
byte to the guest's echo and back, close; median of BENCH_VSOCK_CONNS in a row), guest/tools/xfer at both
ends."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common  # noqa: E402
from harness import env, results  # noqa: E402
from harness.guest import Guest, Vsock  # noqa: E402

BENCH = "vsock"
CID = 3


def one(name, argv, run, tmp, ends, conns, nbytes, timeout, failures):
    """Boot ARGV once: (rx MB/s, tx MB/s, connect us), or None once the failure is kept and said. ENDS:
    where the host side connects (the guest's echo on 5000, its receiver on 5001) and listens (for 5002)."""
    files = log, host, hostrx = [tmp / f"{name}.{run}.{s}" for s in ("log", "host", "hostrx")]
    xfer = [env.XFER, "--timeout", timeout]
    to_echo, to_guest, from_guest = ends
    ok, status = common.stream_run(argv, files, timeout, [("XFER listening vsock::5001", timeout),
                                                          ("XFER echo-ready", 30)],
                                   [xfer + ["connect", to_echo, conns], xfer + ["send", to_guest, nbytes, 1]],
                                   xfer + ["recv", from_guest])
    host_text = results.read(host)
    rx = results.field(host_text, "XFER", "sent", "MBps")
    tx = results.field(results.read(hostrx), "XFER", "recvd", "MBps")
    conn = results.field(host_text, "XFER", "connect", "median_us")
    if not ok or status != 0 or None in (rx, tx, conn):
        failures.keep(name, run, common.why(status, timeout), [log, host, hostrx])
        return None
    print(f"bench-vsock: {name} run {run}: rx {rx} MB/s, tx {tx} MB/s, connect {conn} us", file=sys.stderr)
    return rx, tx, conn


def main():
    args = common.parse(common.runs_parser(
        BENCH, __doc__.split(": ", 1)[1] + " Medians and ratios; a failed run's console is kept in "
        "build/bench-vsock/ (exit status 1).",
        "BENCH_CPUS (2), BENCH_MEM in MiB (512), BENCH_VSOCK_BYTES per transfer (256M), BENCH_VSOCK_CONNS "
        "connections timed per run (200), BENCH_TIMEOUT per run in seconds (300), BENCH_INITRD "
        "(build/guest/test-initramfs.cpio.gz), BUILD (build).", 3))
    cpus, mem, initrd = common.guest_settings(BENCH, 2, 512, [env.XFER])
    nbytes = common.setting(BENCH, "BENCH_VSOCK_BYTES", 256 << 20, common.size)
    conns = common.setting(BENCH, "BENCH_VSOCK_CONNS", 200)
    timeout = common.setting(BENCH, "BENCH_TIMEOUT", 300)

    tmp = common.start(BENCH)  # under TMPDIR or /tmp: Unix sockets cannot live on kvm-env's 9p tree
    uds = tmp / "v.sock"
    if not os.access("/dev/vhost-vsock", os.W_OK):
        common.die(BENCH, "no /dev/vhost-vsock for QEMU's peer (is vhost_vsock built for this kernel?)")
    # The guest echoes CONNS connections on port 5000, receives BYTES on port 5001, then sends BYTES to
    # the host's port 5002.
    guest = Guest(cpus=cpus, mem=mem, initrd=initrd, vsock=Vsock(CID, str(uds)),
                  cmdline=f"quiet kvmini.test=run kvmini.run=xfer,echo,vsock::5000,{conns}&xfer,recv,vsock::5001&&"
                  f"xfer,send,vsock:2:5002,{nbytes},2")
    peers = {"kvmini": guest.kvmini_argv(), "qemu": guest.qemu_argv()}
    ends = {"kvmini": (f"fc:{uds}:5000", f"fc:{uds}:5001", f"unix:{uds}_5002"),
            "qemu": (f"vsock:{CID}:5000", f"vsock:{CID}:5001", "vsock::5002")}
    print(f"bench-vsock: {args.runs} runs each, interleaved; {cpus} vCPU, {mem} MiB, kernel {common.kernel_name()}; "
          f"one stream of {nbytes} bytes each way, {conns} connections in a row; {common.where()}", flush=True)
    got = {"kvmini": [], "qemu": []}
    failures = common.Failures(BENCH)
    for run, name in common.interleaved(args.runs, "kvmini", "qemu"):
        r = one(name, peers[name], run, tmp, ends[name], conns, nbytes, timeout, failures)
        got[name] += [r] if r else []

    table = []
    for label, i in (("rx host-to-guest MB/s", 0), ("tx guest-to-host MB/s", 1), ("connect + 1-byte echo, us", 2)):
        k, q = (results.median([r[i] for r in got[peer]]) for peer in ("kvmini", "qemu"))
        table.append([label, results.fmt(k), results.fmt(q), results.fmt(results.ratio(k, q), 2)])
    print()
    results.table([f"median of {args.runs}", "kvmini", "QEMU (vhost-vsock-pci)", "ratio"], table, markdown=True)
    print("ratio = kvmini / QEMU: throughput 0.50 or more, connection latency 2.00 or less is within 2x of")
    print("the in-kernel vhost-vsock (the target); throughput above 1.00 and latency below it beat it")
    failures.end()


if __name__ == "__main__":
    main()
