#!/usr/bin/env bats
# Chaos (test/chaos.bash): five hosts, 15 named children, two clients, and a
# seeded sequence of partitions, cuts, kills and freezes; then the heal and
# the checks. OTP_CHAOS_SEEDS (default 1) and OTP_CHAOS_SECONDS (default
# 20) size it; `make chaos SEEDS="1 2 3" CHAOS_SECONDS=60` runs many.
load helper
load netns
load sup
load chaos

CHAOS_SEEDS=${OTP_CHAOS_SEEDS:-1}
CHAOS_SECONDS=${OTP_CHAOS_SECONDS:-20}

@test "chaos under quorum: no child runs twice, none is lost, every host agrees, every answer is the callee's own (seeds: $CHAOS_SEEDS)" {
    local seed
    for seed in $CHAOS_SEEDS; do
        CHAOS="$BATS_TEST_TMPDIR/seed$seed"
        chaos_setup --strategy quorum --members 5 --failover-delay 1000
        chaos_run "$seed" "$CHAOS_SECONDS"
        chaos_check >&3
        netns_teardown
    done
}

@test "the checker fails where it must: uniform runs children on both sides of a partition" {
    CHAOS_FAULTS=(split)
    chaos_setup
    chaos_run 7 8
    run chaos_check
    echo "$output" | grep -v "^# fault" >&3
    [ "$status" -ne 0 ]
    [[ "$output" == *"ran twice: "* ]]
}

@test "quorum: a host frozen longer than the failover delay thaws with its children, which stop within the thaw window" {
    CHAOS_FAULTS=(freeze)
    chaos_setup --strategy quorum --members 5 --failover-delay 1000
    chaos_run 3 12
    chaos_check >&3
    # The faults were freezes of 2-5 s, each longer than the failover
    # delay: children moved, and their old instances thawed.
    [ "$(grep -c SIGCONT "$CHAOS/faults.log")" -ge 2 ]
    grep -q "is gone; restarting it here" "$CHAOS"/h*.sup.log
}
