#!/usr/bin/env bats
# The Kubernetes manifests (k8s/): validated offline against the API's
# schemas (kubernetes-models, test/k8s/validate.mjs), checked for what the
# schemas cannot say (--check), and run: the environment the Deployment
# gives its container (test/k8s/pod-env.mjs, resolved as the kubelet does)
# given to the release's launcher on three hosts of the network-namespace
# bed (test/netns.bash), with a dnsmasq playing the headless Service.
# Needs node and `npm ci --prefix test/k8s`; the run also needs root (the
# bed) and dnsmasq, and builds the release of the binaries under test.
load helper
load sup
load netns

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
K8S=$BATS_TEST_DIRNAME/k8s
MANIFESTS=("$ROOT/k8s/deployment.yaml" "$ROOT/k8s/service.yaml" "$ROOT/k8s/pdb.yaml")
SVC=otp-labs.default.svc.cluster.local
UID_POD=10001       # the Deployment's runAsUser

# The run's own directory, outside bats' (mode 0700, which uid 10001 cannot
# enter); removed after the bed is gone. The pods first get the time a
# drain takes (a child's 3 s stop) before the bed's teardown kills what is
# left after 5 s.
teardown () {
    local f
    for f in "${POD_ROOT:-/nonexistent}"/pod.*.pid; do
        [ ! -f "$f" ] || kill -TERM "$(cat "$f")" 2> /dev/null || true
    done
    for f in "${POD_ROOT:-/nonexistent}"/pod.*.pid; do
        [ ! -f "$f" ] || wait_until 10 gone "$(cat "$f")" 2> /dev/null || true
    done
    netns_teardown
    if [ -n "${POD_ROOT:-}" ] && [[ "$POD_ROOT" == /tmp/otp-k8s.* ]]; then rm -rf "$POD_ROOT"; fi
    helper_teardown
}

need_node () {
    command -v node > /dev/null || skip "node is not installed (Debian: nodejs npm)"
    [ -f "$K8S/node_modules/kubernetes-models/package.json" ] &&
        [ -f "$K8S/node_modules/yaml/package.json" ] ||
        skip "test/k8s/node_modules is missing: run npm ci --prefix test/k8s"
}

validate () { node "$K8S/validate.mjs" "$@"; }

# broken SED_SCRIPT FILE: a copy of k8s/FILE edited by sed, in $BATS_TEST_TMPDIR;
# prints its path. Fails if the edit changed nothing.
broken () {
    local out="$BATS_TEST_TMPDIR/broken.$RANDOM.$2"
    sed -e "$1" "$ROOT/k8s/$2" > "$out"
    ! cmp -s "$out" "$ROOT/k8s/$2" || { echo "sed '$1' changed nothing in $2" >&2; return 1; }
    echo "$out"
}

@test "k8s: the manifests are valid Kubernetes objects (kubernetes-models schemas)" {
    need_node
    run validate "${MANIFESTS[@]}"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = $'ok Deployment/otp-labs\nok Service/otp-labs\nok PodDisruptionBudget/otp-labs' ]
}

@test "k8s: the validator fails on a broken manifest, an unknown kind, a YAML 1.1 boolean, bad YAML" {
    need_node
    svc="$ROOT/k8s/service.yaml"
    # a string where the schema wants an integer
    run validate "$(broken 's/replicas: 3/replicas: "3"/' deployment.yaml)" "$svc"
    [ "$status" -eq 1 ]
    [[ "${lines[0]}" == "error: "*"deployment.yaml: document 1: Deployment/otp-labs: /spec/replicas must be integer" ]]
    [ "${lines[1]}" = "ok Service/otp-labs" ]
    # a container without its required name
    run validate "$(broken 's/^        - name: otp-labs$/        - stdin: false/' deployment.yaml)"
    [ "$status" -eq 1 ]
    [[ "$output" == *"/spec/template/spec/containers/0 must have required property name"* ]]
    # a value outside an enum
    run validate "$(broken 's/type: RollingUpdate/type: Rolling/' deployment.yaml)"
    [ "$status" -eq 1 ]
    [[ "$output" == *'/spec/strategy/type must be equal to one of the allowed values ("Recreate", "RollingUpdate")'* ]]
    # `yes` is a boolean to Kubernetes' YAML 1.1 parser: an env value must be a string
    run validate "$(broken 's/value: "9100"/value: yes/' deployment.yaml)"
    [ "$status" -eq 1 ]
    [[ "$output" == *"/spec/template/spec/containers/0/env/6/value must be string"* ]]
    # a kind no schema knows, an API group no schema knows
    printf 'apiVersion: v1\nkind: Podd\nmetadata: {name: a}\n---\napiVersion: example.com/v1\nkind: Thing\nmetadata: {name: b}\n' \
        > "$BATS_TEST_TMPDIR/unknown.yaml"
    run validate "$BATS_TEST_TMPDIR/unknown.yaml"
    [ "$status" -eq 1 ]
    [[ "${lines[0]}" == *"document 1: Podd/a: unknown kind Podd in v1" ]]
    [[ "${lines[1]}" == *"document 2: Thing/b: unknown apiVersion example.com/v1"* ]]
    # not YAML; no file; no argument
    printf 'spec: [\n' > "$BATS_TEST_TMPDIR/bad.yaml"
    run validate "$BATS_TEST_TMPDIR/bad.yaml"
    [ "$status" -eq 1 ]
    [[ "$output" == "error: "*"bad.yaml: document 1: not YAML: "* ]]
    run validate "$BATS_TEST_TMPDIR/missing.yaml"
    [ "$status" -eq 1 ]
    [[ "$output" == *"missing.yaml: cannot read: ENOENT" ]]
    run validate
    [ "$status" -eq 2 ]
    # The schemas do not reject an unknown field (kubectl's server-side
    # strict validation would): a misspelt readOnlyRootFilesystem passes
    # them, and only --check catches it.
    typo=$(broken 's/readOnlyRootFilesystem: true/readOnlyRootFileSystem: true/' deployment.yaml)
    run validate "$typo" "$svc"
    [ "$status" -eq 0 ]
    run validate --check "$typo" "$svc"
    [ "$status" -eq 1 ]
    [[ "$output" == *"error: check: non-root, read-only root filesystem"*": readOnlyRootFilesystem is not true"* ]]
}

@test "k8s: --check: what the schemas cannot say, each check able to fail" {
    need_node
    run validate --check "${MANIFESTS[@]}"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(grep -vc '^ok ' <<< "$output")" -eq 0 ]
    [ "$(grep -c '^ok check: ' <<< "$output")" -ge 15 ]
    for want in "3 replicas" "POD_IP from status.podIP and NAMESPACE from metadata.namespace" \
                "strategy dns" "Secret otp-labs-cookie key cookie" "read-only root filesystem" \
                "GET /health/ready and liveness GET /health/live" "terminationGracePeriodSeconds" \
                "headless, publishNotReadyAddresses"; do
        grep -q "^ok check: .*$want" <<< "$output"
    done
    # each property, broken alone, fails its check (and only --check sees it)
    svc="$ROOT/k8s/service.yaml"
    dep="$ROOT/k8s/deployment.yaml"
    # fails WANT FILE...: --check fails with WANT. The checks run only on
    # objects the schemas pass, so the schemas passed these.
    fails () {
        local out
        out=$(validate --check "${@:2}") && { echo "check passed: ${*:2}"; return 1; }
        grep "^error: check: " <<< "$out" | grep -qF -- "$1" || { echo "want '$1' in: $out"; return 1; }
    }
    fails "replicas is 2" "$(broken 's/replicas: 3/replicas: 2/' deployment.yaml)" "$svc"
    fails "POD_IP is not from fieldRef status.podIP" \
        "$(broken 's/fieldPath: status.podIP/fieldPath: status.hostIP/' deployment.yaml)" "$svc"
    fails "NAMESPACE is not from fieldRef metadata.namespace" \
        "$(broken 's/fieldPath: metadata.namespace/fieldPath: metadata.name/' deployment.yaml)" "$svc"
    fails 'OTP_NODE_NAME is "otp-labs@host"' \
        "$(broken 's/value: otp-labs$/value: otp-labs@host/' deployment.yaml)" "$svc"
    fails 'OTP_CLUSTER_STRATEGY is "gossip"' "$(broken 's/value: dns$/value: gossip/' deployment.yaml)" "$svc"
    # the namespace written out: wrong in any other namespace
    fails "no Service of that name here" \
        "$(broken 's/otp-labs.$(NAMESPACE).svc/otp-labs.default.svc/' deployment.yaml)" "$svc"
    fails "OTP_CLUSTER_DNS_QUERY uses \$(NAMESPACE) before it is defined" \
        "$(broken '/- name: POD_IP/,/fieldPath: metadata.namespace/d' deployment.yaml)" "$svc"
    fails "OTP_COOKIE is not from secretKeyRef otp-labs-cookie/cookie" \
        "$(broken '/name: OTP_COOKIE/,/key: cookie/c\            - name: OTP_COOKIE\n              value: not-a-secret' deployment.yaml)" "$svc"
    printf -- '---\napiVersion: v1\nkind: Secret\nmetadata: {name: otp-labs-cookie}\nstringData: {cookie: oops}\n' \
        > "$BATS_TEST_TMPDIR/secret.yaml"
    fails "a Secret is committed with the manifests" "$dep" "$svc" "$BATS_TEST_TMPDIR/secret.yaml"
    fails "runAsNonRoot is not true" "$(broken 's/runAsNonRoot: true/runAsNonRoot: false/' deployment.yaml)" "$svc"
    fails "allowPrivilegeEscalation is not false" \
        "$(broken 's/allowPrivilegeEscalation: false/allowPrivilegeEscalation: true/' deployment.yaml)" "$svc"
    fails "capabilities do not drop ALL" "$(broken 's/- ALL/- NET_RAW/' deployment.yaml)" "$svc"
    fails "no writable emptyDir holds /tmp/otp-labs" \
        "$(broken 's#mountPath: /tmp#mountPath: /scratch#' deployment.yaml)" "$svc"
    fails "readinessProbe is not GET /health/ready on 8080" \
        "$(broken 's#path: /health/ready#path: /health/live#' deployment.yaml)" "$svc"
    fails "livenessProbe is not GET /health/live on 8080" \
        "$(broken '/livenessProbe:/,/port: http/s/port: http/port: 9100/' deployment.yaml)" "$svc"
    fails "OTP_HTTP_PORT (8081) is not a container port" \
        "$(broken 's/value: "8080"/value: "8081"/' deployment.yaml)" "$svc"
    fails "grace 40 s, drain 40 s, stop 5 s" \
        "$(broken 's/value: "30000"/value: "40000"/; s/terminationGracePeriodSeconds: 45/terminationGracePeriodSeconds: 40/' deployment.yaml)" "$svc"
    fails "grace 45 s, drain 30 s, stop 60 s" \
        "$(broken '/name: OTP_LABS_STOP_TIMEOUT/,+1d' deployment.yaml)" "$svc"
    fails "clusterIP is not None" "$(broken 's/clusterIP: None/clusterIP: 10.96.0.10/' service.yaml)" "$dep"
    fails "publishNotReadyAddresses is not true" \
        "$(broken 's/publishNotReadyAddresses: true/publishNotReadyAddresses: false/' service.yaml)" "$dep"
    fails "no port 9100" "$(broken 's/port: 9100/port: 9101/' service.yaml)" "$dep"
    fails "no Service otp-labs" "$dep"
}

# --- the Deployment's environment on the bed ---------------------------------

# The release (scripts/make-release, what `make release` and the image run)
# of the binaries under test ($OTP_BIN), or $OTP_RELEASE_TARBALL if set,
# unpacked into $POD_ROOT (root's and read-only to the pods' user, as the
# image's filesystem is). Sets REL.
unpack_release () {
    local version tarball
    command -v setpriv > /dev/null || skip "setpriv (util-linux) is missing: cannot run as uid $UID_POD"
    version=$(sed -n 's/^VERSION *:= *//p' "$ROOT/Makefile")
    tarball=${OTP_RELEASE_TARBALL:-}
    if [ -z "$tarball" ]; then
        mkdir -p "$BATS_TEST_TMPDIR/rel-build"
        ln -s "$OTP_BIN" "$BATS_TEST_TMPDIR/rel-build/bin"
        "$ROOT/scripts/make-release" "$BATS_TEST_TMPDIR/rel-build" "$version" > /dev/null
        tarball="$BATS_TEST_TMPDIR/rel-build/otp-labs-$version.tar.gz"
    fi
    POD_ROOT=$(mktemp -d /tmp/otp-k8s.XXXXXX)
    chmod 0755 "$POD_ROOT"
    tar -xzf "$tarball" -C "$POD_ROOT"
    REL="$POD_ROOT/otp-labs-$version"
    [ -x "$REL/bin/otp-labs" ]
    chown -R root:root "$REL"
    chmod -R go-w "$REL"
}

# pod_env I: the Deployment's container environment in host I's pod, as
# KEY=VALUE lines (test/k8s/pod-env.mjs), into $POD_ROOT/pod.I.env.
pod_env () {
    node "$K8S/pod-env.mjs" --pod-ip "$(netns_ip "$1")" --namespace default --pod-name "otp-labs-$1" \
        --secret "otp-labs-cookie/cookie=$OTP_COOKIE" "${MANIFESTS[@]}" > "$POD_ROOT/pod.$1.env"
}
env_of () { sed -n "s/^$2=//p" "$POD_ROOT/pod.$1.env"; }

# start_pod I: what the kubelet starts in host I's pod: the image's
# entrypoint (the release's bin/otp-labs foreground) as uid 10001, no new
# privileges, no capabilities, with the image's ENV (PATH, HOME=/tmp) and
# the Deployment's environment, and nothing else. The pod's /tmp (the
# emptyDir) is $POD_ROOT/pod.I/tmp: its paths, OTP_LABS_VAR_DIR's and
# HOME's, are mapped there. Sets POD_PID (the launcher, PID 1 in a pod).
start_pod () {
    local i=$1 tmp line envs=()
    tmp="$POD_ROOT/pod.$i/tmp"
    mkdir -p "$tmp"
    chown "$UID_POD:$UID_POD" "$tmp"
    pod_env "$i"
    envs=(PATH="$REL/bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME="$tmp")
    while IFS= read -r line; do
        [[ "$line" == OTP_LABS_VAR_DIR=/tmp/* ]] && line="OTP_LABS_VAR_DIR=$tmp/${line#OTP_LABS_VAR_DIR=/tmp/}"
        envs+=("$line")
    done < "$POD_ROOT/pod.$i.env"
    netns_spawn "$i" setpriv --reuid "$UID_POD" --regid "$UID_POD" --clear-groups --no-new-privs \
        --inh-caps=-all --bounding-set=-all \
        env -i "${envs[@]}" "$REL/bin/otp-labs" foreground > "$BATS_TEST_TMPDIR/pod.$i.log" 2>&1
    POD_PID=$NETNS_PID
    echo "$POD_PID" > "$POD_ROOT/pod.$i.pid"
}
pod_pid () { cat "$POD_ROOT/pod.$1.pid"; }

# pod_node I: the node name host I's pod should have.
pod_node () { echo "otp-labs@$(netns_pod_host "$1")"; }

# pctl I ARGS...: otp-ctl on host I against its pod's node.
pctl () { local i=$1; shift; netns_exec "$i" otp-ctl -e 4369 -n "$(pod_node "$i")" "$@"; }

# pod_sees I J...: host I's node has exactly the nodes of hosts J... as peers.
pod_sees () {
    local i=$1 j
    shift
    [ "$(pctl "$i" nodes)" = "$(for j in "$@"; do pod_node "$j"; done | LC_ALL=C sort)" ]
}
pod_mesh () {
    local i j others
    for i in "$@"; do
        others=()
        for j in "$@"; do [ "$j" = "$i" ] || others+=("$j"); done
        pod_sees "$i" "${others[@]}" || return 1
    done
}

# http I PATH: GET http://HOST_I:OTP_HTTP_PORT/PATH from host I (as the
# kubelet's probe does): the status line's code, then the body.
http () {
    netns_exec "$1" timeout 3 bash -c '
        exec 3<> "/dev/tcp/$0/$1" || exit 1
        printf "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" "$2" "$0" >&3
        tr -d "\r" <&3 | awk "NR == 1 { print \$2; next } body { print } /^\$/ { body = 1 }"
    ' "$(netns_ip "$1")" "$(env_of "$1" OTP_HTTP_PORT)" "$2"
}
# answers I PATH CODE [BODY-PREFIX]
answers () {
    local out
    out=$(http "$1" "$2") || return 1
    [ "$(head -n 1 <<< "$out")" = "$3" ] || return 1
    [ -z "${4:-}" ] || [[ "$(sed 1d <<< "$out")" == "$4"* ]]
}

members_seen () { pctl "$1" sup-info | grep -qx "members *$2"; }

# where_child: the host (1..3) whose node runs the child `kid`.
where_child () {
    local node i
    node=$(pctl 1 which-children | awk '$1 == "kid" && $4 == "running" { print $2 }')
    for i in 1 2 3; do
        if [ "$node" = "$(pod_node "$i")" ]; then echo "$i"; fi
    done
}

# The named child: answers `who` with "PID NODE"; on SIGTERM it takes 3 s to
# stop (so the drain lasts long enough to be seen); logs its life to $EVENTS.
write_slow_child () {
    EVENTS="$POD_ROOT/events"
    CHILD="$POD_ROOT/kid.sh"
    : > "$EVENTS"
    chmod 0666 "$EVENTS"
    cat > "$CHILD" <<EOF
#!/bin/sh
echo "start \$\$ \$OTP_NODE" >> "$EVENTS"
trap 'echo "stopping \$\$" >> "$EVENTS"; sleep 8; echo "stop \$\$" >> "$EVENTS"; exit 0' TERM
while read -r line; do
    case "\$line" in
        who) echo "\$\$ \$OTP_NODE" ;;
        *) echo "what? \$line" ;;
    esac
done
EOF
    chmod 0755 "$CHILD"
}

# kid_from I: a call by name from host I answers "PID NODE"; prints it.
kid_from () { pctl "$1" call kid who --timeout 2000; }
# kid_on I J: a call from host I is answered by the child on host J's node.
kid_on () { local out; out=$(kid_from "$1") && [ "${out#* }" = "$(pod_node "$2")" ]; }
# kid_off I H: a call from host I is answered, by a child not on host H's node.
kid_off () { local out; out=$(kid_from "$1") && [ "${out#* }" != "$(pod_node "$2")" ]; }

@test "k8s: the Deployment's environment on three hosts: pod-named nodes, full mesh, ready, a named child handed off on SIGTERM" {
    need_node
    netns_setup 3
    netns_dns_start
    unpack_release
    # the headless Service: every pod's address, ready or not
    netns_dns_set "$SVC" 1 2 3
    for i in 1 2 3; do start_pod "$i"; done
    # the environment is the manifests', resolved for each pod
    [ "$(env_of 2 POD_IP)" = "$(netns_ip 2)" ]
    [ "$(env_of 2 OTP_CLUSTER_DNS_QUERY)" = "$SVC" ]
    [ "$(env_of 2 OTP_COOKIE)" = "$OTP_COOKIE" ]
    [ "$(env_of 2 OTP_CLUSTER_STRATEGY)" = dns ]

    # ready (200 "ready") once joined, with otp-reg and otp-sup attached
    for i in 1 2 3; do wait_until 30 answers "$i" /health/ready 200 ready; done
    for i in 1 2 3; do
        # named after its pod's A record, by the node itself
        grep -qF "otp-node[$(pod_node "$i")]" "$BATS_TEST_TMPDIR/pod.$i.log"
        pctl "$i" ping
        answers "$i" /health/live 200 ok
    done
    wait_until 10 pod_mesh 1 2 3
    [ "$(pctl 3 nodes)" = "$(printf '%s\n' "$(pod_node 1)" "$(pod_node 2)")" ]
    run pctl 1 --json info
    [[ "$output" == *'"strategy":"dns"'* ]] || [[ "$output" == *'"strategy": "dns"'* ]]
    # the metrics count the two peers
    for i in 1 2 3; do
        run http "$i" /metrics
        [ "${lines[0]}" = 200 ]
        grep -qx 'otp_connected_nodes 2' <<< "$output"
    done
    # the launcher runs as the pod's user, to whom the release is read-only
    # (the image's root filesystem): it wrote only in the pod's /tmp
    [ "$(stat -c %u "/proc/$(pod_pid 1)")" = "$UID_POD" ]
    [ -s "$POD_ROOT/pod.1/tmp/otp-labs/otp-labs.pid" ]

    # a named child, started from any pod, answers from every pod
    write_slow_child
    wait_until 15 members_seen 1 3
    run pctl 1 start-child kid --name kid --shutdown 15000 -- "$CHILD"
    [ "$status" -eq 0 ]
    wait_until 10 prints_something where_child
    h=$(where_child)
    for i in 1 2 3; do wait_until 10 kid_on "$i" "$h"; done
    old=$(kid_from 1 | cut -d' ' -f1)
    others=()
    for i in 1 2 3; do [ "$i" = "$h" ] || others+=("$i"); done

    # SIGTERM to the pod's launcher, as the kubelet sends: the node drains.
    kill -TERM "$(pod_pid "$h")"
    # Not ready while it drains (the child takes 8 s to stop), but alive and
    # still everybody's peer: its record stays in the DNS meanwhile
    # (publishNotReadyAddresses), and nobody drops it.
    wait_until 5 answers "$h" /health/ready 503 draining
    answers "$h" /health/live 200
    pod_sees "${others[0]}" "$h" "${others[1]}"
    # handed off: the child answers from a survivor, a new process
    wait_until 25 kid_off "${others[0]}" "$h"
    wait_until 5 kid_off "${others[1]}" "$h"
    new=$(kid_from "${others[1]}")
    [ "${new%% *}" != "$old" ]
    # it stopped before its successor started: never twice
    grep -q "^stop $old$" "$EVENTS"
    awk -v old="$old" '$1 == "stop" && $2 == old { stopped = 1 } $1 == "start" && NR > 1 && !stopped { exit 1 }' "$EVENTS"
    # the launcher exits once the node has left; then the pod is deleted
    # and its address leaves the Service
    wait_until 20 gone "$(pod_pid "$h")"
    netns_dns_set "$SVC" "${others[@]}"
    wait_until 10 pod_mesh "${others[@]}"
    for i in "${others[@]}"; do answers "$i" /health/ready 200 ready; done
}
