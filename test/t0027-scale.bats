#!/usr/bin/env bats
# Membership at scale and under load: a hundred nodes on one host, a node
# starved of CPU, a join surge, a node short of descriptors. The sizes are
# OTP_SCALE_NODES (default 100; 50 under AddressSanitizer) and OTP_SCALE_HOLD
# (seconds, default 20);
# `make scale` holds the mesh for 60 s (SCALE_HOLD=300: five minutes).
load helper
load sup

# Under AddressSanitizer a hundred processes need more than this host's two
# CPUs just to keep their heartbeats: that pass meshes 50 (the plain pass
# and `make scale` keep 100), with the limited node given fewer descriptors,
# so that it still cannot hold them all.
if sanitized; then
    SCALE_NODES=${OTP_SCALE_NODES:-50} SCALE_NOFILE=${OTP_SCALE_NOFILE:-160}
else
    SCALE_NODES=${OTP_SCALE_NODES:-100} SCALE_NOFILE=${OTP_SCALE_NOFILE:-256}
fi
SCALE_HOLD=${OTP_SCALE_HOLD:-20}

# cpu_hogs CPU NICE COUNT: COUNT busy loops pinned to CPU at NICE. Sets HOGS.
cpu_hogs () {
    local i
    HOGS=()
    for i in $(seq 1 "$3"); do
        taskset -c "$1" nice -n "$2" sh -c 'while :; do :; done' &
        track $!
        HOGS+=($!)
    done
}

# info_field NODE FIELD: a number from `otp-ctl --json info`.
info_field () {
    otp-ctl -n "$1@127.0.0.1" --json info | tr ',{}' '\n\n\n' | sed -n "s/^\"$2\":\([0-9]*\)$/\1/p"
}

@test "$SCALE_NODES nodes on one host form a full mesh and hold it ${SCALE_HOLD} s with no nodedown; one with $SCALE_NOFILE descriptors holds what it can and serves its clients" {
    start_epmd
    local n=$SCALE_NODES t0 last downs
    t0=$(now_ms)
    start_nodes s "$((n - 1))"
    # The last one may open that many descriptors, not one more (soft and
    # hard limit): too few for a full mesh.
    prlimit --nofile="$SCALE_NOFILE" otp-node -d --name "lim@127.0.0.1" --no-epmd \
        2>> "$BATS_TEST_TMPDIR/lim.log" &
    track $!
    local lim=$!
    wait_until 120 mesh_in_logs s "$((n - 1))"
    last=$(cat "$BATS_TEST_TMPDIR"/s*.log | awk '$4 == "nodeup" && $5 ~ /^s[0-9]/' |
           cut -d' ' -f1 | sort | tail -1)
    echo "# $((n - 1)) nodes meshed $(( $(stamp_ms "$last") - t0 )) ms after the first start" >&3
    downs=$(nodedowns_in_logs s "$BATS_TEST_TMPDIR"/s*.log)
    local lim_downs
    lim_downs=$(nodedowns_in_logs "$BATS_TEST_TMPDIR/lim.log")
    echo "# nodedowns while forming: $downs" >&3
    # The hold: the limited node keeps answering its clients meanwhile.
    #  Its descriptors, counted from outside (a node out of them cannot say):
    #  what it refuses must leave room for its clients.
    local deadline=$(( $(now_ms) + SCALE_HOLD * 1000 )) answered=0 asked=0 fds fds_peak=0
    while [ "$(now_ms)" -lt "$deadline" ]; do
        fds=$(ls "/proc/$lim/fd" | wc -l)
        [ "$fds" -le "$fds_peak" ] || fds_peak=$fds
        asked=$((asked + 1))
        otp-ctl -n lim@127.0.0.1 -t 3000 ping > /dev/null 2>&1 && answered=$((answered + 1))
        sleep 2
    done
    local after
    after=$(nodedowns_in_logs s "$BATS_TEST_TMPDIR"/s*.log)
    echo "# nodedowns during the ${SCALE_HOLD} s hold: $((after - downs)); the limited node answered $answered of $asked pings" >&3
    [ "$after" -eq "$downs" ]
    wait_until 5 mesh_in_logs s "$((n - 1))"
    # The limited node: alive, said why it holds fewer, kept those it held
    # and served its clients all along.
    kill -0 "$lim"
    grep -q "not dialling .*descriptors in use" "$BATS_TEST_TMPDIR/lim.log"
    no_line "Assertion|abort|fatal" "$BATS_TEST_TMPDIR/lim.log"
    [ "$(nodedowns_in_logs "$BATS_TEST_TMPDIR/lim.log")" -eq "$lim_downs" ]
    local held max
    held=$(info_field lim peers)
    max=$(info_field lim fds_max)
    echo "# the node with $max descriptors holds $held peers; at most $fds_peak open during the hold" >&3
    # At least half of the 48 kept for clients (OTP_FD_RESERVE) stayed free.
    [ "$fds_peak" -le $((SCALE_NOFILE - 24)) ]
    [ "$max" -eq "$SCALE_NOFILE" ]
    [ "$held" -ge 20 ]
    [ "$answered" -eq "$asked" ]
    otp-ctl -n lim@127.0.0.1 nodes > /dev/null
}

@test "a node starved of CPU is not declared down; a stopped one is, within 1 s, by every healthy peer" {
    [ "$(nproc)" -ge 2 ] || skip "needs two CPUs (one for the starved node and its hogs)"
    start_epmd
    local i
    # n1..n4 on CPU 1; n5 on CPU 0 at the lowest priority, beside three busy
    # loops a little above the default priority: it gets a fraction of a
    # per cent of that CPU, in bursts.
    for i in 1 2 3 4; do
        taskset -c 1 otp-node -d --name "n$i@127.0.0.1" --no-epmd 2>> "$BATS_TEST_TMPDIR/n$i.log" &
        track $!
        eval "PID_n$i=$!"
    done
    taskset -c 0 nice -n 19 otp-node -d --name n5@127.0.0.1 --no-epmd 2>> "$BATS_TEST_TMPDIR/n5.log" &
    track $!
    local starved=$!
    wait_until 10 mesh_in_logs n 5
    local hog_nice=0
    if [ "$(id -u)" -eq 0 ]; then hog_nice=-2; fi
    cpu_hogs 0 "$hog_nice" 3
    sleep 5
    # Halfway, a healthy node is stopped: every healthy peer sees it go.
    local t0
    t0=$(now_ms)
    kill -STOP "$(pid_of n4)"
    for i in 1 2 3; do
        wait_until 3 grep -q "nodedown n4@127.0.0.1 (no heartbeat)" "$BATS_TEST_TMPDIR/n$i.log"
    done
    sleep 5
    kill "${HOGS[@]}"
    local line took
    for i in 1 2 3; do
        line=$(grep "nodedown n4@127.0.0.1" "$BATS_TEST_TMPDIR/n$i.log" | head -1)
        took=$(( $(stamp_ms "$line") - t0 ))
        echo "# n$i saw the stopped node go after $took ms" >&3
        [ "$took" -le 1000 ]
    done
    # The starved node was starved (its own timers ran late), yet nobody
    # dropped it, and it did not drop the healthy ones.
    local stalls longest
    wait_until 10 prints_something info_field n5 stalls
    stalls=$(info_field n5 stalls)
    longest=$(info_field n5 longest_stall_ms)
    echo "# the starved node: $stalls stalls, the longest $longest ms" >&3
    [ "$stalls" -ge 3 ]
    [ "$longest" -gt 0 ]
    no_line "nodedown n5@" "$BATS_TEST_TMPDIR"/n[1-4].log
    no_line "nodedown n[123]@" "$BATS_TEST_TMPDIR/n5.log"
    kill -0 "$starved"
}

@test "a node frozen outright is declared down, however it got there (the starvation check can fail)" {
    [ "$(nproc)" -ge 2 ] || skip "needs two CPUs"
    [ "$(id -u)" -eq 0 ] || skip "needs root for hogs above the default priority"
    start_epmd
    local i
    for i in 1 2; do
        taskset -c 1 otp-node -d --name "n$i@127.0.0.1" --no-epmd 2>> "$BATS_TEST_TMPDIR/n$i.log" &
        track $!
    done
    taskset -c 0 nice -n 19 otp-node -d --name n3@127.0.0.1 --no-epmd 2>> "$BATS_TEST_TMPDIR/n3.log" &
    track $!
    wait_until 10 mesh_in_logs n 3
    # Hogs at the highest priority leave it nothing: that is a freeze.
    cpu_hogs 0 -20 3
    wait_until 15 grep -q "nodedown n3@127.0.0.1 (no heartbeat)" "$BATS_TEST_TMPDIR/n1.log"
    kill "${HOGS[@]}"
    wait_until 15 mesh_in_logs n 3
}

@test "20 nodes joining a running cluster of 10 at once: all meet, and no child of the 10 restarts" {
    write_child
    start_epmd
    local i
    for i in $(seq 1 10); do start_node "m$i"; done
    wait_until 20 mesh_in_logs m 10
    for i in $(seq 1 10); do start_reg "m$i"; start_sup "m$i"; done
    wait_until 20 bash -c "otp-ctl -n m1@127.0.0.1 sup-info | grep -qx 'members *10'"
    for i in $(seq 1 20); do
        otp-ctl -n m1@127.0.0.1 start-child "c$i" --name "c$i" -- "$CHILD" > /dev/null
    done
    wait_until 20 all_run_once 20
    local before t0 last
    before=$(sort "$EVENTS")
    # The surge: 20 nodes at once, then a registry replica beside each as
    # soon as the nodes are there.
    # j20's heartbeat settings are its operator's: upper bounds, which the
    # others must keep to for it while they spread their own beats.
    # (Under ASan, 30 instrumented nodes meshing on two cores stall one
    # another for more than 400 ms at times: its time-out is 1000 there, and
    # the plain pass checks the others keeping to the tighter bound.)
    local j20_timeout=400
    sanitized && j20_timeout=1000
    t0=$(now_ms)
    start_nodes j 19
    otp-node -d --name j20@127.0.0.1 --no-epmd --heartbeat 100 --timeout "$j20_timeout" \
        2>> "$BATS_TEST_TMPDIR/j20.log" &
    track $!
    wait_until 20 bash -c "[ \"\$(otp-ctl epmd names | grep -c '^j')\" -eq 20 ]"
    for i in $(seq 1 20); do
        otp-reg -d --node "j$i@127.0.0.1" 2>> "$BATS_TEST_TMPDIR/j$i.reg.log" &
        track $!
    done
    all_meet () {
        local i
        for i in $(seq 1 10); do [ "$(up_in_log "m$i")" -eq 29 ] || return 1; done
        for i in $(seq 1 20); do [ "$(up_in_log "j$i")" -eq 29 ] || return 1; done
    }
    wait_until 60 all_meet
    local logs=()
    for i in $(seq 1 10); do logs+=("$BATS_TEST_TMPDIR/m$i.log"); done
    for i in $(seq 1 20); do logs+=("$BATS_TEST_TMPDIR/j$i.log"); done
    last=$(cat "${logs[@]}" | awk '$4 == "nodeup"' | cut -d' ' -f1 | sort | tail -1)
    echo "# 30 nodes meshed $(( $(stamp_ms "$last") - t0 )) ms after the surge began" >&3
    # No existing member went down, so nothing moved or restarted; nor did
    # the tuned node, nor anyone to it, while the others beat at 580 ms.
    sleep 3
    no_line " nodedown m" "${logs[@]:0:10}"
    no_line " nodedown " "$BATS_TEST_TMPDIR/j20.log"
    no_line " nodedown j20@" "${logs[@]}"
    [ "$(info_field m1 heartbeat_ms)" -eq $((29 * 1000 / 50)) ]
    [ "$(info_field j20 heartbeat_ms)" -eq 100 ]
    [ "$(sort "$EVENTS")" = "$before" ]
    # And a newcomer's replica knows where each child is.
    wait_until 20 bash -c "[ \"\$(otp-ctl -n j20@127.0.0.1 names | grep -c '^c')\" -eq 20 ]"
    for i in 1 10 20; do
        [ "$(otp-ctl -n j7@127.0.0.1 call "c$i" who --timeout 2000 | cut -d' ' -f2)" = "$(live_pids "c$i")" ]
    done
}
