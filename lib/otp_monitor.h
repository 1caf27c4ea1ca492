/*  otp_monitor - libzmq socket events read in the reactor.
    CZMQ's zmonitor runs an actor thread per socket; a node watches one socket
    per peer, so we use zmq_socket_monitor directly: events arrive on an
    inproc PAIR that the loop reads like any other socket, with no thread.   */
#ifndef OTP_MONITOR_H
#define OTP_MONITOR_H

#include <czmq.h>

typedef struct _otp_monitor_t otp_monitor_t;

//  Starts watching `sock` for `events` (ZMQ_EVENT_* bits); NULL if libzmq
//  cannot make its monitor socket (out of sockets or descriptors).
otp_monitor_t *otp_monitor_new (zsock_t *sock, int events);
//  Stops watching; call before the watched socket is destroyed.
void otp_monitor_destroy (otp_monitor_t **self_p);
zsock_t *otp_monitor_socket (otp_monitor_t *self);
//  Reads one event; returns its ZMQ_EVENT_* number (0 on error), and the
//  event's value (an fd, an errno, a protocol error) in `value`.
int otp_monitor_read (otp_monitor_t *self, int *value);

#endif
