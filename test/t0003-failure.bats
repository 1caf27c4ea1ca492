#!/usr/bin/env bats
# Failure detection: killed, frozen and resumed nodes (defaults: heartbeat
# 200 ms, time-out 800 ms). Time limits here are generous; bench/ measures.
load helper

three () {
    start_epmd
    start_node a; start_node b; start_node c
    wait_until 5 full_mesh a b c
}

@test "kill -9: every survivor drops the node" {
    three
    kill -9 "$(pid_of c)"
    wait_until 2 sees a b@127.0.0.1
    wait_until 2 sees b a@127.0.0.1
    grep -q "nodedown c@127.0.0.1 (connection closed)" "$BATS_TEST_TMPDIR/a.log"
}

@test "kill -STOP: every survivor drops the node; kill -CONT: it rejoins everywhere" {
    three
    kill -STOP "$(pid_of c)"
    # the issue's bound: under 2 s (the default time-out is 0.8 s)
    wait_until 2 sees a b@127.0.0.1
    wait_until 2 sees b a@127.0.0.1
    grep -q "nodedown c@127.0.0.1 (no heartbeat)" "$BATS_TEST_TMPDIR/a.log"
    kill -CONT "$(pid_of c)"
    wait_until 5 full_mesh a b c
}

@test "a killed node restarted under the same name rejoins" {
    three
    kill -9 "$(pid_of b)"
    wait_until 2 sees a c@127.0.0.1
    wait_until 3 bash -c '! otp-ctl epmd names | grep -q "^b "'
    start_node b
    wait_until 5 full_mesh a b c
}

@test "monitor streams nodedown and nodeup events" {
    three
    watch a "$BATS_TEST_TMPDIR/events"
    kill -9 "$(pid_of c)"
    wait_until 2 grep -q "^nodedown c@127.0.0.1 connection closed$" "$BATS_TEST_TMPDIR/events"
    start_node c
    wait_until 5 grep -q "^nodeup c@127.0.0.1$" "$BATS_TEST_TMPDIR/events"
}

@test "monitor exits non-zero when its node dies" {
    three
    watch a "$BATS_TEST_TMPDIR/events"
    kill -9 "$(pid_of a)"
    # not `run wait`: run's subshell is not the watcher's parent
    code=0
    wait "$WATCHER" || code=$?
    [ "$code" -eq 1 ]
    grep -q "^otp-ctl: " "$BATS_TEST_TMPDIR/events.err"
}

@test "heartbeat settings are honoured: a long time-out tolerates a short freeze" {
    start_epmd
    start_node a --timeout 3000; start_node b --timeout 3000
    wait_until 5 full_mesh a b
    kill -STOP "$(pid_of b)"
    sleep 1.2
    kill -CONT "$(pid_of b)"
    sleep 0.5
    sees a b@127.0.0.1
    run grep -q nodedown "$BATS_TEST_TMPDIR/a.log"
    [ "$status" -eq 1 ]
}

@test "monitor keeps its connection alive under a steady stream of events" {
    start_epmd
    start_node a
    watch a "$BATS_TEST_TMPDIR/events" -t 1000
    mon=$WATCHER
    # Nodes joining and leaving for 3 s: more than the monitor's time-out.
    end=$(( $(date +%s) + 3 ))
    i=0
    while [ "$(date +%s)" -lt "$end" ]; do
        i=$((i + 1))
        start_node "x$i"
        otp-ctl -n "x$i@127.0.0.1" stop > /dev/null
        wait "$(pid_of "x$i")"
    done
    kill -0 "$mon" || { cat "$BATS_TEST_TMPDIR/events.err"; false; }
    [ "$(grep -c '^nodedown' "$BATS_TEST_TMPDIR/events")" -ge 3 ]
    [ ! -s "$BATS_TEST_TMPDIR/events.err" ]
}

@test "a node restarted at once after kill -9 takes its name back" {
    three
    for _ in 1 2 3; do
        kill -9 "$(pid_of c)"
        start_node c        # no waiting for the port mapper to free the name
        wait_until 5 full_mesh a b c
    done
}

@test "a listed node whose host name never resolves does not stall the others" {
    # libslowdns makes look-ups of *.slow.test hang for 3 s. Were they made
    # in libzmq's I/O thread, heartbeats would stall and the mesh flap.
    export LD_PRELOAD="$OTP_BIN/../lib/libslowdns.so" ASAN_OPTIONS=verify_asan_link_order=0
    start_epmd
    nodes="a@127.0.0.1,b@127.0.0.1,c@127.0.0.1,x@host.slow.test"
    for n in a b c; do start_node "$n" --strategy epmd --nodes "$nodes" --poll 200; done
    wait_until 10 full_mesh a b c
    sleep 4
    full_mesh a b c
    run grep -h nodedown "$BATS_TEST_TMPDIR/a.log" "$BATS_TEST_TMPDIR/b.log" "$BATS_TEST_TMPDIR/c.log"
    [ "$status" -eq 1 ]
    grep -q "cannot resolve host.slow.test" "$BATS_TEST_TMPDIR/a.log"
}
