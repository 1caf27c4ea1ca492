#!/usr/bin/env bats
# The release: `make release` builds a tarball that, unpacked anywhere, runs a
# node (and otp-reg, otp-sup beside it) through its launcher, bin/otp-labs.
bats_require_minimum_version 1.5.0
load helper
load sup

# One tarball for the file, from the build under test: OTP_BIN's parent
# (build/ or build-san/, whose binaries need the ASan runtime it bundles).
setup_file () {
    local root build args=()
    root=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
    build=$(cd "$OTP_BIN/.." && pwd)
    VERSION=$(sed -n 's/^VERSION *:= *//p' "$root/Makefile")
    if [ "$build" = "$root/build-san" ]; then args=(SANITIZE=1)
    elif [ "$build" != "$root/build" ]; then args=(BUILD="$build")
    fi
    make -C "$root" release "${args[@]}" > "$BATS_FILE_TMPDIR/make.log" 2>&1 3>&- ||
        { cat "$BATS_FILE_TMPDIR/make.log" >&2; return 1; }
    cp "$build/otp-labs-$VERSION.tar.gz" "$BATS_FILE_TMPDIR/"
    export VERSION TARBALL="$BATS_FILE_TMPDIR/otp-labs-$VERSION.tar.gz"
}

# unpack DIR: the tarball unpacked in $BATS_TEST_TMPDIR/DIR; prints the
# release's directory (no symlinks: /proc shows the real paths).
unpack () {
    mkdir -p "$BATS_TEST_TMPDIR/$1"
    tar -xzf "$TARBALL" -C "$BATS_TEST_TMPDIR/$1"
    (cd "$BATS_TEST_TMPDIR/$1/otp-labs-$VERSION" && pwd -P)
}

# name_release REL NODE: NODE in the release's own settings file.
name_release () {
    sed -i "s/^OTP_NODE_NAME=.*/OTP_NODE_NAME=$2/" "$1/etc/otp-labs.env"
}

# The launcher, with a PATH that holds none of the build's binaries.
labs () { env PATH=/usr/local/bin:/usr/bin:/bin "$REL/bin/otp-labs" "$@"; }

# track_var DIR: every process recorded there, for teardown.
track_var () {
    local f
    for f in "$1"/*.pid; do [ -f "$f" ] && track "$(cat "$f")"; done
    return 0
}

# Each recorded PID, one per line (launcher, node, otp-reg, otp-sup, ...).
recorded () { cat "$1"/*.pid 2>/dev/null; }

no_pid_files () { [ -z "$(ls "$1"/*.pid 2>/dev/null)" ]; }

@test "make release: a tarball of the launcher, the five binaries, the libraries they need beyond the C library, and default settings" {
    run tar -tzf "$TARBALL"
    [ "$status" -eq 0 ]
    local f
    for f in bin/otp-labs bin/otp-epmd bin/otp-node bin/otp-reg bin/otp-sup bin/otp-ctl \
             etc/otp-labs.env etc/sup.conf lib/libczmq.so.4 lib/libzmq.so.5 lib/libsodium.so.23; do
        echo "$output" | grep -qx "otp-labs-$VERSION/$f"
    done
    # all under one directory, and nothing of the C library
    [ -z "$(echo "$output" | grep -v "^otp-labs-$VERSION/")" ]
    [ -z "$(echo "$output" | grep -E '/lib/(libc\.|libc\.musl|libm\.|libpthread\.|libdl\.|librt\.|libresolv\.|ld-)')" ]
    REL=$(unpack elsewhere)
    [ -x "$REL/bin/otp-labs" ]
    # With lib/ first, every library a binary loads is the release's, or the C library's.
    local b out
    for b in otp-epmd otp-node otp-reg otp-sup otp-ctl; do
        out=$(LD_LIBRARY_PATH="$REL/lib" ldd "$REL/bin/$b")
        [[ "$out" != *"not found"* ]]
        [ -z "$(echo "$out" | awk -v lib="$REL/lib/" '$2 == "=>" && index($3, lib) != 1 { print $1 }' |
                grep -Ev '^(libc|libm|libpthread|libdl|librt|libresolv)\.so')" ]
    done
    # A sanitized build's runtime goes with it.
    for f in $(ldd "$OTP_BIN/otp-node" | awk '$1 ~ /^lib(asan|ubsan)/ { print $1 }'); do
        [ -f "$REL/lib/$f" ]
    done
    run labs version
    [ "$status" -eq 0 ]
    [ "$output" = "otp-labs $VERSION" ]
    [ "$(LD_LIBRARY_PATH="$REL/lib" "$REL/bin/otp-node" --version)" = "otp-node (otp-labs) $VERSION" ]
}

@test "unpacked elsewhere: start, ping, remote, version, restart, stop; stop leaves no process" {
    start_epmd
    REL=$(unpack elsewhere)
    name_release "$REL" r1@127.0.0.1
    cd "$BATS_TEST_TMPDIR"
    run labs start 3>&-
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    track_var "$REL/var"
    # the launcher, the node, otp-reg and otp-sup, each recorded and running
    pids=$(recorded "$REL/var")
    [ "$(echo "$pids" | wc -l)" -eq 4 ]
    for p in $pids; do alive "$p"; done
    [ "$(cat "$REL/var/otp-labs.up")" = r1@127.0.0.1 ]
    run labs ping
    [ "$status" -eq 0 ]
    [ "$output" = pong ]
    run labs remote nodes
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    run labs remote sup-info
    [ "$status" -eq 0 ]
    echo "$output" | grep -qx "members *1"
    write_child
    run labs remote start-child c1 --name c1 -- "$CHILD"
    [ "$status" -eq 0 ]
    [[ "$output" == "c1 started on r1@127.0.0.1 pid "* ]]
    wait_until 5 runs_once c1
    child=$(live_pids c1)
    run labs remote which-children
    [ "$status" -eq 0 ]
    [[ "${lines[1]}" == "c1 "*" r1@127.0.0.1 "*" $child "*" running "* ]]
    run labs remote call c1 inc
    [ "$output" = 1 ]
    # remote without a command reads one per line; quit ends it
    run bash -c "printf 'ping\n\n  names\nquit\nnodes\n' | '$REL/bin/otp-labs' remote"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'pong\nc1')" ]
    # one node per var dir
    run labs start
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "otp-labs: r1@127.0.0.1 already runs"* ]]
    # logs under var/log
    grep -q "listening on port" "$REL/var/log/otp-node.log"
    grep -q "serving r1@127.0.0.1" "$REL/var/log/otp-reg.log"
    grep -q "serving r1@127.0.0.1" "$REL/var/log/otp-sup.log"

    # restart: all new processes
    run labs restart 3>&-
    [ "$status" -eq 0 ]
    track_var "$REL/var"
    for p in $pids $child; do gone "$p"; done
    pids=$(recorded "$REL/var")
    [ "$(echo "$pids" | wc -l)" -eq 4 ]
    run labs ping
    [ "$output" = pong ]

    run labs stop
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    for p in $pids $(awk '$1 == "start" { print $3 }' "$EVENTS"); do gone "$p"; done
    no_pid_files "$REL/var"
    grep -q "info: drained" "$REL/var/log/otp-node.log"
    grep -q "draining: handing children off" "$REL/var/log/otp-sup.log"
    never_twice
    run labs ping
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "otp-labs: r1@127.0.0.1 does not answer"* ]]
    run labs stop
    [ "$status" -eq 1 ]
    [ "$output" = "otp-labs: r1@127.0.0.1 is not running (nothing recorded in $REL/var)" ]
}

@test "the binaries load the release's libraries, also where the system's libczmq is hidden" {
    start_epmd
    REL=$(unpack elsewhere)
    name_release "$REL" r1@127.0.0.1
    syslib=$(ldd "$OTP_BIN/otp-node" | awk '$1 ~ /^libczmq/ { print $3 }')
    [ -n "$syslib" ]
    hidden=
    if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
        # In a mount namespace where the system's libczmq is an empty file
        # (what the node and its services started there keep seeing)...
        hide="mount --bind /dev/null '$syslib' &&"
        run -127 unshare -m sh -c "$hide LD_LIBRARY_PATH= '$REL/bin/otp-ctl' --version"
        [[ "$output" == *libczmq.so.4* ]]   # ...a binary without lib/ does not start
        run unshare -m sh -c "$hide exec env PATH=/usr/bin:/bin '$REL/bin/otp-labs' start" 3>&-
        hidden=yes
    else
        run labs start 3>&-
    fi
    [ "$status" -eq 0 ]
    track_var "$REL/var"
    local p libs
    for p in otp-node otp-reg otp-sup; do
        libs=$(awk '$6 ~ /libczmq/ { print $6 }' "/proc/$(cat "$REL/var/$p.pid")/maps" | sort -u)
        [ "$libs" = "$REL/lib/libczmq.so.4" ]
    done
    run labs ping
    [ "$output" = pong ]
    run labs stop
    [ "$status" -eq 0 ]
    echo "# system libczmq hidden: ${hidden:-no (needs root and unshare)}" >&3
}

@test "two unpacked copies form a cluster under the epmd strategy; foreground drains on SIGTERM while otp-sup hands off, then exits 0" {
    start_epmd
    A=$(unpack a)
    B=$(unpack b)
    name_release "$A" r1@127.0.0.1
    name_release "$B" r2@127.0.0.1
    export OTP_CLUSTER_STRATEGY=epmd OTP_CLUSTER_NODES=r1@127.0.0.1,r2@127.0.0.1
    run "$A/bin/otp-labs" start 3>&-
    [ "$status" -eq 0 ]
    track_var "$A/var"
    "$B/bin/otp-labs" foreground 2> "$BATS_TEST_TMPDIR/fg.log" 3>&- &
    fg=$!
    track "$fg"
    wait_until 20 test -f "$B/var/otp-labs.up"
    track_var "$B/var"
    [ "$(cat "$B/var/otp-labs.pid")" = "$fg" ]
    wait_until 10 prints r2@127.0.0.1 "$A/bin/otp-labs" remote nodes
    wait_until 10 prints r1@127.0.0.1 "$B/bin/otp-labs" remote nodes
    wait_until 10 bash -c "'$A/bin/otp-labs' remote sup-info | grep -qx 'members *2'"
    wait_until 10 bash -c "'$B/bin/otp-labs' remote sup-info | grep -qx 'members *2'"
    run "$A/bin/otp-labs" remote --json info
    [[ "$output" == *'"strategy":"epmd"'* ]]
    # a named child on the foreground node, called from the other
    write_child
    run "$A/bin/otp-labs" remote start-child c1 --name c1 --node r2@127.0.0.1 -- "$CHILD"
    [ "$status" -eq 0 ]
    wait_until 5 runs_once c1
    first=$(live_pids c1)
    run "$A/bin/otp-labs" remote call c1 inc
    [ "$output" = 1 ]
    pids=$(recorded "$B/var")
    [ "$(echo "$pids" | wc -l)" -eq 4 ]

    kill -TERM "$fg"
    st=0
    wait "$fg" || st=$?
    [ "$st" -eq 0 ]
    for p in $pids $first; do gone "$p"; done
    no_pid_files "$B/var"
    # the node drained while its otp-sup handed c1 off to r1
    grep -q "otp-node\[r2@127.0.0.1\] info: received Terminated" "$BATS_TEST_TMPDIR/fg.log"
    grep -q "otp-sup\[r2@127.0.0.1\] info: draining: handing children off" "$BATS_TEST_TMPDIR/fg.log"
    grep -q "otp-node\[r2@127.0.0.1\] info: drained" "$BATS_TEST_TMPDIR/fg.log"
    # otp-reg and otp-sup left on their own as their node went
    run ! grep "sending SIG" "$BATS_TEST_TMPDIR/fg.log"
    wait_until 5 runs_once c1
    [ "$(live_pids c1)" != "$first" ]
    wait_until 5 bash -c "'$A/bin/otp-labs' remote which-children | grep -q '^c1 *r1@127.0.0.1 '"
    run "$A/bin/otp-labs" remote call c1 inc
    [ "$output" = 1 ]
    never_twice
    wait_until 5 prints "" "$A/bin/otp-labs" remote nodes
    run "$A/bin/otp-labs" stop
    [ "$status" -eq 0 ]
}

@test "foreground: SIGINT drains too; the launcher exits with the node's status; a failing otp-sup takes the node down" {
    start_epmd
    REL=$(unpack elsewhere)
    name_release "$REL" r1@127.0.0.1
    # SIGINT (a background job of a script has it ignored: give it back)
    env --default-signal=INT "$REL/bin/otp-labs" foreground 2> "$BATS_TEST_TMPDIR/fg1.log" 3>&- &
    fg=$!
    track "$fg"
    wait_until 20 test -f "$REL/var/otp-labs.up"
    track_var "$REL/var"
    pids=$(recorded "$REL/var")
    kill -INT "$fg"
    st=0
    wait "$fg" || st=$?
    [ "$st" -eq 0 ]
    for p in $pids; do gone "$p"; done
    grep -q "info: drained" "$BATS_TEST_TMPDIR/fg1.log"
    run ! grep "sending SIG" "$BATS_TEST_TMPDIR/fg1.log"

    # kill -9 of the node: its status
    "$REL/bin/otp-labs" foreground 2> "$BATS_TEST_TMPDIR/fg2.log" 3>&- &
    fg=$!
    track "$fg"
    wait_until 20 test -f "$REL/var/otp-labs.up"
    track_var "$REL/var"
    pids=$(recorded "$REL/var")
    kill -KILL "$(cat "$REL/var/otp-node.pid")"
    st=0
    wait "$fg" || st=$?
    [ "$st" -eq 137 ]
    for p in $pids; do gone "$p"; done
    grep -qx "otp-labs: r1@127.0.0.1 exited (status 137)" "$BATS_TEST_TMPDIR/fg2.log"
    no_pid_files "$REL/var"

    # otp-sup killed: the node is stopped (drains), the launcher fails
    "$REL/bin/otp-labs" foreground 2> "$BATS_TEST_TMPDIR/fg3.log" 3>&- &
    fg=$!
    track "$fg"
    wait_until 20 test -f "$REL/var/otp-labs.up"
    track_var "$REL/var"
    pids=$(recorded "$REL/var")
    kill -KILL "$(cat "$REL/var/otp-sup.pid")"
    st=0
    wait "$fg" || st=$?
    [ "$st" -eq 1 ]
    for p in $pids; do gone "$p"; done
    grep -qx "otp-labs: otp-sup failed (status 137): stopping r1@127.0.0.1" "$BATS_TEST_TMPDIR/fg3.log"
    grep -q "received Terminated, leaving the cluster" "$BATS_TEST_TMPDIR/fg3.log"
}

# release_procs REL: the PIDs of processes running a binary of REL's bin/.
release_procs () {
    local p exe
    for p in /proc/[0-9]*; do
        exe=$(readlink "$p/exe" 2>/dev/null) || continue
        [[ "$exe" == "$1/bin/"* ]] && [ "$(awk '{ print $3 }' "$p/stat" 2>/dev/null)" != Z ] &&
            echo "${p#/proc/}"
    done
    return 0
}

@test "foreground: SIGTERM while it is still starting stops what it started, and exits" {
    start_epmd
    REL=$(unpack elsewhere)
    name_release "$REL" t1@127.0.0.1
    # (a delay of 0 may land before the launcher has set its trap; the later
    # ones after the services are up, where otp-reg once missed its node's
    # going when the close came in the same burst as otp-sup's `down`)
    for delay in 0 0.05 0.15 0.3 0.45 0.6 0.8; do
        "$REL/bin/otp-labs" foreground 2> "$BATS_TEST_TMPDIR/t.log" 3>&- &
        fg=$!
        track "$fg"
        sleep "$delay"
        for p in $(release_procs "$REL"); do track "$p"; done
        kill -TERM "$fg"
        wait_until 20 gone "$fg"
        wait_until 10 prints_nothing release_procs "$REL"
        # nothing had to be stopped by the launcher: each left with the node
        run ! grep "sending SIG" "$BATS_TEST_TMPDIR/t.log"
    done
}

@test "settings: etc/otp-labs.env, then the file OTP_LABS_CONFIG names, then the environment" {
    start_epmd
    REL=$(unpack elsewhere)
    start_node s2
    name_release "$REL" s1@127.0.0.1
    run labs ping
    [ "$status" -eq 1 ]
    [[ "$output" == "otp-labs: s1@127.0.0.1 does not answer"* ]]
    # the config file overrides the release's settings; quotes are dropped
    printf '# s2\n\n  OTP_NODE_NAME="s2@127.0.0.1"  \nOTP_EPMD_PORT=1\n' > "$BATS_TEST_TMPDIR/s2.env"
    cd "$BATS_TEST_TMPDIR"
    run env OTP_LABS_CONFIG=s2.env "$REL/bin/otp-labs" ping
    [ "$status" -eq 0 ]
    [ "$output" = pong ]        # and OTP_EPMD_PORT stayed the environment's
    # the environment wins over both
    run env OTP_LABS_CONFIG=s2.env OTP_NODE_NAME=s3@127.0.0.1 "$REL/bin/otp-labs" ping
    [ "$status" -eq 1 ]
    [[ "$output" == "otp-labs: s3@127.0.0.1 does not answer"* ]]
    # a bad line or a missing file: one line
    printf 'OTP_NODE_NAME=s2@127.0.0.1\nnot a setting\n' > bad.env
    run env OTP_LABS_CONFIG=bad.env "$REL/bin/otp-labs" ping
    [ "$status" -eq 1 ]
    [ "$output" = "otp-labs: $BATS_TEST_TMPDIR/bad.env:2: not KEY=VALUE: not a setting" ]
    run env OTP_LABS_CONFIG=missing.env "$REL/bin/otp-labs" ping
    [ "$status" -eq 1 ]
    [ "$output" = "otp-labs: cannot read settings file $BATS_TEST_TMPDIR/missing.env" ]

    # The settings reach the daemons and the launcher: another var dir, the
    # node and otp-reg only, a port and a strategy.
    port=$(( 20000 + RANDOM % 10000 ))
    cat > s4.env <<EOF
OTP_NODE_NAME=s4@127.0.0.1
OTP_LABS_VAR_DIR=$BATS_TEST_TMPDIR/var4
OTP_LABS_SERVICES=reg
OTP_NODE_PORT=$port
OTP_CLUSTER_STRATEGY=epmd
OTP_CLUSTER_NODES=s4@127.0.0.1,s2@127.0.0.1
EOF
    run env OTP_LABS_CONFIG=s4.env "$REL/bin/otp-labs" start 3>&-
    [ "$status" -eq 0 ]
    track_var var4
    [ -f var4/otp-node.pid ]
    [ -f var4/otp-reg.pid ]
    [ ! -e var4/otp-sup.pid ]
    no_pid_files "$REL/var"
    run env OTP_LABS_CONFIG=s4.env "$REL/bin/otp-labs" remote --json info
    [[ "$output" == *'"strategy":"epmd"'*'"port":'"$port"* ]]
    run env OTP_LABS_CONFIG=s4.env "$REL/bin/otp-labs" remote names
    [ "$status" -eq 0 ]
    run env OTP_LABS_CONFIG=s4.env "$REL/bin/otp-labs" remote sup-info
    [ "$status" -ne 0 ]
    wait_until 10 prints s2@127.0.0.1 env OTP_LABS_CONFIG=s4.env "$REL/bin/otp-labs" remote nodes
    pids=$(recorded var4)
    run env OTP_LABS_CONFIG=s4.env "$REL/bin/otp-labs" stop
    [ "$status" -eq 0 ]
    for p in $pids; do gone "$p"; done
}

@test "one copy, two var dirs: a cluster of two; scripts/rolling-restart --release restarts them one at a time, the children run on" {
    start_epmd
    REL=$(unpack elsewhere)
    cd "$BATS_TEST_TMPDIR"
    for i in 1 2; do
        printf 'OTP_NODE_NAME=r%s@127.0.0.1\nOTP_LABS_VAR_DIR=%s\nOTP_CLUSTER_STRATEGY=epmd\nOTP_CLUSTER_NODES=r1@127.0.0.1,r2@127.0.0.1\n' \
            "$i" "$BATS_TEST_TMPDIR/var$i" > "r$i.env"
        run env OTP_LABS_CONFIG="r$i.env" "$REL/bin/otp-labs" start 3>&-
        [ "$status" -eq 0 ]
        track_var "var$i"
    done
    wait_until 10 bash -c "OTP_LABS_CONFIG=r1.env '$REL/bin/otp-labs' remote sup-info | grep -qx 'members *2'"
    wait_until 10 bash -c "OTP_LABS_CONFIG=r2.env '$REL/bin/otp-labs' remote sup-info | grep -qx 'members *2'"
    write_child
    for i in 1 2; do
        OTP_LABS_CONFIG=r1.env "$REL/bin/otp-labs" remote start-child "c$i" --name "c$i" --node "r$i@127.0.0.1" -- "$CHILD"
    done
    wait_until 5 all_run_once 2
    old=$(recorded var1; recorded var2)
    run "$BATS_TEST_DIRNAME/../scripts/rolling-restart" --release "$REL/bin/otp-labs" r1.env r2.env 3>&-
    echo "$output" | sed "s/^/# /" >&3
    [ "$status" -eq 0 ]
    track_var var1
    track_var var2
    [[ "${lines[0]}" == "r1@127.0.0.1 restarted in "*s ]]
    [[ "${lines[1]}" == "r2@127.0.0.1 restarted in "*s ]]
    for p in $old; do gone "$p"; done
    [ "$(recorded var1 | wc -l)" -eq 4 ]
    [ "$(recorded var2 | wc -l)" -eq 4 ]
    never_twice
    wait_until 5 all_run_once 2
    for i in 1 2; do
        [ "$(OTP_LABS_CONFIG=r2.env "$REL/bin/otp-labs" remote call "c$i" who | cut -d' ' -f2)" = "$(live_pids "c$i")" ]
        # each was handed off at least once
        [ "$(grep -c "^start c$i " "$EVENTS")" -ge 2 ]
    done
    for i in 1 2; do
        run env OTP_LABS_CONFIG="r$i.env" "$REL/bin/otp-labs" stop
        [ "$status" -eq 0 ]
    done
}

@test "OTP_LABS_EPMD=yes: the launcher starts otp-epmd when none answers, and stops it with the node; auto: the node starts the release's" {
    REL=$(unpack elsewhere)
    name_release "$REL" r1@127.0.0.1
    for _ in $(seq 20); do
        OTP_EPMD_PORT=$(( 20000 + RANDOM % 12000 ))
        otp-ctl -t 200 epmd info > /dev/null 2>&1 || break
    done
    run env OTP_LABS_EPMD=yes "$REL/bin/otp-labs" start 3>&-
    [ "$status" -eq 0 ]
    track_var "$REL/var"
    epmd=$(cat "$REL/var/otp-epmd.pid")
    alive "$epmd"
    [ "$(cat "/proc/$epmd/comm")" = otp-epmd ]
    otp-ctl epmd names | grep -q "^r1 "
    pids=$(recorded "$REL/var")
    run "$REL/bin/otp-labs" stop
    [ "$status" -eq 0 ]
    for p in $pids; do gone "$p"; done

    # auto (the default): the node starts the release's otp-epmd, which
    # outlives it (as erl's epmd does)
    run "$REL/bin/otp-labs" start 3>&-
    [ "$status" -eq 0 ]
    track_var "$REL/var"
    [ ! -e "$REL/var/otp-epmd.pid" ]
    epmd=$(otp-ctl epmd info | awk '$1 == "pid" { print $2 }')
    track "$epmd"
    [ "$(readlink "/proc/$epmd/exe")" = "$REL/bin/otp-epmd" ]
    run "$REL/bin/otp-labs" stop
    [ "$status" -eq 0 ]
    alive "$epmd"
}

@test "the launcher's errors: an unknown command exits 2 with one line; a node that cannot start, 1 with its reason" {
    REL=$(unpack elsewhere)
    run labs bogus
    [ "$status" -eq 2 ]
    [ "$output" = "otp-labs: unknown command 'bogus' (see: otp-labs help)" ]
    run labs
    [ "$status" -eq 2 ]
    [[ "$output" == "usage: otp-labs COMMAND"* ]]
    run labs help
    [ "$status" -eq 0 ]
    [[ "$output" == *foreground*remote*version* ]]
    run env OTP_LABS_SERVICES="reg web" "$REL/bin/otp-labs" ping
    [ "$status" -eq 1 ]
    [ "$output" = "otp-labs: OTP_LABS_SERVICES: unknown service 'web' (reg, sup)" ]
    run env OTP_NODE_NAME=bare "$REL/bin/otp-labs" ping
    [ "$status" -eq 1 ]
    [ "$output" = "otp-labs: OTP_NODE_NAME 'bare' has no @host (a bare name needs POD_IP and NAMESPACE)" ]
    # no port mapper on port 1, and none may be started
    run env OTP_LABS_EPMD=no "$REL/bin/otp-labs" start 3>&-
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "otp-labs: otp-labs@127.0.0.1 did not start: no otp-epmd answers on port 1"* ]]
    no_pid_files "$REL/var"
}
