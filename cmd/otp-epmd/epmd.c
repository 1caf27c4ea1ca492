/*  The port mapper's state: its connections, and a table of names, each
    with its port and the connection that registered it.

    otp-epmd is a ZMQ_STREAM socket speaking ZMTP itself (lib/otp_zmtp), so
    that it, not libzmq, bounds what a connection makes it hold: a ROUTER
    caps each frame but buffers a whole multipart message, of any number of
    frames, before we see any of it. Clients are plain DEALERs.

    Two endpoints: TCP for look-ups (anyone), and the abstract Unix socket
    ipc://@otp-epmd-PORT for ALIVE/BYE. Only a process on this host, in our
    network namespace, can connect to it; a proxy that forwards TCP (a
    sidecar, kubectl port-forward) cannot make a remote client look local,
    as it did when "local" meant "from 127.*".

    A name belongs to the connection that registered it: only that
    connection may refresh it or say BYE; it is freed the moment that
    connection closes (a killed node, as Erlang's epmd) or when it is not
    refreshed in time (a frozen node). STREAM tells both connects and
    disconnects, per routing id.                                            */
#include "otp.h"
#include "epmd.h"
#include <signal.h>

#define HANDSHAKE_MS 5000       //  greeting and READY, from the connect
#define CLOSING_MS 2000         //  a connection we closed waits its notice
#define MAX_FRAMES 8            //  ALIVE has 4
#define MAX_PENDING 16          //  requests a connection may queue at once

typedef struct {
    char key [24];              //  endpoint and routing id, in hex
    zsock_t *sock;
    zframe_t *id;
    bool local;                 //  came on the ipc endpoint
    char address [64];          //  TCP peer address, "" on ipc
    otp_zmtp_t *codec;
    int64_t opened;
    int64_t closing;            //  when we closed it; 0 while open
    char name [OTP_NAME_MAX + 1];   //  the name it registered
} conn_t;

typedef struct {
    char name [OTP_NAME_MAX + 1];
    int port;
    char conn [24];             //  key of the connection that holds it
    int64_t refreshed;
} entry_t;

typedef struct {
    const epmd_config_t *config;
    zsock_t *tcp, *ipc;
    zhashx_t *conns;            //  key -> conn_t
    zhashx_t *names;            //  name -> entry_t
    size_t tcp_open, ipc_open;
    int64_t started;
    int64_t ticked;             //  when the expiry timer last ran
    int tick_ms;
    uint64_t requests, errors, refused, cut;
} epmd_t;

static void
s_conn_free (void **item)
{
    conn_t *conn = (conn_t *) *item;
    otp_zmtp_destroy (&conn->codec);
    zframe_destroy (&conn->id);
    free (conn);
    *item = NULL;
}

static void
s_entry_free (void **item)
{
    free (*item);
    *item = NULL;
}

static void
s_key (char *key, bool local, zframe_t *id)
{
    size_t size = zframe_size (id);
    if (size > 10)
        size = 10;
    key [0] = local? 'u': 't';
    for (size_t i = 0; i < size; i++)
        sprintf (key + 1 + 2 * i, "%02x", zframe_data (id) [i]);
    key [1 + 2 * size] = 0;
}

//  Sends raw bytes on a STREAM connection; an empty chunk closes it.
static void
s_write (zsock_t *sock, zframe_t *id, const byte *data, size_t size)
{
    if (zmq_send (zsock_resolve (sock), zframe_data (id), zframe_size (id), ZMQ_SNDMORE) < 0)
        return;
    zmq_send (zsock_resolve (sock), data, size, ZMQ_DONTWAIT);
}

static void
s_free_names_of (epmd_t *self, conn_t *conn, const char *why)
{
    if (!*conn->name)
        return;
    entry_t *entry = (entry_t *) zhashx_lookup (self->names, conn->name);
    if (entry && streq (entry->conn, conn->key)) {
        otp_info ("freed %s: %s", conn->name, why);
        zhashx_delete (self->names, conn->name);
    }
    *conn->name = 0;
}

static void
s_close (epmd_t *self, conn_t *conn, const char *why)
{
    if (conn->closing)
        return;
    otp_debug ("closing connection %s%s%s: %s", conn->key,
               *conn->address? " from ": "", conn->address, why);
    s_free_names_of (self, conn, "its connection was closed");
    s_write (conn->sock, conn->id, NULL, 0);
    otp_zmtp_destroy (&conn->codec);
    conn->closing = zclock_mono ();
    if (conn->local)
        self->ipc_open--;
    else
        self->tcp_open--;
}

static zmsg_t *
s_error (const char *reason)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "ERR");
    zmsg_addstr (reply, reason);
    return reply;
}

static bool
s_may_register (epmd_t *self, conn_t *conn)
{
    if (conn->local)
        return true;
    //  --tcp-register: nodes of before the ipc endpoint, during an upgrade
    return self->config->tcp_register
        && (strncmp (conn->address, "127.", 4) == 0 || streq (conn->address, "::1"));
}

static zmsg_t *
s_handle (epmd_t *self, conn_t *conn, zmsg_t *msg)
{
    char error [256];
    int cmd = otp_msg_check (msg, otp_epmd_cmds, error, sizeof error);
    if (cmd < 0)
        return s_error (error);
    char name [OTP_NAME_MAX + 1];
    zmsg_t *reply = zmsg_new ();
    switch (cmd) {
        case EPMD_ALIVE: {
            long port;
            char instance [65];
            if (!s_may_register (self, conn)) {
                zmsg_destroy (&reply);
                return s_error ("only nodes on this host may register");
            }
            if (otp_msg_str (msg, 0, name, sizeof name) || !otp_name_valid (name)
            ||  otp_msg_int (msg, 1, 1, 65535, &port)
            ||  otp_msg_str (msg, 2, instance, sizeof instance) || !*instance) {
                zmsg_destroy (&reply);
                return s_error ("ALIVE needs a valid name, a port and an instance");
            }
            entry_t *entry = (entry_t *) zhashx_lookup (self->names, name);
            if (entry && !streq (entry->conn, conn->key)) {
                zmsg_destroy (&reply);
                return s_error ("name is in use by another node");
            }
            if (!entry && *conn->name && !streq (conn->name, name)
            &&  zhashx_lookup (self->names, conn->name)) {
                zmsg_destroy (&reply);
                return s_error ("this connection holds another name");
            }
            if (!entry) {
                entry = (entry_t *) zmalloc (sizeof (entry_t));
                strcpy (entry->name, name);
                strcpy (entry->conn, conn->key);
                zhashx_insert (self->names, name, entry);
                strcpy (conn->name, name);
                otp_info ("registered %s on port %ld", name, port);
            }
            entry->port = (int) port;
            entry->refreshed = zclock_mono ();
            zmsg_addstr (reply, "OK");
            zmsg_addstrf (reply, "%d", self->config->expire_ms);
            break;
        }
        case EPMD_BYE: {
            entry_t *entry = NULL;
            if (otp_msg_str (msg, 0, name, sizeof name) == 0)
                entry = (entry_t *) zhashx_lookup (self->names, name);
            if (!entry || !streq (entry->conn, conn->key)) {
                zmsg_destroy (&reply);
                return s_error ("no such registration");
            }
            otp_info ("unregistered %s", name);
            zhashx_delete (self->names, name);
            *conn->name = 0;
            zmsg_addstr (reply, "OK");
            break;
        }
        case EPMD_PORT: {
            entry_t *entry = NULL;
            if (otp_msg_str (msg, 0, name, sizeof name) == 0)
                entry = (entry_t *) zhashx_lookup (self->names, name);
            if (!entry) {
                zmsg_destroy (&reply);
                return s_error ("name is not registered");
            }
            zmsg_addstr (reply, "PORT");
            zmsg_addstr (reply, entry->name);
            zmsg_addstrf (reply, "%d", entry->port);
            break;
        }
        case EPMD_NAMES: {
            zmsg_addstr (reply, "NAMES");
            zlistx_t *keys = zhashx_keys (self->names);
            otp_names_sort (keys);
            for (char *key = (char *) zlistx_first (keys); key; key = (char *) zlistx_next (keys)) {
                entry_t *entry = (entry_t *) zhashx_lookup (self->names, key);
                zmsg_addstr (reply, entry->name);
                zmsg_addstrf (reply, "%d", entry->port);
            }
            zlistx_destroy (&keys);
            break;
        }
        case EPMD_INFO:
            zmsg_addstr (reply, "INFO");
            zmsg_addstrf (reply, "%d", getpid ());
            zmsg_addstrf (reply, "%" PRId64, zclock_mono () - self->started);
            zmsg_addstrf (reply, "%zu", zhashx_size (self->names));
            break;
    }
    return reply;
}

static size_t
s_from (epmd_t *self, const char *address)
{
    size_t count = 0;
    for (conn_t *conn = (conn_t *) zhashx_first (self->conns); conn;
         conn = (conn_t *) zhashx_next (self->conns))
        if (!conn->closing && !conn->local && streq (conn->address, address))
            count++;
    return count;
}

//  The oldest open connection on the endpoint (from `address`, if given;
//  on the local endpoint only one that holds no name, else its name would
//  be freed for the taking), or NULL.
static conn_t *
s_oldest (epmd_t *self, bool local, const char *address)
{
    conn_t *oldest = NULL;
    for (conn_t *conn = (conn_t *) zhashx_first (self->conns); conn;
         conn = (conn_t *) zhashx_next (self->conns))
        if (!conn->closing && conn->local == local
        &&  (!address || streq (conn->address, address))
        &&  !(local && *conn->name)
        &&  (!oldest || conn->opened < oldest->opened))
            oldest = conn;
    return oldest;
}

static void
s_on_connect (epmd_t *self, zsock_t *sock, bool local, zframe_t **id_p,
              const char *key, const char *address)
{
    //  Over a bound, the oldest connection makes room rather than the new
    //  one being refused: an attacker who opens many and holds them cannot
    //  keep out a client who comes later (otp-ctl, a node's look-ups, from
    //  the same 127.0.0.1 as a local attacker); a node's DEALER that is cut
    //  connects again. A flood that never stops churns its own connections.
    const epmd_config_t *config = self->config;
    conn_t *victim = NULL;
    bool full = false;
    if (local && self->ipc_open >= (size_t) config->max_local)
        full = true, victim = s_oldest (self, true, NULL);
    else
    if (!local && s_from (self, address) >= (size_t) config->max_per_address)
        full = true, victim = s_oldest (self, false, address);
    else
    if (!local && self->tcp_open >= (size_t) config->max_conns)
        full = true, victim = s_oldest (self, false, NULL);
    if (victim) {
        self->cut++;
        s_close (self, victim, "the oldest makes room (connections at their bound)");
    }
    else
    if (full) {
        //  Every local connection holds a name: nothing we may shed
        self->refused++;
        otp_debug ("refused a local connection: every one holds a name");
        s_write (sock, *id_p, NULL, 0);
        zframe_destroy (id_p);
        return;
    }
    conn_t *conn = (conn_t *) zmalloc (sizeof (conn_t));
    strcpy (conn->key, key);
    conn->sock = sock;
    conn->id = *id_p;
    *id_p = NULL;
    conn->local = local;
    snprintf (conn->address, sizeof conn->address, "%s", address);
    conn->codec = otp_zmtp_new (MAX_FRAMES, OTP_ARG_MAX, MAX_PENDING);
    conn->opened = zclock_mono ();
    zhashx_insert (self->conns, key, conn);
    if (local)
        self->ipc_open++;
    else
        self->tcp_open++;
    size_t size;
    const byte *hello = otp_zmtp_hello (&size);
    s_write (sock, conn->id, hello, size);
}

static void
s_on_data (epmd_t *self, conn_t *conn, const byte *data, size_t size)
{
    if (otp_zmtp_feed (conn->codec, data, size)) {
        self->cut++;
        s_close (self, conn, otp_zmtp_reason (conn->codec));
        return;
    }
    zchunk_t *output = otp_zmtp_output (conn->codec);
    if (output)
        s_write (conn->sock, conn->id, zchunk_data (output), zchunk_size (output));
    zchunk_destroy (&output);
    zmsg_t *msg;
    while ((msg = otp_zmtp_recv (conn->codec))) {
        self->requests++;
        zmsg_t *reply = s_handle (self, conn, msg);
        if (zframe_streq (zmsg_first (reply), "ERR")) {
            self->errors++;
            char *reason = zframe_strdup (zmsg_last (reply));
            otp_debug ("refused a request: %s", reason);
            free (reason);
        }
        zchunk_t *wire = otp_zmtp_encode (reply);
        s_write (conn->sock, conn->id, zchunk_data (wire), zchunk_size (wire));
        zchunk_destroy (&wire);
        zmsg_destroy (&reply);
        zmsg_destroy (&msg);
    }
}

//  One STREAM event: [routing id][bytes]; empty bytes: a connect (unknown
//  id) or a disconnect (known id).
static int
s_on_stream (epmd_t *self, zsock_t *sock, bool local)
{
    zmq_msg_t part;
    zmq_msg_init (&part);
    if (zmq_msg_recv (&part, zsock_resolve (sock), ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&part);
        return -1;
    }
    zframe_t *id = zframe_new (zmq_msg_data (&part), zmq_msg_size (&part));
    bool more = zmq_msg_more (&part);
    zmq_msg_close (&part);
    if (!more) {
        zframe_destroy (&id);
        return 0;
    }
    zmq_msg_init (&part);
    if (zmq_msg_recv (&part, zsock_resolve (sock), 0) < 0) {
        zmq_msg_close (&part);
        zframe_destroy (&id);
        return 0;
    }
    char key [24];
    s_key (key, local, id);
    conn_t *conn = (conn_t *) zhashx_lookup (self->conns, key);
    size_t size = zmq_msg_size (&part);
    if (size == 0) {
        if (conn) {
            if (!conn->closing)
                s_close (self, conn, "closed by its peer");
            zhashx_delete (self->conns, key);
        }
        else {
            const char *address = local? NULL: zmq_msg_gets (&part, "Peer-Address");
            s_on_connect (self, sock, local, &id, key, address? address: "");
        }
    }
    else
    if (conn && !conn->closing)
        s_on_data (self, conn, (const byte *) zmq_msg_data (&part), size);
    zmq_msg_close (&part);
    zframe_destroy (&id);
    return 0;
}

static int
s_on_tcp (zloop_t *loop, zsock_t *sock, void *arg)
{
    //  A few events at a time, so that neither endpoint starves the other
    for (int i = 0; i < 64; i++)
        if (s_on_stream ((epmd_t *) arg, sock, false))
            break;
    return 0;
}

static int
s_on_ipc (zloop_t *loop, zsock_t *sock, void *arg)
{
    for (int i = 0; i < 64; i++)
        if (s_on_stream ((epmd_t *) arg, sock, true))
            break;
    return 0;
}

static int
s_on_expire (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    epmd_t *self = (epmd_t *) arg;
    //  Refreshes that wait unread are refreshes on time: read them first.
    //  Bounded, so that a flood cannot keep the expiry from running.
    for (int i = 0; i < 4096; i++)
        if (s_on_stream (self, self->ipc, true))
            break;
    for (int i = 0; i < 4096; i++)
        if (s_on_stream (self, self->tcp, false))
            break;
    int64_t now = zclock_mono ();
    //  A tick that comes late means that we were stopped or starved (a host
    //  a hundred nodes keep busy gives us a hundredth of a CPU): that time
    //  is not held against the nodes, whose refreshes could not be read.
    int64_t late = now - self->ticked - self->tick_ms;
    self->ticked = now;
    if (late > 0)
        for (entry_t *entry = (entry_t *) zhashx_first (self->names); entry;
             entry = (entry_t *) zhashx_next (self->names))
            entry->refreshed += late;
    int64_t oldest = now - self->config->expire_ms;
    zlistx_t *gone = zlistx_new ();
    for (entry_t *entry = (entry_t *) zhashx_first (self->names); entry;
         entry = (entry_t *) zhashx_next (self->names))
        if (entry->refreshed < oldest)
            zlistx_add_end (gone, entry->name);
    for (char *name = (char *) zlistx_first (gone); name; name = (char *) zlistx_next (gone)) {
        otp_info ("freed %s: its node stopped refreshing it", name);
        zhashx_delete (self->names, name);
    }
    zlistx_purge (gone);
    for (conn_t *conn = (conn_t *) zhashx_first (self->conns); conn;
         conn = (conn_t *) zhashx_next (self->conns)) {
        if (conn->closing && now - conn->closing > CLOSING_MS)
            zlistx_add_end (gone, conn->key);
        else
        if (!conn->closing && !otp_zmtp_ready (conn->codec) && now - conn->opened > HANDSHAKE_MS)
            zlistx_add_end (gone, conn->key);
    }
    for (char *key = (char *) zlistx_first (gone); key; key = (char *) zlistx_next (gone)) {
        conn_t *conn = (conn_t *) zhashx_lookup (self->conns, key);
        if (conn->closing)
            zhashx_delete (self->conns, key);
        else {
            self->cut++;
            s_close (self, conn, "no handshake in time");
        }
    }
    zlistx_destroy (&gone);
    return 0;
}

static int
s_on_signal (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) arg;
    int sig = otp_signal_read (item->fd);
    if (sig == SIGTERM || sig == SIGINT)
        return -1;
    return 0;
}

static zsock_t *
s_stream (void)
{
    zsock_t *sock = zsock_new (ZMQ_STREAM);
    if (!sock)
        otp_fatal ("cannot make a socket: %s", zmq_strerror (zmq_errno ()));
    zsock_set_linger (sock, 0);
    zsock_set_sndtimeo (sock, 0);
    return sock;
}

int
epmd_run (const epmd_config_t *config, int sigfd)
{
    epmd_t self = { .config = config, .started = zclock_mono () };
    self.names = zhashx_new ();
    zhashx_set_destructor (self.names, s_entry_free);
    self.conns = zhashx_new ();
    zhashx_set_destructor (self.conns, s_conn_free);
    self.tcp = s_stream ();
    int port = otp_bind (self.tcp, config->bind, config->port);
    if (port < 0)
        otp_fatal ("cannot listen on %s:%d: %s", config->bind, config->port,
                   zmq_strerror (zmq_errno ()));
    self.ipc = s_stream ();
    if (zsock_bind (self.ipc, OTP_EPMD_IPC, port) < 0)
        otp_fatal ("cannot listen on " OTP_EPMD_IPC ": %s", port, zmq_strerror (zmq_errno ()));
    if (config->port_file) {
        char text [16];
        snprintf (text, sizeof text, "%d", port);
        if (otp_write_file (config->port_file, text))
            otp_fatal ("cannot write %s", config->port_file);
    }
    otp_info ("listening on %s:%d and " OTP_EPMD_IPC, config->bind, port, port);

    zloop_t *loop = zloop_new ();
    zloop_reader (loop, self.tcp, s_on_tcp, &self);
    zloop_reader (loop, self.ipc, s_on_ipc, &self);
    int tick = config->expire_ms / 4 > 10? config->expire_ms / 4: 10;
    self.tick_ms = tick < 250? tick: 250;
    self.ticked = zclock_mono ();
    zloop_timer (loop, (size_t) self.tick_ms, 0, s_on_expire, &self);
    zmq_pollitem_t sigitem = { NULL, sigfd, ZMQ_POLLIN, 0 };
    zloop_poller (loop, &sigitem, s_on_signal, &self);
    zloop_start (loop);

    otp_info ("stopping (%" PRIu64 " requests, %" PRIu64 " refused, %" PRIu64
              " connections refused, %" PRIu64 " cut off)",
              self.requests, self.errors, self.refused, self.cut);
    zloop_destroy (&loop);
    zsock_destroy (&self.tcp);
    zsock_destroy (&self.ipc);
    zhashx_destroy (&self.conns);
    zhashx_destroy (&self.names);
    return 0;
}
