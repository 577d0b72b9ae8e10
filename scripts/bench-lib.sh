# bench-lib.sh: helpers the stream benchmarks share (sourced by scripts/bench-net and scripts/bench-vsock).

# wait_line REGEX FILE SECONDS [PID]: until FILE has a line matching REGEX (CRs ignored); 1 after
# SECONDS by the clock (each look costs processes: slow under emulation), or once process PID has ended
# without writing it. grep reads FILE to its end: one that stopped at the match would break the pipe
# under pipefail.
wait_line() {
	local end=$((SECONDS + $3)) gone
	while [ "$SECONDS" -lt "$end" ]; do
		# Whether PID has ended is asked before the look: what it wrote before ending is seen.
		gone=
		[ -z "${4:-}" ] || kill -0 "$4" 2>/dev/null || gone=1
		[ -e "$2" ] && tr -d '\r' <"$2" | grep -E -- "$1" >/dev/null && return 0
		[ -z "$gone" ] || return 1
		sleep 0.2
	done
	return 1
}

# field KEY LINE-REGEX FILE: the value of KEY= on the first line matching LINE-REGEX, or n/a.
field() {
	local v
	[ -e "$3" ] || { echo n/a; return; }
	v=$(tr -d '\r' <"$3" | grep -E -- "$2" | head -n 1 | tr ' ' '\n' | sed -n "s/^$1=//p")
	echo "${v:-n/a}"
}

# median COLUMN FILE: the median of a column of numbers, or n/a.
median() {
	[ -s "$2" ] || { echo n/a; return; }
	awk -v c="$1" '{ print $c }' "$2" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B: A / B, or n/a.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b == 0) print "n/a";
		else printf "%.2f", a / b }'
}

# run_failed BENCH NAME RUN STATUS LOG: keep LOG as build/BENCH/failed-NAME-RUN.log, show its tail,
# and add the run to $failed.
run_failed() {
	mkdir -p "$BUILD/$1"
	cp "$5" "$BUILD/$1/failed-$2-$3.log"
	echo "$1: $2 run $3 FAILED (exit status $4); console in $BUILD/$1/failed-$2-$3.log" >&2
	tail -n 15 "$5" | sed 's/^/    /' >&2
	failed="$failed${failed:+,} $2 run $3"
}
