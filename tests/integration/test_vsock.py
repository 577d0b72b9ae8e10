"""virtio-vsock: host programs on the Unix sockets of Firecracker's hybrid vsock, guest programs on
AF_VSOCK."""

import re
import time

from harness import env, proc
from harness.guest import Vsock
from harness.results import field, read

VSOCK_BYTES = 64 << 20


def vsock_boot(t, uds, run):
    """Boot the test guest in the background with a vsock device on Unix socket UDS, running the shell
    command RUN (commas for spaces)."""
    return t.boot_bg(extra=["-v"], cpus=2, vsock=Vsock(3, uds), cmdline=f"quiet kvmini.test=run kvmini.run={run}")


def test_vsock_streams_both_ways(t):
    """Both directions in one boot: echo from 100 concurrent connections each way, 64 MiB each way
    checked against its pattern, and a refusal each way when nobody listens."""
    uds = t.scratch / "v.sock"
    host_rx, host = t.scratch / "host-rx.log", t.scratch / "host.log"
    echo = t.spawn([env.XFER, "--timeout", 200, "echo", f"unix:{uds}_6000"], t.scratch / "echo.log")
    rx = t.spawn([env.XFER, "--timeout", 200, "recv", f"unix:{uds}_6001", "--expect", VSOCK_BYTES, 12], host_rx)
    vm = vsock_boot(t, uds, "xfer,--timeout,200,echo,vsock::5000&xfer,--timeout,200,recv,vsock::5001,--expect,"
                    f"{VSOCK_BYTES},11&xfer,refuse,vsock:2:6999&&xfer,many,vsock:2:6000,100,65536&&"
                    f"xfer,send,vsock:2:6001,{VSOCK_BYTES},12&&wait,$!")
    # The host's lines go to a file of their own: in the console log they could land inside the guest's.
    if t.wait_for("XFER listening vsock::5001") and t.wait_for("XFER echo-ready", 30):
        t.check(proc.run([env.XFER, "--timeout", 120, "many", f"fc:{uds}:5000", 100, 65536], host, 180) == 0,
                "100 host connections did not all get their echo")
        t.check(proc.run([env.XFER, "--timeout", 60, "refuse", f"fc:{uds}:5999"], host, 90, append=True) == 0,
                "a host connection to a port nobody listens on was not refused")
        t.check(proc.run([env.XFER, "--timeout", 200, "send", f"fc:{uds}:5001", VSOCK_BYTES, 11], host, 240,
                         append=True) == 0,
                "the host's 64 MiB did not reach the guest")
    else:
        t.fail("the guest never listened")
    t.wait(vm)
    t.check(rx.wait(240) == 0, f"the guest's 64 MiB did not reach the host intact: {read(host_rx)}")
    echo.stop()
    t.append_log(host)
    t.expect_status(0)
    t.expect_line("XFER refused")
    t.expect_line("XFER many ok=100 failed=0")
    t.expect_line("XFER ok")
    t.expect_line("KVMINI-TEST: run ok")
    t.expect_line("vsock: guest CID 3, host socket .*, in a device process")
    t.expect_line(r"kvmini\[vsock\]: L-3 sandbox: virtio-vsock vsock: locked down")
    t.check(not uds.exists(), f"kvmini left its socket {uds} behind")


def vm_rss_kib(pid):
    """kvmini's resident memory with its launcher's and device processes'."""
    rss = [re.search(r"^VmRSS:\s+([0-9]+)", read(f"/proc/{p}/status"), re.M) for p in proc.tree(pid)]
    return sum(int(m.group(1)) for m in rss if m) if rss[0] else None


def test_vsock_slow_reader_back_pressure(t):
    """A host reader that stops reading stalls the guest's writer: less than the first MiB gets
    through (the guest's, kvmini's and the host socket's buffers hold less), kvmini's memory stays put
    meanwhile, and every byte arrives once the reader goes on."""
    uds = t.scratch / "v.sock"
    out = t.scratch / "stall.log"
    stall = t.spawn([env.XFER, "--timeout", 200, "stall", f"unix:{uds}_7000", 15], out)
    vm = vsock_boot(t, uds, f"xfer,--timeout,200,send,--progress,vsock:2:7000,{32 << 20},5")
    if t.wait_for("KVMINI-TEST: action=run"):
        time.sleep(3)
        rss1 = vm_rss_kib(vm.pid)
        time.sleep(5)
        rss2 = vm_rss_kib(vm.pid)
        progress = t.text().count("XFER progress")
        with open(t.log, "a") as f:
            f.write(f"kvmini VmRSS {rss1} kB then {rss2} kB; sender progress lines meanwhile: {progress}\n")
        t.check(progress == 0, f"the guest writer got {progress} MiB through while the host did not read")
        t.check(rss1 is not None and rss2 is not None and rss2 - rss1 < 4096,
                f"the VmRSS of kvmini and its device process went from '{rss1}' kB to '{rss2}' kB while "
                "the reader stalled")
    else:
        t.fail("the guest never started")
    t.wait(vm)
    t.check(stall.wait(240) == 0, f"the stalled reader failed: {read(out)}")
    t.append_log(out)
    t.expect_status(0)
    t.expect_line("KVMINI-TEST: run ok")
    # The sender's and the reader's records, through the one line format.
    text = t.text()
    sent = (field(text, "XFER", "sent", "bytes"), field(text, "XFER", "sent", "crc"))
    got = (field(read(out), "XFER", "stall", "bytes"), field(read(out), "XFER", "stall", "crc"))
    t.check(sent[0] is not None and sent == got, f"sent {sent} but the reader got {got}")


def test_vsock_bad_options(t):
    k = env.kernel()
    t.kvmini("run", "--kernel", k, "--vsock", "cid=3,uds=/nonexistent-dir/v.sock")
    t.expect_error(2, "/nonexistent-dir")
    t.kvmini("run", "--kernel", k, "--vsock", f"cid=1,uds={t.scratch}/v.sock")
    t.expect_error(2, "cid")

