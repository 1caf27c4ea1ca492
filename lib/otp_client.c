#include "otp_client.h"
#include "otp_auth.h"
#include "otp_monitor.h"
#include "otp_name.h"
#include "otp_proto.h"
#include "otp_request.h"

struct _otp_client_t {
    char node [OTP_NODE_MAX + 1];
    int timeout_ms;
    zsock_t *dealer;
    otp_monitor_t *monitor;
    zpoller_t *poller;
    bool handshaken;
    //  Lost for good: the dealer would reconnect, but to whatever listens on
    //  the port next - another incarnation of the node, which knows nothing
    //  of what we attached. Kept, so that a later wait cannot hide it.
    bool lost;
    int seq;                        //  request ids
    int refs;                       //  call references
    zlistx_t *mailbox;              //  zmsg_t: MSG and EVENT kept while waiting
    char self [OTP_NAME_MAX + 1];   //  our address, "" until we have one
    //  Bytes read from the node (as it counts them: the frames of each
    //  message), and the count we last told it (`ack`): the node holds a
    //  process to a byte budget of what it sent and was not acknowledged.
    uint64_t received, acked;
    char error [1024];
};

#define ACK_EVERY (64 * 1024)

//  A message taken from the node: counted, and every ACK_EVERY bytes the
//  node is told (REQ 0 ack TOTAL: id 0, no reply). Never blocks: a node
//  that does not read is told with the next message.
static zmsg_t *
s_took (otp_client_t *self, zmsg_t *msg)
{
    if (!msg)
        return NULL;
    self->received += zmsg_content_size (msg);
    if (self->received - self->acked >= ACK_EVERY) {
        char total [24];
        snprintf (total, sizeof total, "%" PRIu64, self->received);
        void *dealer = zsock_resolve (self->dealer);
        if (zmq_send (dealer, "REQ", 3, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 3) {
            //  The first frame is in: the rest of the message goes too.
            zmq_send (dealer, "0", 1, ZMQ_SNDMORE);
            zmq_send (dealer, "ack", 3, ZMQ_SNDMORE);
            zmq_send (dealer, total, strlen (total), 0);
            self->acked = self->received;
        }
    }
    return msg;
}

otp_message_t *
otp_message_parse (zmsg_t *msg)
{
    char tag [8], kind [8];
    if (zmsg_size (msg) < 4 || otp_msg_str (msg, -1, tag, sizeof tag) || !streq (tag, "MSG")
    ||  otp_msg_kind (msg, 3, kind, sizeof kind))
        return NULL;
    otp_message_t *self = (otp_message_t *) zmalloc (sizeof (otp_message_t));
    if (otp_msg_str (msg, 0, self->from, sizeof self->from)
    ||  otp_msg_str (msg, 1, self->to, sizeof self->to)
    ||  (*kind && otp_msg_str (msg, 4, self->ref, sizeof self->ref))) {
        free (self);
        return NULL;
    }
    snprintf (self->kind, sizeof self->kind, "%s", kind);
    self->payload = zframe_dup (otp_msg_arg (msg, 2));
    return self;
}

void
otp_message_destroy (otp_message_t **self_p)
{
    otp_message_t *self = *self_p;
    if (self) {
        zframe_destroy (&self->payload);
        free (self);
        *self_p = NULL;
    }
}

otp_client_t *
otp_client_new (const char *node, const char *cookie, int epmd_port, int timeout_ms,
                char *error, size_t error_size)
{
    char name [OTP_NAME_MAX + 1], host [OTP_HOST_MAX + 1];
    if (otp_node_split (node, name, sizeof name, host, sizeof host)) {
        snprintf (error, error_size, "'%s' is not a node name (name@host)", node);
        return NULL;
    }
    int port = otp_epmd_port (host, epmd_port, name, timeout_ms);
    if (port <= 0) {
        if (port < 0)
            snprintf (error, error_size, "cannot reach %s: no otp-epmd answers at %s:%d",
                      node, host, epmd_port);
        else
            snprintf (error, error_size, "cannot reach %s: no such node on %s", node, host);
        return NULL;
    }
    otp_client_t *self = (otp_client_t *) zmalloc (sizeof (otp_client_t));
    snprintf (self->node, sizeof self->node, "%s", node);
    self->timeout_ms = timeout_ms;
    otp_keys_t keys;
    otp_keys_from_cookie (&keys, cookie);
    self->dealer = zsock_new (ZMQ_DEALER);
    zsock_set_sndhwm (self->dealer, OTP_HWM);
    zsock_set_rcvhwm (self->dealer, OTP_HWM);
    otp_sock_harden (self->dealer);
    zsock_set_sndtimeo (self->dealer, timeout_ms);
    //  What we send just before we exit must still leave.
    zsock_set_linger (self->dealer, 500);
    otp_auth_client (self->dealer, &keys);
    self->monitor = otp_monitor_new (self->dealer,
        ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED
      | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
      | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    self->poller = zpoller_new (self->dealer, otp_monitor_socket (self->monitor), NULL);
    self->mailbox = zlistx_new ();
    zlistx_set_destructor (self->mailbox, (zlistx_destructor_fn *) zmsg_destroy);
    zsock_connect (self->dealer, "tcp://%s:%d", host, port);
    return self;
}

void
otp_client_destroy (otp_client_t **self_p)
{
    otp_client_t *self = *self_p;
    if (self) {
        zpoller_destroy (&self->poller);
        zlistx_destroy (&self->mailbox);
        otp_monitor_destroy (&self->monitor);
        zsock_destroy (&self->dealer);
        free (self);
        *self_p = NULL;
    }
}

const char *
otp_client_error (otp_client_t *self)
{
    return self->error;
}

//  Sets the error, unless the connection is lost: that stays the reason.
static void
s_error (otp_client_t *self, const char *format, ...)
{
    if (self->lost)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
}

//  Reads one event of the connection; true if it is lost or refused.
static bool
s_monitor_event (otp_client_t *self)
{
    int event = otp_monitor_read (self->monitor, NULL);
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        self->handshaken = true;
        return false;
    }
    //  A node closes a connection whose CURVE handshake it cannot
    //  decrypt: that is what a wrong cookie looks like from here.
    if (self->handshaken)
        s_error (self, "lost the connection to %s", self->node);
    else
        s_error (self, "%s refused the connection: wrong cookie?", self->node);
    self->lost = true;
    return true;
}

static zmsg_t *
s_recv (otp_client_t *self, int64_t deadline)
{
    while (!self->lost) {
        //  One look even when the time is up: a message already there is
        //  returned, not reported as a time-out.
        int64_t left = deadline - zclock_mono ();
        int wait = left <= 0? 0: left > INT_MAX? -1: (int) left;
        void *which = zpoller_wait (self->poller, wait);
        if (which == self->dealer)
            return s_took (self, zmsg_recv (self->dealer));
        if (which != otp_monitor_socket (self->monitor)) {
            if (zpoller_terminated (self->poller) || zclock_mono () >= deadline) {
                s_error (self, "%s did not answer within %d ms", self->node, self->timeout_ms);
                return NULL;
            }
            continue;
        }
        s_monitor_event (self);
    }
    return NULL;
}

const char *
otp_client_node (otp_client_t *self)
{
    return self->node;
}

int
otp_client_timeout (otp_client_t *self)
{
    return self->timeout_ms;
}

int
otp_client_request (otp_client_t *self, const char *command, const char *arg)
{
    if (self->lost)
        return -1;
    zmsg_t *request = zmsg_new ();
    zmsg_addstr (request, "REQ");
    zmsg_addstrf (request, "%d", ++self->seq);
    zmsg_addstr (request, command);
    if (arg)
        zmsg_addstr (request, arg);
    if (otp_send (&request, self->dealer)) {
        s_error (self, "cannot send to %s", self->node);
        return -1;
    }
    return self->seq;
}

int
otp_client_spawn (otp_client_t *self, char *const argv [])
{
    if (self->lost)
        return -1;
    zmsg_t *request = zmsg_new ();
    zmsg_addstr (request, "SPAWN");
    zmsg_addstrf (request, "%d", ++self->seq);
    for (int i = 0; argv [i]; i++)
        zmsg_addstr (request, argv [i]);
    if (otp_send (&request, self->dealer)) {
        s_error (self, "cannot send to %s", self->node);
        return -1;
    }
    return self->seq;
}

//  The oldest message kept in the mailbox, if any.
static zmsg_t *
s_mailbox_pop (otp_client_t *self)
{
    zmsg_t *kept = (zmsg_t *) zlistx_first (self->mailbox);
    if (kept)
        zlistx_detach_cur (self->mailbox);
    return kept;
}

zmsg_t *
otp_client_recv (otp_client_t *self, int64_t deadline)
{
    zmsg_t *kept = s_mailbox_pop (self);
    return kept? kept: s_recv (self, deadline);
}

//  Keeps what a wait for something else received: a message or an event is
//  the process's, to read later; anything else (a PING, a late REP) is not.
static void
s_keep (otp_client_t *self, zmsg_t **msg)
{
    zframe_t *tag = zmsg_first (*msg);
    if (tag && (zframe_streq (tag, "MSG") || zframe_streq (tag, "EVENT")))
        zlistx_add_end (self->mailbox, *msg);
    else
        zmsg_destroy (msg);
    *msg = NULL;
}

zmsg_t *
otp_client_command (otp_client_t *self, const char *command, const char *arg, bool *ok)
{
    int id = otp_client_request (self, command, arg);
    if (id < 0)
        return NULL;
    int64_t deadline = zclock_mono () + self->timeout_ms;
    while (true) {
        zmsg_t *reply = s_recv (self, deadline);
        if (!reply)
            return NULL;
        char tag [8], seq [16], status [8];
        if (zmsg_size (reply) >= 3 && otp_msg_str (reply, -1, tag, sizeof tag) == 0
        &&  streq (tag, "REP") && otp_msg_str (reply, 0, seq, sizeof seq) == 0
        &&  atoi (seq) == id && otp_msg_str (reply, 1, status, sizeof status) == 0) {
            *ok = streq (status, "ok");
            for (int i = 0; i < 3; i++) {
                zframe_t *frame = zmsg_pop (reply);
                zframe_destroy (&frame);
            }
            return reply;
        }
        s_keep (self, &reply);
    }
}

static int
s_send (otp_client_t *self, const char *name, const char *node, const void *data,
        size_t size, const char *kind, const char *ref)
{
    if (self->lost)
        return -1;
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "SEND");
    zmsg_addstr (msg, name);
    zmsg_addstr (msg, node);
    zmsg_addmem (msg, data, size);
    if (kind) {
        zmsg_addstr (msg, kind);
        zmsg_addstr (msg, ref);
    }
    if (otp_send (&msg, self->dealer)) {
        s_error (self, "cannot send to %s", self->node);
        return -1;
    }
    return 0;
}

int
otp_client_send (otp_client_t *self, const char *name, const char *node,
                 const void *data, size_t size)
{
    return s_send (self, name, node, data, size, NULL, NULL);
}

int
otp_client_attach (otp_client_t *self, const char *name)
{
    bool ok = false;
    zmsg_t *reply = otp_client_command (self, "attach", name, &ok);
    if (reply && !ok)
        otp_msg_str (reply, -1, self->error, sizeof self->error);
    if (reply && ok && !*self->self)
        otp_msg_str (reply, -1, self->self, sizeof self->self);
    zmsg_destroy (&reply);
    return ok? 0: -1;
}

int
otp_client_detach (otp_client_t *self, const char *name)
{
    bool ok = false;
    zmsg_t *reply = otp_client_command (self, "detach", name, &ok);
    zmsg_destroy (&reply);
    if (ok && streq (name, self->self))
        *self->self = 0;    //  the node picks the next name held, if any
    return ok? 0: -1;
}

const char *
otp_client_self (otp_client_t *self)
{
    if (!*self->self) {
        zuuid_t *uuid = zuuid_new ();
        char name [OTP_NAME_MAX + 1];
        snprintf (name, sizeof name, "_%s", zuuid_str_canonical (uuid) );
        //  Canonical form has dashes, which names allow; lower-case hex.
        zuuid_destroy (&uuid);
        if (otp_client_attach (self, name))
            return NULL;
    }
    return self->self;
}

otp_message_t *
otp_client_receive (otp_client_t *self, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0? INT64_MAX: zclock_mono () + timeout_ms;
    while (true) {
        zmsg_t *msg = otp_client_recv (self, deadline);
        if (!msg) {
            if (timeout_ms >= 0 && strstr (self->error, "did not answer"))
                snprintf (self->error, sizeof self->error, "no message within %d ms", timeout_ms);
            return NULL;
        }
        otp_message_t *message = otp_message_parse (msg);
        zmsg_destroy (&msg);
        if (message)
            return message;
    }
}

zframe_t *
otp_client_call (otp_client_t *self, const char *name, const char *node,
                 const void *data, size_t size, int timeout_ms)
{
    if (!otp_client_self (self))
        return NULL;
    char ref [16];
    snprintf (ref, sizeof ref, "%d", ++self->refs);
    if (s_send (self, name, node, data, size, "call", ref))
        return NULL;
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        zmsg_t *msg = s_recv (self, deadline);
        if (!msg) {
            if (strstr (self->error, "did not answer"))
                snprintf (self->error, sizeof self->error, "%s@%s did not reply within %d ms",
                          name, node, timeout_ms);
            return NULL;
        }
        otp_message_t *message = otp_message_parse (msg);
        if (message && streq (message->ref, ref)
        &&  (streq (message->kind, "reply") || streq (message->kind, "noproc"))) {
            zmsg_destroy (&msg);
            zframe_t *payload = NULL;
            if (streq (message->kind, "reply"))
                payload = zframe_dup (message->payload);
            else
                snprintf (self->error, sizeof self->error, "no process %s on %s", name, node);
            otp_message_destroy (&message);
            return payload;
        }
        //  A late reply to an earlier call that timed out is dropped.
        if (message && (streq (message->kind, "reply") || streq (message->kind, "noproc")))
            zmsg_destroy (&msg);
        else
            s_keep (self, &msg);
        otp_message_destroy (&message);
    }
}

int
otp_client_send_request (otp_client_t *self, const char *name, const char *node,
                         const void *data, size_t size, const char *ref)
{
    if (!otp_client_self (self))
        return -1;
    return s_send (self, name, node, data, size, "call", ref);
}

static int
s_answer (otp_client_t *self, const otp_message_t *call, const void *data, size_t size,
          const char *kind)
{
    char name [OTP_NAME_MAX + 1];
    const char *at = strchr (call->from, '@');
    size_t len = at? (size_t) (at - call->from): 0;
    if (!streq (call->kind, "call") || len == 0 || len > OTP_NAME_MAX) {
        snprintf (self->error, sizeof self->error, "not a call, or its caller has no address");
        return -1;
    }
    memcpy (name, call->from, len);
    name [len] = 0;
    return s_send (self, name, at + 1, data, size, kind, call->ref);
}

int
otp_client_reply (otp_client_t *self, const otp_message_t *call, const void *data, size_t size)
{
    return s_answer (self, call, data, size, "reply");
}

int
otp_client_noproc (otp_client_t *self, const otp_message_t *call)
{
    return s_answer (self, call, "", 0, "noproc");
}

zmsg_t *
otp_client_try (otp_client_t *self)
{
    zmsg_t *kept = s_mailbox_pop (self);
    if (kept || self->lost)
        return kept;
    if (zsock_events (self->dealer) & ZMQ_POLLIN)
        return s_took (self, zmsg_recv (self->dealer));
    //  A lost connection shows only on the monitor.
    zsock_t *monitor = otp_monitor_socket (self->monitor);
    while (zsock_events (monitor) & ZMQ_POLLIN)
        if (s_monitor_event (self))
            break;
    return NULL;
}

otp_client_t *
otp_client_serve (const char *node, const char *cookie, int epmd_port, const char *name,
                  int wait_ms, bool *taken, char *error, size_t error_size)
{
    *taken = false;
    int64_t deadline = zclock_mono () + wait_ms;
    while (true) {
        otp_client_t *client = otp_client_new (node, cookie, epmd_port, 3000, error, error_size);
        if (client && otp_client_attach (client, name) == 0)
            return client;
        if (client) {
            snprintf (error, error_size, "%s", otp_client_error (client));
            otp_client_destroy (&client);
            if (strstr (error, "attached by another")) {
                *taken = true;
                return NULL;
            }
        }
        if (zclock_mono () > deadline)
            return NULL;
        zclock_sleep (200);
    }
}

zsock_t *
otp_client_socket (otp_client_t *self)
{
    return self->dealer;
}

zsock_t *
otp_client_monitor_socket (otp_client_t *self)
{
    return otp_monitor_socket (self->monitor);
}

bool
otp_client_lost (otp_client_t *self)
{
    return self->lost;
}
