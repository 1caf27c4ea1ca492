# The counter example (examples/counter) on three loopback nodes: shared by
# the suites that drive it (t0017, t0033).

COUNTER="$(cd "$BATS_TEST_DIRNAME/.." && pwd)/examples/counter/counter.sh"

# running PID: alive, and not a zombie waiting for a reaper (a child whose
# otp-sup was killed is adopted by init, which may be slow to reap it).
running () {
    local stat
    stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ "$stat" != Z* ]]
}
gone () { ! running "$1"; }

counter_members () {
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
    wait_until 10 counter_members 3 n1 n2 n3
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
