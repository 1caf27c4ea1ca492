/*  The node: its ROUTER, its loop, its life from start to graceful stop.   */
#include "node.h"
#include <signal.h>
#include <sys/wait.h>
#include <sodium.h>

static int
s_on_stopped (zloop_t *loop, int timer_id, void *arg)
{
    return -1;
}

void
node_stop (node_t *self, int status)
{
    if (!self->stopping) {
        self->stopping = true;
        self->exit_status = status;
        //  Not every handler that can get here ends the loop itself (a
        //  holder reaped on a monitor event, say): this timer does.
        if (self->loop)
            zloop_timer (self->loop, 1, 1, s_on_stopped, self);
    }
}

static int
s_on_drain_timeout (zloop_t *loop, int timer_id, void *arg)
{
    node_t *self = (node_t *) arg;
    otp_warn ("drain timed out: %d process(es) still holding the node; leaving anyway",
              self->holders);
    node_stop (self, 0);
    return -1;
}

bool
node_shutdown (node_t *self, const char *why)
{
    if (self->stopping)
        return true;
    if (self->draining) {
        //  The operator insists (a second SIGTERM, another `stop`).
        otp_info ("%s while draining: stopping at once", why);
        node_stop (self, 0);
        return true;
    }
    int timeout = self->config->drain_timeout_ms;
    int holders = timeout > 0? client_holders (self): 0;
    if (holders == 0) {
        node_stop (self, 0);
        return true;
    }
    //  Stay a full member - registered, meshed, routing - so that the
    //  holders (a supervisor) can hand their work to other nodes first.
    self->draining = true;
    otp_info ("draining: waiting for %d process(es) holding the node (up to %d ms)",
              holders, timeout);
    zloop_timer (self->loop, (size_t) timeout, 1, s_on_drain_timeout, self);
    client_event (self, false, "draining", self->name, "");
    //  A strategy that announces us (gossip) says at once that we leave.
    strategy_tick (self->strategy);
    //  A watcher found gone may have been the last holder.
    client_reap (self);
    return self->stopping;
}

void
node_drained (node_t *self)
{
    if (self->draining && !self->stopping) {
        otp_info ("drained");
        node_stop (self, 0);
    }
}

void
node_event (node_t *self, const char *event, const char *peer, const char *reason)
{
    if (reason)
        otp_info ("%s %s (%s)", event, peer, reason);
    else
        otp_info ("%s %s", event, peer);
    client_event (self, false, event, peer, reason? reason: "");
    client_reap (self);
}

//  A quarter of the connections in their handshake may come from one
//  address: a whole cluster of nodes on one host starting at once (~100
//  dialling us together) stays well under it.
static int
s_per_address (const node_config_t *config)
{
    return config->handshake_max / 4 > 0? config->handshake_max / 4: 1;
}

//  Whether a message waits on the ROUTER (read without blocking).
static bool
s_router_ready (node_t *self)
{
    return (zsock_events (self->router) & ZMQ_POLLIN) != 0;
}

static void
s_router_event (node_t *self)
{
    int value;
    int event = otp_monitor_read (self->router_monitor, &value);
    if (event == ZMQ_EVENT_ACCEPTED) {
        size_t shed = otp_gate_accepted (self->gate, value);
        if (shed && otp_log_ratelimit (&self->gate_warned, 10000))
            otp_warn ("too many connections in their handshake (%zu; at most %d, %d from "
                      "one address): shed the oldest; %" PRIu64 " shed so far",
                      otp_gate_pending (self->gate), self->config->handshake_max,
                      s_per_address (self->config), otp_gate_shed (self->gate));
    }
    else
    if (event == ZMQ_EVENT_DISCONNECTED) {
        otp_gate_settled (self->gate, value);
        peer_disconnected (self, value);
        client_disconnected (self, value);
    }
    else
    if (event & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
               | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)) {
        self->stats.handshake_failures++;
        //  A node with the wrong cookie retries all the time: say it once
        //  in a while; `otp-ctl info` has the exact count.
        if (otp_log_ratelimit (&self->handshake_warned, 10000))
            otp_warn ("refused a connection: its handshake failed (another cookie, or not "
                      "otp-labs); %" PRIu64 " so far", self->stats.handshake_failures);
    }
}

//  The ROUTER's monitor events that are waiting, all of them. A connection
//  that closed is reported before its descriptor can be reused: handled
//  before the next message (which may come on a new connection with the
//  same descriptor), the close is never taken for the newcomer's.
static void
s_router_events (node_t *self)
{
    zsock_t *monitor = otp_monitor_socket (self->router_monitor);
    while (zsock_events (monitor) & ZMQ_POLLIN)
        s_router_event (self);
}

static int
s_on_router_event (zloop_t *loop, zsock_t *sock, void *arg)
{
    node_t *self = (node_t *) arg;
    s_router_events (self);
    node_read_pending (self, 1000);
    if (!s_router_ready (self))
        peer_reap_closed (self);
    return self->stopping? -1: 0;
}

//  One message from the ROUTER; returns -1 once the node stops.
static int
s_read_router (node_t *self)
{
    s_router_events (self);
    int fd;
    zmsg_t *msg = otp_recv_fd (self->router, &fd, NULL);
    if (!msg)
        return 0;
    otp_gate_settled (self->gate, fd);      //  its handshake passed
    self->stats.msgs_in++;
    self->stats.bytes_in += zmsg_content_size (msg);
    zframe_t *routing_id = zmsg_pop (msg);
    char error [256];
    int cmd = otp_msg_check (msg, otp_node_cmds, error, sizeof error);
    if (!routing_id || cmd < 0) {
        self->stats.bad_messages++;
        otp_debug ("dropped a bad message: %s", error);
    }
    else
    if (cmd == NODE_REQ || cmd == NODE_SEND || cmd == NODE_SPAWN)
        client_on_message (self, routing_id, fd, cmd, msg);
    else {
        //  Peers' routing ids are their node names (see peer.c).
        char from [OTP_NODE_MAX + 1];
        size_t size = zframe_size (routing_id);
        if (size > 0 && size < sizeof from && zframe_data (routing_id) [0]) {
            memcpy (from, zframe_data (routing_id), size);
            from [size] = 0;
            peer_on_message (self, from, fd, cmd, msg);
        }
        else
            self->stats.bad_messages++;
    }
    zframe_destroy (&routing_id);
    zmsg_destroy (&msg);
    client_reap (self);
    return self->stopping? -1: 0;
}

void
node_read_pending (node_t *self, int max)
{
    while (max-- > 0 && !self->stopping && s_router_ready (self))
        s_read_router (self);
}

//  A burst is read in one go, up to a bound: each return to zloop costs a
//  poll of every socket, which a busy mesh would otherwise pay per message.
static int
s_on_router (zloop_t *loop, zsock_t *router, void *arg)
{
    node_t *self = (node_t *) arg;
    //  Ready when polled, but a timer of this round (the tick reads what
    //  waits) may have taken it since: never a blocking read.
    for (int i = 0; i < 64 && s_router_ready (self); i++)
        if (s_read_router (self))
            return -1;
    //  A closed peer goes once all it sent before is read (a BYE may wait
    //  behind the 64): else at the next round, or the tick.
    if (!s_router_ready (self))
        peer_reap_closed (self);
    return self->stopping? -1: 0;
}

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    node_t *self = (node_t *) arg;
    peer_tick (self);
    ready_joined (self);        //  noted when it happens, not only when asked
    return self->stopping? -1: 0;
}

static int
s_on_poll (zloop_t *loop, int timer_id, void *arg)
{
    node_t *self = (node_t *) arg;
    strategy_tick (self->strategy);
    return 0;
}

static int
s_on_zap (zloop_t *loop, zsock_t *sock, void *arg)
{
    otp_zap_handle (((node_t *) arg)->zap);
    return 0;
}

static int
s_on_signal (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    node_t *self = (node_t *) arg;
    int sig = otp_signal_read (item->fd);
    if (sig == SIGTERM || sig == SIGINT) {
        char why [64];
        snprintf (why, sizeof why, "received %s", strsignal (sig));
        if (!self->draining)
            otp_info ("%s, leaving the cluster", why);
        return node_shutdown (self, why)? -1: 0;
    }
    if (sig == SIGCHLD) {
        //  Remote commands, and the otp-epmd we may have started.
        pid_t pid;
        int status;
        while ((pid = waitpid (-1, &status, WNOHANG)) > 0)
            rpc_reap (self->rpc, pid, status);
        client_reap (self);
    }
    if (sig == SIGHUP)
        strategy_tick (self->strategy);
    return 0;
}

int
node_run (const node_config_t *config, int sigfd)
{
    node_t *self = (node_t *) zmalloc (sizeof (node_t));
    self->config = config;
    self->started = zclock_mono ();
    snprintf (self->name, sizeof self->name, "%s", config->name);
    otp_node_split (self->name, self->short_name, sizeof self->short_name,
                    self->host, sizeof self->host);
    uint8_t random [16];
    randombytes_buf (random, sizeof random);
    sodium_bin2hex (self->instance, sizeof self->instance, random, sizeof random);
    otp_keys_from_cookie (&self->keys, config->cookie);
    otp_log_set_node (self->name);

    epmd_ensure (config);
    self->loop = zloop_new ();
    //  The ZAP handler must exist before the CURVE server binds.
    self->zap = otp_zap_new (&self->keys);
    zloop_reader (self->loop, otp_zap_socket (self->zap), s_on_zap, self);

    self->router = zsock_new (ZMQ_ROUTER);
    otp_sock_harden (self->router);
    zsock_set_router_mandatory (self->router, 1);
    //  A peer that reconnects (after a freeze, say) takes its name back.
    zsock_set_router_handover (self->router, 1);
    //  Replicas and busy processes burst: queue more than libzmq's 1000
    //  before a send to one of them fails.
    zsock_set_sndhwm (self->router, OTP_HWM);
    zsock_set_rcvhwm (self->router, OTP_HWM);
    otp_auth_server (self->router, &self->keys);
    //  A connection that never finishes its handshake holds a descriptor
    //  and libzmq's buffers: libzmq's default is 30 s. The gate bounds how
    //  many may be in their handshake at once (lib/otp_gate.h).
    zsock_set_handshake_ivl (self->router, config->handshake_ms);
    self->gate = otp_gate_new ((size_t) config->handshake_max, (size_t) s_per_address (config));
    self->router_monitor = otp_monitor_new (self->router, ZMQ_EVENT_ACCEPTED
      | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
      | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_DISCONNECTED);
    if (!self->router_monitor)
        otp_fatal ("cannot watch the node's socket: %s", zmq_strerror (zmq_errno ()));
    self->port = otp_bind (self->router, config->bind, config->port);
    if (self->port < 0)
        otp_fatal ("cannot listen on %s:%d: %s", config->bind, config->port,
                   zmq_strerror (zmq_errno ()));
    zloop_reader (self->loop, self->router, s_on_router, self);
    zloop_reader (self->loop, otp_monitor_socket (self->router_monitor), s_on_router_event, self);

    peer_table_new (self);
    client_table_new (self);
    self->rpc = rpc_new (self);
    self->resolver = resolver_new (self);
    self->dns = dns_new (self);

    char error [256];
    self->strategy = strategy_new (self, error, sizeof error);
    if (!self->strategy)
        otp_fatal ("%s", error);
    self->epmd = epmd_link_new (self);
    otp_info ("listening on port %d, strategy %s", self->port, strategy_name (self->strategy));

    zmq_pollitem_t sigitem = { NULL, sigfd, ZMQ_POLLIN, 0 };
    zloop_poller (self->loop, &sigitem, s_on_signal, self);
    int tick = config->heartbeat_ms / 2 > 10? config->heartbeat_ms / 2: 10;
    otp_detector_init (&self->detector, config->heartbeat_ms, config->timeout_ms,
                       config->detector_fixed, tick);
    zloop_timer (self->loop, (size_t) tick, 0, s_on_tick, self);
    zloop_timer (self->loop, (size_t) config->poll_ms, 0, s_on_poll, self);
    if (config->http_port && !(self->http = http_new (self, error, sizeof error)))
        otp_fatal ("%s", error);
    self->first_tick = zclock_mono ();
    strategy_tick (self->strategy);
    zloop_start (self->loop);

    //  Graceful leave: the strategy (gossip announces that we leave) and
    //  the port mapper first (nobody finds us any more), then a BYE to
    //  every peer (nobody dials us back while we go).
    otp_info ("stopping");
    self->stopping = true;
    http_destroy (&self->http);     //  probes fail from now on
    strategy_destroy (&self->strategy);
    epmd_link_destroy (&self->epmd);
    peer_leave_all (self);
    resolver_destroy (&self->resolver);
    dns_destroy (&self->dns);
    zsock_set_linger (self->router, 100);   //  the reply to `otp-ctl stop`
    rpc_destroy (&self->rpc);
    zloop_destroy (&self->loop);
    peer_table_destroy (self);
    otp_monitor_destroy (&self->router_monitor);
    zsock_destroy (&self->router);
    otp_zap_destroy (&self->zap);
    otp_gate_destroy (&self->gate);
    client_table_destroy (self);
    int status = self->exit_status;
    free (self);
    return status;
}
