#!/usr/bin/env bats
# Cookies and CURVE: no cookie, no membership, no command; junk is ignored.
load helper

@test "a node with another cookie never joins, and is logged" {
    start_epmd
    start_node a; start_node b
    OTP_COOKIE=other start_node intruder
    wait_until 5 full_mesh a b
    sleep 1.5
    sees a b@127.0.0.1
    sees b a@127.0.0.1
    OTP_COOKIE=other run otp-ctl -n intruder@127.0.0.1 nodes
    [ "$output" = "" ]
    grep -q "handshake failed" "$BATS_TEST_TMPDIR/a.log"
    run otp-ctl -n a@127.0.0.1 --json info
    [[ "$output" =~ \"handshake_failures\":[1-9] ]]
}

@test "otp-ctl with a wrong cookie gets a clear error and cannot stop the node" {
    start_epmd
    start_node a
    run otp-ctl -n a@127.0.0.1 --cookie wrong stop
    [ "$status" -eq 1 ]
    [[ "$output" == *"refused the connection: wrong cookie?"* ]]
    run otp-ctl -n a@127.0.0.1 ping
    [ "$output" = pong ]
}

@test "a client that knows the public key but not the cookie is refused by ZAP" {
    start_epmd
    start_node a
    port=$(otp-ctl epmd names | awk '$1 == "a" { print $2 }')
    # otp-selftest covers the key-only client; here: a CURVE client with a
    # different cookie sends a well-formed request and gets nothing back.
    run otp-probe --cookie not-the-cookie --timeout 700 "tcp://127.0.0.1:$port" REQ 1 stop
    [ "$status" -ne 0 ]
    run otp-ctl -n a@127.0.0.1 ping
    [ "$output" = pong ]
}

@test "with no cookie given, ~/.otp-cookie is created once with mode 0400" {
    unset OTP_COOKIE
    start_epmd
    start_node a; start_node b
    [ -f "$HOME/.otp-cookie" ]
    [ "$(stat -c %a "$HOME/.otp-cookie")" = 400 ]
    [[ "$(cat "$HOME/.otp-cookie")" =~ ^[A-Z]{20}$ ]]
    wait_until 5 full_mesh a b
    run otp-ctl -n a@127.0.0.1 ping
    [ "$output" = pong ]
}

@test "a cookie file readable by others is refused" {
    unset OTP_COOKIE
    echo secret > "$BATS_TEST_TMPDIR/cookie"
    chmod 0644 "$BATS_TEST_TMPDIR/cookie"
    start_epmd
    run timeout 10 otp-node -d --name a@127.0.0.1 --no-epmd --cookie-file "$BATS_TEST_TMPDIR/cookie"
    [ "$status" -ne 0 ]
    [[ "$output" == *"must be accessible by its owner only"* ]]
    chmod 0400 "$BATS_TEST_TMPDIR/cookie"
    start_node a --cookie-file "$BATS_TEST_TMPDIR/cookie"
    run otp-ctl -n a@127.0.0.1 --cookie secret ping
    [ "$output" = pong ]
}

@test "random bytes to every port are ignored and the daemons keep serving" {
    start_epmd
    start_node a; start_node b
    wait_until 5 full_mesh a b
    for port in "$OTP_EPMD_PORT" $(otp-ctl epmd names | awk '{ print $2 }'); do
        for _ in 1 2 3 4 5; do
            head -c 8192 /dev/urandom > "/dev/tcp/127.0.0.1/$port" 2>/dev/null || true
        done
        # a ZeroMQ greeting, then junk
        printf '\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f\x03\x00NULL' > "/dev/tcp/127.0.0.1/$port" 2>/dev/null || true
    done
    sleep 0.5
    full_mesh a b
    run otp-ctl -n a@127.0.0.1 ping
    [ "$output" = pong ]
    registered a
}

@test "malformed messages from a cluster member are dropped and counted" {
    start_epmd
    start_node a
    port=$(otp-ctl epmd names | awk '$1 == "a" { print $2 }')
    ep="tcp://127.0.0.1:$port"
    for frames in "NOSUCH" "HELLO" "HELLO 1 x@y 1 h 1 extra" "REQ" "ROUTE a b" \
                  "SEND x a@127.0.0.1 @big:2000000" "@empty" "@hex:000102"; do
        otp-probe --cookie "$OTP_COOKIE" --timeout 200 "$ep" $frames || true
    done
    otp-probe --cookie "$OTP_COOKIE" --timeout 200 "$ep" REQ 1 @big:5000 || true
    # as a peer (routing id = node name), so the HELLO handler itself sees them
    for hello in "1 other@127.0.0.1 abc 127.0.0.1 1" "9 x@127.0.0.1 abc 127.0.0.1 1" \
                 "1 x@127.0.0.1 abc bad/host 1" "1 x@127.0.0.1 abc 127.0.0.1 99999" \
                 "1 x@127.0.0.1 @empty 127.0.0.1 1"; do
        otp-probe --cookie "$OTP_COOKIE" --identity x@127.0.0.1 --timeout 200 "$ep" HELLO $hello || true
    done
    [ "$(grep -c "ignored a malformed HELLO from x@127.0.0.1" "$BATS_TEST_TMPDIR/a.log")" -eq 5 ]
    sees a ""
    run otp-probe --cookie "$OTP_COOKIE" "$ep" REQ 7 frobnicate
    [ "${lines[0]}" = REP ]
    [ "${lines[2]}" = error ]
    [[ "${lines[3]}" == *"unknown command 'frobnicate'"* ]]
    run otp-ctl -n a@127.0.0.1 --json info
    [[ "$output" =~ \"bad_messages\":[1-9] ]]
    run otp-ctl -n a@127.0.0.1 ping
    [ "$output" = pong ]
}
