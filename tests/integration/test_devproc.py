"""Device processes: each disk served by a sandboxed `kvmini device blk`, a vhost-user back end, and the
protocol checked against peers nobody here wrote (QEMU as the front end, qemu-storage-daemon as the
back end)."""

import os
import re
import signal
import subprocess

from harness import env, proc
from harness.guest import Disk, Guest
from harness.results import matching, read

HOLD = "quiet kvmini.test=blk-write-hold=7"
# Each way across QEMU's front ends: enough for many rings' worth of buffers, a few seconds emulated.
STREAM_BYTES = 32 << 20


def status_fields(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def test_blk_device_process_is_locked_down(t):
    """The default: the disk's model runs in a device process of its own, in namespaces other than
    kvmini's, with a seccomp filter, no new privileges and no capabilities, started by kvmini's launcher;
    kvmini's main thread has a filter of its own. (Its death: test_restart.py.)"""
    img = t.image("devproc.img", 64 << 20)
    vm = t.boot_bg(disks=[Disk(img)], cmdline=HOLD)
    if not t.wait_for("KVMINI-TEST: flushed"):
        t.fail("the guest never finished its flush")
        return
    kids = proc.device_processes(vm.pid)
    if not t.check(len(kids) == 1, f"kvmini has {len(kids)} device processes, expected one"):
        return
    dev = kids[0]
    launcher = int(status_fields(dev)["PPid"])
    t.check(read(f"/proc/{launcher}/comm").strip() == "kvmini-launch",
            f"the device process's parent {launcher} is not kvmini's launcher")
    t.check(status_fields(launcher).get("PPid") == str(vm.pid), "the launcher is not kvmini's child")
    t.check(status_fields(vm.pid).get("Seccomp") == "2",
            f"kvmini's main thread Seccomp: {status_fields(vm.pid).get('Seccomp')}, expected 2 (filter)")
    st = status_fields(dev)
    t.check(st.get("Seccomp") == "2", f"device process Seccomp: {st.get('Seccomp')}, expected 2 (filter)")
    t.check(st.get("NoNewPrivs") == "1", f"device process NoNewPrivs: {st.get('NoNewPrivs')}")
    t.check(int(st.get("CapEff", "1"), 16) == 0, f"device process CapEff: {st.get('CapEff')}")
    for ns in ("mnt", "pid", "net", "ipc", "uts", "user"):
        mine, its = os.readlink(f"/proc/{vm.pid}/ns/{ns}"), os.readlink(f"/proc/{dev}/ns/{ns}")
        t.check(mine != its, f"the device process shares kvmini's {ns} namespace")
    os.kill(vm.pid, signal.SIGTERM)
    t.wait(vm, 30)
    t.expect_status(128 + signal.SIGTERM)
    t.check(t.pattern("check", img, 7), "the image does not hold the guest's flushed pattern")


def test_blk_in_process_still_serves(t):
    """--devices in-process: the same model on kvmini's own threads, no device process."""
    img = t.image("inproc.img", 64 << 20)
    t.boot(extra=["--devices", "in-process"], cpus=2, disks=[Disk(img)], cmdline="quiet kvmini.test=blk-write=42")
    t.expect_status(0)
    t.expect_line("KVMINI-TEST: flushed")
    t.check(t.pattern("check", img, 42), "the image does not hold the guest's pattern")


def test_qemu_front_end_against_kvmini_blk_back_end(t):
    """QEMU's vhost-user-blk-pci (its front end, guest RAM as a shared memfd) drives `kvmini device
    blk`: the stock kernel writes and flushes a pattern that the host then finds on the image."""
    img = t.image("qemu-fe.img", 64 << 20)
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
    t.check(t.pattern("check", img, 42), "the image does not hold the guest's pattern")


def ip(netns, *args):
    return subprocess.run(["ip", "-n", netns, *args], capture_output=True).returncode == 0


def qemu_with(t, guest, *device):
    """QEMU booting GUEST with its RAM shared (vhost-user back ends map it) and the arguments DEVICE,
    in the background: its Proc, whose log is the test's."""
    argv = [a for a in guest.qemu_argv() if a]
    i = argv.index(f"memory-backend-memfd,id=ram,size={guest.mem}M")
    argv[i] += ",share=on"
    t.log.write_bytes(b"")
    t.vm = t.spawn([*argv, *device], append=True)
    return t.vm


def both_ways(t, vm, listening, target, seed, logs, rx, back, netns=None):
    """Once the guest's console shows LISTENING: STREAM_BYTES of pattern SEED from the host to TARGET
    (checked by the guest, which reports the count and CRC), while the guest's own stream goes to the
    host's receiver RX; then QEMU's end, and the back end BACK's (0 once QEMU hung up). LOGS: the host
    sender's, the receiver's and the back end's, added to the test's log."""
    host, host_rx, back_log = logs
    # The host's lines go to files of their own: in the console log they could land inside the guest's.
    if t.wait_for(listening, p=vm):
        t.check(proc.run([env.XFER, "--timeout", 200, "send", target, STREAM_BYTES, seed], host, 240,
                         netns=netns) == 0, "the host's 32 MiB did not reach the guest")
        host_send_ok(t, host, STREAM_BYTES)
    else:
        t.fail("the guest never listened")
    t.wait(vm)
    t.check(rx.wait(240) == 0, f"the guest's 32 MiB did not reach the host intact: {read(host_rx)}")
    t.check(back.wait(30) == 0, f"the back end exited with {back.status} after QEMU hung up")
    t.append_log(host, host_rx, back_log)
    t.expect_status(0)


def host_send_ok(t, log, n):
    """The host's `xfer send` in LOG sent N bytes and the guest's receiver answered with the same count
    and CRC (the guest checked every byte against the pattern; the CRC says it read what was sent)."""
    text = read(log)

    def line(word):  # as text: records() would read a CRC such as 1e5a0000 as a number
        m = re.search(rf"^XFER {word} bytes=([0-9]+) crc=([0-9a-f]+)", text, re.M)
        return m.groups() if m else None

    sent, peer = line("sent"), line("peer")
    return t.check(sent is not None and sent[0] == str(n) and sent == peer,
                   f"the host sent (bytes, CRC) {sent} but the guest answered {peer}")


def test_qemu_front_end_against_kvmini_net_back_end(t, netns):
    """QEMU's -netdev vhost-user (virtio-net-pci, guest RAM as a shared memfd) drives `kvmini device net`
    on a tap in the test's network namespace: the stock kernel pings the host, then 32 MiB of TCP
    cross each way, each checked against its pattern where it arrives and on the host."""
    sock, back_log = t.scratch / "net.sock", t.scratch / "back.log"
    host_rx, host = t.scratch / "host-rx.log", t.scratch / "host.log"
    mac = "06:00:ac:10:00:02"
    if not t.check(ip(netns, "tuntap", "add", "kt0", "mode", "tap") and
                   ip(netns, "addr", "add", "10.0.2.1/24", "dev", "kt0") and ip(netns, "link", "set", "kt0", "up"),
                   "cannot create tap kt0"):
        return
    back = t.spawn([env.KVMINI, "device", "net", "-v", "--socket", sock, "--tap", "kt0", "--mac", mac], back_log,
                   netns=netns)
    if not t.check(proc.wait_until(sock.exists, 10), "kvmini device net never listened"):
        t.append_log(back_log)
        return
    rx = t.spawn([env.XFER, "--timeout", 200, "recv", "tcp::5002", "--expect", STREAM_BYTES, 9], host_rx,
                 netns=netns)
    g = Guest(cpus=1, mem=256, cmdline="quiet kvmini.test=run kvmini.ip=eth0=10.0.2.2/24 "
              "kvmini.run=cat,/sys/class/net/eth0/address;ping,-c,2,-w,30,10.0.2.1&&"
              f"xfer,--timeout,200,recv,tcp::5001,--expect,{STREAM_BYTES},7&&"
              f"xfer,--timeout,200,send,tcp:10.0.2.1:5002,{STREAM_BYTES},9")
    vm = qemu_with(t, g, "-chardev", f"socket,id=c0,path={sock}", "-netdev", "vhost-user,id=n0,chardev=c0",
                   "-device", f"virtio-net-pci,netdev=n0,disable-legacy=on,mac={mac}")
    both_ways(t, vm, "XFER listening", "tcp:10.0.2.2:5001", 7, (host, host_rx, back_log), rx, back, netns)
    t.expect_line(f"^{mac}$")
    t.expect_line("2 packets transmitted, 2 packets received")
    t.expect_line("KVMINI-TEST: run ok")
    t.expect_line(r"kvmini\[eth0\]: L-3 sandbox: virtio-net eth0: locked down")
    t.check(len(matching(t.text(), "^XFER ok$")) == 2, "the pattern was not verified on both ends")


def test_qemu_front_end_against_kvmini_vsock_back_end(t):
    """QEMU's vhost-user-vsock-pci (the guest's CID comes from the back end's configuration) drives
    `kvmini device vsock`: 32 MiB cross each way between AF_VSOCK in the stock kernel and host programs
    on Firecracker's hybrid vsock sockets, each checked against its pattern where it arrives."""
    sock, uds, back_log = t.scratch / "vhu.sock", t.scratch / "v.sock", t.scratch / "back.log"
    host_rx, host = t.scratch / "host-rx.log", t.scratch / "host.log"
    rx = t.spawn([env.XFER, "--timeout", 200, "recv", f"unix:{uds}_6001", "--expect", STREAM_BYTES, 12], host_rx)
    back = t.spawn([env.KVMINI, "device", "vsock", "-v", "--socket", sock, "--cid", 3, "--uds", uds], back_log)
    if not t.check(proc.wait_until(sock.exists, 10), "kvmini device vsock never listened"):
        t.append_log(back_log)
        return
    g = Guest(cpus=1, mem=256, cmdline="quiet kvmini.test=run "
              f"kvmini.run=xfer,--timeout,200,recv,vsock::5001,--expect,{STREAM_BYTES},11&"
              f"xfer,--timeout,200,send,vsock:2:6001,{STREAM_BYTES},12&&wait,$!")
    vm = qemu_with(t, g, "-chardev", f"socket,id=c0,path={sock}",
                   "-device", "vhost-user-vsock-pci,chardev=c0,disable-legacy=on")
    both_ways(t, vm, "XFER listening vsock::5001", f"fc:{uds}:5001", 11, (host, host_rx, back_log), rx, back)
    t.expect_line("KVMINI-TEST: run ok")
    t.expect_line(r"kvmini\[vsock\]: L-3 sandbox: virtio-vsock vsock: locked down")
    t.check(len(matching(t.text(), "^XFER ok$")) == 2, "the pattern was not verified on both ends")
    t.check(not uds.exists(), f"kvmini device vsock left its socket {uds} behind")


def test_kvmini_front_end_against_qemu_storage_daemon(t):
    """kvmini's front end against qemu-storage-daemon's vhost-user-blk export: same pattern, same check."""
    img = t.image("qsd.img", 64 << 20)
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
    t.check(t.pattern("check", img, 42), "the image does not hold the guest's pattern")


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
    t.kvmini("device", "net", "--tap-fd", "99", "--socket", f"{t.scratch}/s")
    t.expect_error(2, r"--tap-fd 99: Bad file descriptor: not a descriptor this process has")


def test_vsock_in_process_carries_a_stream(t):
    """--devices in-process: the vsock model on kvmini's threads (the other vsock tests run it in its
    device process) carries 8 MiB from the guest to a host listener, checked against its pattern, and its
    socket is gone with the VM."""
    from harness.guest import Vsock
    from harness.results import read

    uds = t.scratch / "v.sock"
    host_rx = t.scratch / "host-rx.log"
    rx = t.spawn([env.XFER, "--timeout", 200, "recv", f"unix:{uds}_6001", "--expect", 8 << 20, 12], host_rx)
    vm = t.boot_bg(extra=["-v", "--devices", "in-process"], cpus=2, vsock=Vsock(3, str(uds)),
                   cmdline=f"quiet kvmini.test=run kvmini.run=xfer,--timeout,200,send,vsock:2:6001,{8 << 20},12")
    t.wait(vm)
    t.check(rx.wait(240) == 0, f"the guest's 8 MiB did not reach the host intact: {read(host_rx)}")
    t.expect_status(0)
    t.expect_no_line("in a device process")
    t.expect_line("KVMINI-TEST: run ok")
    t.check(not uds.exists(), f"the socket {uds} was left behind")
