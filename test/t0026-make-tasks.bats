#!/usr/bin/env bats
# The Makefile's container and Kubernetes tasks (image, docker-run,
# minikube-load, deploy, undeploy, image-rm, remove): each checks its tool
# first, and runs the commands README documents, here through stand-in tools
# that log what they are asked. `make image CONTAINER=buildah` itself is run
# for real by t0024-image.
load helper

REPO=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
MAKE_BIN=$(command -v make)
bats_require_minimum_version 1.5.0

# mk ARGS: make in the repository with PATH=$BATS_TEST_TMPDIR/bin only, so
# that whatever docker, minikube or kubectl this machine has is not found.
mk () {
    PATH="$BATS_TEST_TMPDIR/bin" "$MAKE_BIN" --no-print-directory -C "$REPO" "$@"
}

setup () {
    # helper's setup, then a bin with only what the recipes use besides the tool
    # and the stand-ins use (/bin/sh is run by its path)
    export HOME="$BATS_TEST_TMPDIR/home"
    mkdir -p "$HOME" "$BATS_TEST_TMPDIR/bin"
    local t
    for t in od tr cat grep; do ln -s "$(command -v "$t")" "$BATS_TEST_TMPDIR/bin/$t"; done
    LOG="$BATS_TEST_TMPDIR/tool.log"
    : > "$LOG"
}

# fake NAME [SCRIPT]: a stand-in tool on mk's PATH that logs "NAME ARGS" and
# runs SCRIPT (default: exit 0).
fake () {
    cat > "$BATS_TEST_TMPDIR/bin/$1" <<EOF
#!/bin/sh
echo "$1 \$*" >> "$LOG"
${2:-exit 0}
EOF
    chmod +x "$BATS_TEST_TMPDIR/bin/$1"
}

# one_line_naming TOOL: the last run failed, printed nothing on stdout and one
# line on stderr that names TOOL.
# shellcheck disable=SC2154 # run --separate-stderr sets stderr_lines
one_line_naming () {
    [ "$status" -ne 0 ]
    [ -z "$output" ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == *"$1 not found"* ]]
}

@test "a task whose tool is missing says so in one line, names the tool, exits non-zero, and runs nothing" {
    for task in image docker-run image-rm; do
        run --separate-stderr mk "$task" CONTAINER=/nonexistent/tool
        one_line_naming /nonexistent/tool
        [[ "$stderr" == *"set CONTAINER=podman"* ]]
        # the default tool is docker
        run --separate-stderr mk "$task"
        one_line_naming docker
    done
    run --separate-stderr mk minikube-load
    one_line_naming minikube
    for task in deploy undeploy remove; do
        run --separate-stderr mk "$task"
        one_line_naming kubectl
    done
    # remove: undeploy comes first, so the image stays when kubectl is missing
    fake docker
    run --separate-stderr mk remove
    one_line_naming kubectl
    [ ! -s "$LOG" ]
}

@test "make -n shows each task's commands with the container tool chosen, without the tool" {
    run mk -n image CONTAINER=podman
    [ "$status" -eq 0 ]
    [[ "$output" =~ (^|$'\n')podman\ build\ +-t\ otp-labs:0\.1\.0\ \.($|$'\n') ]]
    run mk -n image CONTAINER=buildah BASE_IMAGE=localhost/base:1 IMAGE=x:y
    [ "$status" -eq 0 ]
    [[ "$output" == *"buildah bud --build-arg BASE_IMAGE=localhost/base:1 -t x:y ."* ]]
    run mk -n image-rm CONTAINER=podman
    [ "$status" -eq 0 ]
    [ "$output" = "podman rmi otp-labs:0.1.0" ]
}

@test "image, docker-run, image-rm and minikube-load run the container tool's commands" {
    fake podman
    fake minikube
    run mk image CONTAINER=podman BASE_IMAGE=localhost/base:1
    [ "$status" -eq 0 ]
    run mk image-rm CONTAINER=podman
    [ "$status" -eq 0 ]
    run mk minikube-load IMAGE=otp-labs:9
    [ "$status" -eq 0 ]
    # docker-run: the node's name, port and HTTP port, overridable, and every
    # other OTP_* setting of make's command line or environment, by name only
    # (the container tool takes the value from its environment: no cookie in ps)
    cat > "$BATS_TEST_TMPDIR/bin/podman" <<EOF
#!/bin/sh
echo "podman \$*" >> "$LOG"
echo "cookie=\$OTP_COOKIE strategy=\$OTP_CLUSTER_STRATEGY" >> "$LOG"
EOF
    OTP_COOKIE=s3cret run mk docker-run CONTAINER=podman OTP_CLUSTER_STRATEGY=gossip OTP_NODE_PORT=9200
    [ "$status" -eq 0 ]
    cat "$LOG"
    [ "$(sed -n 1p "$LOG")" = "podman build --build-arg BASE_IMAGE=localhost/base:1 -t otp-labs:0.1.0 ." ]
    [ "$(sed -n 2p "$LOG")" = "podman rmi otp-labs:0.1.0" ]
    [ "$(sed -n 3p "$LOG")" = "minikube image load otp-labs:9" ]
    run sed -n 4p "$LOG"
    [[ "$output" == "podman run --rm --name otp-labs --stop-timeout 45 -p 4369:4369 -p 9100:9100 -p 8080:8080 "* ]]
    [[ "$output" == *" -e OTP_NODE_NAME=otp-labs@127.0.0.1 "* ]]
    [[ "$output" == *" -e OTP_NODE_PORT=9200 "* ]]
    [[ "$output" == *" -e OTP_HTTP_PORT=8080 "* ]]
    [[ "$output" == *" -e OTP_CLUSTER_STRATEGY "* ]]
    [[ "$output" == *" -e OTP_COOKIE "* ]]
    [[ "$output" == *" otp-labs:0.1.0" ]]
    [[ "$output" != *s3cret* ]]
    [ "$(sed -n 5p "$LOG")" = "cookie=s3cret strategy=gossip" ]
}

@test "deploy makes the cookie Secret only when it is missing, then applies k8s/; undeploy and remove delete them" {
    # a kubectl whose `get secret` fails until a Secret was created
    fake kubectl "case \"\$1 \$2\" in
    'get secret') grep -q '^kubectl create secret' \"$LOG\" ;;
esac"
    fake docker
    run mk deploy
    [ "$status" -eq 0 ]
    run mk deploy
    [ "$status" -eq 0 ]
    cat "$LOG"
    # the first deploy creates a random cookie, the second keeps it
    [ "$(grep -c '^kubectl create secret' "$LOG")" -eq 1 ]
    grep -Eq '^kubectl create secret generic otp-labs-cookie --from-literal=cookie=[0-9a-f]{48}$' "$LOG"
    [ "$(grep -c '^kubectl apply -f k8s/$' "$LOG")" -eq 2 ]
    [ "$(grep -c '^kubectl get secret otp-labs-cookie$' "$LOG")" -eq 2 ]
    : > "$LOG"
    run mk undeploy
    [ "$status" -eq 0 ]
    [ "$(cat "$LOG")" = "kubectl delete -f k8s/ --ignore-not-found" ]
    : > "$LOG"
    run mk remove
    [ "$status" -eq 0 ]
    [ "$(cat "$LOG")" = "kubectl delete -f k8s/ --ignore-not-found
docker rmi otp-labs:0.1.0" ]
}
