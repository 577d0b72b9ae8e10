"""The harness's own rules, checked on stand-in tests that boot nothing (pytest's pytester runs them
in a pytest of their own, with the integration conftest): a failure fails the first time; only a
failure whose logs show a known emulator loss, under emulation, runs once more, and a pass then counts
as flaky; every check's failure is reported; a command is killed with its whole process group."""

import os
import signal
import time
from pathlib import Path

import pytest

from harness import proc

pytest_plugins = ["pytester"]
CONFTEST = Path(__file__).resolve().parents[1] / "integration" / "conftest.py"

# What every stand-in file starts with: count(NAME) counts the runs of NAME in RUNS, across processes.
COUNT = '''
import os, time
from pathlib import Path
import pytest

RUNS = Path(os.environ["RUNS"])

def count(name):
    with open(RUNS / name, "a") as f:
        f.write("x")
    return (RUNS / name).stat().st_size
'''

STAND_INS = COUNT + '''
def test_plain_failure(t):
    count("plain")
    t.fail("a regression")
    t.fail("and a second symptom")

def test_loss_then_pass(t):
    if count("loss_then_pass") == 1:
        t.log.write_text("kvmini: error: L-0 hardware: vCPU 0 has not come out of KVM_RUN 2 s after it was kicked\\n")
        t.fail("stalled")

def test_loss_twice(t):
    count("loss_twice")
    t.log.write_text("[  99.1] watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [kvmini:123]\\n")
    t.fail("stalled again")

def test_passes(t):
    count("passes")
    t.check(True, "never shown")

def test_skips(t):
    pytest.skip("no tap here")
'''


@pytest.fixture
def stand_ins(pytester, tmp_path, monkeypatch):
    pytester.makeconftest(f"exec(compile(open({str(CONFTEST)!r}).read(), {str(CONFTEST)!r}, 'exec'))")
    pytester.makepyfile(test_stand_ins=STAND_INS)
    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setenv("RUNS", str(runs))
    monkeypatch.setenv("BUILD", str(tmp_path / "build"))
    monkeypatch.setenv("PYTHONPATH", str(CONFTEST.parents[1]))
    return runs


def runs(d, name):
    p = d / name
    return p.stat().st_size if p.exists() else 0


def test_retry_only_after_an_emulator_loss(pytester, stand_ins, monkeypatch):
    monkeypatch.setenv("KVM_ENV", "qemu")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    out = result.stdout.str()
    assert out.rstrip().split("\n")[-1] == "integration: 1 passed, 2 failed, 1 skipped, 1 flaky", out
    assert runs(stand_ins, "plain") == 1, "a failure without a loss was run again"
    assert runs(stand_ins, "loss_then_pass") == 2
    assert runs(stand_ins, "loss_twice") == 2, "a loss earns one more run, not more"
    assert runs(stand_ins, "passes") == 1
    assert "a regression" in out and "and a second symptom" in out, "not every failed check is reported"
    assert "flaky (passed when run again after an emulator loss): test_loss_then_pass (loss_then_pass.log: " \
           "kvmini: error: L-0 hardware: vCPU 0 has not come out of KVM_RUN" in out, out
    assert "skipped: test_skips: no tap here" in out
    assert (Path(os.environ["BUILD"]) / "tests/integration/loss_then_pass.first.log").exists()


def test_no_retry_where_kvm_is_not_emulated(pytester, stand_ins, monkeypatch):
    monkeypatch.delenv("KVM_ENV", raising=False)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    out = result.stdout.str()
    assert out.rstrip().split("\n")[-1] == "integration: 1 passed, 3 failed, 1 skipped, 0 flaky", out
    assert runs(stand_ins, "loss_then_pass") == 1


def test_wait_kills_the_whole_group(tmp_path):
    """A command that runs out of time goes with everything it started (here a grandchild sleep)."""
    pidfile = tmp_path / "pid"
    p = proc.Proc(["sh", "-c", f"sleep 300 & echo $! >{pidfile}; wait"], tmp_path / "log")
    assert proc.wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 10)
    t0 = time.monotonic()
    assert p.wait(1, grace=2) == proc.TIMED_OUT
    assert time.monotonic() - t0 < 10
    grandchild = int(pidfile.read_text())
    assert proc.wait_until(lambda: not os.path.exists(f"/proc/{grandchild}") or
                           open(f"/proc/{grandchild}/stat").read().split()[2] == "Z", 5)


def test_status_of_a_signalled_command(tmp_path):
    p = proc.Proc(["sleep", "300"], tmp_path / "log")
    p.popen.send_signal(signal.SIGTERM)
    assert p.wait(10) == 143


# tests/integration/machines.py: a wedged machine's tests go on in a fresh one. A stand-in for
# scripts/kvm-env runs the command here and "wedges" (kills it, says so as kvm-env does) when a test
# asks it to; or dies without a wedge.
STAND_IN_KVM_ENV = '''
import os, signal, subprocess, sys, time
from pathlib import Path
runs = Path(os.environ["RUNS"])
child = subprocess.Popen(sys.argv[1:], env=dict(os.environ, KVM_ENV="qemu"), start_new_session=True)
while child.poll() is None:
    for what, line, status in (("wedge", "the emulated machine wedged: no sign of life from it for 180s", 125),
                               ("die", "timed out after 1800s (KVM_ENV_TIMEOUT)", 124)):
        if (runs / what).exists():
            (runs / what).unlink()
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            sys.stderr.write("kvm-env: " + line + "\\n")
            sys.exit(status)
    time.sleep(0.05)
sys.exit(child.returncode)
'''

MACHINE_STAND_INS = COUNT + '''
def stop_machine(how):
    (RUNS / how).touch()
    time.sleep(60)

def test_a_passes(t):
    count("a")

def test_b_wedges_once(t):
    if count("b") == 1:
        stop_machine("wedge")

def test_c_after_the_wedge(t):
    count("c")

def test_d_wedges_twice(t):
    count("d")
    stop_machine("wedge")

def test_e_last(t):
    if count("e") == 1 and os.environ.get("DIE"):
        stop_machine("die")

def test_f_never_reached_after_a_death(t):
    count("f")
'''


def run_machines(pytester, stand_ins, monkeypatch, die=False):
    pytester.makepyfile(test_stand_ins=MACHINE_STAND_INS)
    pytester.makefile(".ini", pytest="[pytest]\nmarkers =\n    host: x\naddopts = -p no:cacheprovider -v\n")
    standin = pytester.path / "kvm_env_stand_in.py"
    standin.write_text(STAND_IN_KVM_ENV)
    monkeypatch.setenv("KVMINI_KVM_ENV", f"/usr/bin/python3 {standin}")
    monkeypatch.setenv("KVMINI_TESTS", str(pytester.path))
    if die:
        monkeypatch.setenv("DIE", "1")
    machines = CONFTEST.parent / "machines.py"
    result = pytester.run("/usr/bin/python3", str(machines), timeout=120)
    return result.ret, result.outlines, "\n".join(result.outlines + result.errlines)


def test_a_wedge_goes_on_in_a_fresh_machine(pytester, stand_ins, monkeypatch):
    ret, lines, out = run_machines(pytester, stand_ins, monkeypatch)
    assert lines[-1] == "integration: 4 passed, 1 failed, 0 skipped, 1 flaky", out
    assert ret == 1
    assert [runs(stand_ins, n) for n in "abcdef"] == [1, 2, 1, 2, 1, 1], "each test runs once, a wedged one twice"
    assert "flaky: test_b_wedges_once: kvm-env: the emulated machine wedged" in out
    assert "failed: test_d_wedges_twice: the emulated machine wedged in it twice" in out
    assert "integration: machine 4 for the 2 tests left" in out


def test_a_machine_that_dies_otherwise_fails_what_is_left(pytester, stand_ins, monkeypatch):
    ret, lines, out = run_machines(pytester, stand_ins, monkeypatch, die=True)
    assert lines[-1] == "integration: 2 passed, 3 failed, 0 skipped, 1 flaky", out
    assert ret == 1
    assert runs(stand_ins, "f") == 0, "a machine that died without a wedge was followed by another"
    assert "failed: test_f_never_reached_after_a_death: not run: the machine ended early (kvm-env or pytest " \
           "exit status 124)" in out
