"""virtio-blk: writes flushed and verified on the host (also across SIGKILL), an ext4 root, read-only
disks, discard, two disks in order, and bad disks refused."""

import os
import re
import subprocess

from harness import env
from harness.guest import Disk

PATTERN_BYTES = 4 << 20


def test_blk_write_flush_verified_on_host(t):
    """The sanitizer build serves the writes: every request goes through ASan/UBSan."""
    img = t.image("blk-write.img", 64 << 20)
    t.boot(binary=env.KVMINI_SAN, cpus=2, disks=[Disk(img)], cmdline="quiet kvmini.test=blk-write=42")
    t.expect_status(0)
    t.expect_line("KVMINI-TEST: flushed")
    t.expect_sanitizers_clean()
    t.check(t.pattern("check", img, 42, PATTERN_BYTES), "the image does not hold the guest's pattern")


def test_blk_flushed_write_survives_sigkill(t):
    img = t.image("blk-kill.img", 64 << 20)
    vm = t.boot_bg(disks=[Disk(img)], cmdline="quiet kvmini.test=blk-write-hold=7")
    t.check(t.wait_for("KVMINI-TEST: flushed"), "the guest never finished its flush")
    vm.popen.kill()
    t.wait(vm)
    t.expect_status(137)
    t.check(t.pattern("check", img, 7, PATTERN_BYTES), "a flushed write was lost to SIGKILL")


ROOT_INIT = """#!/bin/busybox sh
b=/bin/busybox
$b mount -t proc proc /proc
$b grep -q '^/dev/vda / ext4 rw' /proc/mounts && echo "KVMINI-TEST: root is ext4 rw"
echo "written by the guest" >/hello && $b sync && echo "KVMINI-TEST: root file written"
$b mount -o remount,ro / && echo "KVMINI-TEST: root clean"
$b poweroff -f
"""


def test_blk_ext4_root_rw(t):
    """An ext4 root file system: the initramfs mounts /dev/vda rw and hands over to the disk's init."""
    root = t.scratch / "rootfs"
    for d in ("bin", "sbin", "proc", "dev"):
        (root / d).mkdir(parents=True)
    busybox = subprocess.run(["sh", "-c", "command -v busybox"], capture_output=True, text=True).stdout.strip()
    (root / "bin/busybox").write_bytes(open(busybox, "rb").read())
    (root / "bin/busybox").chmod(0o755)
    (root / "sbin/init").write_text(ROOT_INIT)
    (root / "sbin/init").chmod(0o755)
    img = t.image("root.ext4", 64 << 20)
    t.run(["mkfs.ext4", "-q", "-F", "-d", root, img])
    t.check(t.rc == 0, "mkfs.ext4 -d failed")
    t.boot(disks=[Disk(img)], cmdline="quiet root=/dev/vda rw")
    t.expect_status(0)
    t.expect_line("KVMINI-TEST: root=/dev/vda rw")
    t.expect_line("KVMINI-TEST: root is ext4 rw")
    t.expect_line("KVMINI-TEST: root file written")
    t.expect_line("KVMINI-TEST: root clean")
    hello = subprocess.run(["debugfs", "-R", "cat /hello", img], capture_output=True, text=True).stdout
    t.check(hello.strip() == "written by the guest", "/hello is not on the image")
    with open(t.log, "a") as out:
        fsck = subprocess.run(["e2fsck", "-fn", img], stdout=out, stderr=subprocess.STDOUT).returncode
    t.check(fsck == 0, "e2fsck finds the file system damaged")


def test_blk_ro_refuses_writes(t):
    img = t.image("blk-ro.img", 64 << 20)
    t.pattern("write", img, 9, PATTERN_BYTES)
    t.boot(disks=[Disk(img, ro=True)], cmdline="quiet kvmini.test=blk-ro")
    t.expect_status(0)
    t.expect_line("KVMINI-TEST: ro refused")
    t.check(t.pattern("check", img, 9, PATTERN_BYTES), "the read-only image changed")


def test_blk_discard_frees_blocks(t):
    img = t.image("blk-discard.img", 32 << 20)
    t.pattern("write", img, 3, 32 << 20)
    before = os.stat(img).st_blocks
    t.boot(disks=[Disk(img)], cmdline="quiet kvmini.test=blk-discard")
    t.expect_status(0)
    t.expect_line("KVMINI-TEST: discarded")
    st = os.stat(img)
    t.check(st.st_size == 32 << 20, "discard changed the image's size")
    t.check(st.st_blocks < before // 10, f"discard left {st.st_blocks} of {before} blocks allocated")


def test_blk_two_disks_in_order_with_serials(t):
    a = t.image("disk-a.img", 64 << 20)
    b = t.image("disk-b.img", 32 << 20)
    t.boot(disks=[Disk(a, serial="kvmini-first"), Disk(b, ro=True, serial="second")],
           cmdline="quiet kvmini.test=disks")
    t.expect_status(0)
    t.expect_line("KVMINI-TEST: disk vda sectors=131072 ro=0 serial=kvmini-first$")
    t.expect_line("KVMINI-TEST: disk vdb sectors=65536 ro=1 serial=second$")


def test_blk_bad_disks(t):
    k = env.kernel()
    scratch = re.escape(str(t.scratch))
    t.kvmini("run", "--kernel", k, "--disk", "/nonexistent.img")
    t.expect_error(2, "disk /nonexistent.img: No such file")
    img = t.image("empty.img", 0)
    t.kvmini("run", "--kernel", k, "--disk", img)
    t.expect_error(2, f"disk {re.escape(str(img))} is empty")
    img = t.image("odd.img", 1000)
    t.kvmini("run", "--kernel", k, "--disk", img)
    t.expect_error(2, "not a multiple of 512 bytes")
    img = t.image("good.img", 1 << 20)
    (t.scratch / "link.img").symlink_to("good.img")
    t.kvmini("run", "--kernel", k, "--disk", img, "--disk", f"{t.scratch}/link.img,ro")
    t.expect_error(2, "are the same file")
    t.kvmini("run", "--kernel", k, "--disk", t.scratch)
    t.expect_error(2, f"disk {scratch}: Is a directory|neither a regular file nor a block device")
    t.kvmini("run", "--kernel", k, "--disk", f"{img},rw")
    t.expect_error(2, rf"--disk '{re.escape(str(img))},rw': expected PATH\[,ro\]\[,serial=ID\]")
    t.kvmini("run", "--kernel", k, "--disk", f"{img},serial=abcdefghijklmnopqrstuvwxyz")
    t.expect_error(2, "longer than 20 characters")
    t.kvmini("run", "--kernel", k, "--disk", ",ro")
    t.expect_error(2, "no image path")
    # A read-only file without ",ro": mode 0444 stops anyone but root; root gets a read-only mount.
    (t.scratch / "ro").mkdir()
    img = t.image("ro/ro.img", 1 << 20)
    if os.getuid() != 0:
        img.chmod(0o444)
        t.kvmini("run", "--kernel", k, "--disk", img)
    else:
        t.run(["unshare", "-m", "sh", "-c",
               'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && '
               'exec "$2" run --kernel "$3" --disk "$4"',
               "sh", t.scratch / "ro", env.KVMINI, k, img])
    t.expect_error(2, f"disk {re.escape(str(img))} is read-only here: add ',ro'")
