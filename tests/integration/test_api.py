"""The API socket against a running VM (in a cgroup of its own, --cgroup): live counters that follow a
known workload (N port writes to an unclaimed port are at least N port exits), inspect by layer matching
what kvmini was given (memory map, vCPUs, event channels, device processes, cgroup), pause that stops
the guest's console output and resume that restarts it, quit with its documented status (10); and the
HTTP handling under a flood of malformed requests while the guest writes to its disk, whose data
arrives intact."""

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time

from harness import env, proc
from harness.guest import Disk

PORT_WRITES = 1000
UNCLAIMED_PORT = 0x2E0  # nothing of kvmini's decodes it: each write exits and is counted unclaimed
PCI_HOLE = (0xC0000000, 1 << 32)
CGROUP = "/kvmini-test/api"  # --cgroup: made by kvmini, removed at its end


class UnixHTTP(http.client.HTTPConnection):
    """HTTP/1.1 over a Unix socket, as curl --unix-socket speaks it."""

    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def call(sock, method, path, body=None):
    """One request: (status, parsed JSON body or None)."""
    c = UnixHTTP(sock)
    try:
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Content-Type": "application/json"} if body is not None else {})
        r = c.getresponse()
        data = r.read()
        return r.status, json.loads(data) if data else None
    finally:
        c.close()


def io_exits(stats):
    return sum(v["exits"].get("io", 0) for v in stats["vcpus"])


def ticks(t):
    return t.text().count("KVMINI-TEST: tick")


def client(t, *args):
    """kvmini's own client (stat, inspect, pause, ...): (status, stdout)."""
    r = subprocess.run([str(env.KVMINI), *args], capture_output=True, text=True, timeout=60)
    with open(t.log, "a") as f:
        f.write(f"$ kvmini {' '.join(args)} -> {r.returncode}\n{r.stdout}{r.stderr}")
    return r.returncode, r.stdout


def wait_api(t, sock, vm):
    """Until the API answers (kvmini opens it before the guest runs): True, or False (failed)."""
    if not proc.wait_until(lambda: os.path.exists(sock) or vm.popen.poll() is not None, 60):
        t.fail("kvmini never made its API socket")
        return False
    t.check(os.stat(sock).st_mode & 0o777 == 0o600, "the API socket is not owner-only (0600)")
    return True


def cgroup_of(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        return [line[3:].strip() for line in f if line.startswith("0::")][0]


def check_cgroup(t, vm, l3):
    """kvmini, its launcher and device processes in --cgroup's cgroup, with its limits."""
    for pid in [vm.pid] + proc.device_processes(vm.pid):
        t.check(cgroup_of(pid) == CGROUP, f"process {pid} is in cgroup {cgroup_of(pid)}, not {CGROUP}")
    with open(f"/sys/fs/cgroup{CGROUP}/cpu.max") as f:
        t.check(f.read().split() == ["80000", "100000"], "cpu.max is not 80000 100000")
    k = l3["kvmini"]
    t.check(k["cgroup"] == CGROUP and k["cpu_max"] == "80000 100000" and k["memory_max"] == str(1 << 30),
            f"inspect L-3: {k}")


def check_inspect(t, sock, vm, mem_mib, cpus):
    status, o = call(sock, "GET", "/inspect")
    if not t.check(status == 200, f"GET /inspect: {status}"):
        return
    l0, l1, l2, l3 = o["L-0"], o["L-1"], o["L-2"], o["L-3"]
    # L-0: the slots hold --mem exactly, and none overlaps the PCI hole
    t.check(sum(s["size"] for s in l0["memory"]) == mem_mib << 20, f"memory map {l0['memory']}")
    for s in l0["memory"]:
        end = s["guest_phys"] + s["size"]
        t.check(end <= PCI_HOLE[0] or s["guest_phys"] >= PCI_HOLE[1], f"slot {s} overlaps the PCI hole")
    t.check(l0["pci_hole"]["start"] == PCI_HOLE[0], f"PCI hole {l0['pci_hole']}")
    t.check(l0["kvm"]["api_version"] == 12, f"KVM {l0['kvm']}")
    # L-1: one entry per vCPU, each a thread of kvmini's, registers read
    t.check(len(l1["vcpus"]) == cpus, f"{len(l1['vcpus'])} vCPUs, expected {cpus}")
    tids = {int(x) for x in os.listdir(f"/proc/{vm.pid}/task")}
    for v in l1["vcpus"]:
        t.check(v["tid"] in tids, f"vCPU {v['id']}: tid {v['tid']} is not kvmini's")
        t.check(v.get("regs") and v["regs"]["rip"] != 0, f"vCPU {v['id']}: no registers: {v.get('regs_error')}")
        t.check(v["sregs"]["cr0"] & 0x80000001 == 0x80000001, f"vCPU {v['id']}: not in paged protected mode")
    # L-2: a notify ioeventfd and an MSI irqfd per queue of the disk (a queue per vCPU)
    kicks = [e for e in l2["ioeventfds"] if e.get("device") == "vda"]
    t.check(sorted(e["queue"] for e in kicks) == list(range(cpus)), f"vda's ioeventfds: {kicks}")
    irqs = [e for e in l2["irqfds"] if e.get("device") == "vda"]
    t.check(len(irqs) >= cpus and all(e["msi_addr"] >> 20 == 0xFEE for e in irqs), f"vda's irqfds: {irqs}")
    t.check(any(e.get("device") == "ttyS0" and e["gsi"] == 4 for e in l2["irqfds"]), "no irqfd for ttyS0")
    queues = [q for q in l2["queues"] if q["device"] == "vda"]
    t.check(len(queues) == cpus and sum(q["kicks"] for q in queues) > 0, f"vda's queues: {queues}")
    # L-3: the disk's device process, as the host sees it
    kids = proc.device_processes(vm.pid)
    dp = l3["device_processes"]
    t.check([p["pid"] for p in dp] == kids, f"device processes {dp}, the host sees {kids}")
    t.check(all(p["seccomp"] == "filter" and p["no_new_privs"] and p["syscalls_allowed"] > 0
                and p["cgroup"] == CGROUP for p in dp), f"device processes as inspect reads them: {dp}")
    for pid in kids:
        with open(f"/proc/{pid}/status") as f:
            t.check("Seccomp:\t2" in f.read(), f"device process {pid} has no seccomp filter")
    check_cgroup(t, vm, l3)
    status, one = call(sock, "GET", "/inspect?layer=L-2")
    t.check(status == 200 and list(one) == ["L-2"], f"GET /inspect?layer=L-2: {status} {list(one or {})}")
    status, bad = call(sock, "GET", "/inspect?layer=L-7")
    t.check(status == 400 and "L-0" in bad["fault_message"], f"GET /inspect?layer=L-7: {status} {bad}")


def test_api_counts_inspects_pauses_and_quits_a_running_vm(t):
    """stat's port exits grow by at least the guest's known number of writes; inspect matches --mem, --cpus
    and the disk; pause stops the console, resume restarts it; quit ends kvmini with 10."""
    sock = str(t.scratch / "api.sock")
    img = t.image("api.img")
    run = (f"echo,KVMINI-TEST:,waiting;read,go;ioport,outb,{UNCLAIMED_PORT:#x},1,{PORT_WRITES};"
           "echo,KVMINI-TEST:,ports,done;while,:;do,echo,KVMINI-TEST:,tick;sleep,0.3;done")
    limits = f"{CGROUP},cpu.max=80000/100000,memory.max=1G"
    vm = t.boot_bg(extra=["--api-sock", sock, "--cgroup", limits], cpus=2, disks=[Disk(img)],
                   cmdline=f"quiet kvmini.test=run kvmini.run={run}", stdin=subprocess.PIPE)
    if not wait_api(t, sock, vm) or not t.wait_for("KVMINI-TEST: waiting"):
        t.fail("the guest never reached its workload")
        return
    status, info = call(sock, "GET", "/")
    t.check(status == 200 and info["state"] == "Running" and info["app_name"] == "kvmini", f"GET /: {info}")
    status, cfg = call(sock, "GET", "/machine-config")
    t.check(cfg == {"vcpu_count": 2, "mem_size_mib": 256}, f"GET /machine-config: {cfg}")
    _, before = call(sock, "GET", "/stats")
    vm.stdin.write(b"go\n")
    vm.stdin.flush()
    if not t.wait_for("KVMINI-TEST: ports done"):
        t.fail("the guest never finished its port writes")
        return
    _, after = call(sock, "GET", "/stats")
    types = [(d["name"], d["type"], d["served_by"]) for d in after["devices"]]
    t.check(types == [("vda", "virtio-blk", "process")], f"devices in /stats: {types}")
    grew = io_exits(after) - io_exits(before)
    t.check(grew >= PORT_WRITES, f"port exits grew by {grew}, the guest made {PORT_WRITES} port writes")
    unclaimed = after["unclaimed"]["pio"] - before["unclaimed"]["pio"]
    t.check(unclaimed >= PORT_WRITES, f"unclaimed port accesses grew by {unclaimed}, expected {PORT_WRITES}")
    rc, out = client(t, "stat", "--api-sock", sock, "--once", "--json", "--interval", "0.5")
    rates = json.loads(out or "{}").get("rates", {})
    t.check(rc == 0 and len(rates.get("vcpus", [])) == 2, "kvmini stat --once --json gave no rates for 2 vCPUs")
    check_inspect(t, sock, vm, 256, 2)
    rc, out = client(t, "inspect", "--api-sock", sock, "--layer", "L-0")
    t.check(rc == 0 and "L-0" in out, "kvmini inspect --layer L-0 printed no L-0 section")
    # pause: no console output while paused; resume: it comes back
    if not proc.wait_until(lambda: ticks(t) >= 2, 60):
        t.fail("the guest's ticks never started")
        return
    rc, _ = client(t, "pause", "--api-sock", sock)
    t.check(rc == 0, "kvmini pause failed")
    _, info = call(sock, "GET", "/")
    t.check(info["state"] == "Paused", f"state {info['state']} after pause")
    time.sleep(0.5)  # what the guest wrote before it stopped reaches the log
    paused = ticks(t)
    time.sleep(3)
    t.check(ticks(t) == paused, f"{ticks(t) - paused} console lines while paused")
    rc, _ = client(t, "resume", "--api-sock", sock)
    t.check(rc == 0, "kvmini resume failed")
    t.check(proc.wait_until(lambda: ticks(t) > paused, 60), "no console output after resume")
    rc, _ = client(t, "quit", "--api-sock", sock)
    t.check(rc == 0, "kvmini quit failed")
    t.wait(vm)
    t.expect_status(10)
    t.check(not os.path.exists(sock), "the API socket is left behind")
    t.check(not os.path.exists("/sys/fs/cgroup/kvmini-test"), "the cgroups kvmini made are left behind")


def flood(sock, stop, counts):
    """Malformed, oversized, slow and unknown requests on many connections until STOP is set."""
    bad = [b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
           b"PATCH /vm HTTP/1.1\r\nContent-Length: 9\r\n\r\n{\"state\":", b"\x00\xff" * 512,
           b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",
           b"PUT /actions HTTP/1.1\r\nContent-Length: 26\r\n\r\n{\"action_type\": \"Reboot\"}",
           b"DELETE /vm HTTP/1.1\r\n\r\n", b"GET /nothing HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\n"]
    i = 0
    while not stop.is_set():
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            s.connect(sock)
            s.sendall(bad[i % len(bad)])
            if i % 7 == 0:
                s.shutdown(socket.SHUT_WR)
            try:
                s.recv(4096)
            except OSError:
                pass
            s.close()
            counts[0] += 1
        except OSError:
            counts[1] += 1
        i += 1


def test_api_flood_of_malformed_requests_leaves_the_guests_disk_write_intact(t):
    """Four clients send garbage, oversized, truncated and unknown requests while the guest writes 4 MiB to
    its disk and flushes: the API keeps answering, the guest's data is on disk, quit still works."""
    sock = str(t.scratch / "api.sock")
    img = t.image("flood.img")
    vm = t.boot_bg(extra=["--api-sock", sock], disks=[Disk(img)], cmdline="quiet kvmini.test=blk-write-hold=5")
    if not wait_api(t, sock, vm):
        return
    stop, counts = threading.Event(), [0, 0]
    threads = [threading.Thread(target=flood, args=(sock, stop, counts)) for _ in range(4)]
    for th in threads:
        th.start()
    flushed = t.wait_for("KVMINI-TEST: flushed")
    stop.set()
    for th in threads:
        th.join()
    with open(t.log, "a") as f:
        f.write(f"flood: {counts[0]} requests sent, {counts[1]} connections failed\n")
    if not flushed:
        t.fail("the guest never finished its write under the flood")
        return
    t.check(counts[0] > 20, f"only {counts[0]} flood requests went out")
    status, info = call(sock, "GET", "/")
    t.check(status == 200 and info["state"] == "Running", f"GET / after the flood: {status}")
    status, _ = call(sock, "PUT", "/actions", {"action_type": "Quit"})
    t.check(status == 204, f"PUT /actions Quit: {status}")
    t.wait(vm)
    t.expect_status(10)
    t.check(t.pattern("check", img, 5), "the image does not hold what the guest wrote")


def test_diagnosis_names_a_disk_queue_whose_device_process_stopped_answering(t):
    """The disk's device process stopped (SIGSTOP) while the guest writes: within seconds kvmini names the
    queue, its indexes and the layer (L-2), once; continued, the writes complete and the data is on disk."""
    img = t.image("stall.img")
    vm = t.boot_bg(disks=[Disk(img)], cmdline="quiet kvmini.test=blk-restart=9")
    if not t.wait_for("KVMINI-TEST: writing"):
        t.fail("the guest never began to write")
        return
    kids = proc.device_processes(vm.pid)
    if not t.check(len(kids) == 1, f"device processes {kids}, expected one"):
        return
    os.kill(kids[0], signal.SIGSTOP)
    said = t.wait_for(r"L-2 paravirtual I/O: vda queue \d+: \d+ requests posted \(avail index \d+, used \d+\) "
                      r"and none completed for 10 s", 60)
    os.kill(kids[0], signal.SIGCONT)
    t.check(said, "kvmini never named the stalled queue")
    t.wait(vm)
    t.expect_status(0)
    t.expect_line("KVMINI-TEST: restart ok")
    t.check(t.text().count("requests posted") == 1, "the finding was said more than once")
    t.check(t.pattern("check", img, 9), "the image does not hold what the guest wrote")
