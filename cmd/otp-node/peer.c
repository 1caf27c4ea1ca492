/*  The mesh: one outgoing DEALER per peer; the peer's own DEALER reaches
    our ROUTER. A socket monitor watches our DEALER only until its CURVE
    handshake ends: after that, the peer's connection to our ROUTER tells
    when it dies (the ROUTER's monitor names the descriptor that closed), so
    a peer costs one socket and no poll item, however many there are.

    A peer is up when both directions are proven: our DEALER finished its
    CURVE handshake with the peer's ROUTER, and the peer's HELLO reached our
    ROUTER. A peer goes down when our connection to it closes (a killed node:
    the kernel closes its sockets, we hear it at once), when it has been
    silent for the time-out (a frozen node or a cut link), or when it says
    BYE (it leaves on purpose and must not be dialled again while it drains).
    How long "silent" is, is otp_detector's to say (local health, the
    interval each peer says it beats at).

    Dialling is bounded: a peer dropped is dialled again only after a
    back-off with jitter (REDIAL_*), new dials draw from a bucket (DIAL_*),
    and a dial that would leave fewer than OTP_FD_RESERVE descriptors is
    not made (logged once in a while), so that clients are still served.

    Each record of a peer has a random link; every HELLO carries the
    sender's link and the link of our record it has heard from ("-": none).
    A HELLO that answers a record of ours we have dropped is stale and
    ignored; one from a new record of the peer that has not heard ours
    means it dropped us and dialled again, so we drop our side too and dial
    back: both views go down and up together, as Erlang's do after a broken
    connection. A record that gets a HELLO which has not heard it says its
    own HELLO again. Without links, two records made at once on each side
    (each dropped the other) answered each other's stale HELLOs for ever. */
#include "node.h"
#include <sodium.h>

#define REDIAL_MIN_MS 100           //  first back-off after a drop
#define REDIAL_MAX_MS 2000          //  longest, after repeated drops
#define REFUSED_MAX_MS 30000        //  longest after refusals (it is short of descriptors)
#define REDIAL_STABLE_MS 10000      //  up this long: the next drop starts afresh
#define DIAL_RATE 64                //  new dials a second, sustained
#define DIAL_BURST 128              //  and at once (a cluster met at start)
#define DIAL_FDS 4                  //  descriptors a dial takes while it connects
//  A dial whose TCP connection is made, or whose handshake is done, is
//  waited for this long (not connect_timeout_ms): the peer is there, only
//  busy - a hundred nodes meeting at once make thousands of handshakes,
//  and giving up on them would only make them again.
#define DIAL_SETUP_MS 15000
//  A peer is told what we received from it every ACK_EVERY bytes of ROUTE.
#define ACK_EVERY (256 * 1024)

typedef struct {
    int attempts;
    int64_t not_before;
} redial_t;

struct _peer_t {
    node_t *node;
    char name [OTP_NODE_MAX + 1];
    char host [OTP_HOST_MAX + 1];
    int port;
    char instance [33];             //  known once its HELLO arrived
    zsock_t *dealer;
    otp_monitor_t *monitor;         //  until our DEALER's handshake ends
    int in_fd;                      //  its connection to our ROUTER; -1: not known
    int promised_ms;                //  the interval we last said we beat it at
    int announced_ms;               //  the interval it said it beats us at; 0: not yet
    int need_ms;                    //  the interval it needs from us (its fixed heartbeat); 0: any
    int health;                     //  its local-health score, as it said
    int64_t stalled_at;             //  our detector's stalled_ms at last_in
    int64_t up_at;
    bool legacy;                    //  its HELLO had no links: an older node (HELLO, HB as it knows them)
    char link [17];                 //  this record's nonce, in each HELLO we send
    char their_link [17];           //  the nonce of its record we have a HELLO from
    bool closing;                   //  its connection to our ROUTER closed (peer_disconnected)
    bool connected;                 //  our DEALER's TCP connection is made
    bool handshaken;                //  our DEALER completed CURVE
    bool hello_in;                  //  its HELLO reached us
    bool up;
    bool dead;                      //  dropped; freed at the next tick
    int64_t created, last_in, last_out;
    //  The byte budget (ACK): ROUTE bytes sent to it and acknowledged, and
    //  received from it and acknowledged. A peer is held to the budget
    //  once it has sent an ACK (an older node never does).
    uint64_t sent, acked, got, got_acked;
    bool acks;                      //  it acknowledges
    bool over;                      //  over the budget: ROUTEs to it are dropped
    uint64_t over_drops;            //  in this episode
    int64_t over_warned;            //  the last "over its budget" line (one per 10 s)
};

static void s_peer_destroy (peer_t **self_p);

static void
s_peer_free (void **item)
{
    s_peer_destroy ((peer_t **) item);
}

static void
s_monitor_free (void **item)
{
    otp_monitor_destroy ((otp_monitor_t **) item);
}

void
peer_table_new (node_t *node)
{
    node->graveyard = zlistx_new ();
    zlistx_set_destructor (node->graveyard, s_peer_free);
    node->monitor_graveyard = zlistx_new ();
    zlistx_set_destructor (node->monitor_graveyard, s_monitor_free);
    node->redial = zhashx_new ();
    zhashx_set_destructor (node->redial, (zhashx_destructor_fn *) zstr_free);
    node->dial_tokens = DIAL_BURST;
    node->dial_tokens_at = zclock_mono ();
    //  No destructor: a peer leaves the table for the graveyard first.
    node->peers = zhashx_new ();
    node->left = zhashx_new ();
    zhashx_set_destructor (node->left, (zhashx_destructor_fn *) zstr_free);
    zhashx_set_duplicator (node->left, (zhashx_duplicator_fn *) strdup);
}

void
peer_table_destroy (node_t *node)
{
    for (peer_t *peer = (peer_t *) zhashx_first (node->peers); peer;
         peer = (peer_t *) zhashx_next (node->peers))
        zlistx_add_end (node->graveyard, peer);
    zhashx_destroy (&node->peers);
    zhashx_destroy (&node->left);
    zhashx_destroy (&node->redial);
    //  Monitors first: each stops watching a DEALER that must still exist.
    zlistx_destroy (&node->monitor_graveyard);
    zlistx_destroy (&node->graveyard);
}

static void
s_peer_destroy (peer_t **self_p)
{
    peer_t *self = *self_p;
    if (self) {
        otp_monitor_destroy (&self->monitor);
        zsock_destroy (&self->dealer);
        free (self);
        *self_p = NULL;
    }
}

static int s_on_monitor (zloop_t *loop, zsock_t *sock, void *arg);

//  The descriptor of the peer's connection to our ROUTER. One descriptor
//  is one connection: a peer still holding it (its close came before we
//  knew the descriptor was its own) holds a number now reused.
static void
s_set_in_fd (node_t *node, peer_t *peer, int fd)
{
    if (fd < 0 || peer->in_fd == fd)
        return;
    for (peer_t *other = (peer_t *) zhashx_first (node->peers); other;
         other = (peer_t *) zhashx_next (node->peers))
        if (other != peer && other->in_fd == fd)
            other->in_fd = -1;
    peer->in_fd = fd;
}

//  Stops watching the DEALER's handshake. zloop may still poll the monitor
//  in the current round (a timer runs before the readers), so it is freed
//  at the next tick.
static void
s_retire_monitor (node_t *node, peer_t *peer)
{
    if (peer->monitor) {
        zloop_reader_end (node->loop, otp_monitor_socket (peer->monitor));
        zlistx_add_end (node->monitor_graveyard, peer->monitor);
        peer->monitor = NULL;
    }
}

//  After a drop, `name` is dialled again only after a back-off that
//  doubles with each drop (from REDIAL_MIN_MS to `max_ms`), less a
//  random part, so that peers dropped together do not come back together.
static void
s_back_off (node_t *node, peer_t *peer, int64_t now, int64_t max_ms)
{
    redial_t *redial = (redial_t *) zhashx_lookup (node->redial, peer->name);
    if (!redial) {
        redial = (redial_t *) zmalloc (sizeof (redial_t));
        zhashx_insert (node->redial, peer->name, redial);
    }
    if (peer->up && now - peer->up_at >= REDIAL_STABLE_MS)
        redial->attempts = 0;
    if (redial->attempts < 16)
        redial->attempts++;
    int64_t delay = (int64_t) REDIAL_MIN_MS << (redial->attempts - 1);
    if (delay > max_ms)
        delay = max_ms;
    delay = delay / 2 + randombytes_uniform ((uint32_t) (delay / 2 + 1));
    redial->not_before = now + delay;
}

//  Forgets a peer; reports nodedown if it was up.
static void
s_drop (node_t *node, peer_t *peer, const char *reason)
{
    if (peer->up) {
        node->stats.nodedowns++;
        node_event (node, "nodedown", peer->name, reason);
    }
    else
        otp_debug ("gave up on %s: %s", peer->name, reason);
    if (!streq (reason, "left"))
        s_back_off (node, peer, zclock_mono (),
                    streq (reason, "refused")? REFUSED_MAX_MS: REDIAL_MAX_MS);
    if (peer->closing) {
        peer->closing = false;
        node->peers_closing--;
    }
    s_retire_monitor (node, peer);
    //  What was queued for it goes with its DEALER: give the memory back.
    if (peer->sent - peer->acked > ACK_EVERY * 4)
        node_trim_later (node);
    //  The DEALER too outlives the round: it is freed at the next tick.
    peer->dead = true;
    zhashx_delete (node->peers, peer->name);
    zlistx_add_end (node->graveyard, peer);
}

static void
s_check_up (node_t *node, peer_t *peer)
{
    if (!peer->up && peer->handshaken && peer->hello_in) {
        peer->up = true;
        //  Silence counts from now: the peer beats us only once it has us
        //  up too, and our own handshake may have come long after its HELLO.
        peer->up_at = peer->last_in = zclock_mono ();
        peer->stalled_at = node->detector.stalled_ms;
        node->stats.nodeups++;
        //  Until now the monitor told if the peer closed our connection
        //  before it said HELLO (it had no descriptor for us); from now on
        //  its own connection to our ROUTER says when it goes.
        s_retire_monitor (node, peer);
        node_event (node, "nodeup", peer->name, NULL);
    }
}

static int
s_send (node_t *node, peer_t *peer, zmsg_t **msg)
{
    size_t size = zmsg_content_size (*msg);
    if (otp_send (msg, peer->dealer)) {
        node->stats.dropped++;
        return -1;
    }
    node->stats.msgs_out++;
    node->stats.bytes_out += size;
    peer->last_out = zclock_mono ();
    return 0;
}

//  "Dial me back at host:port": `mode` says why (see the top of the file).
static void
s_hello (node_t *node, peer_t *peer, const char *mode)
{
    zmsg_t *hello = zmsg_new ();
    zmsg_addstr (hello, "HELLO");
    zmsg_addstr (hello, OTP_PROTO_VERSION);
    zmsg_addstr (hello, node->name);
    zmsg_addstr (hello, node->instance);
    zmsg_addstr (hello, node->host);
    zmsg_addstrf (hello, "%d", node->port);
    zmsg_addstr (hello, mode);
    if (!peer->legacy) {
        zmsg_addstr (hello, peer->link);
        zmsg_addstr (hello, *peer->their_link? peer->their_link: "-");
    }
    s_send (node, peer, &hello);
}

//  Dials `name`; `their_link` is the link of the HELLO we answer ("" when
//  we dial of our own accord); `legacy`: that HELLO had no links, so ours
//  has none either (an older node refuses arguments it does not know).
static peer_t *
s_dial (node_t *node, const char *name, const char *host, int port, const char *mode,
        const char *their_link, bool legacy)
{
    //  Numeric addresses only reach libzmq (see dns.c).
    const char *address = dns_address (node->dns, host);
    if (!address)
        return NULL;
    //  A socket that cannot be had would abort in CZMQ: count first.
    if (!otp_limits_fd_room (DIAL_FDS)) {
        node->stats.dials_refused++;
        if (otp_log_ratelimit (&node->fd_warned, 10000))
            otp_warn ("not dialling %s: %d of %d descriptors in use, %zu peer(s) held "
                      "(the limit is ulimit -n); %" PRIu64 " dial(s) refused so far",
                      name, otp_limits_fd_used (), otp_limits_fd_max (),
                      zhashx_size (node->peers), node->stats.dials_refused);
        return NULL;
    }
    node->stats.dials++;
    peer_t *peer = (peer_t *) zmalloc (sizeof (peer_t));
    peer->node = node;
    snprintf (peer->name, sizeof peer->name, "%s", name);
    snprintf (peer->host, sizeof peer->host, "%s", host);
    peer->port = port;
    peer->created = peer->last_in = zclock_mono ();
    peer->stalled_at = node->detector.stalled_ms;
    peer->in_fd = -1;
    peer->promised_ms = node->config->heartbeat_ms;
    uint8_t random [8];
    randombytes_buf (random, sizeof random);
    sodium_bin2hex (peer->link, sizeof peer->link, random, sizeof random);
    snprintf (peer->their_link, sizeof peer->their_link, "%s", their_link);
    peer->legacy = legacy;
    peer->dealer = zsock_new (ZMQ_DEALER);
    zsock_set_sndhwm (peer->dealer, OTP_HWM);
    otp_sock_harden (peer->dealer);
    //  Our routing id at the peer's ROUTER is our name: that is how it
    //  knows who speaks. CURVE and the ZAP check make it trustworthy.
    zsock_set_identity (peer->dealer, node->name);
    otp_auth_client (peer->dealer, &node->keys);
    peer->monitor = otp_monitor_new (peer->dealer,
        ZMQ_EVENT_CONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED
      | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
      | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    if (!peer->monitor) {
        node->stats.dials_refused++;
        otp_warn ("not dialling %s: cannot watch a socket (%s)", name, zmq_strerror (zmq_errno ()));
        s_peer_destroy (&peer);
        return NULL;
    }
    zloop_reader (node->loop, otp_monitor_socket (peer->monitor), s_on_monitor, peer);
    otp_limits_took (DIAL_FDS);
    if (zsock_connect (peer->dealer, "tcp://%s:%d", address, port)) {
        otp_warn ("cannot connect to %s at %s:%d", name, host, port);
        zloop_reader_end (node->loop, otp_monitor_socket (peer->monitor));
        s_peer_destroy (&peer);
        return NULL;
    }
    zhashx_insert (node->peers, peer->name, peer);
    s_hello (node, peer, mode);
    otp_debug ("dialling %s at %s:%d", name, host, port);
    return peer;
}

//  A peer dialled us and we have no descriptor to spare to dial it back: its connection would hold one of ours
//  for its whole set-up time, and then again with every retry. Closing it
//  tells the peer at once (its dial monitor sees the close before our
//  HELLO) and it backs off. `fd` is the connection its HELLO came on, just
//  read after the pending closes (s_read_router): libzmq cannot have
//  closed and reused it since. The check of our own port on it keeps any
//  other descriptor safe all the same.
static void
s_refuse (node_t *node, int fd)
{
    struct sockaddr_storage local;
    socklen_t len = sizeof local;
    if (fd < 0 || getsockname (fd, (struct sockaddr *) &local, &len))
        return;
    int port = local.ss_family == AF_INET? ntohs (((struct sockaddr_in *) &local)->sin_port)
             : local.ss_family == AF_INET6? ntohs (((struct sockaddr_in6 *) &local)->sin6_port)
             : -1;
    if (port != node->port)
        return;
    node->stats.peers_refused++;
    shutdown (fd, SHUT_RDWR);
}

//  Our HELLO once more, on the connection we have: the peer dialled us
//  afresh, so its new record has not seen the one we sent when we dialled
//  (it dropped us and came back, or our HELLO reached it before it could
//  resolve our host).
static void
s_hello_again (node_t *node, peer_t *peer)
{
    s_hello (node, peer, "again");
}

void
peer_connect (node_t *node, const char *name, const char *host, int port)
{
    //  Draining: the holders hand off to the peers we have; a node met now
    //  would only see us leave.
    if (node->stopping || node->draining || streq (name, node->name)
    ||  zhashx_lookup (node->peers, name))
        return;
    int64_t now = zclock_mono ();
    redial_t *redial = (redial_t *) zhashx_lookup (node->redial, name);
    if (redial && now < redial->not_before) {
        node->stats.dials_deferred++;
        return;         //  backing off; the strategy finds it again later
    }
    //  The bucket: handshakes cost CPU, and a node that lost many peers at
    //  once must not spend it all on dialling them back together.
    node->dial_tokens += (double) (now - node->dial_tokens_at) * DIAL_RATE / 1000;
    if (node->dial_tokens > DIAL_BURST)
        node->dial_tokens = DIAL_BURST;
    node->dial_tokens_at = now;
    if (node->dial_tokens < 1) {
        node->stats.dials_deferred++;
        return;
    }
    //  A node that left unregistered first, so a strategy finding it again
    //  has found a new instance: forget the old one's goodbye.
    zhashx_delete (node->left, name);
    if (s_dial (node, name, host, port, "dial", "", false))
        node->dial_tokens -= 1;
}

static int
s_on_monitor (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    (void) sock;
    peer_t *peer = (peer_t *) arg;
    node_t *node = peer->node;
    int value = 0;
    //  A peer dropped (or whose handshake ended) in this round has no
    //  monitor any more, but zloop may still call its ended reader.
    if (peer->dead || !peer->monitor)
        return 0;
    int event = otp_monitor_read (peer->monitor, &value);
    switch (event) {
        case ZMQ_EVENT_CONNECTED:
            peer->connected = true;
            break;
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            peer->handshaken = true;
            s_check_up (node, peer);
            break;
        case ZMQ_EVENT_DISCONNECTED:
            //  Handshaken, not yet up: the peer closed our connection
            //  before its HELLO - it has no descriptor to dial us back
            //  (s_refuse). The back-off spaces our next try; libzmq alone
            //  would reconnect every 100 ms and hold one of its few
            //  descriptors all along.
            if (peer->handshaken && !peer->up)
                s_drop (node, peer, "refused");
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            node->stats.handshake_failures++;
            if (otp_log_ratelimit (&node->handshake_warned, 10000))
                otp_warn ("cannot join %s: it refused our handshake (another cookie?)", peer->name);
            s_drop (node, peer, "handshake failed");
            break;
        default:
            break;
    }
    return 0;
}

static void
s_on_hello (node_t *node, const char *from, int fd, zmsg_t *msg)
{
    char version [8], name [OTP_NODE_MAX + 1], instance [33], host [OTP_HOST_MAX + 1];
    char short_name [OTP_NAME_MAX + 1], name_host [OTP_HOST_MAX + 1], mode [8] = "dial";
    char link [17] = "", echo [17] = "-";
    long port;
    if (otp_msg_str (msg, 0, version, sizeof version) || !streq (version, OTP_PROTO_VERSION)
    ||  otp_msg_str (msg, 1, name, sizeof name) || !streq (name, from)
    ||  otp_node_split (name, short_name, sizeof short_name, name_host, sizeof name_host)
    ||  otp_msg_str (msg, 2, instance, sizeof instance) || !*instance
    ||  otp_msg_str (msg, 3, host, sizeof host) || !otp_host_valid (host)
    ||  otp_msg_int (msg, 4, 1, 65535, &port)
    ||  (zmsg_size (msg) > 6 && (otp_msg_str (msg, 5, mode, sizeof mode)
                              || !(streq (mode, "dial") || streq (mode, "back") || streq (mode, "again"))))
    ||  zmsg_size (msg) == 8        //  a link without its echo
    ||  (zmsg_size (msg) > 8 && (otp_msg_str (msg, 6, link, sizeof link) || !*link
                              || otp_msg_str (msg, 7, echo, sizeof echo) || !*echo))) {
        node->stats.bad_messages++;
        otp_warn ("ignored a malformed HELLO from %s", from);
        return;
    }
    if (node->stopping)
        return;         //  leaving: nobody joins us now
    if (node->draining && !zhashx_lookup (node->peers, name))
        return;         //  nor while draining; a peer we have may reconnect
    char *left = (char *) zhashx_lookup (node->left, name);
    if (left) {
        if (streq (left, instance))
            return;     //  it said BYE; a late HELLO must not bring it back
        zhashx_delete (node->left, name);   //  a new instance of it
    }
    peer_t *peer = (peer_t *) zhashx_lookup (node->peers, name);
    bool restarted = peer && *peer->instance && !streq (peer->instance, instance);
    if (restarted) {
        s_drop (node, peer, "restarted");
        peer = NULL;
    }
    else
    if (peer && *link) {
        //  Links (see the top of the file) tell a HELLO that answers ours
        //  from one of a record the peer has dropped or made anew.
        bool answers_ours = streq (echo, peer->link);
        if (!streq (echo, "-") && !answers_ours)
            return;     //  it answers a record of ours that is gone: stale
        if (peer->hello_in && streq (link, peer->their_link))
            return;     //  the record we know: nothing new
        if (peer->hello_in && !answers_ours) {
            //  A new record of it that has not heard ours: it dropped us
            //  and dialled again, so both sides start afresh.
            s_drop (node, peer, "reconnected");
            peer = NULL;
        }
    }
    else
    if (peer && peer->hello_in) {
        //  A HELLO without links (an older node): a second one means it
        //  dialled again.
        if (streq (mode, "again"))
            return;
        s_drop (node, peer, "reconnected");
        peer = NULL;
    }
    if (!peer) {
        if (!streq (echo, "-"))
            return;     //  answers a record of ours that is gone; its close tells it
        peer = s_dial (node, name, host, (int) port, "back", link, !*link);
        if (!peer) {
            if (!otp_limits_fd_room (DIAL_FDS))
                s_refuse (node, fd);
            return;
        }
    }
    else {
        peer->legacy = !*link;
        snprintf (peer->their_link, sizeof peer->their_link, "%s", link);
        //  Its record has not heard ours yet (it dialled too, or our HELLO
        //  reached it before it could resolve our host): say it again.
        if (!streq (echo, peer->link))
            s_hello_again (node, peer);
    }
    snprintf (peer->instance, sizeof peer->instance, "%s", instance);
    peer->hello_in = true;
    s_set_in_fd (node, peer, fd);
    peer->last_in = zclock_mono ();
    peer->stalled_at = node->detector.stalled_ms;
    s_check_up (node, peer);
}

void
peer_on_message (node_t *node, const char *from, int fd, int cmd, zmsg_t *msg)
{
    peer_t *peer = (peer_t *) zhashx_lookup (node->peers, from);
    if (cmd == NODE_HELLO) {
        //  A HELLO `dial` or `back` comes first on a new connection: the one
        //  that closed is over (an `again` may still be the old one's).
        char mode [8] = "dial";
        if (zmsg_size (msg) > 6)
            otp_msg_str (msg, 5, mode, sizeof mode);
        if (peer && peer->closing && !streq (mode, "again"))
            s_drop (node, peer, "connection closed");
        s_on_hello (node, from, fd, msg);
        return;
    }
    if (!peer || !peer->hello_in)
        return;         //  traffic from a peer we dropped: it will time out too
    peer->last_in = zclock_mono ();
    peer->stalled_at = node->detector.stalled_ms;
    if (!peer->closing)
        s_set_in_fd (node, peer, fd);   //  reconnected (ROUTER_HANDOVER): its new connection
    if (cmd == NODE_HB) {
        //  HB [interval health [need]]: how often it beats us, how slow it
        //  knows itself to be (otp_detector), and how often it needs us to
        //  beat it (a node whose settings are fixed). A bare HB keeps the last.
        long interval, health, need = 0;
        node->stats.heartbeats_in++;
        if (zmsg_size (msg) == 2)
            node->stats.bad_messages++;     //  an interval without a health
        if (zmsg_size (msg) >= 3) {
            //  Within our own bounds for the interval: a frozen peer that
            //  said it beats once an hour must not be waited for that long.
            if (otp_msg_int (msg, 0, 1, 600000, &interval) == 0
            &&  otp_msg_int (msg, 1, 0, OTP_DETECTOR_SCORE_MAX, &health) == 0
            &&  (zmsg_size (msg) < 4 || otp_msg_int (msg, 2, 0, 600000, &need) == 0)) {
                peer->announced_ms = (int) interval;
                peer->health = (int) health;
                peer->need_ms = (int) need;
            }
            else
                node->stats.bad_messages++;
        }
    }
    else
    if (cmd == NODE_BYE) {
        zhashx_update (node->left, peer->name, peer->instance);
        s_drop (node, peer, "left");
    }
    else
    if (cmd == NODE_ROUTE && peer->up) {
        char sender [OTP_NODE_MAX + OTP_NAME_MAX + 2], to [OTP_NAME_MAX + 1], to_node [OTP_NODE_MAX + 1];
        char kind [8];
        if (otp_msg_str (msg, 0, sender, sizeof sender) || otp_msg_str (msg, 1, to, sizeof to)
        ||  otp_msg_str (msg, 2, to_node, sizeof to_node) || !streq (to_node, node->name)
        ||  otp_msg_kind (msg, 4, kind, sizeof kind)) {
            node->stats.bad_messages++;
            return;
        }
        //  Counted as the sender counts it (the frames after the routing id),
        //  and acknowledged without touching last_out: an ACK is not a
        //  heartbeat to an older node, which drops it as unknown.
        peer->got += zmsg_content_size (msg);
        //  The payload is taken out, not copied (see client.c's s_on_send).
        zframe_t *ref = *kind? otp_msg_arg (msg, 5): NULL;
        zframe_t *payload = otp_msg_arg (msg, 3);
        zmsg_remove (msg, payload);
        client_deliver (node, sender, to, &payload, kind, ref);
        if (peer->got - peer->got_acked >= ACK_EVERY) {
            zmsg_t *ack = zmsg_new ();
            zmsg_addstr (ack, "ACK");
            zmsg_addstrf (ack, "%" PRIu64, peer->got);
            if (otp_send (&ack, peer->dealer) == 0)
                peer->got_acked = peer->got;
        }
    }
    else
    if (cmd == NODE_ACK) {
        long total;
        if (otp_msg_int (msg, 0, 0, LONG_MAX, &total)) {
            node->stats.bad_messages++;
            return;
        }
        peer->acks = true;
        uint64_t acked = (uint64_t) total < peer->sent? (uint64_t) total: peer->sent;
        if (acked > peer->acked)
            peer->acked = acked;
        if (peer->over && peer->sent - peer->acked < node->config->peer_budget) {
            otp_info ("peer %s reads again: %" PRIu64 " messages to it were dropped "
                      "while it was over its budget", peer->name, peer->over_drops);
            peer->over = false;
            peer->over_drops = 0;
        }
    }
}

void
peer_tick (node_t *node)
{
    zlistx_purge (node->monitor_graveyard);
    zlistx_purge (node->graveyard);
    int64_t now = zclock_mono ();
    otp_detector_t *detector = &node->detector;
    int64_t late = otp_detector_tick (detector, now);
    if (late >= 200 && otp_log_ratelimit (&node->stall_warned, 10000))
        otp_info ("this node was stopped or starved for %" PRId64 " ms: that time is not "
                  "counted against its peers (health %d; %" PRIu64 " stall(s) so far)",
                  late, detector->score, detector->stalls);
    //  Messages that came while we were not looking are signs of life: read
    //  them before judging anyone silent.
    node_read_pending (node, 1000);
    if (node->stopping)
        return;
    peer_reap_closed (node);
    now = zclock_mono ();
    int up = 0;
    for (peer_t *peer = (peer_t *) zhashx_first (node->peers); peer;
         peer = (peer_t *) zhashx_next (node->peers))
        up += peer->up;
    int interval = otp_detector_interval (detector, up);
    node->interval_ms = interval;
    zlistx_t *dead = zlistx_new ();
    for (peer_t *peer = (peer_t *) zhashx_first (node->peers); peer;
         peer = (peer_t *) zhashx_next (node->peers)) {
        //  Any message is a heartbeat; an idle link gets HB at the interval,
        //  or sooner if we last promised a shorter one, or the peer's fixed
        //  settings need one (it does not stretch its time-out for us).
        int keep = peer->need_ms > 0 && peer->need_ms < interval? peer->need_ms: interval;
        int due = keep < peer->promised_ms? keep: peer->promised_ms;
        if (peer->up && now - peer->last_out >= due) {
            zmsg_t *hb = zmsg_new ();
            zmsg_addstr (hb, "HB");
            if (!peer->legacy) {
                zmsg_addstrf (hb, "%d", keep);
                zmsg_addstrf (hb, "%d", detector->score);
                zmsg_addstrf (hb, "%d", detector->fixed? detector->heartbeat_ms: 0);
            }
            if (s_send (node, peer, &hb) == 0) {
                peer->promised_ms = keep;
                node->stats.heartbeats_out++;
            }
        }
        int64_t silence = otp_detector_silence (detector, now, peer->last_in, peer->stalled_at);
        //  Until it says, a peer is taken to beat at our own interval: it
        //  sees a cluster of about our size.
        int announced = peer->announced_ms? peer->announced_ms: interval;
        if (peer->up
        &&  silence > otp_detector_timeout (detector, announced, peer->health))
            zlistx_add_end (dead, peer);
        else
        if (!peer->up && now - peer->created > (peer->connected || peer->handshaken
                                                 || peer->hello_in? DIAL_SETUP_MS
                                                 : node->config->connect_timeout_ms))
            zlistx_add_end (dead, peer);
    }
    for (peer_t *peer = (peer_t *) zlistx_first (dead); peer; peer = (peer_t *) zlistx_next (dead))
        s_drop (node, peer, peer->up? "no heartbeat": "not reachable");
    zlistx_destroy (&dead);
    //  Back-offs long past are forgotten: the table stays the size of the
    //  peers that come and go now.
    if (zhashx_size (node->redial) > zhashx_size (node->peers) + 64) {
        zlistx_t *old = zlistx_new ();
        for (redial_t *redial = (redial_t *) zhashx_first (node->redial); redial;
             redial = (redial_t *) zhashx_next (node->redial))
            if (now - redial->not_before > 60000)
                zlistx_add_end (old, (void *) zhashx_cursor (node->redial));
        for (const char *name = (const char *) zlistx_first (old); name;
             name = (const char *) zlistx_next (old))
            zhashx_delete (node->redial, name);
        zlistx_destroy (&old);
    }
}

void
peer_disconnected (node_t *node, int fd)
{
    if (fd < 0)
        return;
    for (peer_t *peer = (peer_t *) zhashx_first (node->peers); peer;
         peer = (peer_t *) zhashx_next (node->peers))
        if (peer->in_fd == fd) {
            //  What it sent before it closed may still wait on the ROUTER
            //  (a BYE says it left, and is not a crash): the drop comes
            //  after those (peer_reap_closed), or before its next HELLO,
            //  which comes on a new connection.
            peer->in_fd = -1;
            if (!peer->closing)
                node->peers_closing++;
            peer->closing = true;
            return;
        }
}

void
peer_reap_closed (node_t *node)
{
    if (node->peers_closing == 0)
        return;
    zlistx_t *closed = NULL;
    for (peer_t *peer = (peer_t *) zhashx_first (node->peers); peer;
         peer = (peer_t *) zhashx_next (node->peers))
        if (peer->closing) {
            if (!closed)
                closed = zlistx_new ();
            zlistx_add_end (closed, peer);
        }
    if (!closed)
        return;
    for (peer_t *peer = (peer_t *) zlistx_first (closed); peer;
         peer = (peer_t *) zlistx_next (closed))
        s_drop (node, peer, "connection closed");
    zlistx_destroy (&closed);
}

int
peer_send (node_t *node, const char *name, zmsg_t **msg)
{
    peer_t *peer = (peer_t *) zhashx_lookup (node->peers, name);
    if (!peer || !peer->up) {
        zmsg_destroy (msg);
        node->stats.dropped++;
        return -1;
    }
    //  A peer that does not read (frozen, starved) holds what we queue for
    //  it until its heartbeats are missed, a second or so: at a gigabyte a
    //  second, too much. Over the budget, messages to it are dropped.
    if (peer->acks && peer->sent - peer->acked >= node->config->peer_budget) {
        if (!peer->over) {
            peer->over = true;
            if (otp_log_ratelimit (&peer->over_warned, 10000))
                otp_warn ("peer %s is over its budget: %" PRIu64 " bytes unacknowledged (budget %"
                          PRIu64 "); messages to it are dropped", peer->name,
                          peer->sent - peer->acked, node->config->peer_budget);
        }
        peer->over_drops++;
        node->stats.peers_dropped++;
        node->stats.dropped++;
        zmsg_destroy (msg);
        return -1;
    }
    size_t size = zmsg_content_size (*msg);
    if (s_send (node, peer, msg))
        return -1;
    peer->sent += size;
    return 0;
}

void
peer_disconnect (node_t *node, const char *name, const char *reason)
{
    peer_t *peer = (peer_t *) zhashx_lookup (node->peers, name);
    if (peer)
        s_drop (node, peer, reason);
}

void
peer_leave_all (node_t *node)
{
    for (peer_t *peer = (peer_t *) zhashx_first (node->peers); peer;
         peer = (peer_t *) zhashx_next (node->peers)) {
        if (!peer->handshaken)
            continue;
        zmsg_t *bye = zmsg_new ();
        zmsg_addstr (bye, "BYE");
        s_send (node, peer, &bye);
        //  Give the BYE a moment to leave before the socket closes.
        zsock_set_linger (peer->dealer, 200);
    }
}

zlistx_t *
peer_up_names (node_t *node)
{
    zlistx_t *names = zlistx_new ();
    zlistx_set_duplicator (names, (zhashx_duplicator_fn *) strdup);
    zlistx_set_destructor (names, (zhashx_destructor_fn *) zstr_free);
    zlistx_set_comparator (names, (zlistx_comparator_fn *) strcmp);
    for (peer_t *peer = (peer_t *) zhashx_first (node->peers); peer;
         peer = (peer_t *) zhashx_next (node->peers))
        if (peer->up)
            zlistx_add_end (names, peer->name);
    otp_names_sort (names);
    return names;
}

int
peer_interval (node_t *node)
{
    return node->interval_ms? node->interval_ms: node->config->heartbeat_ms;
}
