/*  The node's figures in Prometheus' text exposition format, version
    0.0.4 (GET /metrics): what `otp-ctl info` counts, readiness, and what
    the daemons beside the node report (otp_metrics: registry size,
    children, restarts, failovers). One node per endpoint, so no `node`
    label, except on otp_node_info, which names it. Counters end in
    _total and count from the node's (or the reporting daemon's) start.   */
#include "node.h"

static void
s_metric (FILE *out, const char *name, const char *type, const char *help)
{
    fprintf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
s_counter (FILE *out, const char *name, const char *help, uint64_t value)
{
    s_metric (out, name, "counter", help);
    fprintf (out, "%s %" PRIu64 "\n", name, value);
}

static void
s_gauge (FILE *out, const char *name, const char *help, uint64_t value)
{
    s_metric (out, name, "gauge", help);
    fprintf (out, "%s %" PRIu64 "\n", name, value);
}

//  A label value: backslash, double quote and newline escaped.
static void
s_label (FILE *out, const char *value)
{
    for (const char *c = value; *c; c++) {
        if (*c == '\\' || *c == '"')
            fputc ('\\', out);
        if (*c == '\n')
            fputs ("\\n", out);
        else
            fputc (*c, out);
    }
}

char *
metrics_text (node_t *node)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return NULL;
    char why [OTP_NAME_MAX + 32];
    bool ready = ready_check (node, why, sizeof why) == NULL;

    s_metric (out, "otp_node_info", "gauge", "The node's name, version and cluster strategy (always 1).");
    fprintf (out, "otp_node_info{node=\"");
    s_label (out, node->name);
    fprintf (out, "\",version=\"");
    s_label (out, OTP_VERSION);
    fprintf (out, "\",strategy=\"");
    s_label (out, node->config->strategy);
    fprintf (out, "\"} 1\n");
    s_metric (out, "otp_uptime_seconds", "gauge", "Seconds since the node started.");
    fprintf (out, "otp_uptime_seconds %.3f\n", (double) (zclock_mono () - node->started) / 1000.0);
    s_gauge (out, "otp_ready", "1 when the node is ready (GET /health/ready answers 200).", ready);
    s_gauge (out, "otp_joined", "1 once the node has joined its cluster.", node->joined);
    s_gauge (out, "otp_draining", "1 while the node drains: it waits for its holders to hand off.",
             node->draining);

    zlistx_t *up = peer_up_names (node);
    s_gauge (out, "otp_connected_nodes", "Peers up (what `otp-ctl nodes` lists).", zlistx_size (up));
    zlistx_destroy (&up);
    s_gauge (out, "otp_attached_names", "Process names attached on this node.",
             zhashx_size (node->attached));
    s_gauge (out, "otp_processes", "Clients in the process table (holding names, a "
             "subscription, a command or reported figures).", zhashx_size (node->clients));
    s_gauge (out, "otp_holders", "Processes holding the node at shutdown (otp-sup).",
             (uint64_t) node->holders);

    s_counter (out, "otp_messages_in_total", "Messages received on the node's socket, from peers "
               "and clients, bad ones included.", node->stats.msgs_in);
    s_counter (out, "otp_messages_out_total", "Messages sent to peers.", node->stats.msgs_out);
    s_counter (out, "otp_bytes_in_total", "Bytes received on the node's socket.",
               node->stats.bytes_in);
    s_counter (out, "otp_bytes_out_total", "Bytes sent to peers.", node->stats.bytes_out);
    s_counter (out, "otp_messages_delivered_total", "Messages handed to a process on this node.",
               node->stats.delivered);
    s_counter (out, "otp_messages_dropped_total", "Messages that could not be delivered or "
               "forwarded.", node->stats.dropped);
    s_counter (out, "otp_bad_messages_total", "Malformed messages dropped.",
               node->stats.bad_messages);
    s_counter (out, "otp_nodeups_total", "Peers that came up.", node->stats.nodeups);
    s_counter (out, "otp_nodedowns_total", "Peers that went down.", node->stats.nodedowns);
    s_gauge (out, "otp_heartbeat_interval_ms", "How often an idle peer is sent a heartbeat now "
             "(grows with the peers: 50 beats a second in all).", (uint64_t) peer_interval (node));
    s_gauge (out, "otp_health_score", "Local health (0 healthy, up to 8): rises when this "
             "node's own timers run late, and stretches its time-outs.",
             (uint64_t) node->detector.score);
    s_counter (out, "otp_stalls_total", "Ticks of this node that came late (it was stopped "
               "or starved); that time is not counted against peers.", node->detector.stalls);
    s_counter (out, "otp_heartbeats_sent_total", "Heartbeats sent to idle peers.",
               node->stats.heartbeats_out);
    s_counter (out, "otp_heartbeats_received_total", "Heartbeats received.",
               node->stats.heartbeats_in);
    s_counter (out, "otp_dials_total", "Connections to peers started.", node->stats.dials);
    s_counter (out, "otp_dials_refused_total", "Dials not made: too few descriptors left.",
               node->stats.dials_refused);
    s_counter (out, "otp_peers_refused_total", "Peers' connections closed: too few descriptors "
               "left to dial them back.", node->stats.peers_refused);
    s_gauge (out, "otp_open_fds", "Descriptors open.", (uint64_t) otp_limits_fd_used ());
    s_gauge (out, "otp_max_fds", "The limit on open descriptors (ulimit -n).",
             (uint64_t) otp_limits_fd_max ());
    s_counter (out, "otp_handshake_failures_total", "Connections whose CURVE handshake failed "
               "(another cookie).", node->stats.handshake_failures);
    s_gauge (out, "otp_handshakes_pending", "Incoming connections in their handshake.",
             otp_gate_pending (node->gate));
    s_counter (out, "otp_handshakes_shed_total", "Incoming connections shut in their handshake: "
               "too many at once (--max-handshakes).", otp_gate_shed (node->gate));
    s_counter (out, "otp_http_cut_total", "HTTP connections shut: a request not whole in 5 s, "
               "or the oldest when all 256 were taken.", node->stats.http_cut);
    s_counter (out, "otp_clients_dropped_total", "Messages dropped: their process was over "
               "its byte budget (--client-budget).", node->stats.clients_dropped);
    s_counter (out, "otp_clients_cut_total", "Processes cut off: over their byte budget and "
               "reading nothing for 2 s.", node->stats.clients_cut);
    s_counter (out, "otp_peers_dropped_total", "Messages to peers dropped: the peer was over "
               "its byte budget (--peer-budget).", node->stats.peers_dropped);
    s_counter (out, "otp_rpc_paused_total", "Times a remote command's output waited for its "
               "caller to read.", node->stats.rpc_paused);
    s_counter (out, "otp_auth_refused_total", "Connections refused by the node's ZAP handler.",
               otp_zap_rejected (node->zap));
    s_counter (out, "otp_gossip_sent_total", "Gossip announcements sent.", node->stats.gossip_sent);
    s_counter (out, "otp_gossip_received_total", "Gossip announcements accepted from other nodes.",
               node->stats.gossip_received);
    s_metric (out, "otp_gossip_rejected_total", "counter", "Gossip announcements dropped, by "
              "reason: auth (not signed with this cluster's cookie), replay, bad (unreadable).");
    fprintf (out, "otp_gossip_rejected_total{reason=\"auth\"} %" PRIu64 "\n",
             node->stats.gossip_rejected_auth);
    fprintf (out, "otp_gossip_rejected_total{reason=\"replay\"} %" PRIu64 "\n",
             node->stats.gossip_rejected_replay);
    fprintf (out, "otp_gossip_rejected_total{reason=\"bad\"} %" PRIu64 "\n",
             node->stats.gossip_rejected_bad);

    //  Only what some process here reports: no otp-sup, no children line
    //  (rather than a 0 that would say there are none).
    otp_metric_values_t reported;
    client_metrics (node, &reported);
    for (int id = 0; id < OTP_METRIC_COUNT; id++)
        if (reported.has & (1u << id)) {
            const otp_metric_t *metric = &otp_metric_table [id];
            if (metric->counter)
                s_counter (out, metric->name, metric->help, reported.value [id]);
            else
                s_gauge (out, metric->name, metric->help, reported.value [id]);
        }
    if (fclose (out)) {
        free (text);
        return NULL;
    }
    return text;
}
