"""common.py: what the benchmarks (tests/bench/*.py) share: arguments and settings, the machine's label,
a temporary folder, failed runs kept, interleaving, and stopping with every process they started."""

import argparse
import atexit
import os
import shutil
import signal
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import env, proc, results  # noqa: E402

KERNEL_HELP = ("The guest kernel is the one scripts/kvm-env boots (KVM_ENV_KERNEL, else the newest "
               "/boot/vmlinuz-* with its modules).")
WRAPPER_HELP = ("Run it as scripts/bench-NAME, which builds (make) and runs it through scripts/bench-env "
                "(scripts/kvm-env): where /dev/kvm cannot run a stock guest, inside an emulated machine, "
                "whose figures are nested emulation, not hardware.")


def positive(text):
    """argparse's type for a whole number above 0."""
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"want a number above 0, not '{text}'")
    return int(text)


def parser(name, description, environment):
    """An argument parser for bench NAME whose help names its ENVIRONMENT variables, the kernel and
    the wrapper."""
    p = argparse.ArgumentParser(
        prog=f"scripts/bench-{name}", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="\n\n".join(textwrap.fill(d, 100, break_on_hyphens=False) for d in description.split("\n\n")),
        epilog="\n\n".join(textwrap.fill(e, 100, break_on_hyphens=False) for e in
                             (f"Environment: {environment}", KERNEL_HELP, WRAPPER_HELP.replace("NAME", name))))
    # The wrapper's check before it builds and boots: the arguments alone, then out.
    p.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    return p


def runs_parser(name, description, environment, default):
    """parser() with the one optional argument the boot, blk, net and vsock benchmarks take: RUNS."""
    p = parser(name, description, environment)
    p.add_argument("runs", metavar="RUNS", nargs="?", type=positive, default=default,
                   help=f"boots of each VMM, interleaved (default {default})")
    return p


def parse(p):
    """P's arguments; with --check (the wrapper's, before it builds and boots), exit once they parse."""
    args = p.parse_args()
    if args.check:
        sys.exit(0)
    return args


def setting(bench, var, default, check=positive):
    """Environment variable VAR through CHECK (default: a number above 0), DEFAULT when unset; a bad one
    ends the benchmark with status 2 and one line saying so."""
    text = os.environ.get(var)
    if text is None or text == "":
        return default
    try:
        return check(text)
    except (argparse.ArgumentTypeError, ValueError) as e:
        die(bench, f"{var}: {e}")


def size(text):
    """Bytes in TEXT: a number, with K, M, G or T (powers of 1024, as numfmt --from=iec and truncate
    read them; KiB ... TiB too)."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = text.strip()
    t = t[:-2] if t.endswith("iB") else t
    unit = t[-1:].upper() if t[-1:].isalpha() else ""
    num = t[:-1] if unit else t
    if unit not in units or not num.isdigit():
        raise ValueError(f"want a size (N, NK, NM, NG), not '{text}'")
    return int(num) * units[unit]


def guest_settings(bench, cpus, mem, tools=()):
    """BENCH_CPUS (default CPUS), BENCH_MEM in MiB (default MEM) and BENCH_INITRD (default the test
    initramfs), which must be readable, as the guest TOOLS must be executable: (cpus, mem, initrd)."""
    initrd = os.environ.get("BENCH_INITRD") or str(env.INITRD)
    missing = [str(t) for t in tools if not os.access(t, os.X_OK)] + ([] if os.access(initrd, os.R_OK) else [initrd])
    if missing:
        die(bench, f"no {' or '.join(missing)}: run make first (guest/build)")
    return setting(bench, "BENCH_CPUS", cpus), setting(bench, "BENCH_MEM", mem), initrd


def die(bench, why, status=2):
    print(f"bench-{bench}: {why}", file=sys.stderr)
    sys.exit(status)


def where():
    """What these figures are: the line's label."""
    return "nested KVM under QEMU TCG (emulation: compare ratios only)" if env.emulated() else "hardware KVM"


def kernel_name():
    return os.path.basename(env.kernel())


def fstype(path):
    """The file system type of the mount holding PATH (as stat -f -c %T names tmpfs), from mountinfo."""
    best, kind = "", "?"
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mnt = fields[4].encode().decode("unicode_escape")
            rest = fields[fields.index("-") + 1:]
            inside = real == mnt or real.startswith(mnt.rstrip("/") + "/")
            if inside and len(mnt) >= len(best):
                best, kind = mnt, rest[0]
    return kind


def interleaved(runs, first, second):
    """(run, peer) for RUNS runs of both peers, taking turns at going first, so that neither always meets
    the other's leftovers (page cache, caches)."""
    for i in range(1, runs + 1):
        for peer in ((first, second) if i % 2 else (second, first)):
            yield i, peer


def _stop(signum, frame):
    proc.Proc.kill_all()
    sys.exit(128 + signum)  # SystemExit: the benchmark's finally blocks clean up


def start(bench, prefix_dir=None):
    """Set the benchmark up: SIGTERM and SIGINT end every process group it started, then it; returns a
    temporary folder (in PREFIX_DIR, default TMPDIR or /tmp), removed when the program ends."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop)
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{bench}.", dir=prefix_dir))
    atexit.register(shutil.rmtree, tmp, True)
    atexit.register(proc.Proc.kill_all)
    return tmp


class Failures:
    """The runs that failed: each one's log kept as build/bench-BENCH/failed-NAME-RUN.log, its last lines
    shown on stderr."""

    def __init__(self, bench):
        self.bench = bench
        self.runs = []

    def keep(self, name, run, why, logs, lines=15, unit="run"):
        """Run RUN of peer NAME failed (WHY): keep LOGS, one after the other, and show their last LINES."""
        sys.stdout.flush()  # what came before, before it
        text = "".join(results.read(log) for log in logs)
        folder = env.BUILD / f"bench-{self.bench}"
        folder.mkdir(parents=True, exist_ok=True)
        kept = folder / f"failed-{name}-{run}.log"
        kept.write_text(text)
        print(f"bench-{self.bench}: {name} {unit} {run} FAILED ({why}); console in {os.path.relpath(kept)}, "
              "the last of it:", file=sys.stderr)
        for line in text.rstrip("\n").split("\n")[-lines:]:
            print("    " + line, file=sys.stderr)
        self.runs.append(f"{name} {unit} {run}")

    def end(self, note=""):
        """Exit status 1, with a line naming the failed runs, if any failed."""
        if self.runs:
            sys.stdout.flush()
            print(f"bench-{self.bench}: failed: {', '.join(self.runs)}{note}", file=sys.stderr)
            sys.exit(1)


def why(status, timeout):
    """A failed command's exit STATUS in words."""
    return f"no end after {timeout} s (BENCH_TIMEOUT): killed" if status == proc.TIMED_OUT else f"exit status {status}"


def stream_run(vm_argv, files, timeout, ready, sends, recv, netns=None):
    """One run of a stream benchmark: the host's receiver RECV (argv) started first, then the VMM
    (VM_ARGV); once each (PATTERN, SECONDS) of READY is on its console, the host's SENDS (argvs) one after
    the other. FILES: the console log, the senders' output and the receiver's, files of their own (lines
    added to the console log could land inside the guest's). All of it within TIMEOUT seconds from the
    start, in network namespace NETNS where given. Returns (whether the host tools all succeeded, the
    VMM's exit status)."""
    log, host, hostrx = files
    end = time.monotonic() + timeout

    def left():
        return max(1, end - time.monotonic())

    host.write_bytes(b"")
    rx = proc.Proc(recv, hostrx, netns=netns)
    vm = proc.Proc(vm_argv, log, netns=netns)
    ok = all(proc.wait_line(log, pattern, min(seconds, left()), vm) for pattern, seconds in ready)
    for argv in sends:
        ok = ok and proc.run(argv, host, left(), append=True, netns=netns) == 0
    status = vm.wait(left())
    ok = rx.wait(left()) == 0 and ok
    return ok, status
