"""A guest as data, launched under kvmini or, the very same guest, under QEMU.

Guest(cpus=2, mem=512, cmdline="quiet kvmini.test=poweroff", disks=[Disk(img, ro=True)]) describes
what both VMMs boot: Debian's kernel (env.kernel()), the test initramfs, vCPUs, RAM in MiB, the
kernel command line, virtio-blk disks, virtio-net NICs on taps and a vsock device. kvmini_argv() and
qemu_argv() turn it into each VMM's command line; QEMU gets the same devices on virtio-pci (modern
only), RAM as a memfd, and its own console= and panic= arguments, which kvmini adds itself.
"""

from dataclasses import dataclass, field
from typing import List, Optional

from . import env


@dataclass
class Disk:
    path: str
    ro: bool = False
    serial: Optional[str] = None

    def kvmini(self):
        return ",".join([str(self.path)] + (["ro"] if self.ro else []) +
                        ([f"serial={self.serial}"] if self.serial else []))


@dataclass
class Nic:
    tap: str
    mac: Optional[str] = None

    def kvmini(self):
        return f"tap={self.tap}" + (f",mac={self.mac}" if self.mac else "")


@dataclass
class Vsock:
    cid: int
    uds: str  # kvmini's hybrid (Firecracker) socket; QEMU uses vhost-vsock and has none


@dataclass
class Guest:
    cpus: Optional[int] = None
    mem: Optional[int] = None  # MiB
    cmdline: Optional[str] = None
    disks: List[Disk] = field(default_factory=list)
    nics: List[Nic] = field(default_factory=list)
    vsock: Optional[Vsock] = None
    kernel: Optional[str] = None  # default: env.kernel()
    initrd: Optional[str] = str(env.INITRD)  # None: no initramfs

    def kvmini_argv(self, binary=env.KVMINI, extra=()):
        argv = [str(binary), "run", *extra, "--kernel", self.kernel or env.kernel()]
        if self.initrd:
            argv += ["--initrd", str(self.initrd)]
        if self.cpus is not None:
            argv += ["--cpus", str(self.cpus)]
        if self.mem is not None:
            argv += ["--mem", f"{self.mem}M"]
        for d in self.disks:
            argv += ["--disk", d.kvmini()]
        for n in self.nics:
            argv += ["--net", n.kvmini()]
        if self.vsock:
            argv += ["--vsock", f"cid={self.vsock.cid},uds={self.vsock.uds}"]
        if self.cmdline is not None:
            argv += ["--cmdline", self.cmdline]
        return argv

    def qemu_argv(self, machine="q35", disk_cache="writeback"):
        """QEMU with KVM (-accel kvm -cpu host) booting the same guest; MACHINE q35 (PCI, as kvmini's
        devices) or microvm (no devices: the boot benchmark's peer)."""
        mem = self.mem or 256
        argv = ["qemu-system-x86_64", "-M", f"{machine},memory-backend=ram", "-accel", "kvm", "-cpu", "host",
                "-smp", str(self.cpus or 1), "-m", f"{mem}M",
                "-object", f"memory-backend-memfd,id=ram,size={mem}M",
                "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio", "-no-reboot",
                "-kernel", self.kernel or env.kernel()]
        if self.initrd:
            argv += ["-initrd", str(self.initrd)]
        argv += ["-append", f"console=ttyS0 panic=-1 {self.cmdline or ''}".strip()]
        for i, d in enumerate(self.disks):
            argv += ["-drive", f"file={d.path},if=none,id=d{i},format=raw,cache={disk_cache},aio=threads" +
                     (",readonly=on" if d.ro else ""),
                     "-device", f"virtio-blk-pci,drive=d{i},disable-legacy=on" +
                     (f",serial={d.serial}" if d.serial else "")]
        for i, n in enumerate(self.nics):
            argv += ["-netdev", f"tap,id=n{i},ifname={n.tap},script=no,downscript=no,vhost=off",
                     "-device", f"virtio-net-pci,netdev=n{i},disable-legacy=on" + (f",mac={n.mac}" if n.mac else "")]
        if self.vsock:
            argv += ["-device", f"vhost-vsock-pci,guest-cid={self.vsock.cid},disable-legacy=on"]
        return argv
