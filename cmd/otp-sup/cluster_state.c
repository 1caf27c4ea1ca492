/*  A cluster child's checkpoints: the state it publishes on its channel
    (lib/otp_state.h), held by every member, given back at every start.

    - A put is answered `ok SEQ` once a majority of the members hold it
      (cluster_majority: of the configured size with quorum, else of the
      members in view), so an answered state survives kill -9 of its node.
      With quorum, a member without one refuses at once (noquorum).
    - States order by key: the version of the entry the process started
      under, then seq. Before it starts a child under a new version (a
      failover, a hand-off, its own otp-sup restarted), the owner reads the
      members' latest (STATEQ, from a majority of the members in view,
      READ_MS at most), so it starts with every answered state, wherever
      the last owner had it.
    - Casts are sent coalesced: the latest, at most every CAST_MS; a put
      goes at once (and takes the casts before it along).
    - After a partition in which two instances ran (uniform), the loser's
      states reach the winner, which holds them apart (`merge`): its child
      is started again with both, to reconcile (Swarm's resolve_conflict).
    - The owner's state is given to each start as a memory file on its
      descriptor 4 (OTP_STATE_FILE=/dev/fd/4; the other instance's on 5),
      with its seq and the release that wrote it; a state travels between
      members in pieces of STATE_PIECE bytes.  */
#include "cluster.h"
#include <fcntl.h>
#include <sys/mman.h>

#define STATE_PIECE (256 * 1024)
#define PUT_TIMEOUT_MS 5000
#define PUTS_MAX 64                     //  puts of one child waiting for a majority
#define READ_MS 5000
#define MERGE_WAIT_MS 500               //  the loser's last checkpoint may follow
#define CAST_MS 100

typedef struct {
    state_key_t key;
    zlistx_t *acks;                 //  members that hold it, us first
    int needed;
    int64_t deadline;
    uint64_t instance;              //  the child process that asked
} put_t;

static void
s_put_destroy (put_t **self_p)
{
    put_t *self = *self_p;
    if (self) {
        zlistx_destroy (&self->acks);
        free (self);
        *self_p = NULL;
    }
}

static void
s_rec_clear (state_rec_t *rec)
{
    zchunk_destroy (&rec->data);
    memset (rec, 0, sizeof *rec);
}

//  A state being received from one member.
typedef struct {
    state_rec_t rec;
    size_t total;
} incoming_t;

static void
s_incoming_destroy (incoming_t **self_p)
{
    incoming_t *self = *self_p;
    if (self) {
        s_rec_clear (&self->rec);
        free (self);
        *self_p = NULL;
    }
}

//  Moves `from` into `to`.
static void
s_rec_move (state_rec_t *to, state_rec_t *from)
{
    s_rec_clear (to);
    *to = *from;
    memset (from, 0, sizeof *from);
}

static int
s_key_cmp (const state_key_t *a, const state_key_t *b)
{
    if (a->epoch != b->epoch)
        return a->epoch > b->epoch? 1: -1;
    int writer = strcmp (a->writer, b->writer);
    if (writer)
        return writer > 0? 1: -1;
    if (a->seq != b->seq)
        return a->seq > b->seq? 1: -1;
    return 0;
}

static bool
s_same_version (const state_key_t *a, const state_key_t *b)
{
    return a->epoch == b->epoch && streq (a->writer, b->writer);
}

static int64_t
s_now_ms (void)
{
    return zclock_time ();
}

//  -------------------------------------------------------------------------
//  On the wire

static void
s_send_rec (cluster_t *self, const char *node, entry_t *entry, state_rec_t *rec)
{
    size_t total = zchunk_size (rec->data);
    size_t offset = 0;
    do {
        size_t piece = total - offset > STATE_PIECE? STATE_PIECE: total - offset;
        zmsg_t *ops = zmsg_new ();
        zmsg_addstr (ops, "STATE");
        zmsg_addstr (ops, entry->id);
        zmsg_addstrf (ops, "%" PRIu64, rec->key.epoch);
        zmsg_addstr (ops, rec->key.writer);
        zmsg_addstrf (ops, "%" PRIu64, rec->key.seq);
        zmsg_addstr (ops, rec->release);
        zmsg_addstrf (ops, "%" PRId64, rec->at);
        zmsg_addstrf (ops, "%zu", total);
        zmsg_addstrf (ops, "%zu", offset);
        zmsg_addmem (ops, zchunk_data (rec->data) + offset, piece);
        cluster_send (self, node, ops);
        zmsg_destroy (&ops);
        offset += piece;
    } while (offset < total);
}

static void
s_send_key (cluster_t *self, const char *node, const char *op, entry_t *entry,
            const state_key_t *key)
{
    zmsg_t *ops = zmsg_new ();
    zmsg_addstr (ops, op);
    zmsg_addstr (ops, entry->id);
    zmsg_addstrf (ops, "%" PRIu64, key? key->epoch: 0);
    zmsg_addstr (ops, key? key->writer: "-");
    zmsg_addstrf (ops, "%" PRIu64, key? key->seq: 0);
    cluster_send (self, node, ops);
    zmsg_destroy (&ops);
}

static void
s_broadcast_rec (cluster_t *self, entry_t *entry, state_rec_t *rec)
{
    for (peer_t *peer = (peer_t *) zhashx_first (self->peers); peer;
         peer = (peer_t *) zhashx_next (self->peers))
        if (peer->up && !peer->gone)
            s_send_rec (self, peer->name, entry, rec);
}

//  -------------------------------------------------------------------------
//  Merges (uniform, random): with quorum a minority's states were never
//  answered, and are not handed over.

static bool
s_merging (cluster_t *self)
{
    return self->strategy != STRATEGY_QUORUM;
}

static void
s_send_lost (cluster_t *self, entry_t *entry)
{
    if (!entry->st.lost.have || streq (entry->owner, self->me))
        return;
    peer_t *owner = (peer_t *) zhashx_lookup (self->peers, entry->owner);
    if (owner && owner->up && !owner->gone)
        s_send_rec (self, owner->name, entry, &entry->st.lost);
}

//  `rec` (taken, or a copy kept) is our own process's state, which a newer
//  version superseded: the instance that won gets it, to merge.
static void
s_keep_lost (cluster_t *self, entry_t *entry, state_rec_t *rec)
{
    entry_state_t *st = &entry->st;
    if (!s_merging (self) || !st->instance.epoch || !s_same_version (&rec->key, &st->instance)
    ||  (st->lost.have && s_key_cmp (&rec->key, &st->lost.key) <= 0)) {
        s_rec_clear (rec);
        return;
    }
    s_rec_move (&st->lost, rec);
    s_send_lost (self, entry);
}

//  -------------------------------------------------------------------------
//  A child's requests

static void
s_reply (cluster_t *self, entry_t *entry, uint64_t instance, otp_state_code_t code,
         const char *text)
{
    if (code != OTP_STATE_OK)
        self->stats.checkpoints_refused++;
    if (entry->child)
        child_checkpoint_reply (entry->child, instance, "error %s %s",
                                otp_state_code_name (code), text);
}

static void
s_put_done (cluster_t *self, entry_t *entry, put_t *put)
{
    self->stats.checkpoints++;
    if (entry->child)
        child_checkpoint_reply (entry->child, put->instance, "ok %" PRIu64, put->key.seq);
}

static void
s_on_request (void *arg, bool wait, uint8_t *data, size_t size)
{
    entry_t *entry = (entry_t *) arg;
    cluster_t *self = entry->cluster;
    entry_state_t *st = &entry->st;
    uint64_t instance = entry->child? child_instance (entry->child): 0;
    if (self->strategy == STRATEGY_QUORUM && !cluster_has_quorum (self)) {
        free (data);
        if (wait)
            s_reply (self, entry, instance, OTP_STATE_NOQUORUM, "no quorum here: this member "
                     "is on a minority side");
        else
            self->stats.checkpoints_refused++;
        return;
    }
    if (wait && zlistx_size (st->puts) >= PUTS_MAX) {
        free (data);
        s_reply (self, entry, instance, OTP_STATE_BUSY, "too many checkpoints wait for a majority");
        return;
    }
    state_rec_t rec = { .have = true };
    rec.key = st->instance;
    rec.key.seq = ++st->next_seq;
    snprintf (rec.release, sizeof rec.release, "%s", self->release);
    rec.at = s_now_ms ();
    rec.data = zchunk_new (data, size);
    free (data);
    self->stats.checkpoint_bytes += size;
    //  A put goes now; a cast waits for the next send (the latest only).
    if (wait || (!st->cast_due && zclock_mono () >= st->cast_at)) {
        if (!wait)
            st->cast_at = zclock_mono () + CAST_MS;
        s_broadcast_rec (self, entry, &rec);
        st->cast_due = false;
    }
    else {
        st->cast_due = true;
        self->state_timed = true;
    }
    put_t *put = NULL;
    if (wait) {
        put = (put_t *) zmalloc (sizeof (put_t));
        put->key = rec.key;
        put->acks = zlistx_new ();
        zlistx_set_destructor (put->acks, (czmq_destructor *) zstr_free);
        zlistx_set_comparator (put->acks, (czmq_comparator *) strcmp);
        zlistx_add_end (put->acks, strdup (self->me));
        put->needed = cluster_majority (self);
        put->deadline = zclock_mono () + PUT_TIMEOUT_MS;
        put->instance = instance;
    }
    else
        self->stats.casts++;
    //  A process that is stopping after its entry moved on (it lost a
    //  conflict) still says its last state: handed to the winner, to merge.
    if (!st->held.have || s_key_cmp (&rec.key, &st->held.key) > 0)
        s_rec_move (&st->held, &rec);
    else
        s_keep_lost (self, entry, &rec);
    if (put && (int) zlistx_size (put->acks) >= put->needed) {
        s_put_done (self, entry, put);
        s_put_destroy (&put);
    }
    else
    if (put) {
        zlistx_add_end (st->puts, put);
        self->state_timed = true;
    }
}

//  -------------------------------------------------------------------------
//  From other members

static entry_t *
s_entry (cluster_t *self, zmsg_t *op, state_key_t *key, bool with_key)
{
    char id [OTP_CHILD_ID_MAX + 1];
    if (otp_msg_str (op, 0, id, sizeof id))
        return NULL;
    entry_t *entry = (entry_t *) zhashx_lookup (self->entries, id);
    if (!entry || !with_key)
        return entry;
    long epoch, seq;
    if (otp_msg_int (op, 1, 0, LONG_MAX, &epoch) || otp_msg_str (op, 2, key->writer, sizeof key->writer)
    ||  otp_msg_int (op, 3, 0, LONG_MAX, &seq))
        return NULL;
    key->epoch = (uint64_t) epoch;
    key->seq = (uint64_t) seq;
    return entry;
}

//  A whole state from `from`; it says STACK only for what it keeps.
static void
s_receive (cluster_t *self, const char *from, entry_t *entry, state_rec_t *rec)
{
    entry_state_t *st = &entry->st;
    //  Ours to run: a state of an older version, taken after the one the
    //  first process under our version began with, was taken by an
    //  instance that ran beside ours (a partition): kept apart, handed to ours.
    if (s_merging (self) && streq (entry->owner, self->me) && entry->child
    &&  cluster_wanted_here (self, entry) && st->instance.epoch && !s_same_version (&rec->key, &st->instance)
    &&  s_key_cmp (&rec->key, &st->instance) < 0 && rec->key.seq > st->fork_seq) {
        s_send_key (self, from, "STACK", entry, &rec->key);
        if (!st->merge.have || s_key_cmp (&rec->key, &st->merge.key) > 0) {
            otp_info ("%s: a state taken by another instance (seq %" PRIu64 "); its process "
                      "starts again with both", entry->id, rec->key.seq);
            s_rec_move (&st->merge, rec);
            st->merge_due = true;
            st->merge_at = zclock_mono () + MERGE_WAIT_MS;
            self->state_timed = true;
        }
        s_rec_clear (rec);
        return;
    }
    if (!st->held.have || s_key_cmp (&rec->key, &st->held.key) > 0) {
        s_send_key (self, from, "STACK", entry, &rec->key);
        if (st->held.have && !s_same_version (&st->held.key, &rec->key)) {
            state_rec_t old = st->held;
            memset (&st->held, 0, sizeof st->held);
            s_keep_lost (self, entry, &old);
        }
        s_rec_move (&st->held, rec);
    }
    else {
        //  Ours already, or (we own it) of an older version that our
        //  process began after: nothing of it is missing here.
        if (s_key_cmp (&rec->key, &st->held.key) == 0
        ||  (streq (entry->owner, self->me) && !s_same_version (&rec->key, &st->held.key)))
            s_send_key (self, from, "STACK", entry, &rec->key);
        s_rec_clear (rec);
    }
}

static void
s_on_state (cluster_t *self, const char *from, zmsg_t *op)
{
    state_key_t key = { 0 };
    entry_t *entry = s_entry (self, op, &key, true);
    char release [OTP_STATE_VERSION_MAX + 1];
    long at, total, offset;
    if (!entry || entry->state == ENTRY_DELETED
    ||  otp_msg_str (op, 4, release, sizeof release) || otp_msg_int (op, 5, 0, LONG_MAX, &at)
    ||  otp_msg_int (op, 6, 0, OTP_STATE_MAX, &total) || otp_msg_int (op, 7, 0, total, &offset)) {
        if (!entry)
            return;     //  a child we do not know (yet): its table brings it again
        self->stats.bad_batches++;
        return;
    }
    zframe_t *piece = otp_msg_arg (op, 8);
    size_t size = zframe_size (piece);
    entry_state_t *st = &entry->st;
    if (size > STATE_PIECE || (size_t) offset + size > (size_t) total) {
        self->stats.bad_batches++;
        return;
    }
    if (!st->ins) {
        st->ins = zhashx_new ();
        zhashx_set_destructor (st->ins, (zhashx_destructor_fn *) s_incoming_destroy);
    }
    incoming_t *in = (incoming_t *) zhashx_lookup (st->ins, from);
    if (offset == 0) {
        //  One state at a time from each member: a newer one replaces it.
        in = (incoming_t *) zmalloc (sizeof (incoming_t));
        in->rec.have = true;
        in->rec.key = key;
        snprintf (in->rec.release, sizeof in->rec.release, "%s", release);
        in->rec.at = at;
        in->rec.data = zchunk_new (NULL, (size_t) total);
        in->total = (size_t) total;
        zhashx_update (st->ins, from, in);
    }
    else
    if (!in || s_key_cmp (&key, &in->rec.key) || zchunk_size (in->rec.data) != (size_t) offset) {
        zhashx_delete (st->ins, from);      //  a piece missing: this state is lost here
        self->stats.bad_batches++;
        return;
    }
    zchunk_extend (in->rec.data, zframe_data (piece), size);
    if (zchunk_size (in->rec.data) == in->total) {
        state_rec_t rec = in->rec;
        memset (&in->rec, 0, sizeof in->rec);
        zhashx_delete (st->ins, from);
        s_receive (self, from, entry, &rec);
    }
}

static void
s_on_ack (cluster_t *self, const char *from, zmsg_t *op)
{
    state_key_t key = { 0 };
    entry_t *entry = s_entry (self, op, &key, true);
    if (entry && entry->st.lost.have && streq (from, entry->owner)
    &&  s_key_cmp (&key, &entry->st.lost.key) == 0)
        s_rec_clear (&entry->st.lost);      //  the winner has it
    if (!entry || !entry->st.puts)
        return;     //  not a put of ours (a state we passed on)
    zlistx_t *puts = entry->st.puts;
    put_t *put = (put_t *) zlistx_first (puts);
    while (put) {
        if (s_same_version (&put->key, &key) && put->key.seq <= key.seq
        &&  !zlistx_find (put->acks, (void *) from))
            zlistx_add_end (put->acks, strdup (from));
        if ((int) zlistx_size (put->acks) >= put->needed) {
            s_put_done (self, entry, put);
            s_put_destroy (&put);
            zlistx_detach_cur (puts);
            put = (put_t *) zlistx_first (puts);
        }
        else
            put = (put_t *) zlistx_next (puts);
    }
}

static void s_read_done (cluster_t *self, entry_t *entry);

//  STATEQ of this round to one member.
static void
s_ask (cluster_t *self, entry_t *entry, const char *node)
{
    if (!zlistx_find (entry->st.read_asked, (void *) node))
        zlistx_add_end (entry->st.read_asked, strdup (node));
    zmsg_t *ops = zmsg_new ();
    zmsg_addstr (ops, "STATEQ");
    zmsg_addstr (ops, entry->id);
    zmsg_addstrf (ops, "%" PRIu64, entry->st.read_round);
    cluster_send (self, node, ops);
    zmsg_destroy (&ops);
}

//  Done once a majority of the members in view (now: one may have gone
//  since) has answered, us included.
static void
s_check_read (cluster_t *self, entry_t *entry)
{
    entry_state_t *st = &entry->st;
    if (st->reading && (int) zlistx_size (st->read_from) + 1 >= cluster_majority (self))
        s_read_done (self, entry);
}

void
cluster_state_on_op (cluster_t *self, const char *from, int index, zmsg_t *op)
{
    if (index == SUP_OP_STATE)
        s_on_state (self, from, op);
    else
    if (index == SUP_OP_STACK)
        s_on_ack (self, from, op);
    else
    if (index == SUP_OP_STATEQ) {
        char id [OTP_CHILD_ID_MAX + 1], round [32];
        if (otp_msg_str (op, 0, id, sizeof id) || otp_msg_str (op, 1, round, sizeof round))
            return;
        entry_t *entry = (entry_t *) zhashx_lookup (self->entries, id);
        state_rec_t *held = entry && entry->st.held.have? &entry->st.held: NULL;
        if (held)
            s_send_rec (self, from, entry, held);
        zmsg_t *ops = zmsg_new ();
        zmsg_addstr (ops, "STATER");
        zmsg_addstr (ops, id);
        zmsg_addstrf (ops, "%" PRIu64, held? held->key.epoch: 0);
        zmsg_addstr (ops, held? held->key.writer: "-");
        zmsg_addstrf (ops, "%" PRIu64, held? held->key.seq: 0);
        zmsg_addstr (ops, round);
        cluster_send (self, from, ops);
        zmsg_destroy (&ops);
    }
    else
    if (index == SUP_OP_STATER) {
        state_key_t key = { 0 };
        long round;
        entry_t *entry = s_entry (self, op, &key, true);
        entry_state_t *st = entry? &entry->st: NULL;
        if (!st || !st->reading || otp_msg_int (op, 4, 0, LONG_MAX, &round)
        ||  (uint64_t) round != st->read_round || zlistx_find (st->read_from, (void *) from))
            return;
        if (key.seq && (!st->held.have || s_key_cmp (&key, &st->held.key) > 0)) {
            //  Its latest did not reach us whole: asked again.
            s_ask (self, entry, from);
            return;
        }
        zlistx_add_end (st->read_from, strdup (from));
        s_check_read (self, entry);
    }
}

void
cluster_state_send_all (cluster_t *self, const char *node)
{
    for (entry_t *entry = (entry_t *) zhashx_first (self->entries); entry;
         entry = (entry_t *) zhashx_next (self->entries))
        if (entry->state != ENTRY_DELETED) {
            if (entry->st.held.have)
                s_send_rec (self, node, entry, &entry->st.held);
            if (entry->st.lost.have && streq (node, entry->owner))
                s_send_rec (self, node, entry, &entry->st.lost);
        }
}

//  -------------------------------------------------------------------------
//  Starts

static void
s_read_done (cluster_t *self, entry_t *entry)
{
    entry_state_t *st = &entry->st;
    st->reading = false;
    zlistx_purge (st->read_from);
    st->read_epoch = entry->epoch;
    snprintf (st->read_writer, sizeof st->read_writer, "%s", entry->writer);
    if (entry->child && !child_alive (entry->child) && cluster_wanted_here (self, entry))
        cluster_start_entry (self, entry);
}

//  A descriptor holding rec's bytes, read from its start: a memory file,
//  which nothing has to clean up, even after a kill -9. -1 on failure.
static int
s_state_fd (state_rec_t *rec)
{
    int fd = memfd_create ("otp-state", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    if (otp_write_all (fd, zchunk_data (rec->data), zchunk_size (rec->data))
    ||  lseek (fd, 0, SEEK_SET) != 0) {
        close (fd);
        return -1;
    }
    return fd;
}

static void
s_add_pair (zlistx_t *pairs, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    zlistx_add_end (pairs, zsys_vprintf (fmt, args));
    va_end (args);
}

int
cluster_state_before_start (cluster_t *self, entry_t *entry)
{
    entry_state_t *st = &entry->st;
    if (st->reading)
        return 1;
    //  A new version to run under (a failover, a hand-off, our own restart):
    //  the members' latest first. (A child just started here has
    //  read_epoch set already: nobody can have a state of it.)
    bool new_version = st->read_epoch != entry->epoch || !streq (st->read_writer, entry->writer);
    if (new_version && cluster_majority (self) > 1) {
        st->reading = true;
        st->read_round++;
        zlistx_purge (st->read_from);
        zlistx_purge (st->read_asked);
        if (entry->child)
            child_set_status (entry->child, "starting");
        st->read_deadline = zclock_mono () + READ_MS;
        self->stats.reads++;
        self->state_timed = true;
        for (peer_t *peer = (peer_t *) zhashx_first (self->peers); peer;
             peer = (peer_t *) zhashx_next (self->peers))
            if (cluster_peer_live (peer))
                s_ask (self, entry, peer->name);
        return 1;
    }
    st->read_epoch = entry->epoch;
    snprintf (st->read_writer, sizeof st->read_writer, "%s", entry->writer);
    //  Puts of the process before are answered to nobody: it is gone.
    zlistx_purge (st->puts);
    //  This process's place: the version it runs under, the state it is given.
    bool first = st->instance.epoch != entry->epoch || !streq (st->instance.writer, entry->writer);
    st->instance.epoch = entry->epoch;
    snprintf (st->instance.writer, sizeof st->instance.writer, "%s", entry->writer);
    st->instance.seq = st->held.have? st->held.key.seq: 0;
    bool merge = st->merge_due && st->merge.have;
    if (merge && st->merge.key.seq > st->instance.seq)
        st->instance.seq = st->merge.key.seq;
    if (first || merge)
        st->fork_seq = st->instance.seq;
    st->next_seq = st->instance.seq;
    zlistx_t *pairs = zlistx_new ();
    zlistx_set_destructor (pairs, (czmq_destructor *) zstr_free);
    s_add_pair (pairs, "OTP_RELEASE_VERSION=%s", self->release);
    //  The states as descriptors 4 (ours) and 5 (the other instance's).
    struct { state_rec_t *rec; const char *file, *seq, *version; } given [2] = {
        { &st->held, "OTP_STATE_FILE", "OTP_STATE_SEQ", "OTP_STATE_VERSION" },
        { merge? &st->merge: NULL, "OTP_STATE_MERGE_FILE", "OTP_STATE_MERGE_SEQ",
          "OTP_STATE_MERGE_VERSION" },
    };
    int fds [2] = { -1, -1 };
    for (int i = 0; i < 2; i++) {
        state_rec_t *rec = given [i].rec;
        if (!rec || !rec->have)
            continue;
        fds [i] = s_state_fd (rec);
        if (fds [i] < 0) {
            otp_warn ("%s: cannot give it its state: %s", entry->id, strerror (errno));
            continue;
        }
        s_add_pair (pairs, "%s=/dev/fd/%d", given [i].file, 4 + i);
        s_add_pair (pairs, "%s=%" PRIu64, given [i].seq, rec->key.seq);
        s_add_pair (pairs, "%s=%s", given [i].version, rec->release);
    }
    if (merge) {
        self->stats.merges++;
        s_rec_clear (&st->merge);
    }
    st->merge_due = false;
    if (entry->child) {
        child_set_start_env (entry->child, pairs);
        child_set_start_fds (entry->child, fds [0], fds [1]);
    }
    else
        for (int i = 0; i < 2; i++)
            if (fds [i] >= 0)
                close (fds [i]);
    zlistx_destroy (&pairs);
    return 0;
}

void
cluster_state_attach (cluster_t *self, entry_t *entry)
{
    entry_state_t *st = &entry->st;
    if (!st->puts) {
        st->puts = zlistx_new ();
        zlistx_set_destructor (st->puts, (czmq_destructor *) s_put_destroy);
        st->read_from = zlistx_new ();
        zlistx_set_destructor (st->read_from, (czmq_destructor *) zstr_free);
        zlistx_set_comparator (st->read_from, (czmq_comparator *) strcmp);
        st->read_asked = zlistx_new ();
        zlistx_set_destructor (st->read_asked, (czmq_destructor *) zstr_free);
        zlistx_set_comparator (st->read_asked, (czmq_comparator *) strcmp);
    }
    if (entry->child)
        child_set_checkpoints (entry->child, s_on_request, entry);
}

void
cluster_state_abort_read (entry_t *entry)
{
    entry->st.reading = false;
    if (entry->st.read_from)
        zlistx_purge (entry->st.read_from);
}

void
cluster_state_clear (entry_t *entry)
{
    entry_state_t *st = &entry->st;
    s_rec_clear (&st->held);
    s_rec_clear (&st->merge);
    s_rec_clear (&st->lost);
    zhashx_destroy (&st->ins);
    zlistx_destroy (&st->puts);
    zlistx_destroy (&st->read_from);
    zlistx_destroy (&st->read_asked);
    memset (st, 0, sizeof *st);
}

void
cluster_state_refuse_all (cluster_t *self)
{
    for (entry_t *entry = (entry_t *) zhashx_first (self->entries); entry;
         entry = (entry_t *) zhashx_next (self->entries)) {
        entry_state_t *st = &entry->st;
        while (st->puts && zlistx_size (st->puts)) {
            put_t *put = (put_t *) zlistx_first (st->puts);
            s_reply (self, entry, put->instance, OTP_STATE_NOQUORUM, "no quorum here: this "
                     "member is on a minority side");
            zlistx_delete (st->puts, zlistx_cursor (st->puts));
        }
    }
}

//  Only while something waits: an idle member with many children does not
//  walk them fifty times a second.
void
cluster_state_tick (cluster_t *self, int64_t now)
{
    if (!self->state_timed)
        return;
    self->state_timed = false;
    zlistx_t *entries = zhashx_values (self->entries);
    zlistx_set_destructor (entries, NULL);
    for (entry_t *entry = (entry_t *) zlistx_first (entries); entry;
         entry = (entry_t *) zlistx_next (entries)) {
        entry_state_t *st = &entry->st;
        //  The members in view may be fewer now (one left, or went down):
        //  what a majority of them holds is answered.
        int majority = cluster_majority (self);
        while (st->puts && zlistx_size (st->puts)) {
            put_t *put = (put_t *) zlistx_first (st->puts);
            if ((int) zlistx_size (put->acks) >= majority) {
                s_put_done (self, entry, put);
                zlistx_delete (st->puts, zlistx_cursor (st->puts));
                continue;
            }
            if (put->deadline > now)
                break;
            char text [160];
            snprintf (text, sizeof text, "%zu of the %d members needed said they hold it "
                      "(some may: it may turn up at a later start)", zlistx_size (put->acks),
                      put->needed);
            s_reply (self, entry, put->instance, OTP_STATE_TIMEOUT, text);
            zlistx_delete (st->puts, zlistx_cursor (st->puts));
        }
        if (st->cast_due && now >= st->cast_at) {
            st->cast_due = false;
            st->cast_at = now + CAST_MS;
            if (st->held.have)
                s_broadcast_rec (self, entry, &st->held);
        }
        if (st->reading) {
            //  One asked may be gone, and one back since is asked too: the
            //  majority may need it.
            for (peer_t *peer = (peer_t *) zhashx_first (self->peers); peer;
                 peer = (peer_t *) zhashx_next (self->peers))
                if (cluster_peer_live (peer) && !zlistx_find (st->read_asked, peer->name))
                    s_ask (self, entry, peer->name);
            s_check_read (self, entry);
        }
        if (st->reading && now >= st->read_deadline) {
            otp_warn ("%s: %zu of the %d members needed gave their state in %d ms; "
                      "it starts with the latest of those", entry->id,
                      zlistx_size (st->read_from) + 1, cluster_majority (self), READ_MS);
            s_read_done (self, entry);
        }
        if (st->merge_due && now >= st->merge_at && entry->child && child_alive (entry->child)
        &&  cluster_wanted_here (self, entry)) {
            st->merge_at = now + PUT_TIMEOUT_MS;    //  once; its next start takes it
            child_stop (entry->child);
        }
        if ((st->puts && zlistx_size (st->puts)) || st->cast_due || st->reading
        ||  (st->merge_due && entry->child && child_alive (entry->child)))
            self->state_timed = true;
    }
    zlistx_destroy (&entries);
}

//  -------------------------------------------------------------------------

void
cluster_state_init (cluster_t *self)
{
    const char *release = getenv ("OTP_RELEASE_VERSION");
    snprintf (self->release, sizeof self->release, "%s", release && *release? release: OTP_VERSION);
}

void
cluster_state_figures (cluster_t *self, uint64_t *checkpoints, uint64_t *bytes, uint64_t *held)
{
    *checkpoints = self->stats.checkpoints;
    *bytes = self->stats.checkpoint_bytes;
    *held = 0;
    for (entry_t *entry = (entry_t *) zhashx_first (self->entries); entry;
         entry = (entry_t *) zhashx_next (self->entries))
        if (entry->st.held.have)
            *held += zchunk_size (entry->st.held.data);
}

void
cluster_state_info (cluster_t *self, zmsg_t *reply)
{
    uint64_t held = 0, bytes = 0;
    for (entry_t *entry = (entry_t *) zhashx_first (self->entries); entry;
         entry = (entry_t *) zhashx_next (self->entries))
        if (entry->st.held.have) {
            held++;
            bytes += zchunk_size (entry->st.held.data);
        }
    struct { const char *key; uint64_t value; } rows [] = {
        { "checkpoints", self->stats.checkpoints },
        { "checkpoint_bytes", self->stats.checkpoint_bytes },
        { "checkpoints_refused", self->stats.checkpoints_refused },
        { "checkpoint_casts", self->stats.casts },
        { "state_merges", self->stats.merges },
        { "state_reads", self->stats.reads },
        { "states_held", held },
        { "state_bytes_held", bytes },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows [0]; i++) {
        zmsg_addstr (reply, rows [i].key);
        zmsg_addstrf (reply, "%" PRIu64, rows [i].value);
    }
}

void
cluster_state_request (cluster_t *self, const char *id, otp_message_t **call_p)
{
    entry_t *entry = (entry_t *) zhashx_lookup (self->entries, id);
    if (!entry || entry->state == ENTRY_DELETED)
        for (entry_t *each = (entry_t *) zhashx_first (self->entries); each && !entry;
             each = (entry_t *) zhashx_next (self->entries))
            if (each->state != ENTRY_DELETED && each->spec->name && streq (each->spec->name, id))
                entry = each;
    if (!entry || entry->state == ENTRY_DELETED) {
        requests_error (self->app, call_p, "no child %s", id);
        return;
    }
    state_rec_t *rec = &entry->st.held;
    zmsg_t *values = zmsg_new ();
    char size [32], seq [32], age [32];
    snprintf (size, sizeof size, "%zu", rec->have? zchunk_size (rec->data): 0);
    snprintf (seq, sizeof seq, "%" PRIu64, rec->have? rec->key.seq: 0);
    snprintf (age, sizeof age, "%" PRId64, rec->have? s_now_ms () - rec->at: 0);
    const char *pairs [][2] = {
        { "child", entry->id }, { "held", rec->have? "yes": "no" }, { "size", size },
        { "seq", seq }, { "release", rec->have? rec->release: "" }, { "age_ms", age },
        { "owner", entry->owner },
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs [0]; i++) {
        zmsg_addstr (values, pairs [i][0]);
        zmsg_addstr (values, pairs [i][1]);
    }
    requests_reply (self->app, call_p, &values);
}
