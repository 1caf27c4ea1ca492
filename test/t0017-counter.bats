#!/usr/bin/env bats
# The counter example (examples/counter): a POSIX shell script run by otp-sup
# as a named child, called by name from any node; it moves to a survivor when
# its node is killed (kill -9) or drains (SIGTERM), keeping its count (a
# checkpoint, held by a majority of the members). The walk-through of
# examples/counter/README.md, step by step.
load helper
load sup

COUNTER="$(cd "$BATS_TEST_DIRNAME/.." && pwd)/examples/counter/counter.sh"

# running PID: alive, and not a zombie waiting for a reaper (a child whose
# otp-sup was killed is adopted by init, which may be slow to reap it).
running () {
    local stat
    stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ "$stat" != Z* ]]
}
gone () { ! running "$1"; }

members_are () {
    local want=$1 n; shift
    for n in "$@"; do
        otp-ctl -n "$n@127.0.0.1" sup-info | grep -qx "members *$want" || return 1
    done
}

# call NODE MESSAGE: a call to the name counter, from NODE.
call () { otp-ctl -n "$1@127.0.0.1" call counter "$2" --timeout 2000; }
# answers NODE MESSAGE REPLY: the call answers REPLY.
answers () { local out; out=$(call "$1" "$2") && [ "$out" = "$3" ]; }

# where NODE: which-children, asked on NODE: the counter's node and pid.
where () { otp-ctl -n "$1@127.0.0.1" which-children | awk '$1 == "counter" { print $2, $3, $4 }'; }
# runs_on ASKED NODE: ASKED says the counter runs on NODE.
runs_on () { [ "$(where "$1" | awk '$3 == "running" { print $1 }')" = "$2@127.0.0.1" ]; }

# Three nodes n1..n3, otp-reg and otp-sup beside each, as scripts/start-cluster
# makes them, and the counter started from n1. Sets HOST (short name of the
# node it runs on), OLD_PID, and SURVIVOR (another node).
counter_cluster () {
    reg_cluster n1 n2 n3
    local n
    for n in n1 n2 n3; do start_sup "$n"; done
    wait_until 10 members_are 3 n1 n2 n3
    run otp-ctl -n n1@127.0.0.1 start-child counter --name counter -- "$COUNTER"
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^counter\ started\ on\ n[123]@127\.0\.0\.1\ pid\ [0-9]+$ ]]
    HOST=$(echo "$output" | awk '{ print $4 }'); HOST=${HOST%@*}
    OLD_PID=$(echo "$output" | awk '{ print $6 }')
    for n in n1 n2 n3; do
        wait_until 10 runs_on "$n" "$HOST"
        [ "$n" != "$HOST" ] && SURVIVOR=$n
    done
    running "$OLD_PID"
    wait_until 10 answers n1 get 0
}

@test "the counter: inc, get and add by name from every node; kill -9 of its node: a survivor answers, with the count" {
    counter_cluster
    [ "$(call n1 inc)" = 1 ]
    [ "$(call n2 inc)" = 2 ]
    [ "$(call n3 inc)" = 3 ]
    [ "$(call n3 'add 39')" = 42 ]
    [ "$(call n2 get)" = 42 ]
    [ "$(otp-ctl -n n1@127.0.0.1 whereis counter)" = "$HOST@127.0.0.1" ]

    # kill -9 the node, its otp-reg and its otp-sup
    kill -9 "$(pid_of "$HOST")" "$(reg_pid_of "$HOST")" "$(sup_pid_of "$HOST")"
    # Answers again from a survivor, with the count: each inc was answered
    # only once a majority of the members held it.
    wait_until 10 answers "$SURVIVOR" get 42
    [ "$(call "$SURVIVOR" inc)" = 43 ]
    new=$(where "$SURVIVOR")
    echo "# counter moved: $HOST -> $new" >&3
    node=$(echo "$new" | awk '{ print $1 }'); pid=$(echo "$new" | awk '{ print $2 }')
    [ "$node" != "$HOST@127.0.0.1" ]
    [[ "$node" == n[123]@127.0.0.1 ]]
    [ "$(echo "$new" | awk '{ print $3 }')" = running ]
    running "$pid"
    # The other survivor says the same; the old process is gone (it died with
    # its otp-sup).
    for n in n1 n2 n3; do
        [ "$n" = "$HOST" ] && continue
        wait_until 10 runs_on "$n" "${node%@*}"
        [ "$(call "$n" inc)" -ge 44 ]
    done
    wait_until 10 gone "$OLD_PID"
    # Either survivor may write the move (both pick the same heir); the
    # heir started it.
    cat "$BATS_TEST_TMPDIR"/n?.sup.log | grep -q "counter: its member $HOST@127.0.0.1 is gone"
    grep -q "counter: started" "$BATS_TEST_TMPDIR/${node%@*}.sup.log"
}

@test "the counter: SIGTERM to its node hands it off, with its count, to a survivor before the node leaves" {
    counter_cluster
    [ "$(call n1 inc)" = 1 ]
    [ "$(call n2 'add 9')" = 10 ]
    kill -TERM "$(pid_of "$HOST")"
    wait_until 10 answers "$SURVIVOR" get 10
    [ "$(call "$SURVIVOR" inc)" = 11 ]
    new=$(where "$SURVIVOR")
    node=$(echo "$new" | awk '{ print $1 }')
    [ "$node" != "$HOST@127.0.0.1" ]
    # The node and its otp-sup exit by themselves once the child is handed off.
    wait_until 15 bash -c "! kill -0 $(pid_of "$HOST") 2>/dev/null"
    wait_until 15 bash -c "! kill -0 $(sup_pid_of "$HOST") 2>/dev/null"
    gone "$OLD_PID"
    grep -q "counter: handed off to $node" "$BATS_TEST_TMPDIR/$HOST.sup.log"
    grep -q "counter: stopped" "$BATS_TEST_TMPDIR/$HOST.sup.log"
    wait_until 10 grep -q "nodedown $HOST@127.0.0.1 (left)" "$BATS_TEST_TMPDIR/${node%@*}.log"
    wait_until 10 runs_on "$SURVIVOR" "${node%@*}"
}

@test "the counter: an unknown command or a bad number answers an error line; the counter goes on" {
    counter_cluster
    [ "$(call n2 inc)" = 1 ]
    run call n1 hello
    [ "$status" -eq 0 ]
    [ "$output" = "error: unknown command 'hello'" ]
    run call n3 "add x"
    [ "$status" -eq 0 ]
    [ "$output" = "error: add needs a whole number, not 'x'" ]
    # A newline inside a message becomes a space: one message, one line.
    run call n1 $'inc\nget'
    [ "$status" -eq 0 ]
    [ "$output" = "error: unknown command 'inc get'" ]
    [ "$(call n1 get)" = 1 ]
    [ "$(call n1 inc)" = 2 ]
}
