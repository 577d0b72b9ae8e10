#!/usr/bin/python3
"""sandbox.py: what the device processes cost, each device served by its sandboxed device process (the
default) against the same model on threads in kvmini (--devices in-process), interleaved, in one run:
virtio-blk (blkbench in the guest, as bench-blk), also against qemu-storage-daemon's vhost-user-blk export
behind kvmini's front end; virtio-net (TCP each way and ping over a tap, as bench-net); virtio-vsock (a
stream each way and connection latency, as bench-vsock); and the memory kvmini keeps beside guest RAM with
a disk, a NIC and vsock, each in a device process of its own or all in kvmini."""

import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import blk  # noqa: E402
import common  # noqa: E402
import net  # noqa: E402
import vsock  # noqa: E402
from harness import env, proc, results  # noqa: E402
from harness.guest import Disk, Guest, Nic, Vsock  # noqa: E402

BENCH = "sandbox"
PEERS = ("processes", "in-process", "qsd")
SECTIONS = ("blk", "net", "vsock", "memory")
IN_PROCESS = ["--devices", "in-process"]


def tree_kib(pid, fields=r"Rss(?:Anon|File)", where="status"):
    """Resident memory of process PID and its descendants (the launcher, the device processes), guest RAM
    left out: the anonymous and file-backed pages, not the shared memfd (its Shmem) that is guest RAM. By
    default each process's RSS (a page shared by two processes, libc's, counts twice); with
    Pss(?:Anon|File) from smaps_rollup, each page once, shared among those that map it."""
    total = 0
    try:
        for p in proc.tree(pid):
            text = results.read(f"/proc/{p}/{where}")
            total += sum(int(m) for m in re.findall(rf"^{fields}:\s+([0-9]+)", text, re.M))
    except OSError:
        return None
    return total


def tree_rss_kib(pid):
    return tree_kib(pid)


def tree_pss_kib(pid):
    return tree_kib(pid, r"Pss_(?:Anon|File)", "smaps_rollup")


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


def blk_section(args, cpus, mem, initrd, tmp):
    """virtio-blk: the three peers' blkbench rows and their resident memory; its table."""
    seconds = common.setting(BENCH, "BENCH_SECONDS", 5)
    rows = os.environ.get("BENCH_ROWS") or "seq-read+rand-read+rand-write"
    size = common.setting(BENCH, "BENCH_BLK_SIZE", 256 << 20, common.size)
    row_names = [r for r in re.split(r"[+,]", rows) if r]
    timeout = common.setting(BENCH, "BENCH_TIMEOUT", 240 + len(row_names) * 3 * seconds + 1)
    folder = blk.image_dir()
    img = Path(folder) / f"kvmini-bench-sandbox-{os.getpid()}.img"
    blk.make_image(img, size)
    sock = tmp / "qsd.sock"
    try:
        proc.Proc(["qemu-storage-daemon", "--blockdev", f"driver=file,filename={img},node-name=d0,cache.direct=off",
                   "--export", f"type=vhost-user-blk,id=e0,node-name=d0,addr.type=unix,addr.path={sock},"
                   f"writable=on,num-queues={min(cpus, 8)}"], tmp / "qsd.log")
        if not proc.wait_until(sock.exists, 30):
            common.die(BENCH, f"qemu-storage-daemon never listened: {results.read(tmp / 'qsd.log').strip()}", 1)
        bench_args = f"--seconds,{seconds},--jobs,1,--rows,{rows},--no-fill"
        cmdline = f"kvmini.test=blkbench kvmini.blkbench={bench_args}"
        guest = Guest(cpus=cpus, mem=mem, initrd=initrd, disks=[Disk(img)], cmdline=cmdline)
        peers = {
            "processes": guest.kvmini_argv(),
            "in-process": guest.kvmini_argv(extra=IN_PROCESS),
            "qsd": Guest(cpus=cpus, mem=mem, initrd=initrd, disks=[Disk(f"vhost-user={sock}")],
                         cmdline=cmdline).kvmini_argv(),
        }
        print(f"bench-sandbox: blk: blkbench {bench_args.replace(',', ' ')} on a {size >> 20} MiB image in {folder}",
              flush=True)
        got = {p: [] for p in PEERS}
        rss = {p: [] for p in PEERS}
        for run in range(1, args.runs + 1):
            order = PEERS[run % 3:] + PEERS[:run % 3]  # each peer goes first in turn
            for name in order:
                r, m = one(name, peers[name], run, tmp, timeout, args.failures)
                got[name] += r or []
                rss[name].append(m)
    finally:
        proc.Proc.kill_all()
        img.unlink(missing_ok=True)

    def med(name, row):
        return results.median([r.get("MiBps") for r in got[name] if r.get("row") == row])

    table = []
    for row in row_names:
        p, i, q = med("processes", row), med("in-process", row), med("qsd", row)
        table.append([row + " MiB/s", results.fmt(p), results.fmt(i), results.fmt(q),
                      results.fmt(results.ratio(p, i), 2), results.fmt(results.ratio(p, q), 2)])
    mp, mi, mq = (results.median(rss[n]) for n in PEERS)
    table.append(["resident beside guest RAM, RSS summed (KiB)", results.fmt(mp), results.fmt(mi), results.fmt(mq),
                  results.fmt(results.ratio(mp, mi), 2), "-"])
    print()
    results.table([f"blk, median of {args.runs}", "device process", "in-process", "qsd back end", "proc/in-proc",
                   "proc/qsd"], table, markdown=True)
    print("targets: device process within 5 % of in-process (proc/in-proc >= 0.95), kvmini's back end at least "
          "qemu-storage-daemon's (proc/qsd >= 1.00); qsd's own memory is not counted (it is not kvmini's child)")


def interleave(args, peers, run_one):
    """Device process against in-process, interleaved, with RUN_ONE(name, argv, run): a tuple of figures
    or None. Returns each peer's tuples."""
    got = {"processes": [], "in-process": []}
    for run, name in common.interleaved(args.runs, "processes", "in-process"):
        r = run_one(name, peers[name], run)
        got[name] += [r] if r else []
    return got


def two_peers(args, label, peers, run_one, rows):
    """interleave(), then the table: ROWS: (label, higher is better) per figure."""
    got = interleave(args, peers, run_one)
    table = []
    for i, (row, up) in enumerate(rows):
        p, q = (results.median([r[i] for r in got[peer]]) for peer in ("processes", "in-process"))
        table.append([row, results.fmt(p), results.fmt(q), results.fmt(results.ratio(p, q) if up else
                                                                         results.ratio(q, p), 2)])
    print()
    results.table([f"{label}, median of {args.runs}", "device process", "in-process", "proc/in-proc"], table,
                  markdown=True)
    print("proc/in-proc: the device process's share of in-process (throughput p/i, latency i/p): the target is "
          "0.95 or more")


def net_section(args, cpus, mem, initrd, tmp, ns):
    nbytes = common.setting(BENCH, "BENCH_NET_BYTES", 64 << 20, common.size)
    timeout = common.setting(BENCH, "BENCH_TIMEOUT", 300)
    guest = Guest(cpus=cpus, mem=mem, initrd=initrd, nics=[Nic(net.TAP, net.MAC)],
                  cmdline="quiet kvmini.test=run kvmini.ip=eth0=10.0.2.2/24 kvmini.run=xfer,recv,tcp::5001&&"
                  f"xfer,send,tcp:10.0.2.1:5002,{nbytes},2&&ping,-c,20,-i,0.2,10.0.2.1")
    peers = {"processes": guest.kvmini_argv(), "in-process": guest.kvmini_argv(extra=IN_PROCESS)}
    print(f"bench-sandbox: net: {nbytes} bytes of TCP each way over tap {net.TAP}, then 20 pings", flush=True)
    two_peers(args, "net", peers,
              lambda name, argv, run: net.one(name, argv, run, tmp, ns, nbytes, timeout, args.failures),
              (("rx host-to-guest MB/s", True), ("tx guest-to-host MB/s", True), ("ping round trip ms", False)))


def vsock_section(args, cpus, mem, initrd, tmp):
    nbytes = common.setting(BENCH, "BENCH_VSOCK_BYTES", 64 << 20, common.size)
    conns = common.setting(BENCH, "BENCH_VSOCK_CONNS", 200)
    timeout = common.setting(BENCH, "BENCH_TIMEOUT", 300)
    uds = tmp / "v.sock"
    cmdline = (f"quiet kvmini.test=run kvmini.run=xfer,echo,vsock::5000,{conns}&xfer,recv,vsock::5001&&"
               f"xfer,send,vsock:2:5002,{nbytes},2")
    peers = {"processes": Guest(cpus=cpus, mem=mem, initrd=initrd, vsock=Vsock(vsock.CID, str(uds)),
                                cmdline=cmdline).kvmini_argv(),
             "in-process": Guest(cpus=cpus, mem=mem, initrd=initrd, vsock=Vsock(vsock.CID, str(uds)),
                                 cmdline=cmdline).kvmini_argv(extra=IN_PROCESS)}
    ends = (f"fc:{uds}:5000", f"fc:{uds}:5001", f"unix:{uds}_5002")
    print(f"bench-sandbox: vsock: one stream of {nbytes} bytes each way, {conns} connections in a row", flush=True)
    two_peers(args, "vsock", peers,
              lambda name, argv, run: vsock.one(name, argv, run, tmp, ends, conns, nbytes, timeout, args.failures),
              (("rx host-to-guest MB/s", True), ("tx guest-to-host MB/s", True), ("connect + 1-byte echo, us", False)))


def memory_section(args, cpus, mem, initrd, tmp, ns):
    """Resident memory beside guest RAM of kvmini with a disk, a NIC and vsock: each in a device process
    or all in kvmini; read once the guest's init runs, with every device probed."""
    img = tmp / "mem.img"
    with open(img, "wb") as f:
        f.truncate(16 << 20)
    uds = tmp / "m.sock"
    cmdline = "quiet kvmini.test=run kvmini.run=sleep,3"
    peers = {"processes": Guest(cpus=cpus, mem=mem, initrd=initrd, disks=[Disk(img)], nics=[Nic(net.TAP)],
                                vsock=Vsock(vsock.CID, str(uds)), cmdline=cmdline).kvmini_argv(),
             "in-process": Guest(cpus=cpus, mem=mem, initrd=initrd, disks=[Disk(img)], nics=[Nic(net.TAP)],
                                 vsock=Vsock(vsock.CID, str(uds)), cmdline=cmdline).kvmini_argv(extra=IN_PROCESS)}

    def run_one(name, argv, run):
        log = tmp / f"memory.{name}.{run}.log"
        vm = proc.Proc(argv, log, netns=ns)
        rss = pss = kids = None
        if proc.wait_line(log, "KVMINI-TEST: action=run", 240, vm):
            time.sleep(1)
            rss, pss = tree_rss_kib(vm.pid), tree_pss_kib(vm.pid)
            kids = len(proc.device_processes(vm.pid))
        status = vm.wait(240)
        if status != 0 or None in (rss, pss):
            args.failures.keep(f"memory-{name}", run, common.why(status, 240), [log])
            return None
        print(f"bench-sandbox: memory {name} run {run}: {pss} KiB beside guest RAM (each page once), {rss} "
              f"KiB (RSS summed), {kids} device processes", file=sys.stderr)
        return pss, rss

    got = interleave(args, peers, run_one)
    table = []
    for i, row in enumerate(("each page once (PSS summed), KiB", "each process's RSS summed, KiB")):
        p, q = (results.median([r[i] for r in got[peer]]) for peer in ("processes", "in-process"))
        table.append([row, results.fmt(p), results.fmt(q), results.fmt(None if None in (p, q) else p - q),
                      results.fmt(results.ratio(p, q), 2)])
    print()
    results.table([f"memory beside guest RAM, median of {args.runs}", "disk+NIC+vsock in device processes",
                   "all in-process", "difference", "proc/in-proc"], table, markdown=True)
    print("target: kvmini with its three device processes <= 4096 KiB resident beside guest RAM, each page counted "
          "once (a page of libc or of kvmini's text is resident once, however many processes map it)")


def main():
    args = common.parse(common.runs_parser(
        BENCH, __doc__.split(": ", 1)[1] + " Medians; ratios against in-process. A failed run's console is kept "
        "in build/bench-sandbox/ (exit status 1).",
        "BENCH_SANDBOX: the sections, of blk+net+vsock+memory (all); BENCH_CPUS (2), BENCH_MEM in MiB (512), "
        "BENCH_TIMEOUT per run in seconds; blk: BENCH_SECONDS per row (5), BENCH_ROWS (seq-read+rand-read+"
        "rand-write), BENCH_BLK_SIZE of the image (256M); net: BENCH_NET_BYTES each way (64M); vsock: "
        "BENCH_VSOCK_BYTES each way (64M), BENCH_VSOCK_CONNS (200); BUILD (build).", 3))
    sections = [w for w in re.split(r"[+,]", os.environ.get("BENCH_SANDBOX") or "+".join(SECTIONS)) if w]
    for w in sections:
        if w not in SECTIONS:
            common.die(BENCH, f"BENCH_SANDBOX={os.environ.get('BENCH_SANDBOX')}: '{w}' is none of "
                       f"{', '.join(SECTIONS)}")
    cpus, mem, initrd = common.guest_settings(BENCH, 2, 512, [env.XFER])
    tmp = common.start(BENCH)  # under TMPDIR or /tmp: Unix sockets cannot live on kvm-env's 9p tree
    print(f"bench-sandbox: {args.runs} runs each, interleaved; {cpus} vCPU, {mem} MiB, kernel {common.kernel_name()}; "
          f"sections {', '.join(sections)}; {common.where()}", flush=True)
    args.failures = common.Failures(BENCH)
    ns = None
    try:
        if "net" in sections or "memory" in sections:
            ns = net.netns(tmp)
        if "blk" in sections:
            blk_section(args, cpus, mem, initrd, tmp)
        if "net" in sections:
            net_section(args, cpus, mem, initrd, tmp, ns)
        if "vsock" in sections:
            vsock_section(args, cpus, mem, initrd, tmp)
        if "memory" in sections:
            memory_section(args, cpus, mem, initrd, tmp, ns)
    finally:
        if ns:
            proc.run(["ip", "netns", "del", ns], tmp / "netns.log", 30, append=True)
    args.failures.end(" (n/a above where a peer has no figures)")


if __name__ == "__main__":
    main()
