#!/bin/sh
# A counter, run by otp-sup as a named child: each message sent to its name is
# one line on stdin; for a call, the next line written on stdout is the reply.
# Its count is a checkpoint (README: "A child's state"): each change is put on
# descriptor 3 and answered only once a majority of the members hold it, and
# every start begins from the latest one, so the count survives a kill -9 of
# its node, a hand-off, a rolling restart and an upgrade.
n=0
from=none                                   # the release that wrote the state we began with
merged=none
whole () { case $1 in ''|*[!0-9]*) return 1 ;; esac; }
if [ -n "${OTP_STATE_FILE:-}" ] && [ -r "$OTP_STATE_FILE" ]; then
    s=$(cat "$OTP_STATE_FILE")
    whole "$s" && n=$s && from=${OTP_STATE_VERSION:-unknown}
fi
term=
# save N: checkpoint N; fails (the reason in $ack) if a majority does not hold it.
save () {
    [ -n "${OTP_STATE_FD:-}" ] || return 0  # not run by otp-sup: nothing to keep
    ack="the checkpoint channel closed"
    echo "put $1" >&3 || return 1
    # A SIGTERM interrupts the read (dash): the answer is still to come.
    IFS= read -r ack <&3 || { [ -n "$term" ] && IFS= read -r ack <&3; } || return 1
    case $ack in 'ok '*) return 0 ;; esac
    return 1
}
# Another instance ran beside this one in a partition: the larger count wins.
if [ -n "${OTP_STATE_MERGE_FILE:-}" ] && [ -r "$OTP_STATE_MERGE_FILE" ]; then
    m=$(cat "$OTP_STATE_MERGE_FILE")
    if whole "$m"; then
        merged=$m
        [ "$m" -gt "$n" ] && n=$m
        save "$n" || echo "counter: the merged count is not saved: $ack" >&2
    fi
fi
# Stopped (a hand-off): the call under way is answered, then the last count
# is saved once more before it goes.
trap 'term=1' TERM
# set N: saves N, then makes it the count and answers it.
set_to () {
    if save "$1"; then n=$1; echo "$n"; else echo "error: not saved: $ack"; fi
}
set -f                                      # split lines into words, unglobbed
while [ -z "$term" ] && IFS= read -r line; do
    set -- $line
    case "$1 $# ${2:-}" in
        'inc 1 ') set_to $((n + 1)) ;;
        'get 1 ') echo "$n" ;;
        'add 2 '*[!0-9]*|'add 2 '0?*) printf "error: add needs a whole number, not '%s'\n" "$2" ;;
        'add 2 '?*) set_to $((n + $2)) ;;
        'info 1 ') echo "count $n release ${OTP_RELEASE_VERSION:-none} state-from $from merged $merged" ;;
        *) printf "error: unknown command '%s'\n" "$line" ;;
    esac
done
[ -n "$term" ] && { save "$n" || echo "counter: the last count is not saved: $ack" >&2; }
exit 0
