"""Booting Debian's kernel with the test initramfs: vCPUs, RAM, exit statuses, the console, signals,
the sanitizer build, and every kind of bad input refused with one line."""

import re
import subprocess
import time

from harness import env
from harness.guest import Guest

POWEROFF = "quiet kvmini.test=poweroff"


def test_boot_1cpu_poweroff(t):
    t.boot(cpus=1, mem=256, cmdline=POWEROFF)
    t.expect_status(0)
    t.expect_booted(1)
    t.expect_mem(256)
    t.expect_line(r"kvmini: guest boot marker after [0-9]+\.[0-9]+ ms")


def test_boot_2cpus_512m(t):
    t.boot(cpus=2, mem=512, cmdline=POWEROFF)
    t.expect_status(0)
    t.expect_booted(2)
    t.expect_mem(512)


def test_boot_4cpus_1g(t):
    t.boot(cpus=4, mem=1024, cmdline=POWEROFF)
    t.expect_status(0)
    t.expect_booted(4)
    t.expect_mem(1024)


def test_ram_above_pci_hole(t):
    t.boot(cpus=1, mem=3584, cmdline=POWEROFF)
    t.expect_status(0)
    t.expect_booted(1)
    t.expect_mem(3584)


def test_reboot_status_4(t):
    t.boot(cmdline="quiet kvmini.test=reboot")
    t.expect_status(4)
    t.expect_booted(1)


def test_debug_exit_status(t):
    t.boot(cmdline="quiet kvmini.test=exit=5")
    t.expect_status(11)
    t.expect_booted(1)
    t.boot(cmdline="quiet kvmini.test=exit=0")
    t.expect_status(1)


def test_panic_status_6(t):
    t.boot(cmdline="quiet kvmini.test=panic")
    t.expect_status(6)
    t.expect_booted(1)
    t.expect_line("kvmini: guest kernel panicked")


def test_triple_fault_status_8(t):
    img = t.scratch / "crash.img"
    subprocess.run([env.ROOT / "tests/integration/make-crash-image", img], check=True)
    t.kvmini("run", "--kernel", img)
    t.expect_status(8)
    t.expect_line("triple-faulted")


def test_console_input_from_pipe(t):
    vm = t.spawn(Guest(cmdline="quiet kvmini.test=echo").kvmini_argv(), stdin=subprocess.PIPE)
    vm.stdin.write(b"hello kvmini\nquit\n")
    t.wait(vm)
    t.expect_status(0)
    t.expect_line("KVMINI-ECHO: hello kvmini")


def test_console_output_to_pipe(t):
    # kvmini's standard output is a pipe (to cat), not a file: its status is the pipeline's first.
    argv = Guest(cmdline=POWEROFF).kvmini_argv()
    t.run(["bash", "-c", '"$@" </dev/null 2>&1 | cat; exit "${PIPESTATUS[0]}"', "bash", *argv])
    t.expect_status(0)
    t.expect_booted(1)
    t.expect_line("reboot: Power down")


def test_ctrl_a_x_quits_and_restores_terminal(t):
    """On a terminal (script(1)'s): Ctrl-A x quits with status 10 and the terminal settings come back."""
    before, after = t.scratch / "stty.before", t.scratch / "stty.after"
    argv = " ".join(f"'{a}'" for a in Guest(cmdline="quiet kvmini.test=shell").kvmini_argv())
    inner = f"stty -g >{before}; {argv}; echo kvmini-status=$?; stty -g >{after}"
    term = t.spawn(["script", "-qfec", inner, "/dev/null"], stdin=subprocess.PIPE)
    # Keys go in once the guest is up: they must reach kvmini's console, not the shell before it.
    if t.wait_for("KVMINI-TEST: init reached", p=term):
        term.stdin.write(b"\001x")
        term.stdin.flush()
        time.sleep(2)
    t.wait(term)
    t.expect_line("kvmini-status=10")
    t.check(before.exists() and after.exists() and before.read_bytes() == after.read_bytes(),
            "terminal settings not restored")


def test_sigterm_stops_cleanly(t):
    vm = t.boot_bg(cpus=2, cmdline="quiet kvmini.test=shell")
    t.check(t.wait_for("KVMINI-TEST: init reached"), "the guest never reached init")
    vm.popen.terminate()
    t.wait(vm)
    t.expect_status(143)


def test_sanitizers_clean_boot(t):
    t.boot(binary=env.KVMINI_SAN, cpus=2, cmdline=POWEROFF)
    t.expect_status(0)
    t.expect_booted(2)
    t.expect_sanitizers_clean()


def test_bad_inputs(t):
    k = env.kernel()
    t.kvmini("run", "--kernel", "/nonexistent/vmlinuz")
    t.expect_error(2, "kernel /nonexistent/vmlinuz: No such file")
    truncated = t.scratch / "truncated"
    with open(k, "rb") as f:
        truncated.write_bytes(f.read(200000))
    t.kvmini("run", "--kernel", truncated)
    t.expect_error(2, "is truncated")
    t.kvmini("run", "--kernel", env.INITRD)
    t.expect_error(2, "is gzip data, not a bzImage")
    t.kvmini("run", "--kernel", env.KVMINI)
    t.expect_error(2, "is an ELF file")
    t.kvmini("run", "--kernel", t.scratch)
    t.expect_error(2, f"kernel {re.escape(str(t.scratch))}: Is a directory")
    t.kvmini("run", "--kernel", k, "--mem", "32M")
    t.expect_error(2, "needs [0-9]+ MiB of guest RAM to decompress.*--mem")
    huge = t.scratch / "huge.initrd"
    with open(huge, "wb") as f:
        f.truncate(300 << 20)
    t.kvmini("run", "--kernel", k, "--initrd", huge, "--mem", "128M")
    t.expect_error(2, "does not fit in guest RAM.*--mem")
    t.kvmini("run", "--kernel", k, "--initrd", "/nonexistent.cpio")
    t.expect_error(2, "initrd /nonexistent.cpio: No such file")
    t.kvmini("run", "--kernel", k, "--cmdline", "x" * 5000)
    t.expect_error(2, "command line is [0-9]+ bytes.*accepts at most")


def test_bad_command_lines(t):
    k = env.kernel()
    t.kvmini("run", "--kernel", k, "--mem", "8M")
    t.expect_error(2, "too small")
    t.kvmini("run", "--kernel", k, "--mem", "64T")
    t.expect_error(2, "more than this host")
    t.kvmini("run", "--kernel", k, "--mem", "lots")
    t.expect_error(2, "--mem 'lots'")
    t.kvmini("run", "--kernel", k, "--cpus", "0")
    t.expect_error(2, "--cpus '0'")
    t.kvmini("run", "--kernel", k, "--cpus", "300")
    t.expect_error(2, "--cpus '300'")
    t.kvmini("run", "--kernel", k, "--frobnicate")
    t.expect_error(2, "unknown option '--frobnicate'")
    t.kvmini("run")
    t.expect_error(2, "no kernel given")
    t.kvmini("launch")
    t.expect_error(2, "unknown command 'launch'")
    t.kvmini("--version")
    t.expect_status(0)
    t.expect_line("^kvmini [0-9]")
    t.kvmini("run", "--help")
    t.expect_status(0)
    t.expect_line("Exit status")


def test_missing_kvm_device_names_the_layer(t):
    t.kvmini("run", "--kernel", env.kernel(), "--kvm-device", "/nonexistent/kvm")
    t.expect_error(2, "L-0 (hardware|KVM)")
    t.kvmini("run", "--kernel", env.kernel(), "--kvm-device", "/dev/null")
    t.expect_error(2, "not a usable KVM device")
