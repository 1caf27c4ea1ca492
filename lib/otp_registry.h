/*  otp_registry - the cluster-wide registry's wire format, and the calls a
    process makes to it.

    Every node that wants the registry runs otp-reg, attached to the node as
    the process `otp-reg`. A process asks its own node's otp-reg with a call
    whose payload is a request; replicas talk to each other with plain
    messages whose payload is a batch of operations. Both are CZMQ-encoded
    frame lists (zmsg_encode): requests and operations are checked against
    the tables below, as every other message is (otp_proto).              */
#ifndef OTP_REGISTRY_H
#define OTP_REGISTRY_H

#include "otp_client.h"

#define OTP_REG_PROCESS "otp-reg"   //  otp-reg's address on every node
#define OTP_REG_NAME_MAX 255
#define OTP_REG_PAGE 1024           //  names, groups or members per reply: under 1 MiB

//  Requests, a process -> its node's otp-reg (a call). The reply payload is
//  a frame list: "ok" and values, or "error" and a reason.
enum {
    REG_REGISTER,       //  name, metadata: the caller's address, cluster-wide
    REG_UNREGISTER,     //  name
    REG_WHEREIS,        //  name -> node, address, metadata; no values if none
    REG_NAMES,          //  after -> up to OTP_REG_PAGE names > after, sorted
    REG_JOIN,           //  group: the caller joins it
    REG_LEAVE,          //  group
    REG_MEMBERS,        //  group, after -> up to OTP_REG_PAGE ADDR@NODE > after, sorted
    REG_GROUPS,         //  after -> up to OTP_REG_PAGE groups > after, sorted
    REG_INFO,           //  -> key, value...
    REG_REGISTER_AS,    //  name, metadata, address: for another process of ours on this node
    REG_UNREGISTER_AS,  //  name, address
    REG_REQUEST_COUNT
};
extern const otp_cmd_t otp_reg_requests [REG_REQUEST_COUNT + 1];

//  Operations, replica -> replica: a batch is any number of them, one after
//  another. The sender's node is the owner of what it adds or deletes.
enum {
    REG_OP_SYNC,        //  (none): here is my state; send me yours
    REG_OP_RESET,       //  (none): forget all you hold of mine; what follows replaces it
    REG_OP_ADD,         //  name, address, metadata, stamp: mine now
    REG_OP_DEL,         //  name, address
    REG_OP_JOIN,        //  group, address
    REG_OP_LEAVE,       //  group, address
    REG_OP_CLAIM,       //  name, address, stamp: may I register it?
    REG_OP_ACK,         //  name, address, stamp, "ok" | "no"
    REG_OP_RECOVER,     //  (none): I restarted; send me your state, and what you hold of mine
    REG_OP_YOURS,       //  name, address, metadata, stamp: I hold this as yours
    REG_OP_YOURJOIN,    //  group, address: I hold this membership as yours
    REG_OP_COUNT
};
extern const otp_cmd_t otp_reg_ops [REG_OP_COUNT + 1];

//  Reads a payload made by zmsg_encode; NULL if it is not a frame list.
//  (CZMQ 4.2.1's zmsg_decode trusts the lengths inside: never give it
//  bytes from the network.)
zmsg_t *otp_payload_decode (zframe_t *payload);

//  Calls `process` on `node` with the frame list `*request` (taken) as the
//  payload, with the client's time-out, and reads the reply: a frame list
//  of a status and values. Returns the values after "ok" (or after `other`,
//  a status the caller also expects, NULL for none: `*is_other` tells which
//  came), or NULL with a one-line reason in `error`: "no PROCESS runs on
//  NODE", the call's own error, a malformed reply, or the reason that came
//  with "error". otp-reg's and otp-sup's calls are made with it.
zmsg_t *otp_payload_call (otp_client_t *client, const char *process, const char *node,
                          zmsg_t **request, const char *other, bool *is_other,
                          char *error, size_t error_size);

//  Pops the next request or operation off `batch` as its own message
//  (command frame, then arguments) into `*op`. Returns its index in
//  `table`, -1 when the batch is empty, -2 (with `*op` NULL) when it is
//  malformed; the rest of a malformed batch is not to be trusted.
int otp_batch_pop (zmsg_t *batch, const otp_cmd_t *table, zmsg_t **op);

//  A registry name: 1..255 printable ASCII characters, no space.
bool otp_reg_name_valid (const char *name);

//  The calls. Each returns 0, or -1 with a one-line reason in `error`.
int otp_reg_register (otp_client_t *client, const char *name, const char *meta,
                      char *error, size_t error_size);
int otp_reg_unregister (otp_client_t *client, const char *name, char *error, size_t error_size);
//  The same for `addr`, another process on our node (Erlang's register/2
//  takes any local pid): otp-sup registers its children's ports so. The
//  entry goes when `addr` exits or detaches.
int otp_reg_register_as (otp_client_t *client, const char *name, const char *addr, const char *meta,
                         char *error, size_t error_size);
int otp_reg_unregister_as (otp_client_t *client, const char *name, const char *addr,
                           char *error, size_t error_size);
//  A request's payload, for a caller that does not wait for the reply
//  (otp_client_send_request to OTP_REG_PROCESS): `command` and up to three
//  arguments (NULL: none). The reply's payload is "ok" and values, or
//  "error" and a reason (otp_payload_decode).
zframe_t *otp_reg_request (const char *command, const char *a, const char *b, const char *c);
//  1 and the holder if `name` is registered, 0 if not, -1 on error.
//  `node` holds OTP_NODE_MAX + 1 bytes, `addr` OTP_NAME_MAX + 1, `meta`
//  OTP_ARG_MAX + 1; `meta` may be NULL.
int otp_reg_whereis (otp_client_t *client, const char *name, char *node, char *addr,
                     char *meta, char *error, size_t error_size);
int otp_reg_join (otp_client_t *client, const char *group, char *error, size_t error_size);
int otp_reg_leave (otp_client_t *client, const char *group, char *error, size_t error_size);
//  Lists of strings (the caller destroys them), or NULL on error.
zlistx_t *otp_reg_names (otp_client_t *client, char *error, size_t error_size);
zlistx_t *otp_reg_groups (otp_client_t *client, char *error, size_t error_size);
zlistx_t *otp_reg_members (otp_client_t *client, const char *group, char *error, size_t error_size);
//  otp-reg's counters as key, value frames, or NULL on error.
zmsg_t *otp_reg_info (otp_client_t *client, char *error, size_t error_size);

//  Sends to, or calls, whoever holds `name` anywhere in the cluster: a
//  look-up in our node's replica, then a message to the holder's address.
int otp_reg_send (otp_client_t *client, const char *name, const void *data, size_t size,
                  char *error, size_t error_size);
zframe_t *otp_reg_call (otp_client_t *client, const char *name, const void *data, size_t size,
                        int timeout_ms, char *error, size_t error_size);

void otp_registry_test (void);

#endif
