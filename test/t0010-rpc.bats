#!/usr/bin/env bats
# Remote commands: `otp-ctl rpc NODE -- CMD ARGS` runs CMD on NODE, streams
# its stdout and stderr back as they are written, and exits with its status;
# a caller that goes away takes the command (and its process group) with it.
load helper
bats_require_minimum_version 1.5.0

# gone PID: no such process, or only a zombie waiting for its reaper (init
# here, for the orphaned grandchildren).
gone () {
    local stat
    stat=$(ps -o stat= -p "$1") || return 0
    [[ "$stat" == Z* ]]
}

@test "rpc streams the command's output as it is written" {
    start_epmd
    start_node a
    f="$BATS_TEST_TMPDIR/out"
    otp-ctl rpc a@127.0.0.1 -- sh -c 'echo first; sleep 2; echo second' > "$f" 2> "$f.err" 3>&- &
    ctl=$!
    track $ctl
    wait_until 5 grep -qx first "$f"
    # the command is still running, and otp-ctl with it
    kill -0 $ctl
    [ "$(cat "$f")" = first ]
    code=0
    wait $ctl || code=$?
    [ "$code" -eq 0 ]
    [ "$(cat "$f")" = "$(printf 'first\nsecond')" ]
    [ ! -s "$f.err" ]
}

@test "rpc keeps stdout and stderr apart, and large output arrives whole and in order" {
    start_epmd
    start_node a
    f="$BATS_TEST_TMPDIR/out"
    timeout 20 otp-ctl rpc a@127.0.0.1 -- sh -c 'echo to-out; echo to-err >&2; echo more-out' > "$f" 2> "$f.err"
    [ "$(cat "$f")" = "$(printf 'to-out\nmore-out')" ]
    [ "$(cat "$f.err")" = to-err ]
    # far more than one pipe's worth or one chunk, on both streams at once
    timeout 20 otp-ctl rpc a@127.0.0.1 seq 200000 > "$f" 2> "$f.err"
    [ "$(cksum < "$f")" = "$(seq 200000 | cksum)" ]
    [ ! -s "$f.err" ]
    timeout 20 otp-ctl rpc a@127.0.0.1 -- sh -c 'seq 100000 >&2; seq 5' > "$f" 2> "$f.err"
    [ "$(cksum < "$f.err")" = "$(seq 100000 | cksum)" ]
    [ "$(cat "$f")" = "$(seq 5)" ]
}

@test "rpc exits with the command's exit status, or 128 + its signal" {
    start_epmd
    start_node a
    run timeout 20 otp-ctl rpc a@127.0.0.1 -- sh -c 'exit 7'
    [ "$status" -eq 7 ]
    [ "$output" = "" ]
    run timeout 20 otp-ctl rpc a@127.0.0.1 -- true
    [ "$status" -eq 0 ]
    run timeout 20 otp-ctl rpc a@127.0.0.1 -- sh -c 'kill -TERM $$'
    [ "$status" -eq 143 ]
    # a command that exits quickly after writing, with stderr closed first:
    # the last bytes and the end of the pipe come together
    run timeout 20 otp-ctl rpc a@127.0.0.1 -- sh -c 'exec 2>&-; sleep 0.1; echo last; exit 3'
    [ "$status" -eq 3 ]
    [ "$output" = last ]
}

@test "rpc of a command that cannot run fails at once with the exec error" {
    start_epmd
    start_node a
    start=$(date +%s%N)
    run -127 timeout 20 otp-ctl -t 10000 rpc a@127.0.0.1 -- nosuchcmd-otp arg
    elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$status" -eq 127 ]
    [ "$output" = "otp-ctl: a@127.0.0.1: cannot run nosuchcmd-otp: No such file or directory" ]
    [ "$elapsed" -lt 2000 ]
    # and the usage errors
    run timeout 20 otp-ctl rpc a@127.0.0.1 --
    [ "$status" -eq 2 ]
    [[ "$output" == *"usage: otp-ctl rpc NODE"* ]]
    run timeout 20 otp-ctl rpc nosuch@127.0.0.1 -- true
    [ "$status" -eq 1 ]
    [[ "$output" == *"no such node"* ]]
}

@test "killing otp-ctl rpc stops the remote command and its process group" {
    start_epmd
    start_node a
    t="$BATS_TEST_TMPDIR"
    otp-ctl rpc a@127.0.0.1 -- sh -c 'echo $$ > "$1.tmp"; mv "$1.tmp" "$1"; sleep 60 & echo $! > "$2.tmp"; mv "$2.tmp" "$2"; wait' sh "$t/leader" "$t/child" > "$t/out" 2>&1 3>&- &
    ctl=$!
    track $ctl
    wait_until 5 test -s "$t/leader"
    wait_until 5 test -s "$t/child"
    leader=$(cat "$t/leader"); child=$(cat "$t/child")
    track "$leader"; track "$child"
    kill -0 "$leader"
    kill -0 "$child"
    kill -9 $ctl
    wait $ctl 2> /dev/null || true
    # SIGTERM at once: well before the SIGKILL that follows 2 s later
    wait_until 1 gone "$leader"
    wait_until 1 gone "$child"
    # a command that ignores SIGTERM gets SIGKILL
    otp-ctl rpc a@127.0.0.1 -- sh -c 'trap "" TERM; echo $$ > "$1.tmp"; mv "$1.tmp" "$1"; while :; do sleep 0.1; done' sh "$t/stubborn" > "$t/out" 2>&1 3>&- &
    ctl=$!
    track $ctl
    wait_until 5 test -s "$t/stubborn"
    stubborn=$(cat "$t/stubborn")
    track "$stubborn"
    kill -9 $ctl
    wait $ctl 2> /dev/null || true
    sleep 1
    kill -0 "$stubborn"
    wait_until 5 gone "$stubborn"
    # and what a command left running in its group, once it has exited itself
    otp-ctl rpc a@127.0.0.1 -- sh -c 'sleep 60 & echo $! > "$1.tmp"; mv "$1.tmp" "$1"' sh "$t/left" > "$t/out" 2>&1 3>&- &
    ctl=$!
    track $ctl
    wait_until 5 test -s "$t/left"
    left=$(cat "$t/left")
    track "$left"
    # otp-ctl waits: the pipes are not drained while sleep holds them
    kill -0 $ctl
    kill -9 $ctl
    wait $ctl 2> /dev/null || true
    wait_until 5 gone "$left"
    # the node is fine and runs the next command
    run timeout 20 otp-ctl rpc a@127.0.0.1 echo still here
    [ "$status" -eq 0 ]
    [ "$output" = "still here" ]
}

@test "rpc runs the command on the named node, whatever -n says" {
    start_epmd
    start_node a
    start_node b
    wait_until 5 full_mesh a b
    # the node forks the command (in a session of its own): its parent is b
    run timeout 20 otp-ctl -n a@127.0.0.1 rpc b@127.0.0.1 -- sh -c 'echo $PPID'
    [ "$status" -eq 0 ]
    [ "$output" = "$(pid_of b)" ]
    run timeout 20 otp-ctl rpc a@127.0.0.1 -- sh -c 'echo $PPID'
    [ "$status" -eq 0 ]
    [ "$output" = "$(pid_of a)" ]
}

@test "rpc exits 1 when its node dies under it" {
    start_epmd
    start_node a
    t="$BATS_TEST_TMPDIR"
    otp-ctl -t 1000 rpc a@127.0.0.1 -- sh -c 'echo $$ > "$1.tmp"; mv "$1.tmp" "$1"; exec sleep 60' sh "$t/pid" > "$t/out" 2> "$t/err" 3>&- &
    ctl=$!
    track $ctl
    wait_until 5 test -s "$t/pid"
    track "$(cat "$t/pid")"
    kill -9 "$(pid_of a)"
    code=0
    wait $ctl || code=$?
    [ "$code" -eq 1 ]
    grep -q "^otp-ctl: " "$t/err"
}
