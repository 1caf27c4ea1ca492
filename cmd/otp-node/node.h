/*  otp-node internals: the node, its peers, its port-mapper link, its
    cluster strategy and its clients. One file per part; this header is
    what they share.                                                         */
#ifndef NODE_H
#define NODE_H

#include "otp.h"

typedef struct {
    const char *name;               //  full node name, name@host
    const char *cookie;
    const char *bind;               //  address the node listens on
    int port;                       //  0: any free port
    int epmd_port;
    bool start_epmd;
    const char *strategy;           //  local | epmd
    const char *cluster_nodes;      //  for epmd: comma-separated node names
    const char *dns_query;          //  for dns: the name whose A records are the nodes
    const char *dns_basename;       //  for dns: peers' name part; NULL: our own
    const char *gossip_address;     //  for gossip: multicast group or broadcast address
    int gossip_port;
    int gossip_ttl;
    int gossip_interval_ms;         //  how often a node announces itself
    const char *gossip_if;          //  interface address to send and join on; "": any
    bool gossip_broadcast;          //  broadcast instead of multicast
    int poll_ms;                    //  how often the strategy looks for peers
    int heartbeat_ms;               //  idle peers are sent a heartbeat this often
    int timeout_ms;                 //  silence after which a peer is down
    bool detector_fixed;            //  heartbeat or time-out set: upper bounds (otp_detector)
    int connect_timeout_ms;         //  a peer not up after this is given up
    int drain_timeout_ms;           //  longest wait for holders at shutdown; 0: none
    int handshake_ms;               //  an incoming connection's handshake must end by then
    int handshake_max;              //  connections in their handshake at once (lib/otp_gate.h)
    int http_port;                  //  probes and metrics; 0: no HTTP
    const char *http_bind;          //  IPv4 address HTTP listens on; "*": all
    const char *ready_needs;        //  process names that must be attached for ready
    //  Bytes a process may have unread (sent to it, not yet acknowledged)
    //  before its messages are dropped; libzmq's HWMs count messages only.
    uint64_t client_budget;
    //  The same for a peer node: ROUTE bytes sent to it and not yet
    //  acknowledged (ACK) before messages to it are dropped.
    uint64_t peer_budget;
} node_config_t;

typedef struct _node_t node_t;
typedef struct _peer_t peer_t;
typedef struct _strategy_t strategy_t;
typedef struct _resolver_t resolver_t;
typedef struct _epmd_link_t epmd_link_t;
typedef struct _dns_t dns_t;
typedef struct _client_t client_t;
typedef struct _rpc_t rpc_t;
typedef struct _http_t http_t;

struct _node_t {
    const node_config_t *config;
    char name [OTP_NODE_MAX + 1];
    char short_name [OTP_NAME_MAX + 1];
    char host [OTP_HOST_MAX + 1];
    char instance [33];             //  changes at every start (Erlang's creation)
    int port;
    otp_keys_t keys;
    zloop_t *loop;
    zsock_t *router;                //  peers and clients connect here
    otp_monitor_t *router_monitor;
    otp_gate_t *gate;               //  incoming connections not yet through their handshake
    int64_t gate_warned;
    otp_zap_t *zap;
    zhashx_t *peers;                //  node name -> peer_t
    zhashx_t *left;                 //  node name -> instance that left on purpose
    zhashx_t *clients;              //  routing id (hex) -> client_t, for clients with state
    zhashx_t *attached;             //  local process name -> client_t holding it
    zlistx_t *subscribers;          //  client_t of event watchers (not owned)
    zlistx_t *gone;                 //  client_t found gone, to remove (client_reap)
    zlistx_t *graveyard;            //  peers dropped this round (see peer.c)
    zlistx_t *monitor_graveyard;    //  dial monitors retired this round
    zhashx_t *redial;               //  node name -> redial_t: when it may be dialled again
    otp_detector_t detector;
    int interval_ms;                //  heartbeat interval at the last tick
    int peers_closing;              //  peers whose connection closed, not yet dropped
    double dial_tokens;             //  dials we may start now (a bucket, see peer.c)
    int64_t dial_tokens_at;
    int64_t fd_warned;              //  last time "out of descriptors" was logged
    int64_t stall_warned;           //  last time a stall of ours was logged
    int64_t handshake_warned;       //  last time a refused handshake was logged
    epmd_link_t *epmd;
    resolver_t *resolver;
    dns_t *dns;
    strategy_t *strategy;
    rpc_t *rpc;
    http_t *http;                   //  NULL without --http-port
    int64_t started;
    int64_t first_tick;             //  when the strategy first looked for nodes
    bool joined;                    //  has joined its cluster, for good (ready.c)
    bool stopping;
    //  Shutdown asked for while processes hold the node (`hold`): it keeps
    //  working, with the peers it has, until they have gone.
    bool draining;
    int holders;                    //  processes holding the node (client.c)
    int exit_status;
    struct {
        uint64_t msgs_in, msgs_out, bytes_in, bytes_out;
        uint64_t delivered, dropped, handshake_failures, bad_messages;
        uint64_t http_cut;          //  HTTP connections shut: too slow, or the oldest when full
        uint64_t clients_dropped;   //  MSGs not sent: their process was over its byte budget
        uint64_t clients_cut;       //  processes cut off: over budget and silent (client.c)
        uint64_t rpc_paused;        //  times a command's output waited for its caller (rpc.c)
        uint64_t peers_dropped;     //  ROUTEs not sent: their peer was over its byte budget
        uint64_t nodeups, nodedowns;
        uint64_t heartbeats_out, heartbeats_in, dials, dials_deferred, dials_refused, peers_refused;
        uint64_t gossip_sent, gossip_received, gossip_rejected_auth, gossip_rejected_replay,
                 gossip_rejected_bad;
    } stats;
};

//  node.c
int node_run (const node_config_t *config, int sigfd);
//  Reads up to `max` messages already waiting on the ROUTER, as the loop
//  would: the failure detector looks at them before it judges silence.
void node_read_pending (node_t *self, int max);
void node_stop (node_t *self, int status);
//  SIGTERM, SIGINT or `stop` (`why` for the log): stops, or drains first if
//  processes hold the node. Returns true if the node is stopping now.
bool node_shutdown (node_t *self, const char *why);
//  The last holder has gone: a draining node stops.
void node_drained (node_t *self);
void node_event (node_t *self, const char *event, const char *peer, const char *reason);
//  Sends to a client (ROUTER); drops a watcher or attachment that is gone.
int node_to_client (node_t *self, zframe_t *routing_id, zmsg_t **msg);
//  As node_to_client, but a message that does not fit in the client's
//  queue now (its HWM) is kept: returns 1 and leaves *msg to the caller,
//  to try again later. 0: sent; -1: the client has gone (*msg destroyed).
int node_to_client_try (node_t *self, zframe_t *routing_id, zmsg_t **msg);

//  peer.c: the mesh
void peer_table_new (node_t *node);
void peer_table_destroy (node_t *node);
//  Dials `name` at host:port unless it is us, already known, or left.
void peer_connect (node_t *node, const char *name, const char *host, int port);
//  A message on the ROUTER from a peer's routing id (already checked), on
//  the connection with descriptor `fd` (-1: unknown).
void peer_on_message (node_t *node, const char *from, int fd, int cmd, zmsg_t *msg);
//  The connection on descriptor `fd` to our ROUTER closed: if it was a
//  peer's, that peer is down (a killed node: the kernel closed it) once
//  what it sent before is read: peer_reap_closed drops it.
void peer_disconnected (node_t *node, int fd);
void peer_reap_closed (node_t *node);
//  Heartbeats and time-outs, called from a timer.
void peer_tick (node_t *node);
//  Sends to a peer if it is up; returns 0, or -1 if not up or full.
int peer_send (node_t *node, const char *name, zmsg_t **msg);
//  Drops a peer without a goodbye (it did not leave; we stop talking to
//  it): nodedown if it was up. Nothing if it is not in the table.
void peer_disconnect (node_t *node, const char *name, const char *reason);
//  Says goodbye to every peer (graceful leave).
void peer_leave_all (node_t *node);
//  Up peers' names, sorted; the caller destroys the list.
zlistx_t *peer_up_names (node_t *node);
//  The interval at which idle up peers are beaten now (otp_detector).
int peer_interval (node_t *node);

//  epmd_link.c: our own registration, and look-ups at other hosts
void epmd_ensure (const node_config_t *config);  //  starts otp-epmd if needed
epmd_link_t *epmd_link_new (node_t *node);       //  registers, or exits
void epmd_link_destroy (epmd_link_t **self_p);   //  unregisters
resolver_t *resolver_new (node_t *node);
void resolver_destroy (resolver_t **self_p);
//  Asks `node_name`'s host for its port, then dials it.
void resolver_lookup (resolver_t *self, const char *node_name);
//  Asks the port mapper on `query_host` for all names, and dials each as
//  name@node_host.
void resolver_list (resolver_t *self, const char *query_host, const char *node_host);

//  dns.c: host names resolved off the loop
dns_t *dns_new (node_t *node);
void dns_destroy (dns_t **self_p);
//  The IPv4 address of `host` if known (a numeric host is itself), else
//  NULL: it is then looked up, and the strategy ticks when it is known.
const char *dns_address (dns_t *self, const char *host);
//  The A records of `name` (sorted IPv4 addresses, empty on an error) or
//  the resolver's error: what dns_records hands its callback on the loop.
typedef void (dns_records_fn) (void *arg, const char *name, const char *error,
                               zlistx_t *addresses);
//  Looks up every A record of `name` off the loop; `fn` gets the answer.
//  Returns -1, asking nothing, while a look-up of `name` is on its way.
int dns_records (dns_t *self, const char *name, dns_records_fn *fn, void *arg);
//  The answer of a look-up on its way goes nowhere (its asker has gone).
void dns_records_cancel (dns_t *self, const char *name);

//  strategy.c: cluster formation
//  True if `name` is a strategy; else false, with the known ones in `error`.
bool strategy_known (const char *name, char *error, size_t error_size);
strategy_t *strategy_new (node_t *node, char *error, size_t error_size);
void strategy_destroy (strategy_t **self_p);
const char *strategy_name (strategy_t *self);
void strategy_tick (strategy_t *self);

//  client.c: requests from otp-ctl and attached programs. A client with
//  state (names, a subscription, a remote command) is a process: its
//  connection's descriptor is kept, so that its exit is noticed.
void client_table_new (node_t *node);
void client_table_destroy (node_t *node);
void client_on_message (node_t *node, zframe_t *routing_id, int fd, int cmd, zmsg_t *msg);
//  Delivers MSG from, to, payload [kind ref] to the process attached as `to`.
void client_deliver (node_t *node, const char *from, const char *to, zframe_t **payload,
                     const char *kind, zframe_t *ref);
//  Removes the processes found gone; call where no client table is walked.
void client_reap (node_t *node);
//  The connection on descriptor `fd` closed: its processes may have exited.
void client_disconnected (node_t *node, int fd);
//  An event to every watcher; `process` events (a name's holder went down)
//  only to those that asked for them (`monitor all`).
void client_event (node_t *node, bool process, const char *event, const char *name,
                   const char *reason);
//  Probes the processes holding the node, removes those gone, and returns
//  how many are left.
int client_holders (node_t *node);
//  The figures the processes here reported (`metrics`), summed.
void client_metrics (node_t *node, otp_metric_values_t *sum);
//  Bytes sent to the process on `routing_id` that it has not acknowledged
//  yet (`ack`); 0 for a client that is not a process.
uint64_t client_unacked (node_t *node, zframe_t *routing_id);
//  Gives freed memory back to the system a moment from now (malloc_trim):
//  after a reader's queue is dropped, libzmq frees it in its own thread.
void node_trim_later (node_t *node);

//  rpc.c: commands run for remote callers (otp-ctl rpc), output streamed back
rpc_t *rpc_new (node_t *node);
void rpc_destroy (rpc_t **self_p);
//  SPAWN request id, argv...: starts the command for the client.
void rpc_spawn (rpc_t *self, zframe_t *routing_id, zmsg_t *msg);
//  The client has gone: its commands are stopped.
void rpc_client_gone (rpc_t *self, zframe_t *routing_id);
//  A child exited (SIGCHLD); returns true if it was one of ours.
bool rpc_reap (rpc_t *self, pid_t pid, int status);
//  The caller on `routing_id` acknowledged output: paused commands read on.
void rpc_acked (rpc_t *self, zframe_t *routing_id);

//  http.c: probes and metrics over HTTP (libmicrohttpd), in the node's loop
//  Listens on config->http_bind:http_port; NULL with a reason.
http_t *http_new (node_t *node, char *error, size_t error_size);
void http_destroy (http_t **self_p);

//  ready.c: whether the node should get traffic (the readiness probe)
//  True once the node has joined its cluster (see ready.c); checked at each
//  tick and each probe, and true for good from then on.
bool ready_joined (node_t *node);
//  NULL when ready, else why not, one line: "draining", "joining" or
//  "waiting for NAME" (`buf` holds it).
const char *ready_check (node_t *node, char *buf, size_t size);
//  A --ready-needs list: NULL if every item is a process name, else the
//  first that is not (in `buf`).
const char *ready_needs_invalid (const char *list, char *buf, size_t size);

//  metrics.c: the node's figures in Prometheus' text format (0.0.4)
//  A new string; the caller frees it.
char *metrics_text (node_t *node);

#endif
