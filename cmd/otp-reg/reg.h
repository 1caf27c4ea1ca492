/*  otp-reg internals: one replica of the cluster's registry. Every replica
    owns the entries of the processes on its own node and is the only one
    that adds or deletes them; it copies everyone else's. That makes the
    hard cases simple: a node that goes down takes exactly its own entries
    with it, and a replica that (re)joins asks each peer for that peer's
    own entries (snapshot, then updates, in order on one connection).     */
#ifndef REG_H
#define REG_H

#include "otp.h"

typedef struct {
    const char *node;               //  the node we run beside
    const char *cookie;
    int epmd_port;
    int claim_timeout_ms;           //  a peer silent this long no longer counts
} reg_config_t;

//  A unique name and its holder.
typedef struct {
    char *name;
    char node [OTP_NODE_MAX + 1];
    char addr [OTP_NAME_MAX + 1];
    char *meta;
    int64_t stamp;                  //  the holder's registration time (ms, its node's clock)
} entry_t;

//  A registration waiting for the other replicas' consent.
typedef struct {
    entry_t *entry;
    otp_message_t *call;            //  to reply to
    zlistx_t *waiting;              //  node names that have not answered yet
    int64_t deadline;
    bool dead;                      //  its process exited meanwhile
} claim_t;

typedef struct {
    char node [OTP_NODE_MAX + 1];
    bool replica;                   //  an otp-reg has answered from there
    bool slow;                      //  it let a claim time out; heard nothing since
    zmsg_t *out;                    //  operations not yet sent
    size_t out_bytes;
} rpeer_t;

typedef struct {
    const reg_config_t *config;
    otp_client_t *client;
    char node [OTP_NODE_MAX + 1];
    zhashx_t *names;                //  name -> entry_t
    zhashx_t *runners_up;           //  name -> zlistx of entry_t (see replica.c)
    zhashx_t *groups;               //  group -> zhashx (member "ADDR@NODE" -> "")
    zhashx_t *local;                //  our process's address -> set of "n"NAME / "g"GROUP
    zhashx_t *claims;               //  name -> claim_t
    zhashx_t *peers;                //  node name -> rpeer_t, for every up node
    int64_t last_stamp;
    zhashx_t *alive;                //  while recovering: our node's attached names
    struct {
        uint64_t registrations, unregistrations, conflicts, ops_in, ops_out;
        uint64_t requests, bad_messages, timeouts;
    } stats;
} reg_t;

//  replica.c: the state and the operations between replicas
reg_t *reg_new (const reg_config_t *config, otp_client_t *client);
void reg_destroy (reg_t **self_p);
void reg_on_nodeup (reg_t *self, const char *node);
//  At start: asks `node`'s replica for its state and for what it holds of
//  ours; entries of ours whose address is in `alive` (attached on our node
//  now) are taken back, the others deleted everywhere.
void reg_recover (reg_t *self, const char *node, zlistx_t *alive);
void reg_on_nodedown (reg_t *self, const char *node);
//  A process of ours exited or detached its address.
void reg_on_down (reg_t *self, const char *addr);
//  A batch of operations from the replica on `node`.
void reg_on_batch (reg_t *self, const char *node, zframe_t *payload);
//  Time-outs of claims; call every so often.
void reg_tick (reg_t *self);
//  Sends every batch that waits.
void reg_flush (reg_t *self);
//  Starts registering `name` for `addr` here; replies to `call` when done.
void reg_claim (reg_t *self, const char *name, const char *addr, const char *meta,
                otp_message_t **call);
//  Removes our entry `name` (held by `addr`), tells the others.
void reg_delete (reg_t *self, const char *name);
//  Our `addr` joins or leaves `group`; tells the others.
void reg_join (reg_t *self, const char *group, const char *addr);
void reg_leave (reg_t *self, const char *group, const char *addr);
//  Replies to a process's call with "ok"/"error" and values.
void reg_reply (reg_t *self, const otp_message_t *call, zmsg_t **values);

//  requests.c: calls from processes
void reg_on_request (reg_t *self, otp_message_t **call);

#endif
