"""kvmini bench exits and its guest (guest/exitlat): every row present and positive, orderings that
cannot be faked, the table, bad options, and the very same image booting under QEMU."""

import json

from harness import env, proc

NAMES = ["loop", "cpuid", "vmcall", "rdmsr", "wrmsr", "pio_kernel", "pio_user_in", "pio_user_out",
         "pio_ioeventfd", "mmio_user_read", "mmio_user_write", "mmio_ioeventfd", "mmio_wildcard",
         "hlt_timer", "ipi"]


def test_bench_exits_json_rows(t):
    out = t.scratch / "exits.json"
    # The JSON alone on stdout, messages in the test's log.
    t.rc = proc.run(["sh", "-c", '"$@" 2>>"$0"', t.log, env.KVMINI, "bench", "exits", "--cpus", 2,
                     "--iterations", 300, "--json"], out, env.TIMEOUT)
    t.expect_status(0)
    try:
        d = json.loads(out.read_text())
    except ValueError as e:
        t.fail(f"the JSON does not parse: {e}")
        return
    rows = {r["name"]: r for r in d["rows"]}
    if not t.check(sorted(rows) == sorted(NAMES), f"rows: {sorted(rows)}"):
        return
    t.check(d["tsc_khz"] > 0 and d["cpus"] == 2 and d["iterations"] == 300, f"header: {d}")
    for n in NAMES:
        r = rows[n]
        if r["status"] != "ok":
            t.check(n in ("hlt_timer", "ipi") and r["status"] == "timeout", f"{n}: {r['status']}")
            continue
        t.check(r["count"] == 300, f"{n} count {r['count']}")
        t.check(0 < r["min_cycles"] <= r["median_cycles"] <= r["p99_cycles"] <= r["max_cycles"], f"{n}: {r}")
        t.check(r["median_ns"] > 0, f"{n}: median_ns {r['median_ns']}")
    loop = rows["loop"]["median_cycles"]
    for n in ["cpuid", "pio_kernel", "pio_user_out", "mmio_user_write", "pio_ioeventfd"]:
        t.check(rows[n]["median_cycles"] > loop,
                f"{n} ({rows[n]['median_cycles']}) not above the no-exit loop ({loop})")
    # A trip to userspace costs more than KVM answering in the kernel.
    t.check(rows["pio_user_out"]["median_cycles"] > rows["pio_kernel"]["median_cycles"],
            "userspace PIO not above in-kernel PIO")


def test_bench_exits_table(t):
    t.kvmini("bench", "exits", "--cpus", "1", "--iterations", "100")
    t.expect_status(0)
    t.expect_line("^kvmini bench exits: .*TSC [0-9]+ kHz; 1 vCPUs; 100 iterations")
    t.expect_line("^pio_user_out +ok +[0-9]+")
    t.expect_line("^ipi +unsupported")


def test_bench_exits_bad_options(t):
    t.kvmini("bench", "exits", "--iterations", "0")
    t.expect_error(2, "--iterations '0' is out of range")
    t.kvmini("bench", "exits", "--guest", "/nonexistent.elf")
    t.expect_error(2, "exit-latency guest /nonexistent.elf: No such file")
    t.kvmini("bench", "frobnicate")
    t.expect_status(2)
    t.expect_line("the one benchmark is 'exits'")


def test_qemu_boots_exitlat_image(t):
    """The very same image boots under QEMU: it is a genuine Multiboot image, not a kvmini special."""
    t.run(["qemu-system-x86_64", "-accel", "kvm", "-cpu", "host", "-M", "q35", "-smp", "2", "-m", "256",
           "-display", "none", "-nodefaults", "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
           "-no-reboot", "-kernel", env.EXITLAT, "-append", "iterations=50 cpus=2"])
    t.expect_status(1)
    t.expect_line("exitlat: row=pio_user_out status=ok count=50")
    t.expect_line("exitlat: done")
