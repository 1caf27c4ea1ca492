/*  The port mapper's state: a table of names, each with its port, the
    instance that registered it, the connection it came on, and when it was
    last refreshed.

    A name is freed the moment the connection that registered it closes (a
    killed node: as Erlang's epmd does), or when it is not refreshed in time
    (a frozen node, a half-open connection). libzmq does not say which
    routing id a closed connection had, so each registration remembers the
    connection's file descriptor (ZMQ_SRCFD) and the ROUTER's monitor
    reports the descriptor that closed. The number may already be reused by
    a new connection, so before freeing we probe the registering routing id:
    with ROUTER_MANDATORY a send to a connection that is gone fails.        */
#include "otp.h"
#include "epmd.h"
#include <signal.h>

typedef struct {
    char name [OTP_NAME_MAX + 1];
    int port;
    char instance [65];
    int fd;                     //  the connection it was registered on
    zframe_t *routing_id;       //  ... and its routing id, to probe it
    bool suspect;               //  its descriptor closed, its probe passed
    int64_t refreshed;
} entry_t;

typedef struct {
    const epmd_config_t *config;
    zsock_t *router;
    otp_monitor_t *monitor;
    zframe_t *request_id;       //  routing id of the request being handled
    int request_fd;             //  its connection
    bool request_local;         //  ... and whether it came over loopback
    zhashx_t *names;            //  name -> entry_t
    int64_t started;
    uint64_t requests, errors;
} epmd_t;

static void
s_entry_destroy (void **item)
{
    entry_t *entry = (entry_t *) *item;
    zframe_destroy (&entry->routing_id);
    free (entry);
    *item = NULL;
}

static void
s_reply (epmd_t *self, zframe_t *routing_id, zmsg_t *reply)
{
    zmsg_pushmem (reply, zframe_data (routing_id), zframe_size (routing_id));
    otp_send (&reply, self->router);
}

static zmsg_t *
s_error (const char *reason)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "ERR");
    zmsg_addstr (reply, reason);
    return reply;
}

static zmsg_t *
s_handle (epmd_t *self, zmsg_t *msg)
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
            if (!self->request_local) {
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
            if (entry && strcmp (entry->instance, instance)) {
                zmsg_destroy (&reply);
                return s_error ("name is in use by another node");
            }
            if (!entry) {
                entry = (entry_t *) zmalloc (sizeof (entry_t));
                strcpy (entry->name, name);
                strcpy (entry->instance, instance);
                zhashx_insert (self->names, name, entry);
                otp_info ("registered %s on port %ld", name, port);
            }
            entry->port = (int) port;
            entry->fd = self->request_fd;
            if (!entry->routing_id || !zframe_eq (entry->routing_id, self->request_id)) {
                zframe_destroy (&entry->routing_id);
                entry->routing_id = zframe_dup (self->request_id);
            }
            entry->refreshed = zclock_mono ();
            zmsg_addstr (reply, "OK");
            zmsg_addstrf (reply, "%d", self->config->expire_ms);
            break;
        }
        case EPMD_BYE: {
            char instance [65];
            if (!self->request_local) {
                zmsg_destroy (&reply);
                return s_error ("only nodes on this host may unregister");
            }
            entry_t *entry = NULL;
            if (otp_msg_str (msg, 0, name, sizeof name) == 0
            &&  otp_msg_str (msg, 1, instance, sizeof instance) == 0)
                entry = (entry_t *) zhashx_lookup (self->names, name);
            if (!entry || strcmp (entry->instance, instance)) {
                zmsg_destroy (&reply);
                return s_error ("no such registration");
            }
            otp_info ("unregistered %s", name);
            zhashx_delete (self->names, name);
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

static int
s_on_request (zloop_t *loop, zsock_t *router, void *arg)
{
    (void) loop;
    epmd_t *self = (epmd_t *) arg;
    //  Only nodes on this host may register or unregister (as epmd does):
    //  anyone may look names up, nobody remote may take one.
    zmsg_t *msg = otp_recv_fd (router, &self->request_fd, &self->request_local);
    if (!msg)
        return 0;
    zframe_t *routing_id = zmsg_pop (msg);
    if (zmsg_size (msg) > 0) {
        self->request_id = routing_id;
        self->requests++;
        zmsg_t *reply = s_handle (self, msg);
        if (zframe_streq (zmsg_first (reply), "ERR")) {
            self->errors++;
            char *reason = zframe_strdup (zmsg_last (reply));
            otp_debug ("refused a request: %s", reason);
            free (reason);
        }
        s_reply (self, routing_id, reply);
    }
    zframe_destroy (&routing_id);
    zmsg_destroy (&msg);
    return 0;
}

static void
s_free_where (epmd_t *self, bool (*dead) (entry_t *entry, void *arg), void *arg,
              const char *why)
{
    zlistx_t *names = zlistx_new ();
    for (entry_t *entry = (entry_t *) zhashx_first (self->names); entry;
         entry = (entry_t *) zhashx_next (self->names))
        if (dead (entry, arg))
            zlistx_add_end (names, entry->name);
    for (char *name = (char *) zlistx_first (names); name; name = (char *) zlistx_next (names)) {
        otp_info ("freed %s: %s", name, why);
        zhashx_delete (self->names, name);
    }
    zlistx_destroy (&names);
}

//  True if the connection that registered `entry` is gone: with
//  ROUTER_MANDATORY, a send to a routing id with no connection fails.
static bool
s_gone (epmd_t *self, entry_t *entry)
{
    zmsg_t *probe = zmsg_new ();
    zmsg_addstr (probe, "PING");
    zmsg_pushmem (probe, zframe_data (entry->routing_id), zframe_size (entry->routing_id));
    return otp_send (&probe, self->router) && errno == EHOSTUNREACH;
}

static bool
s_on_fd (entry_t *entry, void *arg)
{
    epmd_t *self = (epmd_t *) ((void **) arg) [0];
    int fd = *(int *) ((void **) arg) [1];
    if (entry->fd != fd)
        return false;
    if (s_gone (self, entry))
        return true;
    //  Either the number belongs to a new connection now, or the ROUTER
    //  has not yet processed the close (libzmq batches its commands): ask
    //  again shortly.
    entry->suspect = true;
    return false;
}

static bool
s_on_suspect (entry_t *entry, void *arg)
{
    if (!entry->suspect)
        return false;
    entry->suspect = false;
    return s_gone ((epmd_t *) arg, entry);
}

static int
s_on_reprobe (zloop_t *loop, int timer_id, void *arg)
{
    s_free_where ((epmd_t *) arg, s_on_suspect, arg, "its node's connection closed");
    return 0;
}

static int
s_on_disconnect (zloop_t *loop, zsock_t *sock, void *arg)
{
    epmd_t *self = (epmd_t *) arg;
    int fd = -1;
    int event = otp_monitor_read (self->monitor, &fd);
    otp_debug ("connection event %d on fd %d", event, fd);
    if (event == ZMQ_EVENT_DISCONNECTED && fd >= 0) {
        void *args [] = { self, &fd };
        s_free_where (self, s_on_fd, args, "its node's connection closed");
        zloop_timer (loop, 50, 1, s_on_reprobe, self);
    }
    return 0;
}

static bool
s_stale (entry_t *entry, void *arg)
{
    return *(int64_t *) arg - entry->refreshed > 0;
}

static int
s_on_expire (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    epmd_t *self = (epmd_t *) arg;
    int64_t oldest = zclock_mono () - self->config->expire_ms;
    s_free_where (self, s_stale, &oldest, "its node stopped refreshing it");
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

int
epmd_run (const epmd_config_t *config, int sigfd)
{
    epmd_t self = { .config = config, .started = zclock_mono () };
    self.names = zhashx_new ();
    zhashx_set_destructor (self.names, s_entry_destroy);
    self.router = zsock_new (ZMQ_ROUTER);
    otp_sock_harden (self.router);
    zsock_set_router_mandatory (self.router, 1);
    //  Anyone may talk to the port mapper: no frame it takes is larger.
    zsock_set_maxmsgsize (self.router, OTP_ARG_MAX * 4);
    self.monitor = otp_monitor_new (self.router, ZMQ_EVENT_DISCONNECTED);
    int port = otp_bind (self.router, config->bind, config->port);
    if (port < 0)
        otp_fatal ("cannot listen on %s:%d: %s", config->bind, config->port,
                   zmq_strerror (zmq_errno ()));
    if (config->port_file) {
        char text [16];
        snprintf (text, sizeof text, "%d", port);
        if (otp_write_file (config->port_file, text))
            otp_fatal ("cannot write %s", config->port_file);
    }
    otp_info ("listening on %s:%d", config->bind, port);

    zloop_t *loop = zloop_new ();
    zloop_reader (loop, self.router, s_on_request, &self);
    zloop_reader (loop, otp_monitor_socket (self.monitor), s_on_disconnect, &self);
    zloop_timer (loop, (size_t) (config->expire_ms / 4 > 10? config->expire_ms / 4: 10), 0,
                 s_on_expire, &self);
    zmq_pollitem_t sigitem = { NULL, sigfd, ZMQ_POLLIN, 0 };
    zloop_poller (loop, &sigitem, s_on_signal, &self);
    zloop_start (loop);

    otp_info ("stopping");
    zloop_destroy (&loop);
    otp_monitor_destroy (&self.monitor);
    zsock_destroy (&self.router);
    zhashx_destroy (&self.names);
    return 0;
}
