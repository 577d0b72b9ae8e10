# vsock.sh: virtio-vsock integration tests (sourced by tests/integration/run): host programs on the
# Unix sockets of Firecracker's hybrid vsock, guest programs on AF_VSOCK.
VSOCK_BYTES=$((64 << 20))

# vsock_boot UDS RUN: boot the test guest in the background (boot_bg) with a vsock device on Unix
# socket UDS, running the shell command RUN (commas for spaces).
vsock_boot() {
	boot_bg -v --cpus 2 --vsock "cid=3,uds=$1" --cmdline "quiet kvmini.test=run kvmini.run=$2"
}

# Both directions in one boot: echo from 100 concurrent connections each way, 64 MiB each way
# checked against its pattern, and a refusal each way when nobody listens.
t_vsock_streams_both_ways() {
	local uds=$SCRATCH/v.sock echo_pid rx_pid host_rx=$SCRATCH/host-rx.log host=$SCRATCH/host.log
	"$XFER" --timeout 200 echo "unix:${uds}_6000" >"$SCRATCH/echo.log" 2>&1 &
	echo_pid=$!
	"$XFER" --timeout 200 recv "unix:${uds}_6001" --expect "$VSOCK_BYTES" 12 >"$host_rx" 2>&1 &
	rx_pid=$!
	vsock_boot "$uds" "xfer,--timeout,200,echo,vsock::5000&xfer,--timeout,200,recv,vsock::5001,--expect,\
$VSOCK_BYTES,11&xfer,refuse,vsock:2:6999&&xfer,many,vsock:2:6000,100,65536&&\
xfer,send,vsock:2:6001,$VSOCK_BYTES,12&&wait,\$!"
	if wait_for "XFER listening vsock::5001" "$TIMEOUT" && wait_for "XFER echo-ready" 30; then
		# The host's lines go to a file of their own: in the console log they could land inside the
		# guest's.
		"$XFER" --timeout 120 many "fc:$uds:5000" 100 65536 >"$host" 2>&1 ||
			fail "100 host connections did not all get their echo"
		"$XFER" --timeout 60 refuse "fc:$uds:5999" >>"$host" 2>&1 ||
			fail "a host connection to a port nobody listens on was not refused"
		"$XFER" --timeout 200 send "fc:$uds:5001" "$VSOCK_BYTES" 11 >>"$host" 2>&1 ||
			fail "the host's 64 MiB did not reach the guest"
	else
		fail "the guest never listened"
	fi
	boot_wait
	wait "$rx_pid" || fail "the guest's 64 MiB did not reach the host intact: $(cat "$host_rx")"
	kill "$echo_pid" 2>/dev/null
	cat "$host" >>"$log" 2>/dev/null
	expect_status 0
	expect_line "XFER refused"
	expect_line "XFER many ok=100 failed=0"
	expect_line "XFER ok"
	expect_line "KVMINI-TEST: run ok"
	[ ! -e "$uds" ] || fail "kvmini left its socket $uds behind"
}

# A host reader that stops reading stalls the guest's writer: less than the first MiB gets through
# (the guest's, kvmini's and the host socket's buffers hold less), kvmini's memory stays put meanwhile,
# and every byte arrives once the reader goes on.
t_vsock_slow_reader_back_pressure() {
	local uds=$SCRATCH/v.sock stall_pid out=$SCRATCH/stall.log rss1 rss2 p
	"$XFER" --timeout 200 stall "unix:${uds}_7000" 15 >"$out" 2>&1 &
	stall_pid=$!
	vsock_boot "$uds" "xfer,--timeout,200,send,--progress,vsock:2:7000,$((32 << 20)),5"
	if wait_for "KVMINI-TEST: action=run" "$TIMEOUT"; then
		sleep 3
		rss1=$(awk '/^VmRSS/ { print $2 }' "/proc/$kpid/status")
		sleep 5
		rss2=$(awk '/^VmRSS/ { print $2 }' "/proc/$kpid/status")
		p=$(grep -c "XFER progress" "$log")
		echo "kvmini VmRSS ${rss1} kB then ${rss2} kB; sender progress lines meanwhile: $p" >>"$log"
		[ "$p" -eq 0 ] || fail "the guest writer got $p MiB through while the host did not read"
		[ -n "$rss1" ] && [ -n "$rss2" ] && [ $((rss2 - rss1)) -lt 4096 ] ||
			fail "kvmini's VmRSS went from '${rss1}' kB to '${rss2}' kB while the reader stalled"
	else
		fail "the guest never started"
	fi
	boot_wait
	wait "$stall_pid" || fail "the stalled reader failed: $(cat "$out")"
	cat "$out" >>"$log"
	expect_status 0
	expect_line "KVMINI-TEST: run ok"
	local sent got
	sent=$(tr -d '\r' <"$log" | sed -n 's/.*XFER sent bytes=\([0-9]*\) crc=\([0-9a-f]*\).*/\1 \2/p')
	got=$(sed -n 's/.*XFER stall bytes=\([0-9]*\) crc=\([0-9a-f]*\).*/\1 \2/p' "$out")
	[ -n "$sent" ] && [ "$sent" = "$got" ] || fail "sent '$sent' but the reader got '$got'"
}

t_vsock_bad_options() {
	local k=$KERNEL
	kvmini run --kernel "$k" --vsock "cid=3,uds=/nonexistent-dir/v.sock"
	expect_error 2 "/nonexistent-dir"
	kvmini run --kernel "$k" --vsock "cid=1,uds=$SCRATCH/v.sock"
	expect_error 2 "cid"
}
