#include "otp_monitor.h"
#include <assert.h>

struct _otp_monitor_t {
    zsock_t *watched;
    zsock_t *pipe;
};

otp_monitor_t *
otp_monitor_new (zsock_t *sock, int events)
{
    static unsigned long counter = 0;
    otp_monitor_t *self = (otp_monitor_t *) zmalloc (sizeof (otp_monitor_t));
    assert (self);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://otp-monitor-%d-%lu", getpid (), ++counter);
    int rc = zmq_socket_monitor (zsock_resolve (sock), endpoint, events);
    assert (rc == 0);
    self->watched = sock;
    self->pipe = zsock_new (ZMQ_PAIR);
    assert (self->pipe);
    rc = zsock_connect (self->pipe, "%s", endpoint);
    assert (rc == 0);
    return self;
}

void
otp_monitor_destroy (otp_monitor_t **self_p)
{
    otp_monitor_t *self = *self_p;
    if (self) {
        zmq_socket_monitor (zsock_resolve (self->watched), NULL, 0);
        zsock_destroy (&self->pipe);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
otp_monitor_socket (otp_monitor_t *self)
{
    return self->pipe;
}

int
otp_monitor_read (otp_monitor_t *self, int *value)
{
    //  libzmq 4.3 event format: a 6-byte frame (uint16 event, uint32 value)
    //  and a frame with the endpoint.
    zmsg_t *msg = zmsg_recv (self->pipe);
    if (!msg)
        return 0;
    zframe_t *head = zmsg_first (msg);
    int event = 0;
    if (head && zframe_size (head) == 6) {
        uint16_t ev;
        uint32_t val;
        memcpy (&ev, zframe_data (head), 2);
        memcpy (&val, zframe_data (head) + 2, 4);
        event = ev;
        if (value)
            *value = (int) val;
    }
    zmsg_destroy (&msg);
    return event;
}
