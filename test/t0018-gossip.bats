#!/usr/bin/env bats
# The gossip strategy on the multi-host bed (test/netns.bash): nodes find each
# other by signed UDP multicast (or broadcast) announcements alone, survive a
# cut link, refuse forged and replayed announcements, and do not dial a node
# that announced it leaves. Skipped where namespaces cannot be made (not
# root, no iproute2). Every bed is its own set of namespaces and bridges, so
# beds running in parallel share the group and port but never hear each
# other (test 1 checks that nothing unsigned arrived).
load helper
load netns

# Fast failure detection: down after 500 ms of silence.
FAST=(--heartbeat 100 --timeout 500)

now_ms () { echo $(( $(date +%s%N) / 1000000 )); }

# gossip_start I NAME [otp-node options...]: otp-node NAME@<host I's IP> on
# host I under the gossip strategy, with no node list at all; otherwise as
# netns_start_node (log in NAME.log, PID_<NAME>, waits until registered).
gossip_start () {
    local i=$1 name=$2 d
    shift 2
    d=$(_netns_dir)
    [ -f "$d/epmd.$i" ] || netns_start_epmd "$i"
    netns_spawn "$i" otp-node -d --name "$name@$(netns_ip "$i")" --no-epmd \
        --epmd-port "$NETNS_EPMD_PORT" --strategy gossip "${FAST[@]}" "$@" \
        2>> "$BATS_TEST_TMPDIR/$name.log"
    NODE_PID=$NETNS_PID
    eval "PID_${name//[^a-zA-Z0-9]/_}=$NODE_PID"
    echo "$name" > "$d/node.$i"
    wait_until 5 netns_registered "$i" "$name"
}

# gossip_cluster N [options...]: nI on host I, for I in 1..N; waits for the mesh.
gossip_cluster () {
    local n=$1 i
    shift
    for i in $(seq "$n"); do gossip_start "$i" "n$i" "$@"; done
    wait_until 15 netns_mesh $(seq "$n")
}

# info_of I KEY: KEY's value in the info of host I's node.
info_of () { netns_ctl "$1" info | awk -v k="$2" '$1 == k { print $2 }'; }
info_at_least () { local v; v=$(info_of "$1" "$2"); [ -n "$v" ] && [ "$v" -ge "$3" ]; }

# exited PID: no such process, or a zombie (netns_spawn's children are ours).
exited () { [ ! -e "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status"; }

# nobody_lists NODE I...: none of hosts I... has NODE among its peers.
nobody_lists () {
    local node=$1 i
    shift
    for i in "$@"; do ! netns_ctl "$i" nodes | grep -qx "$node" || return 1; done
}

@test "gossip: five hosts form a full mesh by gossip alone" {
    netns_setup 5
    t0=$(now_ms)
    gossip_cluster 5
    echo "# 5 hosts meshed $(( $(now_ms) - t0 )) ms after the first start (starts included)" >&3
    for i in 1 2 3 4 5; do
        # no node list: nothing but the announcements told them of each other
        # (`! cmd || false`: set -e, and so bats, ignores a bare `! cmd`)
        ! tr '\0' ' ' < "/proc/$(pid_of "n$i")/cmdline" | grep -q -- --nodes || false
        [ "$(info_of "$i" strategy)" = gossip ]
        [ "$(info_of "$i" gossip_to)" = 233.252.1.32:45892 ]
        info_at_least "$i" gossip_sent 1
        wait_until 5 info_at_least "$i" gossip_received 4
        [ "$(info_of "$i" gossip_rejected_replay)" = 0 ]
        [ "$(info_of "$i" gossip_rejected_bad)" = 0 ]
        grep -q "gossip: multicast group 233.252.1.32:45892 every 1000 ms, ttl 1, interface any" \
            "$BATS_TEST_TMPDIR/n$i.log"
    done
    # it stays formed: announcements keep coming, nothing flaps
    sleep 1.5
    netns_mesh 1 2 3 4 5
    ! grep -q nodedown "$BATS_TEST_TMPDIR"/n*.log || false
    # nothing unsigned arrived: no other bed (parallel tests use other
    # cookies, same group and port) is heard here
    for i in 1 2 3 4 5; do [ "$(info_of "$i" gossip_rejected_auth)" = 0 ]; done
}

@test "gossip: a cut host is seen down everywhere, and rejoins when restored" {
    netns_setup 5
    gossip_cluster 5
    netns_cut 5
    t0=$(now_ms)
    for i in 1 2 3 4; do wait_until 5 netns_sees "$i" $(printf '%s\n' 1 2 3 4 | grep -vx "$i"); done
    wait_until 5 netns_sees 5
    echo "# cut: down everywhere (as polled) after $(( $(now_ms) - t0 )) ms" >&3
    for i in 1 2 3 4; do
        grep -q "nodedown $(netns_node 5) (no heartbeat)" "$BATS_TEST_TMPDIR/n$i.log"
    done
    # while cut, announcements do not cross the link either
    sleep 1.5
    netns_sees 5
    netns_mesh 1 2 3 4
    netns_restore 5
    t0=$(now_ms)
    wait_until 10 netns_mesh 1 2 3 4 5
    echo "# restored: full mesh again (as polled) after $(( $(now_ms) - t0 )) ms" >&3
}

@test "gossip: forged and replayed announcements are counted, dropped, and never dialled" {
    netns_setup 5
    gossip_cluster 5
    ip5=$(netns_ip 5)
    # Where the fake node says it listens, a listener would see any dial.
    netns_spawn 5 otp-gossip-tool listen --bind "$ip5:7777" \
        > "$BATS_TEST_TMPDIR/ghost.conn" 2> "$BATS_TEST_TMPDIR/ghost.err"
    wait_until 5 grep -q listening "$BATS_TEST_TMPDIR/ghost.err"

    # Forged: the right format, signed with another cookie's key.
    netns_exec 1 otp-gossip-tool sign --cookie "not-$OTP_COOKIE" --node "ghost@$ip5" \
        --port 7777 --count 3
    for i in 1 2 3 4 5; do wait_until 5 info_at_least "$i" gossip_rejected_auth 3; done
    # A node of another cookie on host 5 shares the port, and is refused too.
    netns_spawn 5 otp-node -d --name "intruder@$ip5" --no-epmd --epmd-port "$NETNS_EPMD_PORT" \
        --strategy gossip --cookie "other-$OTP_COOKIE" "${FAST[@]}" \
        2>> "$BATS_TEST_TMPDIR/intruder.log"
    for i in 1 2 3 4 5; do wait_until 5 info_at_least "$i" gossip_rejected_auth 5; done
    wait_until 5 grep -q "not signed with this cluster's cookie" "$BATS_TEST_TMPDIR/intruder.log"
    grep -q "not signed with this cluster's cookie" "$BATS_TEST_TMPDIR/n1.log"

    # Replayed: a real announcement of n2, captured and sent again.
    n2=$(netns_node 2)
    port2=$(info_of 2 port)
    netns_exec 1 otp-gossip-tool capture --cookie "$OTP_COOKIE" --from "$n2" \
        --out "$BATS_TEST_TMPDIR/n2.bin" --timeout 5000
    netns_exec 1 otp-gossip-tool send --in "$BATS_TEST_TMPDIR/n2.bin"
    for i in 1 3 4 5; do wait_until 5 info_at_least "$i" gossip_rejected_replay 1; done
    # ... and again once n2 is dead, with a listener where it was: nobody dials it.
    kill -KILL "$(pid_of n2)"
    for i in 1 3 4 5; do wait_until 5 netns_sees "$i" $(printf '%s\n' 1 3 4 5 | grep -vx "$i"); done
    netns_spawn 2 otp-gossip-tool listen --bind "$(netns_ip 2):$port2" \
        > "$BATS_TEST_TMPDIR/n2.conn" 2> "$BATS_TEST_TMPDIR/n2.err"
    wait_until 5 grep -q listening "$BATS_TEST_TMPDIR/n2.err"
    netns_exec 3 otp-gossip-tool send --in "$BATS_TEST_TMPDIR/n2.bin"
    for i in 1 3 4 5; do wait_until 5 info_at_least "$i" gossip_rejected_replay 2; done
    # Signed with the right key but stamped a minute ago: outside the window.
    netns_exec 4 otp-gossip-tool sign --cookie "$OTP_COOKIE" --node "$n2" \
        --port "$port2" --age 60000
    for i in 1 3 4 5; do wait_until 5 info_at_least "$i" gossip_rejected_replay 3; done

    # Several announcement intervals later: no connection to either address,
    # and nobody lists them.
    sleep 2
    [ ! -s "$BATS_TEST_TMPDIR/ghost.conn" ]
    [ ! -s "$BATS_TEST_TMPDIR/n2.conn" ]
    nobody_lists "ghost@$ip5" 1 3 4 5
    nobody_lists "$n2" 1 3 4 5
    nobody_lists "intruder@$ip5" 1 3 4 5
    netns_mesh 1 3 4 5
    for i in 1 3 4 5; do [ "$(info_of "$i" gossip_rejected_bad)" = 0 ]; done
    ! grep -q "dialling ghost\|dialling $n2" "$BATS_TEST_TMPDIR"/n*.log || false

    # The control: the same fake node, signed with the cluster's key and
    # fresh, is dialled at once - so the listener would have seen the forgery.
    netns_exec 1 otp-gossip-tool sign --cookie "$OTP_COOKIE" --node "ghost@$ip5" --port 7777
    wait_until 5 grep -q "connection from" "$BATS_TEST_TMPDIR/ghost.conn"
}

@test "gossip: a draining node announces leave, and is not dialled again until a new instance comes" {
    netns_setup 5
    for i in 1 2 3; do gossip_start "$i" "n$i"; done
    gossip_start 4 n4 -v        # its dials are logged
    gossip_start 5 n5
    wait_until 15 netns_mesh 1 2 3 4 5
    n5=$(netns_node 5)
    netns_spawn 5 env OTP_EPMD_PORT="$NETNS_EPMD_PORT" otp-echo -n "$n5" --hold \
        --drain-delay 600000 > "$BATS_TEST_TMPDIR/holder.out" 2> "$BATS_TEST_TMPDIR/holder.err"
    holder=$NETNS_PID
    wait_until 10 grep -q '^ready' "$BATS_TEST_TMPDIR/holder.err"
    wait_until 5 info_at_least 5 holders 1

    kill -TERM "$(pid_of n5)"
    wait_until 5 grep -q '^draining' "$BATS_TEST_TMPDIR/holder.out"
    [ "$(info_of 5 draining)" = 1 ]
    wait_until 5 grep -q "gossip: announcing that we leave" "$BATS_TEST_TMPDIR/n5.log"
    for i in 1 2 3 4; do
        wait_until 5 grep -q "gossip: $n5 is leaving; not dialling it again" "$BATS_TEST_TMPDIR/n$i.log"
    done
    # The peers it has keep it while its holder hands off.
    netns_mesh 1 2 3 4 5

    # A peer that loses it meanwhile does not dial it again.
    netns_cut 4
    wait_until 5 netns_sees 4
    wait_until 5 netns_sees 5 1 2 3
    dials=$(grep -c "dialling $n5" "$BATS_TEST_TMPDIR/n4.log")
    netns_restore 4
    wait_until 10 netns_sees 4 1 2 3
    sleep 2     # two announcement intervals
    netns_sees 4 1 2 3
    netns_sees 5 1 2 3
    [ "$(grep -c "dialling $n5" "$BATS_TEST_TMPDIR/n4.log")" = "$dials" ]
    kill -0 "$(pid_of n5)"

    # The drain ends: the others see it leave.
    kill -TERM "$holder"
    wait_until 10 exited "$(pid_of n5)"
    # (Its BYE usually says "left"; on a slow machine the close can be
    # seen first, "connection closed": either way it is down.)
    for i in 1 2 3; do
        wait_until 5 grep -q "nodedown $n5 " "$BATS_TEST_TMPDIR/n$i.log"
    done
    wait_until 5 netns_mesh 1 2 3 4

    # A new instance of the name is dialled as usual.
    gossip_start 5 n5
    wait_until 10 netns_mesh 1 2 3 4 5
}

@test "gossip: broadcast mode forms a mesh too, to 255.255.255.255 or a subnet's address" {
    netns_setup 5
    for i in 1 2 3; do gossip_start "$i" "n$i" --gossip-broadcast; done
    subnet_broadcast="$(netns_ip 255)"
    for i in 4 5; do
        OTP_GOSSIP_BROADCAST=1 OTP_GOSSIP_ADDRESS=$subnet_broadcast gossip_start "$i" "n$i"
    done
    wait_until 15 netns_mesh 1 2 3 4 5
    for i in 1 2 3; do
        [ "$(info_of "$i" gossip_to)" = 255.255.255.255:45892 ]
        grep -q "gossip: broadcast to 255.255.255.255:45892" "$BATS_TEST_TMPDIR/n$i.log"
    done
    for i in 4 5; do [ "$(info_of "$i" gossip_to)" = "$subnet_broadcast:45892" ]; done
    for i in 1 2 3 4 5; do
        wait_until 5 info_at_least "$i" gossip_received 4
        [ "$(info_of "$i" gossip_rejected_auth)" = 0 ]
    done
    # a multicast group is not a broadcast address, and the reverse
    run otp-node -n --name x@127.0.0.1 --strategy gossip --gossip-broadcast \
        --gossip-address 233.252.1.32
    [ "$status" -ne 0 ] && [[ "$output" == *"is a multicast group"* ]]
    run otp-node -n --name x@127.0.0.1 --strategy gossip --gossip-address 10.0.0.255
    [ "$status" -ne 0 ] && [[ "$output" == *"not a multicast group"* ]]
}
