#!/usr/bin/env bats
# The C self-tests of every lib/ module: name parsing, cookie rules, wire
# tables, CURVE keys and the ZAP handler over a real handshake.
load helper

@test "lib self-tests pass" {
    run bash -c 'otp-selftest 2>/dev/null'
    [ "$status" -eq 0 ]
    [[ "$output" == *"otp_proto: OK"* ]]
    [[ "$output" == *"otp_auth: OK"* ]]
}
