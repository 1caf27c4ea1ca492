#!/usr/bin/env bats
# The dns strategy (libcluster's Kubernetes.DNS) on the test bed: a dnsmasq
# plays the cluster's DNS (test/netns.bash, netns_dns_start), answering a
# headless Service's name with the pods' addresses and every host's pod A
# record. Skipped where namespaces cannot be made or dnsmasq is missing.
load helper
load netns

# Fast failure detection, and the records polled five times a second.
FAST=(--heartbeat 100 --timeout 500 --poll 200)
SVC=app.default.svc.cluster.local

# dns_cluster N: the Service answers hosts 1..N, a node on each; full mesh.
dns_cluster () {
    local i
    netns_dns_set "$SVC" $(seq "$1")
    for i in $(seq "$1"); do netns_start_app "$i" "${FAST[@]}"; done
    wait_until 15 netns_mesh $(seq "$1")
}

@test "dns: five hosts behind a headless Service's A records form a full mesh" {
    netns_setup 5
    netns_dns_start
    dns_cluster 5
    [ "$(netns_ctl 3 nodes)" = "$(for i in 1 2 4 5; do netns_node "$i"; done | LC_ALL=C sort)" ]
    [[ "$(netns_node 1)" == "app@$(netns_ip 1)" ]]
    run netns_ctl 1 --json info
    [[ "$output" == *'"strategy":"dns"'* ]] || [[ "$output" == *'"strategy": "dns"'* ]]
    grep -q "dns strategy: $SVC has 5 record(s) (5 new, 0 gone)" "$BATS_TEST_TMPDIR/app.h1.log"
    # the bed's teardown stops dnsmasq and removes the hosts' resolver files
    id=$(cat "$BATS_TEST_TMPDIR/netns/id")
    dns=$(cat "$BATS_TEST_TMPDIR/netns/dns.pid")
    [ -f "/etc/netns/otp${id}h1/resolv.conf" ]
    netns_teardown
    wait_until 2 bash -c "! kill -0 $dns 2> /dev/null"
    run ls -d /etc/netns/otp${id}h1
    [ "$status" -ne 0 ]
    run ip netns list
    [[ "$output" != *"otp${id}"* ]]
}

@test "dns: a node whose record goes is dropped everywhere; a new record joins its node" {
    netns_setup 6
    netns_dns_start
    dns_cluster 5
    gone=$(netns_node 5)
    netns_dns_set "$SVC" 1 2 3 4
    # every node that named it drops it as its own answer changes, without
    # waiting for a heartbeat time-out (the node still runs)
    for i in 1 2 3 4; do
        wait_until 5 grep -q "nodedown $gone (not in the DNS records)" "$BATS_TEST_TMPDIR/app.h$i.log"
    done
    # it did not leave (no BYE), and its own answer still names the others:
    # it dials them again, and is a peer again (libcluster's rule)
    wait_until 10 netns_mesh 1 2 3 4 5
    # stopped, it is gone everywhere, and nobody dials it again
    kill -TERM "$(netns_app_pid 5)"
    wait_until 5 netns_mesh 1 2 3 4
    sleep 1
    netns_mesh 1 2 3 4
    # a sixth pod: its record first, as Kubernetes adds a ready pod's address
    netns_dns_set "$SVC" 1 2 3 4 6
    netns_start_app 6 "${FAST[@]}"
    wait_until 10 netns_mesh 1 2 3 4 6
}

@test "dns: with POD_IP and NAMESPACE set, nodes are named by their pod A records" {
    netns_setup 5
    netns_dns_start
    NETNS_POD=1
    dns_cluster 5
    [ "$(netns_node 2)" = "app@$(netns_ip 2 | tr . -).default.pod.cluster.local" ]
    run netns_ctl 1 nodes
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 4 ]
    for i in 2 3 4 5; do
        [[ "${lines[$((i - 2))]}" == "app@$(netns_ip "$i" | tr . -).default.pod.cluster.local" ]]
    done
    grep -qF "otp-node[app@$(netns_pod_host 1)] info: listening on port" "$BATS_TEST_TMPDIR/app.h1.log"
    # otp-ctl on one host finds another's node by its pod name, through the DNS
    netns_exec 1 otp-ctl -e "$NETNS_EPMD_PORT" -n "$(netns_node 4)" ping
}

@test "dns: a name that does not resolve yet is logged once and joined when it appears" {
    netns_setup 5
    netns_dns_start
    for i in $(seq 5); do netns_start_app "$i" "${FAST[@]}"; done
    # about ten polls on each node: all still running, nobody joined,
    # one warning each (rate-limited)
    sleep 2
    for i in $(seq 5); do
        kill -0 "$(netns_app_pid "$i")"
        netns_sees "$i"
        [ "$(grep -c "dns strategy: cannot resolve $SVC" "$BATS_TEST_TMPDIR/app.h$i.log")" -eq 1 ]
    done
    netns_dns_set "$SVC" $(seq 5)
    wait_until 15 netns_mesh $(seq 5)
    grep -q "dns strategy: $SVC resolves again" "$BATS_TEST_TMPDIR/app.h1.log"
}

@test "dns: the pod naming rule: a bare --name with POD_IP and NAMESPACE (no bed needed)" {
    start_epmd
    log=$BATS_TEST_TMPDIR/pod.log
    POD_IP=127.0.0.1 NAMESPACE=team-a OTP_CLUSTER_DOMAIN=k8s.example \
        otp-node -d --name app --no-epmd 2>> "$log" &
    track $!
    wait_until 5 registered app
    grep -qF "otp-node[app@127-0-0-1.team-a.pod.k8s.example] info: listening" "$log"
    # a full name, or a short one, is taken as it is
    POD_IP=127.0.0.1 NAMESPACE=team-a otp-node -d --name b@127.0.0.1 --no-epmd 2>> "$log" &
    track $!
    wait_until 5 registered b
    grep -qF "otp-node[b@127.0.0.1] info: listening" "$log"
    # one of the two alone is not a pod
    run env POD_IP=127.0.0.1 otp-node -n --name c
    [ "$status" -eq 0 ]
    run env POD_IP=10.1.2 NAMESPACE=default otp-node -n --name c
    [ "$status" -ne 0 ]
    [[ "$output" == *"POD_IP '10.1.2'"* ]]
    run env POD_IP=10.1.2.3 NAMESPACE="not a namespace" otp-node -n --name c
    [ "$status" -ne 0 ]
    run otp-node -n --name c@h --strategy dns
    [ "$status" -ne 0 ]
    [[ "$output" == *"needs OTP_CLUSTER_DNS_QUERY"* ]]
    run otp-node -d --name c@127.0.0.1 --no-epmd --strategy dns --dns-query "bad name"
    [ "$status" -ne 0 ]
    [[ "$output" == *"'bad name' is not a DNS name"* ]]
}
