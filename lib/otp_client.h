/*  otp_client - a program's connection to its node, as a client (a hidden
    node): requests and replies, attaching under a name, sending to a name
    on any node, calls with time-outs, receiving what is sent to us.
    otp-ctl and otp-reg are built on it; so can any C program that wants to
    take part as a named process.

    A process has an address on its node: the first name it attached, or,
    once it calls or registers, an anonymous `_` and a UUID (Erlang's
    pid). Messages that arrive while it waits for a reply are kept in its
    mailbox, in order, for the next otp_client_receive.                     */
#ifndef OTP_CLIENT_H
#define OTP_CLIENT_H

#include <czmq.h>
#include "otp_name.h"
#include "otp_proto.h"

typedef struct _otp_client_t otp_client_t;

//  A message delivered to the process (MSG from the node).
typedef struct {
    char from [OTP_NAME_MAX + OTP_NODE_MAX + 2];    //  ADDR@NODE; ADDR may be empty
    char to [OTP_NAME_MAX + 1];                     //  which of our names it was sent to
    char kind [8];                                  //  "", "call", "reply", "noproc"
    char ref [OTP_REF_MAX + 1];                     //  a call's reference
    zframe_t *payload;
} otp_message_t;

//  Reads a MSG; NULL if `msg` is not a well-formed one. Does not take `msg`.
otp_message_t *otp_message_parse (zmsg_t *msg);
void otp_message_destroy (otp_message_t **self_p);

//  Connects to `node` (name@host), finding its port through the port mapper
//  on its host, over CURVE with the cookie's keys. Returns NULL with a
//  one-line reason in `error`. `timeout_ms` bounds every later wait too.
otp_client_t *otp_client_new (const char *node, const char *cookie, int epmd_port,
                              int timeout_ms, char *error, size_t error_size);
void otp_client_destroy (otp_client_t **self_p);
//  Why the last call failed.
const char *otp_client_error (otp_client_t *self);
//  The node we are connected to.
const char *otp_client_node (otp_client_t *self);
//  The time-out given to otp_client_new, in ms.
int otp_client_timeout (otp_client_t *self);

//  Sends a request (REQ id command [arg]); returns its id, or -1.
int otp_client_request (otp_client_t *self, const char *command, const char *arg);
//  Asks the node to run argv (NULL-terminated, at most 63 arguments): sends
//  SPAWN id argv...; returns its id, or -1. The node answers REP id ok PID
//  or REP id error REASON, then OUT id BYTES and ERR id BYTES as the command
//  writes them, and EXIT id STATUS (exit code, or 128 + signal) at the end.
int otp_client_spawn (otp_client_t *self, char *const argv []);
//  Waits until `deadline` (zclock_mono) for the next message: the mailbox
//  first, then the node. Returns it, or NULL: a time-out, a refused
//  handshake, a lost connection.
zmsg_t *otp_client_recv (otp_client_t *self, int64_t deadline);
//  The next message if one is there now (mailbox first), else NULL.
zmsg_t *otp_client_try (otp_client_t *self);
//  The sockets to watch (zloop, zpoller) for a process that does not block
//  in otp_client_recv: when either is readable, drain otp_client_try, then
//  look at otp_client_lost. Messages that came during a blocking call wait
//  in the mailbox, which no socket shows: drain after every such call too.
zsock_t *otp_client_socket (otp_client_t *self);
zsock_t *otp_client_monitor_socket (otp_client_t *self);
//  True once the connection was lost or refused. For good: every later
//  call fails at once, and otp_client_error keeps saying why.
bool otp_client_lost (otp_client_t *self);
//  One request and its reply. Returns the reply's frames after the status
//  (REP id status ...), with the status in `ok`; NULL if none came.
zmsg_t *otp_client_command (otp_client_t *self, const char *command, const char *arg, bool *ok);

//  For a daemon beside a node (otp-reg, otp-sup): connects to `node`,
//  retrying while it starts, for up to `wait_ms`, and attaches `name` as
//  its address. NULL with a one-line reason; `*taken` is true when another
//  process already holds `name` there (another copy of the daemon).
otp_client_t *otp_client_serve (const char *node, const char *cookie, int epmd_port,
                                const char *name, int wait_ms, bool *taken,
                                char *error, size_t error_size);

//  Attaches `name` on our node: messages sent to it come to us. The first
//  name attached is our address. Returns 0, or -1 (see otp_client_error).
int otp_client_attach (otp_client_t *self, const char *name);
int otp_client_detach (otp_client_t *self, const char *name);
//  Our address, attaching an anonymous one if we have none; NULL on failure.
const char *otp_client_self (otp_client_t *self);

//  Sends `size` bytes to `name` on `node` (fire and forget, as Erlang's !).
int otp_client_send (otp_client_t *self, const char *name, const char *node,
                     const void *data, size_t size);
//  The next message for us, waiting at most `timeout_ms` (-1: forever).
//  NULL on time-out (otp_client_error says so) or a lost connection.
otp_message_t *otp_client_receive (otp_client_t *self, int timeout_ms);
//  Sends a call and waits for its reply (gen_server:call). Returns the
//  reply's payload, or NULL: time-out, nobody holds `name` on `node`
//  ("noproc"), or the connection is lost; the reason in otp_client_error.
zframe_t *otp_client_call (otp_client_t *self, const char *name, const char *node,
                           const void *data, size_t size, int timeout_ms);
//  Sends a call without waiting (gen_server:send_request): its reply comes
//  to otp_client_receive as a message of kind "reply" (or "noproc") with
//  `ref` (1..OTP_REF_MAX bytes, chosen by the caller; not digits only,
//  which otp_client_call uses).
int otp_client_send_request (otp_client_t *self, const char *name, const char *node,
                             const void *data, size_t size, const char *ref);
//  Answers a message whose kind is "call".
int otp_client_reply (otp_client_t *self, const otp_message_t *call,
                      const void *data, size_t size);
//  Answers a call as the node does when nobody holds its address (a
//  reply of kind "noproc"): for one of our names that we have given up
//  while calls to it were on their way. The caller tries elsewhere or
//  fails, never taking whoever else reads our mail for the callee.
int otp_client_noproc (otp_client_t *self, const otp_message_t *call);

#endif
