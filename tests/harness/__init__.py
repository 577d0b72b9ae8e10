"""kvmini's test and benchmark harness: one place for what integration tests and benchmarks share.

env      where the build, the guest kernel and the guest tools are, and which KVM this is
proc     commands in process groups of their own, with a bounded wait, killed with the run
guest    a guest as data (kernel, vCPUs, RAM, disks, NICs, vsock), launched under kvmini or QEMU
results  the guest's and the tools' result lines (TAG word key=value...), medians, ratios, tables
"""
