# A multi-host test bed on Linux network namespaces. Load it after helper:
#
#     load helper
#     load netns
#
# netns_setup N makes N "hosts": namespaces otp<ID>h1..otp<ID>hN, each with
# lo and eth0 (10.X.Y.I/24 for host I), whose veth peers h1..hN sit on bridge
# br0 in a namespace of their own (otp<ID>b). ID is unique per test (claimed
# by creating otp<ID>b, which fails if another test holds it) and gives the
# subnet, X.Y = ID / 256 . ID % 256. Every interface lives in a bed namespace,
# none in the caller's; there is no default route and no NAT, so nothing
# leaves the bed. Each host has its own ports: otp-epmd runs on 4369 on every
# host, as on real machines.
#
# A cut host (netns_cut) has its veth taken off the bridge: its link stays up,
# but frames in either direction go nowhere, so established TCP connections
# go silent (no RST, no FIN) as in a real partition. netns_split moves the
# hosts of each further side onto a bridge of their own (br1, br2, ...).
#
# State is kept under $BATS_TEST_TMPDIR/netns, so netns_teardown (run by the
# teardown defined below, before helper's) finds everything even when a test
# failed half-way through netns_setup. It kills every process in the bed's
# namespaces, first the ones it started (by PID, TERM then KILL), then any
# other process still inside a bed namespace (`ip netns pids`), and deletes
# the namespaces, which removes their veths and bridges.

NETNS_EPMD_PORT=${NETNS_EPMD_PORT:-4369}

# helper.bash's teardown, kept as helper_teardown; the test's teardown runs
# the bed's first. A file that needs its own teardown writes
#     teardown () { netns_teardown; ...; helper_teardown; }
if ! declare -F helper_teardown > /dev/null && declare -F teardown > /dev/null; then
    eval "helper_$(declare -f teardown)"
fi
declare -F helper_teardown > /dev/null || helper_teardown () { :; }
teardown () { netns_teardown; helper_teardown; }

_netns_dir () { echo "$BATS_TEST_TMPDIR/netns"; }

# netns_available: 0 if namespaces, veths and bridges can be made here;
# otherwise prints the reason and returns 1.
netns_available () {
    command -v ip > /dev/null || { echo "no ip command (iproute2)"; return 1; }
    [ "$(id -u)" = 0 ] || { echo "network namespaces need root"; return 1; }
    local ns="otpchk$$x$RANDOM" err
    if ! err=$(ip netns add "$ns" 2>&1); then
        echo "cannot create a network namespace: $err"
        return 1
    fi
    if ! err=$( { ip -n "$ns" link add b0 type bridge &&
                  ip -n "$ns" link add v0 type veth peer name v1; } 2>&1); then
        ip netns delete "$ns" 2> /dev/null
        echo "cannot create a bridge or veth pair in a namespace: $err"
        return 1
    fi
    ip netns delete "$ns"
}

# netns_require: skips the test when netns_available says no.
netns_require () {
    local why
    why=$(netns_available) || skip "network namespaces: $why"
}

# netns_setup N: makes the bed of N hosts for this test (see the top).
netns_setup () {
    local n=$1 d id tries i h br
    netns_require
    d=$(_netns_dir)
    [ ! -s "$d/namespaces" ] || { echo "netns_setup: a bed exists already" >&2; return 1; }
    rm -rf "$d"     # what a torn-down bed left
    mkdir -p "$d"
    # A start that differs between the tests of one run and between runs in
    # parallel; ip netns add refuses an existing name, so the claim is atomic.
    id=$(( ($$ * 31 + ${BATS_TEST_NUMBER:-0} * 7919 + RANDOM) % 65024 + 256 ))
    for tries in $(seq 200); do
        if ip netns add "otp${id}b" 2> /dev/null; then break; fi
        id=$(( (id - 256 + 1) % 65024 + 256 ))
        [ "$tries" -lt 200 ] || { echo "netns_setup: no free bed id" >&2; return 1; }
    done
    br="otp${id}b"
    echo "$br" >> "$d/namespaces"
    echo "$id" > "$d/id"
    echo "$n" > "$d/n"
    : > "$d/pids"
    ip -n "$br" link set lo up
    _netns_bridge br0
    for i in $(seq "$n"); do
        h="otp${id}h$i"
        ip netns add "$h"
        echo "$h" >> "$d/namespaces"
        ip -n "$br" link add "h$i" type veth peer name eth0 netns "$h"
        ip -n "$br" link set "h$i" master br0 up
        echo br0 > "$d/side.$i"
        ip -n "$h" link set lo up
        ip -n "$h" addr add "$(netns_ip "$i")/24" dev eth0
        ip -n "$h" link set eth0 up
        # A real host reaches multicast and 255.255.255.255 through its
        # default route; without one, joining a group or sending fails
        # (ENODEV, ENETUNREACH). These routes stay on the bed's link.
        ip -n "$h" route add 224.0.0.0/4 dev eth0
        ip -n "$h" route add 255.255.255.255/32 dev eth0
    done
}

# _netns_bridge NAME: the bridge NAME in the bridge namespace, made if need
# be: no STP (a port forwards at once), no multicast snooping (multicast is
# flooded like broadcast).
_netns_bridge () {
    local br d
    d=$(_netns_dir)
    br="otp$(cat "$d/id")b"
    ip -n "$br" link show "$1" > /dev/null 2>&1 && return 0
    ip -n "$br" link add "$1" type bridge stp_state 0 forward_delay 0 mcast_snooping 0
    ip -n "$br" link set "$1" up
}

netns_count () { cat "$(_netns_dir)/n"; }

# netns_ip I: host I's address, 10.X.Y.I.
netns_ip () {
    local id
    id=$(cat "$(_netns_dir)/id")
    echo "10.$((id / 256)).$((id % 256)).$1"
}

# netns_name I: host I's namespace; netns_bridge_ns: the bridges' namespace.
netns_name () { echo "otp$(cat "$(_netns_dir)/id")h$1"; }
netns_bridge_ns () { echo "otp$(cat "$(_netns_dir)/id")b"; }

# netns_exec I CMD...: runs CMD in host I, in the foreground. Being a
# function, `netns_exec I CMD &` gives a subshell's PID in $!: use
# netns_spawn for anything in the background.
netns_exec () { local i=$1; shift; ip netns exec "$(netns_name "$i")" "$@"; }

# netns_spawn I CMD...: runs CMD in host I in the background, sets NETNS_PID
# to its PID (ip netns exec execs CMD, so it is CMD's own) and has
# netns_teardown stop it. Redirect as for any command:
#     netns_spawn 2 otp-ctl ... monitor > "$BATS_TEST_TMPDIR/events"
netns_spawn () {
    local i=$1; shift
    ip netns exec "$(netns_name "$i")" "$@" 3>&- &
    NETNS_PID=$!
    netns_track "$NETNS_PID"
}

# netns_track PID: netns_teardown stops PID.
netns_track () { echo "$1" >> "$(_netns_dir)/pids"; }

# netns_cut I: takes host I's veth off its bridge: nothing in or out.
netns_cut () {
    ip -n "$(netns_bridge_ns)" link set "h$1" nomaster
    touch "$(_netns_dir)/cut.$1"
}

# netns_restore I: puts host I back on its bridge (its side's, if split).
netns_restore () {
    local d
    d=$(_netns_dir)
    rm -f "$d/cut.$1"
    ip -n "$(netns_bridge_ns)" link set "h$1" master "$(cat "$d/side.$1")"
}

# netns_split "1 2 3" "4 5" ...: the hosts of each argument can talk to each
# other and to nobody else. The first side stays on br0, the others get one
# bridge each; a host named in no side stays where it is. A cut host stays
# cut, and joins its side when restored.
netns_split () {
    local d k=0 side i br
    d=$(_netns_dir)
    for side in "$@"; do
        br="br$k"
        _netns_bridge "$br"
        for i in $side; do
            echo "$br" > "$d/side.$i"
            [ -e "$d/cut.$i" ] ||
                ip -n "$(netns_bridge_ns)" link set "h$i" master "$br"
        done
        k=$((k + 1))
    done
}

# netns_heal: every host back on br0 (a cut host stays cut).
netns_heal () {
    local d i
    d=$(_netns_dir)
    for i in $(seq "$(netns_count)"); do
        echo br0 > "$d/side.$i"
        [ -e "$d/cut.$i" ] ||
            ip -n "$(netns_bridge_ns)" link set "h$i" master br0
    done
}

# netns_teardown: stops every process in the bed, deletes its namespaces
# (and with them its veths and bridges). Safe to call twice, and after a
# netns_setup that failed half-way.
netns_teardown () {
    local d pid ns alive
    d=$(_netns_dir)
    [ -s "$d/namespaces" ] || return 0
    if [ -f "$d/pids" ]; then
        # newest first: a node before its otp-epmd, so its BYE gets an answer
        for pid in $(tac "$d/pids"); do
            kill -CONT "$pid" 2> /dev/null || true
            kill -TERM "$pid" 2> /dev/null || true
        done
        for _ in $(seq 50); do
            alive=0
            while read -r pid; do kill -0 "$pid" 2> /dev/null && alive=1; done < "$d/pids"
            [ "$alive" = 0 ] && break
            sleep 0.1
        done
        while read -r pid; do kill -KILL "$pid" 2> /dev/null || true; done < "$d/pids"
    fi
    # Whatever else runs inside the bed (a backgrounded netns_exec, a command
    # a node ran for rpc) would keep a deleted namespace, and its
    # interfaces, alive.
    for _ in $(seq 20); do
        alive=0
        while read -r ns; do
            for pid in $(ip netns pids "$ns" 2> /dev/null); do
                kill -KILL "$pid" 2> /dev/null && alive=1
            done
        done < "$d/namespaces"
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    while read -r ns; do
        ip netns delete "$ns" 2> /dev/null || true
        # the resolver configuration netns_dns_start gave it, if any
        [ ! -d "/etc/netns/$ns" ] || rm -rf "/etc/netns/$ns"
    done < "$d/namespaces"
    rmdir /etc/netns 2> /dev/null || true
    mv "$d/namespaces" "$d/namespaces.deleted"
}

# --- otp-labs daemons on the hosts -----------------------------------------

# netns_start_epmd I: otp-epmd on host I, port $NETNS_EPMD_PORT (4369),
# log in epmd.hI.log; waits until it listens.
netns_start_epmd () {
    local i=$1 d pf
    d=$(_netns_dir)
    pf="$d/epmd.port.$i"
    rm -f "$pf"
    netns_spawn "$i" otp-epmd -d -p "$NETNS_EPMD_PORT" --port-file "$pf" \
        2>> "$BATS_TEST_TMPDIR/epmd.h$i.log"
    echo "$NETNS_PID" > "$d/epmd.$i"
    wait_until 5 test -s "$pf"
}

# netns_node I: NAME@IP of the node last started on host I (its full name
# if it was started under another host part, see netns_start_app).
netns_node () {
    local d
    d=$(_netns_dir)
    if [ -f "$d/full.$1" ]; then cat "$d/full.$1"
    else echo "$(cat "$d/node.$1")@$(netns_ip "$1")"; fi
}

# netns_start_node I NAME [otp-node options...]: otp-node NAME@<host I's IP>
# in the foreground on host I (otp-epmd started there first if need be), the
# epmd strategy listing $NETNS_NODES (comma-separated), or if that is unset
# the nodes started in the bed so far and this one; options given here come
# last and win. Log in NAME.log; waits until the node has registered. Sets
# NODE_PID and, as start_node does, PID_<NAME> for pid_of.
netns_start_node () {
    local i=$1 name=$2 d ip nodes j
    shift 2
    d=$(_netns_dir)
    [ -f "$d/epmd.$i" ] || netns_start_epmd "$i"
    ip=$(netns_ip "$i")
    nodes=${NETNS_NODES:-}
    if [ -z "$nodes" ]; then
        for j in $(seq "$(netns_count)"); do
            [ "$j" != "$i" ] && [ -f "$d/node.$j" ] && nodes="$nodes$(netns_node "$j"),"
        done
        nodes="$nodes$name@$ip"
    fi
    netns_spawn "$i" otp-node -d --name "$name@$ip" --no-epmd --epmd-port "$NETNS_EPMD_PORT" \
        --strategy epmd --nodes "$nodes" "$@" 2>> "$BATS_TEST_TMPDIR/$name.log"
    NODE_PID=$NETNS_PID
    eval "PID_${name//[^a-zA-Z0-9]/_}=$NODE_PID"
    echo "$name" > "$d/node.$i"
    wait_until 5 netns_registered "$i" "$name"
}

# netns_cluster NAME... [otp-node options...]: the K-th NAME on host K, each
# listing all of them, and waits for the full mesh.
netns_cluster () {
    local names=() k
    while [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; do names+=("$1"); shift; done
    local NETNS_NODES=""
    for k in "${!names[@]}"; do
        NETNS_NODES="$NETNS_NODES${NETNS_NODES:+,}${names[$k]}@$(netns_ip $((k + 1)))"
    done
    for k in "${!names[@]}"; do netns_start_node $((k + 1)) "${names[$k]}" "$@"; done
    wait_until 15 netns_mesh $(seq "${#names[@]}")
}

# netns_registered I NAME: host I's otp-epmd knows NAME.
netns_registered () {
    netns_exec "$1" otp-ctl -e "$NETNS_EPMD_PORT" epmd names | grep -q "^$2 "
}

# netns_ctl I ARGS...: otp-ctl on host I, against the node there.
netns_ctl () {
    local i=$1; shift
    netns_exec "$i" otp-ctl -e "$NETNS_EPMD_PORT" -n "$(netns_node "$i")" "$@"
}

# netns_nodes_of I: the peers of host I's node, space-separated.
netns_nodes_of () { netns_ctl "$1" nodes | tr '\n' ' ' | sed 's/ $//'; }

# netns_sees I [J...]: host I's node sees exactly the nodes of hosts J...
netns_sees () {
    local i=$1 j expected
    shift
    expected=$(for j in "$@"; do netns_node "$j"; done | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')
    [ "$(netns_nodes_of "$i")" = "$expected" ]
}

# netns_mesh I...: the nodes of hosts I... see each other and nobody else.
netns_mesh () {
    local i j others
    for i in "$@"; do
        others=()
        for j in "$@"; do [ "$j" = "$i" ] || others+=("$j"); done
        netns_sees "$i" "${others[@]}" || return 1
    done
}

# netns_tcp_open I J [SECONDS]: a TCP connect from host I to otp-epmd on host
# J succeeds within SECONDS (default 2); status 124 if it timed out.
netns_tcp_open () {
    netns_exec "$1" timeout "${3:-2}" bash -c "exec 3<>/dev/tcp/$(netns_ip "$2")/$NETNS_EPMD_PORT"
}

# --- a DNS server on the bed (the dns strategy's Kubernetes DNS) ------------
#
# netns_dns_start runs dnsmasq (Debian: dnsmasq-base) in a namespace of its
# own, otp<ID>d, at 10.X.Y.253 on br0 (a split leaves it on br0's side),
# and points every host's resolver at it: `ip netns exec NS` bind-mounts
# /etc/netns/NS/resolv.conf over /etc/resolv.conf for what it runs, so
# getaddrinfo in the bed's processes asks this server. It answers, like a
# cluster's CoreDNS, the pod A record of every host
# (10-X-Y-I.default.pod.cluster.local) and the names that netns_dns_set
# gives, from a hosts file that netns_dns_set rewrites and dnsmasq re-reads
# on SIGHUP. Other names under cluster.local are NXDOMAIN; there is no
# upstream server, so nothing leaves the bed.

NETNS_DNS_NAMESPACE=${NETNS_DNS_NAMESPACE:-default}
NETNS_DNS_DOMAIN=${NETNS_DNS_DOMAIN:-cluster.local}

# netns_dns_require: skips the test when the bed or dnsmasq is missing.
netns_dns_require () {
    netns_require
    command -v dnsmasq > /dev/null ||
        skip "dnsmasq is not installed (Debian: dnsmasq-base; scripts/install-deps installs it)"
    [ -e /etc/resolv.conf ] ||
        skip "no /etc/resolv.conf for ip netns exec to bind a host's own over"
    mkdir -p /etc/netns 2> /dev/null && [ -w /etc/netns ] ||
        skip "/etc/netns cannot be written: hosts cannot be given a resolver of their own"
}

# netns_dns_ip: the DNS server's address, 10.X.Y.253.
netns_dns_ip () {
    local id
    id=$(cat "$(_netns_dir)/id")
    echo "10.$((id / 256)).$((id % 256)).253"
}

# netns_pod_host I: host I's pod A-record name, 10-X-Y-I.default.pod.cluster.local.
netns_pod_host () {
    echo "$(netns_ip "$1" | tr . -).$NETNS_DNS_NAMESPACE.pod.$NETNS_DNS_DOMAIN"
}

# netns_dns_start: the DNS server, after netns_setup; waits until it answers.
netns_dns_start () {
    local d id ns i h
    netns_dns_require
    d=$(_netns_dir)
    id=$(cat "$d/id")
    ns="otp${id}d"
    ip netns add "$ns"
    echo "$ns" >> "$d/namespaces"
    ip -n "$(netns_bridge_ns)" link add dns type veth peer name eth0 netns "$ns"
    ip -n "$(netns_bridge_ns)" link set dns master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$(netns_dns_ip)/24" dev eth0
    ip -n "$ns" link set eth0 up
    : > "$d/dns.names"
    _netns_dns_write
    for i in $(seq "$(netns_count)"); do
        h=$(netns_name "$i")
        mkdir -p "/etc/netns/$h"
        # A server that does not answer fails a look-up in a second or two,
        # not the default 5 s x 2.
        printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$(netns_dns_ip)" \
            > "/etc/netns/$h/resolv.conf"
    done
    # --no-daemon: in the foreground, as root (a SIGHUP re-reads a file
    # that only root may read), no pid file, logs on stderr.
    ip netns exec "$ns" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
        --port 53 --listen-address="$(netns_dns_ip)" --bind-interfaces \
        --local="/$NETNS_DNS_DOMAIN/" --addn-hosts="$d/dns.hosts" --log-facility=- \
        3>&- 2>> "$BATS_TEST_TMPDIR/dns.log" &
    echo "$!" > "$d/dns.pid"
    netns_track "$!"
    wait_until 5 netns_exec 1 getent ahostsv4 "$(netns_pod_host 1)"
}

# The hosts file: every host's pod A record, then the names set.
_netns_dns_write () {
    local d i
    d=$(_netns_dir)
    {
        for i in $(seq "$(netns_count)"); do echo "$(netns_ip "$i") $(netns_pod_host "$i")"; done
        cat "$d/dns.names"
    } > "$d/dns.hosts.new"
    mv "$d/dns.hosts.new" "$d/dns.hosts"
}

# netns_dns_set NAME [I...]: NAME's A records are now hosts I...'s addresses
# (none: NAME no longer resolves). Returns once host 1 sees the change.
netns_dns_set () {
    local name=$1 d i expected
    shift
    d=$(_netns_dir)
    awk -v n="$name" '$2 != n' "$d/dns.names" > "$d/dns.names.new"
    for i in "$@"; do echo "$(netns_ip "$i") $name"; done >> "$d/dns.names.new"
    mv "$d/dns.names.new" "$d/dns.names"
    _netns_dns_write
    kill -HUP "$(cat "$d/dns.pid")"
    expected=$(for i in "$@"; do netns_ip "$i"; done | LC_ALL=C sort | tr '\n' ' ')
    wait_until 5 netns_dns_is 1 "$name" "$expected"
}

# netns_dns_answer I NAME: the addresses host I's resolver gives for NAME,
# sorted, space-separated (with a trailing space); empty if none.
netns_dns_answer () {
    netns_exec "$1" getent ahostsv4 "$2" | awk '{ print $1 }' | LC_ALL=C sort -u | tr '\n' ' '
}

# netns_dns_is I NAME "IP IP ": netns_dns_answer I NAME is that.
netns_dns_is () { [ "$(netns_dns_answer "$1" "$2")" = "$3" ]; }

# netns_start_app I [otp-node options...]: otp-node on host I as a pod of a
# Deployment would run: named $NETNS_APP (default app), the dns strategy
# polling $NETNS_DNS_SERVICE (default app.default.svc.cluster.local), log in
# app.hI.log. With NETNS_POD=1 it is given the bare name and POD_IP (host
# I's address) and NAMESPACE, as the manifests set them, so its name is
# app@10-X-Y-I.default.pod.cluster.local; otherwise app@10.X.Y.I. Options
# given here come last and win. Waits until it has registered; sets NODE_PID.
netns_start_app () {
    local i=$1 d app cmd
    shift
    d=$(_netns_dir)
    app=${NETNS_APP:-app}
    [ -f "$d/epmd.$i" ] || netns_start_epmd "$i"
    if [ "${NETNS_POD:-0}" = 1 ]; then
        echo "$app@$(netns_pod_host "$i")" > "$d/full.$i"
        cmd=(env POD_IP="$(netns_ip "$i")" NAMESPACE="$NETNS_DNS_NAMESPACE" otp-node --name "$app")
    else
        rm -f "$d/full.$i"
        cmd=(otp-node --name "$app@$(netns_ip "$i")")
    fi
    netns_spawn "$i" "${cmd[@]}" -d --no-epmd --epmd-port "$NETNS_EPMD_PORT" --strategy dns \
        --dns-query "${NETNS_DNS_SERVICE:-app.$NETNS_DNS_NAMESPACE.svc.$NETNS_DNS_DOMAIN}" \
        "$@" 2>> "$BATS_TEST_TMPDIR/$app.h$i.log"
    NODE_PID=$NETNS_PID
    echo "$app" > "$d/node.$i"
    echo "$NODE_PID" > "$d/app.$i"
    wait_until 5 netns_registered "$i" "$app"
}

# netns_app_pid I: the PID of the node netns_start_app started on host I.
netns_app_pid () { cat "$(_netns_dir)/app.$1"; }
