#!/usr/bin/env bats
# The cluster supervisor across a real partition (network namespaces, see
# test/netns.bash): with the quorum strategy the minority stops its
# children and no child ever runs twice; with any strategy, after the heal
# every child runs exactly once and answers by name everywhere.
load helper
load netns
load sup

# start_children_on HOST N: c1..cN, started through HOST. The strategy
# places all but cN, which goes to host 3 (--node): the host the tests cut
# off always runs one (by hash alone, about 1 subnet in 140 gives it none).
start_children_on () {
    local i
    for i in $(seq 1 $(($2 - 1))); do
        netns_ctl "$1" start-child "c$i" --name "c$i" -- "$CHILD" > /dev/null || return 1
    done
    netns_ctl "$1" start-child "c$2" --name "c$2" --node "$(netns_node 3)" -- "$CHILD" > /dev/null
}

ids_on_host () {
    netns_ctl "$1" which-children | awk -v n="$(netns_node "$2")" '$2 == n { print $1 }'
}

owner_on () { netns_ctl "$1" which-children | awk -v id="$2" '$1 == id { print $2 }'; }

# reached_from HOST ID: a call by name from HOST reaches one of ID's processes.
reached_from () {
    local out
    out=$(netns_ctl "$1" call "$2" who --timeout 2000) || return 1
    live_pids "$2" | grep -qx "$(echo "$out" | cut -d' ' -f2)"
}

# After a failure: what each replica and member holds, and what the
# registry and supervisors said about names.
names_report () {
    local h
    for h in 1 2 3; do
        echo "# host $h names: $(netns_ctl "$h" names 2>&1 | tr '\n' ' ')"
        netns_ctl "$h" which-children 2>&1 | sed "s/^/# host $h: /"
        grep -h -E 'lost|name|moved|stop' "$BATS_TEST_TMPDIR/h$h.sup.log" \
            "$BATS_TEST_TMPDIR/h$h.reg.log" | tail -40 | sed "s/^/# host $h log: /"
    done >&3
}
# truth_everywhere N: which-children on every host shows c1..cN where they
# run: the same node, the pid of the one live process, status running.
truth_everywhere () {
    local n=$1 i h pid row
    for i in $(seq 1 "$n"); do
        pid=$(live_pids "c$i")
        [ "$(echo "$pid" | wc -w)" -eq 1 ] || return 1
        for h in 1 2 3; do
            row=$(netns_ctl "$h" which-children | awk -v id="c$i" '$1 == id { print $3, $4 }')
            [ "$row" = "$pid running" ] || { TRUTH_WRONG="host $h: c$i $row, not $pid running"; return 1; }
        done
    done
}

everyone_answers () {
    local n=$1 i h
    for i in $(seq 1 "$n"); do
        for h in 1 2 3; do answers_from "$h" "c$i" || return 1; done
    done
}

@test "quorum: the minority stops its children, the majority takes them, none ever runs twice; after the heal each runs once" {
    part_cluster --strategy quorum --members 3 --failover-delay 1000
    write_child
    start_children_on 1 12
    wait_until 10 all_run_once 12
    minority=$(ids_on_host 1 3)
    [ -n "$minority" ] || { names_report; false; }
    netns_cut 3
    # The minority sees no majority: its children stop ...
    wait_until 10 none_alive $minority
    grep -q "quorum" "$BATS_TEST_TMPDIR/h3.sup.log"
    # ... and the majority runs them, after its failover delay.
    for id in $minority; do wait_until 15 answers_from 1 "$id"; done
    all_run_once 12
    never_twice
    # The minority refuses new children while it has no quorum.
    run netns_ctl 3 start-child late -- "$CHILD"
    [ "$status" -eq 1 ]
    [[ "$output" == *"no quorum"* ]]
    netns_restore 3
    wait_until 20 netns_mesh 1 2 3
    wait_until 15 members_are 3 1 2 3
    wait_until 15 everyone_answers 12
    all_run_once 12
    never_twice
    # One source of truth: every host shows each child's one live process
    # (a member that does not run a child has no say in how it runs).
    wait_until 3 truth_everywhere 12 || { echo "# $TRUTH_WRONG" >&3; names_report; false; }
    [ "$(netns_ctl 1 which-children | awk 'NR > 1 { print $1, $2 }')" = \
      "$(netns_ctl 3 which-children | awk 'NR > 1 { print $1, $2 }')" ]
}

@test "uniform: both sides of a partition run their children; after the heal every child runs exactly once" {
    part_cluster
    write_child
    start_children_on 1 12
    wait_until 10 all_run_once 12
    netns_split "1 2" "3"
    wait_until 10 members_are 1 3
    wait_until 10 members_are 2 1 2
    # Each side restarts the other side's children: during the partition
    # a child may run on both sides (this is what quorum prevents).
    for i in $(seq 1 12); do
        wait_until 15 reached_from 3 "c$i"
        wait_until 15 reached_from 1 "c$i"
    done
    netns_heal
    wait_until 20 netns_mesh 1 2 3
    wait_until 20 all_run_once 12
    wait_until 15 everyone_answers 12 || { names_report; false; }
    [ "$(netns_ctl 1 which-children | awk 'NR > 1 { print $1, $2 }')" = \
      "$(netns_ctl 2 which-children | awk 'NR > 1 { print $1, $2 }')" ]
    [ "$(netns_ctl 1 which-children | awk 'NR > 1 { print $1, $2 }')" = \
      "$(netns_ctl 3 which-children | awk 'NR > 1 { print $1, $2 }')" ]
}

@test "quorum: a member cut for less than the failover delay stops its children, and runs them again when it is back" {
    part_cluster --strategy quorum --members 3 --failover-delay 5000
    write_child
    start_children_on 1 12
    wait_until 10 all_run_once 12
    minority=$(ids_on_host 1 3)
    [ -n "$minority" ]
    netns_cut 3
    wait_until 10 none_alive $minority
    netns_restore 3
    wait_until 20 netns_mesh 1 2 3
    # Back within the delay: nobody took them, so their member runs them again.
    for id in $minority; do wait_until 15 answers_from 1 "$id"; done
    for id in $minority; do [ "$(owner_on 1 "$id")" = "$(netns_node 3)" ]; done
    all_run_once 12
    never_twice
}
