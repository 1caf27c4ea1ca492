#!/usr/bin/env bats
# Routing: a program attached to its node under a name receives what is sent
# to NAME@NODE from anywhere in the cluster.
load helper

listen () {     # NODE NAME FILE: attach NAME on NODE, printing to FILE
    otp-ctl -n "$1@127.0.0.1" listen "$2" > "$3" 2> "$3.err" &
    LISTENER=$!
    track $LISTENER
    wait_until 5 bash -c "otp-ctl -n $1@127.0.0.1 --json info | grep -q '\"attached\":[1-9]'"
}

@test "a message to NAME@NODE reaches the process attached there, from another node" {
    start_epmd
    start_node a; start_node b
    wait_until 5 full_mesh a b
    listen b inbox "$BATS_TEST_TMPDIR/inbox"
    run otp-ctl -n a@127.0.0.1 send inbox@b@127.0.0.1 "hello from a"
    [ "$status" -eq 0 ]
    [ "$output" = sent ]
    wait_until 3 grep -qx "hello from a" "$BATS_TEST_TMPDIR/inbox"
    # and from the same node
    otp-ctl -n b@127.0.0.1 send inbox@b@127.0.0.1 "local hello"
    wait_until 3 grep -qx "local hello" "$BATS_TEST_TMPDIR/inbox"
}

@test "the sender is named; --json shows it" {
    start_epmd
    start_node a; start_node b
    wait_until 5 full_mesh a b
    otp-ctl -n b@127.0.0.1 --json listen inbox > "$BATS_TEST_TMPDIR/inbox" &
    track $!
    wait_until 5 bash -c "otp-ctl -n b@127.0.0.1 --json info | grep -q '\"attached\":1'"
    otp-ctl -n a@127.0.0.1 send inbox@b@127.0.0.1 'quote " and \ backslash'
    wait_until 3 grep -q '"from":"@a@127.0.0.1","msg":"quote \\" and \\\\ backslash"' "$BATS_TEST_TMPDIR/inbox"
}

@test "a name is attached once; a dead holder's name can be taken again" {
    start_epmd
    start_node a
    listen a inbox "$BATS_TEST_TMPDIR/first"
    run otp-ctl -n a@127.0.0.1 -t 1000 listen inbox
    [ "$status" -ne 0 ]
    [[ "$output" == *"name is attached by another process"* ]]
    kill -9 "$LISTENER"
    listen a inbox "$BATS_TEST_TMPDIR/second"
    otp-ctl -n a@127.0.0.1 send inbox@a@127.0.0.1 "to the new holder"
    wait_until 3 grep -qx "to the new holder" "$BATS_TEST_TMPDIR/second"
}

@test "messages to no one, or to a node that is not connected, are dropped and counted" {
    start_epmd
    start_node a
    run otp-ctl -n a@127.0.0.1 send nobody@a@127.0.0.1 "lost"
    [ "$status" -eq 0 ]
    run otp-ctl -n a@127.0.0.1 send inbox@zz@127.0.0.1 "lost too"
    [ "$status" -eq 0 ]
    run otp-ctl -n a@127.0.0.1 --json info
    [[ "$output" =~ \"dropped\":2 ]]
    # Without '@' it is a registered name, which needs otp-reg on the node.
    run otp-ctl -n a@127.0.0.1 send not-a-target "x"
    [ "$status" -ne 0 ]
    [ "$output" = "otp-ctl: no otp-reg runs on a@127.0.0.1" ]
    run otp-ctl -n a@127.0.0.1 send "x@not a node" "x"
    [ "$status" -ne 0 ]
    [[ "$output" == *"is neither a registered name nor NAME@NODE"* ]]
}

@test "a listener exits when its node goes away" {
    start_epmd
    start_node a
    listen a inbox "$BATS_TEST_TMPDIR/inbox"
    kill -9 "$(pid_of a)"
    code=0
    wait "$LISTENER" || code=$?
    [ "$code" -eq 1 ]
    grep -q "^otp-ctl: " "$BATS_TEST_TMPDIR/inbox.err"
}
