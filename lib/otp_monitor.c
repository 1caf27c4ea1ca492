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
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://otp-monitor-%d-%lu", getpid (), ++counter);
    //  libzmq makes a socket of its own for the monitor: out of sockets or
    //  descriptors, it fails, and the caller goes without.
    if (zmq_socket_monitor (zsock_resolve (sock), endpoint, events))
        return NULL;
    otp_monitor_t *self = (otp_monitor_t *) zmalloc (sizeof (otp_monitor_t));
    assert (self);
    self->watched = sock;
    self->pipe = zsock_new (ZMQ_PAIR);
    assert (self->pipe);
    //  libzmq's I/O thread sends each event blocking, holding the watched
    //  socket's monitor lock: with the pipe at its high-water mark (1,000
    //  events: a burst of connections) all of libzmq's I/O waits for our
    //  loop, and zmq_socket_monitor (NULL) at shutdown deadlocks on the
    //  lock. An inproc pipe is unbounded when the connecting side's
    //  receive HWM is 0; events are small and read at every wake.
    zsock_set_rcvhwm (self->pipe, 0);
    int rc = zsock_connect (self->pipe, "%s", endpoint);
    assert (rc == 0);           //  inproc, to an endpoint that exists
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
