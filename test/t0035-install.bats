#!/usr/bin/env bats
# make install: the programs, libotp (shared with a soname, and static), its
# headers and libotp.pc, man pages and otp-ctl's bash completion; a C program
# built against the installed library with pkg-config talks to a real
# cluster; the systemd unit is valid and the launcher tells systemd when the
# node is up.
bats_require_minimum_version 1.5.0
load helper

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
VERSION=$(sed -n 's/^VERSION *:= *//p' "$ROOT/Makefile")

# make_args: the build under test (OTP_BIN's parent), as make is told it.
make_args () {
    local build
    build=$(cd "$OTP_BIN/.." && pwd)
    if [ "$build" = "$ROOT/build-san" ]; then echo SANITIZE=1
    elif [ "$build" != "$ROOT/build" ]; then echo "BUILD=$build"
    fi
}

install_to () {   # install_to PREFIX [make variables...]
    local prefix=$1; shift
    # shellcheck disable=SC2046
    make -C "$ROOT" install PREFIX="$prefix" $(make_args) "$@" > "$BATS_TEST_TMPDIR/install.log" 2>&1 3>&- ||
        { cat "$BATS_TEST_TMPDIR/install.log" >&2; return 1; }
}

@test "make install PREFIX: programs, libotp.so with its soname and libotp.a, headers, libotp.pc, man pages, completion; uninstall removes them" {
    p="$BATS_TEST_TMPDIR/prefix"
    install_to "$p"
    for b in otp-epmd otp-node otp-reg otp-sup otp-ctl; do
        [ -x "$p/bin/$b" ]
        [ -f "$p/share/man/man1/$b.1" ]
    done
    [ "$("$p/bin/otp-ctl" --version)" = "otp-ctl (otp-labs) $VERSION" ]
    [ -f "$p/lib/libotp.a" ]
    [ "$(readlink "$p/lib/libotp.so")" = libotp.so.0 ]
    [ "$(readlink "$p/lib/libotp.so.0")" = "libotp.so.$VERSION" ]
    readelf -d "$p/lib/libotp.so.$VERSION" | grep -q 'Library soname: \[libotp.so.0\]'
    [ -f "$p/include/otp-labs/otp.h" ] && [ -f "$p/include/otp-labs/otp_state.h" ]
    [ -f "$p/share/bash-completion/completions/otp-ctl" ]
    [ "$(PKG_CONFIG_PATH="$p/lib/pkgconfig" pkg-config --modversion libotp)" = "$VERSION" ]
    [ "$(PKG_CONFIG_PATH="$p/lib/pkgconfig" pkg-config --variable=includedir libotp)" = "$p/include" ]
    # DESTDIR stages the same tree under another root, for a package.
    install_to /usr DESTDIR="$BATS_TEST_TMPDIR/stage"
    [ -x "$BATS_TEST_TMPDIR/stage/usr/bin/otp-node" ]
    [ "$(sed -n 's/^prefix=//p' "$BATS_TEST_TMPDIR/stage/usr/lib/pkgconfig/libotp.pc")" = /usr ]
    # shellcheck disable=SC2046
    make -C "$ROOT" uninstall PREFIX="$p" $(make_args) > /dev/null 3>&-
    [ -z "$(find "$p" -type f -o -type l)" ]
}

@test "the chat example, built against the installed library with pkg-config, loads libotp.so.0 and chats with the in-tree one" {
    p="$BATS_TEST_TMPDIR/prefix"
    install_to "$p"
    san=()
    sanitized && san=(-fsanitize=address,undefined)
    # shellcheck disable=SC2046
    cc -std=c11 -D_GNU_SOURCE "${san[@]}" "$ROOT/examples/chat/chat.c" \
        $(PKG_CONFIG_PATH="$p/lib/pkgconfig" pkg-config --cflags --libs libotp) \
        -o "$BATS_TEST_TMPDIR/chat"
    LD_LIBRARY_PATH="$p/lib" ldd "$BATS_TEST_TMPDIR/chat" | grep -q "libotp.so.0 => $p/lib/libotp.so.0"
    start_epmd
    start_node a; start_node b
    wait_until 5 full_mesh a b
    start_reg a; start_reg b
    mkfifo "$BATS_TEST_TMPDIR/bob.in"
    otp-chat -n b@127.0.0.1 bob <> "$BATS_TEST_TMPDIR/bob.in" > "$BATS_TEST_TMPDIR/bob.out" \
        2> "$BATS_TEST_TMPDIR/bob.err" 3>&- &
    track $!
    wait_until 10 grep -q "bob is chatting" "$BATS_TEST_TMPDIR/bob.err"
    wait_until 5 bash -c "otp-ctl -n a@127.0.0.1 names | grep -qx bob"
    echo "bob hello from an installed libotp" |
        LD_LIBRARY_PATH="$p/lib" "$BATS_TEST_TMPDIR/chat" -n a@127.0.0.1 --exit-on-eof alice 3>&-
    wait_until 5 grep -qxF "hello from an installed libotp" "$BATS_TEST_TMPDIR/bob.out"
}

@test "man pages: each renders, with its program's synopsis and every option of its --help" {
    p="$BATS_TEST_TMPDIR/prefix"
    install_to "$p"
    for b in otp-epmd otp-node otp-reg otp-sup otp-ctl; do
        page=$(MANWIDTH=200 man -l "$p/share/man/man1/$b.1" 2>/dev/null)
        echo "$page" | grep -q "^NAME"
        echo "$page" | grep -q "$b - "
        echo "$page" | grep -qF "$("$OTP_BIN/$b" --help | head -1 | sed 's/^usage: //')"
        for opt in $("$OTP_BIN/$b" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
            echo "$page" | grep -qF -- "$opt" || { echo "$b.1 lacks $opt" >&2; false; }
        done
    done
}

# complete WORDS...: what otp-ctl's completion offers for the last word.
complete_words () {
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _otp_ctl; echo "${COMPREPLY[*]}"' \
        _ "$ROOT/scripts/otp-ctl.bash-completion" "$@"
}

@test "bash completion of otp-ctl: commands and options from its own --help" {
    [ "$(complete_words "$OTP_BIN/otp-ctl" which)" = which-children ]
    [ "$(complete_words "$OTP_BIN/otp-ctl" -n a@b st)" = "start-child state stop stop-child" ]
    [ "$(complete_words "$OTP_BIN/otp-ctl" --cookie-)" = --cookie-file ]
    [ "$(complete_words "$OTP_BIN/otp-ctl" epmd "")" = "names info" ]
    # Every command --help lists is offered.
    n=$("$OTP_BIN/otp-ctl" --help | awk '/^Commands:/ { f = 1; next } /^Options:/ { f = 0 } f && /^  [a-z]/ { print $1 }' | sort -u | wc -l)
    [ "$(complete_words "$OTP_BIN/otp-ctl" "" | wc -w)" -eq "$n" ]
}

@test "the systemd unit passes systemd-analyze verify; under Type=notify the launcher says READY=1 once the node is up" {
    start_epmd
    # The unit, pointed at a release unpacked here.
    b="$BATS_TEST_TMPDIR/build"
    mkdir -p "$b/bin"
    for v in otp-epmd otp-node otp-reg otp-sup otp-ctl; do cp "$OTP_BIN/$v" "$b/bin/"; done
    "$ROOT/scripts/make-release" "$b" "$VERSION" > /dev/null
    tar -xzf "$b/otp-labs-$VERSION.tar.gz" -C "$BATS_TEST_TMPDIR"
    rel="$BATS_TEST_TMPDIR/otp-labs-$VERSION"
    sed "s|/opt/otp-labs|$rel|; /^User=/d; /^Group=/d; /^Documentation=/d" \
        "$ROOT/rel/systemd/otp-labs.service" > "$BATS_TEST_TMPDIR/otp-labs.service"
    run systemd-analyze verify "$BATS_TEST_TMPDIR/otp-labs.service"
    echo "$output" >&3
    [ "$status" -eq 0 ]
    grep -qx 'Type=notify' "$BATS_TEST_TMPDIR/otp-labs.service"
    # A notify socket of our own, as systemd would give.
    sock="$BATS_TEST_TMPDIR/notify.sock"
    python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[2], "w").close()
while True:
    msg = s.recv(4096).decode()
    with open(sys.argv[2], "a") as f:
        f.write(msg.replace("\n", " ") + "\n")
' "$sock" "$BATS_TEST_TMPDIR/notified" 3>&- &
    track $!
    wait_until 5 test -e "$BATS_TEST_TMPDIR/notified"
    printf 'OTP_NODE_NAME=sd@127.0.0.1\nOTP_LABS_VAR_DIR=%s\n' "$BATS_TEST_TMPDIR/var" > "$BATS_TEST_TMPDIR/sd.env"
    NOTIFY_SOCKET="$sock" OTP_LABS_CONFIG="$BATS_TEST_TMPDIR/sd.env" "$rel/bin/otp-labs" foreground \
        2> "$BATS_TEST_TMPDIR/fg.log" 3>&- &
    fg=$!
    track $fg
    wait_until 20 grep -q 'READY=1' "$BATS_TEST_TMPDIR/notified"
    grep -q 'STATUS=sd@127.0.0.1 is up' "$BATS_TEST_TMPDIR/notified"
    # It was not said before the node answered.
    [ -f "$BATS_TEST_TMPDIR/var/otp-labs.up" ]
    OTP_LABS_CONFIG="$BATS_TEST_TMPDIR/sd.env" "$rel/bin/otp-labs" ping
    kill -TERM "$fg"
    wait_until 30 bash -c "! kill -0 $fg 2>/dev/null"
}
