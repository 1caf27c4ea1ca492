#!/usr/bin/env bats
# The launch scripts behind `make run-multi` and `make stop`.
load helper

@test "start-cluster brings up a full mesh; stop-cluster stops every process it started" {
    start_epmd      # a private port mapper; start-cluster reuses the one that answers
    export OTP_RUN_DIR="$BATS_TEST_TMPDIR/run"
    run "$BATS_TEST_DIRNAME/../scripts/start-cluster" 3
    [ "$status" -eq 0 ]
    [[ "$output" == *"cluster of 3 node(s) is up"* ]]
    for f in "$OTP_RUN_DIR"/n*.pid; do track "$(cat "$f")"; done
    full_mesh n1 n2 n3
    # with a registry replica beside each node
    [ "$(ls "$OTP_RUN_DIR"/n*.reg.pid | wc -l)" -eq 3 ]
    otp-echo -n n1@127.0.0.1 --register hello > /dev/null 2> "$BATS_TEST_TMPDIR/echo.err" 3>&- &
    track $!
    wait_until 5 bash -c "otp-ctl -n n3@127.0.0.1 whereis hello | grep -qx n1@127.0.0.1"
    pids=$(cat "$OTP_RUN_DIR"/n*.pid)
    run "$BATS_TEST_DIRNAME/../scripts/stop-cluster"
    [ "$status" -eq 0 ]
    for p in $pids; do
        run kill -0 "$p"
        [ "$status" -ne 0 ]
    done
    # graceful: each node said goodbye
    grep -q "nodedown n1@127.0.0.1 (left)" "$OTP_RUN_DIR"/n2.log "$OTP_RUN_DIR"/n3.log
}

@test "start-cluster refuses a bad count" {
    run "$BATS_TEST_DIRNAME/../scripts/start-cluster" lots
    [ "$status" -eq 2 ]
    [[ "$output" == *"N must be a number"* ]]
}
