/*  The replica: names, groups, and the operations replicas exchange.

    Unique names. A registration is first *claimed*: the replica asks every
    other replica it can reach, and commits only when all have consented
    (or their nodes went down). Two claims for one name meet at least at
    one of the two claimants, which consents only to the earlier one, so of
    two processes that register a name at the same moment exactly one
    succeeds. Claims cost one round trip; look-ups cost none.

    Partitions. Each side of a split drops the other side's entries, so a
    name can be registered on both sides. When the sides meet again, the
    replicas exchange snapshots, and every replica that holds two entries
    for one name keeps the one that sorts first by (registration time,
    node name, address): the oldest registration, which has run longest.
    The rule needs no coordination: all replicas see the same two entries
    and so pick the same one; clock skew between hosts can change which of
    the two wins, never whether the replicas agree. The loser's own replica
    deletes it, tells the other replicas, and sends its process
    "lost NAME to ADDR@NODE".                                              */
#include "reg.h"

#define BATCH_BYTES (256 * 1024)    //  a batch is sent once it is this big

static void
s_entry_destroy (entry_t **self_p)
{
    entry_t *self = *self_p;
    if (self) {
        free (self->name);
        free (self->meta);
        free (self);
        *self_p = NULL;
    }
}

static entry_t *
s_entry_new (const char *name, const char *node, const char *addr, const char *meta,
             int64_t stamp)
{
    entry_t *self = (entry_t *) zmalloc (sizeof (entry_t));
    self->name = strdup (name);
    snprintf (self->node, sizeof self->node, "%s", node);
    snprintf (self->addr, sizeof self->addr, "%s", addr);
    self->meta = strdup (meta);
    self->stamp = stamp;
    return self;
}

//  True if `a` wins over `b`: the deterministic rule every replica applies.
static bool
s_wins (const entry_t *a, const entry_t *b)
{
    if (a->stamp != b->stamp)
        return a->stamp < b->stamp;
    int cmp = strcmp (a->node, b->node);
    if (cmp)
        return cmp < 0;
    return strcmp (a->addr, b->addr) < 0;
}

static void
s_claim_destroy (claim_t **self_p)
{
    claim_t *self = *self_p;
    if (self) {
        s_entry_destroy (&self->entry);
        otp_message_destroy (&self->call);
        zlistx_destroy (&self->waiting);
        free (self);
        *self_p = NULL;
    }
}

static void
s_rpeer_destroy (rpeer_t **self_p)
{
    rpeer_t *self = *self_p;
    if (self) {
        zmsg_destroy (&self->out);
        free (self);
        *self_p = NULL;
    }
}

reg_t *
reg_new (const reg_config_t *config, otp_client_t *client)
{
    reg_t *self = (reg_t *) zmalloc (sizeof (reg_t));
    self->config = config;
    self->client = client;
    snprintf (self->node, sizeof self->node, "%s", config->node);
    self->names = zhashx_new ();
    zhashx_set_destructor (self->names, (zhashx_destructor_fn *) s_entry_destroy);
    self->runners_up = zhashx_new ();
    zhashx_set_destructor (self->runners_up, (zhashx_destructor_fn *) zlistx_destroy);
    self->groups = zhashx_new ();
    zhashx_set_destructor (self->groups, (zhashx_destructor_fn *) zhashx_destroy);
    self->local = zhashx_new ();
    zhashx_set_destructor (self->local, (zhashx_destructor_fn *) zhashx_destroy);
    self->claims = zhashx_new ();
    zhashx_set_destructor (self->claims, (zhashx_destructor_fn *) s_claim_destroy);
    self->peers = zhashx_new ();
    zhashx_set_destructor (self->peers, (zhashx_destructor_fn *) s_rpeer_destroy);
    return self;
}

void
reg_destroy (reg_t **self_p)
{
    reg_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->alive);
        zhashx_destroy (&self->peers);
        zhashx_destroy (&self->claims);
        zhashx_destroy (&self->local);
        zhashx_destroy (&self->groups);
        zhashx_destroy (&self->runners_up);
        zhashx_destroy (&self->names);
        free (self);
        *self_p = NULL;
    }
}

//  Outgoing batches -------------------------------------------------------

static void
s_flush_peer (reg_t *self, rpeer_t *peer)
{
    if (!peer->out || zmsg_size (peer->out) == 0)
        return;
    zframe_t *payload = zmsg_encode (peer->out);
    zmsg_destroy (&peer->out);
    peer->out_bytes = 0;
    otp_client_send (self->client, OTP_REG_PROCESS, peer->node,
                     zframe_data (payload), zframe_size (payload));
    zframe_destroy (&payload);
}

void
reg_flush (reg_t *self)
{
    for (rpeer_t *peer = (rpeer_t *) zhashx_first (self->peers); peer;
         peer = (rpeer_t *) zhashx_next (self->peers))
        s_flush_peer (self, peer);
}

//  Queues one operation (up to four arguments; NULLs end the list).
static void
s_queue (reg_t *self, rpeer_t *peer, const char *op, const char *a, const char *b,
         const char *c, const char *d)
{
    if (!peer->out)
        peer->out = zmsg_new ();
    const char *parts [] = { op, a, b, c, d };
    for (int i = 0; i < 5 && parts [i]; i++) {
        zmsg_addstr (peer->out, parts [i]);
        peer->out_bytes += strlen (parts [i]) + 5;
    }
    self->stats.ops_out++;
    if (peer->out_bytes >= BATCH_BYTES)
        s_flush_peer (self, peer);
}

//  To every up node, replica known or not: one whose replica has not
//  answered yet may have one that is about to, and must not miss what we
//  change meanwhile. A node without otp-reg drops it.
static void
s_broadcast (reg_t *self, const char *op, const char *a, const char *b, const char *c,
             const char *d)
{
    for (rpeer_t *peer = (rpeer_t *) zhashx_first (self->peers); peer;
         peer = (rpeer_t *) zhashx_next (self->peers))
        s_queue (self, peer, op, a, b, c, d);
}

static void
s_queue_add (reg_t *self, rpeer_t *peer, entry_t *entry)
{
    char stamp [24];
    snprintf (stamp, sizeof stamp, "%" PRId64, entry->stamp);
    if (peer)
        s_queue (self, peer, "ADD", entry->name, entry->addr, entry->meta, stamp);
    else
        s_broadcast (self, "ADD", entry->name, entry->addr, entry->meta, stamp);
}

//  `op` group address, for each membership of a process of `owner`.
static void
s_queue_memberships (reg_t *self, rpeer_t *peer, const char *owner, const char *op)
{
    for (zhashx_t *members = (zhashx_t *) zhashx_first (self->groups); members;
         members = (zhashx_t *) zhashx_next (self->groups)) {
        const char *group = (const char *) zhashx_cursor (self->groups);
        for (void *item = zhashx_first (members); item; item = zhashx_next (members)) {
            const char *member = (const char *) zhashx_cursor (members);
            const char *at = strchr (member, '@');
            if (at && streq (at + 1, owner)) {
                char addr [OTP_NAME_MAX + 1];
                snprintf (addr, sizeof addr, "%.*s", (int) (at - member), member);
                s_queue (self, peer, op, group, addr, NULL, NULL);
            }
        }
    }
}

//  Our own entries and memberships, after a RESET: a snapshot.
static void
s_queue_snapshot (reg_t *self, rpeer_t *peer)
{
    s_queue (self, peer, "RESET", NULL, NULL, NULL, NULL);
    for (entry_t *entry = (entry_t *) zhashx_first (self->names); entry;
         entry = (entry_t *) zhashx_next (self->names))
        if (streq (entry->node, self->node))
            s_queue_add (self, peer, entry);
    s_queue_memberships (self, peer, self->node, "JOIN");
}

//  The entries and memberships `peer` owns, as we hold them: for a
//  replica that restarted and lost its own.
static void
s_queue_theirs (reg_t *self, rpeer_t *peer)
{
    for (entry_t *entry = (entry_t *) zhashx_first (self->names); entry;
         entry = (entry_t *) zhashx_next (self->names))
        if (streq (entry->node, peer->node)) {
            char stamp [24];
            snprintf (stamp, sizeof stamp, "%" PRId64, entry->stamp);
            s_queue (self, peer, "YOURS", entry->name, entry->addr, entry->meta, stamp);
        }
    s_queue_memberships (self, peer, peer->node, "YOURJOIN");
}

//  Local index: what each of our processes holds --------------------------

static void
s_index (reg_t *self, const char *addr, char tag, const char *key, bool add)
{
    //  A set per address: a process holding many names exits in linear time.
    char item [OTP_REG_NAME_MAX + 2];
    snprintf (item, sizeof item, "%c%s", tag, key);
    zhashx_t *held = (zhashx_t *) zhashx_lookup (self->local, addr);
    if (add) {
        if (!held) {
            held = zhashx_new ();
            zhashx_insert (self->local, addr, held);
        }
        zhashx_insert (held, item, (void *) "");
    }
    else
    if (held) {
        zhashx_delete (held, item);
        if (zhashx_size (held) == 0)
            zhashx_delete (self->local, addr);
    }
}

//  Names --------------------------------------------------------------------

//  Runners-up. An entry of another node that loses here to the entry held
//  for its name is kept aside, not dropped: the winner may yet be deleted,
//  and its DEL can come after the loser's ADD, which is never sent again
//  (after a heal: the loser's node saw the winner's DEL first and
//  registered the name anew). Then the best runner-up holds the name. So
//  every replica holds, per name, the latest entry of each node that has
//  one, and shows the same winner. Never one of our own node's: ours that
//  lose are deleted everywhere, and their process is told.

//  Drops `node`'s runner-up for `name` (only the one of `addr`, if given).
static void
s_runner_up_drop (reg_t *self, const char *name, const char *node, const char *addr)
{
    zlistx_t *list = (zlistx_t *) zhashx_lookup (self->runners_up, name);
    if (!list)
        return;
    for (entry_t *entry = (entry_t *) zlistx_first (list); entry;
         entry = (entry_t *) zlistx_next (list))
        if (streq (entry->node, node) && (!addr || streq (entry->addr, addr))) {
            zlistx_delete (list, zlistx_cursor (list));
            break;      //  one per node
        }
    if (zlistx_size (list) == 0)
        zhashx_delete (self->runners_up, name);
}

//  Keeps `entry` (another node's, which lost here) as a runner-up.
static void
s_runner_up_add (reg_t *self, entry_t *entry)
{
    s_runner_up_drop (self, entry->name, entry->node, NULL);
    zlistx_t *list = (zlistx_t *) zhashx_lookup (self->runners_up, entry->name);
    if (!list) {
        list = zlistx_new ();
        zlistx_set_destructor (list, (zlistx_destructor_fn *) s_entry_destroy);
        zhashx_insert (self->runners_up, entry->name, list);
    }
    zlistx_add_end (list, entry);
}

//  The entry held for `name` has gone: the best runner-up takes its place.
static void
s_promote (reg_t *self, const char *name)
{
    zlistx_t *list = (zlistx_t *) zhashx_lookup (self->runners_up, name);
    if (!list || zhashx_lookup (self->names, name))
        return;
    entry_t *best = NULL;
    void *best_handle = NULL;
    for (entry_t *entry = (entry_t *) zlistx_first (list); entry;
         entry = (entry_t *) zlistx_next (list))
        if (!best || s_wins (entry, best)) {
            best = entry;
            best_handle = zlistx_cursor (list);
        }
    zlistx_detach (list, best_handle);
    otp_debug ("%s: held by %s@%s now (its winner went)", best->name, best->addr, best->node);
    zhashx_insert (self->names, best->name, best);
    if (zlistx_size (list) == 0)
        zhashx_delete (self->runners_up, name);
}

//  Stores `entry` unless a winner holds its name. Returns true if stored.
static bool
s_store (reg_t *self, entry_t *entry)
{
    //  A node's new entry supersedes its runner-up, whether it wins or not.
    s_runner_up_drop (self, entry->name, entry->node, NULL);
    entry_t *held = (entry_t *) zhashx_lookup (self->names, entry->name);
    //  Two entries of one node are no conflict: that node's replica has
    //  registered the name anew, so ours is stale (a DEL we never got).
    if (held && streq (held->node, entry->node) && !streq (held->node, self->node)
    &&  !streq (held->addr, entry->addr)) {
        zhashx_update (self->names, entry->name, entry);
        return true;
    }
    if (held && (!streq (held->node, entry->node) || !streq (held->addr, entry->addr))) {
        if (s_wins (held, entry)) {
            self->stats.conflicts++;
            if (streq (entry->node, self->node))
                s_entry_destroy (&entry);
            else
                s_runner_up_add (self, entry);
            return false;
        }
        self->stats.conflicts++;
        if (!streq (held->node, self->node))
            s_runner_up_add (self, s_entry_new (held->name, held->node, held->addr,
                                                held->meta, held->stamp));
        else {
            //  Ours lost: delete it everywhere and tell its process.
            char text [OTP_REG_NAME_MAX + OTP_NAME_MAX + OTP_NODE_MAX + 16];
            snprintf (text, sizeof text, "lost %s to %s@%s", held->name, entry->addr, entry->node);
            otp_warn ("%s", text);
            otp_client_send (self->client, held->addr, self->node, text, strlen (text));
            s_broadcast (self, "DEL", held->name, held->addr, NULL, NULL);
            s_index (self, held->addr, 'n', held->name, false);
        }
    }
    if (streq (entry->node, self->node) && !(held && streq (held->addr, entry->addr)
                                             && streq (held->node, entry->node)))
        s_index (self, entry->addr, 'n', entry->name, true);
    zhashx_update (self->names, entry->name, entry);
    return true;
}

static void
s_commit (reg_t *self, claim_t *claim)
{
    entry_t *entry = claim->entry;
    claim->entry = NULL;
    if (claim->dead) {
        s_entry_destroy (&entry);
        return;
    }
    self->stats.registrations++;
    char *name = strdup (entry->name);
    if (s_store (self, entry)) {
        s_queue_add (self, NULL, (entry_t *) zhashx_lookup (self->names, name));
        zmsg_t *values = zmsg_new ();
        zmsg_addstr (values, "ok");
        reg_reply (self, claim->call, &values);
    }
    else {
        zmsg_t *values = zmsg_new ();
        zmsg_addstr (values, "error");
        zmsg_addstrf (values, "'%s' was registered elsewhere at the same moment", name);
        reg_reply (self, claim->call, &values);
    }
    free (name);
}

static void
s_fail (reg_t *self, claim_t *claim, const char *reason)
{
    if (claim->dead)
        return;
    zmsg_t *values = zmsg_new ();
    zmsg_addstr (values, "error");
    zmsg_addstr (values, reason);
    reg_reply (self, claim->call, &values);
}

//  Commits a claim nobody else has to consent to any more.
static void
s_claim_check (reg_t *self, claim_t *claim)
{
    if (zlistx_size (claim->waiting) == 0) {
        char *name = strdup (claim->entry->name);
        s_commit (self, claim);
        zhashx_delete (self->claims, name);
        free (name);
    }
}

static int64_t
s_stamp (reg_t *self)
{
    //  Wall-clock time, so that stamps from different nodes compare; never
    //  twice the same here, so that our own entries never tie.
    int64_t now = zclock_time ();
    self->last_stamp = now > self->last_stamp? now: self->last_stamp + 1;
    return self->last_stamp;
}

void
reg_claim (reg_t *self, const char *name, const char *addr, const char *meta,
           otp_message_t **call)
{
    claim_t *claim = (claim_t *) zmalloc (sizeof (claim_t));
    claim->entry = s_entry_new (name, self->node, addr, meta, s_stamp (self));
    claim->call = *call;
    *call = NULL;
    claim->waiting = zlistx_new ();
    zlistx_set_destructor (claim->waiting, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (claim->waiting, (zlistx_duplicator_fn *) strdup);
    zlistx_set_comparator (claim->waiting, (zlistx_comparator_fn *) strcmp);
    claim->deadline = zclock_mono () + self->config->claim_timeout_ms;
    char stamp [24];
    snprintf (stamp, sizeof stamp, "%" PRId64, claim->entry->stamp);
    for (rpeer_t *peer = (rpeer_t *) zhashx_first (self->peers); peer;
         peer = (rpeer_t *) zhashx_next (self->peers))
        if (peer->replica && !peer->slow) {
            zlistx_add_end (claim->waiting, peer->node);
            s_queue (self, peer, "CLAIM", name, addr, stamp, NULL);
        }
    zhashx_insert (self->claims, name, claim);
    s_claim_check (self, claim);
}

void
reg_delete (reg_t *self, const char *name)
{
    entry_t *entry = (entry_t *) zhashx_lookup (self->names, name);
    if (!entry || !streq (entry->node, self->node))
        return;
    self->stats.unregistrations++;
    s_broadcast (self, "DEL", entry->name, entry->addr, NULL, NULL);
    s_index (self, entry->addr, 'n', entry->name, false);
    zhashx_delete (self->names, name);
    s_promote (self, name);
}

//  Groups -------------------------------------------------------------------

static void
s_member (reg_t *self, const char *group, const char *addr, const char *node, bool join)
{
    char member [OTP_NAME_MAX + OTP_NODE_MAX + 2];
    snprintf (member, sizeof member, "%s@%s", addr, node);
    zhashx_t *members = (zhashx_t *) zhashx_lookup (self->groups, group);
    if (join) {
        if (!members) {
            members = zhashx_new ();
            zhashx_insert (self->groups, group, members);
        }
        zhashx_insert (members, member, (void *) "");
    }
    else
    if (members) {
        zhashx_delete (members, member);
        if (zhashx_size (members) == 0)
            zhashx_delete (self->groups, group);
    }
}

static bool
s_is_member (reg_t *self, const char *group, const char *addr)
{
    char member [OTP_NAME_MAX + OTP_NODE_MAX + 2];
    snprintf (member, sizeof member, "%s@%s", addr, self->node);
    zhashx_t *members = (zhashx_t *) zhashx_lookup (self->groups, group);
    return members && zhashx_lookup (members, member);
}

void
reg_join (reg_t *self, const char *group, const char *addr)
{
    if (s_is_member (self, group, addr))
        return;     //  pg keeps one membership per process and group here
    s_member (self, group, addr, self->node, true);
    s_index (self, addr, 'g', group, true);
    s_broadcast (self, "JOIN", group, addr, NULL, NULL);
}

void
reg_leave (reg_t *self, const char *group, const char *addr)
{
    if (!s_is_member (self, group, addr))
        return;
    s_member (self, group, addr, self->node, false);
    s_index (self, addr, 'g', group, false);
    s_broadcast (self, "LEAVE", group, addr, NULL, NULL);
}

//  Everything `node` owns goes (its node is down, or it resets).
static zlistx_t *
s_strings (void)
{
    zlistx_t *list = zlistx_new ();
    zlistx_set_destructor (list, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (list, (zlistx_duplicator_fn *) strdup);
    return list;
}

static void
s_purge (reg_t *self, const char *node)
{
    zlistx_t *doomed = s_strings ();
    for (entry_t *entry = (entry_t *) zhashx_first (self->names); entry;
         entry = (entry_t *) zhashx_next (self->names))
        if (streq (entry->node, node))
            zlistx_add_end (doomed, entry->name);
    for (char *name = (char *) zlistx_first (doomed); name; name = (char *) zlistx_next (doomed))
        zhashx_delete (self->names, name);
    //  Its runners-up go; a name it held goes to the best one left.
    zlistx_t *names = s_strings ();
    for (void *list = zhashx_first (self->runners_up); list; list = zhashx_next (self->runners_up))
        zlistx_add_end (names, (void *) zhashx_cursor (self->runners_up));
    for (char *name = (char *) zlistx_first (names); name; name = (char *) zlistx_next (names))
        s_runner_up_drop (self, name, node, NULL);
    zlistx_destroy (&names);
    for (char *name = (char *) zlistx_first (doomed); name; name = (char *) zlistx_next (doomed))
        s_promote (self, name);
    zlistx_purge (doomed);
    zlistx_t *empty = s_strings ();
    for (zhashx_t *members = (zhashx_t *) zhashx_first (self->groups); members;
         members = (zhashx_t *) zhashx_next (self->groups)) {
        zlistx_purge (doomed);
        for (void *item = zhashx_first (members); item; item = zhashx_next (members)) {
            const char *member = (const char *) zhashx_cursor (members);
            const char *at = strchr (member, '@');
            if (at && streq (at + 1, node))
                zlistx_add_end (doomed, (void *) member);
        }
        for (char *member = (char *) zlistx_first (doomed); member;
             member = (char *) zlistx_next (doomed))
            zhashx_delete (members, member);
        if (zhashx_size (members) == 0)
            zlistx_add_end (empty, (void *) zhashx_cursor (self->groups));
    }
    for (char *group = (char *) zlistx_first (empty); group; group = (char *) zlistx_next (empty))
        zhashx_delete (self->groups, group);
    zlistx_destroy (&empty);
    zlistx_destroy (&doomed);
}

//  Membership -----------------------------------------------------------------

void
reg_on_nodeup (reg_t *self, const char *node)
{
    rpeer_t *peer = (rpeer_t *) zhashx_lookup (self->peers, node);
    if (!peer) {
        peer = (rpeer_t *) zmalloc (sizeof (rpeer_t));
        snprintf (peer->node, sizeof peer->node, "%s", node);
        zhashx_insert (self->peers, node, peer);
    }
    //  Both sides do this: neither has to have seen the other go down.
    s_queue (self, peer, "SYNC", NULL, NULL, NULL, NULL);
    s_queue_snapshot (self, peer);
}

void
reg_recover (reg_t *self, const char *node, zlistx_t *alive)
{
    if (!self->alive) {
        self->alive = zhashx_new ();
        for (char *name = (char *) zlistx_first (alive); name; name = (char *) zlistx_next (alive))
            zhashx_insert (self->alive, name, (void *) "");
    }
    rpeer_t *peer = (rpeer_t *) zmalloc (sizeof (rpeer_t));
    snprintf (peer->node, sizeof peer->node, "%s", node);
    zhashx_insert (self->peers, node, peer);
    s_queue (self, peer, "RECOVER", NULL, NULL, NULL, NULL);
}

//  What a peer holds of ours, after we restarted.
static void
s_on_yours (reg_t *self, int op, const char *name, const char *addr, const char *meta,
            int64_t stamp)
{
    //  Taken back only while its process still lives here; a process that
    //  exited since was reported down to nobody, so it is deleted now.
    bool alive = self->alive && zhashx_lookup (self->alive, addr);
    if (op == REG_OP_YOURS) {
        entry_t *held = (entry_t *) zhashx_lookup (self->names, name);
        if (held && streq (held->node, self->node) && streq (held->addr, addr))
            return;     //  another peer told us already
        if (alive && s_store (self, s_entry_new (name, self->node, addr, meta, stamp))) {
            self->last_stamp = stamp > self->last_stamp? stamp: self->last_stamp;
            otp_info ("took back %s for %s", name, addr);
        }
        else
            s_broadcast (self, "DEL", name, addr, NULL, NULL);
    }
    else
    if (alive)
        reg_join (self, name, addr);
    else
        s_broadcast (self, "LEAVE", name, addr, NULL, NULL);
}

static void
s_forget_peer (reg_t *self, const char *node)
{
    //  Claims no longer wait for a node that is gone.
    zlistx_t *ready = zlistx_new ();
    for (claim_t *claim = (claim_t *) zhashx_first (self->claims); claim;
         claim = (claim_t *) zhashx_next (self->claims)) {
        void *handle = zlistx_find (claim->waiting, (void *) node);
        if (handle)
            zlistx_delete (claim->waiting, handle);
        if (zlistx_size (claim->waiting) == 0)
            zlistx_add_end (ready, claim);
    }
    for (claim_t *claim = (claim_t *) zlistx_first (ready); claim;
         claim = (claim_t *) zlistx_next (ready))
        s_claim_check (self, claim);
    zlistx_destroy (&ready);
}

void
reg_on_nodedown (reg_t *self, const char *node)
{
    zhashx_delete (self->peers, node);
    s_purge (self, node);
    s_forget_peer (self, node);
}

void
reg_on_down (reg_t *self, const char *addr)
{
    if (self->alive)
        zhashx_delete (self->alive, addr);
    for (claim_t *claim = (claim_t *) zhashx_first (self->claims); claim;
         claim = (claim_t *) zhashx_next (self->claims))
        if (streq (claim->entry->addr, addr))
            claim->dead = true;
    zhashx_t *set = (zhashx_t *) zhashx_lookup (self->local, addr);
    if (!set)
        return;
    zlistx_t *held = zhashx_keys (set);
    for (char *item = (char *) zlistx_first (held); item; item = (char *) zlistx_next (held)) {
        if (*item == 'n')
            reg_delete (self, item + 1);
        else
            reg_leave (self, item + 1, addr);
    }
    zlistx_destroy (&held);
}

//  Operations from other replicas -------------------------------------------

static void
s_on_claim (reg_t *self, rpeer_t *peer, const char *name, const char *addr, int64_t stamp,
            const char *stamp_text)
{
    //  Consent unless the name is held, or we claim it first ourselves. An
    //  entry of the claimant's own node does not count: its replica knows
    //  its own node's names best, and a DEL overtaken by a heal's snapshot
    //  would otherwise leave us refusing that name to its node for ever.
    entry_t theirs = { .stamp = stamp };
    snprintf (theirs.node, sizeof theirs.node, "%s", peer->node);
    snprintf (theirs.addr, sizeof theirs.addr, "%.*s", OTP_NAME_MAX, addr);
    entry_t *held = (entry_t *) zhashx_lookup (self->names, name);
    claim_t *ours = (claim_t *) zhashx_lookup (self->claims, name);
    bool consent = !(held && !streq (held->node, peer->node))
                && !(ours && !ours->dead && s_wins (ours->entry, &theirs));
    s_queue (self, peer, "ACK", name, addr, stamp_text, consent? "ok": "no");
}

static void
s_on_ack (reg_t *self, rpeer_t *peer, const char *name, const char *addr, int64_t stamp,
          bool consent)
{
    claim_t *claim = (claim_t *) zhashx_lookup (self->claims, name);
    if (!claim || claim->entry->stamp != stamp || !streq (claim->entry->addr, addr))
        return;     //  an answer to a claim that has ended
    if (!consent) {
        s_fail (self, claim, "name is registered elsewhere, or being registered");
        zhashx_delete (self->claims, name);
        return;
    }
    void *handle = zlistx_find (claim->waiting, peer->node);
    if (handle)
        zlistx_delete (claim->waiting, handle);
    s_claim_check (self, claim);
}

static void
s_apply (reg_t *self, rpeer_t *peer, int op, zmsg_t *msg)
{
    char a [OTP_ARG_MAX + 1], b [OTP_ARG_MAX + 1], c [OTP_ARG_MAX + 1], d [OTP_ARG_MAX + 1];
    long stamp = 0;
    int nargs = (int) zmsg_size (msg) - 1;
    for (int i = 0; i < nargs; i++) {
        char *buf = i == 0? a: i == 1? b: i == 2? c: d;
        if (otp_msg_str (msg, i, buf, OTP_ARG_MAX + 1)) {
            self->stats.bad_messages++;
            return;
        }
    }
    //  Names, addresses and stamps are checked before anything is applied.
    const char *stamp_text = op == REG_OP_ADD || op == REG_OP_YOURS? d
                           : op == REG_OP_CLAIM || op == REG_OP_ACK? c: NULL;
    if ((nargs >= 2 && (!otp_reg_name_valid (a) || !otp_name_valid (b)))
    ||  (stamp_text && otp_parse_int (stamp_text, 0, LONG_MAX, &stamp))) {
        self->stats.bad_messages++;
        return;
    }
    self->stats.ops_in++;
    switch (op) {
        case REG_OP_SYNC:
            peer->replica = true;
            s_queue_snapshot (self, peer);
            break;
        case REG_OP_RECOVER:
            //  Our state, then what we hold of theirs, before their RESET
            //  can make us forget it.
            peer->replica = true;
            s_queue_snapshot (self, peer);
            s_queue_theirs (self, peer);
            break;
        case REG_OP_YOURS:
            s_on_yours (self, op, a, b, c, stamp);
            break;
        case REG_OP_YOURJOIN:
            s_on_yours (self, op, a, b, NULL, 0);
            break;
        case REG_OP_RESET:
            peer->replica = true;
            s_purge (self, peer->node);
            break;
        case REG_OP_ADD:
            s_store (self, s_entry_new (a, peer->node, b, c, stamp));
            break;
        case REG_OP_DEL: {
            entry_t *held = (entry_t *) zhashx_lookup (self->names, a);
            if (held && streq (held->node, peer->node) && streq (held->addr, b)) {
                zhashx_delete (self->names, a);
                s_promote (self, a);
            }
            else
                s_runner_up_drop (self, a, peer->node, b);
            break;
        }
        case REG_OP_JOIN:
            s_member (self, a, b, peer->node, true);
            break;
        case REG_OP_LEAVE:
            s_member (self, a, b, peer->node, false);
            break;
        case REG_OP_CLAIM:
            s_on_claim (self, peer, a, b, stamp, c);
            break;
        case REG_OP_ACK:
            s_on_ack (self, peer, a, b, stamp, streq (d, "ok"));
            break;
    }
}

void
reg_on_batch (reg_t *self, const char *node, zframe_t *payload)
{
    rpeer_t *peer = (rpeer_t *) zhashx_lookup (self->peers, node);
    zmsg_t *batch = peer? otp_payload_decode (payload): NULL;
    if (!batch) {
        //  Not from an up node, or not a frame list.
        self->stats.bad_messages++;
        return;
    }
    peer->slow = false;
    zmsg_t *op;
    int index;
    while ((index = otp_batch_pop (batch, otp_reg_ops, &op)) >= 0) {
        s_apply (self, peer, index, op);
        zmsg_destroy (&op);
    }
    if (index == -2) {
        self->stats.bad_messages++;
        otp_warn ("dropped the rest of a malformed batch from %s", node);
    }
    zmsg_destroy (&batch);
}

void
reg_tick (reg_t *self)
{
    //  A replica that does not answer a claim in time is taken for gone (an
    //  otp-reg that died on a node that lives): claims stop waiting for it
    //  until it is heard from again. It is still sent every change.
    int64_t now = zclock_mono ();
    zlistx_t *late = zlistx_new ();
    for (claim_t *claim = (claim_t *) zhashx_first (self->claims); claim;
         claim = (claim_t *) zhashx_next (self->claims))
        if (now > claim->deadline)
            zlistx_add_end (late, claim);
    for (claim_t *claim = (claim_t *) zlistx_first (late); claim;
         claim = (claim_t *) zlistx_next (late)) {
        for (char *node = (char *) zlistx_first (claim->waiting); node;
             node = (char *) zlistx_next (claim->waiting)) {
            rpeer_t *peer = (rpeer_t *) zhashx_lookup (self->peers, node);
            if (peer && peer->replica && !peer->slow) {
                otp_warn ("otp-reg on %s did not answer a claim within %d ms; "
                          "not waiting for it until it is heard from again",
                          node, self->config->claim_timeout_ms);
                peer->slow = true;
                self->stats.timeouts++;
            }
        }
        zlistx_purge (claim->waiting);
        s_claim_check (self, claim);
    }
    zlistx_destroy (&late);
}

void
reg_reply (reg_t *self, const otp_message_t *call, zmsg_t **values)
{
    zframe_t *payload = zmsg_encode (*values);
    zmsg_destroy (values);
    otp_client_reply (self->client, call, zframe_data (payload), zframe_size (payload));
    zframe_destroy (&payload);
}
