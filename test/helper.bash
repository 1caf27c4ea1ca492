# Shared helper for the bats suites (git's test-lib idea): every test gets its
# own port mapper on a free port, its own temp dir, HOME and cookie, and every
# process it starts is recorded and stopped by its PID in teardown.

OTP_BIN=${OTP_BIN:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)/build/bin}
export PATH="$OTP_BIN:$PATH"

setup () {
    export HOME="$BATS_TEST_TMPDIR/home"
    mkdir -p "$HOME"
    # Strong enough for the cookie rule (16 characters, 8 different)
    OTP_COOKIE=$(printf 'cookie-%05d-%05d-%05d' $RANDOM $RANDOM $RANDOM)
    export OTP_COOKIE
    unset OTP_CLUSTER_NAME
    unset OTP_NODE_NAME OTP_COOKIE_FILE OTP_CLUSTER_STRATEGY OTP_CLUSTER_NODES
    # A runner inside a Kubernetes pod would otherwise name bare --name nodes
    # after the pod (otp-node: POD_IP and NAMESPACE).
    unset OTP_CLUSTER_DNS_QUERY OTP_CLUSTER_DNS_BASENAME OTP_CLUSTER_DOMAIN POD_IP NAMESPACE
    # Nor take the image's HTTP port and readiness needs (Dockerfile, k8s/).
    unset OTP_HTTP_PORT OTP_HTTP_BIND OTP_READY_NEEDS OTP_NODE_PORT OTP_LABS_CONFIG OTP_LABS_VAR_DIR
    # Never the machine's real port mapper: a test without start_epmd that
    # reaches for one finds nothing.
    export OTP_EPMD_PORT=1
    PIDS="$BATS_TEST_TMPDIR/pids"
    : > "$PIDS"
}

teardown () {
    local pid
    [ -f "$PIDS" ] || return 0
    while read -r pid; do
        kill -CONT "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
    done < "$PIDS"
    for _ in $(seq 50); do
        local alive=0
        while read -r pid; do kill -0 "$pid" 2>/dev/null && alive=1; done < "$PIDS"
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done < "$PIDS"
}

# Remembers a PID for teardown.
track () { echo "$1" >> "$PIDS"; }

# wait_until SECONDS COMMAND...: retries COMMAND every 50 ms until it
# succeeds; fails (printing the last output) when the time is up.
wait_until () {
    local limit=$1; shift
    local deadline=$(( $(date +%s%N) + limit * 1000000000 ))
    while true; do
        if out=$("$@" 2>&1); then return 0; fi
        if [ "$(date +%s%N)" -gt "$deadline" ]; then
            echo "timed out after ${limit}s waiting for: $*" >&2
            echo "last output: $out" >&2
            return 1
        fi
        sleep 0.05
    done
}

# For wait_until: COMMAND's output, looked at again at each try (a "$(...)"
# argument would be taken once, before the first try).
prints_nothing () { [ -z "$("$@")" ]; }
prints_something () { [ -n "$("$@")" ]; }
prints () { local want=$1; shift; [ "$("$@")" = "$want" ]; }

# Starts a port mapper on a free port; exports OTP_EPMD_PORT.
start_epmd () {
    # A port below the kernel's and CZMQ's ephemeral ranges (32768 and up):
    # one a node binds by chance cannot take it while a test restarts the
    # port mapper on it. Another suite's pick makes the bind fail: try again.
    local portfile="$BATS_TEST_TMPDIR/epmd.port.$RANDOM" port
    for _ in $(seq 20); do
        port=$(( 20000 + RANDOM % 12000 ))
        otp-epmd -d -p "$port" --port-file "$portfile" "$@" 2>> "$BATS_TEST_TMPDIR/epmd.log" 3>&- &
        EPMD_PID=$!
        track "$EPMD_PID"
        wait_until 5 bash -c "test -s '$portfile' || ! kill -0 $EPMD_PID 2>/dev/null" || true
        if [ -s "$portfile" ]; then
            OTP_EPMD_PORT=$(cat "$portfile")
            export OTP_EPMD_PORT
            return 0
        fi
    done
    echo "no free port for otp-epmd" >&2
    return 1
}

# start_node NAME [otp-node options...]: starts NAME@127.0.0.1 in the
# foreground (in the background of the test), logging to $BATS_TEST_TMPDIR/NAME.log,
# and waits until it has registered. Sets NODE_PID.
start_node () {
    local name=$1; shift
    otp-node -d --name "$name@127.0.0.1" --no-epmd "$@" 2>> "$BATS_TEST_TMPDIR/$name.log" &
    NODE_PID=$!
    track "$NODE_PID"
    eval "PID_${name//[^a-zA-Z0-9]/_}=$NODE_PID"
    wait_until 5 registered "$name"
}

pid_of () { local v="PID_${1//[^a-zA-Z0-9]/_}"; echo "${!v}"; }

# watch NODE FILE [otp-ctl options]: streams NODE's events into FILE and
# waits until the node counts the watcher. Sets WATCHER.
watch () {
    local node=$1 file=$2; shift 2
    otp-ctl -n "$node@127.0.0.1" "$@" monitor > "$file" 2> "$file.err" &
    WATCHER=$!
    track "$WATCHER"
    wait_until 5 bash -c "otp-ctl -n $node@127.0.0.1 --json info | grep -q '\"watchers\":[1-9]'"
}

registered () { otp-ctl epmd names | grep -q "^$1 "; }

# nodes_of NAME: the peers NAME sees, space-separated.
nodes_of () { otp-ctl -n "$1@127.0.0.1" nodes | tr '\n' ' ' | sed 's/ $//'; }

# sees NAME EXPECTED: NAME's peer list is exactly EXPECTED.
sees () { [ "$(nodes_of "$1")" = "$2" ]; }

# full_mesh NAME...: every NAME sees every other NAME.
full_mesh () {
    local me other expected
    for me in "$@"; do
        expected=""
        for other in $(printf '%s\n' "$@" | sort); do
            [ "$other" = "$me" ] && continue
            expected="$expected${expected:+ }$other@127.0.0.1"
        done
        sees "$me" "$expected" || return 1
    done
}

# start_reg NAME [otp-reg options]: starts otp-reg beside NAME@127.0.0.1,
# logging to $BATS_TEST_TMPDIR/NAME.reg.log, and waits until it answers.
# Sets REG_PID.
start_reg () {
    local name=$1; shift
    otp-reg -d --node "$name@127.0.0.1" "$@" 2>> "$BATS_TEST_TMPDIR/$name.reg.log" &
    REG_PID=$!
    track "$REG_PID"
    eval "REG_${name//[^a-zA-Z0-9]/_}=$REG_PID"
    wait_until 5 otp-ctl -n "$name@127.0.0.1" names
}

reg_pid_of () { local v="REG_${1//[^a-zA-Z0-9]/_}"; echo "${!v}"; }

# reg_cluster NAME...: a port mapper, the nodes, a full mesh, and otp-reg
# beside each.
reg_cluster () {
    start_epmd
    local n
    for n in "$@"; do start_node "$n"; done
    wait_until 10 full_mesh "$@"
    for n in "$@"; do start_reg "$n"; done
}

# echo_on NODE TAG [otp-echo options]: an otp-echo process on NODE@127.0.0.1,
# output in TAG.out and TAG.err; waits until it is ready. Sets ECHO_PID.
echo_on () {
    local node=$1 tag=$2; shift 2
    otp-echo -n "$node@127.0.0.1" "$@" > "$BATS_TEST_TMPDIR/$tag.out" \
        2> "$BATS_TEST_TMPDIR/$tag.err" 3>&- &
    ECHO_PID=$!
    track "$ECHO_PID"
    wait_until 10 grep -q '^ready' "$BATS_TEST_TMPDIR/$tag.err"
}

# start_sup NAME [otp-sup options]: starts otp-sup beside NAME@127.0.0.1,
# logging to $BATS_TEST_TMPDIR/NAME.sup.log, and waits until it answers.
# Sets SUP_PID.
start_sup () {
    local name=$1; shift
    otp-sup -d --node "$name@127.0.0.1" "$@" 2>> "$BATS_TEST_TMPDIR/$name.sup.log" 3>&- &
    SUP_PID=$!
    track "$SUP_PID"
    eval "SUP_${name//[^a-zA-Z0-9]/_}=$SUP_PID"
    wait_until 10 otp-ctl -n "$name@127.0.0.1" count-children
}

sup_pid_of () { local v="SUP_${1//[^a-zA-Z0-9]/_}"; echo "${!v}"; }

# start_nodes PREFIX N [otp-node options...]: PREFIX1..PREFIXN at once,
# without waiting for each to register (a hundred starting together is
# what is tested); logs in PREFIXi.log, PIDs as pid_of PREFIXi.
start_nodes () {
    local prefix=$1 n=$2 i; shift 2
    for i in $(seq 1 "$n"); do
        otp-node -d --name "$prefix$i@127.0.0.1" --no-epmd "$@" \
            2>> "$BATS_TEST_TMPDIR/$prefix$i.log" &
        track $!
        eval "PID_${prefix//[^a-zA-Z0-9]/_}$i=$!"
    done
}

# up_in_log NAME [PREFIX]: the peers NAME has up as its log tells (nodeups
# less nodedowns), of those named PREFIX<n> only if PREFIX is given: no
# round trip, so a hundred nodes are checked at once.
up_in_log () {
    awk -v p="${2:-}" '$4 == "nodeup" && (p == "" || $5 ~ "^" p "[0-9]+@") {u++}
                       $4 == "nodedown" && (p == "" || $5 ~ "^" p "[0-9]+@") {u--}
                       END {print u+0}' "$BATS_TEST_TMPDIR/$1.log"
}
# mesh_in_logs PREFIX N: every PREFIXi has the N-1 others up, by its log.
# One awk for all the logs: checked every 50 ms, a hundred of them would
# take a CPU from the nodes they watch.
mesh_in_logs () {
    local i files=()
    for i in $(seq 1 "$2"); do files+=("$BATS_TEST_TMPDIR/$1$i.log"); done
    awk -v p="$1" -v want=$(($2 - 1)) '
        FNR == 1 {n++; u[n] = 0}
        $4 == "nodeup" && $5 ~ "^" p "[0-9]+@" {u[n]++}
        $4 == "nodedown" && $5 ~ "^" p "[0-9]+@" {u[n]--}
        END {for (i = 1; i <= n; i++) if (u[i] != want) exit 1; exit !(n == ARGC - 1)}' "${files[@]}"
}
# nodedowns_in_logs [PREFIX] FILE...: how many nodedown lines they hold (of
# peers named PREFIX<n> only, with a PREFIX that is not a file).
nodedowns_in_logs () {
    local p=""
    [ -f "$1" ] || { p=$1; shift; }
    cat "$@" | awk -v p="$p" '$4 == "nodedown" && (p == "" || $5 ~ "^" p "[0-9]+@") {n++} END {print n+0}'
}
# no_line PATTERN FILE...: none of the files has a line matching PATTERN
# (extended regex); prints those that do, and fails, if one does.
no_line () {
    local pattern=$1; shift
    ! grep -H -E "$pattern" "$@" | sed "s|^$BATS_TEST_TMPDIR/|# |" | head -20 | grep . >&2
}
# stamp_ms LINE: a log line's time stamp (ISO, UTC) as epoch ms.
stamp_ms () { date -u -d "$(echo "$1" | cut -d' ' -f1 | sed 's/Z$//')" +%s%3N; }
now_ms () { date +%s%3N; }

# Memory under attack. rss_kb PID: its resident size in KiB. watch_rss PID:
# samples it every 100 ms in the background until the test ends (or the
# process does); peak_rss PID: the largest sample so far, in KiB.
rss_kb () { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
watch_rss () {
    local file="$BATS_TEST_TMPDIR/rss.$1"
    rss_kb "$1" > "$file"
    ( while kill -0 "$1" 2>/dev/null; do rss_kb "$1" >> "$file" 2>/dev/null; sleep 0.1; done ) &
    track $!
}
peak_rss () { sort -n "$BATS_TEST_TMPDIR/rss.$1" | tail -1; }
# sanitized: the binaries under test are built with AddressSanitizer
# (make SANITIZE=1), which costs each process two to three times the CPU.
sanitized () { ldd "$OTP_BIN/otp-node" 2>/dev/null | grep -q libasan; }
# small_quarantine: AddressSanitizer keeps up to 256 MiB of freed memory
# to catch a use after free; a memory bound under attack would measure
# that. The daemons started after it keep 8 MiB (no effect without ASan).
small_quarantine () { export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8"; }

# A node's `info` values: port_of NAME, info_of NAME KEY.
port_of () { otp-ctl -n "$1@127.0.0.1" info | awk '$1 == "port" { print $2 }'; }
info_of () { otp-ctl -n "$1@127.0.0.1" info | awk -v k="$2" '$1 == k { print $2 }'; }
# info_is NAME KEY VALUE: NAME's info KEY is VALUE (for wait_until).
info_is () { local v; v=$(info_of "$1" "$2"); echo "$2 $v"; [ "$v" = "$3" ]; }
