"""The KVM phase of the integration tests through scripts/kvm-env, in as many machines as it takes.

Under QEMU's software CPU the emulated machine itself now and then wedges (README, "scripts/kvm-env"):
kvm-env then stops it and says so (`kvm-env: the emulated machine wedged: ...`, status 125). Rather
than lose every test after that point, this starts a fresh machine for the tests that had not run.
The test that was running when the machine wedged runs once more there: a pass counts as flaky, with
the wedge named, as conftest.py counts any retry after a known emulator loss; a second wedge in the
same test fails it. Anything else that ends a machine early (its time limit, kvm-env's own failure, a
crash of pytest) fails the tests that had not run, the first time.

The tests report their progress through KVMINI_PROGRESS (conftest.py). The last line printed is the
summary CI reads: "integration: N passed, N failed, N skipped, N flaky".

Usage: machines.py [-k EXPR]    (tests/integration/run runs it)
KVMINI_KVM_ENV: the command that runs one machine (default scripts/kvm-env), KVMINI_TESTS: the tests'
directory, with its pytest.ini (default tests/integration); the harness's own tests put stand-ins
there.
"""

import os
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import env  # noqa: E402

WEDGED = "kvm-env: the emulated machine wedged"
# At most this many machines for one run: a wedge per machine, each in a different test.
MACHINES = 4
TESTS = Path(os.environ.get("KVMINI_TESTS", env.ROOT / "tests" / "integration")).resolve()
PYTEST = ["/usr/bin/python3", "-m", "pytest", "-c", str(TESTS / "pytest.ini"), "-m", "not host"]


def collect(args):
    """The node ids (relative to TESTS) of the tests ARGS select, in their order."""
    out = subprocess.run(PYTEST + ["--collect-only", "-qq", *args, str(TESTS)], cwd=TESTS,
                         capture_output=True, text=True)
    ids = [line for line in out.stdout.split("\n") if "::" in line and not line.startswith(" ")]
    if out.returncode not in (0, 5) or (out.returncode == 0 and not ids):
        sys.stderr.write(out.stdout + out.stderr)
        sys.exit(f"integration: cannot collect the tests (pytest exit status {out.returncode})")
    return ids


def read_progress(path):
    """(started, {nodeid: outcome}) from the progress file: what started, what ended and how."""
    started, ended = [], {}
    for line in path.read_text().split("\n") if path.exists() else []:
        word, _, rest = line.partition(" ")
        if word == "start":
            started.append(rest)
        elif word == "end":
            nodeid, _, how = rest.rpartition(" ")
            ended[nodeid] = how
    return started, ended


def one_machine(ids, progress):
    """Run IDS in one machine, its output passed on as it comes: (status, the wedge line or None)."""
    cmd = os.environ.get("KVMINI_KVM_ENV", str(env.ROOT / "scripts" / "kvm-env")).split()
    child = subprocess.Popen(cmd + PYTEST + [f"{TESTS}/{i}" for i in ids], cwd=env.ROOT, stderr=subprocess.PIPE,
                             text=True,
                             env=dict(os.environ, KVMINI_PROGRESS=str(progress)), errors="replace")
    wedge = []

    def errors():
        for line in child.stderr:
            sys.stderr.write(line)
            sys.stderr.flush()
            if line.startswith(WEDGED) and not wedge:
                wedge.append(line.strip())

    reader = threading.Thread(target=errors)
    reader.start()
    status = child.wait()
    reader.join()
    return status, (wedge[0] if wedge else None)


def main(argv):
    ids = collect(argv)
    if not ids:
        print("integration: no test selected")
        return 5
    env.LOGS.mkdir(parents=True, exist_ok=True)
    progress = env.LOGS / "progress"
    outcomes = {}   # nodeid -> passed, failed, skipped, flaky
    why = {}        # nodeid -> why it failed or was flaky, where this file decided it
    wedged_in = {}  # nodeid -> the wedge line of the machine it was running in
    status = 0
    for machine in range(1, MACHINES + 1):
        todo = [i for i in ids if i not in outcomes]
        if not todo:
            break
        progress.write_text("")
        if machine > 1:
            print(f"\nintegration: machine {machine} for the {len(todo)} tests left", flush=True)
        status, wedge = one_machine(todo, progress)
        started, ended = read_progress(progress)
        for nodeid, how in ended.items():
            if nodeid in wedged_in and how == "passed":
                how = "flaky"
                why[nodeid] = wedged_in[nodeid]
            outcomes[nodeid] = how
        running = started[-1] if started and started[-1] not in ended else None
        if not wedge:
            break
        if running is None:
            continue
        if running in wedged_in:
            outcomes[running] = "failed"
            why[running] = f"the emulated machine wedged in it twice ({wedge})"
        else:
            wedged_in[running] = wedge
            print(f"\nintegration: {running.split('::')[-1]} was running when {wedge.removeprefix('kvm-env: ')}; "
                  "it runs once more in a fresh machine", flush=True)
    left = [i for i in ids if i not in outcomes]
    for nodeid in left:
        outcomes[nodeid] = "failed"
        why[nodeid] = f"not run: the machine ended early (kvm-env or pytest exit status {status})"
    counts = {k: sum(1 for v in outcomes.values() if v == k) for k in ("passed", "failed", "skipped", "flaky")}
    for nodeid, text in why.items():
        print(f"{outcomes[nodeid]}: {nodeid.split('::')[-1]}: {text}")
    print(f"integration: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped, "
          f"{counts['flaky']} flaky")
    if counts["failed"]:
        return 1
    return 0 if status in (0, 5) or not left else status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
