"""A device process that dies is started again: kvmini says which device and why, a new device process
takes up the rings after the guest's last completed request (what the dead one had in hand is served
again: for a disk, exactly the requests its inflight region notes, handed over by kvmini), and the guest's
I/O goes on. One that dies again and again stops the VM (exit 12), and what the
guest flushed is on disk."""

import os
import signal
import subprocess
import time

from harness import proc
from harness.guest import Disk, Nic


def device_process(t, vm):
    """kvmini's one device process (waiting a little for a new one to appear): its pid or None."""
    for _ in range(50):
        kids = proc.device_processes(vm.pid)
        if len(kids) == 1:
            return kids[0]
        time.sleep(0.1)
    t.fail(f"kvmini has {len(kids)} device processes, expected one")
    return None


def restarts(t):
    return len([line for line in t.text().split("\n") if "serves it again" in line])


def kill_device_process(t, vm, restarted=True):
    """SIGKILL kvmini's device process; with RESTARTED, wait until kvmini says another serves the device.
    The killed pid, or None (failed)."""
    pid, before = device_process(t, vm), restarts(t)
    if pid is None:
        return None
    os.kill(pid, signal.SIGKILL)
    if restarted and not proc.wait_until(lambda: restarts(t) > before, 20):
        t.fail("kvmini did not start the device process again")
        return None
    return pid


def test_blk_device_process_killed_mid_write_is_started_again(t):
    """SIGKILL while the guest writes: a new, as locked-down device process serves the disk, the writes the
    first had in hand are done again (kvmini hands it the first one's inflight region), and the guest reads
    back what it wrote."""
    img = t.image("restart.img")
    vm = t.boot_bg(extra=["-v"], disks=[Disk(img)], cmdline="quiet kvmini.test=blk-restart=11")
    if not t.wait_for("KVMINI-TEST: writing"):
        t.fail("the guest never began to write")
        return
    first = kill_device_process(t, vm)
    if first is None:
        return
    second = device_process(t, vm)
    t.check(second not in (None, first), "no new device process")
    if second:
        with open(f"/proc/{second}/status") as f:
            t.check("Seccomp:\t2" in f.read(), "the new device process has no seccomp filter")
    t.wait(vm)
    t.expect_status(0)
    t.expect_line(r"L-3 sandbox: the device process of virtio-blk vda was killed by signal 9 \(Killed\): "
                  "starting it again")
    t.expect_line("KVMINI-TEST: restart ok")
    t.expect_line("handed the inflight region over to the new back end")
    t.check(restarts(t) == 1, f"{restarts(t)} restarts, expected 1")
    t.check(t.pattern("check", img, 11), "the image does not hold what the guest wrote")


def test_blk_device_process_that_keeps_dying_stops_the_vm(t):
    """Killed a fourth time within a minute: not started again; kvmini stops (exit 12) within a few seconds,
    naming the device, and the data the guest flushed is on disk."""
    img = t.image("restart.img")
    vm = t.boot_bg(disks=[Disk(img)], cmdline="quiet kvmini.test=blk-write-hold=7")
    if not t.wait_for("KVMINI-TEST: flushed"):
        t.fail("the guest never finished its flush")
        return
    for _ in range(3):
        if kill_device_process(t, vm) is None:
            return
    if kill_device_process(t, vm, restarted=False) is None:
        return
    t0 = time.monotonic()
    t.wait(vm, 30)
    took = time.monotonic() - t0
    t.expect_status(12)
    t.check(took < 5, f"kvmini took {took:.1f} s to stop after its device process died for good")
    t.expect_line(r"virtio-blk vda was killed by signal 9 \(Killed\): not started again, having been started "
                  r"again 3 times within a minute")
    t.check(t.pattern("check", img, 7), "a flushed write was lost when the device process was killed")



def test_net_device_process_killed_is_started_again(t, netns):
    """The NIC's device process killed between two pings: a new one gets the same tap from kvmini, and the
    guest's next ping is answered."""
    subprocess.run(["ip", "-n", netns, "tuntap", "add", "kt0", "mode", "tap"], check=True)
    subprocess.run(["ip", "-n", netns, "addr", "add", "10.0.2.1/24", "dev", "kt0"], check=True)
    subprocess.run(["ip", "-n", netns, "link", "set", "kt0", "up"], check=True)
    vm = t.boot_bg(nics=[Nic("kt0")], netns=netns,
                   cmdline="quiet kvmini.test=run kvmini.ip=eth0=10.0.2.2/24 "
                           "kvmini.run=ping,-c,1,-w,30,10.0.2.1&&echo,KVMINI-TEST:,pinged&&sleep,8&&"
                           "ping,-c,2,-w,30,10.0.2.1")
    if not t.wait_for("KVMINI-TEST: pinged"):
        t.fail("the guest's first ping was not answered")
        return
    kill_device_process(t, vm)
    t.wait(vm)
    t.expect_status(0)
    t.expect_line(r"L-3 sandbox: the device process of virtio-net eth0 was killed by signal 9 \(Killed\): "
                  "starting it again")
    t.expect_line("2 packets transmitted, 2 packets received")
    t.expect_line("KVMINI-TEST: run ok")
