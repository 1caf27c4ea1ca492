/*  otp_client - a program's connection to its node, as a client (a hidden
    node): requests and replies, attaching under a name, sending to a name
    on any node, receiving what is sent to us. otp-ctl is built on it; so can
    any C program that wants to take part as a named process.              */
#ifndef OTP_CLIENT_H
#define OTP_CLIENT_H

#include <czmq.h>

typedef struct _otp_client_t otp_client_t;

//  Connects to `node` (name@host), finding its port through the port mapper
//  on its host, over CURVE with the cookie's keys. Returns NULL with a
//  one-line reason in `error`. `timeout_ms` bounds every later wait too.
otp_client_t *otp_client_new (const char *node, const char *cookie, int epmd_port,
                              int timeout_ms, char *error, size_t error_size);
void otp_client_destroy (otp_client_t **self_p);
//  Why the last call failed.
const char *otp_client_error (otp_client_t *self);

//  Sends a request (REQ id command [arg]); returns its id, or -1.
int otp_client_request (otp_client_t *self, const char *command, const char *arg);
//  Waits until `deadline` (zclock_mono) for the next message from the node.
//  Returns it, or NULL: a time-out, a refused handshake, a lost connection.
zmsg_t *otp_client_recv (otp_client_t *self, int64_t deadline);
//  One request and its reply. Returns the reply's frames after the status
//  (REP id status ...), with the status in `ok`; NULL if none came.
zmsg_t *otp_client_call (otp_client_t *self, const char *command, const char *arg, bool *ok);
//  Sends `size` bytes to `name` on `node` (fire and forget, as Erlang's !).
int otp_client_send (otp_client_t *self, const char *name, const char *node,
                     const void *data, size_t size);

#endif
