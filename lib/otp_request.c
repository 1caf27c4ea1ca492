#include "otp_request.h"
#include "otp_proto.h"

zmsg_t *
otp_request (zsock_t *dealer, zmsg_t **request, int timeout_ms)
{
    if (zmsg_send (request, dealer)) {
        zmsg_destroy (request);
        return NULL;
    }
    zpoller_t *poller = zpoller_new (dealer, NULL);
    zmsg_t *reply = NULL;
    if (zpoller_wait (poller, timeout_ms) == dealer)
        reply = zmsg_recv (dealer);
    zpoller_destroy (&poller);
    return reply;
}

zmsg_t *
otp_epmd_request (const char *host, int port, zmsg_t **request, int timeout_ms)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    if (!dealer) {
        zmsg_destroy (request);
        return NULL;
    }
    otp_sock_harden (dealer);
    //  Queue the request until the connection is up, not beyond the deadline.
    zsock_set_sndtimeo (dealer, timeout_ms);
    if (zsock_connect (dealer, "tcp://%s:%d", host, port)) {
        zmsg_destroy (request);
        zsock_destroy (&dealer);
        return NULL;
    }
    zmsg_t *reply = otp_request (dealer, request, timeout_ms);
    zsock_destroy (&dealer);
    return reply;
}

int
otp_epmd_port (const char *host, int epmd_port, const char *name, int timeout_ms)
{
    zmsg_t *request = zmsg_new ();
    zmsg_addstr (request, "PORT");
    zmsg_addstr (request, name);
    zmsg_t *reply = otp_epmd_request (host, epmd_port, &request, timeout_ms);
    if (!reply)
        return -1;
    int port = 0;
    long value;
    char tag [8];
    if (zmsg_size (reply) == 3 && otp_msg_str (reply, -1, tag, sizeof tag) == 0
    &&  streq (tag, "PORT") && otp_msg_int (reply, 1, 1, 65535, &value) == 0)
        port = (int) value;
    zmsg_destroy (&reply);
    return port;
}
