"""Device processes: each disk served by a sandboxed `kvmini device blk`, a vhost-user back end, and the
protocol checked against peers nobody here wrote (QEMU as the front end, qemu-storage-daemon as the
back end)."""

import os
import signal
import subprocess
import time

from harness import env, proc
from harness.guest import Disk, Guest

PATTERN_BYTES = 4 << 20
HOLD = "quiet kvmini.test=blk-write-hold=7"


def image(t, name, size):
    path = t.scratch / name
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def pattern_ok(t, img, seed):
    with open(t.log, "a") as out:
        return subprocess.run([env.PATTERN, "check", img, str(seed), str(PATTERN_BYTES)], stdout=out,
                              stderr=subprocess.STDOUT).returncode == 0


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def status_fields(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def test_blk_device_process_is_locked_down_and_its_death_is_reported(t):
    """The default: the disk's model runs in a device process of its own, in namespaces other than
    kvmini's, with a seccomp filter, no new privileges and no capabilities. Killed right after the
    guest's flush: kvmini says which device and why, exits 12 at once, and the flushed data is on disk."""
    img = image(t, "devproc.img", 64 << 20)
    vm = t.boot_bg(disks=[Disk(img)], cmdline=HOLD)
    if not t.wait_for("KVMINI-TEST: flushed"):
        t.fail("the guest never finished its flush")
        return
    kids = children(vm.pid)
    if not t.check(len(kids) == 1, f"kvmini has {len(kids)} child processes, expected its one device process"):
        return
    dev = kids[0]
    st = status_fields(dev)
    t.check(st.get("Seccomp") == "2", f"device process Seccomp: {st.get('Seccomp')}, expected 2 (filter)")
    t.check(st.get("NoNewPrivs") == "1", f"device process NoNewPrivs: {st.get('NoNewPrivs')}")
    t.check(int(st.get("CapEff", "1"), 16) == 0, f"device process CapEff: {st.get('CapEff')}")
    for ns in ("mnt", "pid", "net", "ipc", "uts", "user"):
        mine, its = os.readlink(f"/proc/{vm.pid}/ns/{ns}"), os.readlink(f"/proc/{dev}/ns/{ns}")
        t.check(mine != its, f"the device process shares kvmini's {ns} namespace")
    os.kill(dev, signal.SIGKILL)
    t0 = time.monotonic()
    t.wait(vm, 30)
    took = time.monotonic() - t0
    t.expect_status(12)
    t.check(took < 5, f"kvmini took {took:.1f} s to stop after its device process died")
    t.expect_line(r"L-3 sandbox: the device process of virtio-blk vda was killed by signal 9")
    t.check(pattern_ok(t, img, 7), "a flushed write was lost when the device process was killed")


def test_blk_in_process_still_serves(t):
    """--devices in-process: the same model on kvmini's own threads, no device process."""
    img = image(t, "inproc.img", 64 << 20)
    t.boot(extra=["--devices", "in-process"], cpus=2, disks=[Disk(img)], cmdline="quiet kvmini.test=blk-write=42")
    t.expect_status(0)
    t.expect_line("KVMINI-TEST: flushed")
    t.check(pattern_ok(t, img, 42), "the image does not hold the guest's pattern")


def test_qemu_front_end_against_kvmini_blk_back_end(t):
    """QEMU's vhost-user-blk-pci (its front end, guest RAM as a shared memfd) drives `kvmini device
    blk`: the stock kernel writes and flushes a pattern that the host then finds on the image."""
    img = image(t, "qemu-fe.img", 64 << 20)
    sock = t.scratch / "blk.sock"
    back = t.spawn([env.KVMINI, "device", "blk", "-v", "--socket", sock, "--disk", img], t.scratch / "back.log")
    if not t.check(proc.wait_until(sock.exists, 10), "kvmini device blk never listened"):
        return
    g = Guest(cpus=1, mem=256, cmdline="quiet kvmini.test=blk-write=42")
    argv = [a for a in g.qemu_argv() if a]
    i = argv.index("memory-backend-memfd,id=ram,size=256M")
    argv[i] += ",share=on"
    argv += ["-chardev", f"socket,id=blk0,path={sock}", "-device", "vhost-user-blk-pci,chardev=blk0,num-queues=1"]
    t.run(argv)
    back.wait(30)
    t.append_log(t.scratch / "back.log")
    t.expect_status(0)
    t.expect_line("KVMINI-TEST: flushed")
    t.expect_line(r"kvmini\[vda\]: L-3 sandbox: virtio-blk vda: locked down")
    t.check(back.status == 0, f"kvmini device blk exited with {back.status}")
    t.check(pattern_ok(t, img, 42), "the image does not hold the guest's pattern")


def test_kvmini_front_end_against_qemu_storage_daemon(t):
    """kvmini's front end against qemu-storage-daemon's vhost-user-blk export: same pattern, same check."""
    img = image(t, "qsd.img", 64 << 20)
    sock = t.scratch / "qsd.sock"
    t.spawn(["qemu-storage-daemon", "--blockdev", f"driver=file,filename={img},node-name=disk0",
             "--export", f"type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path={sock},writable=on"],
            t.scratch / "qsd.log")
    if not t.check(proc.wait_until(sock.exists, 20), "qemu-storage-daemon never listened"):
        t.append_log(t.scratch / "qsd.log")
        return
    t.boot(extra=["-v"], cpus=2, disks=[Disk(f"vhost-user={sock}")], cmdline="quiet kvmini.test=blk-write=42")
    t.expect_status(0)
    t.expect_line("KVMINI-TEST: flushed")
    t.expect_line("vda: PCI slot [0-9]+, served vhost-user")
    t.check(pattern_ok(t, img, 42), "the image does not hold the guest's pattern")


def test_blk_bad_vhost_user_options(t):
    k = env.kernel()
    t.kvmini("run", "--kernel", k, "--disk", f"vhost-user={t.scratch}/nobody.sock")
    t.expect_error(2, r"vda: cannot reach the vhost-user back end at .*nobody.sock: No such file or directory: "
                      "start the back end first")
    t.kvmini("run", "--kernel", k, "--disk", "vhost-user=/tmp/x.sock,ro")
    t.expect_error(2, "vhost-user=SOCKET takes no options")
    t.kvmini("run", "--kernel", k, "--devices", "threads")
    t.expect_error(2, "--devices 'threads': expected 'processes'")
    t.kvmini("device", "blk", "--disk", "/nonexistent.img", "--socket", f"{t.scratch}/s")
    t.expect_error(2, r"kvmini\[vda\]: error: disk /nonexistent.img: No such file")
    t.kvmini("device", "gpu")
    t.expect_error(2, "the device processes are 'blk', 'net' and 'vsock'")


def test_vsock_device_process_carries_a_stream(t):
    """--vsock ...,process: the vsock model in its sandboxed device process carries 8 MiB from the guest
    to a host listener, checked against its pattern, and its socket is gone with the VM."""
    from harness.guest import Vsock
    from harness.results import read

    uds = t.scratch / "v.sock"
    host_rx = t.scratch / "host-rx.log"
    rx = t.spawn([env.XFER, "--timeout", 200, "recv", f"unix:{uds}_6001", "--expect", 8 << 20, 12], host_rx)
    vm = t.boot_bg(extra=["-v"], cpus=2, vsock=Vsock(3, f"{uds},process"),
                   cmdline=f"quiet kvmini.test=run kvmini.run=xfer,--timeout,200,send,vsock:2:6001,{8 << 20},12")
    t.wait(vm)
    t.check(rx.wait(240) == 0, f"the guest's 8 MiB did not reach the host intact: {read(host_rx)}")
    t.expect_status(0)
    t.expect_line("vsock: guest CID 3, host socket .*, in a device process")
    t.expect_line(r"kvmini\[vsock\]: L-3 sandbox: virtio-vsock vsock: locked down")
    t.expect_line("KVMINI-TEST: run ok")
    t.check(not uds.exists(), f"the socket {uds} was left behind")
