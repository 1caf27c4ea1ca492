#!/usr/bin/env bats
# Attacks on otp-epmd (issue 12, points 1 and 3): an endless message, a
# message of millions of frames, connection floods, a local user taking or
# squatting names. For each: otp-epmd's RSS grows by at most 64 MiB, it
# keeps answering (the worst INFO latency is printed), and legitimate
# nodes still start, register, look up and mesh.

load helper

NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

# latency_watch: samples `otp-ctl epmd info` every 100 ms in the background
# (the time each takes, in ms, or 9999 if it fails); worst_latency prints
# the largest.
latency_watch () {
    LAT="$BATS_TEST_TMPDIR/latency"
    : > "$LAT"
    ( while true; do
          t0=$(date +%s%N)
          if otp-ctl --timeout 2000 epmd info > /dev/null 2>&1; then
              echo $(( ($(date +%s%N) - t0) / 1000000 )) >> "$LAT"
          else
              echo 9999 >> "$LAT"
          fi
          sleep 0.1
      done ) 3>&- &
    track $!
}
worst_latency () { sort -n "$LAT" | tail -1; }

attack () {
    local out="$BATS_TEST_TMPDIR/attack.$RANDOM.out"
    otp-zmtp-attack "$@" > "$out" 2>&1 &
    track $!
    ATTACKS="${ATTACKS:-} $!"
    OUTS="${OUTS:-} $out"
}
field () { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$2"; }

# after_attack: the checks every attack ends with.
after_attack () {
    local pid=$1 before=$2
    kill -0 "$pid"
    echo "otp-epmd rss before $before KiB, peak $(peak_rss "$pid") KiB; worst INFO latency $(worst_latency) ms"
    [ $(( $(peak_rss "$pid") - before )) -lt 65536 ]
    # The latency includes starting otp-ctl on a machine the attack loads
    # (CI saw 1078 ms once, after the 100-node test); a sanitizer build
    # starts and runs several times slower. The stalls this guards against
    # lasted tens of seconds.
    local bound=2000
    ! sanitized || bound=4000
    [ "$(worst_latency)" -lt "$bound" ]
    registered a
    registered b
    wait_until 10 full_mesh a b
    [ "$(otp-ctl -n a@127.0.0.1 ping)" = pong ]
}

@test "endless messages of empty frames: each cut off at once, otp-epmd stays small and answers" {
    small_quarantine
    start_epmd
    start_node a
    local pid=$EPMD_PID before
    before=$(rss_kb "$pid")
    watch_rss "$pid"
    latency_watch
    # 4 attackers, 256 MiB each (8.1 GB resident on the old otp-epmd)
    for _ in 1 2 3 4; do
        attack --hold 3 "tcp://127.0.0.1:$OTP_EPMD_PORT" endless 268435456
    done
    start_node b            # registers during the attack
    for p in $ATTACKS; do wait "$p"; done
    for out in $OUTS; do
        cat "$out"
        [ "$(field closed-by-peer "$out")" -eq 1 ]
        [ "$(field sent "$out")" -lt $(( 64 << 20 )) ]
    done
    after_attack "$pid" "$before"
}

@test "a message of 16M frames: cut off at its 9th frame, otp-epmd's loop never stalls" {
    small_quarantine
    start_epmd
    start_node a
    local pid=$EPMD_PID before
    before=$(rss_kb "$pid")
    watch_rss "$pid"
    latency_watch
    attack --wait 1000 "tcp://127.0.0.1:$OTP_EPMD_PORT" frames 16777216
    attack --wait 1000 "tcp://127.0.0.1:$OTP_EPMD_PORT" frames 16777216
    start_node b
    for p in $ATTACKS; do wait "$p"; done
    for out in $OUTS; do
        cat "$out"
        [ "$(field closed-by-peer "$out")" -eq 1 ]
        [ "$(field frames "$out")" -lt 16777216 ]
    done
    # An answer needs frames within the bound: a message of 9 is cut too
    run otp-zmtp-attack --wait 1000 "tcp://127.0.0.1:$OTP_EPMD_PORT" frames 9
    [ "$(echo "$output" | field closed-by-peer /dev/stdin)" -eq 1 ]
    after_attack "$pid" "$before"
}

@test "connection floods: per address and in total the oldest make room; lookups and registrations go on" {
    small_quarantine
    start_epmd --max-conns 600 --max-per-address 200
    start_node a
    local pid=$EPMD_PID before
    before=$(rss_kb "$pid")
    watch_rss "$pid"
    latency_watch
    # One address (127.0.0.1, as a local attacker and our own clients), far
    # over its bound, greeted and idle (no handshake
    # time-out helps here)
    attack --hold 6 "tcp://127.0.0.1:$OTP_EPMD_PORT" idle 1000
    # Half-open greetings from 4 more addresses: 800 over a total of 600
    local floods=""
    for i in 2 3 4 5; do
        otp-flood --count 200 --rate 2000 --hold 6 --from "127.0.0.$i" 127.0.0.1 "$OTP_EPMD_PORT" \
            > "$BATS_TEST_TMPDIR/flood.$i.out" 2>&1 &
        track $!
        floods="$floods $!"
    done
    sleep 2
    start_node b            # registers and looks up during the floods
    wait_until 10 full_mesh a b
    for p in $ATTACKS $floods; do wait "$p"; done
    cat $OUTS "$BATS_TEST_TMPDIR"/flood.*.out
    # At most 200 of the 1000 were kept (the oldest made room for the next)
    [ "$(field open $OUTS)" -le 200 ]
    [ "$(field closed-by-peer $OUTS)" -ge 800 ]
    # The half-open ones were cut (the oldest made room, or no handshake in 5 s)
    local cut=0
    for i in 2 3 4 5; do
        cut=$(( cut + $(field closed-by-peer "$BATS_TEST_TMPDIR/flood.$i.out") ))
    done
    [ "$cut" -ge 200 ]
    after_attack "$pid" "$before"
}

@test "a local unprivileged user cannot take a node's name, even knowing its instance" {
    start_epmd
    start_node a
    start_node b
    wait_until 10 full_mesh a b
    local port
    port=$(otp-ctl epmd names | awk '$1 == "a" { print $2 }')
    local ipc="ipc://@otp-epmd-$OTP_EPMD_PORT" tcp="tcp://127.0.0.1:$OTP_EPMD_PORT"
    # The instance no longer counts (any value is the same as the right one)
    run "${NOBODY[@]}" otp-probe "$ipc" BYE a any-instance
    [ "${lines[1]}" = "no such registration" ]
    run "${NOBODY[@]}" otp-probe "$ipc" ALIVE a 1 any-instance
    [ "${lines[1]}" = "name is in use by another node" ]
    # Over TCP (a sidecar proxy connects from 127.0.0.6) nobody registers
    run "${NOBODY[@]}" otp-probe "$tcp" BYE a any-instance
    [ "${lines[1]}" = "no such registration" ]
    run "${NOBODY[@]}" otp-probe "$tcp" ALIVE c 1 any-instance
    [ "${lines[1]}" = "only nodes on this host may register" ]
    sleep 2                 # several refreshes of a
    kill -0 "$PID_a"
    [ "$(otp-ctl epmd names | awk '$1 == "a" { print $2 }')" = "$port" ]
    no_line "gave the name|lost the name" "$BATS_TEST_TMPDIR/a.log"
    full_mesh a b
}

@test "a name squatted before a node starts: one clear line and exit 1; the name is free when the squatter goes" {
    start_epmd
    "${NOBODY[@]}" otp-squat --hold 30 "ipc://@otp-epmd-$OTP_EPMD_PORT" a \
        > "$BATS_TEST_TMPDIR/squat.out" 2>&1 &
    local squatter=$!
    track "$squatter"
    wait_until 5 registered a
    run otp-node -d --name a@127.0.0.1 --no-epmd
    echo "$output"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" == *"fatal: cannot register a@127.0.0.1: name is in use by another node"* ]]
    kill "$squatter"
    wait_until 3 bash -c "! otp-ctl epmd names | grep -q '^a '"
    start_node a
}

@test "400 names squatted by a local user: a local-strategy node neither aborts nor starves" {
    small_quarantine
    start_epmd
    local pid=$EPMD_PID before
    before=$(rss_kb "$pid")
    watch_rss "$pid"
    latency_watch
    "${NOBODY[@]}" otp-squat --count 400 --port 9 --hold 60 "ipc://@otp-epmd-$OTP_EPMD_PORT" bogus \
        > "$BATS_TEST_TMPDIR/squat.out" 2>&1 &
    track $!
    wait_until 15 grep -q "registered 400 refused 0" "$BATS_TEST_TMPDIR/squat.out"
    start_node a
    start_node b
    wait_until 15 full_mesh a b
    sleep 5                 # several strategy ticks over 400 bogus names
    kill -0 "$PID_a"
    kill -0 "$PID_b"
    no_line "Assertion|abort|fatal" "$BATS_TEST_TMPDIR/a.log" "$BATS_TEST_TMPDIR/b.log"
    [ "$(otp-ctl epmd names | wc -l)" -eq 402 ]
    after_attack "$pid" "$before"
}
