/*  otp_supervisor - otp-sup's wire format, and the calls a process (otp-ctl)
    makes to it.

    otp-sup runs beside a node as its process `otp-sup`. A process asks any
    member with a call whose payload is a request; members talk to each
    other with plain messages whose payload is a batch of operations. Both
    are CZMQ-encoded frame lists, checked against the tables below (see
    otp_registry.h for the same scheme).

    Replies are "ok" and values, "error" and a reason, or "moved" and a
    node: the child is (to be) run by the member on that node, ask it. The
    calls below follow one move.                                            */
#ifndef OTP_SUPERVISOR_H
#define OTP_SUPERVISOR_H

#include "otp_client.h"
#include "otp_childspec.h"

#define OTP_SUP_PROCESS "otp-sup"   //  otp-sup's address on every node
#define OTP_SUP_PAGE 256            //  which-children rows per reply
//  start's arguments: every key of a spec, args and env repeated, with room.
#define OTP_SUP_START_ARGS_MAX (2 * (OTP_CHILD_ARGS_MAX + OTP_CHILD_ENV_MAX + 12))

//  Requests, a process -> an otp-sup (a call).
enum {
    SUP_START,          //  spec pairs... -> ok, node, pid
    SUP_STOP,           //  id -> ok                  (terminate_child)
    SUP_RESTART,        //  id -> ok, node, pid       (restart_child)
    SUP_DELETE,         //  id -> ok                  (delete_child)
    SUP_WHICH,          //  after -> ok, rows of OTP_SUP_ROW frames, ids > after, sorted
    SUP_COUNT,          //  -> ok, specs, active, supervisors, workers
    SUP_INFO,           //  -> ok, key, value...
    SUP_STATE,          //  id or name -> ok, key, value...: its latest checkpoint
    SUP_REQUEST_COUNT
};
extern const otp_cmd_t otp_sup_requests [SUP_REQUEST_COUNT + 1];

//  One which-children row: id, supervisor ("cluster", or the local tree's
//  path such as "root/db"), node, pid (0 if none), status (running,
//  restarting, stopped, waiting: for its name or a member), restarts, name
//  ("" if none), restart, type.
#define OTP_SUP_ROW 9
enum {
    SUP_ROW_ID, SUP_ROW_SUPERVISOR, SUP_ROW_NODE, SUP_ROW_PID, SUP_ROW_STATUS,
    SUP_ROW_RESTARTS, SUP_ROW_NAME, SUP_ROW_RESTART, SUP_ROW_TYPE
};

//  Operations, member -> member (a batch of any number).
enum {
    SUP_OP_HELLO,       //  strategy: I am a member; send me your table
    SUP_OP_TABLE,       //  strategy: here is my table (ENTRY...); no answer
    SUP_OP_ENTRY,       //  id, epoch, writer, owner, state, generation, spec:
                        //  a version of a cluster child (see docs/protocol.md);
                        //  spec is otp_childspec_encode's pairs as one
                        //  zmsg_encode frame, the op's one payload argument
    SUP_OP_RUN,         //  id, epoch, pid, restarts, status: how it runs at its owner
    SUP_OP_LEAVING,     //  (none): I am draining; place nothing on me
    SUP_OP_BEAT,        //  (none): I am alive
    SUP_OP_SEES,        //  nodes: the members I reach now, space-separated
    //  Checkpoints (a child's state), keyed by (epoch, writer) of the
    //  version its process started under, then seq:
    SUP_OP_STATE,       //  id, epoch, writer, seq, release, at_ms, total, offset, bytes:
                        //  one piece of a state (pieces in order, offset 0 first)
    SUP_OP_STACK,       //  id, epoch, writer, seq: I hold it (or a newer one)
    SUP_OP_STATEQ,      //  id, round: send me your latest state, then STATER
    SUP_OP_STATER,      //  id, epoch, writer, seq, round: my latest (0 - 0: none) was sent
    SUP_OP_COUNT
};
extern const otp_cmd_t otp_sup_ops [SUP_OP_COUNT + 1];

//  The calls; each returns 0, or -1 with a one-line reason in `error`.
//  `node` (OTP_NODE_MAX + 1 bytes) gets where the child runs; may be NULL.
int otp_sup_start_child (otp_client_t *client, const otp_childspec_t *spec,
                         char *node, long *pid, char *error, size_t error_size);
//  Into the root of the local tree of our node's otp-sup (never moves).
int otp_sup_start_local_child (otp_client_t *client, const otp_childspec_t *spec,
                               char *node, long *pid, char *error, size_t error_size);
int otp_sup_stop_child (otp_client_t *client, const char *id, char *error, size_t error_size);
int otp_sup_restart_child (otp_client_t *client, const char *id, char *node, long *pid,
                           char *error, size_t error_size);
int otp_sup_delete_child (otp_client_t *client, const char *id, char *error, size_t error_size);
//  Every row, OTP_SUP_ROW frames each, all pages; NULL on error.
zmsg_t *otp_sup_which_children (otp_client_t *client, char *error, size_t error_size);
//  specs, active, supervisors, workers; NULL on error.
zmsg_t *otp_sup_count_children (otp_client_t *client, char *error, size_t error_size);
zmsg_t *otp_sup_info (otp_client_t *client, char *error, size_t error_size);
//  A cluster child's latest checkpoint, as the member beside us holds it:
//  key, value pairs (child, held, size, seq, release, age_ms, owner).
zmsg_t *otp_sup_state (otp_client_t *client, const char *id, char *error, size_t error_size);

void otp_supervisor_test (void);

#endif
