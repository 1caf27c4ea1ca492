#!/usr/bin/env bats
# A rolling restart (scripts/rolling-restart) of a 3-node cluster with 10
# named children: every call made during it succeeds, or a retry of it does
# within the failover time; no child ever runs twice; every node is new.
load helper
load sup

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
FAILOVER_MS=2000

# What rolling-restart starts is recorded in the run dir: stopped by PID too.
eval "helper_$(declare -f teardown)"
teardown () {
    [ -n "${OTP_RUN_DIR:-}" ] && track_run
    helper_teardown
}

# track_run: every otp- process recorded in the run dir, for teardown.
track_run () {
    local f p
    for f in "$OTP_RUN_DIR"/*.pid; do
        p=$(cat "$f" 2>/dev/null) || continue
        [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == otp-* ]] && track "$p"
    done
    return 0
}

# caller LOG STOP FIRST: until the file STOP exists, calls c1..c10 by name,
# each in turn from cFIRST, through n1, n2, n3 in turn. A call that fails is
# retried (through the next node) every 50 ms until one succeeds or
# FAILOVER_MS have passed. One line per attempt: ID NODE START_MS END_MS
# STATUS ATTEMPT REPLY.
caller () {
    local log=$1 stop=$2 k=$3 i node first start end st attempt out
    while [ ! -e "$stop" ]; do
        for i in $(seq "$3" 10) $(seq 1 $(($3 - 1))); do
            attempt=0
            first=$(date +%s%3N)
            while :; do
                node=n$((k % 3 + 1))@127.0.0.1
                k=$((k + 1))
                attempt=$((attempt + 1))
                start=$(date +%s%3N)
                st=0
                out=$(otp-ctl -t 1000 -n "$node" call "c$i" who --timeout 1000 2>&1) || st=$?
                end=$(date +%s%3N)
                echo "c$i $node $start $end $st $attempt ${out//$'\n'/ }" >> "$log"
                [ "$st" -eq 0 ] && break
                [ $((end - first)) -gt $((FAILOVER_MS + 1000)) ] && break
                sleep 0.05
            done
        done
    done
}

@test "a rolling restart of 3 nodes keeps 10 named children answering: calls succeed or a retry does within the failover time; no child runs twice" {
    start_epmd
    export OTP_RUN_DIR="$BATS_TEST_TMPDIR/run"
    run "$ROOT/scripts/start-cluster" 3 3>&-
    [ "$status" -eq 0 ]
    track_run
    old=$(cat "$OTP_RUN_DIR"/n[123].pid "$OTP_RUN_DIR"/n[123].reg.pid "$OTP_RUN_DIR"/n[123].sup.pid)
    [ "$(echo "$old" | wc -l)" -eq 9 ]
    write_child
    for i in $(seq 1 10); do
        otp-ctl -n n1@127.0.0.1 start-child "c$i" --name "c$i" -- "$CHILD" > /dev/null
    done
    wait_until 10 all_run_once 10
    for i in $(seq 1 10); do
        wait_until 5 otp-ctl -n n2@127.0.0.1 call "c$i" who
    done
    # children on every node, so that every node has some to hand off
    for i in 1 2 3; do
        otp-ctl -n n1@127.0.0.1 which-children | grep -q " n$i@127.0.0.1 "
    done

    # two callers, one from c1 and one from c6
    calls="$BATS_TEST_TMPDIR/calls"
    caller "$calls.1" "$BATS_TEST_TMPDIR/stop" 1 3>&- &
    CALLER1=$!
    track "$CALLER1"
    caller "$calls.2" "$BATS_TEST_TMPDIR/stop" 6 3>&- &
    CALLER2=$!
    track "$CALLER2"
    wait_until 10 bash -c "[ \$(cat '$calls'.* | wc -l) -ge 10 ]"
    began=$(date +%s%3N)
    run "$ROOT/scripts/rolling-restart" 3>&-
    ended=$(date +%s%3N)
    track_run
    echo "$output" | sed "s/^/# /" >&3
    [ "$status" -eq 0 ]
    [[ "${lines[3]}" == "rolling restart of 3 node(s) done in "*s ]]
    # calls go on a little after it
    after=$(cat "$calls".* | wc -l)
    wait_until 10 bash -c "[ \$(cat '$calls'.* | wc -l) -ge $((after + 10)) ]"
    touch "$BATS_TEST_TMPDIR/stop"
    wait "$CALLER1" "$CALLER2"

    # Every call succeeded, or a retry did within the failover time (from
    # the start of its first attempt that failed).
    report='
        $6 == 1 { if (open) { bad++; print "never answered: " first_line } open = 1; first_line = $0; failed_at = 0 }
        $5 != 0 && !failed_at { failed_at = $3 }
        $5 == 0 { if (failed_at) { retried++; w = $4 - failed_at; if (w > limit) { bad++; print "answered after " w " ms: " $0 } if (w > worst) worst = w }
                  open = 0; calls++; if ($3 >= began && $4 <= ended) { during++; seen[$1] = 1 } }
        $5 != 0 { failures++ }
        END { if (open) { bad++; print "never answered: " first_line }
              for (id in seen) children++
              printf "calls %d (%d during the restart, to %d children), failed attempts %d, calls retried %d, longest wait %d ms\n",
                     calls, during, children, failures, retried, worst
              exit bad > 0 }'
    for f in "$calls".*; do
        run awk -v began="$began" -v ended="$ended" -v limit="$FAILOVER_MS" "$report" "$f"
        echo "$output" | sed "s/^/# /" >&3
        [ "$status" -eq 0 ]
        [ "${#lines[@]}" -eq 1 ]
    done
    # each child was called during the restart
    [ "$(awk -v began="$began" -v ended="$ended" '$5 == 0 && $3 >= began && $4 <= ended { print $1 }' \
            "$calls".* | sort -u | wc -l)" -eq 10 ]
    # Every answer came from the child called.
    [ -z "$(awk '$5 == 0 && $7 != $1' "$calls".*)" ]

    # No child ever ran twice at once, each runs once now, and each moved.
    never_twice
    wait_until 10 all_run_once 10
    for i in $(seq 1 10); do
        [ "$(awk -v id="c$i" '$1 == "start" && $2 == id' "$EVENTS" | wc -l)" -ge 2 ]
    done
    # Every node, otp-reg and otp-sup is new.
    for p in $old; do gone "$p"; done
    new=$(cat "$OTP_RUN_DIR"/n[123].pid "$OTP_RUN_DIR"/n[123].reg.pid "$OTP_RUN_DIR"/n[123].sup.pid)
    for p in $new; do
        alive "$p"
        [[ $'\n'"$old"$'\n' != *$'\n'"$p"$'\n'* ]]
    done
    full_mesh n1 n2 n3
    for i in 1 2 3; do
        otp-ctl -n "n$i@127.0.0.1" sup-info | grep -qx "members *3"
        grep -q "draining: handing children off" "$OTP_RUN_DIR/n$i.sup.log"
    done
}

@test "rolling-restart refuses a cluster it cannot see whole" {
    export OTP_RUN_DIR="$BATS_TEST_TMPDIR/run"
    mkdir -p "$OTP_RUN_DIR"
    run "$ROOT/scripts/rolling-restart"
    [ "$status" -eq 1 ]
    [ "$output" = "rolling-restart: no cluster recorded in $OTP_RUN_DIR (scripts/start-cluster records one)" ]
    start_epmd
    start_node n1
    echo "$NODE_PID" > "$OTP_RUN_DIR/n1.pid"
    sh -c 'exit 0' & gone=$!; wait "$gone"
    echo "$gone" > "$OTP_RUN_DIR/n2.pid"
    run "$ROOT/scripts/rolling-restart"
    [ "$status" -eq 1 ]
    [ "$output" = "rolling-restart: n2@127.0.0.1 does not answer (is the cluster up, with OTP_EPMD_PORT=$OTP_EPMD_PORT?)" ]
    alive "$NODE_PID"       # nothing was stopped
    run "$ROOT/scripts/rolling-restart" extra
    [ "$status" -eq 2 ]
}
