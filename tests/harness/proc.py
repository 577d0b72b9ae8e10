"""Commands in process groups of their own.

Every command a test or benchmark starts leads a new session (so a new process group): whatever it
starts in turn (kvmini's device processes, QEMU's helpers, `ip netns exec`'s child) is reached by one
killpg. A wait is always bounded; on time out the group gets SIGTERM, then SIGKILL after a grace
period, as timeout(1) -k does. kill_all() ends every group still running: the harness calls it after
each test and when it is itself told to stop (SIGTERM from CI's limit, SIGINT).
"""

import os
import signal
import subprocess
import time

from .results import matching, read

# The status of a command that ran out of time, as timeout(1) reports it.
TIMED_OUT = 124


def status(returncode):
    """A shell's view of an exit status: 128 + N for death by signal N."""
    return 128 - returncode if returncode < 0 else returncode


class Proc:
    live = set()

    def __init__(self, argv, log, *, append=False, stdin=None, netns=None, env=None, stderr=None):
        """Start ARGV with stdout and stderr to the file LOG (truncated unless APPEND). STDIN: None for
        /dev/null, subprocess.PIPE to write to it (Proc.stdin). NETNS: run it in that network namespace.
        STDERR: a file of its own for stderr (truncated unless APPEND), where stdout carries results."""
        argv = [str(a) for a in argv]
        if netns:
            argv = ["ip", "netns", "exec", netns] + argv
        self.argv = argv
        self.log = log
        self.timed_out = False
        self.status = None
        mode = "ab" if append else "wb"
        with open(log, mode) as out, open(stderr or os.devnull, mode) as err:
            self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL if stdin is None else stdin,
                                          stdout=out, stderr=err if stderr else subprocess.STDOUT,
                                          start_new_session=True, env=env)
        self.stdin = self.popen.stdin
        Proc.live.add(self)

    @property
    def pid(self):
        """The command's own PID (`ip netns exec` execs into it, keeping the PID)."""
        return self.popen.pid

    def running(self):
        return self.popen.poll() is None

    def signal(self, sig):
        """Send SIG to the whole process group."""
        try:
            os.killpg(self.popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def wait(self, timeout, grace=15):
        """The exit status (128 + N for signal N), or TIMED_OUT when it ran past TIMEOUT seconds: then
        the group got SIGTERM, and SIGKILL GRACE seconds later. What the command left in its group
        goes with it."""
        if self.stdin is not None and not self.stdin.closed:
            self.stdin.close()
        try:
            rc = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.timed_out = True
            self.signal(signal.SIGTERM)
            try:
                rc = self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                rc = self.popen.wait()
        self.signal(signal.SIGKILL)
        Proc.live.discard(self)
        self.status = TIMED_OUT if self.timed_out else status(rc)
        return self.status

    def stop(self):
        """Kill the group now (SIGKILL) and reap the command."""
        self.signal(signal.SIGKILL)
        self.wait(5)

    @classmethod
    def kill_all(cls):
        for p in list(cls.live):
            p.stop()


def run(argv, log, timeout, **kw):
    """Run ARGV to its end (Proc's arguments), bounded by TIMEOUT seconds: its exit status."""
    return Proc(argv, log, **kw).wait(timeout)


def wait_until(cond, seconds, step=0.2):
    """Poll COND until it is true (True), or SECONDS have passed (False)."""
    end = time.monotonic() + seconds
    while True:
        if cond():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(step)


def wait_line(log, pattern, seconds, proc=None, step=0.2):
    """Until the file LOG has a line matching PATTERN (CRs dropped): True; False after SECONDS, or
    once PROC has ended without writing it (whether it has ended is asked before the look, so what
    it wrote before ending is seen)."""
    end = time.monotonic() + seconds
    while True:
        gone = proc is not None and not proc.running()
        if matching(read(log), pattern):
            return True
        if gone or time.monotonic() >= end:
            return False
        time.sleep(step)


def children(pid):
    """The child processes of PID (none once it is gone)."""
    try:
        return [int(c) for c in read(f"/proc/{pid}/task/{pid}/children").split()]
    except (OSError, ValueError):
        return []


def tree(pid):
    """PID and every process below it (kvmini, its launcher, the device processes), parents first."""
    pids = [pid]
    for p in pids:  # grows as it goes: each one's children join the end
        pids += children(p)
    return pids


def device_processes(pid):
    """kvmini PID's device processes: the children of its launcher, its child named kvmini-launch."""
    launchers = [c for c in children(pid) if read(f"/proc/{c}/comm").strip() == "kvmini-launch"]
    return [d for launcher in launchers for d in children(launcher)]
