#!/usr/bin/env bats
# The cluster supervisor: otp-sup beside each node; every child runs on
# exactly one member, answers by name, and moves when its member dies or
# drains.
load helper
load sup

# sup_cluster NAME... [-- otp-sup options]: nodes, a registry and otp-sup
# beside each, all members of one another.
sup_cluster () {
    local nodes=() opts=() n
    while [ $# -gt 0 ] && [ "$1" != -- ]; do nodes+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift
    opts=("$@")
    reg_cluster "${nodes[@]}"
    for n in "${nodes[@]}"; do start_sup "$n" "${opts[@]}"; done
    wait_until 10 all_members "${#nodes[@]}" "${nodes[@]}"
}

all_members () {
    local want=$1 n; shift
    for n in "$@"; do
        otp-ctl -n "$n@127.0.0.1" sup-info | grep -qx "members *$want" || return 1
    done
}

# start_children NODE COUNT: c1..cCOUNT, named like their ids.
start_children () {
    local i
    for i in $(seq 1 "$2"); do
        otp-ctl -n "$1@127.0.0.1" start-child "c$i" --name "c$i" -- "$CHILD" > /dev/null || return 1
    done
}

# answers_on NODE ID: a call by name, from NODE, reaches ID's one process.
answers_on () {
    local out
    out=$(otp-ctl -n "$1@127.0.0.1" call "$2" who --timeout 2000) || return 1
    [ "$(echo "$out" | cut -d' ' -f2)" = "$(live_pids "$2")" ]
}
owner_of () {
    otp-ctl -n "$1@127.0.0.1" which-children | awk -v id="$2" '$1 == id { print $2 }'
}
ids_on () {
    otp-ctl -n "$1@127.0.0.1" which-children | awk -v n="$2@127.0.0.1" '$2 == n { print $1 }'
}
kill_host () {
    kill -9 "$(sup_pid_of "$1")" "$(reg_pid_of "$1")" "$(pid_of "$1")"
}

@test "a child started from any member runs once, where every member says, and answers by name" {
    sup_cluster a b c
    write_child
    run otp-ctl -n a@127.0.0.1 start-child c1 --name c1 -- "$CHILD"
    [ "$status" -eq 0 ]
    [[ "$output" == "c1 started on "*"@127.0.0.1 pid "* ]]
    node=$(echo "$output" | awk '{ print $4 }')
    wait_until 5 runs_once c1
    for n in a b c; do
        wait_until 5 prints "$node" owner_of "$n" c1
        run otp-ctl -n "$n@127.0.0.1" call c1 inc
        [ "$status" -eq 0 ]
    done
    run otp-ctl -n b@127.0.0.1 call c1 inc
    [ "$output" = 4 ]
    run otp-ctl -n c@127.0.0.1 count-children
    [ "$output" = "$(printf 'specs 1\nactive 1\nsupervisors 0\nworkers 1')" ]
    run otp-ctl -n c@127.0.0.1 --json which-children
    [[ "$output" == *'"id":"c1"'*'"node":"'"$node"'"'* ]]
}

@test "stop, restart and delete work from any member; placement on a chosen member" {
    sup_cluster a b c
    write_child
    otp-ctl -n a@127.0.0.1 start-child w --name w --node c@127.0.0.1 -- "$CHILD"
    wait_until 5 runs_once w
    [ "$(owner_of a w)" = c@127.0.0.1 ]
    first=$(live_pids w)
    # stop-child answers once the process is gone, wherever it ran.
    run otp-ctl -n a@127.0.0.1 stop-child w
    [ "$status" -eq 0 ]
    run alive "$first"
    [ "$status" -ne 0 ]
    wait_until 5 bash -c "otp-ctl -n b@127.0.0.1 which-children | grep -q '^w .* stopped '"
    run otp-ctl -n b@127.0.0.1 call w inc --timeout 1000
    [ "$status" -ne 0 ]
    run otp-ctl -n b@127.0.0.1 restart-child w
    [ "$status" -eq 0 ]
    wait_until 5 runs_once w
    [ "$(live_pids w)" != "$first" ]
    wait_until 5 answers_on b w
    otp-ctl -n c@127.0.0.1 stop-child w
    run otp-ctl -n b@127.0.0.1 delete-child w
    [ "$status" -eq 0 ]
    wait_until 5 prints_nothing bash -c "otp-ctl -n a@127.0.0.1 which-children | grep '^w '"
    # The id is free again.
    run otp-ctl -n b@127.0.0.1 start-child w --name w -- "$CHILD"
    [ "$status" -eq 0 ]
    wait_until 5 answers_on a w
    never_twice
}

@test "child commands: errors are one line and change nothing" {
    sup_cluster a b
    write_child
    start_children a 2
    wait_until 5 all_run_once 2
    before=$(otp-ctl -n a@127.0.0.1 which-children)
    run otp-ctl -n a@127.0.0.1 start-child c1 --name other -- "$CHILD"
    [ "$status" -eq 1 ]
    [[ "$output" == *"child c1 is already present"* ]]
    run otp-ctl -n b@127.0.0.1 start-child bad -- /nonexistent/program
    [ "$status" -eq 1 ]
    [[ "$output" == *"cannot run /nonexistent/program"* ]]
    [ "${#lines[@]}" -eq 1 ]
    run otp-ctl -n b@127.0.0.1 start-child x --restart sometimes -- "$CHILD"
    [ "$status" -eq 2 ]
    [[ "$output" == *"restart must be permanent, transient or temporary"* ]]
    run otp-ctl -n b@127.0.0.1 start-child 'bad id' -- "$CHILD"
    [ "$status" -eq 2 ]
    run otp-ctl -n b@127.0.0.1 start-child y --node nowhere@127.0.0.1 -- "$CHILD"
    [ "$status" -eq 1 ]
    [[ "$output" == *"not a member"* ]]
    run otp-ctl -n a@127.0.0.1 stop-child nosuch
    [ "$status" -eq 1 ]
    [[ "$output" == *"no child nosuch"* ]]
    run otp-ctl -n a@127.0.0.1 restart-child c1
    [ "$status" -eq 1 ]
    [[ "$output" == *"running"* ]]
    run otp-ctl -n a@127.0.0.1 delete-child c2
    [ "$status" -eq 1 ]
    [[ "$output" == *"running"* ]]
    # A name already held elsewhere: the child does not start.
    run otp-ctl -n a@127.0.0.1 start-child c3 --name c1 -- "$CHILD"
    [ "$status" -eq 1 ]
    [[ "$output" == *"c1"* ]]
    [ "$(otp-ctl -n a@127.0.0.1 which-children)" = "$before" ]
    all_run_once 2
    [ "$(otp-ctl -n b@127.0.0.1 call c1 inc)" = 1 ]
}

@test "kill -9 of a node: each of its 30 children runs again exactly once on a survivor and answers by name" {
    sup_cluster a b c
    write_child
    start_children a 30
    wait_until 10 all_run_once 30
    victims=$(ids_on a b)
    [ -n "$victims" ]
    kill_host b
    for id in $victims; do
        wait_until 10 answers_on a "$id"
        runs_once "$id"
        answers_on c "$id"
        owner=$(owner_of a "$id")
        [ "$owner" = a@127.0.0.1 ] || [ "$owner" = c@127.0.0.1 ]
    done
    all_run_once 30
    # Survivors' own children did not move or restart.
    [ -z "$(ids_on a b)" ]
    [ "$(grep -c '^start' "$EVENTS")" -eq $(( 30 + $(echo "$victims" | wc -w) )) ]
}

@test "SIGTERM of a node hands its children off: none lost, none ever twice" {
    sup_cluster a b c
    write_child
    start_children c 30
    wait_until 10 all_run_once 30
    moving=$(ids_on a b)
    [ -n "$moving" ]
    kill -TERM "$(pid_of b)"
    for id in $moving; do wait_until 10 answers_on c "$id"; done
    wait_until 10 gone "$(pid_of b)"
    run alive "$(sup_pid_of b)"
    [ "$status" -ne 0 ]
    all_run_once 30
    never_twice
    grep -q "handed off" "$BATS_TEST_TMPDIR/b.sup.log"
    # Each moved child stopped by SIGTERM before its heir started.
    for id in $moving; do grep -q "^stop $id " "$EVENTS"; done
}

@test "kill -9 of otp-sup alone: its children die with it and run again elsewhere" {
    sup_cluster a b c
    write_child
    start_children a 12
    wait_until 10 all_run_once 12
    victims=$(ids_on a c)
    [ -n "$victims" ]
    kill -9 "$(sup_pid_of c)"
    for id in $victims; do wait_until 10 answers_on a "$id"; done
    all_run_once 12
}

@test "kill -9 of the node alone: its otp-sup stops its children and exits; they run elsewhere" {
    sup_cluster a b c
    write_child
    start_children a 12
    wait_until 10 all_run_once 12
    victims=$(ids_on a c)
    [ -n "$victims" ]
    kill -9 "$(pid_of c)"
    wait_until 10 gone "$(sup_pid_of c)"
    for id in $victims; do wait_until 10 answers_on b "$id"; done
    all_run_once 12
}

@test "restart types across the cluster: temporary is not restarted, transient only on failure" {
    sup_cluster a b
    write_child
    otp-ctl -n a@127.0.0.1 start-child t --restart temporary --node b@127.0.0.1 -- "$CHILD"
    otp-ctl -n a@127.0.0.1 start-child tr --restart transient --node b@127.0.0.1 -- "$CHILD"
    otp-ctl -n a@127.0.0.1 start-child p --node b@127.0.0.1 -- "$CHILD"
    wait_until 5 runs_once t
    wait_until 5 runs_once tr
    wait_until 5 runs_once p
    kill -9 "$(live_pids t)"
    kill -TERM "$(live_pids tr)"        # the child's trap exits 0: normal
    kill -9 "$(live_pids p)"
    wait_until 5 runs_once p
    wait_until 5 bash -c "! otp-ctl -n a@127.0.0.1 which-children | grep -q '^t '"
    wait_until 5 bash -c "otp-ctl -n a@127.0.0.1 which-children | grep -q '^tr .* stopped '"
    [ -z "$(live_pids t)" ]
    [ -z "$(live_pids tr)" ]
    run otp-ctl -n a@127.0.0.1 restart-child tr
    [ "$status" -eq 0 ]
    wait_until 5 runs_once tr
}

@test "random placement spreads children; they still fail over" {
    sup_cluster a b c -- --strategy random
    write_child
    start_children a 24
    wait_until 10 all_run_once 24
    used=$(otp-ctl -n a@127.0.0.1 which-children | awk 'NR > 1 { print $2 }' | sort -u | wc -l)
    [ "$used" -ge 2 ]
    victims=$(ids_on a c)
    kill_host c
    for id in $victims; do wait_until 10 answers_on a "$id"; done
    all_run_once 24
}

@test "garbage sent to otp-sup gets an error and changes nothing" {
    sup_cluster a b
    write_child
    start_children a 2
    wait_until 5 all_run_once 2
    before=$(otp-ctl -n b@127.0.0.1 which-children)
    # otp-ctl call prints the reply's payload: here an encoded error.
    run otp-ctl -n a@127.0.0.1 call otp-sup@a@127.0.0.1 garbage
    [[ "$output" == *"error"*"not a request"* ]]
    # A frame list with an unknown request, and one whose length runs past the end.
    run otp-ctl -n a@127.0.0.1 call otp-sup@a@127.0.0.1 "$(printf '\003foo')"
    [[ "$output" == *"error"*"unknown command"* ]]
    run otp-ctl -n a@127.0.0.1 call otp-sup@a@127.0.0.1 "$(printf '\005start\377\000\000\377\377x')"
    [[ "$output" == *"error"* ]]
    # A HELLO from someone who is not otp-sup is not a member's.
    run otp-ctl -n a@127.0.0.1 send otp-sup@b@127.0.0.1 "$(printf '\005HELLO\007uniform')"
    [ "$status" -eq 0 ]
    # A spec without a value for its last key.
    run otp-ctl -n a@127.0.0.1 call otp-sup@a@127.0.0.1 "$(printf '\005start\002id\001x\007command')"
    [[ "$output" == *"error"* ]]
    [ "$(otp-ctl -n b@127.0.0.1 which-children)" = "$before" ]
    [ "$(otp-ctl -n a@127.0.0.1 call c1 inc)" = 1 ]
    kill -0 "$(sup_pid_of a)"
    kill -0 "$(sup_pid_of b)"
}

@test "--rebalance: a member that joins gets the children its hash gives it, moved without overlap" {
    sup_cluster a b -- --rebalance
    write_child
    start_children a 20
    wait_until 10 all_run_once 20
    [ -z "$(ids_on a c)" ]
    start_node c
    wait_until 10 full_mesh a b c
    start_reg c
    start_sup c --rebalance
    wait_until 10 prints_something ids_on a c
    moved=$(ids_on a c)
    for id in $moved; do wait_until 10 answers_on b "$id"; done
    all_run_once 20
    never_twice
    grep -q "rebalancing" "$BATS_TEST_TMPDIR/a.sup.log" "$BATS_TEST_TMPDIR/b.sup.log"
}

@test "without --rebalance, children stay where they run when a member joins" {
    sup_cluster a b
    write_child
    start_children a 12
    wait_until 10 all_run_once 12
    before=$(otp-ctl -n a@127.0.0.1 which-children | awk '{ print $1, $2, $3 }')
    start_node c
    wait_until 10 full_mesh a b c
    start_reg c
    start_sup c
    wait_until 10 all_members 3 a b c
    [ "$(otp-ctl -n c@127.0.0.1 which-children | awk '{ print $1, $2, $3 }')" = "$before" ]
}

@test "a call whose child stops before it replies fails at once (noproc), not at its time-out" {
    sup_cluster a b
    local slow="$BATS_TEST_TMPDIR/slow.sh"
    cat > "$slow" <<'EOF2'
#!/bin/sh
trap 'exit 0' TERM
while read -r line; do
    case "$line" in
        hang) sleep 30 & wait $! ;;
        *) echo "pong $line" ;;
    esac
done
EOF2
    chmod +x "$slow"
    otp-ctl -n a@127.0.0.1 start-child s1 --name s1 -- "$slow" > /dev/null
    wait_until 5 bash -c "[ \"\$(otp-ctl -n a@127.0.0.1 call s1 x)\" = 'pong x' ]"
    local t0 took status=0
    t0=$(now_ms)
    otp-ctl -n a@127.0.0.1 call s1 hang --timeout 20000 > "$BATS_TEST_TMPDIR/call.out" 2>&1 &
    track $!
    local caller=$!
    sleep 1
    otp-ctl -n a@127.0.0.1 stop-child s1 > /dev/null
    wait "$caller" || status=$?
    took=$(( $(now_ms) - t0 ))
    echo "# the call: exit $status after $took ms: $(cat "$BATS_TEST_TMPDIR/call.out")" >&3
    [ "$status" -ne 0 ]
    grep -q "exited before it replied" "$BATS_TEST_TMPDIR/call.out"
    [ "$took" -lt 10000 ]
}

# A tagged child (messages = tagged): "ID MSG" for a call, "- MSG" for a
# plain message; it answers "ID REPLY". `slow` answers after 2 s from the
# background, `twice` answers twice, `mute` never answers, `noise` writes a
# line with no id first.
write_tagged_child () {
    TAGGED="$BATS_TEST_TMPDIR/tagged.sh"
    cat > "$TAGGED" <<'EOF2'
#!/bin/bash
trap 'exit 0' TERM
while read -r id msg; do
    [ "$id" = - ] && continue
    case "$msg" in
        slow) (sleep 2; echo "$id slow done") & ;;
        twice) echo "$id first"; echo "$id second" ;;
        mute) ;;
        noise) echo "hello from the child"; echo "$id quiet" ;;
        *) echo "$id pong $msg" ;;
    esac
done
EOF2
    chmod +x "$TAGGED"
}

@test "tagged calls: replies match their calls in any order; a repeated, late or missing reply breaks no other call" {
    sup_cluster a b
    write_tagged_child
    otp-ctl -n a@127.0.0.1 start-child t1 --name t1 --messages tagged -- "$TAGGED" > /dev/null
    wait_until 5 bash -c "[ \"\$(otp-ctl -n a@127.0.0.1 call t1 x)\" = 'pong x' ]"
    # A slow call and a fast one at once: each gets its own answer, the
    # fast one first.
    otp-ctl -n a@127.0.0.1 call t1 slow --timeout 10000 > "$BATS_TEST_TMPDIR/slow.out" &
    track $!
    local slow=$!
    sleep 0.3
    [ "$(otp-ctl -n b@127.0.0.1 call t1 fast)" = "pong fast" ]
    kill -0 "$slow"
    wait "$slow"
    [ "$(cat "$BATS_TEST_TMPDIR/slow.out")" = "slow done" ]
    # Answered twice: the second line is dropped, and counted.
    [ "$(otp-ctl -n a@127.0.0.1 call t1 twice)" = "first" ]
    # Never answered: that caller times out; the next ones get their own.
    run otp-ctl -n a@127.0.0.1 call t1 mute --timeout 500
    [ "$status" -ne 0 ]
    local i
    for i in 1 2 3; do
        [ "$(otp-ctl -n b@127.0.0.1 call t1 "n$i")" = "pong n$i" ]
    done
    # A line without an id is the child's output, not a reply.
    [ "$(otp-ctl -n a@127.0.0.1 call t1 noise)" = "quiet" ]
    wait_until 5 grep -q "hello from the child" "$BATS_TEST_TMPDIR"/*.sup.log
    # A plain message is no call: nothing answers it, nothing shifts.
    otp-ctl -n a@127.0.0.1 send t1 "just so" > /dev/null
    [ "$(otp-ctl -n a@127.0.0.1 call t1 after)" = "pong after" ]
    local host
    host=$(otp-ctl -n a@127.0.0.1 which-children | awk '$1 == "t1" { sub(/@.*/, "", $2); print $2 }')
    [ "$(otp-ctl -n "$host@127.0.0.1" sup-info | awk '$1 == "replies_unmatched" { print $2 }')" -ge 1 ]
}
