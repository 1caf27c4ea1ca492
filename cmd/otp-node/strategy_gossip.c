/*  gossip: nodes announce themselves by UDP multicast (or broadcast) on the
    LAN and dial what they hear (libcluster's Gossip strategy).

    Every announcement is signed with a key derived from the cookie and
    carries a timestamp and a sequence number (lib/otp_gossip): one that
    fails authentication is counted and dropped unread, and one that was
    heard before, or is too old, is counted and dropped too, so neither a
    party without the cookie nor a replay of a capture makes us dial an
    address. Sockets are plain UDP in the node's zloop: zbeacon cannot do
    multicast safely (see the brief).

    A node that drains or stops announces `leave` instead of itself. Peers
    that hear it keep the connection they have, so that a draining node's
    holders can still hand off, but do not dial that instance again; a new
    instance of the name is dialled as usual.                               */
#include "strategy.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    char host [OTP_HOST_MAX + 1];
    int port;
    char instance [33];
    bool leaving;               //  this instance announced that it leaves
    bool pending;               //  its host was being resolved: dial when known
    int64_t heard;              //  when its last announcement came (mono)
} heard_t;

typedef struct {
    node_t *node;
    uint8_t key [OTP_GOSSIP_KEY_SIZE];
    int rx, tx;
    struct sockaddr_in to;
    zmq_pollitem_t item;
    int timer;
    uint64_t sequence;
    bool announced;             //  the first announcement went out
    bool leave_logged;
    int64_t answered;           //  when we last answered a newcomer (mono)
    otp_gossip_guard_t *guard;
    zhashx_t *heard;            //  node name -> heard_t
    int64_t warned_auth, warned_bad, warned_replay, warned_send, warned_name;
} state_t;

static void
s_heard_free (void **item)
{
    free (*item);
    *item = NULL;
}

static void
s_announce (state_t *self)
{
    node_t *node = self->node;
    bool leaving = node->draining || node->stopping;
    if (leaving && !self->leave_logged) {
        otp_info ("gossip: announcing that we leave");
        self->leave_logged = true;
    }
    otp_gossip_t msg = {
        .kind = leaving? OTP_GOSSIP_LEAVE: OTP_GOSSIP_ALIVE,
        .port = node->port,
        .timestamp = (uint64_t) zclock_time (),
        .sequence = ++self->sequence
    };
    snprintf (msg.node, sizeof msg.node, "%s", node->name);
    snprintf (msg.host, sizeof msg.host, "%s", node->host);
    snprintf (msg.instance, sizeof msg.instance, "%s", node->instance);
    uint8_t datagram [OTP_GOSSIP_MAX];
    int size = otp_gossip_encode (&msg, self->key, datagram, sizeof datagram);
    assert (size > 0);          //  our own name, host and instance are valid
    if (sendto (self->tx, datagram, (size_t) size, 0, (struct sockaddr *) &self->to,
                sizeof self->to) == size)
        node->stats.gossip_sent++;
    else
    if (otp_log_ratelimit (&self->warned_send, 10000))
        otp_warn ("gossip: cannot send to %s:%d: %s", inet_ntoa (self->to.sin_addr),
                  ntohs (self->to.sin_port), strerror (errno));
    self->announced = true;
}

//  Dials a node heard alive, once its host is known (numeric addresses only
//  reach libzmq; dns.c ticks the strategy when a name resolves).
static void
s_dial (state_t *self, const char *name, heard_t *heard)
{
    node_t *node = self->node;
    //  It said BYE: a late announcement of that instance must not bring it back.
    const char *left = (const char *) zhashx_lookup (node->left, name);
    if (heard->leaving || (left && streq (left, heard->instance)))
        return;
    heard->pending = !dns_address (node->dns, heard->host);
    if (!heard->pending)
        peer_connect (node, name, heard->host, heard->port);
}

static void
s_on_datagram (state_t *self, const uint8_t *data, size_t size, const struct sockaddr_in *from)
{
    node_t *node = self->node;
    char source [32];
    snprintf (source, sizeof source, "%s:%d", inet_ntoa (from->sin_addr), ntohs (from->sin_port));
    otp_gossip_t msg;
    otp_gossip_status_t status = otp_gossip_decode (data, size, self->key, &msg);
    if (status == OTP_GOSSIP_UNSIGNED) {
        node->stats.gossip_rejected_auth++;
        if (otp_log_ratelimit (&self->warned_auth, 10000))
            otp_warn ("gossip: dropped a datagram from %s that is not signed with this "
                      "cluster's cookie (another cookie, or not otp-labs); %" PRIu64 " so far",
                      source, node->stats.gossip_rejected_auth);
        return;
    }
    if (status == OTP_GOSSIP_INVALID) {
        node->stats.gossip_rejected_bad++;
        if (otp_log_ratelimit (&self->warned_bad, 10000))
            otp_warn ("gossip: dropped a malformed announcement from %s", source);
        return;
    }
    bool ours = streq (msg.node, node->name);
    if (ours && streq (msg.instance, node->instance))
        return;         //  our own, looped back
    if (!otp_gossip_guard_accept (self->guard, &msg, (uint64_t) zclock_time ())) {
        node->stats.gossip_rejected_replay++;
        if (otp_log_ratelimit (&self->warned_replay, 10000))
            otp_warn ("gossip: dropped an announcement of %s from %s: replayed, or outside "
                      "the %d ms window; %" PRIu64 " so far", msg.node, source,
                      OTP_GOSSIP_WINDOW_MS, node->stats.gossip_rejected_replay);
        return;
    }
    if (ours) {
        //  Not a replay of our last instance: a mistake in the names.
        if (otp_log_ratelimit (&self->warned_name, 10000))
            otp_warn ("gossip: another node announces our name from %s (%s:%d)", source,
                      msg.host, msg.port);
        return;
    }
    node->stats.gossip_received++;
    heard_t *heard = (heard_t *) zhashx_lookup (self->heard, msg.node);
    if (!heard) {
        heard = (heard_t *) zmalloc (sizeof (heard_t));
        zhashx_insert (self->heard, msg.node, heard);
    }
    if (!streq (heard->instance, msg.instance)) {
        //  A new instance of the name: whatever the old one said is void.
        snprintf (heard->instance, sizeof heard->instance, "%s", msg.instance);
        heard->leaving = false;
    }
    snprintf (heard->host, sizeof heard->host, "%s", msg.host);
    heard->port = msg.port;
    heard->heard = zclock_mono ();
    if (msg.kind == OTP_GOSSIP_LEAVE) {
        if (!heard->leaving)
            otp_info ("gossip: %s is leaving; not dialling it again", msg.node);
        heard->leaving = true;
        heard->pending = false;
    }
    else {
        //  A node we have no connection to (a newcomer, or one back from a
        //  cut) hears from us at once, not an interval later: every node
        //  that hears our answer dials it too. At most one answer per
        //  quarter interval, so that twenty nodes starting together do not
        //  flood the LAN.
        int64_t now = zclock_mono ();
        if (!zhashx_lookup (node->peers, msg.node) && !node->draining
        &&  now - self->answered >= node->config->gossip_interval_ms / 4) {
            self->answered = now;
            s_announce (self);
        }
        s_dial (self, msg.node, heard);
    }
}

static int
s_on_readable (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    state_t *self = (state_t *) arg;
    //  One byte more than the largest announcement, so that MSG_TRUNC tells
    //  a datagram too large; a bounded batch, so that a flood does not
    //  starve the heartbeats.
    uint8_t data [OTP_GOSSIP_MAX + 1];
    for (int i = 0; i < 64; i++) {
        struct sockaddr_in from;
        socklen_t from_size = sizeof from;
        ssize_t size = recvfrom (self->rx, data, sizeof data, MSG_TRUNC,
                                 (struct sockaddr *) &from, &from_size);
        if (size < 0)
            break;      //  EAGAIN: all read
        s_on_datagram (self, data, (size_t) size > sizeof data? sizeof data: (size_t) size, &from);
    }
    return 0;
}

static int s_on_timer (zloop_t *loop, int timer_id, void *arg);

//  The next announcement, 0.75 to 1.25 intervals from now. Nodes started
//  together would otherwise all announce in the same instant every
//  interval, and a host back from a cut would wait for that instant to be
//  heard; spread out, the first of them comes within a fraction of it.
static void
s_schedule (state_t *self)
{
    uint32_t interval = (uint32_t) self->node->config->gossip_interval_ms;
    size_t delay = interval * 3 / 4 + randombytes_uniform (interval / 2 + 1);
    self->timer = zloop_timer (self->node->loop, delay > 0? delay: 1, 1, s_on_timer, self);
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    state_t *self = (state_t *) arg;
    s_announce (self);
    s_schedule (self);
    //  Names not heard for twice the replay window are forgotten: by then
    //  any capture of theirs is out of the window anyway.
    uint64_t now = (uint64_t) zclock_time ();
    otp_gossip_guard_expire (self->guard, now);
    zlistx_t *old = zlistx_new ();
    for (heard_t *heard = (heard_t *) zhashx_first (self->heard); heard;
         heard = (heard_t *) zhashx_next (self->heard))
        if (zclock_mono () - heard->heard > 2 * OTP_GOSSIP_WINDOW_MS)
            zlistx_add_end (old, (void *) zhashx_cursor (self->heard));
    for (const char *name = (const char *) zlistx_first (old); name;
         name = (const char *) zlistx_next (old))
        zhashx_delete (self->heard, name);
    zlistx_destroy (&old);
    return 0;
}

static void *
s_init (node_t *node, char *error, size_t error_size)
{
    const node_config_t *config = node->config;
    state_t *self = (state_t *) zmalloc (sizeof (state_t));
    self->node = node;
    self->rx = self->tx = -1;
    otp_gossip_key (self->key, config->cookie);
    self->to.sin_family = AF_INET;
    self->to.sin_port = htons ((uint16_t) config->gossip_port);
    if (inet_pton (AF_INET, config->gossip_address, &self->to.sin_addr) != 1) {
        snprintf (error, error_size, "gossip address '%s' is not an IPv4 address",
                  config->gossip_address);
        free (self);
        return NULL;
    }
    self->rx = otp_gossip_receiver (config->gossip_address, config->gossip_port,
                                    config->gossip_if, error, error_size);
    if (self->rx >= 0)
        self->tx = otp_gossip_sender (config->gossip_address, config->gossip_if,
                                      config->gossip_ttl, error, error_size);
    if (self->tx < 0) {
        if (self->rx >= 0)
            close (self->rx);
        free (self);
        return NULL;
    }
    self->guard = otp_gossip_guard_new (OTP_GOSSIP_WINDOW_MS);
    self->heard = zhashx_new ();
    zhashx_set_destructor (self->heard, s_heard_free);
    self->item = (zmq_pollitem_t) { NULL, self->rx, ZMQ_POLLIN, 0 };
    zloop_poller (node->loop, &self->item, s_on_readable, self);
    s_schedule (self);
    otp_info ("gossip: %s %s:%d every %d ms, ttl %d, interface %s",
              config->gossip_broadcast? "broadcast to": "multicast group",
              config->gossip_address, config->gossip_port, config->gossip_interval_ms,
              config->gossip_ttl, *config->gossip_if? config->gossip_if: "any");
    return self;
}

static void
s_tick (void *state, node_t *node)
{
    state_t *self = (state_t *) state;
    //  At start, and when a drain begins (node.c ticks then): at once, not
    //  an interval later.
    if (!self->announced || (node->draining && !self->leave_logged))
        s_announce (self);
    //  Nodes heard while their host was being resolved (a DNS answer ticks).
    int64_t fresh = zclock_mono () - 3 * (int64_t) node->config->gossip_interval_ms;
    for (heard_t *heard = (heard_t *) zhashx_first (self->heard); heard;
         heard = (heard_t *) zhashx_next (self->heard))
        if (heard->pending && heard->heard > fresh)
            s_dial (self, (const char *) zhashx_cursor (self->heard), heard);
}

static void
s_destroy (void *state)
{
    state_t *self = (state_t *) state;
    node_t *node = self->node;
    //  Stopping: one last word, so that nobody who heard us dials us again.
    if (node->stopping)
        s_announce (self);
    zloop_poller_end (node->loop, &self->item);
    zloop_timer_end (node->loop, self->timer);
    close (self->rx);
    close (self->tx);
    otp_gossip_guard_destroy (&self->guard);
    zhashx_destroy (&self->heard);
    free (self);
}

const strategy_ops_t strategy_gossip_ops = { "gossip", s_init, s_tick, s_destroy };
