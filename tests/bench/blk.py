#!/usr/bin/python3
"""blk.py: virtio-blk throughput and latency, kvmini against QEMU's userspace virtio-blk (q35,
virtio-blk-pci, aio=threads, no vhost), same kernel, initramfs, vCPUs, RAM and disk image, interleaved.
The guest runs blkbench (guest/tools/blkbench.c) on /dev/vda: O_DIRECT, queue depth 1 per job."""

import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common  # noqa: E402
from harness import proc, results  # noqa: E402
from harness.guest import Disk, Guest  # noqa: E402

BENCH = "blk"
ROWS = "seq-read+seq-write+rand-read+rand-write"


def image_dir():
    """BENCH_BLK_DIR, else /dev/shm or /tmp, whichever is a writable tmpfs: on the 9p-shared working tree
    (kvm-env) the figures would measure 9p. Both VMMs do buffered I/O on it (the guest's O_DIRECT reaches
    only the virtual disk)."""
    if os.environ.get("BENCH_BLK_DIR"):
        return os.environ["BENCH_BLK_DIR"]
    for d in ("/dev/shm", "/tmp"):
        if os.access(d, os.W_OK) and common.fstype(d) == "tmpfs":
            return d
    return "/tmp"


def make_image(img, size):
    """An image of SIZE rounded down to MiB, every byte written ('Z'), so that neither peer's guest reads
    holes (which the host would serve without touching any data)."""
    mib = size >> 20
    if mib < 16:
        common.die(BENCH, f"BENCH_BLK_SIZE={os.environ.get('BENCH_BLK_SIZE')}: want at least 16M")
    chunk = b"Z" * (1 << 20)
    with open(img, "wb") as f:
        for _ in range(mib):
            f.write(chunk)


def one(name, argv, run, tmp, timeout, failures):
    """Boot ARGV once: its BLKBENCH row records, or None once the failure is kept and said."""
    log = tmp / f"{name}.{run}.log"
    status = proc.Proc(argv, log).wait(timeout)
    text = results.read(log)
    rows = results.records(text, "BLKBENCH", "row")
    if not results.records(text, "BLKBENCH", "done"):
        failures.keep(name, run, common.why(status, timeout), [log])
        return None
    if status != 0:
        print(f"bench-blk: {name} run {run}: exit status {status} after its figures", file=sys.stderr)
    print(f"bench-blk: {name} run {run}: " + ", ".join(f"{r['row']} {r.get('MiBps')} MiB/s" for r in rows),
          file=sys.stderr)
    return rows


def main():
    args = common.parse(common.runs_parser(
        BENCH, __doc__.split(": ", 1)[1] + " Sequential 1 MiB and random 4 KiB reads and writes; medians of "
        "MiB/s, IOPS, p50/p99 latency and the ratio kvmini/QEMU. A failed run's console is kept in "
        "build/bench-blk/ (exit status 1).",
        "BENCH_CPUS (2), BENCH_MEM in MiB (512), BENCH_SECONDS per row (5), BENCH_JOBS (1), BENCH_ROWS "
        f"(all: {ROWS}), BENCH_BLK_SIZE of the image (1G), BENCH_BLK_DIR for the image (default: /dev/shm "
        "or /tmp, whichever is tmpfs), BENCH_TIMEOUT per run in seconds (240 + 3 x rows x seconds + 1), "
        "BENCH_INITRD (build/guest/test-initramfs.cpio.gz), BUILD (build).", 3))
    cpus, mem, initrd = common.guest_settings(BENCH, 2, 512)
    seconds = common.setting(BENCH, "BENCH_SECONDS", 5)
    jobs = common.setting(BENCH, "BENCH_JOBS", 1)
    rows = os.environ.get("BENCH_ROWS") or ROWS
    size_text = os.environ.get("BENCH_BLK_SIZE") or "1G"
    size = common.setting(BENCH, "BENCH_BLK_SIZE", 1 << 30, common.size)
    row_names = [r for r in re.split(r"[+,]", rows) if r]
    # A boot under nested emulation takes ~15 s and every row runs at least its seconds: leave room for both.
    timeout = common.setting(BENCH, "BENCH_TIMEOUT", 240 + len(row_names) * 3 * seconds + 1)

    folder = image_dir()
    tmp = common.start(BENCH, folder)
    img = tmp / "disk.img"
    make_image(img, size)
    # Guest arguments: test-init turns the commas into spaces; row lists therefore use '+'.
    bench_args = f"--seconds,{seconds},--jobs,{jobs},--rows,{rows},--no-fill"
    guest = Guest(cpus=cpus, mem=mem, initrd=initrd, disks=[Disk(img)],
                  cmdline=f"kvmini.test=blkbench kvmini.blkbench={bench_args}")
    peers = {"kvmini": guest.kvmini_argv(), "qemu": guest.qemu_argv()}
    print(f"bench-blk: {args.runs} runs each, interleaved; {cpus} vCPU, {mem} MiB, kernel {common.kernel_name()}; "
          f"blkbench {bench_args.replace(',', ' ')} on a {size_text} raw image in {folder} ({common.fstype(folder)}); "
          f"{common.where()}", flush=True)

    got = {"kvmini": [], "qemu": []}
    failures = common.Failures(BENCH)
    for run, name in common.interleaved(args.runs, "kvmini", "qemu"):
        got[name] += one(name, peers[name], run, tmp, timeout, failures) or []

    def med(name, row, key):
        return results.median([r.get(key) for r in got[name] if r.get("row") == row])

    def lat(name, row):
        p50, p99 = med(name, row, "lat_us_p50"), med(name, row, "lat_us_p99")
        return "n/a" if p50 is None else f"{results.fmt(p50)}/{results.fmt(p99)}"

    table = []
    for row in row_names:
        km, qm = med("kvmini", row, "MiBps"), med("qemu", row, "MiBps")
        table.append([row, results.fmt(km), results.fmt(qm), results.fmt(med("kvmini", row, "iops")),
                      results.fmt(med("qemu", row, "iops")), lat("kvmini", row), lat("qemu", row),
                      results.fmt(results.ratio(km, qm), 2)])
    print()
    results.table([f"median of {args.runs}", "kvmini MiB/s", "QEMU MiB/s", "kvmini IOPS", "QEMU IOPS",
                   "kvmini p50/p99 us", "QEMU p50/p99 us", "ratio"], table, markdown=True)
    print("ratio = kvmini / QEMU throughput: 1.00 or more is kvmini as fast or faster (the target)")
    failures.end(" (n/a above where a peer has no figures)")


if __name__ == "__main__":
    main()
