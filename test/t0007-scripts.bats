#!/usr/bin/env bats
# The launch scripts behind `make run-multi` and `make stop`.
load helper

# running PID: alive, and not a zombie waiting for a reaper (what the scripts
# start in the background is adopted by init once they exit).
running () {
    local stat
    stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ "$stat" != Z* ]]
}
gone () { ! running "$1"; }

@test "start-cluster brings up a full mesh, with otp-reg and otp-sup beside each node; stop-cluster stops every process" {
    start_epmd      # a private port mapper; start-cluster reuses the one that answers
    export OTP_RUN_DIR="$BATS_TEST_TMPDIR/run"
    run "$BATS_TEST_DIRNAME/../scripts/start-cluster" 3 3>&-
    [ "$status" -eq 0 ]
    [[ "$output" == *"cluster of 3 node(s) is up"* ]]
    for f in "$OTP_RUN_DIR"/n*.pid; do track "$(cat "$f")"; done
    full_mesh n1 n2 n3
    # with a registry replica beside each node
    [ "$(ls "$OTP_RUN_DIR"/n*.reg.pid | wc -l)" -eq 3 ]
    otp-echo -n n1@127.0.0.1 --register hello > /dev/null 2> "$BATS_TEST_TMPDIR/echo.err" 3>&- &
    track $!
    wait_until 10 bash -c "otp-ctl -n n3@127.0.0.1 whereis hello | grep -qx n1@127.0.0.1"
    # and a supervisor, all three members of one cluster supervisor
    [ "$(ls "$OTP_RUN_DIR"/n*.sup.pid | wc -l)" -eq 3 ]
    for i in 1 2 3; do
        run otp-ctl -n "n$i@127.0.0.1" count-children
        [ "$status" -eq 0 ]
        [ "${lines[0]}" = "specs 0" ]
        otp-ctl -n "n$i@127.0.0.1" sup-info | grep -qx "members *3"
        [ -s "$OTP_RUN_DIR/n$i.sup.log" ]
    done
    # a named child answers from any node
    otp-ctl -n n1@127.0.0.1 start-child counter --name counter -- \
        "$BATS_TEST_DIRNAME/../examples/counter/counter.sh"
    wait_until 10 bash -c "[ \"\$(otp-ctl -n n3@127.0.0.1 call counter inc)\" = 1 ]"
    child=$(otp-ctl -n n2@127.0.0.1 which-children | awk '$1 == "counter" { print $3 }')
    running "$child"

    pids="$(cat "$OTP_RUN_DIR"/*.pid) $child"
    run "$BATS_TEST_DIRNAME/../scripts/stop-cluster"
    [ "$status" -eq 0 ]
    [ "$output" = stopped ]
    for p in $pids; do
        gone "$p"
    done
    [ -z "$(ls "$OTP_RUN_DIR"/*.pid 2>/dev/null)" ]
    # graceful: each node drained while its otp-sup handed off or stopped its
    # children by SIGTERM, then unregistered itself (all of them leave at
    # once, so none may be there to log another's goodbye)
    for i in 1 2 3; do
        grep -q "unregistered n$i\$" "$BATS_TEST_TMPDIR/epmd.log"
        grep -q "info: drained" "$OTP_RUN_DIR/n$i.log"
        grep -q "draining: handing children off" "$OTP_RUN_DIR/n$i.sup.log"
        grep -q "info: stopped" "$OTP_RUN_DIR/n$i.sup.log"
    done
    # (the counter saves its count on SIGTERM, then exits 0)
    grep -q "counter: stopped (status 0)" "$OTP_RUN_DIR"/n*.sup.log
}

@test "start-cluster refuses a bad count" {
    run "$BATS_TEST_DIRNAME/../scripts/start-cluster" lots
    [ "$status" -eq 2 ]
    [[ "$output" == *"N must be a number"* ]]
}

@test "stop-cluster with nothing recorded says so; stale pid files of processes gone are skipped" {
    export OTP_RUN_DIR="$BATS_TEST_TMPDIR/run"
    mkdir -p "$OTP_RUN_DIR"
    run "$BATS_TEST_DIRNAME/../scripts/stop-cluster"
    [ "$status" -eq 0 ]
    [[ "$output" == *"nothing recorded"* ]]
    # A pid that now belongs to another program is left alone.
    sleep 100 3>&- &
    other=$!
    track "$other"
    echo "$other" > "$OTP_RUN_DIR/n1.pid"
    sh -c 'exit 0' & gone=$!; wait "$gone"
    echo "$gone" > "$OTP_RUN_DIR/n1.sup.pid"
    run "$BATS_TEST_DIRNAME/../scripts/stop-cluster"
    [ "$status" -eq 0 ]
    [ "$output" = stopped ]
    kill -0 "$other"
    [ -z "$(ls "$OTP_RUN_DIR")" ]
}
