#!/usr/bin/env bats
# Attacks on otp-node by slow peers that hold the cookie (issue 12, points
# 6, 7 and 8): a process attached under a name that never reads while
# another blasts 1 MiB messages at it, one that reads slowly, a remote
# command whose output is far larger than memory or whose caller reads
# slowly, a peer node that stops reading, and what a child's environment
# holds. Each shows its bound: the node's growth under 64 MiB, no crash,
# memory given back, other clients answered meanwhile, no output or EXIT
# lost. The tools: test/tools/otp-blast (a sink and a blaster).
load helper
unset OTP_HTTP_PORT OTP_HTTP_BIND OTP_READY_NEEDS

# sink NODE NAME [--delay MS]: otp-blast sink in the background, attached
# as NAME; its summary in $BATS_TEST_TMPDIR/sink.NAME.out. Sets SINK.
sink () {
    local node=$1 name=$2; shift 2
    otp-blast sink -n "$node@127.0.0.1" "$@" "$name" > "$BATS_TEST_TMPDIR/sink.$name.out" \
        2> "$BATS_TEST_TMPDIR/sink.$name.err" &
    SINK=$!
    track "$SINK"
    wait_until 10 grep -q '^ready' "$BATS_TEST_TMPDIR/sink.$name.err"
}

# blast NODE TARGET COUNT SIZE: otp-blast send in the background. Sets BLAST.
blast () {
    otp-blast send -n "$1@127.0.0.1" "$2" "$3" "$4" > "$BATS_TEST_TMPDIR/blast.out" 2>&1 &
    BLAST=$!
    track "$BLAST"
}

# pings NODE N: N pings, one every 0.2 s; prints the slowest in ms, fails
# if one is not answered (otp-ctl's 3 s time-out).
pings () {
    local slowest=0 i start took
    for i in $(seq "$2"); do
        start=$(now_ms)
        otp-ctl -n "$1@127.0.0.1" ping > /dev/null || return 1
        took=$(( $(now_ms) - start ))
        [ "$took" -gt "$slowest" ] && slowest=$took
        sleep 0.2
    done
    echo "$slowest"
}

@test "a process that never reads is cut off: the node stays small, gives its memory back, answers meanwhile" {
    small_quarantine
    start_epmd
    start_node a
    local pid before slowest
    pid=$(pid_of a)
    before=$(rss_kb "$pid")
    watch_rss "$pid"
    sink a slow
    local sink_pid=$SINK
    # It never reads, and is frozen: its libzmq takes nothing from the
    # socket either (a running one would queue, in its own memory, what it
    # does not read), so the node holds what it sends. 400 MiB: a node
    # without a byte budget queued all of it (10,000 messages a client).
    kill -STOP "$sink_pid"
    blast a slow@a@127.0.0.1 400 1048576
    slowest=$(pings a 10)
    echo "slowest ping during the attack: $slowest ms"
    wait "$BLAST"
    cat "$BATS_TEST_TMPDIR/blast.out"
    kill -0 "$pid"
    echo "rss before $before KiB, peak $(peak_rss "$pid") KiB"
    [ $(( $(peak_rss "$pid") - before )) -lt 65536 ]
    # Cut off, loudly: its connection closed (the sink sees it once it
    # runs again), its name freed, the loss counted.
    wait_until 10 info_is a clients_cut 1
    kill -CONT "$sink_pid"
    wait "$sink_pid"
    grep -q '^lost 0 0$' "$BATS_TEST_TMPDIR/sink.slow.out"
    [ "$(info_of a attached)" -eq 0 ]
    [ "$(info_of a clients_dropped)" -gt 0 ]
    grep -q "is over its budget" "$BATS_TEST_TMPDIR/a.log"
    grep -q "cut off process slow" "$BATS_TEST_TMPDIR/a.log"
    # Its queue is given back (not kept by the allocator).
    wait_until 10 bash -c "[ \$(( \$(awk '/^VmRSS:/ { print \$2 }' /proc/$pid/status) - $before )) -lt 32768 ]"
    run otp-ctl -n a@127.0.0.1 ping
    [ "$status" -eq 0 ]
}

@test "a process that reads slowly is not cut off: what does not fit in its budget is dropped and counted, the rest arrives" {
    start_epmd
    start_node a --client-budget 2048
    [ "$(info_of a client_budget)" -eq 2097152 ]
    sink a slowish --delay 10
    local sink_pid=$SINK
    blast a slowish@a@127.0.0.1 100 1048576
    wait "$BLAST"
    # It reads on, 100 a second: everything delivered to it arrives.
    sleep 2
    local delivered dropped
    delivered=$(info_of a delivered)
    dropped=$(info_of a clients_dropped)
    echo "delivered $delivered, dropped $dropped"
    [ "$(info_of a clients_cut)" -eq 0 ]
    [ "$(info_of a attached)" -eq 1 ]
    [ "$dropped" -gt 0 ]
    [ $(( delivered + dropped )) -eq 100 ]
    kill -TERM "$sink_pid"
    wait "$sink_pid"
    cat "$BATS_TEST_TMPDIR/sink.slowish.out"
    grep -q "^stopped $delivered $(( delivered * 1048576 ))$" "$BATS_TEST_TMPDIR/sink.slowish.out"
}

@test "rpc: 200 MB of output arrives whole and the node does not grow" {
    small_quarantine
    start_epmd
    start_node a
    local pid before bytes=${OTP_ATTACK_RPC_BYTES:-200000000}
    pid=$(pid_of a)
    before=$(rss_kb "$pid")
    watch_rss "$pid"
    # A node without flow control queued the output until its HWM, dropped
    # the rest, and EXIT with it: otp-ctl waited for ever.
    run timeout 120 bash -c "set -o pipefail; otp-ctl rpc a@127.0.0.1 -- head -c $bytes /dev/zero | wc -c"
    [ "$status" -eq 0 ]
    [ "$output" = "$bytes" ]
    echo "rss before $before KiB, peak $(peak_rss "$pid") KiB"
    # (A sanitizer's allocator keeps more of what the node frees meanwhile.)
    [ $(( $(peak_rss "$pid") - before )) -lt 49152 ]
    [ "$(info_of a rpc_paused)" -gt 0 ]
}

@test "rpc: a caller that reads slowly holds the command on its pipe, not the node's memory; output and EXIT arrive whole" {
    small_quarantine
    start_epmd
    start_node a
    local pid before
    pid=$(pid_of a)
    before=$(rss_kb "$pid")
    watch_rss "$pid"
    # The reader sleeps 4 s before it reads anything: meanwhile the command
    # is blocked on its write, and the node reads no more of its pipe.
    otp-ctl rpc a@127.0.0.1 -- sh -c 'head -c 100000000 /dev/zero; echo done >&2; exit 7' \
        2> "$BATS_TEST_TMPDIR/rpc.err" | (sleep 4; wc -c > "$BATS_TEST_TMPDIR/rpc.count") &
    local job=$!
    sleep 2
    [ "$(info_of a rpc_paused)" -gt 0 ]
    no_line '^done$' "$BATS_TEST_TMPDIR/rpc.err"
    wait_until 30 test -s "$BATS_TEST_TMPDIR/rpc.count"
    wait "$job" || true
    [ "$(cat "$BATS_TEST_TMPDIR/rpc.count")" = 100000000 ]
    grep -qx done "$BATS_TEST_TMPDIR/rpc.err"
    echo "rss before $before KiB, peak $(peak_rss "$pid") KiB"
    [ $(( $(peak_rss "$pid") - before )) -lt 49152 ]
    # The exit status comes through, after all the output.
    run bash -c "otp-ctl rpc a@127.0.0.1 -- sh -c 'head -c 20000000 /dev/zero; exit 7' | wc -c; exit \${PIPESTATUS[0]}"
    [ "$status" -eq 7 ]
    [ "$output" = 20000000 ]
}

@test "rpc: a caller that goes away mid-stream takes its command with it" {
    start_epmd
    start_node a
    # head closes the pipe after 1 MB: otp-ctl exits, the node stops the
    # command (it would write for ever).
    run bash -c "otp-ctl rpc a@127.0.0.1 -- sh -c 'echo \$\$ > $BATS_TEST_TMPDIR/cmd.pid; exec cat /dev/zero' 2>/dev/null | head -c 1000000 | wc -c"
    [ "$output" = 1000000 ]
    local cmd
    cmd=$(cat "$BATS_TEST_TMPDIR/cmd.pid")
    wait_until 10 bash -c "! kill -0 $cmd 2>/dev/null"
    run otp-ctl -n a@127.0.0.1 ping
    [ "$status" -eq 0 ]
}

@test "a peer node that stops reading costs its sender at most its budget, not what a second of traffic holds" {
    small_quarantine
    start_epmd
    start_node a
    start_node b
    wait_until 10 full_mesh a b
    local pid bpid before
    pid=$(pid_of a)
    bpid=$(pid_of b)
    sink b far --delay 1
    # Some traffic first: b acknowledges what it gets, and so is held to
    # the budget.
    blast a far@b@127.0.0.1 20 1048576
    wait "$BLAST"
    before=$(rss_kb "$pid")
    watch_rss "$pid"
    blast a far@b@127.0.0.1 1500 1048576
    sleep 0.3
    kill -STOP "$bpid"
    wait "$BLAST" || true
    cat "$BATS_TEST_TMPDIR/blast.out"
    kill -CONT "$bpid"
    kill -0 "$pid"
    echo "rss before $before KiB, peak $(peak_rss "$pid") KiB"
    [ $(( $(peak_rss "$pid") - before )) -lt 65536 ]
    [ "$(info_of a peers_dropped)" -gt 0 ]
    grep -q "peer b@127.0.0.1 is over its budget" "$BATS_TEST_TMPDIR/a.log"
    # The mesh heals once b runs again.
    wait_until 20 full_mesh a b
}

@test "children and rpc commands do not inherit the cookie unless their spec keeps it" {
    # The cookie given, and a cookie file named (the cookie wins).
    export OTP_COOKIE_FILE=/nonexistent/cookie-file
    start_epmd
    start_node a
    start_sup a
    # rpc: the command's environment holds no cookie.
    otp-ctl rpc a@127.0.0.1 -- env > "$BATS_TEST_TMPDIR/rpc.env"
    grep -q '^PATH=' "$BATS_TEST_TMPDIR/rpc.env"
    no_line '^OTP_COOKIE' "$BATS_TEST_TMPDIR/rpc.env"
    # A supervised child: none, unless keep-cookie = yes.
    otp-ctl -n a@127.0.0.1 start-child plain -- sh -c "env > $BATS_TEST_TMPDIR/plain.env; exec sleep 100"
    otp-ctl -n a@127.0.0.1 start-child kept --keep-cookie yes -- sh -c "env > $BATS_TEST_TMPDIR/kept.env; exec sleep 100"
    wait_until 10 test -s "$BATS_TEST_TMPDIR/plain.env"
    wait_until 10 test -s "$BATS_TEST_TMPDIR/kept.env"
    grep -q '^OTP_CHILD_ID=plain$' "$BATS_TEST_TMPDIR/plain.env"
    no_line '^OTP_COOKIE' "$BATS_TEST_TMPDIR/plain.env"
    grep -qx "OTP_COOKIE=$OTP_COOKIE" "$BATS_TEST_TMPDIR/kept.env"
    grep -qx "OTP_COOKIE_FILE=/nonexistent/cookie-file" "$BATS_TEST_TMPDIR/kept.env"
    # And a running child's /proc environment says the same.
    local child
    child=$(otp-ctl -n a@127.0.0.1 which-children --json | grep -o '{"id":"plain",[^}]*}' \
            | grep -o '"pid":[0-9]*' | cut -d: -f2)
    [ -n "$child" ] && [ "$child" -gt 0 ]
    tr '\0' '\n' < "/proc/$child/environ" > "$BATS_TEST_TMPDIR/proc.env"
    grep -q '^OTP_CHILD_ID=plain$' "$BATS_TEST_TMPDIR/proc.env"
    no_line '^OTP_COOKIE' "$BATS_TEST_TMPDIR/proc.env"
    run otp-ctl -n a@127.0.0.1 start-child bad --keep-cookie perhaps -- true
    [ "$status" -eq 2 ]
    [ "$output" = "otp-ctl: keep-cookie must be yes or no" ]
}
