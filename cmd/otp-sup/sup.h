/*  otp-sup internals: the daemon (app), its children (OS processes), their
    ports (the name and the stdin/stdout bridge), the local tree (OTP's
    supervisor) and the cluster supervisor (Horde's DynamicSupervisor).
    One file per part; this header is what they share.                      */
#ifndef SUP_H
#define SUP_H

#include "otp.h"
#include "otp_childspec.h"
#include "otp_supervisor.h"

typedef struct {
    const char *node;               //  NULL: standalone, the local tree only
    const char *cookie;
    int epmd_port;
    const char *config_file;        //  the local tree; NULL: none
    const char *strategy;           //  uniform | random | quorum
    int members;                    //  quorum: the cluster's size
    int intensity;                  //  the cluster supervisor's restart intensity ...
    int period_ms;                  //  ... within this period
    int failover_delay_ms;          //  quorum: wait this long before taking a lost member's children
    bool rebalance;                 //  move children to a member that joins
} sup_config_t;

typedef struct _app_t app_t;
typedef struct _child_t child_t;
typedef struct _port_t port_t;
typedef struct _tree_t tree_t;
typedef struct _cluster_t cluster_t;
typedef struct _intensity_t intensity_t;
typedef struct _sup_metrics_t sup_metrics_t;
typedef struct _channel_t channel_t;

//  Exit status of a child: its exit code, or 128 + signal. `requested`:
//  it was stopped by us (shutdown), which is a normal exit.
typedef void (child_exit_fn) (child_t *child, int status, bool requested, void *arg);

struct _app_t {
    const sup_config_t *config;
    zloop_t *loop;
    otp_client_t *client;           //  our process on the node; NULL standalone
    sup_metrics_t *metrics;         //  reports to the node's /metrics; NULL standalone
    tree_t *tree;                   //  the local tree; NULL if none
    cluster_t *cluster;             //  NULL standalone
    zhashx_t *pids;                 //  pid (as a key string) -> child_t, to reap
    zhashx_t *ports;                //  port address -> port_t
    uint64_t port_sequence;
    int pump_timer;                 //  -1, or a mailbox drain is due
    zlistx_t *failed;               //  child_t whose start failed, to report from the loop
    zlistx_t *graveyard, *graveyard_old;    //  freed a check later (app_bury)
    bool stopping;                  //  shutting down: stop everything, then exit
    bool draining;                  //  stopping by hand-off (cluster children move)
    int exit_status;
    struct {
        uint64_t starts, restarts, exits, exec_failures, messages_in, replies, dropped;
        uint64_t replies_unmatched, calls_expired;     //  tagged ports
    } stats;
};

//  main.c
//  Stops everything and exits with `status` once every child is gone.
void app_shutdown (app_t *self, int status);
//  Called when something stopped: exits the loop once nothing runs.
void app_check_done (app_t *self);
//  Frees `item` a while later: zloop may still call a timer or poller
//  ended in this pass, whose argument must then still be readable (its
//  owner marks it dead first).
void app_bury (app_t *self, void *item);
//  After a call that waited on our client: what came meanwhile waits in
//  its mailbox, which no socket shows; it is handled from the loop soon.
void app_pump_later (app_t *self);

//  intensity.c: OTP's restart intensity, at most `max` restarts in a period
intensity_t *intensity_new (int max, int period_ms);
void intensity_destroy (intensity_t **self_p);
void intensity_set (intensity_t *self, int max, int period_ms);
//  Counts a restart now; true if it is one too many within the period.
bool intensity_restart (intensity_t *self);
void intensity_reset (intensity_t *self);
int intensity_max (intensity_t *self);
int intensity_period_ms (intensity_t *self);

//  child.c: one OS process, started and stopped the OTP way
child_t *child_new (app_t *app, otp_childspec_t **spec_p, const char *supervisor);
void child_destroy (child_t **self_p);
void child_set_handler (child_t *self, child_exit_fn *handler, void *arg);
const otp_childspec_t *child_spec (child_t *self);
const char *child_id (child_t *self);
const char *child_supervisor (child_t *self);
//  Starts it: takes its name first (if it has one), then execs. Returns 0,
//  or -1 with a one-line reason: the command cannot run, or the name is
//  held elsewhere (then `*busy` is true, and a later try may work).
int child_start (child_t *self, bool *busy, char *error, size_t error_size);
//  The same without waiting for the registry: `started` is called when
//  it has run (rc 0) or could not (rc -1, busy, error), maybe at once.
typedef void (child_started_fn) (child_t *child, int rc, bool busy, const char *error, void *arg);
void child_start_async (child_t *self, child_started_fn *started);
//  From the port: the name is ours (ok), or not.
void child_on_registered (child_t *self, bool ok, bool busy, const char *error);
//  SIGTERM to its process group, SIGKILL after its shutdown time; its
//  handler is called once it has exited (requested = true).
void child_stop (child_t *self);
//  SIGKILL to its process group now.
void child_kill (child_t *self);
//  A start that failed, reported to its handler (status 127, as a crash)
//  from the loop rather than from inside the caller: a supervisor's queue
//  is never re-entered, however many restarts fail in a row.
void child_fail_later (child_t *self);
//  From the loop: reports the failures child_fail_later queued.
void child_report_failures (app_t *app);
//  Gives up its name (unregisters; the port closes). For a child that is
//  stopped for good or moves: a restart in place keeps it.
void child_release (child_t *self);
//  The status word that which-children shows: running, stopping, stopped, ...
void child_set_status (child_t *self, const char *status);
const char *child_status (child_t *self);
pid_t child_pid (child_t *self);
bool child_alive (child_t *self);
int child_restarts (child_t *self);
void child_count_restart (child_t *self);
//  From the SIGCHLD reaper: `pid` has exited with wait status `status`.
void child_reaped (app_t *app, pid_t pid, int status);

//  A request of a child's checkpoint channel: `data` (taken; NULL when
//  empty) is the state; `wait`: a put, answered with channel_reply.
typedef void (channel_fn) (void *arg, bool wait, uint8_t *data, size_t size);
//  Checkpoints: from its next start, the child has a channel (descriptor
//  3, OTP_STATE_FD) whose requests go to `fn`.
void child_set_checkpoints (child_t *self, channel_fn *fn, void *arg);
//  KEY=VALUE pairs (copied) added to the environment of its next start.
void child_set_start_env (child_t *self, zlistx_t *pairs);
//  Descriptors (taken; -1: none) its next start gets as 4 and 5.
void child_set_start_fds (child_t *self, int fd4, int fd5);
//  Which process of the child this is (one more at each start).
uint64_t child_instance (child_t *self);
//  An answer on the channel of process `instance`; dropped if another runs.
void child_checkpoint_reply (child_t *self, uint64_t instance, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
uint64_t child_channel_bad (child_t *self);

//  channel.c: a child's checkpoint channel (our end of its descriptor 3)
channel_t *channel_new (app_t *app, int fd, channel_fn *fn, void *arg);
void channel_destroy (channel_t **self_p);
void channel_reply (channel_t *self, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
//  Reads what the child wrote before it exited (its last checkpoint).
void channel_drain (channel_t *self);
uint64_t channel_bad (channel_t *self);

//  port.c: a named child's process on the node (an address of ours)
port_t *port_new (app_t *app, child_t *child, const char *name);
void port_destroy (port_t **self_p);
//  Takes the name cluster-wide, waiting; 0, or -1 (the reason in `error`;
//  `*busy` if someone else holds it).
int port_register (port_t *self, bool *busy, char *error, size_t error_size);
//  The same without waiting: child_on_registered has the answer.
void port_register_async (port_t *self);
bool port_registered (port_t *self);
//  A message to the port's address, or a reply whose ref it is.
void port_on_message (port_t *self, otp_message_t **message_p);
//  The child's stdin (a new process each restart) or -1 when it is not running.
void port_set_stdin (port_t *self, int fd);
//  A line the child wrote on stdout: a call's reply if one waits, else
//  false (then it is logged).
bool port_on_line (port_t *self, const char *line);

//  tree.c: the local tree of supervisors (OTP's supervisor semantics)
//  Builds the tree from a config file. NULL with a reason on a bad file.
tree_t *tree_load (app_t *app, const char *path, char *error, size_t error_size);
void tree_destroy (tree_t **self_p);
//  Starts every child in order; -1 and a reason if one cannot start.
int tree_start (tree_t *self, char *error, size_t error_size);
//  Stops everything, in reverse order; app_check_done when done.
void tree_stop (tree_t *self);
bool tree_stopped (tree_t *self);
//  Run-time changes to the root: 0, or -1 and a reason.
int tree_start_child (tree_t *self, otp_childspec_t **spec_p, char *error, size_t error_size);
//  Finds a worker or supervisor by id anywhere in the tree: then stop,
//  restart or delete it (OTP's terminate_child, restart_child,
//  delete_child). `done` is replied to when a stop has completed.
int tree_stop_child (tree_t *self, const char *id, otp_message_t **call, char *error, size_t error_size);
int tree_restart_child (tree_t *self, const char *id, char *error, size_t error_size);
int tree_delete_child (tree_t *self, const char *id, char *error, size_t error_size);
bool tree_has (tree_t *self, const char *id);
//  Adds a row (OTP_SUP_ROW frames) per worker and supervisor with id > after.
void tree_rows (tree_t *self, zlistx_t *rows);
//  Adds the workers of the tree and its subtrees to `children`, those
//  running to `running` (for /metrics; what tree_rows lists, counted).
void tree_count (tree_t *self, uint64_t *children, uint64_t *running);

//  cluster.c: the distributed supervisor
cluster_t *cluster_new (app_t *app);
void cluster_destroy (cluster_t **self_p);
void cluster_on_nodeup (cluster_t *self, const char *node);
void cluster_on_nodedown (cluster_t *self, const char *node);
void cluster_on_batch (cluster_t *self, const char *from_node, zframe_t *payload);
void cluster_on_beat_reply (cluster_t *self, otp_message_t *message);
//  Requests: each answers `*call_p` now or later (and takes it).
void cluster_start_child (cluster_t *self, otp_childspec_t **spec_p, otp_message_t **call_p);
void cluster_stop_child (cluster_t *self, const char *id, otp_message_t **call_p);
void cluster_restart_child (cluster_t *self, const char *id, otp_message_t **call_p);
void cluster_delete_child (cluster_t *self, const char *id, otp_message_t **call_p);
bool cluster_has (cluster_t *self, const char *id);
void cluster_rows (cluster_t *self, zlistx_t *rows);
//  Adds the cluster children this member owns to `children`, those running
//  here to `running`; returns the failovers so far (for /metrics).
uint64_t cluster_count (cluster_t *self, uint64_t *children, uint64_t *running);
//  Hands every child off (they run elsewhere) and stops; app_check_done.
void cluster_drain (cluster_t *self);
//  Stops every child here without handing off (escalation, lost node).
void cluster_stop (cluster_t *self);
bool cluster_stopped (cluster_t *self);
void cluster_info (cluster_t *self, zmsg_t *reply);
//  For /metrics: checkpoints answered, their bytes, bytes of states held.
void cluster_state_figures (cluster_t *self, uint64_t *checkpoints, uint64_t *bytes, uint64_t *held);
//  otp-ctl state: the latest checkpoint of the child with this id or name.
void cluster_state_request (cluster_t *self, const char *id, otp_message_t **call_p);

//  metrics.c: our figures, reported to the node for its /metrics
sup_metrics_t *sup_metrics_new (app_t *app);
void sup_metrics_destroy (sup_metrics_t **self_p);

//  requests.c: otp-ctl's requests (calls to otp-sup)
void requests_on_call (app_t *app, otp_message_t **call_p);
//  Replies "ok" + `values` (taken; may be NULL) or "error" + reason.
void requests_reply (app_t *app, otp_message_t **call_p, zmsg_t **values);
void requests_error (app_t *app, otp_message_t **call_p, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
void requests_moved (app_t *app, otp_message_t **call_p, const char *node);
//  Replies "ok", node, pid: where a child now runs.
void requests_placed (app_t *app, otp_message_t **call_p, const char *node, long pid);
//  A which-children row.
zmsg_t *requests_row (const char *id, const char *supervisor, const char *node, long pid,
                      const char *status, int restarts, const char *name,
                      const char *restart, const char *type);

#endif
