#!/usr/bin/env bats
# Every binary: --help, --version, and one clear line for bad input.
load helper

@test "--help and --version on every binary" {
    for bin in otp-epmd otp-node otp-ctl; do
        run "$bin" --help
        [ "$status" -eq 0 ]; [[ "$output" == *"usage: $bin"* ]]
        run "$bin" --version
        [ "$status" -eq 0 ]; [[ "$output" =~ ^$bin\ \(otp-labs\)\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
    done
}

@test "otp-node: bad configuration is one clear line and a non-zero exit" {
    run timeout 10 otp-node -d;                          [ "$status" -ne 0 ]; [[ "$output" == *"a node needs a name"* ]]
    run timeout 10 otp-node -d --name "bad name@h";      [ "$status" -ne 0 ]; [[ "$output" == *"not a valid node name"* ]]
    run timeout 10 otp-node -d --name a@h --strategy x;  [ "$status" -ne 0 ]; [[ "$output" == *"unknown cluster strategy 'x'"* ]]
    run timeout 10 otp-node -d --name a@h --strategy epmd; [ "$status" -ne 0 ]; [[ "$output" == *"OTP_CLUSTER_NODES"* ]]
    run timeout 10 otp-node -d --name a@h --heartbeat 500 --timeout 400; [ "$status" -ne 0 ]; [[ "$output" == *"must be longer"* ]]
    OTP_EPMD_PORT=abc run timeout 10 otp-node -d --name a@h; [ "$status" -ne 0 ]; [[ "$output" == *"OTP_EPMD_PORT must be a number"* ]]
    run timeout 10 otp-node -d --name a@h extra;         [ "$status" -ne 0 ]; [[ "$output" == *"unexpected argument 'extra'"* ]]
    [ "${#lines[@]}" -eq 1 ]
    run otp-node -n --name a@127.0.0.1;       [ "$status" -eq 0 ]; [ "$output" = "configuration OK" ]
}

@test "otp-node takes its settings from the environment; flags win" {
    start_epmd
    OTP_NODE_NAME=envnode@127.0.0.1 OTP_NO_EPMD=1 otp-node -d 2>> "$BATS_TEST_TMPDIR/env.log" &
    track $!
    wait_until 5 registered envnode
    OTP_NODE_NAME=ignored@127.0.0.1 otp-node -d --name flagnode@127.0.0.1 --no-epmd 2>> "$BATS_TEST_TMPDIR/flag.log" &
    track $!
    wait_until 5 registered flagnode
    run registered ignored
    [ "$status" -ne 0 ]
}

@test "otp-ctl: unknown command, missing node, bad node, no port mapper" {
    run otp-ctl frobnicate;                 [ "$status" -ne 0 ]; [[ "$output" == *"unknown command 'frobnicate'"* ]]
    run otp-ctl nodes;                      [ "$status" -ne 0 ]; [[ "$output" == *"which node?"* ]]
    run otp-ctl -n nohost nodes;            [ "$status" -ne 0 ]; [[ "$output" == *"not a node name"* ]]
    run otp-ctl -n a@127.0.0.1 -e 1 -t 300 nodes; [ "$status" -ne 0 ]; [[ "$output" == *"no otp-epmd answers"* ]]
    run otp-ctl -e 1 -t 300 epmd names;     [ "$status" -ne 0 ]; [[ "$output" == *"no otp-epmd answers"* ]]
    run otp-ctl epmd frob;                  [ "$status" -ne 0 ]; [[ "$output" == *"unknown epmd command"* ]]
    run otp-ctl;                            [ "$status" -eq 2 ]
}
