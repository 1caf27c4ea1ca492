# The chaos harness (Jepsen's idea, on the netns bed): five hosts, each with
# otp-epmd, otp-node, otp-reg and otp-sup; named children that write a
# heartbeat line every 100 ms to one shared log and answer calls; two client
# loops calling random children; a seeded sequence of faults (3|2
# partitions, a cut host, kill -9 of a node restarted 2-5 s later with its
# services, SIGSTOP of a whole host for 2-5 s, kill -9 of one otp-sup); then
# the heal, and checks of what must hold. Load after helper, netns and sup.
#
#   chaos_setup STRATEGY [otp-sup options]   the bed and CHAOS_CHILDREN children
#   chaos_run SEED SECONDS                   clients and faults, then the heal
#   chaos_check                              the invariants; prints the figures
#
# Everything is logged under $CHAOS (default the test's directory): hb.log (ms id pid
# node), calls.log (ms host id took_ms ok|fail reply), faults.log.

CHAOS_HOSTS=5
CHAOS_CHILDREN=${OTP_CHAOS_CHILDREN:-15}
CHAOS_FAST=(--heartbeat 100 --timeout 500 --poll 200)
# How long after a frozen host is thawed its old children may still run
# beside their successors: they thaw with their otp-sup, which stops them
# at its first look at the clock (docs/architecture.md, "Frozen members").
CHAOS_THAW_MS=${OTP_CHAOS_THAW_MS:-250}

_chaos_name () { echo "n$1"; }

# chaos_services I [otp-sup options]: otp-reg and otp-sup on host I.
chaos_services () {
    local i=$1; shift
    netns_spawn "$i" otp-reg -d --node "$(netns_node "$i")" --epmd-port "$NETNS_EPMD_PORT" \
        2>> "$CHAOS/h$i.reg.log"
    echo "$NETNS_PID" > "$CHAOS/reg.$i"
    netns_spawn "$i" otp-sup -d --node "$(netns_node "$i")" --epmd-port "$NETNS_EPMD_PORT" \
        "${CHAOS_SUP_OPTS[@]}" 2>> "$CHAOS/h$i.sup.log"
    echo "$NETNS_PID" > "$CHAOS/sup.$i"
}

_chaos_child () {
    cat > "$CHAOS/child.sh" <<EOF
#!/bin/bash
# A chaos child: a heartbeat line every 100 ms, and "ID pong CHILD PID" for
# each tagged call "ID ping".
trap 'exit 0' TERM
last=0
part=
while :; do
    # A read that times out keeps what it had of a line in \$line: kept
    # for the next read, or the rest of the line would come without its id.
    if IFS= read -r -t 0.05 line; then
        line=\$part\$line
        part=
        id=\${line%% *}
        [ "\$id" = - ] || echo "\$id pong \$OTP_CHILD_ID \$\$"
    elif [ \$? -le 128 ]; then
        exit 0
    else
        part=\$part\$line
    fi
    now=\${EPOCHREALTIME/./}
    now=\${now:0:13}
    if [ \$((now - last)) -ge 100 ]; then
        echo "\$now \$OTP_CHILD_ID \$\$ \$OTP_NODE" >> "$CHAOS/hb.log"
        last=\$now
    fi
done
EOF
    chmod +x "$CHAOS/child.sh"
}

_chaos_members () {
    local want=$1 i
    for i in $(seq "$CHAOS_HOSTS"); do
        netns_ctl "$i" sup-info | grep -qx "members *$want" || return 1
    done
}

# chaos_setup [otp-sup options]: the bed, its services and the children,
# logs in $CHAOS (default: the test's directory).
chaos_setup () {
    CHAOS=${CHAOS:-$BATS_TEST_TMPDIR}
    mkdir -p "$CHAOS"
    CHAOS_SUP_OPTS=("$@")
    : > "$CHAOS/hb.log"
    : > "$CHAOS/calls.log"
    : > "$CHAOS/faults.log"
    netns_setup "$CHAOS_HOSTS"
    local names=() i
    for i in $(seq "$CHAOS_HOSTS"); do names+=("$(_chaos_name "$i")"); done
    netns_cluster "${names[@]}" "${CHAOS_FAST[@]}"
    # Each node's peers, for its restarts (netns_start_node reads it).
    CHAOS_NODES=""
    for i in $(seq "$CHAOS_HOSTS"); do
        CHAOS_NODES="$CHAOS_NODES${CHAOS_NODES:+,}$(netns_node "$i")"
    done
    for i in $(seq "$CHAOS_HOSTS"); do
        eval "echo \"\$PID_n$i\"" > "$CHAOS/node.$i"
        chaos_services "$i"
    done
    wait_until 20 _chaos_members "$CHAOS_HOSTS"
    _chaos_child
    for i in $(seq "$CHAOS_CHILDREN"); do
        netns_ctl 1 start-child "c$i" --name "c$i" --messages tagged -- "$CHAOS/child.sh" > /dev/null
    done
    wait_until 20 _chaos_all_beat
}

# Every child beat in the last second.
_chaos_all_beat () {
    local since i
    since=$(( $(now_ms) - 1000 ))
    for i in $(seq "$CHAOS_CHILDREN"); do
        awk -v id="c$i" -v since="$since" '$2 == id && $1 >= since { found = 1 } END { exit !found }' \
            "$CHAOS/hb.log" || return 1
    done
}

# --- the clients -----------------------------------------------------------

# A client: every 50 ms a call to the next child (each client goes round
# them all, from its own start: every child is called about twice a
# second, which is what the unavailability figure is good to) from a random
# host that no fault has taken (a call from a frozen or dead host says
# nothing of the cluster).
_chaos_client () {
    local seed=$1 stop=$2 h k t0 t1 out rc n=0
    RANDOM=$seed
    n=$(( RANDOM % CHAOS_CHILDREN ))
    while [ ! -e "$stop" ]; do
        h=$(( RANDOM % CHAOS_HOSTS + 1 ))
        k=$(( (n + 1) % CHAOS_CHILDREN + 1 ))
        if [ ! -e "$CHAOS/down.$h" ]; then
            n=$(( n + 1 ))
            t0=$(now_ms)
            # (errexit: a failed call must not end the loop)
            rc=0
            out=$(netns_ctl "$h" call "c$k" ping --timeout 1000 2>&1) || rc=$?
            t1=$(now_ms)
            if [ -e "$CHAOS/down.$h" ]; then :      # the host went meanwhile
            elif [ "$rc" -eq 0 ]; then echo "$t0 $h c$k $((t1 - t0)) ok $out" >> "$CHAOS/calls.log"
            else echo "$t0 $h c$k $((t1 - t0)) fail $(echo "$out" | tr '\n' ' ')" >> "$CHAOS/calls.log"
            fi
        fi
        sleep 0.05
    done
}

# --- the faults ------------------------------------------------------------

_chaos_fault_log () { echo "$(now_ms) $*" >> "$CHAOS/faults.log"; }

_chaos_ns_pids () { ip netns pids "$(netns_name "$1")" 2> /dev/null; }

# _chaos_restart I: node, otp-reg and otp-sup of host I again.
_chaos_restart () {
    local i=$1
    NETNS_NODES=$CHAOS_NODES netns_start_node "$i" "$(_chaos_name "$i")" "${CHAOS_FAST[@]}" > /dev/null
    echo "$NODE_PID" > "$CHAOS/node.$i"
    chaos_services "$i"
}

# The kinds of fault drawn (see _chaos_fault): all five by default.
CHAOS_FAULTS=(${OTP_CHAOS_FAULTS:-split cut kill freeze killsup})

# One fault, drawn from RANDOM among CHAOS_FAULTS; it lasts 2-5 s, then it
# is undone.
_chaos_fault () {
    local kind=${CHAOS_FAULTS[$(( RANDOM % ${#CHAOS_FAULTS[@]} ))]} h=$(( RANDOM % CHAOS_HOSTS + 1 ))
    local hold_ms=$(( 2000 + RANDOM % 3001 )) hold
    hold=$(printf '%d.%03d' $((hold_ms / 1000)) $((hold_ms % 1000)))
    case $kind in
        split)  # a 3|2 partition: hosts shuffled, the first three on one side
            local order side_a side_b
            order=$(for i in $(seq "$CHAOS_HOSTS"); do echo "$RANDOM $i"; done | sort -n | cut -d' ' -f2 | tr '\n' ' ')
            side_a=$(echo "$order" | cut -d' ' -f1-3)
            side_b=$(echo "$order" | cut -d' ' -f4-5)
            _chaos_fault_log "split $side_a | $side_b for $hold_ms ms"
            netns_split "$side_a" "$side_b"
            sleep "$hold"
            netns_heal ;;
        cut)  _chaos_fault_log "cut h$h for $hold_ms ms"
            netns_cut "$h"
            sleep "$hold"
            netns_restore "$h" ;;
        kill)  _chaos_fault_log "kill -9 node of h$h, back in $hold_ms ms"
            touch "$CHAOS/down.$h"
            kill -KILL "$(cat "$CHAOS/node.$h")" 2> /dev/null || true
            # Its otp-reg and otp-sup go with their node (a lost connection
            # is for good); their children with otp-sup (its death signal).
            sleep "$hold"
            kill -KILL "$(cat "$CHAOS/reg.$h")" "$(cat "$CHAOS/sup.$h")" 2> /dev/null || true
            _chaos_restart "$h"
            rm -f "$CHAOS/down.$h" ;;
        freeze)  _chaos_fault_log "SIGSTOP h$h for $hold_ms ms"
            touch "$CHAOS/down.$h"
            local pids
            pids=$(_chaos_ns_pids "$h")
            kill -STOP $pids 2> /dev/null || true
            sleep "$hold"
            kill -CONT $pids 2> /dev/null || true
            _chaos_fault_log "SIGCONT h$h"
            rm -f "$CHAOS/down.$h" ;;
        killsup)  _chaos_fault_log "kill -9 otp-sup of h$h"
            kill -KILL "$(cat "$CHAOS/sup.$h")" 2> /dev/null || true
            sleep 1
            netns_spawn "$h" otp-sup -d --node "$(netns_node "$h")" --epmd-port "$NETNS_EPMD_PORT" \
                "${CHAOS_SUP_OPTS[@]}" 2>> "$CHAOS/h$h.sup.log"
            echo "$NETNS_PID" > "$CHAOS/sup.$h"
            sleep "$hold" ;;
    esac
    sleep "0.$(( RANDOM % 10 ))"
}

# chaos_run SEED SECONDS: clients and seeded faults for SECONDS, then the
# heal. Sets CHAOS_HEALED (ms).
chaos_run () {
    local seed=$1 seconds=$2 stop="$CHAOS/stop" c
    CHAOS_SEED=$seed
    rm -f "$stop"
    for c in 1 2; do
        _chaos_client "$((seed * 10 + c))" "$stop" &
        track $!
    done
    RANDOM=$seed
    CHAOS_START=$(now_ms)
    local deadline=$(( CHAOS_START + seconds * 1000 ))
    while [ "$(now_ms)" -lt "$deadline" ]; do _chaos_fault; done
    netns_heal
    local i
    for i in $(seq "$CHAOS_HOSTS"); do
        [ ! -e "$(_netns_dir)/cut.$i" ] || netns_restore "$i"
    done
    CHAOS_HEALED=$(now_ms)
    _chaos_fault_log "healed"
    # The clients go on through the heal: the figures include it.
    sleep 2
    touch "$stop"
    sleep 1.5
}

# --- the checks ------------------------------------------------------------

# Overlaps: two processes of one child alive at once. A process is alive at
# a heartbeat of its own and for 150 ms after it (it beats every 100 ms); a
# frozen one writes nothing, so a host frozen for seconds overlaps only from
# its thaw on. An episode runs from the first beat of one while the other
# is alive to the last such beat (a single beat is 0 ms: the measure is
# good to a beat, 100 ms), and ends when they have not been alive together
# for 300 ms. Prints "ID PID PID MS" for each episode longer than the thaw
# window.
chaos_overlaps () {
    sort -k2,2 -k1,1n "$CHAOS/hb.log" | awk -v thaw="$CHAOS_THAW_MS" '
        function close_all(   k) {
            for (k in start) if (end[k] - start[k] > thaw) print k, end[k] - start[k]
            delete start; delete end
        }
        $2 != id { close_all(); id = $2; delete last }
        {
            t = $1; p = $3
            for (q in last) {
                if (q == p || t - last[q] > 150) continue
                k = id " " (q < p? q " " p: p " " q)
                if ((k in end) && t - end[k] > 300) {
                    if (end[k] - start[k] > thaw) print k, end[k] - start[k]
                    delete start[k]; delete end[k]
                }
                if (!(k in start)) start[k] = t
                end[k] = t
            }
            last[p] = t
        }
        END { close_all() }' | sort
}

# Every host's which-children: each child on one node, with its one live
# pid, running.
_chaos_truth () {
    local since i h pid row
    # What runs: the pids that beat in the last 300 ms (three beats).
    since=$(( $(now_ms) - 300 ))
    local views=()
    for h in $(seq "$CHAOS_HOSTS"); do views[$h]=$(netns_ctl "$h" which-children); done
    for i in $(seq "$CHAOS_CHILDREN"); do
        pid=$(awk -v id="c$i" -v since="$since" '$2 == id && $1 >= since { print $3 }' "$CHAOS/hb.log" | sort -u)
        [ "$(echo "$pid" | wc -w)" -eq 1 ] || { echo "c$i beats from pids: $(echo $pid)"; return 1; }
        for h in $(seq "$CHAOS_HOSTS"); do
            row=$(echo "${views[$h]}" | awk -v id="c$i" '$1 == id { print $3, $4 }')
            [ "$row" = "$pid running" ] || { echo "host $h shows c$i as '$row', it runs as $pid"; return 1; }
        done
    done
}

# Every host holds the same names, each where its child runs.
_chaos_names_agree () {
    local h first="" names
    for h in $(seq "$CHAOS_HOSTS"); do
        names=$(netns_ctl "$h" names | sort | tr '\n' ' ')
        [ -n "$first" ] || first=$names
        [ "$names" = "$first" ] || { echo "host $h names: $names; host 1: $first"; return 1; }
    done
    local i
    for i in $(seq "$CHAOS_CHILDREN"); do
        [[ " $first " == *" c$i "* ]] || { echo "c$i is registered nowhere"; return 1; }
    done
}

# chaos_figures: calls answered, the longest a child went unanswered, the
# overlaps, the convergence; one line each, for the test's output.
chaos_figures () {
    local calls ok wrong
    calls=$(wc -l < "$CHAOS/calls.log")
    ok=$(awk '$5 == "ok"' "$CHAOS/calls.log" | wc -l)
    wrong=$(awk '$5 == "ok" && $7 != $3' "$CHAOS/calls.log" | wc -l)
    echo "# seed $CHAOS_SEED: $(grep -vc "SIGCONT\|healed" "$CHAOS/faults.log") faults; calls $calls, answered $ok ($(( calls? ok * 100 / calls: 0 )) %), wrong replies $wrong"
    # Longest unavailability of a child: from a failed call to the next
    # answered one (to a child called about once a second: good to a
    # second or so).
    awk '{ print $3, $1, $5 }' "$CHAOS/calls.log" | sort -k1,1 -k2,2n | awk '
        $1 != id { id = $1; failed = -1 }
        $3 == "fail" && failed < 0 { failed = $2 }
        $3 == "ok" { if (failed >= 0 && $2 - failed > worst) { worst = $2 - failed; who = id; from = failed } failed = -1 }
        END { printf "# longest unavailability: %d ms (%s, from %s)\n", worst, who, from }'
    echo "# overlaps beyond the ${CHAOS_THAW_MS} ms thaw window: $(chaos_overlaps | wc -l);" \
         "two beats or more at all: $(CHAOS_THAW_MS=99 chaos_overlaps | wc -l)"
    [ -z "${CHAOS_CONVERGED:-}" ] ||
        echo "# whole ${CHAOS_WHOLE} ms after the heal; every host agreed ${CHAOS_CONVERGED} ms later"
}

# chaos_check: after the heal every host agrees on names and children, each
# child runs once, none was lost, none ran twice beyond the thaw window,
# every answer was the callee's own. Prints what it found.
chaos_check () {
    local rc=0
    # Whole again (every node and member back), then the truth everywhere.
    wait_until 30 netns_mesh $(seq "$CHAOS_HOSTS") || true
    wait_until 30 _chaos_members "$CHAOS_HOSTS" || true
    CHAOS_WHOLE=$(( $(now_ms) - CHAOS_HEALED ))
    if wait_until 30 _chaos_truth && wait_until 10 _chaos_names_agree; then
        CHAOS_CONVERGED=$(( $(now_ms) - CHAOS_HEALED - CHAOS_WHOLE ))
    else
        echo "# not converged: $(_chaos_truth && _chaos_names_agree)"
        local h
        for h in $(seq "$CHAOS_HOSTS"); do
            netns_ctl "$h" which-children 2>&1 | sed "s/^/# host $h: /"
        done
        rc=1
    fi
    chaos_figures
    local overlaps wrong
    overlaps=$(chaos_overlaps)
    if [ -n "$overlaps" ]; then
        echo "$overlaps" | sed 's/^/# ran twice: /'
        rc=1
    fi
    wrong=$(awk '$5 == "ok" && $7 != $3' "$CHAOS/calls.log")
    if [ -n "$wrong" ]; then
        echo "$wrong" | head -5 | sed 's/^/# not its own reply: /'
        rc=1
    fi
    if [ "$rc" -ne 0 ]; then
        sed 's/^/# fault: /' "$CHAOS/faults.log"
    fi
    return "$rc"
}
