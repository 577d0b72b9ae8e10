"""virtio-net: the guest and a host side in a network namespace of the test's own, joined by taps."""

import os
import subprocess
import time

from harness import env, proc
from harness.guest import Nic

NET_BYTES = 100 << 20


def ip(netns, *args):
    return subprocess.run(["ip", "-n", netns, *args], capture_output=True).returncode == 0


def tap_up(netns, name, addr):
    """Bring the host's end of tap NAME up in NETNS with ADDR, waiting for kvmini to create it."""
    proc.wait_until(lambda: ip(netns, "link", "show", name), 10, 0.1)
    return ip(netns, "addr", "add", addr, "dev", name) and ip(netns, "link", "set", name, "up")


def tap_add(t, netns, name, addr):
    t.check(ip(netns, "tuntap", "add", name, "mode", "tap") and tap_up(netns, name, addr),
            f"cannot create tap {name}")


def cpu_ticks(pid):
    """User + system clock ticks the process has used, with its descendants' (the launcher, the device
    processes)."""
    total = 0
    for p in proc.tree(pid):
        with open(f"/proc/{p}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


def test_net_ping_and_tcp_both_ways(t, netns):
    """Ping both ways, then 100 MiB of TCP each way, each checked against its pattern on arrival."""
    host_rx, host = t.scratch / "host-rx.log", t.scratch / "host.log"
    tap_add(t, netns, "kt0", "10.0.2.1/24")
    rx = t.spawn([env.XFER, "--timeout", 200, "recv", "tcp::5002", "--expect", NET_BYTES, 9], host_rx,
                 netns=netns)
    vm = t.boot_bg(extra=["-v"], cpus=2, nics=[Nic("kt0", "06:00:ac:10:00:02")], netns=netns,
                   cmdline="quiet kvmini.test=run kvmini.ip=eth0=10.0.2.2/24 "
                           "kvmini.run=cat,/sys/class/net/eth0/address;ping,-c,2,-w,30,10.0.2.1&&"
                           f"xfer,recv,tcp::5001,--expect,{NET_BYTES},7&&xfer,send,tcp:10.0.2.1:5002,{NET_BYTES},9")
    # The host's lines go to files of their own: in the console log they could land inside the guest's.
    if t.wait_for("XFER listening"):
        t.check(proc.run(["ping", "-c", 2, "-w", 30, "10.0.2.2"], host, 60, netns=netns) == 0,
                "the host cannot ping the guest")
        t.check(proc.run([env.XFER, "--timeout", 200, "send", "tcp:10.0.2.2:5001", NET_BYTES, 7], host, 240,
                         append=True, netns=netns) == 0,
                "the host's 100 MiB did not reach the guest")
    else:
        t.fail("the guest never listened")
    t.wait(vm)
    t.check(rx.wait(240) == 0, f"the guest's 100 MiB did not reach the host intact: {host_rx.read_text()}")
    t.append_log(host, host_rx)
    t.expect_status(0)
    t.expect_line("^06:00:ac:10:00:02$")
    t.expect_line("2 packets transmitted, 2 packets received")
    t.expect_line("XFER ok")
    t.expect_line("KVMINI-TEST: run ok")


def test_net_two_nics(t, netns):
    """Two NICs in order, one on a tap the user made, one on a tap kvmini creates; a random MAC is local."""
    tap_add(t, netns, "kt0", "10.0.2.1/24")
    vm = t.boot_bg(extra=["-v"], nics=[Nic("kt0"), Nic("kt1", "06:00:ac:10:01:02")], netns=netns,
                   cmdline="quiet kvmini.test=run kvmini.ip=eth0=10.0.2.2/24,eth1=10.0.3.2/24 "
                           "kvmini.run=cat,/sys/class/net/eth0/address,/sys/class/net/eth1/address;"
                           "ping,-c,1,-w,30,10.0.2.1&&ping,-c,1,-w,30,10.0.3.1")
    t.check(tap_up(netns, "kt1", "10.0.3.1/24"), "kvmini did not create tap kt1")
    t.wait(vm)
    t.expect_status(0)
    t.expect_line(r"kvmini: .*eth1: tap kt1 \(created\)")
    t.expect_line("^[0-9a-f][26ae]:[0-9a-f:]{14}$")
    t.expect_line("^06:00:ac:10:01:02$")
    t.expect_line("KVMINI-TEST: run ok")


def test_net_no_rx_buffers_no_spin(t, netns):
    """With its interface down the guest posts no receive buffers: a flood at the tap must not make
    kvmini spin, and traffic flows again when the guest brings the interface back up."""
    tap_add(t, netns, "kt0", "10.0.2.1/24")
    ip(netns, "neigh", "add", "10.0.2.2", "lladdr", "06:00:ac:10:00:02", "dev", "kt0")
    vm = t.boot_bg(extra=["-v"], nics=[Nic("kt0", "06:00:ac:10:00:02")], netns=netns,
                   cmdline="quiet kvmini.test=run kvmini.ip=eth0=10.0.2.2/24 "
                           "kvmini.run=ping,-c,1,-w,30,10.0.2.1&&ip,link,set,eth0,down&&"
                           "echo,KVMINI-TEST:,rx-off&&sleep,25&&ip,link,set,eth0,up&&ping,-c,1,-w,30,10.0.2.1")
    if t.wait_for("KVMINI-TEST: rx-off"):
        # Fill the guest's buffers, then count kvmini's CPU time while the flood goes on.
        quiet = t.scratch / "flood.log"
        proc.run(["ping", "-f", "-c", 5000, "-w", 4, "10.0.2.2"], quiet, 30, netns=netns)
        flood = t.spawn(["ping", "-f", "-w", 8, "10.0.2.2"], quiet, netns=netns)
        time.sleep(1)
        before = cpu_ticks(vm.pid)
        time.sleep(5)
        used = cpu_ticks(vm.pid) - before
        flood.wait(30)
        with open(t.log, "a") as out:
            out.write(f"kvmini and its device process, CPU during the flood: {used} ticks in 5 s\n")
        t.check(used < os.sysconf("SC_CLK_TCK"),
                f"kvmini and its device process used {used} ticks in 5 s with no receive buffers (spinning?)")
    else:
        t.fail("the guest never took its interface down")
    t.wait(vm)
    t.expect_status(0)
    t.expect_line("KVMINI-TEST: run ok")


def test_net_bad_taps(t, netns):
    k = env.kernel()
    t.run([env.KVMINI, "run", "--kernel", k, "--net", "tap=lo"], netns=netns)
    t.expect_error(2, "lo is not a tap")
    t.kvmini("run", "--kernel", k, "--net", "tap=kt0,mac=01:02:03:04:05:06")
    t.expect_error(2, "multicast")
    t.kvmini("run", "--kernel", k, "--net", "mac=06:00:00:00:00:01")
    t.expect_error(2, "tap=NAME")
