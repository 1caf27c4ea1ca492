#!/usr/bin/env bats
# Graceful drain: a process that holds its node (`hold`, as otp-sup does)
# delays the node's leave on SIGTERM or `stop` until it has gone, or until
# the drain time-out; without holders the node leaves at once, as before.
load helper

now_ms () { echo $(( $(date +%s%N) / 1000000 )); }

gone () { ! kill -0 "$1" 2>/dev/null; }

# info_has NODE KEY VALUE: NODE's `info` has KEY equal to VALUE.
info_has () { otp-ctl -n "$1@127.0.0.1" info | grep -Eq "^$2 +$3\$"; }

# exits_within SECONDS PID: waits for PID (a child of this shell) to end and
# sets STATUS to its exit status.
exits_within () {
    wait_until "$1" gone "$2"
    STATUS=0
    wait "$2" || STATUS=$?
}

@test "SIGTERM with a holder: the node drains while it hands off, then leaves" {
    start_epmd
    start_node a; start_node b
    wait_until 5 full_mesh a b
    echo_on a holder --hold --drain-delay 1000
    holder=$ECHO_PID
    wait_until 5 info_has a holders 1
    info_has a draining 0

    t0=$(now_ms)
    kill -TERM "$(pid_of a)"
    wait_until 5 grep -q '^draining a@127.0.0.1$' "$BATS_TEST_TMPDIR/holder.out"
    # Still a full member while the holder hands off.
    run timeout 5 otp-ctl -n a@127.0.0.1 ping
    [ "$status" -eq 0 ]
    [ "$output" = pong ]
    sees b a@127.0.0.1
    sees a b@127.0.0.1
    info_has a draining 1
    kill -0 "$(pid_of a)"

    exits_within 10 "$holder"
    [ "$STATUS" -eq 0 ]
    exits_within 5 "$(pid_of a)"
    [ "$STATUS" -eq 0 ]
    elapsed=$(( $(now_ms) - t0 ))
    echo "# drained and left after ${elapsed} ms" >&3
    [ "$elapsed" -ge 1000 ]
    wait_until 2 sees b ""
    grep -q "draining: waiting for 1 process(es) holding the node (up to 30000 ms)" \
        "$BATS_TEST_TMPDIR/a.log"
    grep -q "drained" "$BATS_TEST_TMPDIR/a.log"
    run grep -q "drain timed out" "$BATS_TEST_TMPDIR/a.log"
    [ "$status" -ne 0 ]
    grep -q "nodedown a@127.0.0.1 (left)" "$BATS_TEST_TMPDIR/b.log"
    run otp-ctl epmd names
    [[ "$output" != *"a "* ]]
}

@test "a holder that never goes: the node leaves after the drain time-out" {
    start_epmd
    start_node a --drain-timeout 500
    start_node b
    wait_until 5 full_mesh a b
    echo_on a holder --hold --drain-delay 600000
    holder=$ECHO_PID
    wait_until 5 info_has a holders 1

    t0=$(now_ms)
    kill -TERM "$(pid_of a)"
    exits_within 5 "$(pid_of a)"
    elapsed=$(( $(now_ms) - t0 ))
    echo "# left after ${elapsed} ms (drain time-out 500 ms)" >&3
    [ "$STATUS" -eq 0 ]
    [ "$elapsed" -ge 500 ]
    [ "$elapsed" -lt 3000 ]
    grep -q '^draining a@127.0.0.1$' "$BATS_TEST_TMPDIR/holder.out"
    grep -q "up to 500 ms" "$BATS_TEST_TMPDIR/a.log"
    grep -q "drain timed out" "$BATS_TEST_TMPDIR/a.log"
    run grep -q "drained" "$BATS_TEST_TMPDIR/a.log"
    [ "$status" -ne 0 ]
    wait_until 2 sees b ""
    grep -q "nodedown a@127.0.0.1 (left)" "$BATS_TEST_TMPDIR/b.log"
    kill -0 "$holder"
    kill -TERM "$holder"
    exits_within 5 "$holder"
}

@test "no holder: SIGTERM leaves at once, and watchers get no draining event" {
    start_epmd
    start_node a; start_node b
    wait_until 5 full_mesh a b
    watch a "$BATS_TEST_TMPDIR/events"

    t0=$(now_ms)
    kill -TERM "$(pid_of a)"
    exits_within 5 "$(pid_of a)"
    elapsed=$(( $(now_ms) - t0 ))
    echo "# left after ${elapsed} ms" >&3
    [ "$STATUS" -eq 0 ]
    [ "$elapsed" -lt 5000 ]
    run grep -q draining "$BATS_TEST_TMPDIR/a.log"
    [ "$status" -ne 0 ]
    run grep -q draining "$BATS_TEST_TMPDIR/events"
    [ "$status" -ne 0 ]
    wait_until 2 sees b ""
    grep -q "nodedown a@127.0.0.1 (left)" "$BATS_TEST_TMPDIR/b.log"
}

@test "a second SIGTERM while draining stops the node at once" {
    start_epmd
    start_node a; start_node b
    wait_until 5 full_mesh a b
    echo_on a holder --hold --drain-delay 600000
    holder=$ECHO_PID
    wait_until 5 info_has a holders 1

    kill -TERM "$(pid_of a)"
    wait_until 5 grep -q '^draining' "$BATS_TEST_TMPDIR/holder.out"
    info_has a draining 1
    t0=$(now_ms)
    kill -TERM "$(pid_of a)"
    exits_within 5 "$(pid_of a)"
    elapsed=$(( $(now_ms) - t0 ))
    echo "# left ${elapsed} ms after the second SIGTERM" >&3
    [ "$STATUS" -eq 0 ]
    [ "$elapsed" -lt 1000 ]
    grep -q "received Terminated while draining: stopping at once" "$BATS_TEST_TMPDIR/a.log"
    run grep -q "drain timed out" "$BATS_TEST_TMPDIR/a.log"
    [ "$status" -ne 0 ]
    wait_until 2 sees b ""
    grep -q "nodedown a@127.0.0.1 (left)" "$BATS_TEST_TMPDIR/b.log"
    kill -TERM "$holder"
    exits_within 5 "$holder"
}

@test "otp-ctl stop with a holder drains too; a plain watcher is told, and no new peer joins" {
    start_epmd
    start_node a; start_node b
    wait_until 5 full_mesh a b
    watch a "$BATS_TEST_TMPDIR/events"
    echo_on a holder --hold --drain-delay 1500
    holder=$ECHO_PID
    wait_until 5 info_has a holders 1

    run timeout 5 otp-ctl -n a@127.0.0.1 stop
    [ "$status" -eq 0 ]
    [ "$output" = draining ]
    wait_until 5 grep -q '^draining a@127.0.0.1 *$' "$BATS_TEST_TMPDIR/events"
    # A node that starts now is not let in, while b stays.
    start_node c
    wait_until 5 sees c b@127.0.0.1
    sleep 0.5
    sees a b@127.0.0.1
    sees c b@127.0.0.1

    exits_within 10 "$holder"
    exits_within 5 "$(pid_of a)"
    [ "$STATUS" -eq 0 ]
    grep -q "drained" "$BATS_TEST_TMPDIR/a.log"
    wait_until 2 sees b c@127.0.0.1
}
