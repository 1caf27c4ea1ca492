/*  Clients: otp-ctl, and local programs attached under a name. A client is
    not a cluster member (Erlang's hidden node): it never appears in
    `nodes`, and it reaches the cluster only through its node.               */
#include "node.h"
#include "strategy.h"

static zmsg_t *
s_reply (zmsg_t *request, const char *status)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "REP");
    zframe_t *id = otp_msg_arg (request, 0);
    zmsg_addmem (reply, zframe_data (id), zframe_size (id));
    zmsg_addstr (reply, status);
    return reply;
}

static void
s_add_stat (zmsg_t *reply, const char *key, uint64_t value)
{
    zmsg_addstr (reply, key);
    zmsg_addstrf (reply, "%" PRIu64, value);
}

//  Appends the up peers' names, sorted, one frame each.
static void
s_add_peers (node_t *node, zmsg_t *reply)
{
    zlistx_t *names = peer_up_names (node);
    for (char *name = (char *) zlistx_first (names); name; name = (char *) zlistx_next (names))
        zmsg_addstr (reply, name);
    zlistx_destroy (&names);
}

//  The attached name a client holds, if any.
static const char *
s_name_of (node_t *node, zframe_t *routing_id)
{
    for (zframe_t *id = (zframe_t *) zhashx_first (node->attached); id;
         id = (zframe_t *) zhashx_next (node->attached))
        if (zframe_eq (id, routing_id))
            return (const char *) zhashx_cursor (node->attached);
    return NULL;
}

//  True if the client behind `routing_id` is still connected: a ROUTER with
//  ROUTER_MANDATORY refuses to send to a routing id that has gone.
static bool
s_alive (node_t *node, zframe_t *routing_id)
{
    zmsg_t *probe = zmsg_new ();
    zmsg_addstr (probe, "PING");
    return node_to_client (node, routing_id, &probe) == 0 || errno != EHOSTUNREACH;
}

static void
s_on_request (node_t *node, zframe_t *routing_id, zmsg_t *msg)
{
    char command [32], arg [OTP_ARG_MAX + 1];
    zmsg_t *reply = NULL;
    if (otp_msg_str (msg, 1, command, sizeof command)) {
        reply = s_reply (msg, "error");
        zmsg_addstr (reply, "bad command");
    }
    else
    if (streq (command, "ping")) {
        reply = s_reply (msg, "ok");
        zmsg_addstr (reply, "pong");
    }
    else
    if (streq (command, "nodes")) {
        reply = s_reply (msg, "ok");
        s_add_peers (node, reply);
    }
    else
    if (streq (command, "info")) {
        reply = s_reply (msg, "ok");
        zlistx_t *names = peer_up_names (node);
        zmsg_addstr (reply, "name");
        zmsg_addstr (reply, node->name);
        zmsg_addstr (reply, "version");
        zmsg_addstr (reply, OTP_VERSION);
        zmsg_addstr (reply, "strategy");
        zmsg_addstr (reply, strategy_name (node->strategy));
        s_add_stat (reply, "port", (uint64_t) node->port);
        s_add_stat (reply, "pid", (uint64_t) getpid ());
        s_add_stat (reply, "uptime_ms", (uint64_t) (zclock_mono () - node->started));
        s_add_stat (reply, "peers", zlistx_size (names));
        s_add_stat (reply, "attached", zhashx_size (node->attached));
        s_add_stat (reply, "watchers", zlistx_size (node->subscribers));
        s_add_stat (reply, "msgs_in", node->stats.msgs_in);
        s_add_stat (reply, "msgs_out", node->stats.msgs_out);
        s_add_stat (reply, "bytes_in", node->stats.bytes_in);
        s_add_stat (reply, "bytes_out", node->stats.bytes_out);
        s_add_stat (reply, "dropped", node->stats.dropped);
        s_add_stat (reply, "bad_messages", node->stats.bad_messages);
        s_add_stat (reply, "handshake_failures", node->stats.handshake_failures);
        s_add_stat (reply, "auth_refused", otp_zap_rejected (node->zap));
        s_add_stat (reply, "nodeups", node->stats.nodeups);
        s_add_stat (reply, "nodedowns", node->stats.nodedowns);
        zlistx_destroy (&names);
    }
    else
    if (streq (command, "stop")) {
        reply = s_reply (msg, "ok");
        zmsg_addstr (reply, "stopping");
        node_stop (node, 0);
    }
    else
    if (streq (command, "monitor")) {
        bool known = false;
        for (zframe_t *id = (zframe_t *) zlistx_first (node->subscribers); id && !known;
             id = (zframe_t *) zlistx_next (node->subscribers))
            known = zframe_eq (id, routing_id);
        if (!known)
            zlistx_add_end (node->subscribers, zframe_dup (routing_id));
        //  The peers up now, in the same reply: events follow from here on,
        //  so a watcher needs no racy `nodes` of its own.
        reply = s_reply (msg, "ok");
        s_add_peers (node, reply);
    }
    else
    if (streq (command, "attach")) {
        zframe_t *holder = NULL;
        if (otp_msg_str (msg, 2, arg, sizeof arg) || !otp_name_valid (arg)) {
            reply = s_reply (msg, "error");
            zmsg_addstr (reply, "attach needs a valid name");
        }
        else
        if ((holder = (zframe_t *) zhashx_lookup (node->attached, arg))
        &&  !zframe_eq (holder, routing_id) && s_alive (node, holder)) {
            reply = s_reply (msg, "error");
            zmsg_addstr (reply, "name is attached by another process");
        }
        else {
            zhashx_update (node->attached, arg, zframe_dup (routing_id));
            reply = s_reply (msg, "ok");
        }
    }
    else
    if (streq (command, "detach")) {
        zframe_t *holder = NULL;
        if (otp_msg_str (msg, 2, arg, sizeof arg) == 0
        &&  (holder = (zframe_t *) zhashx_lookup (node->attached, arg))
        &&  zframe_eq (holder, routing_id))
            zhashx_delete (node->attached, arg);
        reply = s_reply (msg, "ok");
    }
    else {
        reply = s_reply (msg, "error");
        zmsg_addstrf (reply, "unknown command '%s'", command);
    }
    node_to_client (node, routing_id, &reply);
}

void
client_deliver (node_t *node, const char *from, const char *to, zframe_t **payload)
{
    zframe_t *holder = (zframe_t *) zhashx_lookup (node->attached, to);
    if (!holder) {
        node->stats.dropped++;
        zframe_destroy (payload);
        return;
    }
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "MSG");
    zmsg_addstr (msg, from);
    zmsg_addstr (msg, to);
    zmsg_append (msg, payload);
    if (node_to_client (node, holder, &msg)) {
        node->stats.dropped++;
        if (errno == EHOSTUNREACH)
            zhashx_delete (node->attached, to);
    }
}

static void
s_on_send (node_t *node, zframe_t *routing_id, zmsg_t *msg)
{
    char to [OTP_NAME_MAX + 1], to_node [OTP_NODE_MAX + 1];
    char from [OTP_NAME_MAX + OTP_NODE_MAX + 2];
    if (otp_msg_str (msg, 0, to, sizeof to) || otp_msg_str (msg, 1, to_node, sizeof to_node)) {
        node->stats.bad_messages++;
        return;
    }
    const char *sender = s_name_of (node, routing_id);
    snprintf (from, sizeof from, "%s@%s", sender? sender: "", node->name);
    if (streq (to_node, node->name)) {
        zframe_t *payload = zframe_dup (otp_msg_arg (msg, 2));
        client_deliver (node, from, to, &payload);
        return;
    }
    zmsg_t *route = zmsg_new ();
    zmsg_addstr (route, "ROUTE");
    zmsg_addstr (route, from);
    zmsg_addstr (route, to);
    zmsg_addstr (route, to_node);
    zframe_t *payload = zframe_dup (otp_msg_arg (msg, 2));
    zmsg_append (route, &payload);
    peer_send (node, to_node, &route);
}

void
client_on_message (node_t *node, zframe_t *routing_id, int cmd, zmsg_t *msg)
{
    if (cmd == NODE_REQ)
        s_on_request (node, routing_id, msg);
    else
        s_on_send (node, routing_id, msg);
}
