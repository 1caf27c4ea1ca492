# Sourced by scripts/start-cluster and scripts/rolling-restart: how a local
# cluster's node I (nI@127.0.0.1) and the otp-reg and otp-sup beside it are
# started, and how to tell that they answer. The caller sets:
#   bin         the binaries (OTP_BIN)
#   run         logs and pid files (OTP_RUN_DIR): nI.log, nI.pid, nI.reg.*, nI.sup.*
#   epmd_port   the port mapper's port (OTP_EPMD_PORT)

node_of () { echo "n$1@127.0.0.1"; }
ctl () { "$bin/otp-ctl" -e "$epmd_port" "$@"; }

# start_node I / start_reg I / start_sup I: in the background, the log
# appended to, the PID recorded.
start_node () {
    "$bin/otp-node" -d --name "$(node_of "$1")" -e "$epmd_port" --no-epmd \
        < /dev/null > /dev/null 2>> "$run/n$1.log" &
    echo $! > "$run/n$1.pid"
}
start_reg () {
    "$bin/otp-reg" -d --node "$(node_of "$1")" -e "$epmd_port" \
        < /dev/null > /dev/null 2>> "$run/n$1.reg.log" &
    echo $! > "$run/n$1.reg.pid"
}
start_sup () {
    "$bin/otp-sup" -d --node "$(node_of "$1")" -e "$epmd_port" \
        < /dev/null > /dev/null 2>> "$run/n$1.sup.log" &
    echo $! > "$run/n$1.sup.pid"
}

# retry TENTHS COMMAND...: until COMMAND succeeds, every 0.1 s, for at most
# TENTHS tenths of a second (a deadline: each try may itself take a while).
retry () {
    local _deadline=$(( $(date +%s%N) / 1000000 + $1 * 100 ))
    shift
    while :; do
        "$@" > /dev/null 2>&1 && return 0
        [ $(( $(date +%s%N) / 1000000 )) -lt "$_deadline" ] || return 1
        sleep 0.1
    done
}

# sees_all I N: node I sees the N-1 others.
sees_all () {
    local count
    count=$(ctl -n "$(node_of "$1")" nodes 2>/dev/null | wc -l) || return 1
    [ "$count" -eq $(($2 - 1)) ]
}
# mesh I... (N = their count): each sees all the others.
mesh () {
    local i
    for i in "$@"; do sees_all "$i" $# || return 1; done
}
reg_answers () { ctl -n "$(node_of "$1")" names > /dev/null; }
# members I N: the otp-sup beside node I counts N members.
members () { ctl -n "$(node_of "$1")" sup-info 2>/dev/null | grep -qx "members *$2"; }
