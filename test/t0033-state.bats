#!/usr/bin/env bats
# Checkpoints (README: "A child's state"): a cluster child's state, put on its
# descriptor 3, is held by a majority before it is answered and given back at
# every start - after kill -9 of its node, a rolling restart and an upgrade
# of the release. A state of 1 MiB goes; more, and garbage, are refused with
# a line, and neither the child nor its member notices.
bats_require_minimum_version 1.5.0
load helper
load sup
load counter

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
VERSION=$(sed -n 's/^VERSION *:= *//p' "$ROOT/Makefile")

# state_of NODE ID KEY: one field of otp-ctl state, asked on NODE.
state_of () { otp-ctl -n "$1@127.0.0.1" state "$2" | awk -v k="$3" '$1 == k { print $2 }'; }

@test "the counter at 5, kill -9 of its node: a survivor answers 5; otp-ctl state shows the checkpoint; sup-info counts them" {
    counter_cluster
    for i in 1 2 3 4 5; do [ "$(call n$(( i % 3 + 1 )) inc)" = "$i" ]; done
    # Every member holds it: size, seq, the release that wrote it, its age.
    for n in n1 n2 n3; do
        wait_until 5 prints 1 state_of "$n" counter size
        [ "$(state_of "$n" counter held)" = yes ]
        [ "$(state_of "$n" counter seq)" -ge 5 ]
        [ "$(state_of "$n" counter release)" = "$VERSION" ]
        [ "$(state_of "$n" counter age_ms)" -lt 60000 ]
    done
    # By its name too.
    [ "$(otp-ctl -n n1@127.0.0.1 state counter --json | grep -c '"held":"yes"')" -eq 1 ]
    run otp-ctl -n n1@127.0.0.1 state nosuch
    [ "$status" -eq 1 ]
    [ "$output" = "otp-ctl: no child nosuch" ]
    [ "$(otp-ctl -n "$HOST@127.0.0.1" sup-info | awk '$1 == "checkpoints" { print $2 }')" -ge 5 ]
    kill -9 "$(pid_of "$HOST")" "$(reg_pid_of "$HOST")" "$(sup_pid_of "$HOST")"
    wait_until 15 answers "$SURVIVOR" get 5
    [ "$(call "$SURVIVOR" inc)" = 6 ]
    # The new instance started from the state, which names its release.
    [ "$(call "$SURVIVOR" info)" = "count 6 release $VERSION state-from $VERSION merged none" ]
    grep -q "counter: started" "$BATS_TEST_TMPDIR"/n?.sup.log
}

@test "the counter's otp-sup killed and started again before a failover (quorum, long delay): the new otp-sup starts it with the count, and its puts are held" {
    reg_cluster n1 n2 n3
    opts=(--strategy quorum --members 3 --failover-delay 20000)
    for n in n1 n2 n3; do start_sup "$n" "${opts[@]}"; done
    wait_until 10 counter_members 3 n1 n2 n3
    run otp-ctl -n n1@127.0.0.1 start-child counter --name counter -- "$COUNTER"
    [ "$status" -eq 0 ]
    host=$(echo "$output" | awk '{ print $4 }'); host=${host%@*}
    other=n1; [ "$host" = n1 ] && other=n2
    for i in 1 2 3 4 5; do [ "$(call "$other" inc)" = "$i" ]; done
    kill -9 "$(sup_pid_of "$host")"
    start_sup "$host" "${opts[@]}"
    # Its entry comes back from the members' tables, naming it owner: it
    # reads their states before it starts the counter.
    wait_until 15 answers "$other" get 5
    [ "$(call "$other" inc)" = 6 ]
    [ "$(owner_of "$other")" = "$host@127.0.0.1" ]
    for n in n1 n2 n3; do wait_until 5 prints 6 state_seq_count "$n"; done
}

# state_seq_count NODE: the seq of the counter's state NODE holds (6 incs: 6).
state_seq_count () { state_of "$1" counter seq; }
owner_of () { otp-ctl -n "$1@127.0.0.1" which-children | awk '$1 == "counter" { print $2 }'; }

# big_child: a child that puts a state of 1 MiB, one of 1 MiB + 1, and
# garbage, and says what the channel answered.
big_child () {
    BIG="$BATS_TEST_TMPDIR/big.sh"
    cat > "$BIG" <<'EOF'
#!/bin/bash
ask () { printf '%s\n' "$1" >&3; IFS= read -r ack <&3; }
while IFS= read -r line; do
    case $line in
        big) head -c 1048576 /dev/urandom > "$OTP_DIR/big.bin"
             printf 'put64 %s\n' "$(base64 -w0 "$OTP_DIR/big.bin")" >&3; IFS= read -r ack <&3
             echo "$ack $(sha256sum < "$OTP_DIR/big.bin" | cut -c1-16)" ;;
        huge) printf 'put64 %s\n' "$(head -c 1048577 /dev/zero | base64 -w0)" >&3; IFS= read -r ack <&3
              echo "$ack" ;;
        endless) { head -c 3000000 /dev/zero | tr '\0' x; echo; } >&3; IFS= read -r ack <&3; echo "$ack" ;;
        junk) ask 'hello there'; a=$ack; ask 'put64 !!!!'; b=$ack
              printf '\001\002\377\n' >&3; IFS= read -r c <&3
              printf 'cast64 ###\n' >&3                 # a cast: never answered
              ask 'put fine'; echo "$a | $b | ${c%% *} | $ack" ;;
        flood) ( for i in $(seq 3000); do echo "hello $i"; done >&3 ) &
               n=$(head -n 3000 <&3 | grep -c '^error bad'); wait; echo "flood $n" ;;
        file) echo "${OTP_STATE_FILE:-none}" ;;
        sum) if [ -n "${OTP_STATE_FILE:-}" ]; then sha256sum < "$OTP_STATE_FILE" | cut -c1-16; else echo none; fi ;;
        *) echo "what? $line" ;;
    esac
done
EOF
    chmod +x "$BIG"
}

@test "a state of 1 MiB is held and given back after kill -9; 1 MiB + 1, an endless line and garbage are refused with a line; child and member live on" {
    big_child
    reg_cluster n1 n2 n3
    for n in n1 n2 n3; do start_sup "$n"; done
    wait_until 10 counter_members 3 n1 n2 n3
    run otp-ctl -n n1@127.0.0.1 start-child big --name big --env "OTP_DIR=$BATS_TEST_TMPDIR" -- "$BIG"
    [ "$status" -eq 0 ]
    host=$(echo "$output" | awk '{ print $4 }'); host=${host%@*}
    pid=$(echo "$output" | awk '{ print $6 }')
    big () { otp-ctl -n n1@127.0.0.1 call big "$1" --timeout 10000; }
    run big big
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^ok\ [0-9]+\ [0-9a-f]{16}$ ]]
    sum=${output##* }
    for n in n1 n2 n3; do wait_until 5 prints 1048576 state_of "$n" big size; done
    run big huge
    [[ "$output" == "error toolarge a state is at most 1048576 bytes"* ]]
    run big endless
    [[ "$output" == "error toolarge"* ]]
    [ "$(state_of n1 big size)" = 1048576 ]
    # 3,000 bad lines written faster than their answers are read: each is
    # answered, none dropped (the channel stops reading while 64 KiB wait).
    run big flood
    [ "$output" = "flood 3000" ]
    run big junk
    echo "# $output" >&3
    [[ "$output" == "error bad not a checkpoint request"*" | error bad not base64 | error | ok "[0-9]* ]]
    # Nothing of it killed the child or its member; only "put fine" was taken.
    running "$pid"
    running "$(sup_pid_of "$host")"
    wait_until 5 prints 4 state_of n1 big size
    [ "$(otp-ctl -n "$host@127.0.0.1" sup-info | awk '$1 == "checkpoints_refused" { print $2 }')" -eq 0 ]
    # "put fine" came last: it is what a new instance gets.
    survivor=n1; [ "$host" = n1 ] && survivor=n2
    kill -9 "$(pid_of "$host")" "$(reg_pid_of "$host")" "$(sup_pid_of "$host")"
    wait_until 15 prints "$(printf fine | sha256sum | cut -c1-16)" otp-ctl -n "$survivor@127.0.0.1" call big sum --timeout 2000
    # Given as a memory file on descriptor 4: nothing on disk to clean up.
    [ "$(otp-ctl -n "$survivor@127.0.0.1" call big file)" = /dev/fd/4 ]
    # And the 1 MiB state itself goes to the heir whole, in pieces.
    run otp-ctl -n "$survivor@127.0.0.1" call big big --timeout 10000
    [[ "$output" =~ ^ok\ [0-9]+\ [0-9a-f]{16}$ ]]
    sum=${output##* }
    host2=$(otp-ctl -n "$survivor@127.0.0.1" which-children | awk '$1 == "big" { print $2 }')
    kill -TERM "$(pid_of "${host2%@*}")"
    other=n1; for n in n1 n2 n3; do [ "$n" != "$host" ] && [ "$n@127.0.0.1" != "$host2" ] && other=$n; done
    wait_until 15 prints "$sum" otp-ctl -n "$other@127.0.0.1" call big sum --timeout 2000
}

@test "the C API (lib/otp_state.h): otp-bench state-child puts and casts; after kill -9 of its node it starts with the last state" {
    reg_cluster n1 n2 n3
    for n in n1 n2 n3; do start_sup "$n"; done
    wait_until 10 counter_members 3 n1 n2 n3
    run otp-ctl -n n1@127.0.0.1 start-child stc --name stc -- "$OTP_BIN/otp-bench" state-child
    [ "$status" -eq 0 ]
    host=$(echo "$output" | awk '{ print $4 }'); host=${host%@*}
    stc () { otp-ctl -n "$1@127.0.0.1" call stc "$2" --timeout 10000; }
    [ "$(stc n1 sum)" = none ]
    run stc n1 "cast 16 200"
    [[ "$output" =~ ^ok\ 200\ [0-9]+$ ]]
    run stc n2 "put 1000 20"
    [[ "$output" =~ ^ok\ 20\ [0-9]+\ [0-9]+\ [0-9]+\ [0-9a-f]{16}$ ]]
    digest=${output##* }
    run stc n2 "put 1048577 1"
    [ "$output" = "error: put SIZE COUNT | cast SIZE COUNT | sum" ]
    survivor=n1; [ "$host" = n1 ] && survivor=n2
    kill -9 "$(pid_of "$host")" "$(reg_pid_of "$host")" "$(sup_pid_of "$host")"
    wait_until 15 prints "1000 $digest $VERSION" stc "$survivor" sum
}

# The release, twice: as VERSION and as the next version, from the build
# under test (the binaries are the same; the launcher says which it is).
two_releases () {
    local b="$BATS_TEST_TMPDIR/build" v
    mkdir -p "$b/bin"
    for v in otp-epmd otp-node otp-reg otp-sup otp-ctl; do cp "$OTP_BIN/$v" "$b/bin/"; done
    NEXT=${VERSION%.*}.$(( ${VERSION##*.} + 1 ))
    "$ROOT/scripts/make-release" "$b" "$VERSION" > /dev/null
    "$ROOT/scripts/make-release" "$b" "$NEXT" > /dev/null
    mkdir -p "$BATS_TEST_TMPDIR/rel"
    tar -xzf "$b/otp-labs-$VERSION.tar.gz" -C "$BATS_TEST_TMPDIR/rel"
    cp "$b/otp-labs-$NEXT.tar.gz" "$BATS_TEST_TMPDIR/rel/"
    REL="$BATS_TEST_TMPDIR/rel/otp-labs-$VERSION"
}

track_var () {
    local f
    for f in "$1"/*.pid; do [ -f "$f" ] && track "$(cat "$f")"; done
    return 0
}

labs_call () { OTP_LABS_CONFIG="$BATS_TEST_TMPDIR/r$1.env" "$2" remote call counter "$3" --timeout 2000; }

@test "a rolling restart and otp-labs upgrade to the next release, one node at a time: the counter keeps 5, and learns the release its state was written by" {
    start_epmd
    two_releases
    cd "$BATS_TEST_TMPDIR"
    for i in 1 2 3; do
        printf 'OTP_NODE_NAME=r%s@127.0.0.1\nOTP_LABS_VAR_DIR=%s\nOTP_CLUSTER_STRATEGY=epmd\nOTP_CLUSTER_NODES=r1@127.0.0.1,r2@127.0.0.1,r3@127.0.0.1\n' \
            "$i" "$BATS_TEST_TMPDIR/var$i" > "r$i.env"
        run env OTP_LABS_CONFIG="r$i.env" "$REL/bin/otp-labs" start 3>&-
        [ "$status" -eq 0 ]
        track_var "var$i"
    done
    for i in 1 2 3; do
        wait_until 15 bash -c "OTP_LABS_CONFIG=r$i.env '$REL/bin/otp-labs' remote sup-info | grep -qx 'members *3'"
    done
    OTP_LABS_CONFIG=r1.env "$REL/bin/otp-labs" remote start-child counter --name counter -- "$COUNTER"
    for i in 1 2 3 4 5; do [ "$(labs_call 1 "$REL/bin/otp-labs" inc)" = "$i" ]; done

    run "$ROOT/scripts/rolling-restart" --release "$REL/bin/otp-labs" r1.env r2.env r3.env 3>&-
    echo "$output" | sed "s/^/# /" >&3
    [ "$status" -eq 0 ]
    for i in 1 2 3; do track_var "var$i"; done
    [ "$(labs_call 2 "$REL/bin/otp-labs" get)" = 5 ]

    run "$ROOT/scripts/rolling-restart" --release "$REL/bin/otp-labs" --upgrade "$NEXT" r1.env r2.env r3.env 3>&-
    echo "$output" | sed "s/^/# /" >&3
    [ "$status" -eq 0 ]
    for i in 1 2 3; do track_var "var$i"; done
    for i in 1 2 3; do
        echo "$output" | grep -q "^r$i@127.0.0.1 upgraded to $NEXT in .*s$"
        echo "$output" | grep -q "^otp-labs: r$i@127.0.0.1: release $VERSION -> $NEXT "
    done
    NEW="$BATS_TEST_TMPDIR/rel/otp-labs-$NEXT"
    for i in 1 2 3; do
        # Every node runs the new release's binaries now.
        pid=$(cat "var$i/otp-node.pid")
        [ "$(readlink "/proc/$pid/exe")" = "$NEW/bin/otp-node" ]
    done
    [ "$(labs_call 3 "$NEW/bin/otp-labs" get)" = 5 ]
    # It moved onto a new node with a state that the old release wrote.
    [ "$(labs_call 1 "$NEW/bin/otp-labs" info)" = "count 5 release $NEXT state-from $VERSION merged none" ]
    [ "$(labs_call 1 "$NEW/bin/otp-labs" inc)" = 6 ]
    [ "$(OTP_LABS_CONFIG=r1.env "$NEW/bin/otp-labs" remote state counter | awk '$1 == "release" { print $2 }')" = "$NEXT" ]
    # Upgrading to what runs, or to a release that is not there, is an error.
    run env OTP_LABS_CONFIG=r1.env "$NEW/bin/otp-labs" upgrade "$NEXT"
    [ "$status" -eq 1 ]
    [ "$output" = "otp-labs: this is release $NEXT already" ]
    run env OTP_LABS_CONFIG=r1.env "$NEW/bin/otp-labs" upgrade 9.9.9
    [ "$status" -eq 1 ]
    [[ "$output" == "otp-labs: no release 9.9.9: cannot read "*"/otp-labs-9.9.9.tar.gz" ]]
    for i in 1 2 3; do
        run env OTP_LABS_CONFIG="r$i.env" "$NEW/bin/otp-labs" stop
        [ "$status" -eq 0 ]
    done
}
