#!/usr/bin/python3
"""sandbox.py: what the device processes cost. virtio-blk (blkbench in the guest, as bench-blk) served
three ways by the same kvmini, interleaved: by its sandboxed device process (the default), by threads
in kvmini (--devices in-process), and by qemu-storage-daemon's vhost-user-blk export behind kvmini's
front end; and the memory kvmini and its device processes keep beside guest RAM, read while the guest
runs its rows."""

import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import blk  # noqa: E402
import common  # noqa: E402
from harness import proc, results  # noqa: E402
from harness.guest import Disk, Guest  # noqa: E402

BENCH = "sandbox"
PEERS = ("processes", "in-process", "qsd")


def tree_rss_kib(pid):
    """Resident memory of process PID and its children (the device processes), guest RAM left out: the
    anonymous and file-backed pages, not the shared memfd (RssShmem) that is guest RAM."""
    total = 0
    try:
        status = results.read(f"/proc/{pid}/status")
        total = sum(int(m) for m in re.findall(r"^Rss(?:Anon|File):\s+([0-9]+)", status, re.M))
        kids = results.read(f"/proc/{pid}/task/{pid}/children").split()
    except OSError:
        return None
    return total + sum(tree_rss_kib(int(k)) or 0 for k in kids)


def one(name, argv, run, tmp, timeout, failures):
    """Boot ARGV once: its BLKBENCH rows and the resident memory seen during the first row."""
    log = tmp / f"{name}.{run}.log"
    vm = proc.Proc(argv, log)
    rss = None
    if proc.wait_line(log, "BLKBENCH (start|row)", timeout, vm):
        time.sleep(1)
        rss = tree_rss_kib(vm.pid)
    status = vm.wait(timeout)
    text = results.read(log)
    if not results.records(text, "BLKBENCH", "done"):
        failures.keep(name, run, common.why(status, timeout), [log])
        return None, None
    rows = results.records(text, "BLKBENCH", "row")
    figures = ", ".join(f"{r['row']} {r.get('MiBps')} MiB/s" for r in rows)
    print(f"bench-sandbox: {name} run {run}: {figures}; {rss} KiB resident beside guest RAM", file=sys.stderr)
    return rows, rss


def main():
    args = common.parse(common.runs_parser(
        BENCH, __doc__.split(": ", 1)[1] + " Medians; ratios against in-process. A failed run's console is kept "
        "in build/bench-sandbox/ (exit status 1).",
        "BENCH_CPUS (2), BENCH_MEM in MiB (512), BENCH_SECONDS per row (5), BENCH_ROWS (seq-read+rand-read+"
        "rand-write), BENCH_BLK_SIZE of the image (256M), BENCH_TIMEOUT per run in seconds, BUILD (build).", 3))
    cpus, mem, initrd = common.guest_settings(BENCH, 2, 512)
    seconds = common.setting(BENCH, "BENCH_SECONDS", 5)
    rows = os.environ.get("BENCH_ROWS") or "seq-read+rand-read+rand-write"
    size = common.setting(BENCH, "BENCH_BLK_SIZE", 256 << 20, common.size)
    row_names = [r for r in re.split(r"[+,]", rows) if r]
    timeout = common.setting(BENCH, "BENCH_TIMEOUT", 240 + len(row_names) * 3 * seconds + 1)

    folder = blk.image_dir()
    tmp = common.start(BENCH, folder)
    img = tmp / "disk.img"
    blk.make_image(img, size)
    sock = tmp / "qsd.sock"
    proc.Proc(["qemu-storage-daemon", "--blockdev", f"driver=file,filename={img},node-name=d0,cache.direct=off",
               "--export", f"type=vhost-user-blk,id=e0,node-name=d0,addr.type=unix,addr.path={sock},writable=on,"
               f"num-queues={min(cpus, 8)}"], tmp / "qsd.log")
    if not proc.wait_until(sock.exists, 30):
        common.die(BENCH, f"qemu-storage-daemon never listened: {results.read(tmp / 'qsd.log').strip()}", 1)
    bench_args = f"--seconds,{seconds},--jobs,1,--rows,{rows},--no-fill"
    cmdline = f"kvmini.test=blkbench kvmini.blkbench={bench_args}"
    peers = {
        "processes": Guest(cpus=cpus, mem=mem, initrd=initrd, disks=[Disk(img)], cmdline=cmdline).kvmini_argv(),
        "in-process": Guest(cpus=cpus, mem=mem, initrd=initrd, disks=[Disk(img)],
                            cmdline=cmdline).kvmini_argv(extra=["--devices", "in-process"]),
        "qsd": Guest(cpus=cpus, mem=mem, initrd=initrd, disks=[Disk(f"vhost-user={sock}")],
                     cmdline=cmdline).kvmini_argv(),
    }
    print(f"bench-sandbox: {args.runs} runs each, rotating; {cpus} vCPU, {mem} MiB, kernel {common.kernel_name()}; "
          f"blkbench {bench_args.replace(',', ' ')} on a {size >> 20} MiB image in {folder}; {common.where()}",
          flush=True)

    got = {p: [] for p in PEERS}
    rss = {p: [] for p in PEERS}
    failures = common.Failures(BENCH)
    for run in range(1, args.runs + 1):
        order = PEERS[run % 3:] + PEERS[:run % 3]  # each peer goes first in turn
        for name in order:
            r, m = one(name, peers[name], run, tmp, timeout, failures)
            got[name] += r or []
            rss[name].append(m)

    def med(name, row):
        return results.median([r.get("MiBps") for r in got[name] if r.get("row") == row])

    table = []
    for row in row_names:
        p, i, q = med("processes", row), med("in-process", row), med("qsd", row)
        table.append([row + " MiB/s", results.fmt(p), results.fmt(i), results.fmt(q),
                      results.fmt(results.ratio(p, i), 2), results.fmt(results.ratio(p, q), 2)])
    mp, mi, mq = (results.median(rss[n]) for n in PEERS)
    table.append(["resident beside guest RAM (KiB)", results.fmt(mp), results.fmt(mi), results.fmt(mq),
                  results.fmt(results.ratio(mp, mi), 2), "-"])
    print()
    results.table([f"median of {args.runs}", "device process", "in-process", "qsd back end", "proc/in-proc",
                   "proc/qsd"], table, markdown=True)
    print("targets: device process within 5 % of in-process (proc/in-proc >= 0.95), kvmini's back end at least "
          "qemu-storage-daemon's (proc/qsd >= 1.00); kvmini with its device processes <= 4096 KiB resident "
          "(qsd's own memory is not counted: it is not kvmini's child)")
    failures.end(" (n/a above where a peer has no figures)")


if __name__ == "__main__":
    main()
