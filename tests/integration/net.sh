# net.sh: virtio-net integration tests (sourced by tests/integration/run): the guest and a host side
# in a network namespace of their own, joined by tap devices.
XFER=$BUILD/guest/tools/xfer
NET_BYTES=$((100 << 20))

# net_ns: a fresh network namespace $NS for this test, with lo up; net_ns_end removes it.
net_ns() {
	NS=kvmini-test-$$
	ip netns del "$NS" 2>/dev/null
	ip netns add "$NS" && ip -n "$NS" link set lo up
}

net_ns_end() {
	ip netns del "$NS" 2>/dev/null
	unset NS
}

in_ns() {
	ip netns exec "$NS" "$@"
}

# tap_up NAME ADDR: bring the host's end of tap NAME up in $NS with ADDR, waiting for kvmini to create it.
tap_up() {
	for _ in $(seq 100); do
		ip -n "$NS" link show "$1" >/dev/null 2>&1 && break
		sleep 0.1
	done
	ip -n "$NS" addr add "$2" dev "$1" && ip -n "$NS" link set "$1" up
}

# cpu_ticks PID: user + system clock ticks the process has used.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# Ping both ways, then 100 MiB of TCP each way, each checked against its pattern on arrival.
t_net_ping_and_tcp_both_ways() {
	local host_rx=$SCRATCH/host-rx.log
	net_ns || { fail "cannot create a network namespace"; return; }
	ip -n "$NS" tuntap add kt0 mode tap && tap_up kt0 10.0.2.1/24 || fail "cannot create tap kt0"
	in_ns "$XFER" --timeout 200 recv tcp::5002 --expect "$NET_BYTES" 9 >"$host_rx" 2>&1 &
	local rx_pid=$!
	boot_bg -v --cpus 2 --net tap=kt0,mac=06:00:ac:10:00:02 --cmdline "quiet kvmini.test=run \
kvmini.ip=eth0=10.0.2.2/24 kvmini.run=cat,/sys/class/net/eth0/address;ping,-c,2,-w,30,10.0.2.1&&\
xfer,recv,tcp::5001,--expect,$NET_BYTES,7&&xfer,send,tcp:10.0.2.1:5002,$NET_BYTES,9"
	if wait_for "XFER listening" "$TIMEOUT"; then
		# The host's lines go to a file of their own: in the console log they could land inside the
		# guest's.
		in_ns ping -c 2 -w 30 10.0.2.2 >"$SCRATCH/host.log" 2>&1 || fail "the host cannot ping the guest"
		in_ns "$XFER" --timeout 200 send tcp:10.0.2.2:5001 "$NET_BYTES" 7 >>"$SCRATCH/host.log" 2>&1 ||
			fail "the host's 100 MiB did not reach the guest"
	else
		fail "the guest never listened"
	fi
	boot_wait
	wait "$rx_pid" || fail "the guest's 100 MiB did not reach the host intact: $(cat "$host_rx")"
	cat "$SCRATCH/host.log" "$host_rx" >>"$log" 2>/dev/null
	net_ns_end
	expect_status 0
	expect_line "^06:00:ac:10:00:02\$"
	expect_line "2 packets transmitted, 2 packets received"
	expect_line "XFER ok"
	expect_line "KVMINI-TEST: run ok"
}

# Two NICs in order, one on a tap the user made, one on a tap kvmini creates; a random MAC is local.
t_net_two_nics() {
	net_ns || { fail "cannot create a network namespace"; return; }
	ip -n "$NS" tuntap add kt0 mode tap && tap_up kt0 10.0.2.1/24 || fail "cannot create tap kt0"
	boot_bg -v --net tap=kt0 --net tap=kt1,mac=06:00:ac:10:01:02 --cmdline "quiet kvmini.test=run \
kvmini.ip=eth0=10.0.2.2/24,eth1=10.0.3.2/24 kvmini.run=cat,/sys/class/net/eth0/address,\
/sys/class/net/eth1/address;ping,-c,1,-w,30,10.0.2.1&&ping,-c,1,-w,30,10.0.3.1"
	tap_up kt1 10.0.3.1/24 || fail "kvmini did not create tap kt1"
	boot_wait
	net_ns_end
	expect_status 0
	expect_line "kvmini: .*eth1: tap kt1 \(created\)"
	expect_line "^[0-9a-f][26ae]:[0-9a-f:]{14}\$"
	expect_line "^06:00:ac:10:01:02\$"
	expect_line "KVMINI-TEST: run ok"
}

# With its interface down the guest posts no receive buffers: a flood at the tap must not make
# kvmini spin, and traffic flows again when the guest brings the interface back up.
t_net_no_rx_buffers_no_spin() {
	local before after
	net_ns || { fail "cannot create a network namespace"; return; }
	ip -n "$NS" tuntap add kt0 mode tap && tap_up kt0 10.0.2.1/24 || fail "cannot create tap kt0"
	ip -n "$NS" neigh add 10.0.2.2 lladdr 06:00:ac:10:00:02 dev kt0
	boot_bg -v --net tap=kt0,mac=06:00:ac:10:00:02 --cmdline "quiet kvmini.test=run \
kvmini.ip=eth0=10.0.2.2/24 kvmini.run=ping,-c,1,-w,30,10.0.2.1&&ip,link,set,eth0,down&&\
echo,KVMINI-TEST:,rx-off&&sleep,25&&ip,link,set,eth0,up&&ping,-c,1,-w,30,10.0.2.1"
	if wait_for "KVMINI-TEST: rx-off" "$TIMEOUT"; then
		# Fill the guest's buffers, then count kvmini's CPU time while the flood goes on.
		in_ns ping -f -c 5000 -w 4 10.0.2.2 >/dev/null 2>&1
		in_ns ping -f -w 8 10.0.2.2 >/dev/null 2>&1 &
		local flood=$!
		sleep 1
		before=$(cpu_ticks "$kpid")
		sleep 5
		after=$(cpu_ticks "$kpid")
		wait "$flood"
		echo "kvmini CPU during the flood: $((after - before)) ticks in 5 s" >>"$log"
		[ $((after - before)) -lt $((5 * $(getconf CLK_TCK) / 5)) ] ||
			fail "kvmini used $((after - before)) ticks in 5 s with no receive buffers (spinning?)"
	else
		fail "the guest never took its interface down"
	fi
	boot_wait
	net_ns_end
	expect_status 0
	expect_line "KVMINI-TEST: run ok"
}

t_net_bad_taps() {
	local k=$KERNEL
	net_ns || { fail "cannot create a network namespace"; return; }
	timeout -k 5 "$TIMEOUT" ip netns exec "$NS" "$KVMINI" run --kernel "$k" --net tap=lo </dev/null >"$log" 2>&1
	rc=$?
	expect_error 2 "lo is not a tap"
	kvmini run --kernel "$k" --net tap=kt0,mac=01:02:03:04:05:06
	expect_error 2 "multicast"
	kvmini run --kernel "$k" --net mac=06:00:00:00:00:01
	expect_error 2 "tap=NAME"
	net_ns_end
}
