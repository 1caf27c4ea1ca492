#!/usr/bin/env bats
# The container image, built for real from the Dockerfile: no Docker engine
# runs here, so buildah (`make image CONTAINER=buildah`, chroot isolation),
# and no registry can be pulled, so on a Debian bookworm base that
# scripts/make-base-image makes by debootstrap. Then two nodes run from the
# built image's file system, as its user, each in a container of its own.
#
# buildah's storage is a fixed one (OTP_IMAGE_STORE, /var/tmp/otp-labs-buildah)
# rather than one per test, so the base image is imported once per machine and
# the install-deps layer (--layers) is built again only when the script
# changes; the source is copied and `make release` runs on every build. What a
# build leaves beyond that (its image, its new intermediate layers) goes in
# teardown_file, and only that: another build may share the storage.
load helper
load sup
# helper's setup and teardown, run by this file's own
eval "helper_$(declare -f setup)"
eval "helper_$(declare -f teardown)"

REPO=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
BASE=localhost/otp-labs-base:bookworm
DEPS_CACHE=localhost/otp-labs-deps-cache:bookworm

image_skip_reason () {
    case $OTP_BIN in
        *build-san*) echo "the image builds its own binaries: run once, in the plain run (OTP_BIN is $OTP_BIN)"; return ;;
    esac
    [ "$(id -u)" = 0 ] || { echo "needs root (buildah's storage, chroot)"; return; }
    local t
    for t in buildah debootstrap unshare chroot; do
        command -v "$t" > /dev/null ||
            { echo "$t not found (apt-get install buildah debootstrap, as .ci/run does)"; return; }
    done
}

# The storage driver: overlay where this file system takes an overlay mount,
# else vfs (a copy per layer: slower). Each driver has its own graph root.
store_driver () {
    local root=$1 p
    if [ ! -s "$root/driver" ]; then
        p=$(mktemp -d "$root/probe.XXXXXX")
        mkdir "$p/l" "$p/u" "$p/w" "$p/m"
        if mount -t overlay overlay -o "lowerdir=$p/l,upperdir=$p/u,workdir=$p/w" "$p/m" 2> /dev/null; then
            umount "$p/m"
            echo overlay > "$root/driver"
        else
            echo vfs > "$root/driver"
        fi
        rm -rf "$p"
    fi
    cat "$root/driver"
}

setup_file () {
    export IMAGE_SKIP
    IMAGE_SKIP=$(image_skip_reason)
    [ -z "$IMAGE_SKIP" ] || return 0
    local store=${OTP_IMAGE_STORE:-/var/tmp/otp-labs-buildah} driver
    mkdir -p "$store"
    driver=$(store_driver "$store")
    export CONTAINERS_STORAGE_CONF="$BATS_FILE_TMPDIR/storage.conf"
    cat > "$CONTAINERS_STORAGE_CONF" <<EOF
[storage]
driver = "$driver"
graphroot = "$store/$driver"
runroot = "/run/otp-labs-buildah/$driver"
EOF
    export IMAGE="localhost/otp-labs:test-$$"
    local t0 t1 t2
    t0=$(date +%s)
    "$REPO/scripts/make-base-image" > "$BATS_FILE_TMPDIR/base.log" 2>&1 ||
        { cat "$BATS_FILE_TMPDIR/base.log" >&2; return 1; }
    t1=$(date +%s)
    make --no-print-directory -C "$REPO" image CONTAINER=buildah IMAGE="$IMAGE" \
        BASE_IMAGE="$BASE" IMAGE_FLAGS="--isolation chroot --layers" \
        > "$BATS_FILE_TMPDIR/bud.log" 2>&1 ||
        { tail -n 40 "$BATS_FILE_TMPDIR/bud.log" >&2; return 1; }
    t2=$(date +%s)
    echo "# base image $((t1 - t0)) s, build $((t2 - t1)) s ($driver)" >&3
    # The install-deps layer gets a name, so that the next build finds it
    # whatever was removed since; the one it replaces (install-deps changed)
    # goes.
    local deps old
    deps=$(awk '/STEP [0-9\/]+: RUN scripts\/install-deps/ { f = 1; next }
                f && /^--> [0-9a-f]+$/ { print $2; exit }' "$BATS_FILE_TMPDIR/bud.log")
    old=$(buildah inspect --type image --format '{{.FromImageID}}' "$DEPS_CACHE" 2> /dev/null) || old=
    if [ -n "$deps" ]; then
        buildah tag "$deps" "$DEPS_CACHE"
        [ -z "$old" ] || [[ "$old" == "$deps"* ]] || buildah rmi "$old" > /dev/null 2>&1 || true
    fi
    # The layers this build made (not those it took from the cache), newest
    # first, for teardown_file.
    awk -v deps="$deps" '/^--> Using cache / { cached = cached " " substr($4, 1, 11); next }
        /^--> [0-9a-f]+$/ && $2 != deps && index(cached, " " $2) == 0 { print $2 }' \
        "$BATS_FILE_TMPDIR/bud.log" | tac > "$BATS_FILE_TMPDIR/layers"
}

teardown_file () {
    [ -z "$IMAGE_SKIP" ] || return 0
    [ -n "${CONTAINERS_STORAGE_CONF:-}" ] || return 0
    buildah rmi "$IMAGE" > /dev/null 2>&1 || true
    local id
    while read -r id; do
        buildah rmi "$id" > /dev/null 2>&1 || true
    done < "$BATS_FILE_TMPDIR/layers"
}

setup () {
    [ -z "$IMAGE_SKIP" ] || skip "$IMAGE_SKIP"
    helper_setup
    CTRS="$BATS_TEST_TMPDIR/containers"
    : > "$CTRS"
}

teardown () {
    [ -z "$IMAGE_SKIP" ] || return 0
    helper_teardown
    local c
    while read -r c; do
        buildah umount "$c" > /dev/null 2>&1 || true
        buildah rm "$c" > /dev/null 2>&1 || true
    done < "$CTRS"
}

# container: a working container of the image, mounted; sets MNT.
container () {
    local c
    c=$(buildah from "$IMAGE")
    echo "$c" >> "$CTRS"
    MNT=$(buildah mount "$c")
}

# image_cmd MNT VAR=VALUE... -- CMD...: sets IMG_CMD to the command line
# that runs CMD in the image's file system at MNT as a container runtime
# would: the image's user and environment (plus VAR=VALUE...), /proc and
# /dev mounted (in a mount namespace of its own, gone with its last process),
# the host's network. Every step execs: started with `&`, $! is CMD's PID.
image_cmd () {
    local mnt=$1 env=()
    shift
    while [ "$1" != -- ]; do env+=("$1"); shift; done
    shift
    IMG_CMD=(env -i "${IMAGE_ENV[@]}" "${env[@]}" unshare --mount --propagation private -- /bin/sh -c '
        mnt=$1 user=$2; shift 2
        mount -t proc proc "$mnt/proc" && mount --rbind /dev "$mnt/dev" &&
            exec chroot --userspec="$user" "$mnt" "$@"' sh "$mnt" "$IMAGE_USER" "$@")
}
in_image () { image_cmd "$@"; "${IMG_CMD[@]}"; }

# ids PID: the real, effective, saved and file-system uids, then the gids.
ids () { awk '/^Uid:|^Gid:/ { printf "%s%s %s %s %s", sep, $2, $3, $4, $5; sep = " " }' "/proc/$1/status"; }

# The image's configuration, as a runtime reads it.
image_config () {
    buildah inspect --type image --format "{{$1}}" "$IMAGE"
}

load_config () {
    IMAGE_USER=$(image_config .OCIv1.Config.User)
    read -r -a IMAGE_ENV <<< "$(image_config 'range .OCIv1.Config.Env}}{{.}} {{end')"
    read -r -a IMAGE_CMD <<< "$(image_config 'range .OCIv1.Config.Entrypoint}}{{.}} {{end}}{{range .OCIv1.Config.Cmd}}{{.}} {{end')"
}

@test "the runtime stage holds the release only and runs as 10001:10001 the launcher in the foreground" {
    load_config
    [ "$IMAGE_USER" = 10001:10001 ]
    [ "${IMAGE_CMD[*]}" = "/opt/otp-labs/bin/otp-labs foreground" ]
    for e in OTP_LABS_VAR_DIR=/tmp/otp-labs OTP_NODE_PORT=9100 OTP_HTTP_PORT=8080 HOME=/tmp; do
        [[ " ${IMAGE_ENV[*]} " == *" $e "* ]]
    done
    [ "$(image_config 'range $p, $_ := .OCIv1.Config.ExposedPorts}}{{$p}} {{end')" = "4369/tcp 8080/tcp 9100/tcp " ]
    container
    # the release, with its libraries ...
    for b in otp-labs otp-epmd otp-node otp-reg otp-sup otp-ctl; do
        [ -x "$MNT/opt/otp-labs/bin/$b" ]
    done
    ls "$MNT"/opt/otp-labs/lib/libczmq.so.* "$MNT"/opt/otp-labs/lib/libzmq.so.* \
        "$MNT"/opt/otp-labs/lib/libsodium.so.*
    [ -f "$MNT/opt/otp-labs/etc/otp-labs.env" ]
    # ... and none of the build stage: no compiler, headers, source, or the
    # distribution's CZMQ (the nodes below run on the release's copy)
    [ ! -e "$MNT/usr/bin/cc" ]
    [ ! -e "$MNT/usr/bin/gcc" ]
    [ ! -e "$MNT/usr/bin/make" ]
    [ ! -e "$MNT/usr/include/czmq.h" ]
    [ ! -e "$MNT/usr/include/zmq.h" ]
    [ ! -e "$MNT/src" ]
    [ -z "$(find "$MNT/usr/lib" "$MNT/lib" -name 'libczmq*' -o -name 'libzmq*' 2> /dev/null)" ]
    # the user cannot change the release; the launcher runs from its place
    [ -z "$(find "$MNT/opt/otp-labs" -user 10001)" ]
    run in_image "$MNT" -- /bin/sh -c 'touch /opt/otp-labs/bin/x'
    [ "$status" -ne 0 ]
    run in_image "$MNT" -- /bin/sh -c 'id -u; id -g; echo "$HOME"'
    [ "$status" -eq 0 ]
    [ "$output" = "10001
10001
/tmp" ]
    run in_image "$MNT" -- "${IMAGE_CMD[0]}" version
    [ "$status" -eq 0 ]
    [[ "$output" == *0.1.0* ]]
}

@test "two nodes run from the image, each in its own container as uid 10001, form a cluster and serve a named child" {
    load_config
    container; MNT_A=$MNT
    container; MNT_B=$MNT
    # otp-epmd from the image (in A's container) on a free port; the ports
    # are the host's here, as under --network host
    local port
    for _ in $(seq 20); do
        port=$(( 20000 + RANDOM % 12000 ))
        image_cmd "$MNT_A" LD_LIBRARY_PATH=/opt/otp-labs/lib -- /opt/otp-labs/bin/otp-epmd -d -p "$port" \
            --port-file /tmp/epmd.port
        "${IMG_CMD[@]}" 2>> "$BATS_TEST_TMPDIR/epmd.log" 3>&- &
        track $!
        wait_until 5 bash -c "test -s '$MNT_A/tmp/epmd.port' || ! kill -0 $! 2>/dev/null" || true
        [ -s "$MNT_A/tmp/epmd.port" ] && break
    done
    [ "$(cat "$MNT_A/tmp/epmd.port")" = "$port" ]
    # shellcheck disable=SC2054 # the commas are the list's
    local common=(OTP_COOKIE="$OTP_COOKIE" OTP_EPMD_PORT="$port" OTP_LABS_EPMD=no
                  OTP_CLUSTER_STRATEGY=epmd OTP_CLUSTER_NODES=a@127.0.0.1,b@127.0.0.1
                  OTP_NODE_PORT=0 OTP_HTTP_PORT=0)
    image_cmd "$MNT_A" OTP_NODE_NAME=a@127.0.0.1 "${common[@]}" -- "${IMAGE_CMD[@]}"
    "${IMG_CMD[@]}" 2> "$BATS_TEST_TMPDIR/a.log" 3>&- &
    PID_A=$!
    track "$PID_A"
    image_cmd "$MNT_B" OTP_NODE_NAME=b@127.0.0.1 "${common[@]}" -- "${IMAGE_CMD[@]}"
    "${IMG_CMD[@]}" 2> "$BATS_TEST_TMPDIR/b.log" 3>&- &
    PID_B=$!
    track "$PID_B"
    wait_until 30 grep -q "a@127.0.0.1 is up with otp-reg, otp-sup" "$BATS_TEST_TMPDIR/a.log"
    wait_until 30 grep -q "b@127.0.0.1 is up with otp-reg, otp-sup" "$BATS_TEST_TMPDIR/b.log"

    # every process runs as 10001 inside its container's file system
    local pid c
    for c in A B; do
        local mnt_var=MNT_$c pid_var=PID_$c
        for pid in "${!pid_var}" $(cat "${!mnt_var}"/tmp/otp-labs/otp-{node,reg,sup}.pid); do
            [ "$(ids "$pid")" = "10001 10001 10001 10001 10001 10001 10001 10001" ]
            [ "$(readlink "/proc/$pid/root")" = "${!mnt_var}" ]
        done
    done

    # ctl NODE-LETTER ARGS: otp-ctl of the image, through its launcher's remote
    ctl () {
        local m=MNT_${1^^}
        in_image "${!m}" OTP_NODE_NAME="$1@127.0.0.1" "${common[@]}" -- \
            /opt/otp-labs/bin/otp-labs remote "${@:2}"
    }
    wait_until 20 prints b@127.0.0.1 ctl a nodes
    wait_until 20 prints a@127.0.0.1 ctl b nodes
    ctl a start-child echo --name echo -- /bin/sh -c 'while read -r l; do echo "image: $l"; done'
    wait_until 20 prints "image: hi" ctl b call echo hi --timeout 2000
    [ "$(ctl a call echo there --timeout 2000)" = "image: there" ]
    # the child too runs as 10001, in one of the two containers
    pid=$(ctl b which-children | awk '$1 == "echo" { print $3 }')
    [ "$(ids "$pid")" = "10001 10001 10001 10001 10001 10001 10001 10001" ]
    [[ "$(readlink "/proc/$pid/root")" == "$MNT_A" || "$(readlink "/proc/$pid/root")" == "$MNT_B" ]]

    # SIGTERM (what a runtime sends on stop): each node drains and its
    # launcher exits
    kill -TERM "$PID_B"
    wait_until 30 gone "$PID_B"
    grep -q "drained" "$BATS_TEST_TMPDIR/b.log"
    wait_until 10 prints "" ctl a nodes
    kill -TERM "$PID_A"
    wait_until 30 gone "$PID_A"
    grep -q "drained" "$BATS_TEST_TMPDIR/a.log"
}
