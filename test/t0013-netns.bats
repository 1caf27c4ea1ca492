#!/usr/bin/env bats
# Several hosts on network namespaces (test/netns.bash): a mesh across hosts,
# a cut link, a partition and its healing. Skipped where namespaces cannot be
# made (not root, no iproute2).
load helper
load netns

# Fast failure detection: down after 500 ms of silence.
FAST=(--heartbeat 100 --timeout 500 --poll 200)

@test "netns: three hosts form a full mesh over the epmd strategy" {
    netns_setup 3
    netns_cluster a b c "${FAST[@]}"
    netns_mesh 1 2 3
    # the PIDs the bed keeps are the daemons' own, not a shell's
    [ "$(cat /proc/"$(pid_of b)"/comm)" = otp-node ]
    [ "$(netns_ctl 1 nodes)" = "$(printf '%s\n' "$(netns_node 2)" "$(netns_node 3)")" ]
    # every host has its own otp-epmd on 4369, each knowing only its node
    run netns_exec 2 otp-ctl -e 4369 epmd names
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" == "b "* ]]
    # and the host's own address space: no default route out of the bed
    run netns_exec 1 ip route
    [[ "$output" != *default* ]]
}

@test "netns: a cut host is seen down on both sides, and rejoins when restored" {
    netns_setup 3
    netns_cluster a b c "${FAST[@]}"
    netns_tcp_open 1 3
    netns_cut 3
    # the link is gone, not refused: a connect to host 3 hangs
    run netns_tcp_open 1 3
    [ "$status" -eq 124 ]
    wait_until 5 netns_sees 1 2
    wait_until 5 netns_sees 2 1
    wait_until 5 netns_sees 3
    # established connections went silent (no FIN, no RST): a heartbeat time-out
    grep -q "nodedown $(netns_node 3) (no heartbeat)" "$BATS_TEST_TMPDIR/a.log"
    grep -q "nodedown $(netns_node 1) (no heartbeat)" "$BATS_TEST_TMPDIR/c.log"
    netns_restore 3
    netns_tcp_open 1 3
    wait_until 20 netns_mesh 1 2 3
}

@test "netns: a split keeps each side to itself, and healing joins them again" {
    netns_setup 4
    netns_cluster a b c d "${FAST[@]}"
    netns_split "1 2" "3 4"
    run netns_tcp_open 1 3
    [ "$status" -eq 124 ]
    netns_tcp_open 3 4
    wait_until 5 netns_mesh 1 2
    wait_until 5 netns_mesh 3 4
    # it stays that way
    sleep 1
    netns_mesh 1 2
    netns_mesh 3 4
    netns_heal
    wait_until 20 netns_mesh 1 2 3 4
}

@test "netns: teardown stops the bed's processes and leaves no namespace or interface" {
    netns_setup 2
    netns_cluster a b "${FAST[@]}"
    # a process the bed did not start itself, still inside a host
    netns_exec 2 bash -c 'sleep 300 & echo $! > "$1"' - "$BATS_TEST_TMPDIR/stray"
    stray=$(cat "$BATS_TEST_TMPDIR/stray")
    id=$(cat "$BATS_TEST_TMPDIR/netns/id")
    pids=("$(pid_of a)" "$(pid_of b)" "$stray")
    run ip netns list
    [ "$(grep -c "^otp${id}[bh]" <<< "$output")" -eq 3 ]
    netns_teardown
    for pid in "${pids[@]}"; do wait_until 2 bash -c "! kill -0 $pid 2> /dev/null"; done
    run ip netns list
    [[ "$output" != *"otp${id}"* ]]
    run ip -o link
    [[ "$output" != *"otp${id}"* ]]
    [[ "$output" != *" br0"* ]]
    [[ ! "$output" =~ \ h[0-9]+@ ]]
    # a second teardown does nothing
    netns_teardown
}
