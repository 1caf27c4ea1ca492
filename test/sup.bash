# Shared by the supervisor suites: a child that logs its life, and checks
# that each child runs exactly once.

# The child: a counter that logs its life to $EVENTS ("start ID PID", "stop
# ID PID"), answers `inc` with its count and `who` with "ID PID NODE".
write_child () {
    EVENTS="$BATS_TEST_TMPDIR/events"
    : > "$EVENTS"
    CHILD="$BATS_TEST_TMPDIR/child.sh"
    cat > "$CHILD" <<EOF
#!/bin/sh
echo "start \$OTP_CHILD_ID \$\$" >> "$EVENTS"
trap 'echo "stop \$OTP_CHILD_ID \$\$" >> "$EVENTS"; exit 0' TERM
if [ -z "\$OTP_NAME" ]; then
    # Nothing comes on stdin: just live, until told to stop.
    while :; do sleep 1000 & wait \$!; done
fi
n=0
while read -r line; do
    case "\$line" in
        inc) n=\$((n + 1)); echo "\$n" ;;
        who) echo "\$OTP_CHILD_ID \$\$ \$OTP_NODE" ;;
        *) echo "what? \$line" ;;
    esac
done
EOF
    chmod +x "$CHILD"
}

# live_pids ID: the pids of ID's processes still alive.
live_pids () {
    local pid
    for pid in $(awk -v id="$1" '$1 == "start" && $2 == id { print $3 }' "$EVENTS"); do
        alive "$pid" && echo "$pid"
    done
}
# alive PID: running. A zombie is not: an orphan's new parent may never
# reap it (PID 1 of a container often does not).
alive () {
    local state
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}
runs_once () { [ "$(live_pids "$1" | wc -l)" -eq 1 ]; }
all_run_once () {
    local i
    for i in $(seq 1 "$1"); do runs_once "c$i" || return 1; done
}
# Whether an id ever had two processes at once, from the life log. If one
# did: its life and what the daemons' logs in the test's directory say of it.
never_twice () {
    local twice id
    twice=$(awk '$1 == "start" { if (live[$2] > 0) print $2; live[$2]++ }
                 $1 == "stop" { live[$2]-- }' "$EVENTS" | sort -u)
    [ -z "$twice" ] && return 0
    for id in $twice; do
        echo "# twice: $id"
        awk -v id="$id" '$2 == id { print "# life: " $0 }' "$EVENTS"
        grep -H -w -e "$id" "$BATS_TEST_TMPDIR"/*.log 2>/dev/null | tail -n 40 |
            sed "s|^$BATS_TEST_TMPDIR/|# |"
    done >&3
    return 1
}
gone () { ! alive "$1"; }

# On the network-namespace bed (test/netns.bash):
# members_are N HOST...: each HOST's otp-sup sees N members.
members_are () {
    local want=$1 i; shift
    for i in "$@"; do netns_ctl "$i" sup-info | grep -qx "members *$want" || return 1; done
}

# answers_from HOST ID: a call by name from HOST reaches ID's one process.
answers_from () {
    local out
    out=$(netns_ctl "$1" call "$2" who --timeout 2000) || return 1
    [ "$(echo "$out" | cut -d' ' -f2)" = "$(live_pids "$2")" ]
}

none_alive () {
    local id
    for id in "$@"; do [ -z "$(live_pids "$id")" ] || return 1; done
}

# part_cluster [otp-sup options]: hosts 1..3 with nodes a, b, c (a fast
# failure detector), and otp-reg and otp-sup on each.
part_cluster () {
    netns_setup 3
    netns_cluster a b c --heartbeat 100 --timeout 500 --poll 200
    local i
    for i in 1 2 3; do
        netns_spawn "$i" otp-reg -d --node "$(netns_node "$i")" --epmd-port "$NETNS_EPMD_PORT" \
            2>> "$BATS_TEST_TMPDIR/h$i.reg.log"
        netns_spawn "$i" otp-sup -d --node "$(netns_node "$i")" --epmd-port "$NETNS_EPMD_PORT" "$@" \
            2>> "$BATS_TEST_TMPDIR/h$i.sup.log"
    done
    wait_until 15 members_are 3 1 2 3
}
