# tests/integration/host.sh: which KVM the host has (L-0), sourced by tests/integration/run.
# h_* tests run on the host itself (run --host), before the rest go to scripts/kvm-env; t_* tests run
# with the others, on the KVM that kvm-env chose.

# What this host's /dev/kvm is, as scripts/kvm-env judges it first: pvm, none, or other.
host_kvm_kind() {
	if [ -d /sys/module/kvm_pvm ] && [ ! -d /sys/module/kvm_amd ] && [ ! -d /sys/module/kvm_intel ]; then
		echo pvm
	elif [ ! -c /dev/kvm ]; then
		echo none
	else
		echo other
	fi
}

# Milliseconds since the epoch.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# kvm-env's one line says which way the command runs, and why.
h_kvm_env_says_where_and_why() {
	local kind
	kind=$(host_kvm_kind)
	KVM_ENV_MODE=auto timeout -k 5 "$TIMEOUT" scripts/kvm-env true </dev/null >"$log" 2>&1
	rc=$?
	expect_status 0
	case $kind in
	pvm) expect_line "^kvm-env: /dev/kvm is PVM \(kvm_pvm\), no hardware virtualization: running inside QEMU" ;;
	none) expect_line "^kvm-env: no usable /dev/kvm: running inside QEMU" ;;
	*) expect_line "^kvm-env: (/dev/kvm is hardware-assisted KVM: running directly|/dev/kvm .*: running inside QEMU)" ;;
	esac
}

# On PVM a stock kernel (and the Multiboot exit guest) is refused at once, naming the layer and the fix.
h_pvm_refuses_stock_guests_at_once() {
	local t0 ms
	[ "$(host_kvm_kind)" = pvm ] || { skip "this host's /dev/kvm is not PVM"; return; }
	t0=$(now_ms)
	kvmini run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "quiet kvmini.test=poweroff"
	ms=$(($(now_ms) - t0))
	expect_error 2 "^kvmini: error: L-0 hardware: guest kernel $KERNEL cannot boot .* PVM \(kvm_pvm\).*VT-x/AMD-V.*--allow-pvm"
	[ "$ms" -lt 5000 ] || fail "refused only after $ms ms"
	kvmini bench exits --cpus 1 --iterations 10
	expect_error 2 "L-0 hardware: guest kernel .*exitlat.elf cannot boot .* PVM"
}

# kvmini host tells this host's KVM apart and runs its canary within its bound.
h_kvmini_host_summary() {
	local t0 ms
	t0=$(now_ms)
	kvmini host
	ms=$(($(now_ms) - t0))
	[ "$ms" -lt 5000 ] || fail "kvmini host took $ms ms"
	expect_line "^L-0 CPU "
	expect_line "^host kernel +$(uname -r)"
	case $(host_kvm_kind) in
	pvm)
		expect_status 1
		expect_line "^L-0 KVM +/dev/kvm: PVM \(shadow paging, no hardware virtualisation\), module kvm_pvm"
		expect_line "^L-0 canary +real mode to long mode in [0-9.]+ ms; 8000000 ring-0 instructions: out of time after [0-9]+ in [0-9]+ ms \([0-9]+ ns each\)"
		expect_line "^verdict +a stock guest kernel cannot boot here"
		;;
	none)
		expect_status 1
		expect_line "^verdict +no usable KVM here"
		;;
	*)
		[ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || fail "exit status $rc, expected 0 or 1"
		expect_line "^verdict "
		;;
	esac
	kvmini host --frobnicate
	expect_error 2 "host: unknown option"
}

# On the KVM the tests run on (hardware, or nested under kvm-env), the canary passes at speed.
t_host_summary_nested_or_hardware() {
	kvmini host
	expect_status 0
	expect_line "^L-0 KVM +/dev/kvm: (hardware-assisted|nested \(hardware-assisted, under a hypervisor\)), module kvm_(amd|intel)$"
	expect_line "^L-0 canary +real mode to long mode in [0-9.]+ ms; 8000000 ring-0 instructions in [0-9.]+ ms"
	expect_line "^verdict +usable"
	if [ "${KVM_ENV:-}" = qemu ]; then
		expect_line "^L-0 CPU .*AMD-V \(svm\)"
		expect_line "^L-0 machine +a guest itself"
		expect_line "^L-0 KVM .*nested"
	fi
	kvmini host -q
	expect_status 0
	[ "$(wc -l <"$log")" -eq 1 ] || fail "-q printed more than the verdict"
	# With -v, a run names the kind of KVM it found.
	kvmini run -v --kernel /nonexistent
	expect_line "L-0 hardware: KVM here is (hardware-assisted|nested)"
}

# A Unix socket cannot live on a 9p share (kvm-env's working tree): the error says so, and where to go.
t_vsock_socket_on_shared_fs_says_so() {
	# By the mount's type: statfs() on 9p reports the host file system's.
	[ "$(findmnt -no FSTYPE -T "$LOGS")" = 9p ] || { skip "$LOGS is not on 9p here"; return; }
	kvmini run --kernel "$KERNEL" --vsock "cid=3,uds=$LOGS/vm.sock"
	expect_error 2 "vsock socket path $LOGS/vm.sock: the file system holding $LOGS \(9p\) cannot hold Unix sockets.*/tmp"
}

# kvm-env's machine loads tun and the vhost modules on first open, as a Debian host does.
t_kvm_env_loads_modules_on_first_open() {
	[ "${KVM_ENV:-}" = qemu ] || { skip "not inside kvm-env's emulated machine"; return; }
	: >"$log"
	for node in net/tun vhost-net vhost-vsock; do
		[ -c "/dev/$node" ] || fail "no /dev/$node"
	done
	(exec 3<>/dev/vhost-vsock) 2>>"$log" || fail "opening /dev/vhost-vsock failed"
	[ -d /sys/module/vhost_vsock ] || fail "opening /dev/vhost-vsock did not load vhost_vsock"
	(exec 3<>/dev/net/tun) 2>>"$log" || fail "opening /dev/net/tun failed"
	[ -d /sys/module/tun ] || fail "opening /dev/net/tun did not load tun"
}
