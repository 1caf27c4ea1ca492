/*  The port mapper's state: a table of names, each with its port, the
    instance that registered it, and when it was last refreshed.            */
#include "otp.h"
#include "epmd.h"
#include <signal.h>

typedef struct {
    char name [OTP_NAME_MAX + 1];
    int port;
    char instance [65];
    int64_t refreshed;
} entry_t;

typedef struct {
    const epmd_config_t *config;
    zsock_t *router;
    zhashx_t *names;            //  name -> entry_t
    int64_t started;
    uint64_t requests, errors;
} epmd_t;

static void
s_entry_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

static bool
s_from_loopback (zframe_t *frame)
{
    //  Only nodes on this host may register or unregister (as epmd does):
    //  anyone may look names up, nobody remote may take one.
    const char *peer = zframe_meta (frame, "Peer-Address");
    return peer && (strncmp (peer, "127.", 4) == 0 || streq (peer, "::1"));
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
            long long port;
            char instance [65];
            if (!s_from_loopback (zmsg_first (msg))) {
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
                otp_info ("registered %s on port %lld", name, port);
            }
            entry->port = (int) port;
            entry->refreshed = zclock_mono ();
            zmsg_addstr (reply, "OK");
            zmsg_addstrf (reply, "%d", self->config->expire_ms);
            break;
        }
        case EPMD_BYE: {
            char instance [65];
            if (!s_from_loopback (zmsg_first (msg))) {
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
            zlistx_set_comparator (keys, (zlistx_comparator_fn *) strcmp);
            zlistx_sort (keys);
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
    zmsg_t *msg = zmsg_recv (router);
    if (!msg)
        return 0;
    zframe_t *routing_id = zmsg_pop (msg);
    if (routing_id && zmsg_size (msg) > 0) {
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

static int
s_on_expire (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    epmd_t *self = (epmd_t *) arg;
    int64_t now = zclock_mono ();
    zlistx_t *dead = zlistx_new ();
    for (entry_t *entry = (entry_t *) zhashx_first (self->names); entry;
         entry = (entry_t *) zhashx_next (self->names))
        if (now - entry->refreshed > self->config->expire_ms)
            zlistx_add_end (dead, entry->name);
    for (char *name = (char *) zlistx_first (dead); name; name = (char *) zlistx_next (dead)) {
        otp_info ("freed %s: its node stopped refreshing it", name);
        zhashx_delete (self->names, name);
    }
    zlistx_destroy (&dead);
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
    //  Anyone may talk to the port mapper: no frame it takes is larger.
    zsock_set_maxmsgsize (self.router, OTP_ARG_MAX * 4);
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
    zloop_timer (loop, (size_t) (config->expire_ms / 4 > 10? config->expire_ms / 4: 10), 0,
                 s_on_expire, &self);
    zmq_pollitem_t sigitem = { NULL, sigfd, ZMQ_POLLIN, 0 };
    zloop_poller (loop, &sigitem, s_on_signal, &self);
    zloop_start (loop);

    otp_info ("stopping");
    zloop_destroy (&loop);
    zsock_destroy (&self.router);
    zhashx_destroy (&self.names);
    return 0;
}
