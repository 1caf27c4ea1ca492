/*  otp_proto - every message on the wire, defined once.

    A message is one ZeroMQ multipart message: frame 0 names the command, the
    frames after it are its arguments. Each table below gives, per command,
    how many argument frames it takes and how large each may be; a receiver
    checks a message against its table before it reads a single argument, so
    handlers may index frames without further checks. docs/protocol.md is
    the prose form of these tables: change both together.                   */
#ifndef OTP_PROTO_H
#define OTP_PROTO_H

#include <czmq.h>
#include <stdbool.h>

#define OTP_PROTO_VERSION "1"
#define OTP_ARG_MAX 1024            //  a name, a number, a host
#define OTP_PAYLOAD_MAX (1 << 20)   //  a message body
#define OTP_HWM 10000               //  queued messages per connection
#define OTP_REF_MAX 64              //  a call's reference
#define OTP_MSG_MAX (OTP_PAYLOAD_MAX + 16 * 1024)   //  ZMQ_MAXMSGSIZE

typedef struct {
    const char *name;
    int min_args;
    int max_args;           //  -1: any number (each at most OTP_ARG_MAX)
    int payload_arg;        //  index of the one argument that may be large, or -1
} otp_cmd_t;

//  Port mapper requests, client -> otp-epmd. ALIVE and BYE only on its
//  local endpoint (an abstract Unix socket: this host, this network
//  namespace), look-ups on TCP.
#define OTP_EPMD_IPC "ipc://@otp-epmd-%d"
enum { EPMD_ALIVE, EPMD_BYE, EPMD_PORT, EPMD_NAMES, EPMD_INFO, EPMD_CMD_COUNT };
extern const otp_cmd_t otp_epmd_cmds [EPMD_CMD_COUNT + 1];

//  Messages a node's ROUTER accepts, from peers and from attached clients.
enum {
    NODE_HELLO,     //  peer: version, node, instance, host, port [dial|back|again [link echo]]
    NODE_HB,        //  peer: [interval-ms health [need-ms]] - how often it beats us, its health, how often it needs us to
    NODE_BYE,       //  peer: (none) - leaving on purpose, do not reconnect
    NODE_ROUTE,     //  peer: from, to-name, to-node, payload [kind ref] - forwarded message
    NODE_REQ,       //  client: request id, command, arguments...
    NODE_SEND,      //  client: to-name, to-node, payload [kind ref]
    NODE_SPAWN,     //  client: request id, command, arguments... - run it here
    NODE_ACK,       //  peer: total - bytes of ROUTE received from us so far (the byte budget)
    NODE_CMD_COUNT
};
extern const otp_cmd_t otp_node_cmds [NODE_CMD_COUNT + 1];

//  Checks `msg` against `table`; returns the command's index, or -1 with a
//  one-line reason in `error`. Never modifies the message.
int otp_msg_check (zmsg_t *msg, const otp_cmd_t *table, char *error, size_t error_size);
//  Returns argument `index` (0 = first after the command, -1 = the command
//  frame itself), or NULL.
zframe_t *otp_msg_arg (zmsg_t *msg, int index);
//  Copies argument `index` as a C string into `buf`. A frame with a NUL byte
//  or longer than `size - 1` gives -1.
int otp_msg_str (zmsg_t *msg, int index, char *buf, size_t size);
//  Parses argument `index` as a decimal integer within [min, max].
int otp_msg_int (zmsg_t *msg, int index, long min, long max, long *value);

//  Reads the optional `kind ref` pair that follows a payload at argument
//  `index` (SEND, ROUTE, MSG): kind is "call", "reply" or "noproc" (a call
//  found nobody to take it), ref 1..OTP_REF_MAX
//  bytes. `kind` is "" when there is none. Returns -1 if malformed.
int otp_msg_kind (zmsg_t *msg, int index, char *kind, size_t kind_size);

//  Receives one message, as zmsg_recv does, and the descriptor of the TCP
//  connection it came on (ZMQ_SRCFD), or -1: a ROUTER's monitor names the
//  descriptor of a connection that closed, and nothing else. `loopback`
//  (may be NULL) tells whether the peer's address is 127.x or ::1. CZMQ's
//  frames expose neither.
zmsg_t *otp_recv_fd (zsock_t *sock, int *fd, bool *loopback);

//  Sets the socket options every peer-facing socket needs: a frame size
//  cap (an oversized frame drops the connection; libzmq caps frames, not
//  the number of them), no blocking on send, and linger 0.
void otp_sock_harden (zsock_t *sock);

//  Sends and always destroys `*msg` (zmsg_send keeps it on failure).
//  Returns 0, or -1 with errno set (EAGAIN at the HWM, EHOSTUNREACH from a
//  ROUTER_MANDATORY socket whose peer is gone).
int otp_send (zmsg_t **msg, zsock_t *sock);

//  Binds `sock` to tcp://address:port; port 0 picks a free one. Returns
//  the port bound, or -1.
int otp_bind (zsock_t *sock, const char *address, int port);

void otp_proto_test (void);

#endif
