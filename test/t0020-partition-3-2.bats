#!/usr/bin/env bats
# A real 3|2 partition of five hosts (network namespaces, test/netns.bash),
# with the registry and the supervisor running: the invariants of both
# hold across the partition and after the heal.
load helper
load netns
load sup

FAST=(--heartbeat 100 --timeout 500 --poll 200)

# five_hosts [otp-sup options]: nodes a..e on hosts 1..5, otp-reg and otp-sup
# beside each.
five_hosts () {
    netns_setup 5
    netns_cluster a b c d e "${FAST[@]}"
    local i
    for i in 1 2 3 4 5; do
        netns_spawn "$i" otp-reg -d --node "$(netns_node "$i")" --epmd-port "$NETNS_EPMD_PORT" \
            2>> "$BATS_TEST_TMPDIR/h$i.reg.log"
        netns_spawn "$i" otp-sup -d --node "$(netns_node "$i")" --epmd-port "$NETNS_EPMD_PORT" "$@" \
            2>> "$BATS_TEST_TMPDIR/h$i.sup.log"
    done
    wait_until 20 members_are 5 1 2 3 4 5
}

# echo_at HOST TAG [otp-echo options]: an otp-echo process on HOST's node.
echo_at () {
    local i=$1 tag=$2; shift 2
    netns_spawn "$i" env OTP_EPMD_PORT="$NETNS_EPMD_PORT" otp-echo -n "$(netns_node "$i")" "$@" \
        > "$BATS_TEST_TMPDIR/$tag.out" 2> "$BATS_TEST_TMPDIR/$tag.err"
    wait_until 10 grep -q '^ready' "$BATS_TEST_TMPDIR/$tag.err"
}

whereis_on () { netns_ctl "$1" whereis "$2"; }
unknown_on () { [ "$(whereis_on "$1" "$2")" = undefined ]; }
# agreed NAME HOST...: every HOST's replica says the same holder.
agreed () {
    local name=$1 first i; shift
    first=$(whereis_on "$1" "$name") || return 1
    for i in "$@"; do [ "$(whereis_on "$i" "$name")" = "$first" ] || return 1; done
}

ids_on_hosts () {
    local i
    for i in "$@"; do
        netns_ctl 1 which-children | awk -v n="$(netns_node "$i")" '$2 == n { print $1 }'
    done
}
# After a failure: what each host's replica and member hold, and what the
# daemons said about names.
report () {
    local h
    for h in 1 2 3 4 5; do
        echo "# host $h names: $(netns_ctl "$h" names 2>&1 | tr '\n' ' ')"
        netns_ctl "$h" which-children 2>&1 | sed "s/^/# host $h: /"
        grep -h -E 'lost|name|moved|stop|quorum|member' "$BATS_TEST_TMPDIR/h$h.sup.log" \
            "$BATS_TEST_TMPDIR/h$h.reg.log" | tail -40 | sed "s/^/# host $h log: /"
    done >&3
}
everyone_answers () {
    local i h
    for i in $(seq 1 "$1"); do
        for h in 1 2 3 4 5; do answers_from "$h" "c$i" || return 1; done
    done
}

@test "3|2 partition with quorum: the minority stops, the majority runs everything once; the registry converges after the heal" {
    command -v otp-echo > /dev/null || skip "otp-echo is not built"
    five_hosts --strategy quorum --members 5 --failover-delay 1000
    write_child
    for i in $(seq 1 14); do
        netns_ctl 1 start-child "c$i" --name "c$i" -- "$CHILD" > /dev/null
    done
    # (the minority always runs one, whatever the hash does with this subnet)
    netns_ctl 1 start-child c15 --name c15 --node "$(netns_node 5)" -- "$CHILD" > /dev/null
    wait_until 15 all_run_once 15
    minority=$(ids_on_hosts 4 5)
    [ -n "$minority" ]
    echo_at 1 r1 --register r1
    echo_at 5 r5 --register r5
    wait_until 10 agreed r5 1 2 3 4 5

    netns_split "1 2 3" "4 5"
    wait_until 15 members_are 3 1 2 3
    # The minority has no quorum: its children stop; the majority takes them.
    wait_until 15 none_alive $minority
    for id in $minority; do wait_until 20 answers_from 1 "$id"; done
    all_run_once 15
    never_twice
    # Each side's registry drops the other side's names, and can register
    # one the other side also takes.
    wait_until 10 unknown_on 1 r5
    wait_until 10 unknown_on 5 r1
    echo_at 2 dup_major --register dup
    echo_at 4 dup_minor --register dup

    netns_heal
    wait_until 30 netns_mesh 1 2 3 4 5
    wait_until 20 members_are 5 1 2 3 4 5
    # The supervisor: every child once, answering by name from every host.
    wait_until 30 everyone_answers 15 || { report; false; }
    all_run_once 15
    never_twice
    # The registry: one holder of `dup` everywhere, the loser told; r1 and r5
    # found everywhere again.
    wait_until 15 agreed dup 1 2 3 4 5
    wait_until 15 agreed r5 1 2 3 4 5
    wait_until 15 agreed r1 1 2 3 4 5
    [ "$(whereis_on 3 r5)" = "$(netns_node 5)" ]
    wait_until 10 bash -c "cat '$BATS_TEST_TMPDIR/dup_major.out' '$BATS_TEST_TMPDIR/dup_minor.out' | grep -c '^lost dup to ' | grep -qx 1"
}
