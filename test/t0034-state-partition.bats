#!/usr/bin/env bats
# Checkpoints across a real partition (network namespaces, test/netns.bash),
# with the counter (examples/counter) on the host that is cut off. Quorum:
# that side's checkpoints are refused, the majority counts on from the last
# answered one, nothing answered is lost. Uniform: both sides count on;
# after the heal, the one instance left is started with both states.
load helper
load netns
load sup

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
COUNTER="$ROOT/examples/counter/counter.sh"
VERSION=$(sed -n 's/^VERSION *:= *//p' "$ROOT/Makefile")

# ccall HOST MESSAGE [MS]: a call to the name counter, from HOST.
ccall () { netns_ctl "$1" call counter "$2" --timeout "${3:-3000}"; }

# counter_on_3: the counter placed on host 3, counted to 5 from host 1.
counter_on_3 () {
    netns_ctl 1 start-child counter --name counter --node "$(netns_node 3)" -- "$COUNTER" > /dev/null
    wait_until 10 prints 0 ccall 1 get
    local i
    for i in 1 2 3 4 5; do [ "$(ccall 1 inc)" = "$i" ] || return 1; done
}

refused_on () { netns_ctl "$1" sup-info | awk '$1 == "checkpoints_refused" { print $2 }'; }

@test "quorum: the counter's host is cut off at 5: its checkpoint there is refused (noquorum), the majority counts on from 5, nothing answered is lost; after the heal the count goes on" {
    part_cluster --strategy quorum --members 3 --failover-delay 1000
    counter_on_3
    netns_cut 3
    # On the minority side the counter still runs for a moment: its inc is
    # not answered with a count, since no majority holds it.
    run ccall 3 inc 8000
    echo "# minority: $output" >&3
    [[ "$output" == "error: not saved: error noquorum "* ]]
    [ "$(refused_on 3)" -ge 1 ]
    # The majority runs it, after its failover delay, from 5.
    wait_until 20 prints 5 ccall 1 get
    for i in 6 7 8; do [ "$(ccall 1 inc)" = "$i" ]; done
    [ "$(ccall 2 get)" = 8 ]
    netns_restore 3
    wait_until 20 netns_mesh 1 2 3
    wait_until 15 members_are 3 1 2 3
    wait_until 15 prints 8 ccall 3 get
    [ "$(ccall 3 inc)" = 9 ]
    [ "$(ccall 2 get)" = 9 ]
    [ "$(ccall 1 info)" = "count 9 release $VERSION state-from $VERSION merged none" ]
}

@test "uniform: split with the counter on the small side at 5; both sides count on; after the heal its one instance starts with both states, and keeps the larger count" {
    part_cluster
    counter_on_3
    netns_split "1 2" "3"
    wait_until 10 members_are 1 3
    wait_until 10 members_are 2 1 2
    # The small side is a majority of what it sees: it counts on.
    for i in 6 7 8 9; do [ "$(ccall 3 inc)" = "$i" ]; done
    # The other side starts its own instance, from 5.
    wait_until 15 prints 5 ccall 1 get
    for i in 6 7; do [ "$(ccall 1 inc)" = "$i" ]; done
    netns_heal
    wait_until 20 netns_mesh 1 2 3
    # One instance is left (the version the larger side wrote wins); it is
    # started again with its own state (7) and the other's (9): merged.
    wait_until 20 prints 9 ccall 1 get
    [[ "$(ccall 2 info)" == "count 9 release "*" merged 9" ]]
    [ "$(ccall 3 get)" = 9 ]
    [ "$(ccall 3 inc)" = 10 ]
    [ "$(ccall 1 get)" = 10 ]
    merges=0
    for h in 1 2; do merges=$((merges + $(netns_ctl "$h" sup-info | awk '$1 == "state_merges" { print $2 }'))); done
    [ "$merges" -eq 1 ]
}
