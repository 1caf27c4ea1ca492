#!/usr/bin/env bats
# The chat example (examples/chat): alice, bob and eve, each a chat process on
# a node of their own, as the seeds' P24Chat. Each reads `TARGET TEXT` lines
# from a FIFO and prints what it receives into NAME.out.
load helper

# chat NODE NAME [otp-chat options]: starts otp-chat on NODE@127.0.0.1 as NAME,
# reading from the FIFO $BATS_TEST_TMPDIR/NAME.in, and waits until it is
# registered. The FIFO is opened read-write by the chat itself, so it never
# sees end-of-file and the test can write to it any number of times.
chat () {
    local node=$1 name=$2; shift 2
    local dir=$BATS_TEST_TMPDIR
    mkfifo "$dir/$name.in"
    otp-chat -n "$node@127.0.0.1" "$@" "$name" <> "$dir/$name.in" \
        > "$dir/$name.out" 2> "$dir/$name.err" 3>&- &
    track $!
    eval "CHAT_${name}=$!"
    wait_until 10 grep -q "$name is chatting" "$dir/$name.err"
}

# say NAME LINE: NAME types LINE.
say () { echo "$2" > "$BATS_TEST_TMPDIR/$1.in"; }

# heard NAME TEXT: NAME has printed the line TEXT.
heard () { grep -qxF "$2" "$BATS_TEST_TMPDIR/$1.out"; }

# known NODE NAME: NODE's registry replica holds NAME.
known () { otp-ctl -n "$1@127.0.0.1" names | grep -qxF -- "$2"; }

# Three nodes, each with its registry, and the three people chatting.
chat_cluster () {
    start_epmd
    start_node alice; start_node bob; start_node eve
    wait_until 5 full_mesh alice bob eve
    start_reg alice; start_reg bob; start_reg eve
    chat alice alice
    chat bob bob
    chat eve eve --busy
    local node name
    for node in alice bob eve; do
        for name in alice bob eve; do
            wait_until 5 known "$node" "$name"
        done
    done
}

@test "send_message to a node prints the text there; by registered name too" {
    chat_cluster
    say alice "bob@127.0.0.1 hey"
    wait_until 3 heard bob "hey"
    say bob "alice heyyy"
    wait_until 3 heard alice "heyyy"
    # nobody else heard either
    run cat "$BATS_TEST_TMPDIR/eve.out"
    [ "$output" = "" ]
}

@test "eve answers every message with 'stay quiet for a while'" {
    chat_cluster
    say alice "eve@127.0.0.1 wassup"
    wait_until 3 heard eve "wassup"
    wait_until 3 heard alice "stay quiet for a while"
    say bob "eve hello eve"
    wait_until 3 heard eve "hello eve"
    wait_until 3 heard bob "stay quiet for a while"
    # one answer per message, and eve does not answer her own answer
    [ "$(grep -cxF "stay quiet for a while" "$BATS_TEST_TMPDIR/alice.out")" -eq 1 ]
    [ "$(wc -l < "$BATS_TEST_TMPDIR/eve.out")" -eq 2 ]
}

@test "a name nobody holds, or a bad line, is an error on stderr; the chat goes on" {
    chat_cluster
    say alice "mallory are you there"
    wait_until 12 grep -q "cannot send to mallory: no process is registered as 'mallory'" "$BATS_TEST_TMPDIR/alice.err"
    say alice "justoneword"
    wait_until 3 grep -q "say TARGET TEXT" "$BATS_TEST_TMPDIR/alice.err"
    say alice "bad@ x"
    wait_until 3 grep -q "'bad@' is not a node name" "$BATS_TEST_TMPDIR/alice.err"
    kill -0 "$CHAT_alice"
    say alice "bob still here"
    wait_until 3 heard bob "still here"
}

@test "a chat whose stdin ends keeps receiving, unless --exit-on-eof" {
    start_epmd
    start_node alice; start_node bob
    wait_until 5 full_mesh alice bob
    start_reg alice; start_reg bob
    otp-chat -n bob@127.0.0.1 bob < /dev/null > "$BATS_TEST_TMPDIR/bob.out" \
        2> "$BATS_TEST_TMPDIR/bob.err" 3>&- &
    track $!
    wait_until 10 grep -q "bob is chatting" "$BATS_TEST_TMPDIR/bob.err"
    echo "bob@127.0.0.1 after the end" | timeout 10 otp-chat -n alice@127.0.0.1 --exit-on-eof alice 3>&-
    wait_until 3 heard bob "after the end"
}

@test "otp-chat: --help, --version, one clear line for bad input" {
    run otp-chat --help
    [ "$status" -eq 0 ]; [[ "$output" == *"usage: otp-chat"* ]]
    run otp-chat --version
    [ "$status" -eq 0 ]; [[ "$output" =~ ^otp-chat\ \(otp-labs\)\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
    run otp-chat alice;                        [ "$status" -ne 0 ]; [[ "$output" == *"which node?"* ]]
    run otp-chat -n a@127.0.0.1;               [ "$status" -ne 0 ]; [[ "$output" == *"who is chatting?"* ]]
    run otp-chat -n a@127.0.0.1 alice extra;   [ "$status" -ne 0 ]; [[ "$output" == *"unexpected argument 'extra'"* ]]
    run otp-chat -n a@127.0.0.1 "two words";   [ "$status" -ne 0 ]; [[ "$output" == *"not a valid name"* ]]
    run timeout 10 otp-chat -n nohost alice;   [ "$status" -ne 0 ]; [[ "$output" == *"not a node name"* ]]
    run timeout 10 otp-chat -n a@127.0.0.1 -t 300 alice
    [ "$status" -ne 0 ]; [[ "$output" == *"no otp-epmd answers"* ]]
    [ "${#lines[@]}" -eq 1 ]
}
