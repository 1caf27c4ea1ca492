#!/bin/sh
# A counter, run by otp-sup as a named child: each message sent to its name is
# one line on stdin; for a call, the next line written on stdout is the reply.
n=0
set -f                                      # split lines into words, unglobbed
while IFS= read -r line; do
    set -- $line
    case "$1 $# ${2:-}" in
        'inc 1 ') n=$((n + 1)); echo "$n" ;;
        'get 1 ') echo "$n" ;;
        'add 2 '*[!0-9]*|'add 2 '0?*) printf "error: add needs a whole number, not '%s'\n" "$2" ;;
        'add 2 '?*) n=$((n + $2)); echo "$n" ;;
        *) printf "error: unknown command '%s'\n" "$line" ;;
    esac
done
