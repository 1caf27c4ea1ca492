#!/usr/bin/env bats
# The cluster-wide registry: otp-reg beside each node keeps a replica of the
# unique names and groups; entries follow their processes and nodes.
load helper

whereis () { otp-ctl -n "$1@127.0.0.1" whereis "$2"; }
holds () { [ "$(whereis "$1" "$2")" = "$3" ]; }
# nobody_holds NAME NODE...: every replica says undefined.
nobody_holds () {
    local name=$1 n; shift
    for n in "$@"; do [ "$(whereis "$n" "$name")" = undefined ] || return 1; done
}
# everyone_says NAME HOLDER NODE...
everyone_says () {
    local name=$1 holder=$2 n; shift 2
    for n in "$@"; do holds "$n" "$name" "$holder" || return 1; done
}
members () { otp-ctl -n "$1@127.0.0.1" members "$2" | sed 's/^[^@]*@//' | sort | tr '\n' ' '; }

@test "a name registered on one node is found on every node; a lookup right after register finds it" {
    reg_cluster a b c
    echo_on a svc --register svc
    # The register call has returned: the same node's replica has it now.
    run whereis a svc
    [ "$status" -eq 0 ]
    [ "$output" = a@127.0.0.1 ]
    wait_until 5 everyone_says svc a@127.0.0.1 a b c
    run otp-ctl -n c@127.0.0.1 --json whereis svc
    [[ "$output" == '{"name":"svc","node":"a@127.0.0.1","address":"_'*'","meta":"otp-echo"}' ]]
    run otp-ctl -n b@127.0.0.1 names
    [ "$output" = svc ]
}

@test "names lists more names than one reply holds; a holder of many names exits cleanly" {
    reg_cluster a b
    args=()
    for i in $(seq 1 1500); do args+=(--register "n$i"); done
    echo_on a many "${args[@]}"
    many=$ECHO_PID
    wait_until 10 bash -c "[ \"\$(otp-ctl -n b@127.0.0.1 names | wc -l)\" = 1500 ]"
    run otp-ctl -n b@127.0.0.1 names
    [ "$output" = "$(printf 'n%s\n' $(seq 1 1500) | LC_ALL=C sort)" ]
    kill -9 "$many"
    wait_until 10 prints_nothing otp-ctl -n b@127.0.0.1 names
    run otp-ctl -n a@127.0.0.1 names
    [ "$output" = "" ]
}

@test "whereis of a name nobody holds prints undefined and exits 1" {
    reg_cluster a
    run otp-ctl -n a@127.0.0.1 whereis nobody
    [ "$status" -eq 1 ]
    [ "$output" = undefined ]
    run otp-ctl -n a@127.0.0.1 --json whereis nobody
    [ "$status" -eq 1 ]
    [ "$output" = '{"name":"nobody","node":null}' ]
}

@test "kill -9 of the holder removes its name from every replica" {
    reg_cluster a b c
    echo_on b svc --register svc
    wait_until 5 everyone_says svc b@127.0.0.1 a b c
    kill -9 "$ECHO_PID"
    wait_until 5 nobody_holds svc a b c
    # and the name is free to take again, elsewhere
    echo_on c svc2 --register svc
    wait_until 5 everyone_says svc c@127.0.0.1 a b c
}

@test "kill -9 of the holder's node removes its names from every other replica" {
    reg_cluster a b c
    echo_on a one --register one
    echo_on a two --register two --join grp
    wait_until 5 everyone_says two a@127.0.0.1 b c
    kill -9 "$(pid_of a)"
    wait_until 5 nobody_holds one b c
    wait_until 5 nobody_holds two b c
    wait_until 5 prints_nothing members b grp
    run otp-ctl -n c@127.0.0.1 names
    [ "$output" = "" ]
}

@test "a name held elsewhere cannot be registered; unregister frees it" {
    reg_cluster a b
    echo_on a holder --register svc
    wait_until 5 holds b svc a@127.0.0.1
    run otp-echo -n b@127.0.0.1 --register svc
    [ "$status" -ne 0 ]
    [[ "$output" == *"cannot register svc: 'svc' is registered to _"*"@a@127.0.0.1"* ]]
    holder=$ECHO_PID
    otp-ctl -n b@127.0.0.1 send svc '!unregister svc'
    wait_until 5 grep -qx done "$BATS_TEST_TMPDIR/holder.out"
    wait_until 5 nobody_holds svc a b
    kill "$holder"
}

@test "two nodes register one name at the same moment: exactly one succeeds" {
    reg_cluster a b c
    for round in 1 2 3 4 5; do
        otp-echo -n a@127.0.0.1 --register "race$round" > /dev/null 2> "$BATS_TEST_TMPDIR/a$round" 3>&- &
        pa=$!
        otp-echo -n b@127.0.0.1 --register "race$round" > /dev/null 2> "$BATS_TEST_TMPDIR/b$round" 3>&- &
        pb=$!
        track $pa; track $pb
        wait_until 10 bash -c "grep -qE '^ready|fatal' $BATS_TEST_TMPDIR/a$round"
        wait_until 10 bash -c "grep -qE '^ready|fatal' $BATS_TEST_TMPDIR/b$round"
        # Shown if the round fails: what each registrant said.
        echo "round $round: a: $(cat "$BATS_TEST_TMPDIR/a$round") b: $(cat "$BATS_TEST_TMPDIR/b$round")"
        won=$(cat "$BATS_TEST_TMPDIR/a$round" "$BATS_TEST_TMPDIR/b$round" | grep -c '^ready' || true)
        lost=$(cat "$BATS_TEST_TMPDIR/a$round" "$BATS_TEST_TMPDIR/b$round" | grep -c 'cannot register' || true)
        [ "$won" -eq 1 ]
        [ "$lost" -eq 1 ]
        winner=a@127.0.0.1
        grep -q '^ready' "$BATS_TEST_TMPDIR/b$round" && winner=b@127.0.0.1
        wait_until 5 everyone_says "race$round" "$winner" a b c
    done
}

@test "partition and heal: a name held on both sides ends with one holder everywhere; the loser is told" {
    reg_cluster a b c
    echo_on a first --register svc
    wait_until 5 everyone_says svc a@127.0.0.1 a b c
    # Cut a off: its node stops answering, the others drop it and its names.
    kill -STOP "$(pid_of a)"
    wait_until 10 sees b c@127.0.0.1
    wait_until 5 nobody_holds svc b c
    echo_on b second --register svc
    wait_until 5 everyone_says svc b@127.0.0.1 b c
    kill -CONT "$(pid_of a)"
    wait_until 15 full_mesh a b c
    # The older registration (a's) wins on every replica, and b's process
    # hears that it lost.
    wait_until 10 everyone_says svc a@127.0.0.1 a b c
    wait_until 5 grep -q '^lost svc to _.*@a@127.0.0.1$' "$BATS_TEST_TMPDIR/second.out"
    run otp-ctl -n c@127.0.0.1 names
    [ "$output" = svc ]
    sleep 0.5
    everyone_says svc a@127.0.0.1 a b c
}

@test "groups: join from three nodes, leave, member death, node death" {
    reg_cluster a b c
    echo_on a ga --join workers
    pa=$ECHO_PID
    echo_on b gb --join workers
    echo_on c gc --join workers --join other
    pc=$ECHO_PID
    for n in a b c; do
        wait_until 5 bash -c "[ \"\$(otp-ctl -n $n@127.0.0.1 members workers | wc -l)\" = 3 ]"
    done
    run otp-ctl -n a@127.0.0.1 groups
    [ "$output" = "$(printf 'other\nworkers')" ]
    # leave
    addr_b=$(otp-ctl -n a@127.0.0.1 members workers | grep '@b@' )
    otp-ctl -n a@127.0.0.1 send "$addr_b" '!leave workers'
    wait_until 5 grep -qx done "$BATS_TEST_TMPDIR/gb.out"
    for n in a b c; do wait_until 5 bash -c "[ \"\$(otp-ctl -n $n@127.0.0.1 members workers | wc -l)\" = 2 ]"; done
    [ "$(members c workers)" = "a@127.0.0.1 c@127.0.0.1 " ]
    # member death
    kill -9 "$pa"
    for n in a b c; do wait_until 5 bash -c "[ \"\$(otp-ctl -n $n@127.0.0.1 members workers | wc -l)\" = 1 ]"; done
    # node death
    kill -9 "$(pid_of c)"
    wait_until 5 prints_nothing members a workers
    wait_until 5 prints_nothing otp-ctl -n b@127.0.0.1 groups
}

@test "a new replica catches up from its peers; a restarted one too" {
    reg_cluster a b
    echo_on a svc --register svc --join grp
    wait_until 5 holds b svc a@127.0.0.1
    start_node c
    wait_until 10 full_mesh a b c
    start_reg c
    wait_until 5 holds c svc a@127.0.0.1
    [ "$(members c grp)" = "a@127.0.0.1 " ]
    kill -9 "$(reg_pid_of b)"
    start_reg b
    wait_until 5 holds b svc a@127.0.0.1
}

@test "a restarted otp-reg takes back its node's live names, and drops those whose process died meanwhile" {
    reg_cluster a b
    echo_on a live --register live --join grp
    live=$ECHO_PID
    echo_on a doomed --register doomed
    doomed=$ECHO_PID
    wait_until 5 holds b doomed a@127.0.0.1
    kill -9 "$(reg_pid_of a)"
    kill -9 "$doomed"
    start_reg a
    wait_until 5 holds a live a@127.0.0.1
    wait_until 5 nobody_holds doomed a b
    holds b live a@127.0.0.1
    [ "$(members b grp)" = "a@127.0.0.1 " ]
    # It owns them again: the holder's exit now removes them everywhere.
    kill -9 "$live"
    wait_until 5 nobody_holds live a b
    wait_until 5 prints_nothing members b grp
}

@test "otp-reg refuses bad input with an error and keeps its state" {
    reg_cluster a b
    echo_on a svc --register svc
    wait_until 5 holds b svc a@127.0.0.1
    long=$(printf 'x%.0s' $(seq 300))
    run otp-echo -n a@127.0.0.1 --register "$long"
    [ "$status" -ne 0 ]
    [[ "$output" == *"is not a valid name"* ]]
    # Not a frame list, an unknown request, a truncated one: each answered.
    run otp-ctl -n a@127.0.0.1 call otp-reg@a@127.0.0.1 'garbage'
    [[ "$output" == *"malformed request"* ]]
    run otp-ctl -n a@127.0.0.1 call otp-reg@a@127.0.0.1 $'\x04nope\x01x'
    [[ "$output" == *"malformed request"* ]]
    run otp-ctl -n a@127.0.0.1 call otp-reg@a@127.0.0.1 $'\x08register\x01x'
    [[ "$output" == *"malformed request"* ]]
    # A frame length past the end (this crashed CZMQ's own decoder).
    run otp-ctl -n a@127.0.0.1 call otp-reg@a@127.0.0.1 $'\xff\xff\xff\xff\xff'
    [[ "$output" == *"malformed request"* ]]
    # A replica's batch from a process that is not a replica; then, from
    # one that claims to be b's: a truncated batch, a DEL of a name b does
    # not own, and bytes that are no frame list.
    otp-ctl -n b@127.0.0.1 send otp-reg@a@127.0.0.1 $'\x04SYNC'
    stop_reg_b=$(reg_pid_of b)
    kill "$stop_reg_b"
    wait_until 5 bash -c "! kill -0 $stop_reg_b 2>/dev/null"
    echo_on b fake --attach otp-reg --send $'otp-reg@a@127.0.0.1=\x03ADD\x01y' \
        --send $'otp-reg@a@127.0.0.1=\x03DEL\x01svc\x02zz' --send 'otp-reg@a@127.0.0.1=junk'
    wait_until 5 bash -c "otp-ctl -n a@127.0.0.1 --json registry | grep -q '\"bad_messages\":[4-9]'"
    # Still alive, still holding what it held.
    holds a svc a@127.0.0.1
    run otp-ctl -n a@127.0.0.1 names
    [ "$output" = svc ]
}
