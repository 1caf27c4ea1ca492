#!/usr/bin/env bats
# Messaging by name: send and call to whoever holds a registered name,
# anywhere in the cluster, with time-outs and clear errors.
load helper

everyone_finds () {
    local name=$1 n; shift
    for n in "$@"; do otp-ctl -n "$n@127.0.0.1" whereis "$name" > /dev/null || return 1; done
}

@test "send NAME delivers to the holder on another node" {
    reg_cluster a b c
    echo_on c svc --register svc
    wait_until 5 everyone_finds svc a b c
    run otp-ctl -n a@127.0.0.1 send svc "hello from a"
    [ "$status" -eq 0 ]
    [ "$output" = sent ]
    run otp-ctl -n c@127.0.0.1 send svc "hello from c"
    [ "$status" -eq 0 ]
    wait_until 5 grep -qx "hello from a" "$BATS_TEST_TMPDIR/svc.out"
    wait_until 5 grep -qx "hello from c" "$BATS_TEST_TMPDIR/svc.out"
}

@test "call NAME prints the reply, across nodes and on the same node; --json too" {
    reg_cluster a b
    echo_on b svc --register svc --prefix "b says: "
    wait_until 5 everyone_finds svc a b
    run otp-ctl -n a@127.0.0.1 call svc ping
    [ "$status" -eq 0 ]
    [ "$output" = "b says: ping" ]
    run otp-ctl -n b@127.0.0.1 call svc local
    [ "$output" = "b says: local" ]
    run otp-ctl -n a@127.0.0.1 --json call svc 'a "quoted" one'
    [ "$output" = '{"reply":"b says: a \"quoted\" one"}' ]
    # The address form needs no registry.
    addr=$(otp-ctl -n a@127.0.0.1 --json whereis svc | sed 's/.*"address":"\([^"]*\)".*/\1/')
    run otp-ctl -n a@127.0.0.1 call "$addr@b@127.0.0.1" direct
    [ "$output" = "b says: direct" ]
}

@test "call times out with a clear error and exit 1" {
    reg_cluster a b
    echo_on b slow --register slow --delay 3000
    wait_until 5 everyone_finds slow a b
    start=$(date +%s%N)
    run otp-ctl -n a@127.0.0.1 call slow hi --timeout 300
    elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$status" -eq 1 ]
    [ "$output" = "otp-ctl: 'slow' did not reply within 300 ms" ]
    [ "$elapsed" -lt 2500 ]
}

@test "call or send to a name nobody holds: a clear error, exit 1" {
    reg_cluster a b
    run otp-ctl -n a@127.0.0.1 call nobody hi
    [ "$status" -eq 1 ]
    [ "$output" = "otp-ctl: no process is registered as 'nobody'" ]
    run otp-ctl -n a@127.0.0.1 send nobody hi
    [ "$status" -eq 1 ]
    [ "$output" = "otp-ctl: no process is registered as 'nobody'" ]
    run otp-ctl -n a@127.0.0.1 call 'bad name' hi
    [ "$status" -ne 0 ]
    [[ "$output" == *"not a valid name"* ]]
}

@test "a call to an address nobody holds fails at once (noproc), locally and across nodes" {
    reg_cluster a b
    start=$(date +%s%N)
    run otp-ctl -n a@127.0.0.1 call ghost@b@127.0.0.1 hi --timeout 5000
    [ "$status" -eq 1 ]
    [ "$output" = "otp-ctl: no process ghost on b@127.0.0.1" ]
    run otp-ctl -n a@127.0.0.1 call ghost@a@127.0.0.1 hi --timeout 5000
    [ "$output" = "otp-ctl: no process ghost on a@127.0.0.1" ]
    run otp-ctl -n a@127.0.0.1 call ghost@zz@127.0.0.1 hi --timeout 5000
    [ "$output" = "otp-ctl: no process ghost on zz@127.0.0.1" ]
    elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$elapsed" -lt 4000 ]
}

@test "without otp-reg on the node, registry commands say so" {
    start_epmd
    start_node a
    run otp-ctl -n a@127.0.0.1 whereis svc
    [ "$status" -eq 1 ]
    [ "$output" = "otp-ctl: no otp-reg runs on a@127.0.0.1" ]
}

@test "a process's exit frees its names at once and is reported to 'monitor --all' watchers only" {
    start_epmd
    start_node a
    otp-ctl -n a@127.0.0.1 monitor > "$BATS_TEST_TMPDIR/nodes-only" 3>&- &
    track $!
    otp-ctl -n a@127.0.0.1 monitor --all > "$BATS_TEST_TMPDIR/all" 3>&- &
    track $!
    wait_until 5 bash -c "otp-ctl -n a@127.0.0.1 --json info | grep -q '\"watchers\":2'"
    otp-ctl -n a@127.0.0.1 listen inbox > /dev/null 3>&- &
    listener=$!
    track $listener
    wait_until 5 bash -c "otp-ctl -n a@127.0.0.1 --json info | grep -q '\"attached\":1'"
    kill -9 $listener
    wait_until 5 grep -qx "down inbox exited" "$BATS_TEST_TMPDIR/all"
    run otp-ctl -n a@127.0.0.1 --json info
    [[ "$output" == *'"attached":0'* ]]
    run grep -c down "$BATS_TEST_TMPDIR/nodes-only"
    [ "$output" = 0 ]
}
