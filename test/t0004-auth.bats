#!/usr/bin/env bats
# Cookies and CURVE: no cookie, no membership, no command; junk is ignored.
load helper

@test "a node with another cookie never joins, and is logged" {
    start_epmd
    start_node a; start_node b
    OTP_COOKIE=other-cookie-0123456789 start_node intruder
    wait_until 5 full_mesh a b
    sleep 1.5
    sees a b@127.0.0.1
    sees b a@127.0.0.1
    OTP_COOKIE=other-cookie-0123456789 run otp-ctl -n intruder@127.0.0.1 nodes
    [ "$output" = "" ]
    grep -q "handshake failed" "$BATS_TEST_TMPDIR/a.log"
    run otp-ctl -n a@127.0.0.1 --json info
    [[ "$output" =~ \"handshake_failures\":[1-9] ]]
}

@test "otp-ctl with a wrong cookie gets a clear error and cannot stop the node" {
    start_epmd
    start_node a
    run otp-ctl -n a@127.0.0.1 --cookie wrong-cookie-0123456789 stop
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
    [[ "$(cat "$HOME/.otp-cookie")" =~ ^[A-Za-z0-9]{32}$ ]]
    wait_until 5 full_mesh a b
    run otp-ctl -n a@127.0.0.1 ping
    [ "$output" = pong ]
}

@test "a cookie file readable by others is refused" {
    unset OTP_COOKIE
    echo secret-cookie-0123456789 > "$BATS_TEST_TMPDIR/cookie"
    chmod 0644 "$BATS_TEST_TMPDIR/cookie"
    start_epmd
    run timeout 10 otp-node -d --name a@127.0.0.1 --no-epmd --cookie-file "$BATS_TEST_TMPDIR/cookie"
    [ "$status" -ne 0 ]
    [[ "$output" == *"must be accessible by its owner only"* ]]
    chmod 0400 "$BATS_TEST_TMPDIR/cookie"
    start_node a --cookie-file "$BATS_TEST_TMPDIR/cookie"
    run otp-ctl -n a@127.0.0.1 --cookie secret-cookie-0123456789 ping
    [ "$output" = pong ]
}

# refused CMD...: the program exits 1 at once with one line naming the mistake.
refused () {
    local want=$1; shift
    run timeout 10 "$@"
    echo "$output"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"$want"* ]]
}

@test "cookie mistakes get one clear line, never a silent cookie of their own" {
    start_epmd
    local node=(otp-node -d --name a@127.0.0.1 --no-epmd)
    refused "the cookie is too weak: 6 characters, 5 different" "${node[@]}" --cookie secret
    refused "too weak: 20 characters, 2 different" env OTP_COOKIE=abababababababababab "${node[@]}"
    refused "the cookie given is empty" "${node[@]}" --cookie ''
    refused "OTP_COOKIE is set but empty" env OTP_COOKIE= "${node[@]}"
    refused "OTP_COOKIE_FILE is set but empty" env -u OTP_COOKIE OTP_COOKIE_FILE= "${node[@]}"
    [ ! -e "$HOME/.otp-cookie" ]
    local file="$BATS_TEST_TMPDIR/cookie"
    printf '\xef\xbb\xbfsecret-cookie-0123456789\n' > "$file"; chmod 0400 "$file"
    refused "byte order mark" env -u OTP_COOKIE "${node[@]}" --cookie-file "$file"
    rm -f "$file"
    printf 'caf\xc3\xa9-cookie-0123456789\n' > "$file"; chmod 0400 "$file"
    refused "printable ASCII" env -u OTP_COOKIE "${node[@]}" --cookie-file "$file"
    rm -f "$file"
    # A FIFO: refused at once (it used to block for ever, deaf to SIGTERM)
    mkfifo -m 0600 "$file"
    refused "is not a regular file" env -u OTP_COOKIE "${node[@]}" --cookie-file "$file"
    rm -f "$file"
    # Another user's file, however private (root can make one)
    if [ "$(id -u)" -eq 0 ]; then
        echo secret-cookie-0123456789 > "$file"; chmod 0400 "$file"; chown 65534:65534 "$file"
        refused "belongs to uid 65534, not to this user (uid 0)" env -u OTP_COOKIE "${node[@]}" --cookie-file "$file"
    fi
    # otp-ctl says the same, before it talks to anyone
    refused "too weak" otp-ctl -n a@127.0.0.1 --cookie secret ping
    refused "too weak" env OTP_COOKIE=secret otp-ctl cookie --check
    # None of them started anything
    [ -z "$(otp-ctl epmd names)" ]
}

@test "otp-ctl cookie makes strong cookies that a cluster runs on; a file is never overwritten" {
    local one two
    one=$(otp-ctl cookie); two=$(otp-ctl cookie)
    [[ "$one" =~ ^[A-Za-z0-9]{32}$ ]]
    [ "$one" != "$two" ]
    local file="$BATS_TEST_TMPDIR/made"
    run otp-ctl cookie --file "$file"
    [ "$status" -eq 0 ]
    [ "$(stat -c %a "$file")" = 400 ]
    local before; before=$(cat "$file")
    run otp-ctl cookie --file "$file"
    [ "$status" -eq 1 ]
    [[ "$output" == *"not replaced in place"* ]]
    [ "$(cat "$file")" = "$before" ]
    unset OTP_COOKIE
    export OTP_COOKIE_FILE="$file"
    run otp-ctl cookie --check
    [ "$output" = "the cookie is usable: 32 characters" ]
    [[ "$output" != *"$before"* ]]
    start_epmd
    start_node a; start_node b
    wait_until 5 full_mesh a b
    [ "$(OTP_COOKIE=$one otp-ctl -n a@127.0.0.1 --timeout 1000 ping)" = pang ]
}

@test "the same cookie under another cluster name is another cluster" {
    start_epmd
    start_node a
    OTP_CLUSTER_NAME=blue start_node b
    OTP_CLUSTER_NAME=blue start_node c
    OTP_CLUSTER_NAME=blue wait_until 5 full_mesh b c
    sleep 1
    sees a ""
    grep -q "handshake failed" "$BATS_TEST_TMPDIR/a.log"
    [ "$(otp-ctl -n a@127.0.0.1 ping)" = pong ]
    [ "$(OTP_CLUSTER_NAME=blue otp-ctl -n b@127.0.0.1 ping)" = pong ]
    [ "$(otp-ctl -n b@127.0.0.1 --timeout 1000 ping)" = pang ]
}

@test "a cookie given with --cookie does not show in ps or /proc/PID/cmdline" {
    local secret="visible-cookie-$RANDOM-0123456789"
    export OTP_COOKIE=$secret
    start_epmd
    unset OTP_COOKIE
    start_node a --cookie "$secret"
    # (bats ignores a failing `! cmd`: the checks compare output instead)
    local cmdline; cmdline=$(tr '\0' ' ' < "/proc/$PID_a/cmdline")
    echo "$cmdline"
    [[ "$cmdline" != *"$secret"* ]]
    [[ "$(ps -o args= -p "$PID_a")" != *"$secret"* ]]
    tr '\0' ' ' < "/proc/$PID_a/cmdline" | grep -q -- "--cookie x\{10\}"
    [ "$(otp-ctl -n a@127.0.0.1 --cookie "$secret" ping)" = pong ]
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
