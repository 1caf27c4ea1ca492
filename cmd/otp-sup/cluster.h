/*  The cluster supervisor's insides, shared by its files: cluster.c (the
    table of children, placement, failover) and cluster_state.c (the
    children's checkpoints, replicated to every member).                   */
#ifndef CLUSTER_H
#define CLUSTER_H

#include "sup.h"

#define CLUSTER_TICK_MS 20
#define CLUSTER_BEAT_MS 500
//  Every member says again how its children run, this often: a RUN that
//  came before the version naming its sender (over another member's
//  connection), or for a child we did not know yet, was not believed, and
//  nothing else would say it again while the child runs on.
#define CLUSTER_RUN_REFRESH_MS 1000
#define CLUSTER_RETRY_MIN_MS 5
#define CLUSTER_RETRY_MAX_MS 500
#define CLUSTER_BATCH 256               //  entries per message of a table

typedef enum { ENTRY_RUNNING, ENTRY_STOPPED, ENTRY_DELETED } estate_t;

//  A checkpoint's place in time: the version of the entry its process
//  started under (so states order as versions do, and the instance that
//  wins a conflict has the state that wins), then its sequence number.
typedef struct {
    uint64_t epoch;
    char writer [OTP_NODE_MAX + 1];
    uint64_t seq;
} state_key_t;

typedef struct {
    bool have;
    state_key_t key;
    char release [OTP_STATE_VERSION_MAX + 1];   //  of the otp-sup that took it
    int64_t at;                     //  when, wall clock, ms
    zchunk_t *data;
} state_rec_t;

typedef struct {
    state_rec_t held;               //  the latest we hold
    state_rec_t merge;              //  owner: a state of an instance that lost, to hand over
    state_rec_t lost;               //  our own process's last, superseded by a newer version:
                                    //  sent to the owner (in tables too) until it says STACK
    bool merge_due;
    int64_t merge_at;               //  restart the child with it then
    zhashx_t *ins;                  //  sender -> state being received from it, piece by piece
    bool cast_due;                  //  held is a cast not sent yet (casts are sent coalesced)
    int64_t cast_at;                //  not before then
    //  Owner: the process that runs (its version; seq: the state it began
    //  with), and the state the first process under this version began
    //  with: a state of an older version taken after it ran beside us.
    state_key_t instance;
    uint64_t fork_seq;
    uint64_t next_seq;
    //  Before a start under a new version: the members' latest, read.
    bool reading;
    uint64_t read_round;            //  answers name the round they answer
    int64_t read_deadline;
    zlistx_t *read_from;            //  members that answered this round
    zlistx_t *read_asked;           //  members asked this round (one back since is asked too)
    uint64_t read_epoch;            //  the version read for
    char read_writer [OTP_NODE_MAX + 1];
    zlistx_t *puts;                 //  put_t waiting for a majority
} entry_state_t;

typedef struct {
    cluster_t *cluster;
    char id [OTP_CHILD_ID_MAX + 1];
    otp_childspec_t *spec;
    uint64_t epoch;
    char writer [OTP_NODE_MAX + 1];
    char owner [OTP_NODE_MAX + 1];
    estate_t state;
    uint64_t generation;            //  restart-child: a new one
    //  How it runs at its owner, as the owner last said.
    uint64_t run_epoch;
    //  A RUN from a member that runs a newer version than ours (it came
    //  before that version did, over another member's connection): kept,
    //  and applied if the version comes naming that member.
    struct {
        char from [OTP_NODE_MAX + 1];
        uint64_t epoch;
        long pid;
        int restarts;
        char status [16];
    } early;
    long pid;
    int restarts;
    char status [16];
    //  Here, when we own it.
    child_t *child;
    uint64_t child_generation;
    otp_message_t *stop_call;       //  a stop-child waiting for the exit
    otp_message_t *start_call;      //  a restart-child waiting for the start
    int64_t retry_at;               //  waiting for its name: try again then
    int retry_ms;
    int64_t orphaned_at;            //  quorum: its owner went at this time
    char moving_to [OTP_NODE_MAX + 1];  //  rebalancing: stopping here to start there
    entry_state_t st;               //  its checkpoints (cluster_state.c)
} entry_t;

typedef struct {
    char name [OTP_NODE_MAX + 1];
    bool up;                        //  the node is up
    bool member;                    //  its otp-sup said HELLO or TABLE
    //  Its whole TABLE is applied here since its node came up. Only then
    //  does it count towards a quorum: a member back from the minority side
    //  of a partition holds stale versions that name it owner, and the
    //  majority's newer ones must reach it before it may start anything.
    bool synced;
    //  The nodes it said it reaches (SEES), space-separated; NULL until it
    //  has said so since it came up. One that another member still reaches
    //  is not gone, only cut off from us (a link not back yet after a heal).
    char *sees;
    bool gone;                      //  its otp-sup did not answer (noproc)
    bool leaving;                   //  it is draining
} peer_t;

typedef enum { STRATEGY_UNIFORM, STRATEGY_RANDOM, STRATEGY_QUORUM } strategy_t;

struct _cluster_t {
    app_t *app;
    const char *me;
    strategy_t strategy;
    zhashx_t *entries;              //  id -> entry_t
    zhashx_t *peers;                //  node -> peer_t
    intensity_t *restarts;          //  of the children here
    bool leaving;
    bool stopped;                   //  escalated or lost: nothing runs here any more
    bool timed;                     //  some entry waits for a time (a retry, a failover delay)
    int timer;
    int64_t next_beat;
    int64_t next_run_refresh;
    struct {
        uint64_t failovers, handoffs, conflicts, versions_in, versions_out, bad_batches;
        uint64_t runs_ignored;      //  RUN reports from members that do not own the child
        uint64_t checkpoints, checkpoint_bytes, checkpoints_refused, casts, merges, reads;
    } stats;
    bool state_timed;               //  some checkpoint waits for a time (cluster_state_tick)
    char release [OTP_STATE_VERSION_MAX + 1];  //  the release that writes our checkpoints
};


//  cluster.c, for cluster_state.c
void cluster_send (cluster_t *self, const char *node, zmsg_t *ops);
bool cluster_peer_live (peer_t *peer);
//  How many members must hold a checkpoint: a majority of the configured
//  size (quorum), else of the members in view, us included.
int cluster_majority (cluster_t *self);
bool cluster_has_quorum (cluster_t *self);
bool cluster_wanted_here (cluster_t *self, entry_t *entry);
//  Starts our child of the entry (its state read first where needed).
void cluster_start_entry (cluster_t *self, entry_t *entry);

//  cluster_state.c
void cluster_state_init (cluster_t *self);
void cluster_state_clear (entry_t *entry);
//  Its child is gone here: a read for its start is over.
void cluster_state_abort_read (entry_t *entry);
//  Before a start: 1 if a read of the members' states was begun (the start
//  comes when it is done), 0 to start now. Writes the state files.
int cluster_state_before_start (cluster_t *self, entry_t *entry);
//  The child of a new or restarted process: its channel's requests.
void cluster_state_attach (cluster_t *self, entry_t *entry);
//  An op of a batch that is ours (STATE, STACK, STATEQ, STATER).
void cluster_state_on_op (cluster_t *self, const char *from, int index, zmsg_t *op);
//  Our table to a member: each entry's held state.
void cluster_state_send_all (cluster_t *self, const char *node);
//  Quorum lost: every put waiting for a majority is refused (noquorum),
//  before the children are stopped, so that they hear it.
void cluster_state_refuse_all (cluster_t *self);
//  From the tick: time-outs of puts and reads, merges due.
void cluster_state_tick (cluster_t *self, int64_t now);
void cluster_state_info (cluster_t *self, zmsg_t *reply);

#endif
