#!/usr/bin/env bats
# The counter example (examples/counter): a POSIX shell script run by otp-sup
# as a named child, called by name from any node; it moves to a survivor when
# its node is killed (kill -9) or drains (SIGTERM), keeping its count (a
# checkpoint, held by a majority of the members). The walk-through of
# examples/counter/README.md, step by step.
load helper
load sup
load counter

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
