/*  Clients: otp-ctl, and local programs attached under a name. A client is
    not a cluster member (Erlang's hidden node): it never appears in
    `nodes`, and it reaches the cluster only through its node.

    A client that holds something here - names, an event subscription, a
    remote command - is a process, kept in the client table with the
    descriptor of its connection. When the ROUTER's monitor reports that
    descriptor closed, the process is probed and, if gone, its names are
    freed with a `down` event: that is how otp-reg learns that the holder of
    a registered name has exited (Erlang's process monitor).               */
#include "node.h"
#include "strategy.h"
#include <malloc.h>
#include <sys/socket.h>

struct _client_t {
    zframe_t *routing_id;
    char key [2 * 255 + 1];         //  the routing id in hex
    zlistx_t *names;                //  attached names, oldest first: the first is its address
    int fd;                         //  its connection, from ZMQ_SRCFD
    int watch;                      //  0, WATCH_NODES, or WATCH_ALL
    bool hold;                      //  the node's shutdown waits for it (`hold`)
    int suspect;                    //  its descriptor closed: probes left, one every 100 ms
    bool gone;                      //  a send found it gone; removed at the next reap
    otp_metric_values_t metrics;    //  its last report (`metrics`), for /metrics
    //  Its connection's addresses when `fd` was recorded: a cut shuts the
    //  descriptor only if it is still that connection (see otp_gate.h).
    struct sockaddr_storage local, remote;
    socklen_t local_size, remote_size;
    //  The byte budget: what the node sent it (every message, as the sum
    //  of its frames) and what it said it has read (`ack`). The difference
    //  sits in libzmq's queue or the kernel's buffers: that is what a
    //  reader that does not read costs the node.
    uint64_t sent, acked;
    int64_t acked_at;               //  its last ack, or when it went over
    bool over;                      //  over its budget: MSGs are dropped
    uint64_t over_drops;            //  dropped in this episode
    int64_t over_warned;            //  the last "over its budget" line (one per 10 s)
};

#define BUDGET_CHECK_MS 250         //  how often over-budget processes are looked at
#define BUDGET_CUT_MS   2000        //  over budget without an ack this long: cut off

static int s_on_budget (zloop_t *loop, int timer_id, void *arg);

enum { WATCH_NODES = 1, WATCH_ALL = 2 };

static void
s_key (zframe_t *routing_id, char *key)
{
    static const char hex [] = "0123456789abcdef";
    size_t size = zframe_size (routing_id);
    byte *data = zframe_data (routing_id);
    for (size_t i = 0; i < size && i < 255; i++) {
        key [2 * i] = hex [data [i] >> 4];
        key [2 * i + 1] = hex [data [i] & 15];
    }
    key [2 * (size < 255? size: 255)] = 0;
}

static void
s_client_destroy (client_t **self_p)
{
    client_t *self = *self_p;
    if (self) {
        zframe_destroy (&self->routing_id);
        zlistx_destroy (&self->names);
        free (self);
        *self_p = NULL;
    }
}

void
client_table_new (node_t *node)
{
    node->clients = zhashx_new ();
    zhashx_set_destructor (node->clients, (zhashx_destructor_fn *) s_client_destroy);
    node->attached = zhashx_new ();
    node->subscribers = zlistx_new ();
    node->gone = zlistx_new ();
    zloop_timer (node->loop, BUDGET_CHECK_MS, 0, s_on_budget, node);
}

void
client_table_destroy (node_t *node)
{
    zlistx_destroy (&node->gone);
    zlistx_destroy (&node->subscribers);
    zhashx_destroy (&node->attached);
    zhashx_destroy (&node->clients);
}

static client_t *
s_lookup (node_t *node, zframe_t *routing_id)
{
    char key [2 * 255 + 1];
    s_key (routing_id, key);
    return (client_t *) zhashx_lookup (node->clients, key);
}

static client_t *
s_require (node_t *node, zframe_t *routing_id, int fd)
{
    client_t *client = s_lookup (node, routing_id);
    if (!client) {
        client = (client_t *) zmalloc (sizeof (client_t));
        client->routing_id = zframe_dup (routing_id);
        s_key (routing_id, client->key);
        client->names = zlistx_new ();
        zlistx_set_destructor (client->names, (zlistx_destructor_fn *) zstr_free);
        zlistx_set_duplicator (client->names, (zlistx_duplicator_fn *) strdup);
        zlistx_set_comparator (client->names, (zlistx_comparator_fn *) strcmp);
        client->fd = -1;
        zhashx_insert (node->clients, client->key, client);
    }
    //  The latest message says which connection the routing id is on now.
    if (fd >= 0 && fd != client->fd) {
        client->fd = fd;
        client->local_size = sizeof client->local;
        client->remote_size = sizeof client->remote;
        if (getsockname (fd, (struct sockaddr *) &client->local, &client->local_size)
        ||  getpeername (fd, (struct sockaddr *) &client->remote, &client->remote_size))
            client->local_size = client->remote_size = 0;
    }
    return client;
}

static void
s_event_to (node_t *node, client_t *watcher, const char *event, const char *name,
            const char *reason)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "EVENT");
    zmsg_addstr (msg, event);
    zmsg_addstr (msg, name);
    zmsg_addstr (msg, reason);
    node_to_client (node, watcher->routing_id, &msg);
}

void
client_event (node_t *node, bool process, const char *event, const char *name,
              const char *reason)
{
    client_t *watcher = (client_t *) zlistx_first (node->subscribers);
    while (watcher) {
        client_t *next = (client_t *) zlistx_next (node->subscribers);
        if ((!process || watcher->watch == WATCH_ALL) && !watcher->gone)
            s_event_to (node, watcher, event, name, reason);
        watcher = next;
    }
}

//  The client no longer holds the node: a drain may be over.
static void
s_unhold (node_t *node, client_t *client)
{
    if (client->hold) {
        client->hold = false;
        node->holders--;
        if (node->holders == 0)
            node_drained (node);
    }
}

static void
s_release (node_t *node, client_t *client, const char *name, const char *reason)
{
    if (zhashx_lookup (node->attached, name) == client) {
        zhashx_delete (node->attached, name);
        client_event (node, true, "down", name, reason);
    }
}

//  The process has exited: everything it held goes, and watchers are told.
//  Only called from client_reap, never while a table is being walked.
static void
s_remove (node_t *node, client_t *client)
{
    otp_debug ("process %s exited", client->key);
    for (char *name = (char *) zlistx_first (client->names); name;
         name = (char *) zlistx_next (client->names))
        s_release (node, client, name, "exited");
    void *handle = zlistx_find (node->subscribers, client);
    if (handle)
        zlistx_delete (node->subscribers, handle);
    if (node->rpc)
        rpc_client_gone (node->rpc, client->routing_id);
    s_unhold (node, client);
    zhashx_delete (node->clients, client->key);
}

int
node_to_client (node_t *self, zframe_t *routing_id, zmsg_t **msg)
{
    //  As otp_client counts what it reads: the frames, without the envelope.
    size_t size = zmsg_content_size (*msg);
    zmsg_pushmem (*msg, zframe_data (routing_id), zframe_size (routing_id));
    int rc = otp_send (msg, self->router);
    client_t *client = s_lookup (self, routing_id);
    if (rc == 0 && client)
        client->sent += size;
    if (rc && errno == EHOSTUNREACH) {
        if (client && !client->gone) {
            client->gone = true;
            zlistx_add_end (self->gone, client);
        }
        errno = EHOSTUNREACH;
    }
    return rc;
}

void
client_reap (node_t *node)
{
    //  Removing one may tell watchers that are gone too: hence the loop.
    client_t *client;
    while ((client = (client_t *) zlistx_first (node->gone))) {
        zlistx_delete (node->gone, zlistx_cursor (node->gone));
        s_remove (node, client);
    }
}

int
node_to_client_try (node_t *self, zframe_t *routing_id, zmsg_t **msg)
{
    //  libzmq's ROUTER decides at the routing-id frame whether the message
    //  fits (ROUTER_MANDATORY): sent first on its own, a refusal leaves the
    //  message whole.
    void *router = zsock_resolve (self->router);
    if (zmq_send (router, zframe_data (routing_id), zframe_size (routing_id),
                  ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        if (zmq_errno () == EAGAIN)
            return 1;
        client_t *client = s_lookup (self, routing_id);
        if (zmq_errno () == EHOSTUNREACH && client && !client->gone) {
            client->gone = true;
            zlistx_add_end (self->gone, client);
        }
        zmsg_destroy (msg);
        return -1;
    }
    size_t size = zmsg_content_size (*msg);
    size_t left = zmsg_size (*msg);
    for (zframe_t *frame = zmsg_first (*msg); frame; frame = zmsg_next (*msg))
        zframe_send (&frame, router, ZFRAME_REUSE | ZFRAME_DONTWAIT | (--left? ZFRAME_MORE: 0));
    zmsg_destroy (msg);
    client_t *client = s_lookup (self, routing_id);
    if (client)
        client->sent += size;
    return 0;
}

uint64_t
client_unacked (node_t *node, zframe_t *routing_id)
{
    client_t *client = s_lookup (node, routing_id);
    return client? client->sent - client->acked: 0;
}

//  Gives the memory of a cut reader's queue back to the system: libzmq's
//  I/O thread frees it when it closes the connection, a moment after the
//  shutdown, and glibc keeps freed heap (large payloads come from the heap
//  once its mmap threshold has grown) unless asked.
static int
s_on_trim (zloop_t *loop, int timer_id, void *arg)
{
    malloc_trim (0);
    return 0;
}

void
node_trim_later (node_t *node)
{
    zloop_timer (node->loop, 200, 1, s_on_trim, node);
    zloop_timer (node->loop, 1000, 1, s_on_trim, node);
}

//  A process over its budget that has not read for BUDGET_CUT_MS is cut
//  off: its connection is shut (libzmq then drops what it queued for it)
//  and it is removed, as if it had exited. A reader that reads, however
//  slowly, is never cut; it loses the messages that do not fit.
static void
s_cut (node_t *node, client_t *client)
{
    struct sockaddr_storage local, remote;
    socklen_t local_size = sizeof local, remote_size = sizeof remote;
    bool same = client->fd >= 0 && client->local_size && client->remote_size
        && getsockname (client->fd, (struct sockaddr *) &local, &local_size) == 0
        && getpeername (client->fd, (struct sockaddr *) &remote, &remote_size) == 0
        && local_size == client->local_size && remote_size == client->remote_size
        && memcmp (&local, &client->local, local_size) == 0
        && memcmp (&remote, &client->remote, remote_size) == 0;
    const char *name = (const char *) zlistx_first (client->names);
    otp_warn ("cut off process %s: %" PRIu64 " bytes unread (budget %" PRIu64
              "), nothing read for %d ms; %" PRIu64 " messages to it dropped",
              name? name: client->key, client->sent - client->acked,
              node->config->client_budget, BUDGET_CUT_MS, client->over_drops);
    if (same)
        shutdown (client->fd, SHUT_RDWR);
    node->stats.clients_cut++;
    if (!client->gone) {
        client->gone = true;
        zlistx_add_end (node->gone, client);
    }
    node_trim_later (node);
}

static int
s_on_budget (zloop_t *loop, int timer_id, void *arg)
{
    node_t *node = (node_t *) arg;
    int64_t now = zclock_mono ();
    zlistx_t *cut = zlistx_new ();
    for (client_t *client = (client_t *) zhashx_first (node->clients); client;
         client = (client_t *) zhashx_next (node->clients))
        if (client->over && !client->gone && now - client->acked_at >= BUDGET_CUT_MS)
            zlistx_add_end (cut, client);
    for (client_t *client = (client_t *) zlistx_first (cut); client;
         client = (client_t *) zlistx_next (cut))
        s_cut (node, client);
    zlistx_destroy (&cut);
    client_reap (node);
    return 0;
}

//  `REQ 0 ack TOTAL`: the process has read TOTAL bytes from us so far
//  (otp_client sends it every 64 KiB). No reply: it would cost the budget
//  it reports on.
static void
s_on_ack (node_t *node, zframe_t *routing_id, zmsg_t *msg)
{
    char arg [32];
    long total;
    client_t *client = s_lookup (node, routing_id);
    if (otp_msg_str (msg, 2, arg, sizeof arg) || otp_parse_int (arg, 0, LONG_MAX, &total)) {
        node->stats.bad_messages++;
        return;
    }
    if (!client)
        return;
    //  More than we sent is a lie or a stale count of another connection;
    //  it never lowers what the node holds for it below zero.
    uint64_t acked = (uint64_t) total < client->sent? (uint64_t) total: client->sent;
    if (acked > client->acked) {
        client->acked = acked;
        client->acked_at = zclock_mono ();
    }
    if (client->over && client->sent - client->acked < node->config->client_budget) {
        const char *name = (const char *) zlistx_first (client->names);
        otp_info ("process %s reads again: %" PRIu64 " messages to it were dropped "
                  "while it was over its budget", name? name: client->key, client->over_drops);
        client->over = false;
        client->over_drops = 0;
    }
    if (node->rpc)
        rpc_acked (node->rpc, routing_id);
}

//  True if the client is still connected: a ROUTER with ROUTER_MANDATORY
//  refuses to send to a routing id that has gone (and then removes it).
static bool
s_alive (node_t *node, client_t *client)
{
    zmsg_t *probe = zmsg_new ();
    zmsg_addstr (probe, "PING");
    return node_to_client (node, client->routing_id, &probe) == 0 || errno != EHOSTUNREACH;
}

//  A probe can pass after the connection closed: the ROUTER has not yet
//  taken in the close (its I/O thread may lag on a busy machine). So a
//  suspect is probed again every 100 ms, up to SUSPECT_PROBES times.
#define SUSPECT_PROBES 20
#define SUSPECT_PROBE_MS 100

static int
s_on_reprobe (zloop_t *loop, int timer_id, void *arg)
{
    node_t *node = (node_t *) arg;
    zlistx_t *suspects = zlistx_new ();
    for (client_t *client = (client_t *) zhashx_first (node->clients); client;
         client = (client_t *) zhashx_next (node->clients))
        if (client->suspect)
            zlistx_add_end (suspects, client);
    bool again = false;
    for (client_t *client = (client_t *) zlistx_first (suspects); client;
         client = (client_t *) zlistx_next (suspects)) {
        client->suspect--;
        if (s_alive (node, client) && client->suspect)
            again = true;
        else
            client->suspect = 0;
    }
    zlistx_destroy (&suspects);
    client_reap (node);
    if (!again)
        zloop_timer_end (loop, timer_id);
    return 0;
}

void
client_disconnected (node_t *node, int fd)
{
    //  The descriptor may already serve a new connection, or the ROUTER may
    //  not have seen the close yet: a probe that passes is tried again.
    zlistx_t *probed = zlistx_new ();
    for (client_t *client = (client_t *) zhashx_first (node->clients); client;
         client = (client_t *) zhashx_next (node->clients))
        if (client->fd == fd)
            zlistx_add_end (probed, client);
    bool again = false;
    for (client_t *client = (client_t *) zlistx_first (probed); client;
         client = (client_t *) zlistx_next (probed))
        if (s_alive (node, client)) {
            //  One round of probes at a time serves every suspect.
            if (!client->suspect)
                again = true;
            client->suspect = SUSPECT_PROBES;
        }
    zlistx_destroy (&probed);
    client_reap (node);
    if (again)
        zloop_timer (node->loop, SUSPECT_PROBE_MS, 0, s_on_reprobe, node);
}

int
client_holders (node_t *node)
{
    //  A holder whose connection closed a moment ago may not be reaped yet;
    //  waiting for it would only delay the stop.
    zlistx_t *holders = zlistx_new ();
    for (client_t *client = (client_t *) zhashx_first (node->clients); client;
         client = (client_t *) zhashx_next (node->clients))
        if (client->hold)
            zlistx_add_end (holders, client);
    for (client_t *client = (client_t *) zlistx_first (holders); client;
         client = (client_t *) zlistx_next (holders))
        s_alive (node, client);
    zlistx_destroy (&holders);
    client_reap (node);
    return node->holders;
}

void
client_metrics (node_t *node, otp_metric_values_t *sum)
{
    memset (sum, 0, sizeof *sum);
    for (client_t *client = (client_t *) zhashx_first (node->clients); client;
         client = (client_t *) zhashx_next (node->clients)) {
        sum->has |= client->metrics.has;
        for (int id = 0; id < OTP_METRIC_COUNT; id++)
            sum->value [id] += client->metrics.value [id];
    }
}

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

static zmsg_t *
s_attach (node_t *node, zframe_t *routing_id, int fd, zmsg_t *msg)
{
    char name [OTP_ARG_MAX + 1];
    zmsg_t *reply;
    client_t *holder = NULL;
    if (otp_msg_str (msg, 2, name, sizeof name) || !otp_name_valid (name)) {
        reply = s_reply (msg, "error");
        zmsg_addstr (reply, "attach needs a valid name");
    }
    else
    if ((holder = (client_t *) zhashx_lookup (node->attached, name))
    &&  !zframe_eq (holder->routing_id, routing_id) && s_alive (node, holder)) {
        reply = s_reply (msg, "error");
        zmsg_addstr (reply, "name is attached by another process");
    }
    else {
        if (holder && !zframe_eq (holder->routing_id, routing_id)) {
            //  The old holder is gone: its name dies with it, now.
            s_release (node, holder, name, "exited");
            zlistx_delete (holder->names, zlistx_find (holder->names, name));
        }
        client_t *client = s_require (node, routing_id, fd);
        if (!zlistx_find (client->names, name))
            zlistx_add_end (client->names, name);
        zhashx_update (node->attached, name, client);
        reply = s_reply (msg, "ok");
        //  Its address: where replies to its calls go.
        zmsg_addstr (reply, (char *) zlistx_first (client->names));
    }
    return reply;
}

static zmsg_t *
s_detach (node_t *node, zframe_t *routing_id, zmsg_t *msg)
{
    char name [OTP_ARG_MAX + 1];
    client_t *client = s_lookup (node, routing_id);
    void *handle;
    if (client && otp_msg_str (msg, 2, name, sizeof name) == 0
    &&  (handle = zlistx_find (client->names, name))) {
        s_release (node, client, name, "detached");
        zlistx_delete (client->names, handle);
    }
    return s_reply (msg, "ok");
}

static void
s_info (node_t *node, zmsg_t *reply)
{
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
    s_add_stat (reply, "processes", zhashx_size (node->clients));
    s_add_stat (reply, "watchers", zlistx_size (node->subscribers));
    s_add_stat (reply, "msgs_in", node->stats.msgs_in);
    s_add_stat (reply, "msgs_out", node->stats.msgs_out);
    s_add_stat (reply, "bytes_in", node->stats.bytes_in);
    s_add_stat (reply, "bytes_out", node->stats.bytes_out);
    s_add_stat (reply, "delivered", node->stats.delivered);
    s_add_stat (reply, "dropped", node->stats.dropped);
    s_add_stat (reply, "bad_messages", node->stats.bad_messages);
    s_add_stat (reply, "handshake_failures", node->stats.handshake_failures);
    s_add_stat (reply, "auth_refused", otp_zap_rejected (node->zap));
    s_add_stat (reply, "handshakes_pending", otp_gate_pending (node->gate));
    s_add_stat (reply, "handshakes_shed", otp_gate_shed (node->gate));
    s_add_stat (reply, "http_cut", node->stats.http_cut);
    s_add_stat (reply, "client_budget", node->config->client_budget);
    s_add_stat (reply, "clients_dropped", node->stats.clients_dropped);
    s_add_stat (reply, "clients_cut", node->stats.clients_cut);
    s_add_stat (reply, "rpc_paused", node->stats.rpc_paused);
    s_add_stat (reply, "peer_budget", node->config->peer_budget);
    s_add_stat (reply, "peers_dropped", node->stats.peers_dropped);
    s_add_stat (reply, "nodeups", node->stats.nodeups);
    s_add_stat (reply, "nodedowns", node->stats.nodedowns);
    //  The failure detector (otp_detector) and the mesh's costs.
    s_add_stat (reply, "heartbeat_ms", (uint64_t) peer_interval (node));
    s_add_stat (reply, "health", (uint64_t) node->detector.score);
    s_add_stat (reply, "stalls", node->detector.stalls);
    s_add_stat (reply, "longest_stall_ms", (uint64_t) node->detector.longest_stall_ms);
    s_add_stat (reply, "heartbeats_out", node->stats.heartbeats_out);
    s_add_stat (reply, "heartbeats_in", node->stats.heartbeats_in);
    s_add_stat (reply, "dials", node->stats.dials);
    s_add_stat (reply, "dials_deferred", node->stats.dials_deferred);
    s_add_stat (reply, "dials_refused", node->stats.dials_refused);
    s_add_stat (reply, "peers_refused", node->stats.peers_refused);
    s_add_stat (reply, "fds_open", (uint64_t) otp_limits_fd_used ());
    s_add_stat (reply, "fds_max", (uint64_t) otp_limits_fd_max ());
    s_add_stat (reply, "draining", node->draining? 1: 0);
    s_add_stat (reply, "holders", (uint64_t) node->holders);
    if (streq (node->config->strategy, "gossip")) {
        zmsg_addstr (reply, "gossip_to");
        zmsg_addstrf (reply, "%s:%d", node->config->gossip_address, node->config->gossip_port);
        s_add_stat (reply, "gossip_sent", node->stats.gossip_sent);
        s_add_stat (reply, "gossip_received", node->stats.gossip_received);
        s_add_stat (reply, "gossip_rejected_auth", node->stats.gossip_rejected_auth);
        s_add_stat (reply, "gossip_rejected_replay", node->stats.gossip_rejected_replay);
        s_add_stat (reply, "gossip_rejected_bad", node->stats.gossip_rejected_bad);
    }
    zlistx_destroy (&names);
}

static void
s_on_request (node_t *node, zframe_t *routing_id, int fd, zmsg_t *msg)
{
    char command [32], arg [OTP_ARG_MAX + 1];
    zmsg_t *reply = NULL;
    client_t *tell_draining = NULL;     //  a new watcher of a draining node
    if (otp_msg_str (msg, 1, command, sizeof command)) {
        reply = s_reply (msg, "error");
        zmsg_addstr (reply, "bad command");
    }
    else
    if (streq (command, "ack")) {
        s_on_ack (node, routing_id, msg);
        return;
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
        s_info (node, reply);
    }
    else
    if (streq (command, "stop")) {
        bool now = node_shutdown (node, "asked to stop");
        reply = s_reply (msg, "ok");
        zmsg_addstr (reply, now? "stopping": "draining");
    }
    else
    if (streq (command, "monitor")) {
        int level = WATCH_NODES;
        if (zmsg_size (msg) > 3) {
            level = otp_msg_str (msg, 2, arg, sizeof arg) == 0 && streq (arg, "all")? WATCH_ALL: -1;
        }
        if (level < 0) {
            reply = s_reply (msg, "error");
            zmsg_addstr (reply, "monitor takes no argument, or 'all'");
        }
        else {
            client_t *client = s_require (node, routing_id, fd);
            if (!client->watch) {
                zlistx_add_end (node->subscribers, client);
                //  It missed the event that every other watcher had.
                if (node->draining)
                    tell_draining = client;
            }
            if (level > client->watch)
                client->watch = level;
            //  The peers up now, in the same reply: events follow from here
            //  on, so a watcher needs no racy `nodes` of its own.
            reply = s_reply (msg, "ok");
            s_add_peers (node, reply);
        }
    }
    else
    if (streq (command, "hold")) {
        //  A supervisor: the node's shutdown waits until it has gone.
        client_t *client = s_require (node, routing_id, fd);
        if (!client->hold) {
            client->hold = true;
            node->holders++;
        }
        reply = s_reply (msg, "ok");
    }
    else
    if (streq (command, "unhold")) {
        client_t *client = s_lookup (node, routing_id);
        if (client)
            s_unhold (node, client);
        reply = s_reply (msg, "ok");
    }
    else
    if (streq (command, "attach"))
        reply = s_attach (node, routing_id, fd, msg);
    else
    if (streq (command, "detach"))
        reply = s_detach (node, routing_id, msg);
    else
    if (streq (command, "metrics")) {
        //  A daemon beside us (otp-reg, otp-sup) reports its figures; the
        //  reporter is a process, so they go when it goes.
        char error [128];
        otp_metric_values_t values;
        if (otp_metrics_decode (msg, 2, &values, error, sizeof error)) {
            reply = s_reply (msg, "error");
            zmsg_addstr (reply, error);
        }
        else {
            s_require (node, routing_id, fd)->metrics = values;
            reply = s_reply (msg, "ok");
        }
    }
    else
    if (streq (command, "processes")) {
        //  Attached names, sorted: a restarted otp-reg checks what lives.
        reply = s_reply (msg, "ok");
        zlistx_t *names = zhashx_keys (node->attached);
        otp_names_sort (names);
        for (char *name = (char *) zlistx_first (names); name; name = (char *) zlistx_next (names))
            zmsg_addstr (reply, name);
        zlistx_destroy (&names);
    }
    else {
        reply = s_reply (msg, "error");
        zmsg_addstrf (reply, "unknown command '%s'", command);
    }
    node_to_client (node, routing_id, &reply);
    //  After the reply: the snapshot it carries comes before any event.
    if (tell_draining && !tell_draining->gone)
        s_event_to (node, tell_draining, "draining", node->name, "");
}

static void s_route (node_t *node, const char *from, const char *to, const char *to_node,
                     zframe_t **payload, const char *kind, zframe_t *ref);

//  A call that nobody can take: its caller is told at once, rather than
//  left to its time-out (Erlang's noproc).
static void
s_noproc (node_t *node, const char *from, const char *to, const char *to_node, zframe_t *ref)
{
    const char *at = strchr (from, '@');
    if (!at || at == from || at - from > OTP_NAME_MAX)
        return;     //  the caller has no address
    char caller [OTP_NAME_MAX + 1], callee [OTP_NAME_MAX + OTP_NODE_MAX + 2];
    memcpy (caller, from, (size_t) (at - from));
    caller [at - from] = 0;
    snprintf (callee, sizeof callee, "%s@%s", to, to_node);
    zframe_t *empty = zframe_new_empty ();
    s_route (node, callee, caller, at + 1, &empty, "noproc", ref);
}

//  To a process here, or over the mesh to its node.
static void
s_route (node_t *node, const char *from, const char *to, const char *to_node,
         zframe_t **payload, const char *kind, zframe_t *ref)
{
    if (streq (to_node, node->name)) {
        client_deliver (node, from, to, payload, kind, ref);
        return;
    }
    zmsg_t *route = zmsg_new ();
    zmsg_addstr (route, "ROUTE");
    zmsg_addstr (route, from);
    zmsg_addstr (route, to);
    zmsg_addstr (route, to_node);
    zmsg_append (route, payload);
    if (kind && *kind) {
        zmsg_addstr (route, kind);
        zmsg_addmem (route, zframe_data (ref), zframe_size (ref));
    }
    if (peer_send (node, to_node, &route) && kind && streq (kind, "call"))
        s_noproc (node, from, to, to_node, ref);
}

void
client_deliver (node_t *node, const char *from, const char *to, zframe_t **payload,
                const char *kind, zframe_t *ref)
{
    client_t *holder = (client_t *) zhashx_lookup (node->attached, to);
    if (!holder) {
        node->stats.dropped++;
        zframe_destroy (payload);
        if (kind && streq (kind, "call"))
            s_noproc (node, from, to, node->name, ref);
        return;
    }
    if (holder->sent - holder->acked >= node->config->client_budget) {
        //  It does not keep up: what does not fit is dropped, counted and
        //  told once per episode; if it reads nothing more it is cut off.
        if (!holder->over) {
            holder->over = true;
            holder->acked_at = zclock_mono ();
            if (otp_log_ratelimit (&holder->over_warned, 10000))
                otp_warn ("process %s is over its budget: %" PRIu64 " bytes unread (budget %"
                          PRIu64 "); messages to it are dropped", to,
                          holder->sent - holder->acked, node->config->client_budget);
        }
        holder->over_drops++;
        node->stats.dropped++;
        node->stats.clients_dropped++;
        zframe_destroy (payload);
        return;
    }
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "MSG");
    zmsg_addstr (msg, from);
    zmsg_addstr (msg, to);
    zmsg_append (msg, payload);
    if (kind && *kind) {
        zmsg_addstr (msg, kind);
        zmsg_addmem (msg, zframe_data (ref), zframe_size (ref));
    }
    if (node_to_client (node, holder->routing_id, &msg))
        node->stats.dropped++;
    else
        node->stats.delivered++;
}

static void
s_on_send (node_t *node, zframe_t *routing_id, zmsg_t *msg)
{
    char to [OTP_NAME_MAX + 1], to_node [OTP_NODE_MAX + 1], kind [8];
    char from [OTP_NAME_MAX + OTP_NODE_MAX + 2];
    if (otp_msg_str (msg, 0, to, sizeof to) || otp_msg_str (msg, 1, to_node, sizeof to_node)
    ||  otp_msg_kind (msg, 3, kind, sizeof kind)) {
        node->stats.bad_messages++;
        return;
    }
    //  The sender's address is decided here, never taken from the sender.
    client_t *client = s_lookup (node, routing_id);
    const char *sender = client? (const char *) zlistx_first (client->names): NULL;
    snprintf (from, sizeof from, "%s@%s", sender? sender: "", node->name);
    zframe_t *ref = *kind? otp_msg_arg (msg, 4): NULL;
    //  Taken out of the message, not copied: a 1 MiB copy per message made
    //  the node slower than a sender, whose messages then queued in the
    //  ROUTER (its RCVHWM counts messages, not bytes).
    zframe_t *payload = otp_msg_arg (msg, 2);
    zmsg_remove (msg, payload);
    s_route (node, from, to, to_node, &payload, kind, ref);
}

void
client_on_message (node_t *node, zframe_t *routing_id, int fd, int cmd, zmsg_t *msg)
{
    if (cmd == NODE_REQ)
        s_on_request (node, routing_id, fd, msg);
    else
    if (cmd == NODE_SEND)
        s_on_send (node, routing_id, msg);
    else {
        //  A remote command lives as long as its caller: track the caller.
        s_require (node, routing_id, fd);
        rpc_spawn (node->rpc, routing_id, msg);
    }
}
