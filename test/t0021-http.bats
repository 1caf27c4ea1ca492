#!/usr/bin/env bats
# Probes and metrics over HTTP (otp-node --http-port): liveness, readiness
# (joined, not draining, --ready-needs attached), Prometheus metrics with
# the figures otp-reg and otp-sup report, and bad requests that get an
# error, never a crash. Plain bash /dev/tcp: no curl needed.
load helper
load sup
# Set on a machine made from the image: not for these tests' nodes.
unset OTP_HTTP_PORT OTP_HTTP_BIND OTP_READY_NEEDS

# free_port: a TCP port nothing listens on now.
free_port () {
    local port
    for _ in $(seq 50); do
        port=$(( 20000 + RANDOM % 12000 ))
        if ! (exec 9<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# http_node NAME [otp-node options]: start_node NAME with HTTP on a free
# port; sets HTTP_PORT.
http_node () {
    local name=$1; shift
    HTTP_PORT=$(free_port)
    start_node "$name" --http-port "$HTTP_PORT" "$@"
}

# raw_http FILE: sends FILE's bytes to the HTTP port, prints the answer
# without its CRs (nothing if the server closed without one).
raw_http () {
    timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
        cat "$1" >&3 2>/dev/null
        cat <&3 2>/dev/null' "$HTTP_PORT" "$1" 2>/dev/null | tr -d '\r'
}

# request METHOD PATH: prints the status code, then the headers, an empty
# line and the body, as the server sent them (CRs removed).
request () {
    local file="$BATS_TEST_TMPDIR/request.$RANDOM"
    printf '%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$1" "$2" > "$file"
    raw_http "$file" | sed '1s/^HTTP\/1\.[01] \([0-9]*\) .*/\1/'
}
status_of () { request "${2:-GET}" "$1" | head -1; }
body_of () { request "${2:-GET}" "$1" | sed '1,/^$/d'; }
# metric NAME: its value in /metrics, nothing if it is not there.
metric () { body_of /metrics | awk -v n="$1" '$1 == n { print $2 }'; }
# status_of_raw TEXT: the status code answering TEXT (printf escapes), or
# "closed" if the server closed without an answer.
status_of_raw () {
    local file="$BATS_TEST_TMPDIR/raw.$RANDOM" answer
    printf "$1" > "$file"
    answer=$(raw_http "$file" | head -1)
    if [ -z "$answer" ]; then echo closed; else echo "$answer" | cut -d' ' -f2; fi
}
ready_is () { [ "$(status_of /health/ready) $(body_of /health/ready)" = "$1" ]; }

@test "live and ready answer; other paths 404, other methods 405; metrics in the Prometheus format" {
    start_epmd
    http_node a --poll 200
    run status_of /health/live
    [ "$output" = 200 ]
    run body_of /health/live
    [ "$output" = ok ]
    wait_until 5 ready_is "200 ready"
    run request GET /health/ready
    [[ "$output" == *"Content-Type: text/plain; charset=utf-8"* ]]

    run status_of /nope
    [ "$output" = 404 ]
    run status_of /health
    [ "$output" = 404 ]
    run status_of /metrics/
    [ "$output" = 404 ]
    run request POST /metrics
    [ "${lines[0]}" = 405 ]
    [[ "$output" == *"Allow: GET, HEAD"* ]]
    run status_of /health/live DELETE
    [ "$output" = 405 ]
    run status_of /health/ready PUT
    [ "$output" = 405 ]
    # HEAD: the status and headers, no body.
    run status_of /health/live HEAD
    [ "$output" = 200 ]
    run body_of /health/live HEAD
    [ -z "$output" ]
    # A query string is not part of the path.
    run status_of '/health/live?verbose=1'
    [ "$output" = 200 ]

    run request GET /metrics
    [ "${lines[0]}" = 200 ]
    [[ "$output" == *"Content-Type: text/plain; version=0.0.4; charset=utf-8"* ]]
    body_of /metrics > "$BATS_TEST_TMPDIR/metrics"
    # Every sample is NAME[{LABELS}] VALUE, and every name has HELP and TYPE.
    run grep -Evc '^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9]+(\.[0-9]+)?)$' \
        "$BATS_TEST_TMPDIR/metrics"
    [ "$output" = 0 ]
    for name in $(grep -v '^#' "$BATS_TEST_TMPDIR/metrics" | sed 's/[{ ].*//' | sort -u); do
        grep -q "^# HELP $name " "$BATS_TEST_TMPDIR/metrics"
        grep -Eq "^# TYPE $name (counter|gauge)$" "$BATS_TEST_TMPDIR/metrics"
    done
    grep -q '^# TYPE otp_messages_in_total counter$' "$BATS_TEST_TMPDIR/metrics"
    grep -q '^otp_node_info{node="a@127.0.0.1",version="[0-9.]*",strategy="local"} 1$' \
        "$BATS_TEST_TMPDIR/metrics"
    [ "$(metric otp_connected_nodes)" = 0 ]
    [ "$(metric otp_ready)" = 1 ]
    [ "$(metric otp_draining)" = 0 ]
    [ "$(metric otp_handshake_failures_total)" = 0 ]
    awk '$1 == "otp_uptime_seconds" && $2 > 0 { found = 1 } END { exit !found }' \
        "$BATS_TEST_TMPDIR/metrics"
    # Nobody reports registry or supervisor figures: none are shown.
    run grep -c '^otp_\(registry\|sup\)_' "$BATS_TEST_TMPDIR/metrics"
    [ "$output" = 0 ]
    # The counters count: a ping to the node is a message in.
    before=$(metric otp_messages_in_total)
    otp-ctl -n a@127.0.0.1 ping
    [ "$(metric otp_messages_in_total)" -gt "$before" ]
}

@test "ready: 503 joining until a peer is up; a node alone is ready after its first round" {
    start_epmd
    # Its first round (the poll interval) is long: only a peer makes it ready.
    http_node a --strategy epmd --nodes a@127.0.0.1,b@127.0.0.1 --poll 30000
    a_port=$HTTP_PORT
    run status_of /health/ready
    [ "$output" = 503 ]
    run body_of /health/ready
    [ "$output" = joining ]
    [ "$(metric otp_joined)" = 0 ]
    [ "$(metric otp_ready)" = 0 ]
    run status_of /health/live
    [ "$output" = 200 ]

    start_node b --strategy epmd --nodes a@127.0.0.1,b@127.0.0.1 --poll 30000
    HTTP_PORT=$a_port
    wait_until 10 ready_is "200 ready"
    [ "$(metric otp_connected_nodes)" = 1 ]
    [ "$(metric otp_joined)" = 1 ]
    grep -q "joined the cluster (1 peer(s) up)" "$BATS_TEST_TMPDIR/a.log"

    # Joined is for good: the peer's going does not make it unready.
    kill -9 "$(pid_of b)"
    wait_until 5 prints 0 metric otp_connected_nodes
    ready_is "200 ready"

    # Alone: ready once its first round is over and nothing it found is
    # being dialled.
    http_node solo --strategy epmd --nodes solo@127.0.0.1,ghost@127.0.0.1 --poll 5000
    run body_of /health/ready
    [ "$output" = joining ]
    wait_until 12 ready_is "200 ready"
    [ "$(metric otp_connected_nodes)" = 0 ]
    grep -q "joined the cluster (0 peer(s) up)" "$BATS_TEST_TMPDIR/solo.log"
}

@test "ready waits for the processes named in --ready-needs (OTP_READY_NEEDS)" {
    start_epmd
    export OTP_READY_NEEDS=otp-reg
    http_node a --poll 200
    wait_until 5 ready_is "503 waiting for otp-reg"
    start_reg a
    wait_until 5 ready_is "200 ready"
    kill -TERM "$(reg_pid_of a)"
    wait_until 5 ready_is "503 waiting for otp-reg"

    # The flag wins over the variable; each name must be attached.
    http_node b --poll 200 --ready-needs otp-reg,worker
    unset OTP_READY_NEEDS
    wait_until 5 ready_is "503 waiting for otp-reg"
    start_reg b
    wait_until 5 ready_is "503 waiting for worker"
    echo_on b worker --attach worker
    wait_until 5 ready_is "200 ready"

    # A name that is not a process name: a one-line error, exit non-zero.
    run otp-node -d -n --name c@127.0.0.1 --no-epmd --http-port "$(free_port)" --ready-needs 'otp-reg,no/way'
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"'no/way' in the ready needs (--ready-needs) is not a process name"* ]]
}

@test "SIGTERM while otp-sup holds the node: ready turns 503 draining, live stays 200, until it leaves" {
    start_epmd
    http_node a --poll 200
    wait_until 5 ready_is "200 ready"
    # A child that ignores SIGTERM: otp-sup's hand-off takes its shutdown time.
    cat > "$BATS_TEST_TMPDIR/stubborn.sh" <<'EOF'
#!/bin/sh
trap '' TERM
while :; do sleep 1; done
EOF
    chmod +x "$BATS_TEST_TMPDIR/stubborn.sh"
    cat > "$BATS_TEST_TMPDIR/sup.conf" <<EOF
child = stubborn
    command = $BATS_TEST_TMPDIR/stubborn.sh
    shutdown = 4000
EOF
    start_sup a --config "$BATS_TEST_TMPDIR/sup.conf"
    wait_until 5 prints 1 metric otp_holders

    kill -TERM "$(pid_of a)"
    wait_until 5 ready_is "503 draining"
    run status_of /health/live
    [ "$output" = 200 ]
    run body_of /health/live
    [ "$output" = ok ]
    [ "$(metric otp_draining)" = 1 ]
    [ "$(metric otp_ready)" = 0 ]
    kill -0 "$(pid_of a)"

    # otp-sup has handed off (its child was killed after 4 s): the node leaves,
    # and its HTTP port with it.
    wait_until 15 gone "$(pid_of a)"
    grep -q drained "$BATS_TEST_TMPDIR/a.log"
    run status_of /health/live
    [ -z "$output" ]
}

@test "metrics: registry size, children and restarts from otp-reg and otp-sup beside the node" {
    start_epmd
    http_node a --poll 200
    start_reg a
    start_sup a
    wait_until 5 prints 0 metric otp_registry_names
    wait_until 5 prints 0 metric otp_sup_children
    [ "$(metric otp_registry_groups)" = 0 ]
    [ "$(metric otp_sup_restarts_total)" = 0 ]
    body_of /metrics | grep -q '^# TYPE otp_sup_restarts_total counter$'
    body_of /metrics | grep -q '^# TYPE otp_registry_names gauge$'

    echo_on a names --register alpha --register beta --join team
    wait_until 5 prints 2 metric otp_registry_names
    wait_until 5 prints 1 metric otp_registry_groups

    write_child
    otp-ctl -n a@127.0.0.1 start-child w --node a@127.0.0.1 -- "$CHILD"
    wait_until 5 prints 1 metric otp_sup_children_running
    [ "$(metric otp_sup_children)" = 1 ]
    pid=$(live_pids w)
    kill -9 "$pid"
    wait_until 5 prints 1 metric otp_sup_restarts_total
    wait_until 5 runs_once w
    [ "$(live_pids w)" != "$pid" ]
    wait_until 5 prints 1 metric otp_sup_children_running

    # A reporter that goes takes its figures with it.
    kill -TERM "$(sup_pid_of a)"
    wait_until 10 prints "" metric otp_sup_children
    [ "$(metric otp_registry_names)" = 2 ]
}

@test "metrics: a failover after kill -9 of a node is counted where the child runs again" {
    write_child
    start_epmd
    http_node a
    start_node b
    wait_until 10 full_mesh a b
    start_reg a; start_reg b
    start_sup a; start_sup b
    wait_until 10 bash -c "otp-ctl -n a@127.0.0.1 sup-info | grep -qx 'members *2'"
    wait_until 5 prints 0 metric otp_sup_failovers_total

    otp-ctl -n a@127.0.0.1 start-child w --node b@127.0.0.1 -- "$CHILD"
    wait_until 5 runs_once w
    [ "$(metric otp_sup_children)" = 0 ]
    kill -9 "$(sup_pid_of b)" "$(reg_pid_of b)" "$(pid_of b)"
    wait_until 10 prints 1 metric otp_sup_failovers_total
    wait_until 5 prints 1 metric otp_sup_children_running
    [ "$(metric otp_connected_nodes)" = 0 ]
    [ "$(metric otp_nodedowns_total)" -ge 1 ]
}

@test "metrics: checkpoints of the cluster children run here, their bytes, and the bytes of states held" {
    start_epmd
    http_node a
    start_reg a
    start_sup a
    wait_until 5 prints 0 metric otp_sup_checkpoints_total
    [ "$(metric otp_sup_state_bytes)" = 0 ]
    body_of /metrics | grep -q '^# TYPE otp_sup_checkpoint_bytes_total counter$'
    body_of /metrics | grep -q '^# TYPE otp_sup_state_bytes gauge$'
    otp-ctl -n a@127.0.0.1 start-child counter --name counter -- "$BATS_TEST_DIRNAME/../examples/counter/counter.sh"
    for i in $(seq 1 12); do otp-ctl -n a@127.0.0.1 call counter inc > /dev/null; done
    # 9 checkpoints of 1 byte ("1".."9"), 3 of 2 ("10".."12"); the last held.
    wait_until 5 prints 12 metric otp_sup_checkpoints_total
    [ "$(metric otp_sup_checkpoint_bytes_total)" = 15 ]
    [ "$(metric otp_sup_state_bytes)" = 2 ]
}

@test "bad requests get an error status, never a crash, and the node keeps serving" {
    start_epmd
    http_node a --poll 200
    # Malformed request lines and headers: 400.
    run status_of_raw 'GARBAGE GARBAGE\r\n\r\n'
    [ "$output" = 400 ]
    run status_of_raw 'GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n'
    [ "$output" = 400 ]
    # libmicrohttpd 0.9.75 (Debian bookworm) closes a one-word request
    # line without an answer; later versions may answer 400.
    run status_of_raw 'GARBAGE\r\n\r\n'
    [[ "$output" = 400 || "$output" = closed ]]
    run status_of_raw 'GET /metrics HTTP/9.9\r\n\r\n'
    [[ "$output" = 4?? || "$output" = 505 ]]

    # 100 KB of garbage, a 100 KB request line, a 100 KB header: too big.
    head -c 100000 /dev/zero | tr '\0' x > "$BATS_TEST_TMPDIR/big"
    printf '\r\n\r\n' >> "$BATS_TEST_TMPDIR/big"
    run raw_http "$BATS_TEST_TMPDIR/big"
    [[ "${lines[0]}" =~ ^HTTP/1\.[01]\ 4[0-9][0-9]\  ]]
    { printf 'GET /'; head -c 100000 /dev/zero | tr '\0' a; printf ' HTTP/1.1\r\n\r\n'; } \
        > "$BATS_TEST_TMPDIR/long-line"
    run raw_http "$BATS_TEST_TMPDIR/long-line"
    [[ "${lines[0]}" =~ ^HTTP/1\.[01]\ 4[0-9][0-9]\  ]]
    { printf 'GET /metrics HTTP/1.1\r\nX-Big: '; head -c 100000 /dev/zero | tr '\0' a
      printf '\r\n\r\n'; } > "$BATS_TEST_TMPDIR/long-header"
    run raw_http "$BATS_TEST_TMPDIR/long-header"
    [[ "${lines[0]}" =~ ^HTTP/1\.[01]\ 4[0-9][0-9]\  ]]
    # 100 KB of random bytes: an error (which one depends on the bytes) or
    # a close.
    head -c 100000 /dev/urandom > "$BATS_TEST_TMPDIR/random"
    run raw_http "$BATS_TEST_TMPDIR/random"
    [[ -z "$output" || "${lines[0]}" =~ ^HTTP/1\.[01]\ [45][0-9][0-9]\  ]]

    # A truncated request, the connection then closed; and one left open,
    # which does not hold up the others.
    run status_of_raw 'GET /health/live HTTP/1.1\r\nHost: x\r\n'
    [ "$output" = closed ]
    exec 4<>"/dev/tcp/127.0.0.1/$HTTP_PORT"
    printf 'GET /health/live HTTP/1.1\r\nHost: x\r\n' >&4
    run status_of /health/live
    [ "$output" = 200 ]
    exec 4>&-
    # A request with a body is answered too (the body is read and dropped).
    run status_of_raw 'GET /health/live HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello'
    [ "$output" = 200 ]

    kill -0 "$(pid_of a)"
    run body_of /health/live
    [ "$output" = ok ]
    wait_until 5 ready_is "200 ready"
    run otp-ctl -n a@127.0.0.1 ping
    [ "$output" = pong ]
    run grep -E "fatal|ERROR|Sanitizer" "$BATS_TEST_TMPDIR/a.log"
    [ "$status" -ne 0 ]
}

@test "--http-port in use or a bad --http-bind: a one-line error, exit non-zero" {
    start_epmd
    run otp-node -d -n --name a@127.0.0.1 --no-epmd --http-port "$OTP_EPMD_PORT"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"HTTP port $OTP_EPMD_PORT is in use"* ]]
    run otp-node -d -n --name a@127.0.0.1 --no-epmd --http-port 18080 --http-bind nowhere
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"HTTP bind address 'nowhere' is not an IPv4 address"* ]]
    run otp-node -d -n --name a@127.0.0.1 --no-epmd --http-port 70000
    [ "$status" -ne 0 ]
    [[ "$output" == *"--http-port must be a number from 0 to 65535"* ]]
    port=$(free_port)
    export OTP_HTTP_BIND=127.0.0.1
    run otp-node -d -n --name a@127.0.0.1 --no-epmd --http-port "$port"
    [ "$status" -eq 0 ]
    [ "$output" = "configuration OK" ]
    run otp-node --help
    [[ "$output" == *"--http-port PORT"* ]]
    [[ "$output" == *"--ready-needs NAMES"* ]]
}
