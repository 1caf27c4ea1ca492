/*  The node and the port mappers: our own registration on this host's
    otp-epmd (kept alive by refreshing it, which is also how epmd learns we
    died), and look-ups of other nodes on their hosts' port mappers.         */
#include "node.h"
#include <libgen.h>

struct _epmd_link_t {
    node_t *node;
    zsock_t *dealer;
    int timer;
    int refresh_ms;
    bool refused;               //  our last refresh was refused
};

static zmsg_t *
s_alive (node_t *node)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "ALIVE");
    zmsg_addstr (msg, node->short_name);
    zmsg_addstrf (msg, "%d", node->port);
    zmsg_addstr (msg, node->instance);
    return msg;
}

static void
s_start_epmd (const node_config_t *config)
{
    //  Prefer the otp-epmd beside our own binary, then PATH.
    char self [4096], path [4096 + 16];
    ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
    snprintf (path, sizeof path, "otp-epmd");
    if (n > 0) {
        self [n] = 0;
        snprintf (path, sizeof path, "%s/otp-epmd", dirname (self));
        if (access (path, X_OK))
            snprintf (path, sizeof path, "otp-epmd");
    }
    char port [16];
    snprintf (port, sizeof port, "%d", config->epmd_port);
    char *argv [] = { path, "-p", port, NULL };
    otp_spawn_opts_t opts = { .argv = argv, .new_session = true, .null_stdio = true };
    char error [256];
    if (otp_spawn (&opts, error, sizeof error) < 0)
        otp_fatal ("no otp-epmd answers on port %d and %s", config->epmd_port, error);
    otp_info ("started otp-epmd on port %d", config->epmd_port);
}

static bool
s_epmd_answers (int port, int timeout_ms)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "INFO");
    zmsg_t *reply = otp_epmd_request ("127.0.0.1", port, &msg, timeout_ms);
    bool answered = reply != NULL;
    zmsg_destroy (&reply);
    return answered;
}

void
epmd_ensure (const node_config_t *config)
{
    //  As erl does: before the node takes a port of its own, make sure a
    //  port mapper runs here (else our ephemeral port might be its port).
    if (s_epmd_answers (config->epmd_port, 300))
        return;
    //  One that runs but is slow to answer (a busy host: a hundred nodes
    //  starting at once) is given a few seconds more.
    //  On a host so busy that it gives otp-epmd a hundredth of a CPU,
    //  every answer takes a few scheduling rounds: 30 s in all.
    if (!config->start_epmd) {
        int64_t give_up = zclock_mono () + 30000;
        for (int attempt = 0; zclock_mono () < give_up; attempt++) {
            if (s_epmd_answers (config->epmd_port, 1000))
                return;
            if (attempt == 4)
                otp_warn ("otp-epmd on port %d is slow to answer; still asking", config->epmd_port);
        }
        otp_fatal ("no otp-epmd answers on port %d (and --no-epmd was given)", config->epmd_port);
    }
    s_start_epmd (config);
    for (int attempt = 0; attempt < 25; attempt++)
        if (s_epmd_answers (config->epmd_port, 200))
            return;
    otp_fatal ("started otp-epmd on port %d, but it does not answer", config->epmd_port);
}

static int
s_check_reply (node_t *node, zmsg_t *reply)
{
    char tag [8], reason [256] = "";
    if (otp_msg_str (reply, -1, tag, sizeof tag) || !streq (tag, "OK")) {
        otp_msg_str (reply, 0, reason, sizeof reason);
        otp_warn ("otp-epmd refused %s: %s", node->name, reason);
        return -1;
    }
    return 0;
}

static zsock_t *
s_dealer (const char *format, int port)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    if (!dealer)
        otp_fatal ("cannot make a socket: %s", zmq_strerror (zmq_errno ()));
    otp_sock_harden (dealer);
    zsock_set_sndtimeo (dealer, 200);
    zsock_connect (dealer, format, port);
    return dealer;
}

//  Whether an otp-epmd listens on the local endpoint of `port` (the kernel's
//  table of Unix sockets, where an abstract name shows with a leading @):
//  one that does but is slow to answer is not one older than the endpoint.
static bool
s_ipc_listening (int port)
{
    FILE *file = fopen ("/proc/net/unix", "r");
    if (!file)
        return false;
    char line [512], want [64];
    snprintf (want, sizeof want, " @otp-epmd-%d\n", port);
    bool found = false;
    while (!found && fgets (line, sizeof line, file)) {
        size_t len = strlen (line), wlen = strlen (want);
        found = len >= wlen && streq (line + len - wlen, want);
    }
    fclose (file);
    return found;
}

static int s_on_refresh (zloop_t *loop, int timer_id, void *arg);

static void
s_set_refresh (epmd_link_t *self, zmsg_t *reply)
{
    long expire;
    if (otp_msg_int (reply, 0, 50, 3600000, &expire))
        return;
    int refresh = (int) expire / 4;
    if (refresh != self->refresh_ms) {
        if (self->timer >= 0)
            zloop_timer_end (self->node->loop, self->timer);
        self->refresh_ms = refresh;
        self->timer = zloop_timer (self->node->loop, (size_t) refresh, 0, s_on_refresh, self);
    }
}

static int
s_on_refresh (zloop_t *loop, int timer_id, void *arg)
{
    epmd_link_t *self = (epmd_link_t *) arg;
    zmsg_t *msg = s_alive (self->node);
    otp_send (&msg, self->dealer);      //  epmd away: it is retried next time
    return 0;
}

static int
s_on_reply (zloop_t *loop, zsock_t *sock, void *arg)
{
    epmd_link_t *self = (epmd_link_t *) arg;
    zmsg_t *reply = zmsg_recv (sock);
    if (!reply)
        return 0;
    if (zframe_streq (zmsg_first (reply), "PING"))
        ;   //  an older otp-epmd checking that we are still connected
    else
    if (s_check_reply (self->node, reply) == 0) {
        if (self->refused)
            otp_info ("registered %s on this host again", self->node->name);
        self->refused = false;
        s_set_refresh (self, reply);
    }
    else {
        //  Only our own connection can refresh our name, so a refusal means
        //  otp-epmd freed it (we were frozen past the expiry, or it lost our
        //  connection) and someone else holds it now. Never a reason to
        //  stop: we ask again at every refresh and take the name back the
        //  moment it is free; peers that know us stay connected meanwhile.
        if (!self->refused)
            otp_warn ("otp-epmd gave the name %s to someone else; asking again at every refresh",
                      self->node->name);
        self->refused = true;
    }
    zmsg_destroy (&reply);
    return 0;
}

epmd_link_t *
epmd_link_new (node_t *node)
{
    epmd_link_t *self = (epmd_link_t *) zmalloc (sizeof (epmd_link_t));
    self->node = node;
    self->timer = -1;
    //  We register on otp-epmd's local endpoint, which only this host (this
    //  network namespace) can reach. An otp-epmd older than it takes
    //  registrations over TCP loopback: if the local endpoint does not
    //  answer in a few seconds, we try that (a rolling upgrade).
    self->dealer = s_dealer (OTP_EPMD_IPC, node->config->epmd_port);
    bool local = true;
    int64_t try_tcp = zclock_mono () + 3000;

    //  A node restarted right after a crash may find its old name still
    //  held until otp-epmd sees the old connection gone (at most its expiry,
    //  1 s by default): keep asking for a while. A live holder refreshes
    //  its name all along, so a true duplicate is still refused.
    //  A busy port mapper (a hundred nodes registering at once on a slow
    //  host) is given 30 s to answer at all.
    zmsg_t *reply = NULL;
    int64_t deadline = zclock_mono () + 2500, answer_by = zclock_mono () + 30000;
    while (true) {
        zmsg_t *msg = s_alive (node);
        reply = otp_request (self->dealer, &msg, 1000);
        if (!reply && local && zclock_mono () > try_tcp && !s_ipc_listening (node->config->epmd_port)) {
            otp_warn ("otp-epmd's local endpoint does not answer; registering over TCP "
                      "(an otp-epmd older than this node?)");
            zsock_destroy (&self->dealer);
            self->dealer = s_dealer ("tcp://127.0.0.1:%d", node->config->epmd_port);
            local = false;
        }
        if (!reply && zclock_mono () < answer_by)
            continue;
        if (!reply)
            otp_fatal ("no otp-epmd answers on port %d", node->config->epmd_port);
        char tag [8] = "";
        otp_msg_str (reply, -1, tag, sizeof tag);
        if (streq (tag, "OK") || zclock_mono () > deadline)
            break;
        zmsg_destroy (&reply);
        zclock_sleep (100);
    }
    char tag [8] = "", reason [256] = "";
    if (otp_msg_str (reply, -1, tag, sizeof tag) || !streq (tag, "OK")) {
        //  One line, and exit 1 (otp_fatal does not tear libzmq down)
        otp_msg_str (reply, 0, reason, sizeof reason);
        otp_fatal ("cannot register %s: %s (is a node of that name running on this host?)",
                   node->name, reason);
    }
    zsock_set_sndtimeo (self->dealer, 0);
    //  While otp-epmd is away, refreshes queue here; a few are enough to
    //  register again the moment a new one listens on the port.
    zsock_set_sndhwm (self->dealer, 4);
    zloop_reader (node->loop, self->dealer, s_on_reply, self);
    s_set_refresh (self, reply);
    zmsg_destroy (&reply);
    return self;
}

void
epmd_link_destroy (epmd_link_t **self_p)
{
    epmd_link_t *self = *self_p;
    if (!self)
        return;
    zloop_reader_end (self->node->loop, self->dealer);
    if (self->timer >= 0)
        zloop_timer_end (self->node->loop, self->timer);
    //  Unregister at once, so that peers using the port mapper stop
    //  finding us before the expiry would have freed the name.
    zmsg_t *bye = zmsg_new ();
    zmsg_addstr (bye, "BYE");
    zmsg_addstr (bye, self->node->short_name);
    zmsg_addstr (bye, self->node->instance);
    zsock_set_sndtimeo (self->dealer, 200);
    zmsg_t *reply = otp_request (self->dealer, &bye, 300);
    zmsg_destroy (&reply);
    zsock_destroy (&self->dealer);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Look-ups: one DEALER per port mapper we ask, kept for the next time.

typedef struct {
    resolver_t *resolver;
    char node_host [OTP_HOST_MAX + 1];  //  host part of the names it returns
    zsock_t *dealer;
} epmd_conn_t;

struct _resolver_t {
    node_t *node;
    zhashx_t *conns;                    //  "query-host|node-host" -> epmd_conn_t
};

static void
s_conn_free (void **item)
{
    epmd_conn_t *conn = (epmd_conn_t *) *item;
    if (conn) {
        zloop_reader_end (conn->resolver->node->loop, conn->dealer);
        zsock_destroy (&conn->dealer);
        free (conn);
        *item = NULL;
    }
}

static int
s_on_lookup (zloop_t *loop, zsock_t *sock, void *arg)
{
    epmd_conn_t *conn = (epmd_conn_t *) arg;
    node_t *node = conn->resolver->node;
    zmsg_t *reply = zmsg_recv (sock);
    if (!reply)
        return 0;
    char tag [8], name [OTP_NAME_MAX + 1], full [OTP_NAME_MAX + OTP_HOST_MAX + 2];
    char part [OTP_NAME_MAX + 1], host [OTP_HOST_MAX + 1];
    long port;
    //  Both replies list (name, port) pairs: PORT name port | NAMES (name port)*
    if (otp_msg_str (reply, -1, tag, sizeof tag) == 0 && (streq (tag, "PORT") || streq (tag, "NAMES"))) {
        int count = (int) zmsg_size (reply) - 1;
        for (int i = 0; i + 1 < count; i += 2)
            if (otp_msg_str (reply, i, name, sizeof name) == 0
            &&  otp_msg_int (reply, i + 1, 1, 65535, &port) == 0) {
                snprintf (full, sizeof full, "%s@%s", name, conn->node_host);
                if (otp_node_split (full, part, sizeof part, host, sizeof host) == 0)
                    peer_connect (node, full, conn->node_host, (int) port);
            }
    }
    zmsg_destroy (&reply);
    return 0;
}

static epmd_conn_t *
s_conn (resolver_t *self, const char *query_host, const char *node_host)
{
    //  Numeric addresses only reach libzmq (see dns.c); a host whose address
    //  changed gets a new connection.
    const char *address = dns_address (self->node->dns, query_host);
    if (!address)
        return NULL;
    char key [2 * OTP_HOST_MAX + 2];
    snprintf (key, sizeof key, "%s|%s", address, node_host);
    epmd_conn_t *conn = (epmd_conn_t *) zhashx_lookup (self->conns, key);
    if (conn)
        return conn;
    if (!otp_limits_fd_room (2))
        return NULL;    //  no descriptor for it now: the strategy asks again later
    conn = (epmd_conn_t *) zmalloc (sizeof (epmd_conn_t));
    conn->resolver = self;
    snprintf (conn->node_host, sizeof conn->node_host, "%s", node_host);
    conn->dealer = zsock_new (ZMQ_DEALER);
    otp_sock_harden (conn->dealer);
    //  Requests wait for the connection, but only a few: a host that is
    //  down must not pile them up.
    zsock_set_sndhwm (conn->dealer, 16);
    zsock_connect (conn->dealer, "tcp://%s:%d", address, self->node->config->epmd_port);
    zloop_reader (self->node->loop, conn->dealer, s_on_lookup, conn);
    zhashx_insert (self->conns, key, conn);
    return conn;
}

resolver_t *
resolver_new (node_t *node)
{
    resolver_t *self = (resolver_t *) zmalloc (sizeof (resolver_t));
    self->node = node;
    self->conns = zhashx_new ();
    zhashx_set_destructor (self->conns, s_conn_free);
    return self;
}

void
resolver_destroy (resolver_t **self_p)
{
    if (*self_p) {
        zhashx_destroy (&(*self_p)->conns);
        free (*self_p);
        *self_p = NULL;
    }
}

void
resolver_lookup (resolver_t *self, const char *node_name)
{
    char name [OTP_NAME_MAX + 1], host [OTP_HOST_MAX + 1];
    if (otp_node_split (node_name, name, sizeof name, host, sizeof host))
        return;
    epmd_conn_t *conn = s_conn (self, host, host);
    if (!conn)
        return;
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "PORT");
    zmsg_addstr (msg, name);
    otp_send (&msg, conn->dealer);
}

void
resolver_list (resolver_t *self, const char *query_host, const char *node_host)
{
    epmd_conn_t *conn = s_conn (self, query_host, node_host);
    if (!conn)
        return;
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "NAMES");
    otp_send (&msg, conn->dealer);
}
