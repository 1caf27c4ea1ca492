/*  The cluster supervisor (Horde's DynamicSupervisor): every otp-sup of
    the cluster is a member; every member holds every child's entry and
    runs the children whose entry names it as owner.

    An entry is a last-writer-wins register: each change is a new version
    (epoch + 1, writer = the member that made it), sent to every member,
    and everywhere the version with the higher (epoch, writer) wins. So all
    members end with the same table whatever order versions arrive in, and
    after a partition heals each child has one owner again: the other
    instance is stopped. A member that sees an older version than its own
    sends its own back, so a lost message heals at the next change.

    Placement is rendezvous hashing (highest hash of child id and member
    name) over the live members, or a random live member for new children
    with the `random` strategy. A child whose owner is gone (its node went
    down, or its otp-sup does not answer) is given by every member to the
    same survivor, since they compute the same hash over the same members;
    if views differ for a moment, the versions settle it.

    A child's name is taken before it starts (see child.c): while the old
    holder still has it, the new owner waits and tries again, so a named
    child never runs twice, not even during a hand-off.                    */
#include "cluster.h"
#include <sodium.h>

static const char *s_states [] = { "running", "stopped", "deleted", NULL };

static void s_reconcile (cluster_t *self, entry_t *entry);

//  The entries, in a list of their own: safe to walk while entries change.
//  (CZMQ's zhashx_values gives the list the table's destructor.)
static zlistx_t *
s_entries (cluster_t *self)
{
    zlistx_t *list = zhashx_values (self->entries);
    zlistx_set_destructor (list, NULL);
    return list;
}
static void s_check_orphans (cluster_t *self);

static void
s_entry_destroy (entry_t **self_p)
{
    entry_t *self = *self_p;
    if (self) {
        child_destroy (&self->child);
        cluster_state_clear (self);
        otp_childspec_destroy (&self->spec);
        otp_message_destroy (&self->stop_call);
        otp_message_destroy (&self->start_call);
        free (self);
        *self_p = NULL;
    }
}

//  -------------------------------------------------------------------------
//  Members

static peer_t *
s_peer (cluster_t *self, const char *node)
{
    peer_t *peer = (peer_t *) zhashx_lookup (self->peers, node);
    if (!peer) {
        peer = (peer_t *) zmalloc (sizeof (peer_t));
        snprintf (peer->name, sizeof peer->name, "%s", node);
        zhashx_insert (self->peers, node, peer);
    }
    return peer;
}

static void
s_peer_destroy (peer_t **self_p)
{
    peer_t *self = *self_p;
    if (self) {
        free (self->sees);
        free (self);
        *self_p = NULL;
    }
}

//  Forget what it said it sees: it came up or went down since.
static void
s_peer_unseen (peer_t *peer)
{
    peer->synced = false;
    zstr_free (&peer->sees);
}

static bool
s_peer_live (peer_t *peer)
{
    return peer && peer->up && peer->member && !peer->gone;
}

//  Whether `node` still owns what it owns: it is us, or a member whose
//  node is up and whose otp-sup answers (draining or not).
static bool
s_owner_alive (cluster_t *self, const char *node)
{
    if (streq (node, self->me))
        return !self->stopped;
    peer_t *peer = (peer_t *) zhashx_lookup (self->peers, node);
    //  A node up whose otp-sup has not said HELLO yet may be starting:
    //  not gone until it fails to answer.
    return peer && peer->up && !peer->gone;
}

//  Members a child may be placed on, sorted.
static zlistx_t *
s_placement (cluster_t *self, const char *except)
{
    zlistx_t *nodes = zlistx_new ();
    if (!self->leaving && !self->stopped && !(except && streq (except, self->me)))
        zlistx_add_end (nodes, (void *) self->me);
    for (peer_t *peer = (peer_t *) zhashx_first (self->peers); peer;
         peer = (peer_t *) zhashx_next (self->peers))
        if (s_peer_live (peer) && !peer->leaving && !(except && streq (except, peer->name)))
            zlistx_add_end (nodes, peer->name);
    return nodes;
}

static int
s_members_seen (cluster_t *self)
{
    int count = 1;
    for (peer_t *peer = (peer_t *) zhashx_first (self->peers); peer;
         peer = (peer_t *) zhashx_next (self->peers))
        if (s_peer_live (peer) && peer->synced)
            count++;
    return count;
}

static bool
s_quorum (cluster_t *self)
{
    if (self->strategy != STRATEGY_QUORUM)
        return true;
    return s_members_seen (self) >= self->app->config->members / 2 + 1;
}

bool cluster_has_quorum (cluster_t *self) { return s_quorum (self); }
bool cluster_peer_live (peer_t *peer) { return s_peer_live (peer); }

int
cluster_majority (cluster_t *self)
{
    if (self->strategy == STRATEGY_QUORUM)
        return self->app->config->members / 2 + 1;
    int live = 1;
    for (peer_t *peer = (peer_t *) zhashx_first (self->peers); peer;
         peer = (peer_t *) zhashx_next (self->peers))
        if (s_peer_live (peer))
            live++;
    return live / 2 + 1;
}

//  The nodes we reach, ourselves included, space-separated; freshly
//  allocated. (A walk of the peers of its own: never call it from inside
//  one, whose cursor it would move.)
static char *
s_sees (cluster_t *self)
{
    size_t size = strlen (self->me) + 1;
    for (peer_t *peer = (peer_t *) zhashx_first (self->peers); peer;
         peer = (peer_t *) zhashx_next (self->peers))
        if (peer->up && !peer->gone)
            size += strlen (peer->name) + 1;
    char *list = (char *) zmalloc (size);
    strcpy (list, self->me);
    for (peer_t *peer = (peer_t *) zhashx_first (self->peers); peer;
         peer = (peer_t *) zhashx_next (self->peers))
        if (peer->up && !peer->gone) {
            strcat (list, " ");
            strcat (list, peer->name);
        }
    return list;
}

static void
s_add_sees (zmsg_t *ops, const char *sees)
{
    zmsg_addstr (ops, "SEES");
    zmsg_addstr (ops, sees);
}

//  Whether a live member other than `owner` said it reaches `owner`.
static bool
s_vouched (cluster_t *self, const char *owner)
{
    size_t len = strlen (owner);
    for (peer_t *peer = (peer_t *) zhashx_first (self->peers); peer;
         peer = (peer_t *) zhashx_next (self->peers)) {
        if (!s_peer_live (peer) || !peer->synced || !peer->sees || streq (peer->name, owner))
            continue;
        for (const char *at = strstr (peer->sees, owner); at; at = strstr (at + 1, owner))
            if ((at == peer->sees || at [-1] == ' ') && (at [len] == ' ' || at [len] == 0))
                return true;
    }
    return false;
}

//  Whether every live member has said what it reaches.
static bool
s_views_known (cluster_t *self)
{
    for (peer_t *peer = (peer_t *) zhashx_first (self->peers); peer;
         peer = (peer_t *) zhashx_next (self->peers))
        if (s_peer_live (peer) && peer->synced && !peer->sees)
            return false;
    return true;
}

//  FNV-1a of the id and the node: rendezvous hashing.
static uint64_t
s_weight (const char *id, const char *node)
{
    uint64_t hash = 14695981039346656037ULL;
    for (const char *c = id; *c; c++)
        hash = (hash ^ (uint8_t) *c) * 1099511628211ULL;
    hash = (hash ^ 0xFF) * 1099511628211ULL;
    for (const char *c = node; *c; c++)
        hash = (hash ^ (uint8_t) *c) * 1099511628211ULL;
    //  A final mix: FNV's low bits alone spread poorly over few members.
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdULL;
    hash ^= hash >> 33;
    return hash;
}

static const char *
s_hash_owner (zlistx_t *nodes, const char *id)
{
    const char *best = NULL;
    uint64_t best_weight = 0;
    for (const char *node = (const char *) zlistx_first (nodes); node;
         node = (const char *) zlistx_next (nodes)) {
        uint64_t weight = s_weight (id, node);
        if (!best || weight > best_weight || (weight == best_weight && strcmp (node, best) > 0)) {
            best = node;
            best_weight = weight;
        }
    }
    return best;
}

//  -------------------------------------------------------------------------
//  Versions on the wire

static void
s_add_entry (zmsg_t *ops, entry_t *entry)
{
    zmsg_addstr (ops, "ENTRY");
    zmsg_addstr (ops, entry->id);
    zmsg_addstrf (ops, "%" PRIu64, entry->epoch);
    zmsg_addstr (ops, entry->writer);
    zmsg_addstr (ops, entry->owner);
    zmsg_addstr (ops, s_states [entry->state]);
    zmsg_addstrf (ops, "%" PRIu64, entry->generation);
    zmsg_t *pairs = otp_childspec_encode (entry->spec);
    zframe_t *spec = zmsg_encode (pairs);
    zmsg_destroy (&pairs);
    zmsg_append (ops, &spec);
}

static void
s_add_run (zmsg_t *ops, entry_t *entry)
{
    zmsg_addstr (ops, "RUN");
    zmsg_addstr (ops, entry->id);
    zmsg_addstrf (ops, "%" PRIu64, entry->epoch);
    zmsg_addstrf (ops, "%ld", entry->child? (long) child_pid (entry->child): 0L);
    zmsg_addstrf (ops, "%d", entry->child? child_restarts (entry->child): 0);
    zmsg_addstr (ops, entry->child? child_status (entry->child): "stopped");
}

static void
s_send (cluster_t *self, const char *node, zmsg_t *ops)
{
    zframe_t *payload = zmsg_encode (ops);
    if (otp_client_send (self->app->client, OTP_SUP_PROCESS, node, zframe_data (payload),
                         zframe_size (payload)))
        otp_debug ("cannot send to %s's otp-sup", node);
    zframe_destroy (&payload);
}

void cluster_send (cluster_t *self, const char *node, zmsg_t *ops) { s_send (self, node, ops); }

//  What we reach, to every member in step with us: at once when it
//  changes, so that a failover waits for no beat.
static void
s_tell_sees (cluster_t *self)
{
    zmsg_t *ops = zmsg_new ();
    char *sees = s_sees (self);
    s_add_sees (ops, sees);
    free (sees);
    for (peer_t *peer = (peer_t *) zhashx_first (self->peers); peer;
         peer = (peer_t *) zhashx_next (self->peers))
        if (s_peer_live (peer) && peer->synced)
            s_send (self, peer->name, ops);
    zmsg_destroy (&ops);
}

static void
s_broadcast (cluster_t *self, zmsg_t **ops_p)
{
    for (peer_t *peer = (peer_t *) zhashx_first (self->peers); peer;
         peer = (peer_t *) zhashx_next (self->peers))
        if (peer->up && !peer->gone)
            s_send (self, peer->name, *ops_p);
    zmsg_destroy (ops_p);
}

static void
s_publish (cluster_t *self, entry_t *entry, bool version, bool run)
{
    zmsg_t *ops = zmsg_new ();
    if (version) {
        s_add_entry (ops, entry);
        self->stats.versions_out++;
    }
    if (run)
        s_add_run (ops, entry);
    s_broadcast (self, &ops);
}

//  Our table, to one member, in messages of CLUSTER_BATCH entries.
static void
s_send_table (cluster_t *self, const char *node, const char *op)
{
    zmsg_t *ops = zmsg_new ();
    int count = 0;
    for (entry_t *entry = (entry_t *) zhashx_first (self->entries); entry;
         entry = (entry_t *) zhashx_next (self->entries)) {
        s_add_entry (ops, entry);
        if (entry->child)
            s_add_run (ops, entry);
        if (++count % CLUSTER_BATCH == 0) {
            s_send (self, node, ops);
            zmsg_destroy (&ops);
            ops = zmsg_new ();
        }
    }
    //  Last: the receiver counts us as in step once it has every entry
    //  (the batches arrive in order, over one connection).
    zmsg_addstr (ops, op);
    zmsg_addstr (ops, self->app->config->strategy);
    char *sees = s_sees (self);
    s_add_sees (ops, sees);
    free (sees);
    s_send (self, node, ops);
    zmsg_destroy (&ops);
    //  The states after the entries they belong to.
    cluster_state_send_all (self, node);
}

static bool
s_newer (uint64_t epoch, const char *writer, const entry_t *than)
{
    return epoch > than->epoch || (epoch == than->epoch && strcmp (writer, than->writer) > 0);
}

//  A new version written here.
static void
s_write (cluster_t *self, entry_t *entry, const char *owner, estate_t state, bool new_generation)
{
    char heir [OTP_NODE_MAX + 1];      //  `owner` may be entry->owner itself
    snprintf (heir, sizeof heir, "%s", owner);
    entry->epoch++;
    snprintf (entry->writer, sizeof entry->writer, "%s", self->me);
    if (!streq (entry->owner, heir)) {
        //  What the last owner said of its process is no longer the truth.
        entry->pid = 0;
        entry->restarts = 0;
        *entry->status = 0;
        entry->run_epoch = entry->epoch;
    }
    snprintf (entry->owner, sizeof entry->owner, "%s", heir);
    entry->state = state;
    if (new_generation)
        entry->generation++;
    entry->orphaned_at = 0;
    s_publish (self, entry, true, false);
    s_reconcile (self, entry);
}

//  -------------------------------------------------------------------------
//  Running what we own

static void s_on_child_exit (child_t *child, int status, bool requested, void *arg);

static void
s_on_started (child_t *child, int rc, bool busy, const char *error, void *arg)
{
    entry_t *entry = (entry_t *) arg;
    cluster_t *self = entry->cluster;
    if (rc == 0)
        entry->retry_ms = 0;
    else
    if (busy) {
        //  The name is still held: by the instance that is moving away, or
        //  by a registry that has not yet heard its owner died.
        entry->retry_ms = entry->retry_ms? entry->retry_ms * 2: CLUSTER_RETRY_MIN_MS;
        if (entry->retry_ms > CLUSTER_RETRY_MAX_MS)
            entry->retry_ms = CLUSTER_RETRY_MAX_MS;
        entry->retry_at = zclock_mono () + entry->retry_ms;
        self->timed = true;
        otp_debug ("%s", error);
    }
    else
        otp_warn ("%s", error);
    s_publish (self, entry, false, true);
    if (entry->start_call && rc == 0)
        requests_placed (self->app, &entry->start_call, self->me, child_pid (child));
    else
    if (entry->start_call && !busy)
        requests_error (self->app, &entry->start_call, "%s", error);
    //  Waiting for its name: the caller hears when it has it (or times out).
}

//  Starts our child of the entry; the registry is not waited for, so that
//  many children (a failover) take their names at once.
static void
s_start (cluster_t *self, entry_t *entry)
{
    entry->retry_at = 0;
    //  Its state first: read from the members under a new version.
    if (cluster_state_before_start (self, entry))
        return;
    child_start_async (entry->child, s_on_started);
}

static bool
s_wanted_here (cluster_t *self, entry_t *entry)
{
    return entry->state == ENTRY_RUNNING && streq (entry->owner, self->me)
        && !self->leaving && !self->stopped && !*entry->moving_to && s_quorum (self);
}

bool cluster_wanted_here (cluster_t *self, entry_t *entry) { return s_wanted_here (self, entry); }

void
cluster_start_entry (cluster_t *self, entry_t *entry)
{
    if (entry->child && !child_alive (entry->child))
        s_start (self, entry);
}

//  Draining: a child of ours that no longer runs here goes to the member
//  it would go to if we were gone.
static void
s_handoff (cluster_t *self, entry_t *entry)
{
    if (!self->leaving || entry->state != ENTRY_RUNNING || !streq (entry->owner, self->me))
        return;
    zlistx_t *nodes = s_placement (self, self->me);
    const char *heir = s_hash_owner (nodes, entry->id);
    if (heir) {
        self->stats.handoffs++;
        otp_info ("%s: handed off to %s", entry->id, heir);
        s_write (self, entry, heir, ENTRY_RUNNING, false);
    }
    else
        otp_warn ("%s: no member to hand it to; it stops with us", entry->id);
    zlistx_destroy (&nodes);
}

//  Makes what runs here agree with the entry.
static void
s_reconcile (cluster_t *self, entry_t *entry)
{
    bool want = s_wanted_here (self, entry);
    if (want && !entry->child) {
        otp_childspec_t *spec = otp_childspec_dup (entry->spec);
        entry->child = child_new (self->app, &spec, "cluster");
        child_set_handler (entry->child, s_on_child_exit, entry);
        cluster_state_attach (self, entry);
        entry->child_generation = entry->generation;
        s_start (self, entry);
    }
    else
    if (want && !child_alive (entry->child) && !entry->retry_at
    &&  streq (child_status (entry->child), "stopped")) {
        //  Stopped on purpose, and ours to run again: the entry changed
        //  while it stopped (a version that took it away, then one that
        //  gave it back).
        entry->child_generation = entry->generation;
        s_start (self, entry);
    }
    else
    if (want && entry->child_generation != entry->generation) {
        //  restart-child: the old process goes first, then the new one.
        if (child_alive (entry->child))
            child_stop (entry->child);
        else {
            entry->child_generation = entry->generation;
            s_start (self, entry);
        }
    }
    else
    if (!want && entry->child) {
        if (child_alive (entry->child))
            child_stop (entry->child);
        else {
            child_release (entry->child);
            child_destroy (&entry->child);
            cluster_state_abort_read (entry);   //  for a start that will not come
            s_publish (self, entry, false, true);
            if (entry->stop_call)
                requests_reply (self->app, &entry->stop_call, NULL);
            if (entry->start_call)
                requests_error (self->app, &entry->start_call, "child %s was moved or stopped "
                                "before it started here", entry->id);
            //  Draining: it stopped here, so now it may start elsewhere.
            s_handoff (self, entry);
            if (*entry->moving_to) {
                char heir [OTP_NODE_MAX + 1];
                snprintf (heir, sizeof heir, "%s", entry->moving_to);
                *entry->moving_to = 0;
                if (entry->state == ENTRY_RUNNING && streq (entry->owner, self->me)) {
                    otp_info ("%s: moved to %s (rebalancing)", entry->id, heir);
                    s_write (self, entry, heir, ENTRY_RUNNING, false);
                }
            }
            app_check_done (self->app);
        }
    }
    //  A deleted child's state goes with it.
    if (entry->state == ENTRY_DELETED && !entry->child && entry->st.held.have)
        cluster_state_clear (entry);
}

static void
s_on_child_exit (child_t *child, int status, bool requested, void *arg)
{
    entry_t *entry = (entry_t *) arg;
    cluster_t *self = entry->cluster;
    if (requested || !s_wanted_here (self, entry)) {
        s_reconcile (self, entry);
        return;
    }
    const otp_childspec_t *spec = entry->spec;
    if (spec->restart == OTP_RESTART_TEMPORARY) {
        s_write (self, entry, entry->owner, ENTRY_DELETED, false);
        return;
    }
    if (spec->restart == OTP_RESTART_TRANSIENT && status == 0) {
        s_write (self, entry, entry->owner, ENTRY_STOPPED, false);
        return;
    }
    if (intensity_restart (self->restarts)) {
        otp_warn ("cluster supervisor gave up: more than %d restarts in %d s",
                  self->app->config->intensity, self->app->config->period_ms / 1000);
        app_shutdown (self->app, 1);
        return;
    }
    self->app->stats.restarts++;
    child_count_restart (entry->child);
    otp_info ("cluster: restarting %s", entry->id);
    s_start (self, entry);
}

//  -------------------------------------------------------------------------
//  Versions from other members

static bool
s_node_valid (const char *node)
{
    char name [OTP_NAME_MAX + 1], host [OTP_HOST_MAX + 1];
    return otp_node_split (node, name, sizeof name, host, sizeof host) == 0;
}

//  Applies a version; if ours is newer, the sender gets ours.
static void
s_apply (cluster_t *self, const char *from, zmsg_t *op)
{
    char id [OTP_CHILD_ID_MAX + 1], writer [OTP_NODE_MAX + 1], owner [OTP_NODE_MAX + 1];
    char state [16], error [512];
    long epoch, generation;
    if (otp_msg_str (op, 0, id, sizeof id) || otp_msg_int (op, 1, 0, LONG_MAX, &epoch)
    ||  otp_msg_str (op, 2, writer, sizeof writer) || otp_msg_str (op, 3, owner, sizeof owner)
    ||  otp_msg_str (op, 4, state, sizeof state) || otp_msg_int (op, 5, 0, LONG_MAX, &generation)
    ||  !s_node_valid (writer) || !s_node_valid (owner)) {
        self->stats.bad_batches++;
        return;
    }
    int index = -1;
    for (int i = 0; s_states [i]; i++)
        if (streq (state, s_states [i]))
            index = i;
    zmsg_t *pairs = otp_payload_decode (otp_msg_arg (op, 6));
    otp_childspec_t *spec = pairs? otp_childspec_decode (pairs, error, sizeof error): NULL;
    zmsg_destroy (&pairs);
    if (index < 0 || !spec || !streq (spec->id, id)) {
        otp_childspec_destroy (&spec);
        self->stats.bad_batches++;
        return;
    }
    self->stats.versions_in++;
    entry_t *entry = (entry_t *) zhashx_lookup (self->entries, id);
    if (entry && !s_newer ((uint64_t) epoch, writer, entry)) {
        otp_childspec_destroy (&spec);
        if (entry->epoch != (uint64_t) epoch || !streq (entry->writer, writer)) {
            //  Theirs is older: they get ours, and converge.
            self->stats.conflicts++;
            zmsg_t *ops = zmsg_new ();
            s_add_entry (ops, entry);
            if (entry->child)
                s_add_run (ops, entry);     //  only what we run: we own it
            s_send (self, from, ops);
            zmsg_destroy (&ops);
        }
        return;
    }
    if (!entry) {
        entry = (entry_t *) zmalloc (sizeof (entry_t));
        entry->cluster = self;
        snprintf (entry->id, sizeof entry->id, "%s", id);
        zhashx_insert (self->entries, id, entry);
    }
    else
    if (entry->child && !streq (owner, self->me))
        self->stats.conflicts++;
    if (!streq (entry->owner, owner)) {
        //  A new owner: what the last one said of its process is no longer
        //  the truth. Until the new one reports, the child is "starting".
        entry->pid = 0;
        entry->restarts = 0;
        *entry->status = 0;
        entry->run_epoch = (uint64_t) epoch;
        if (streq (entry->early.from, owner) && entry->early.epoch >= (uint64_t) epoch) {
            entry->run_epoch = entry->early.epoch;
            entry->pid = entry->early.pid;
            entry->restarts = entry->early.restarts;
            snprintf (entry->status, sizeof entry->status, "%s", entry->early.status);
        }
        *entry->early.from = 0;
    }
    otp_childspec_destroy (&entry->spec);
    entry->spec = spec;
    entry->epoch = (uint64_t) epoch;
    snprintf (entry->writer, sizeof entry->writer, "%s", writer);
    snprintf (entry->owner, sizeof entry->owner, "%s", owner);
    entry->state = (estate_t) index;
    entry->generation = (uint64_t) generation;
    entry->orphaned_at = 0;
    s_reconcile (self, entry);
}

//  How a child runs, as its owner says. Only the owner of the version we
//  hold is believed: a member that does not run the child knows nothing of
//  its process, and once any member could report, the last report to
//  arrive won (a stale "stopped" from across a healed partition stayed
//  for good). One member's reports come in order, over one connection.
static void
s_apply_run (cluster_t *self, const char *from, zmsg_t *op)
{
    char id [OTP_CHILD_ID_MAX + 1], status [16];
    long epoch, pid, restarts;
    if (otp_msg_str (op, 0, id, sizeof id) || otp_msg_int (op, 1, 0, LONG_MAX, &epoch)
    ||  otp_msg_int (op, 2, 0, INT_MAX, &pid) || otp_msg_int (op, 3, 0, INT_MAX, &restarts)
    ||  otp_msg_str (op, 4, status, sizeof status)) {
        self->stats.bad_batches++;
        return;
    }
    entry_t *entry = (entry_t *) zhashx_lookup (self->entries, id);
    if (entry && !streq (from, entry->owner)) {
        if ((uint64_t) epoch > entry->epoch && !entry->child) {
            //  It runs a version we have not yet got: kept for that version.
            snprintf (entry->early.from, sizeof entry->early.from, "%s", from);
            entry->early.epoch = (uint64_t) epoch;
            entry->early.pid = pid;
            entry->early.restarts = (int) restarts;
            snprintf (entry->early.status, sizeof entry->early.status, "%s", status);
        }
        else
            self->stats.runs_ignored++;
        return;
    }
    if (entry && (uint64_t) epoch >= entry->run_epoch && !entry->child) {
        entry->run_epoch = (uint64_t) epoch;
        entry->pid = pid;
        entry->restarts = (int) restarts;
        snprintf (entry->status, sizeof entry->status, "%s", status);
    }
}

static void s_rebalance (cluster_t *self);
static void s_tell_sees (cluster_t *self);

static void
s_member_seen (cluster_t *self, const char *node, const char *strategy)
{
    peer_t *peer = s_peer (self, node);
    bool was = s_peer_live (peer);
    peer->up = true;        //  it reached us, so its node is up
    peer->member = true;
    peer->gone = false;
    peer->leaving = false;
    if (!streq (strategy, self->app->config->strategy))
        otp_warn ("member %s uses the %s strategy, we use %s", node, strategy,
                  self->app->config->strategy);
    if (!was) {
        otp_info ("member %s joined", node);
        s_rebalance (self);
    }
}

void
cluster_on_batch (cluster_t *self, const char *from, zframe_t *payload)
{
    zmsg_t *batch = otp_payload_decode (payload);
    if (!batch) {
        self->stats.bad_batches++;
        return;
    }
    bool changed = false;
    zmsg_t *op;
    int index;
    while ((index = otp_batch_pop (batch, otp_sup_ops, &op)) >= 0) {
        char strategy [16];
        if (index == SUP_OP_HELLO || index == SUP_OP_TABLE) {
            if (otp_msg_str (op, 0, strategy, sizeof strategy) == 0) {
                s_member_seen (self, from, strategy);
                changed = true;
                if (index == SUP_OP_HELLO)
                    s_send_table (self, from, "TABLE");
                else
                    s_peer (self, from)->synced = true;
            }
        }
        else
        if (index == SUP_OP_ENTRY)
            s_apply (self, from, op);
        else
        if (index == SUP_OP_RUN)
            s_apply_run (self, from, op);
        else
        if (index == SUP_OP_SEES) {
            peer_t *peer = s_peer (self, from);
            char *sees = zframe_strdup (otp_msg_arg (op, 0));
            if (!peer->sees || !streq (peer->sees, sees)) {
                free (peer->sees);
                peer->sees = sees;
                changed = true;
            }
            else
                free (sees);
        }
        else
        if (index >= SUP_OP_STATE && index <= SUP_OP_STATER)
            cluster_state_on_op (self, from, index, op);
        else
        if (index == SUP_OP_LEAVING) {
            s_peer (self, from)->leaving = true;
            otp_info ("member %s is draining", from);
        }
        zmsg_destroy (&op);
    }
    if (index == -2)
        self->stats.bad_batches++;
    zmsg_destroy (&batch);
    if (changed)
        s_check_orphans (self);
}

//  -------------------------------------------------------------------------
//  Membership

static void
s_reconcile_all (cluster_t *self)
{
    zlistx_t *entries = s_entries (self);
    for (entry_t *entry = (entry_t *) zlistx_first (entries); entry;
         entry = (entry_t *) zlistx_next (entries))
        s_reconcile (self, entry);
    zlistx_destroy (&entries);
}

//  Children whose owner is gone get a new one: the same survivor at every
//  member. With the quorum strategy, only with a quorum, and only after
//  the failover delay, by which time the minority has stopped its own.
static void
s_check_orphans (cluster_t *self)
{
    if (self->leaving || self->stopped)
        return;
    bool quorum = s_quorum (self);
    if (!quorum)
        cluster_state_refuse_all (self);
    s_reconcile_all (self);         //  quorum lost or regained
    if (!quorum)
        return;
    int64_t now = zclock_mono ();
    bool views_known = s_views_known (self);
    zlistx_t *nodes = s_placement (self, NULL);
    zlistx_t *entries = s_entries (self);
    for (entry_t *entry = (entry_t *) zlistx_first (entries); entry;
         entry = (entry_t *) zlistx_next (entries)) {
        if (entry->state == ENTRY_DELETED || s_owner_alive (self, entry->owner)) {
            entry->orphaned_at = 0;     //  back within the delay: a later loss waits afresh
            continue;
        }
        //  Out of our reach is not gone while another member reaches it
        //  (after a heal, our link to it may come back last); and until
        //  every member has said what it reaches, we cannot tell. The
        //  delay counts from when none does.
        if (!views_known || s_vouched (self, entry->owner)) {
            entry->orphaned_at = 0;
            continue;
        }
        if (self->strategy == STRATEGY_QUORUM && self->app->config->failover_delay_ms > 0) {
            if (!entry->orphaned_at)
                entry->orphaned_at = now;
            self->timed = true;
            if (now - entry->orphaned_at < self->app->config->failover_delay_ms)
                continue;
        }
        const char *heir = s_hash_owner (nodes, entry->id);
        if (!heir)
            break;
        if (entry->state == ENTRY_RUNNING && entry->spec->restart == OTP_RESTART_TEMPORARY) {
            //  Horde's rule: a temporary child is not restarted elsewhere.
            s_write (self, entry, heir, ENTRY_DELETED, false);
            continue;
        }
        if (entry->state == ENTRY_RUNNING && streq (heir, self->me)) {
            self->stats.failovers++;
            otp_info ("%s: its member %s is gone; restarting it here", entry->id, entry->owner);
        }
        else
        if (entry->state == ENTRY_RUNNING)
            otp_info ("%s: its member %s is gone; moving it to %s", entry->id, entry->owner, heir);
        s_write (self, entry, heir, entry->state, false);
    }
    zlistx_destroy (&entries);
    zlistx_destroy (&nodes);
}

//  A member joined: with --rebalance, each child of ours whose rendezvous
//  choice is now that member moves there (stopped here first, as in a
//  hand-off). Without it, as with Horde's default, children stay put.
static void
s_rebalance (cluster_t *self)
{
    if (!self->app->config->rebalance || self->leaving || self->stopped || !s_quorum (self))
        return;
    zlistx_t *nodes = s_placement (self, NULL);
    zlistx_t *entries = s_entries (self);
    for (entry_t *entry = (entry_t *) zlistx_first (entries); entry;
         entry = (entry_t *) zlistx_next (entries)) {
        if (entry->state != ENTRY_RUNNING || !streq (entry->owner, self->me)
        ||  !entry->child || *entry->moving_to || entry->spec->node)
            continue;
        const char *best = s_hash_owner (nodes, entry->id);
        if (best && !streq (best, self->me)) {
            snprintf (entry->moving_to, sizeof entry->moving_to, "%s", best);
            s_reconcile (self, entry);
        }
    }
    zlistx_destroy (&entries);
    zlistx_destroy (&nodes);
}

//  HELLO and BEAT go as calls (ref "hello", "beat"), so that a node
//  without otp-sup answers noproc at once.
static void
s_call_op (cluster_t *self, const char *node, const char *op, const char *arg, const char *ref)
{
    zmsg_t *ops = zmsg_new ();
    zmsg_addstr (ops, op);
    if (arg)
        zmsg_addstr (ops, arg);
    zframe_t *payload = zmsg_encode (ops);
    zmsg_destroy (&ops);
    otp_client_send_request (self->app->client, OTP_SUP_PROCESS, node, zframe_data (payload),
                             zframe_size (payload), ref);
    zframe_destroy (&payload);
}

//  RUN of every child we run, to every member, in batches.
static void
s_refresh_runs (cluster_t *self)
{
    zmsg_t *ops = zmsg_new ();
    int count = 0;
    for (entry_t *entry = (entry_t *) zhashx_first (self->entries); entry;
         entry = (entry_t *) zhashx_next (self->entries)) {
        if (!entry->child)
            continue;
        s_add_run (ops, entry);
        if (++count % CLUSTER_BATCH == 0) {
            zmsg_t *full = ops;
            ops = zmsg_new ();
            s_broadcast (self, &full);
        }
    }
    if (zmsg_size (ops))
        s_broadcast (self, &ops);
    zmsg_destroy (&ops);
}

//  BEAT, and what we reach (SEES), as one call.
static void
s_beat (cluster_t *self, const char *node, const char *sees)
{
    zmsg_t *ops = zmsg_new ();
    zmsg_addstr (ops, "BEAT");
    s_add_sees (ops, sees);
    zframe_t *payload = zmsg_encode (ops);
    zmsg_destroy (&ops);
    otp_client_send_request (self->app->client, OTP_SUP_PROCESS, node, zframe_data (payload),
                             zframe_size (payload), "beat");
    zframe_destroy (&payload);
}

static void
s_hello (cluster_t *self, const char *node)
{
    s_call_op (self, node, "HELLO", self->app->config->strategy, "hello");
}

void
cluster_on_nodeup (cluster_t *self, const char *node)
{
    peer_t *peer = s_peer (self, node);
    peer->up = true;
    peer->gone = false;
    peer->member = false;
    s_peer_unseen (peer);
    peer->leaving = false;
    s_hello (self, node);
    s_tell_sees (self);
}

void
cluster_on_nodedown (cluster_t *self, const char *node)
{
    peer_t *peer = (peer_t *) zhashx_lookup (self->peers, node);
    if (!peer)
        return;
    bool was = s_peer_live (peer);
    peer->up = false;
    peer->member = false;
    s_peer_unseen (peer);
    s_tell_sees (self);
    if (was)
        otp_info ("member %s is down", node);
    s_check_orphans (self);
}

//  A reply to our HELLO or a BEAT: a noproc says its otp-sup is gone.
void
cluster_on_beat_reply (cluster_t *self, otp_message_t *message)
{
    char node [OTP_NODE_MAX + 1];
    const char *at = strchr (message->from, '@');
    if (!at)
        return;
    snprintf (node, sizeof node, "%s", at + 1);
    peer_t *peer = (peer_t *) zhashx_lookup (self->peers, node);
    if (!peer)
        return;
    if (streq (message->kind, "noproc")) {
        if (!peer->gone) {
            peer->gone = true;
            s_peer_unseen (peer);
            s_tell_sees (self);
            otp_info ("member %s: no otp-sup answers there", node);
            s_check_orphans (self);
        }
    }
}

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    cluster_t *self = (cluster_t *) arg;
    int64_t now = zclock_mono ();
    //  Only while something waits: an idle member with many children
    //  does not walk them fifty times a second.
    if (self->timed) {
        self->timed = false;
        zlistx_t *entries = s_entries (self);
        bool orphans = false;
        for (entry_t *entry = (entry_t *) zlistx_first (entries); entry;
             entry = (entry_t *) zlistx_next (entries)) {
            if (entry->retry_at && !(entry->child && s_wanted_here (self, entry)))
                entry->retry_at = 0;
            if (entry->retry_at && now >= entry->retry_at && !child_alive (entry->child))
                s_start (self, entry);
            if (entry->retry_at || entry->orphaned_at)
                self->timed = true;
            if (entry->orphaned_at)
                orphans = true;
        }
        zlistx_destroy (&entries);
        if (orphans && s_quorum (self))
            s_check_orphans (self);
    }
    cluster_state_tick (self, now);
    if (now >= self->next_run_refresh) {
        self->next_run_refresh = now + CLUSTER_RUN_REFRESH_MS;
        s_refresh_runs (self);
    }
    if (now >= self->next_beat) {
        self->next_beat = now + CLUSTER_BEAT_MS;
        char *sees = s_sees (self);
        for (peer_t *peer = (peer_t *) zhashx_first (self->peers); peer;
             peer = (peer_t *) zhashx_next (self->peers)) {
            if (!peer->up || peer->gone)
                continue;
            //  A HELLO until its TABLE has come (ours, or its answer, may
            //  have been lost).
            if (!peer->member || !peer->synced)
                s_hello (self, peer->name);
            else
                s_beat (self, peer->name, sees);
        }
        free (sees);
    }
    return 0;
}

//  -------------------------------------------------------------------------
//  The class

cluster_t *
cluster_new (app_t *app)
{
    cluster_t *self = (cluster_t *) zmalloc (sizeof (cluster_t));
    self->app = app;
    self->me = app->config->node;
    const char *strategy = app->config->strategy;
    self->strategy = streq (strategy, "random")? STRATEGY_RANDOM
                   : streq (strategy, "quorum")? STRATEGY_QUORUM: STRATEGY_UNIFORM;
    self->entries = zhashx_new ();
    zhashx_set_destructor (self->entries, (zhashx_destructor_fn *) s_entry_destroy);
    self->peers = zhashx_new ();
    zhashx_set_destructor (self->peers, (zhashx_destructor_fn *) s_peer_destroy);
    self->restarts = intensity_new (app->config->intensity, app->config->period_ms);
    self->timer = zloop_timer (app->loop, CLUSTER_TICK_MS, 0, s_on_tick, self);
    cluster_state_init (self);
    return self;
}

void
cluster_destroy (cluster_t **self_p)
{
    cluster_t *self = *self_p;
    if (self) {
        zloop_timer_end (self->app->loop, self->timer);
        zhashx_destroy (&self->entries);
        zhashx_destroy (&self->peers);
        intensity_destroy (&self->restarts);
        free (self);
        *self_p = NULL;
    }
}

void
cluster_drain (cluster_t *self)
{
    if (self->leaving)
        return;
    self->leaving = true;
    zmsg_t *ops = zmsg_new ();
    zmsg_addstr (ops, "LEAVING");
    s_broadcast (self, &ops);
    otp_info ("draining: handing children off");
    s_reconcile_all (self);
    //  Those not running here (waiting for a quorum) go at once.
    zlistx_t *entries = s_entries (self);
    for (entry_t *entry = (entry_t *) zlistx_first (entries); entry;
         entry = (entry_t *) zlistx_next (entries))
        if (!entry->child)
            s_handoff (self, entry);
    zlistx_destroy (&entries);
    app_check_done (self->app);
}

void
cluster_stop (cluster_t *self)
{
    self->stopped = true;
    zlistx_t *entries = s_entries (self);
    for (entry_t *entry = (entry_t *) zlistx_first (entries); entry;
         entry = (entry_t *) zlistx_next (entries))
        if (entry->child)
            child_kill (entry->child);
    zlistx_destroy (&entries);
    app_check_done (self->app);
}

bool
cluster_stopped (cluster_t *self)
{
    for (entry_t *entry = (entry_t *) zhashx_first (self->entries); entry;
         entry = (entry_t *) zhashx_next (self->entries))
        if (entry->child && child_alive (entry->child))
            return false;
    return true;
}

bool
cluster_has (cluster_t *self, const char *id)
{
    entry_t *entry = (entry_t *) zhashx_lookup (self->entries, id);
    return entry && entry->state != ENTRY_DELETED;
}

//  -------------------------------------------------------------------------
//  Requests

void
cluster_start_child (cluster_t *self, otp_childspec_t **spec_p, otp_message_t **call_p)
{
    otp_childspec_t *spec = *spec_p;
    entry_t *old = (entry_t *) zhashx_lookup (self->entries, spec->id);
    zlistx_t *nodes = s_placement (self, NULL);
    const char *target = NULL;
    if (self->leaving || self->stopped)
        requests_error (self->app, call_p, "%s is draining; ask another member", self->me);
    else
    if (old && old->state != ENTRY_DELETED)
        requests_error (self->app, call_p, "child %s is already present (on %s)", spec->id, old->owner);
    else
    if (self->app->tree && tree_has (self->app->tree, spec->id))
        requests_error (self->app, call_p, "child %s is already present (in the local tree)", spec->id);
    else
    if (!s_quorum (self))
        requests_error (self->app, call_p, "no quorum: %d of %d members seen", s_members_seen (self),
                        self->app->config->members);
    else
    if (spec->node) {
        for (const char *node = (const char *) zlistx_first (nodes); node && !target;
             node = (const char *) zlistx_next (nodes))
            if (streq (node, spec->node))
                target = node;
        if (!target)
            requests_error (self->app, call_p, "%s is not a member of this supervisor", spec->node);
    }
    else
    if (self->strategy == STRATEGY_RANDOM && zlistx_size (nodes)) {
        size_t pick = (size_t) randombytes_uniform ((uint32_t) zlistx_size (nodes));
        target = (const char *) zlistx_first (nodes);
        while (pick--)
            target = (const char *) zlistx_next (nodes);
    }
    else
        target = s_hash_owner (nodes, spec->id);
    if (*call_p && !target)
        requests_error (self->app, call_p, "no member to run it on");
    if (!*call_p) {
        zlistx_destroy (&nodes);
        otp_childspec_destroy (spec_p);
        return;
    }
    if (!streq (target, self->me)) {
        requests_moved (self->app, call_p, target);
        zlistx_destroy (&nodes);
        otp_childspec_destroy (spec_p);
        return;
    }
    zlistx_destroy (&nodes);
    //  Started here before anyone hears of it: a command that cannot run
    //  is an error to the caller, not an entry that fails everywhere.
    entry_t *entry = (entry_t *) zmalloc (sizeof (entry_t));
    entry->cluster = self;
    snprintf (entry->id, sizeof entry->id, "%s", spec->id);
    entry->spec = spec;
    *spec_p = NULL;
    entry->epoch = old? old->epoch + 1: 1;
    snprintf (entry->writer, sizeof entry->writer, "%s", self->me);
    snprintf (entry->owner, sizeof entry->owner, "%s", self->me);
    entry->state = ENTRY_RUNNING;
    otp_childspec_t *copy = otp_childspec_dup (entry->spec);
    entry->child = child_new (self->app, &copy, "cluster");
    child_set_handler (entry->child, s_on_child_exit, entry);
    //  A new child: no member has a state of it to read.
    cluster_state_attach (self, entry);
    entry->st.read_epoch = entry->epoch;
    snprintf (entry->st.read_writer, sizeof entry->st.read_writer, "%s", entry->writer);
    cluster_state_before_start (self, entry);
    char error [1024];
    bool busy;
    if (child_start (entry->child, &busy, error, sizeof error)) {
        requests_error (self->app, call_p, "%s", error);
        child_release (entry->child);
        s_entry_destroy (&entry);
        return;
    }
    zhashx_update (self->entries, entry->id, entry);    //  a tombstone goes
    s_publish (self, entry, true, true);
    requests_placed (self->app, call_p, self->me, child_pid (entry->child));
}

//  The entry for a request about one child, or NULL (answered).
static entry_t *
s_request_entry (cluster_t *self, const char *id, otp_message_t **call_p)
{
    entry_t *entry = (entry_t *) zhashx_lookup (self->entries, id);
    if (!entry || entry->state == ENTRY_DELETED) {
        requests_error (self->app, call_p, "no child %s", id);
        return NULL;
    }
    return entry;
}

void
cluster_stop_child (cluster_t *self, const char *id, otp_message_t **call_p)
{
    entry_t *entry = s_request_entry (self, id, call_p);
    if (!entry)
        return;
    if (entry->state == ENTRY_STOPPED) {
        requests_reply (self->app, call_p, NULL);
        return;
    }
    if (!streq (entry->owner, self->me) && s_owner_alive (self, entry->owner)) {
        requests_moved (self->app, call_p, entry->owner);
        return;
    }
    s_write (self, entry, entry->owner, ENTRY_STOPPED, false);
    if (entry->child && child_alive (entry->child)) {
        if (entry->stop_call)
            requests_error (self->app, &entry->stop_call, "stop-child %s was asked again; "
                            "the later call answers", id);
        entry->stop_call = *call_p;
        *call_p = NULL;
    }
    else
        requests_reply (self->app, call_p, NULL);
}

void
cluster_restart_child (cluster_t *self, const char *id, otp_message_t **call_p)
{
    entry_t *entry = s_request_entry (self, id, call_p);
    if (!entry)
        return;
    if (entry->state == ENTRY_RUNNING) {
        requests_error (self->app, call_p, "child %s is running", id);
        return;
    }
    zlistx_t *nodes = s_placement (self, NULL);
    const char *target = s_hash_owner (nodes, entry->id);
    if (!target)
        requests_error (self->app, call_p, "no member to run it on");
    else
    if (!streq (target, self->me))
        requests_moved (self->app, call_p, target);
    else {
        if (entry->start_call)
            requests_error (self->app, &entry->start_call, "restart-child %s was asked again; "
                            "the later call answers", id);
        entry->start_call = *call_p;
        *call_p = NULL;
        s_write (self, entry, self->me, ENTRY_RUNNING, true);
    }
    zlistx_destroy (&nodes);
}

void
cluster_delete_child (cluster_t *self, const char *id, otp_message_t **call_p)
{
    entry_t *entry = s_request_entry (self, id, call_p);
    if (!entry)
        return;
    if (entry->state == ENTRY_RUNNING)
        requests_error (self->app, call_p, "child %s is running; stop it first", id);
    else {
        s_write (self, entry, entry->owner, ENTRY_DELETED, false);
        requests_reply (self->app, call_p, NULL);
    }
}

void
cluster_rows (cluster_t *self, zlistx_t *rows)
{
    for (entry_t *entry = (entry_t *) zhashx_first (self->entries); entry;
         entry = (entry_t *) zhashx_next (self->entries)) {
        if (entry->state == ENTRY_DELETED)
            continue;
        const otp_childspec_t *spec = entry->spec;
        long pid = entry->pid;
        int restarts = entry->restarts;
        const char *status = *entry->status? entry->status: "starting";
        if (entry->child) {
            pid = child_pid (entry->child);
            restarts = child_restarts (entry->child);
            status = child_status (entry->child);
        }
        else
        if (entry->state == ENTRY_STOPPED || streq (entry->owner, self->me)) {
            pid = 0;
            status = "stopped";
        }
        else
        if (!s_owner_alive (self, entry->owner)) {
            pid = 0;
            status = "waiting";
        }
        if (entry->state == ENTRY_STOPPED)
            status = "stopped";
        zlistx_add_end (rows, requests_row (entry->id, "cluster", entry->owner, pid, status,
            restarts, spec->name? spec->name: "", otp_restart_name (spec->restart),
            otp_child_type_name (spec->type)));
    }
}

uint64_t
cluster_count (cluster_t *self, uint64_t *children, uint64_t *running)
{
    for (entry_t *entry = (entry_t *) zhashx_first (self->entries); entry;
         entry = (entry_t *) zhashx_next (self->entries))
        if (entry->state != ENTRY_DELETED && streq (entry->owner, self->me)) {
            (*children)++;
            if (entry->child && streq (child_status (entry->child), "running"))
                (*running)++;
        }
    return self->stats.failovers;
}

void
cluster_info (cluster_t *self, zmsg_t *reply)
{
    size_t running = 0, entries = 0;
    for (entry_t *entry = (entry_t *) zhashx_first (self->entries); entry;
         entry = (entry_t *) zhashx_next (self->entries)) {
        if (entry->state != ENTRY_DELETED)
            entries++;
        if (entry->child && child_alive (entry->child))
            running++;
    }
    zmsg_addstr (reply, "strategy");
    zmsg_addstr (reply, self->app->config->strategy);
    zmsg_addstr (reply, "members");
    zmsg_addstrf (reply, "%d", s_members_seen (self));
    zmsg_addstr (reply, "quorum");
    zmsg_addstr (reply, s_quorum (self)? "yes": "no");
    zmsg_addstr (reply, "cluster_children");
    zmsg_addstrf (reply, "%zu", entries);
    zmsg_addstr (reply, "running_here");
    zmsg_addstrf (reply, "%zu", running);
    zmsg_addstr (reply, "failovers");
    zmsg_addstrf (reply, "%" PRIu64, self->stats.failovers);
    zmsg_addstr (reply, "handoffs");
    zmsg_addstrf (reply, "%" PRIu64, self->stats.handoffs);
    zmsg_addstr (reply, "conflicts");
    zmsg_addstrf (reply, "%" PRIu64, self->stats.conflicts);
    zmsg_addstr (reply, "versions_in");
    zmsg_addstrf (reply, "%" PRIu64, self->stats.versions_in);
    zmsg_addstr (reply, "versions_out");
    zmsg_addstrf (reply, "%" PRIu64, self->stats.versions_out);
    zmsg_addstr (reply, "bad_batches");
    zmsg_addstrf (reply, "%" PRIu64, self->stats.bad_batches);
    zmsg_addstr (reply, "runs_ignored");
    zmsg_addstrf (reply, "%" PRIu64, self->stats.runs_ignored);
    cluster_state_info (self, reply);
}
