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
    int seq;
    char error [1024];
};

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
    zsock_connect (self->dealer, "tcp://%s:%d", host, port);
    return self;
}

void
otp_client_destroy (otp_client_t **self_p)
{
    otp_client_t *self = *self_p;
    if (self) {
        zpoller_destroy (&self->poller);
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

int
otp_client_request (otp_client_t *self, const char *command, const char *arg)
{
    zmsg_t *request = zmsg_new ();
    zmsg_addstr (request, "REQ");
    zmsg_addstrf (request, "%d", ++self->seq);
    zmsg_addstr (request, command);
    if (arg)
        zmsg_addstr (request, arg);
    if (otp_send (&request, self->dealer)) {
        snprintf (self->error, sizeof self->error, "cannot send to %s", self->node);
        return -1;
    }
    return self->seq;
}

zmsg_t *
otp_client_recv (otp_client_t *self, int64_t deadline)
{
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0) {
            snprintf (self->error, sizeof self->error, "%s did not answer within %d ms",
                      self->node, self->timeout_ms);
            return NULL;
        }
        void *which = zpoller_wait (self->poller, (int) left);
        if (which == self->dealer)
            return zmsg_recv (self->dealer);
        if (which != otp_monitor_socket (self->monitor))
            continue;
        int event = otp_monitor_read (self->monitor, NULL);
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            self->handshaken = true;
        else {
            //  A node closes a connection whose CURVE handshake it cannot
            //  decrypt: that is what a wrong cookie looks like from here.
            if (self->handshaken)
                snprintf (self->error, sizeof self->error, "lost the connection to %s", self->node);
            else
                snprintf (self->error, sizeof self->error,
                          "%s refused the connection: wrong cookie?", self->node);
            return NULL;
        }
    }
}

zmsg_t *
otp_client_call (otp_client_t *self, const char *command, const char *arg, bool *ok)
{
    int id = otp_client_request (self, command, arg);
    if (id < 0)
        return NULL;
    int64_t deadline = zclock_mono () + self->timeout_ms;
    while (true) {
        zmsg_t *reply = otp_client_recv (self, deadline);
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
        zmsg_destroy (&reply);      //  an event, or a late reply: not ours
    }
}

int
otp_client_send (otp_client_t *self, const char *name, const char *node,
                 const void *data, size_t size)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "SEND");
    zmsg_addstr (msg, name);
    zmsg_addstr (msg, node);
    zmsg_addmem (msg, data, size);
    if (otp_send (&msg, self->dealer)) {
        snprintf (self->error, sizeof self->error, "cannot send to %s", self->node);
        return -1;
    }
    return 0;
}
