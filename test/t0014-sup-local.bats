#!/usr/bin/env bats
# otp-sup's local tree: OTP's supervisor semantics (ordered start and stop,
# the three strategies, restart types, intensity, shutdown, nested
# supervisors), driven through the real binaries. Children are shell
# scripts that record what happens to them in files beside the test.
load helper

# worker ID [BODY]: writes $BATS_TEST_TMPDIR/ID.sh, a child that, once
# `started`, has recorded its pid in ID.pids and "ID PID" in the shared
# file `starts`. Its TERM trap writes ID to `stops` and exits 0 (after
# `slow_stop`: writes "ID term", takes 0.2 s, writes "ID exit"); USR1 makes
# it exit 0, USR2 exit 1. BODY defaults to `started; idle`. Every process
# it starts is tracked for teardown.
worker () {
    local id=$1 body=${2:-started; idle}
    local file="$BATS_TEST_TMPDIR/$id.sh"
    {
        echo '#!/bin/bash'
        echo "d='$BATS_TEST_TMPDIR' id='$id'"
        cat <<'EOF'
track () { echo "$1" >> "$d/pids"; }
started () { track $$; echo $$ >> "$d/$id.pids"; echo "$id $$" >> "$d/starts"; }
idle () { sleep 1000 & track $!; wait; }
slow_stop () { trap 'echo "$id term" >> "$d/stops"; sleep 0.2; echo "$id exit" >> "$d/stops"; exit 0' TERM; }
trap 'echo $id >> "$d/stops"; exit 0' TERM
trap 'exit 0' USR1
trap 'exit 1' USR2
EOF
        echo "$body"
    } > "$file"
    chmod +x "$file"
}

# The file's path, for a config's `command =`.
script () { echo "$BATS_TEST_TMPDIR/$1.sh"; }

ctl () { otp-ctl -n a@127.0.0.1 "$@"; }
# row ID: ID's which-children row, a JSON object; nothing if there is none.
row () { ctl which-children --json | grep -o "{\"id\":\"$1\",[^}]*}" || true; }
# field ID KEY: one value of ID's row, unquoted.
field () { row "$1" | grep -o "\"$2\":[^,}]*" | sed 's/^"[^"]*"://; s/"//g'; }
no_row () { [ -z "$(row "$1")" ]; }
status_is () { [ "$(field "$1" status)" = "$2" ]; }
# starts ID: how many times ID has started; last ID: its latest pid.
starts () { cat "$BATS_TEST_TMPDIR/$1.pids" 2>/dev/null | wc -l; }
last () { tail -n 1 "$BATS_TEST_TMPDIR/$1.pids"; }
started_times () { [ "$(starts "$1")" -eq "$2" ]; }
alive () { kill -0 "$1" 2>/dev/null; }
# lacks PATTERN FILE: no line of FILE matches (a plain `! grep` would not
# fail the test: set -e ignores it).
lacks () { ! grep -q "$@"; }
gone () { ! kill -0 "$1" 2>/dev/null; }
# runs ID: ID's latest process is alive, and the tree shows it running.
runs () {
    local pid
    pid=$(last "$1") && alive "$pid" && [ "$(field "$1" pid)" = "$pid" ] \
        && [ "$(field "$1" status)" = running ]
}
# stops: the ids in `stops`, in order, space-separated.
stops () { tr '\n' ' ' < "$BATS_TEST_TMPDIR/stops" 2>/dev/null | sed 's/ $//'; }
# events [LOG]: what the log says happened to the children, in order, as
# ID:started, ID:stopped (on request), ID:killed, ID:exited.
events () {
    sed -nE 's/.* ([^ ]+): (started|stopped|killed|exited)( by|,| with| \().*/\1:\2/p' \
        "${1:-$BATS_TEST_TMPDIR/a.sup.log}" | tr '\n' ' ' | sed 's/ $//'
}

# sup_with CONFIG-TEXT: a node a, and otp-sup beside it with that tree.
sup_with () {
    printf '%s\n' "$1" > "$BATS_TEST_TMPDIR/sup.conf"
    start_epmd
    start_node a
    start_sup a --config "$BATS_TEST_TMPDIR/sup.conf"
}

# local_start ID COMMAND: adds ID to the local tree's root at run time.
local_start () { ctl start-child "$1" --local -- "$2"; }

three_workers () {
    local id
    for id in a b c; do worker "$id"; done
    printf 'strategy = %s\nintensity = 3\nperiod = 10\n' "$1"
    for id in a b c; do printf 'child = %s\n    command = %s\n' "$id" "$(script "$id")"; done
}

@test "children start in config order and stop in reverse order on SIGTERM; otp-sup exits 0" {
    conf=$(three_workers one_for_one)
    for id in a b c; do worker "$id" 'slow_stop; started; idle'; done
    sup_with "$conf"
    log=$BATS_TEST_TMPDIR/a.sup.log
    wait_until 10 runs a
    wait_until 10 runs b
    wait_until 10 runs c
    # Started in order: each forked (and exec'd) only once the one before
    # it runs. The log says so, and the pids it names are the ones the
    # children wrote in the shared file, once each.
    [ "$(events)" = "a:started b:started c:started" ]
    for id in a b c; do
        grep -q " $id: started, pid $(last "$id")\$" "$log"
        [ "$(grep -c "^$id $(last "$id")\$" "$BATS_TEST_TMPDIR/starts")" -eq 1 ]
    done
    [ "$(wc -l < "$BATS_TEST_TMPDIR/starts")" -eq 3 ]
    run ctl count-children
    [ "$output" = "$(printf 'specs 3\nactive 3\nsupervisors 0\nworkers 3')" ]
    pids="$(last a) $(last b) $(last c)"
    kill -TERM "$SUP_PID"
    status=0
    wait "$SUP_PID" || status=$?
    [ "$status" -eq 0 ]
    # Each got SIGTERM (its trap ran), the last started first, each only
    # once the one after it had exited (a trap takes 0.2 s: stops sent at
    # once would interleave).
    [ "$(stops)" = "c term c exit b term b exit a term a exit" ]
    [ "$(events)" = "a:started b:started c:started c:stopped b:stopped a:stopped" ]
    for pid in $pids; do gone "$pid"; done
    grep -q 'received Terminated, stopping' "$log"
    grep -q ' c: stopped (status 0)$' "$log"
}

@test "one_for_one: a killed child restarts alone" {
    sup_with "$(three_workers one_for_one)"
    for id in a b c; do wait_until 10 runs "$id"; done
    a=$(last a) b=$(last b) c=$(last c)
    kill -9 "$b"
    wait_until 10 started_times b 2
    wait_until 10 runs b
    [ "$(last b)" != "$b" ]
    gone "$b"
    [ "$(field b restarts)" = 1 ]
    # The others were not touched.
    [ "$(starts a)" -eq 1 ]
    [ "$(starts c)" -eq 1 ]
    [ "$(field a pid)" = "$a" ]
    [ "$(field c pid)" = "$c" ]
    alive "$a"
    alive "$c"
    [ "$(field a restarts)" = 0 ]
    [ "$(field c restarts)" = 0 ]
    [ ! -e "$BATS_TEST_TMPDIR/stops" ]
    grep -q 'supervisor root: restarting b (one_for_one)' "$BATS_TEST_TMPDIR/a.sup.log"
    [ "$(events)" = "a:started b:started c:started b:killed b:started" ]
}

@test "one_for_all: a killed child restarts all of them, stopped in reverse and started in order" {
    sup_with "$(three_workers one_for_all)"
    for id in a b c; do wait_until 10 runs "$id"; done
    a=$(last a) b=$(last b) c=$(last c)
    kill -9 "$b"
    for id in a b c; do wait_until 10 started_times "$id" 2; done
    for id in a b c; do wait_until 10 runs "$id"; done
    [ "$(last a)" != "$a" ]
    [ "$(last b)" != "$b" ]
    [ "$(last c)" != "$c" ]
    for pid in $a $b $c; do gone "$pid"; done
    # The survivors got SIGTERM, last started first; then all three
    # started again in order.
    [ "$(stops)" = "c a" ]
    [ "$(events)" = "a:started b:started c:started b:killed c:stopped a:stopped a:started b:started c:started" ]
    grep -q 'supervisor root: restarting b (one_for_all)' "$BATS_TEST_TMPDIR/a.sup.log"
    # One restart of the supervisor's, counted on the child that failed.
    [ "$(field b restarts)" = 1 ]
}

@test "rest_for_one: a killed child restarts with those started after it, not before" {
    sup_with "$(three_workers rest_for_one)"
    for id in a b c; do wait_until 10 runs "$id"; done
    a=$(last a) b=$(last b) c=$(last c)
    kill -9 "$b"
    wait_until 10 started_times b 2
    wait_until 10 started_times c 2
    wait_until 10 runs b
    wait_until 10 runs c
    gone "$b"
    gone "$c"
    [ "$(stops)" = c ]
    [ "$(starts a)" -eq 1 ]
    [ "$(field a pid)" = "$a" ]
    alive "$a"
    [ "$(events)" = "a:started b:started c:started b:killed c:stopped b:started c:started" ]
}

@test "restart types: permanent always restarts, transient only after a failure, temporary never (and goes)" {
    for id in perm trans_ok trans_fail temp_ok temp_fail temp_stop; do worker "$id"; done
    sup_with "$(cat <<EOF
intensity = 10
period = 10
child = perm
    command = $(script perm)
child = trans_ok
    command = $(script trans_ok)
    restart = transient
child = trans_fail
    command = $(script trans_fail)
    restart = transient
child = temp_ok
    command = $(script temp_ok)
    restart = temporary
child = temp_fail
    command = $(script temp_fail)
    restart = temporary
child = temp_stop
    command = $(script temp_stop)
    restart = temporary
EOF
)"
    for id in perm trans_ok trans_fail temp_ok temp_fail temp_stop; do wait_until 10 runs "$id"; done
    [ "$(field trans_ok restart)" = transient ]
    [ "$(field temp_ok restart)" = temporary ]
    # exit 0
    kill -USR1 "$(last perm)" "$(last trans_ok)" "$(last temp_ok)"
    # exit 1
    kill -USR2 "$(last trans_fail)" "$(last temp_fail)"
    wait_until 10 started_times perm 2
    wait_until 10 started_times trans_fail 2
    wait_until 10 runs perm
    wait_until 10 runs trans_fail
    wait_until 10 no_row temp_ok
    wait_until 10 no_row temp_fail
    wait_until 10 status_is trans_ok stopped
    sleep 0.5
    [ "$(starts perm)" -eq 2 ]
    [ "$(starts trans_fail)" -eq 2 ]
    [ "$(starts trans_ok)" -eq 1 ]
    [ "$(starts temp_ok)" -eq 1 ]
    [ "$(starts temp_fail)" -eq 1 ]
    gone "$(last trans_ok)"
    gone "$(last temp_ok)"
    gone "$(last temp_fail)"
    # The transient child that ended normally keeps its spec, stopped.
    [ "$(field trans_ok pid)" = 0 ]
    run ctl count-children
    [ "$output" = "$(printf 'specs 4\nactive 3\nsupervisors 0\nworkers 4')" ]
    # A temporary child stopped on request goes too (OTP's terminate_child).
    pid=$(last temp_stop)
    run ctl stop-child temp_stop
    [ "$status" -eq 0 ]
    [ "$output" = "temp_stop stopped" ]
    gone "$pid"
    [ -z "$(row temp_stop)" ]
    run ctl restart-child temp_stop
    [ "$status" -eq 1 ]
    [ "$output" = "otp-ctl: no child temp_stop" ]
    run ctl count-children
    [ "$output" = "$(printf 'specs 3\nactive 2\nsupervisors 0\nworkers 3')" ]
    log=$BATS_TEST_TMPDIR/a.sup.log
    grep -q 'restarting perm' "$log"
    grep -q 'restarting trans_fail' "$log"
    lacks 'restarting trans_ok' "$log"
    lacks 'restarting temp_' "$log"
}

@test "intensity: too many restarts within the period and otp-sup gives up, stopping the rest" {
    worker a
    # It exits at once, each time, once the others are up.
    worker bad 'started; until [ -s "$d/a.pids" ] && [ -s "$d/c.pids" ]; do sleep 0.05; done; exit 1'
    worker c
    cat > "$BATS_TEST_TMPDIR/sup.conf" <<EOF
strategy = one_for_one
intensity = 2
period = 10
child = a
    command = $(script a)
child = bad
    command = $(script bad)
child = c
    command = $(script c)
EOF
    otp-sup -d --config "$BATS_TEST_TMPDIR/sup.conf" 2>> "$BATS_TEST_TMPDIR/sup.log" 3>&- &
    sup=$!
    track "$sup"
    wait_until 10 gone "$sup"
    status=0
    wait "$sup" || status=$?
    [ "$status" -ne 0 ]
    log=$BATS_TEST_TMPDIR/sup.log
    grep -q 'supervisor root gave up: more than 2 restarts in 10 s' "$log"
    # Started once, restarted twice: the third restart is one too many.
    [ "$(starts bad)" -eq 3 ]
    # The others were stopped the OTP way (SIGTERM, last started first).
    [ "$(stops)" = "c a" ]
    [ "$(starts a)" -eq 1 ]
    [ "$(starts c)" -eq 1 ]
    gone "$(last a)"
    gone "$(last c)"
    [ "$(events "$log")" = "a:started bad:started c:started bad:exited bad:started bad:exited bad:started bad:exited c:stopped a:stopped" ]
}

@test "shutdown: SIGKILL after the shutdown time, at once for brutal_kill, SIGTERM for the rest" {
    worker stubborn "trap '' TERM; started; exec sleep 1000"
    worker brute
    worker polite
    sup_with "$(cat <<EOF
child = stubborn
    command = $(script stubborn)
    shutdown = 500
child = brute
    command = $(script brute)
    shutdown = brutal_kill
child = polite
    command = $(script polite)
EOF
)"
    for id in stubborn brute polite; do wait_until 10 runs "$id"; done
    log=$BATS_TEST_TMPDIR/a.sup.log
    # It ignores SIGTERM: killed 0.5 s later, and the answer comes after.
    pid=$(last stubborn)
    t0=$(date +%s%N)
    run ctl stop-child stubborn
    t1=$(date +%s%N)
    [ "$status" -eq 0 ]
    [ "$output" = "stubborn stopped" ]
    gone "$pid"
    elapsed=$(( (t1 - t0) / 1000000 ))
    echo "stop-child stubborn took $elapsed ms"
    [ "$elapsed" -ge 480 ]
    [ "$elapsed" -lt 3000 ]
    grep -q 'stubborn: still running 500 ms after SIGTERM; SIGKILL' "$log"
    grep -q ' stubborn: stopped (status 137)$' "$log"
    # brutal_kill: no SIGTERM (its trap never runs), SIGKILL at once.
    pid=$(last brute)
    t0=$(date +%s%N)
    run ctl stop-child brute
    t1=$(date +%s%N)
    [ "$status" -eq 0 ]
    gone "$pid"
    echo "stop-child brute took $(( (t1 - t0) / 1000000 )) ms"
    [ $(( (t1 - t0) / 1000000 )) -lt 1000 ]
    grep -q ' brute: stopped (status 137)$' "$log"
    # A well-behaved child: SIGTERM, its trap runs, it exits 0.
    pid=$(last polite)
    run ctl stop-child polite
    [ "$status" -eq 0 ]
    gone "$pid"
    grep -q ' polite: stopped (status 0)$' "$log"
    [ "$(stops)" = polite ]
    lacks 'polite: still running' "$log"
    # Stopped on request: none is restarted.
    sleep 0.5
    for id in stubborn brute polite; do
        [ "$(starts "$id")" -eq 1 ]
        [ "$(field "$id" status)" = stopped ]
    done
}

@test "a command that cannot run: the config checks, the boot fails naming it; at run time the request fails alone" {
    worker a
    worker c
    cat > "$BATS_TEST_TMPDIR/bad.conf" <<EOF
child = a
    command = $(script a)
child = x
    command = /nonexistent/prog
child = c
    command = $(script c)
EOF
    start_epmd
    start_node a
    run otp-sup -n --config "$BATS_TEST_TMPDIR/bad.conf"
    [ "$status" -eq 0 ]
    [ "$output" = "configuration OK" ]
    t0=$(date +%s)
    run otp-sup -d --node a@127.0.0.1 --config "$BATS_TEST_TMPDIR/bad.conf"
    [ "$status" -ne 0 ]
    [ $(( $(date +%s) - t0 )) -lt 5 ]
    [[ "$output" == *"cannot run /nonexistent/prog: No such file or directory"* ]]
    # What had started before it was stopped (maybe before its script got
    # as far as recording itself); what came after never ran.
    a=$(echo "$output" | sed -n 's/.* a: started, pid \([0-9]*\)$/\1/p')
    [ -n "$a" ]
    gone "$a"
    [[ "$output" == *" a: stopped (status "* ]]
    [[ "$output" != *" c: started"* ]]
    [ "$(starts c)" -eq 0 ]

    # At run time: the tree runs, a start-child of a command that cannot
    # run fails at once with the reason, and nothing else moves.
    rm -f "$BATS_TEST_TMPDIR"/{a,c}.pids "$BATS_TEST_TMPDIR/stops"
    sed -i '/^child = x/,/^    command = \/nonexistent/d' "$BATS_TEST_TMPDIR/bad.conf"
    start_sup a --config "$BATS_TEST_TMPDIR/bad.conf"
    wait_until 10 runs a
    wait_until 10 runs c
    a=$(last a) c=$(last c)
    run ctl start-child x -- /nonexistent/prog
    [ "$status" -eq 1 ]
    [ "$output" = "otp-ctl: cannot run /nonexistent/prog: No such file or directory" ]
    [ -z "$(row x)" ]
    # The same into the local tree.
    run local_start x /nonexistent/prog
    [ "$status" -eq 1 ]
    [ "$output" = "otp-ctl: cannot run /nonexistent/prog: No such file or directory" ]
    [ -z "$(row x)" ]
    run ctl count-children
    [ "$output" = "$(printf 'specs 2\nactive 2\nsupervisors 0\nworkers 2')" ]
    [ "$(field a pid)" = "$a" ]
    [ "$(field c pid)" = "$c" ]
    [ "$(starts a)" -eq 1 ]
    [ "$(starts c)" -eq 1 ]
    [ ! -e "$BATS_TEST_TMPDIR/stops" ]
    alive "$SUP_PID"
    run ctl --json sup-info
    [[ "$output" == *'"exec_failures":2,'* ]]
}

@test "a child's process group goes with it: killed, or stopped by stop-child" {
    # The grandchild ignores SIGTERM: only the kill of the group after its
    # parent has exited ends it.
    worker g 'started; ( trap "" TERM; exec sleep 1000 ) & echo $! >> "$d/g.grand"; track $!; exec sleep 1000'
    sup_with "$(printf 'intensity = 5\nchild = g\n    command = %s\n' "$(script g)")"
    wait_until 10 runs g
    wait_until 10 test -s "$BATS_TEST_TMPDIR/g.grand"
    child=$(last g) grand=$(tail -n 1 "$BATS_TEST_TMPDIR/g.grand")
    alive "$grand"
    kill -9 "$child"
    wait_until 10 gone "$grand"
    # It was restarted (permanent), with a new grandchild.
    wait_until 10 started_times g 2
    wait_until 10 runs g
    wait_until 10 bash -c "[ \$(wc -l < $BATS_TEST_TMPDIR/g.grand) -eq 2 ]"
    child=$(last g) grand=$(tail -n 1 "$BATS_TEST_TMPDIR/g.grand")
    alive "$grand"
    run ctl stop-child g
    [ "$status" -eq 0 ]
    gone "$child"
    wait_until 10 gone "$grand"
    [ "$(field g status)" = stopped ]
}

@test "nested supervisors: an inner one_for_all gives up, its parent restarts it whole" {
    for id in a x y; do worker "$id"; done
    sup_with "$(cat <<EOF
strategy = one_for_one
intensity = 3
period = 10
child = a
    command = $(script a)
child = inner
    type = supervisor
    strategy = one_for_all
    intensity = 1
    period = 10
    child = x
        command = $(script x)
    child = y
        command = $(script y)
EOF
)"
    for id in a x y; do wait_until 10 runs "$id"; done
    [ "$(field x supervisor)" = root/inner ]
    [ "$(field inner type)" = supervisor ]
    [ "$(field inner status)" = running ]
    run ctl count-children
    [ "$output" = "$(printf 'specs 4\nactive 4\nsupervisors 1\nworkers 3')" ]
    a=$(last a)
    # The first crash: inner restarts x and y.
    kill -9 "$(last x)"
    wait_until 10 started_times x 2
    wait_until 10 started_times y 2
    wait_until 10 runs x
    wait_until 10 runs y
    # The second, within inner's period: inner gives up, stops y, and
    # crashes; root restarts it, and with it x and y.
    kill -9 "$(last x)"
    wait_until 10 started_times x 3
    wait_until 10 started_times y 3
    wait_until 10 runs x
    wait_until 10 runs y
    for pid in $(head -n 2 "$BATS_TEST_TMPDIR/x.pids") $(head -n 2 "$BATS_TEST_TMPDIR/y.pids"); do gone "$pid"; done
    [ "$(field inner status)" = running ]
    log=$BATS_TEST_TMPDIR/a.sup.log
    grep -q 'supervisor root/inner: restarting x (one_for_all)' "$log"
    grep -q 'supervisor root: restarting inner (one_for_one)' "$log"
    # root itself holds: a untouched, otp-sup still serving.
    lacks 'gave up' "$log"
    [ "$(events)" = "a:started x:started y:started x:killed y:stopped x:started y:started x:killed y:stopped x:started y:started" ]
    [ "$(field a pid)" = "$a" ]
    [ "$(starts a)" -eq 1 ]
    alive "$SUP_PID"
    # A nested supervisor stops and restarts as one child.
    run ctl stop-child inner
    [ "$status" -eq 0 ]
    [ "$(field inner status)" = stopped ]
    gone "$(last x)"
    gone "$(last y)"
    [ "$(field x status)" = stopped ]
    [ "$(field y status)" = stopped ]
    [ "$(tail -n 2 "$BATS_TEST_TMPDIR/stops" | tr '\n' ' ')" = "y x " ]
    # Its children cannot run without it.
    run ctl restart-child x
    [ "$status" -eq 1 ]
    [ "$output" = "otp-ctl: supervisor root/inner is not running" ]
    [ "$(starts x)" -eq 3 ]
    [ "$(field x status)" = stopped ]
    run ctl restart-child inner
    [ "$status" -eq 0 ]
    wait_until 10 started_times x 4
    wait_until 10 started_times y 4
    wait_until 10 runs x
    wait_until 10 runs y
    [ "$(field inner status)" = running ]
}

@test "run-time changes to the local tree: start, stop, restart, delete; and their errors" {
    worker a
    worker r
    sup_with "$(printf 'child = a\n    command = %s\n' "$(script a)")"
    wait_until 10 runs a
    # start (into the root of the local tree)
    run local_start r "$(script r)"
    [ "$status" -eq 0 ]
    wait_until 10 runs r
    r=$(last r)
    [ "$output" = "r started on a@127.0.0.1 pid $r" ]
    [ "$(field r supervisor)" = root ]
    [ "$(field r node)" = a@127.0.0.1 ]
    # the id is taken
    run local_start r "$(script r)"
    [ "$status" -eq 1 ]
    [ "$output" = "otp-ctl: child r is already present" ]
    [ "$(starts r)" -eq 1 ]
    # stop: answered once it has exited; kept, stopped, not restarted
    run ctl stop-child r
    [ "$status" -eq 0 ]
    [ "$output" = "r stopped" ]
    gone "$r"
    [ "$(stops)" = r ]
    [ "$(field r status)" = stopped ]
    [ "$(field r pid)" = 0 ]
    run ctl stop-child r
    [ "$status" -eq 0 ]
    # restart
    run ctl restart-child r
    [ "$status" -eq 0 ]
    wait_until 10 started_times r 2
    wait_until 10 runs r
    [ "$output" = "r restarted on a@127.0.0.1 pid $(last r)" ]
    run ctl restart-child r
    [ "$status" -eq 1 ]
    [ "$output" = "otp-ctl: child r is running" ]
    # delete: refused while it runs, then done
    run ctl delete-child r
    [ "$status" -eq 1 ]
    [ "$output" = "otp-ctl: child r is running; stop it first" ]
    runs r
    ctl stop-child r
    run ctl delete-child r
    [ "$status" -eq 0 ]
    [ "$output" = "r deleted" ]
    [ -z "$(row r)" ]
    run ctl count-children
    [ "$output" = "$(printf 'specs 1\nactive 1\nsupervisors 0\nworkers 1')" ]
    # unknown ids
    for cmd in stop-child restart-child delete-child; do
        run ctl "$cmd" nosuch
        [ "$status" -eq 1 ]
        [ "$output" = "otp-ctl: no child nosuch" ]
    done
    # A child from the config file goes the same way.
    ctl stop-child a
    run ctl delete-child a
    [ "$output" = "a deleted" ]
    run ctl which-children --json
    [ "$output" = "[]" ]
    alive "$SUP_PID"
}

@test "a stop-child waiting its turn when otp-sup is told to stop is answered once the child is gone" {
    worker slow "trap '' TERM; started; exec sleep 1000"
    worker a
    sup_with "$(printf 'child = a\n    command = %s\nchild = slow\n    command = %s\n    shutdown = 2000\n' \
        "$(script a)" "$(script slow)")"
    wait_until 10 runs a
    wait_until 10 runs slow
    # slow takes 2 s to stop; the stop of a waits behind it.
    ctl stop-child slow > "$BATS_TEST_TMPDIR/slow.out" 2>&1 3>&- &
    first=$!
    track "$first"
    wait_until 10 status_is slow stopping
    ctl -t 6000 stop-child a > "$BATS_TEST_TMPDIR/a.out" 2>&1 3>&- &
    second=$!
    track "$second"
    sleep 0.3
    alive "$(last a)"
    kill -TERM "$SUP_PID"
    status=0
    wait "$second" || status=$?
    cat "$BATS_TEST_TMPDIR/a.out"
    [ "$status" -eq 0 ]
    [ "$(cat "$BATS_TEST_TMPDIR/a.out")" = "a stopped" ]
    gone "$(last a)"
    wait "$first"
    [ "$(cat "$BATS_TEST_TMPDIR/slow.out")" = "slow stopped" ]
    status=0
    wait "$SUP_PID" || status=$?
    [ "$status" -eq 0 ]
}

@test "a child's environment, working directory and output" {
    mkdir -p "$BATS_TEST_TMPDIR/work"
    worker e 'started
echo "node=$OTP_NODE id=$OTP_CHILD_ID name=[$OTP_NAME] mode=$MODE extra=$EXTRA cwd=$PWD" > "$d/e.env"
echo "to stdout"
echo "to stderr" >&2
printf "no newline at the end" >&2
idle'
    worker n 'started; echo "name=[$OTP_NAME]" > "$d/n.env"; idle'
    cat > "$BATS_TEST_TMPDIR/sup.conf" <<EOF
child = e
    command = $(script e)
    cwd = $BATS_TEST_TMPDIR/work
    env
        MODE = "fast"
        EXTRA = "two words"
child = n
    command = $(script n)
    name = svc
EOF
    start_epmd
    start_node a
    start_reg a
    start_sup a --config "$BATS_TEST_TMPDIR/sup.conf"
    wait_until 10 runs e
    wait_until 10 test -s "$BATS_TEST_TMPDIR/e.env"
    run cat "$BATS_TEST_TMPDIR/e.env"
    [ "$output" = "node=a@127.0.0.1 id=e name=[] mode=fast extra=two words cwd=$BATS_TEST_TMPDIR/work" ]
    # A named child is told its name.
    wait_until 10 runs n
    wait_until 10 test -s "$BATS_TEST_TMPDIR/n.env"
    [ "$(cat "$BATS_TEST_TMPDIR/n.env")" = "name=[svc]" ]
    [ "$(field n name)" = svc ]
    log=$BATS_TEST_TMPDIR/a.sup.log
    wait_until 10 grep -q ' e: to stdout$' "$log"
    wait_until 10 grep -q ' e: to stderr$' "$log"
    # A line cut short by the exit is still logged.
    ctl stop-child e
    grep -q ' e: no newline at the end$' "$log"
}

@test "bad config files: one line naming the problem, and nothing starts" {
    worker a
    bad () {
        printf 'child = a\n    command = %s\n%s\n' "$(script a)" "$1" > "$BATS_TEST_TMPDIR/bad.conf"
        run otp-sup -n --config "$BATS_TEST_TMPDIR/bad.conf"
        echo "$output"
        [ "$status" -ne 0 ]
        [ "${#lines[@]}" -eq 1 ]
        [[ "$output" == *"$BATS_TEST_TMPDIR/bad.conf"*"$2"* ]]
        run otp-sup -d --config "$BATS_TEST_TMPDIR/bad.conf"
        [ "$status" -ne 0 ]
        [[ "$output" == *"$2"* ]]
        [ "$(starts a)" -eq 0 ]
    }
    bad 'child = b
    command = /bin/true
    comand = /bin/false' "child b: unknown key 'comand'"
    bad 'colour = blue' "supervisor root: unknown key 'colour'"
    bad 'strategy = all_for_one' 'supervisor root: strategy must be one_for_one, one_for_all or rest_for_one'
    bad 'child = a
    command = /bin/true' 'child a: the id is used twice'
    bad 'child = s
    type = supervisor
    child = a
        command = /bin/true' 'child a: the id is used twice'
    bad 'child = b
    command = /bin/true
    restart = sometimes' 'child b: restart must be permanent, transient or temporary'
    bad 'child = s
    type = supervisor
    restart = always
    child = t
        command = /bin/true' 'restart must be permanent, transient or temporary'
    bad 'intensity = many' 'supervisor root: intensity must be a number'
    run otp-sup -n --config "$BATS_TEST_TMPDIR/nonexistent.conf"
    [ "$status" -ne 0 ]
    [[ "$output" == *"nonexistent.conf: No such file or directory"* ]]
}
