#!/usr/bin/env bats
# Cluster formation under each strategy, the client commands, graceful leave.
load helper

@test "5 nodes under the local strategy form a full mesh" {
    start_epmd
    for n in n1 n2 n3 n4 n5; do start_node "$n" --strategy local; done
    wait_until 10 full_mesh n1 n2 n3 n4 n5
}

@test "5 nodes under the epmd strategy (a static list) form a full mesh" {
    start_epmd
    export OTP_CLUSTER_STRATEGY=epmd
    export OTP_CLUSTER_NODES="n1@127.0.0.1,n2@127.0.0.1,n3@127.0.0.1,n4@127.0.0.1,n5@127.0.0.1"
    # Started one by one with gaps: the early ones keep retrying the others.
    for n in n1 n2 n3 n4 n5; do start_node "$n" --poll 200; sleep 0.3; done
    wait_until 10 full_mesh n1 n2 n3 n4 n5
    run otp-ctl -n n1@127.0.0.1 --json info
    [[ "$output" == *'"strategy":"epmd"'* ]]
}

@test "the epmd strategy joins only the listed nodes" {
    start_epmd
    start_node a --strategy epmd --nodes "a@127.0.0.1,b@127.0.0.1" --poll 100
    start_node b --strategy epmd --nodes "a@127.0.0.1,b@127.0.0.1" --poll 100
    start_node c --strategy epmd --nodes "c@127.0.0.1" --poll 100
    wait_until 5 sees a b@127.0.0.1
    sleep 1
    sees a b@127.0.0.1
    sees c ""
}

@test "ping answers pong, and pang for a node that does not run" {
    start_epmd
    start_node a
    run otp-ctl -n a@127.0.0.1 ping
    [ "$status" -eq 0 ]
    [ "$output" = pong ]
    run otp-ctl -n zz@127.0.0.1 ping
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = pang ]
    [[ "$output" == *"no such node"* ]]
}

@test "info and nodes give JSON with --json" {
    start_epmd
    start_node a
    start_node b
    wait_until 5 sees a b@127.0.0.1
    run otp-ctl -n a@127.0.0.1 --json nodes
    [ "$output" = '["b@127.0.0.1"]' ]
    run otp-ctl -n a@127.0.0.1 --json info
    [[ "$output" == '{"name":"a@127.0.0.1"'* ]]
    [[ "$output" == *'"peers":1'* ]]
    [[ "$output" =~ \"uptime_ms\":[0-9]+ ]]
    [[ "$output" =~ \"msgs_in\":[1-9][0-9]* ]]
}

@test "otp-ctl stop: the node leaves, peers drop it at once and do not re-join it" {
    start_epmd
    start_node a; start_node b; start_node c
    wait_until 5 full_mesh a b c
    watch b "$BATS_TEST_TMPDIR/events" --json
    run otp-ctl -n a@127.0.0.1 stop
    [ "$output" = stopping ]
    wait "$(pid_of a)"
    wait_until 2 grep -q '"event":"nodedown","node":"a@127.0.0.1","reason":"left"' "$BATS_TEST_TMPDIR/events"
    sees b c@127.0.0.1
    sees c b@127.0.0.1
}

@test "SIGTERM: the node leaves the cluster and exits 0" {
    start_epmd
    start_node a; start_node b
    wait_until 5 full_mesh a b
    kill -TERM "$(pid_of a)"
    wait "$(pid_of a)"
    wait_until 2 sees b ""
    run otp-ctl epmd names
    [[ "$output" != *"a "* ]]
    grep -q "nodedown a@127.0.0.1 (left)" "$BATS_TEST_TMPDIR/b.log"
}

@test "a node that left may come back as a new instance" {
    start_epmd
    start_node a; start_node b
    wait_until 5 full_mesh a b
    otp-ctl -n a@127.0.0.1 stop
    wait "$(pid_of a)"
    start_node a
    wait_until 5 full_mesh a b
}

@test "--sname takes this machine's short host name" {
    start_epmd
    host=$(hostname -s)
    otp-node -d --sname solo --no-epmd 2>> "$BATS_TEST_TMPDIR/solo.log" &
    track $!
    wait_until 5 registered solo
    run otp-ctl -n "solo@$host" --json info
    [[ "$output" == *"\"name\":\"solo@$host\""* ]]
}

@test "epmd strategy: a node restarted after leaving is dialled again by a peer that lists it" {
    start_epmd
    # a lists b; b lists only itself, so only a can bring b back
    start_node a --strategy epmd --nodes "a@127.0.0.1,b@127.0.0.1" --poll 100
    start_node b --strategy epmd --nodes "b@127.0.0.1" --poll 100
    wait_until 5 full_mesh a b
    kill -TERM "$(pid_of b)"
    wait "$(pid_of b)"
    wait_until 2 sees a ""
    start_node b --strategy epmd --nodes "b@127.0.0.1" --poll 100
    wait_until 5 full_mesh a b
}

@test "nodes named by host name rather than address form a mesh that stays up" {
    start_epmd
    for n in a b c; do
        otp-node -d --name "$n@localhost" --no-epmd 2>> "$BATS_TEST_TMPDIR/$n.log" 3>&- &
        track $!
    done
    for n in a b c; do
        wait_until 10 bash -c "[ \"\$(otp-ctl -n $n@localhost nodes | wc -l)\" = 2 ]"
    done
    # Several heartbeat time-outs later, nobody has gone down and come back.
    sleep 3
    run cat "$BATS_TEST_TMPDIR/a.log" "$BATS_TEST_TMPDIR/b.log" "$BATS_TEST_TMPDIR/c.log"
    [[ "$output" != *nodedown* ]]
    [ "$(otp-ctl -n b@localhost nodes | wc -l)" = 2 ]
}
