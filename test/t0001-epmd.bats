#!/usr/bin/env bats
# otp-epmd: register, look up, list, refuse duplicates, free dead names.
load helper

@test "a node registers; names, info and a look-up show it" {
    start_epmd
    start_node alpha
    run otp-ctl epmd names
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^alpha\ [0-9]+$ ]]
    port=${output#alpha }
    run otp-probe "tcp://127.0.0.1:$OTP_EPMD_PORT" PORT alpha
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = PORT ]
    [ "${lines[2]}" = "$port" ]
    run otp-ctl --json epmd info
    [[ "$output" == *'"names":1'* ]]
    run otp-probe "tcp://127.0.0.1:$OTP_EPMD_PORT" PORT nobody
    [ "${lines[0]}" = ERR ]
}

@test "a second node with a live name is refused with a clear error" {
    start_epmd
    start_node alpha
    run timeout 10 otp-node -d --name alpha@127.0.0.1 --no-epmd
    [ "$status" -ne 0 ]
    [[ "$output" == *"cannot register alpha@127.0.0.1"* ]]
    run otp-ctl -n alpha@127.0.0.1 ping
    [ "$output" = pong ]
}

@test "kill -9 of a node frees its name, and a new node may take it" {
    start_epmd
    start_node alpha
    start_node beta
    kill -9 "$(pid_of alpha)"
    start=$(date +%s%N)
    wait_until 3 bash -c '! otp-ctl epmd names | grep -q "^alpha "'
    elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
    echo "freed after ${elapsed} ms" >&3
    registered beta
    # The name is free again: a new alpha takes it.
    start_node alpha
}

@test "a graceful stop unregisters at once" {
    start_epmd
    start_node alpha
    run otp-ctl -n alpha@127.0.0.1 stop
    [ "$output" = stopping ]
    wait "$(pid_of alpha)"          # exit status 0
    run otp-ctl epmd names
    [ "$output" = "" ]
}

@test "otp-node starts otp-epmd when none answers" {
    start_epmd
    port=$OTP_EPMD_PORT
    kill "$EPMD_PID"; wait "$EPMD_PID" || true
    otp-node -d --name alpha@127.0.0.1 -e "$port" 2>> "$BATS_TEST_TMPDIR/alpha.log" &
    track $!
    wait_until 5 registered alpha
    run otp-ctl --json epmd info
    [[ "$output" =~ \"pid\":([0-9]+) ]]
    track "${BASH_REMATCH[1]}"      # the daemonized otp-epmd, for teardown
    grep -q "started otp-epmd" "$BATS_TEST_TMPDIR/alpha.log"
}

@test "bad requests get an ERR reply or are cut off, and the port mapper keeps serving" {
    start_epmd
    start_node alpha
    ep="tcp://127.0.0.1:$OTP_EPMD_PORT"
    run otp-probe "$ep" NOSUCH;             [ "${lines[0]}" = ERR ]
    run otp-probe "$ep" PORT;               [ "${lines[0]}" = ERR ]
    # A frame over OTP_ARG_MAX: the connection is cut, no answer
    run otp-probe --timeout 500 "$ep" PORT @big:2000
    [ "$status" -ne 0 ]
    # Registration is refused over TCP, even from loopback (a proxy on this
    # host would forward anyone's): only the local endpoint takes it
    run otp-probe "$ep" ALIVE beta 1234 x;  [ "${lines[1]}" = "only nodes on this host may register" ]
    local="ipc://@otp-epmd-$OTP_EPMD_PORT"
    run otp-probe "$local" ALIVE "bad name" 1 x; [ "${lines[0]}" = ERR ]
    run otp-probe "$local" ALIVE alpha 99999 x;  [ "${lines[0]}" = ERR ]
    # The name is alpha's connection's: no other may refresh or free it
    # (the instance is no longer looked at, so knowing it gives nothing)
    run otp-probe "$local" ALIVE alpha 1234 forged; [ "${lines[1]}" = "name is in use by another node" ]
    run otp-probe "$local" BYE alpha forged;        [ "${lines[1]}" = "no such registration" ]
    run otp-probe "$ep" @hex:00ff00;        [ "${lines[0]}" = ERR ]
    run otp-probe "$ep" @empty;             [ "${lines[0]}" = ERR ]
    run otp-probe --timeout 500 "$ep" @big:3000000   # over the size cap: dropped
    [ "$status" -ne 0 ]
    registered alpha
    run otp-ctl -n alpha@127.0.0.1 ping
    [ "$output" = pong ]
}

@test "otp-epmd: --help, --version, -n, and bad options" {
    run otp-epmd --help;    [ "$status" -eq 0 ]; [[ "$output" == *"usage: otp-epmd"* ]]
    run otp-epmd --version; [ "$status" -eq 0 ]; [[ "$output" == "otp-epmd (otp-labs) "* ]]
    run otp-epmd -n -p 0;   [ "$status" -eq 0 ]; [ "$output" = "configuration OK" ]
    run otp-epmd -n -p 70000; [ "$status" -ne 0 ]; [[ "$output" == *"--port must be a number"* ]]
    run otp-epmd --bogus;   [ "$status" -eq 2 ]
    start_epmd
    run timeout 10 otp-epmd -d -p "$OTP_EPMD_PORT"
    [ "$status" -ne 0 ]; [[ "$output" == *"port $OTP_EPMD_PORT is in use"* ]]
}

@test "20 nodes registering at once: no live name is ever freed" {
    start_epmd
    for i in $(seq 1 20); do
        otp-node -d --name "m$i@127.0.0.1" --no-epmd 2>> "$BATS_TEST_TMPDIR/m$i.log" &
        track $!
    done
    wait_until 10 bash -c '[ "$(otp-ctl epmd names | wc -l)" -eq 20 ]'
    sleep 0.5
    run grep "freed" "$BATS_TEST_TMPDIR/epmd.log"
    [ "$status" -ne 0 ]     # nothing freed: every connection that closed was a probe's
    [ "$(otp-ctl epmd names | wc -l)" -eq 20 ]
}

@test "a port mapper restarted on its port gets every live name back" {
    start_epmd
    start_node alpha; start_node beta
    wait_until 5 full_mesh alpha beta
    kill -9 "$EPMD_PID"
    sleep 1
    otp-epmd -d -p "$OTP_EPMD_PORT" 2>> "$BATS_TEST_TMPDIR/epmd2.log" &
    track $!
    wait_until 5 registered alpha
    wait_until 5 registered beta
    full_mesh alpha beta        # the mesh never depended on it
}

@test "--tcp-register takes registrations over TCP loopback (old nodes in an upgrade); they still belong to their connection" {
    start_epmd --tcp-register
    start_node alpha
    ep="tcp://127.0.0.1:$OTP_EPMD_PORT"
    run otp-probe "$ep" ALIVE beta 1234 x;  [ "${lines[0]}" = OK ]
    run otp-probe "$ep" ALIVE alpha 1234 x; [ "${lines[1]}" = "name is in use by another node" ]
    registered alpha
}
