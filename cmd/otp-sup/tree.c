/*  The local tree: supervisors with OTP's semantics, loaded from a config
    file, changed at run time.

    Each supervisor runs a queue of actions (start, stop, remove a member),
    one at a time, as OTP's supervisor does: a stop waits for the process
    to exit (or be killed at its shutdown time) before the next action. An
    exit that no action asked for is a crash, or a normal exit: the restart
    type says whether to restart, the strategy says what else restarts,
    and the intensity (restarts within a period) says when to give up. A
    supervisor that gives up stops all its members and exits itself, which
    is a crash in its parent; the root giving up ends the daemon with a
    non-zero status.                                                        */
#include "sup.h"

typedef enum { ONE_FOR_ONE, ONE_FOR_ALL, REST_FOR_ONE } strategy_t;
static const char *s_strategies [] = { "one_for_one", "one_for_all", "rest_for_one", NULL };

typedef struct {
    tree_t *tree;                   //  the supervisor it is a member of
    child_t *child;                 //  a process ...
    tree_t *sub;                    //  ... or a supervisor in this process
    otp_restart_t restart;
    bool held;                      //  stopped on request: not restarted
} member_t;

typedef enum { ACT_START, ACT_STOP, ACT_REMOVE } act_op_t;

typedef struct {
    act_op_t op;
    member_t *member;
    bool begun;
    otp_message_t *call;            //  answered when done
} action_t;

struct _tree_t {
    app_t *app;
    tree_t *parent;
    member_t *as_member;            //  our entry in the parent; NULL for the root
    char id [OTP_CHILD_ID_MAX + 1];
    char path [256];
    strategy_t strategy;
    zlistx_t *members;              //  member_t, in start order
    intensity_t *restarts;
    zlistx_t *todo;                 //  action_t
    bool running;
    bool failing;                   //  gave up: stopping all, then escalating
    bool stopping;                  //  stopping all on request
};

static void s_run (tree_t *self);
static void s_member_down (tree_t *self, member_t *member, int status, bool requested);

static const char *
s_member_id (member_t *member)
{
    return member->child? child_id (member->child): member->sub->id;
}

static bool
s_member_running (member_t *member)
{
    return member->child? child_alive (member->child): member->sub->running;
}

static tree_t *
s_tree_new (app_t *app, tree_t *parent, const char *id)
{
    tree_t *self = (tree_t *) zmalloc (sizeof (tree_t));
    self->app = app;
    self->parent = parent;
    snprintf (self->id, sizeof self->id, "%s", id);
    if (parent) {
        //  A path too deep to spell out keeps its tail, the part that tells.
        char *path = zsys_sprintf ("%s/%s", parent->path, id);
        size_t len = strlen (path);
        size_t from = len >= sizeof self->path? len - sizeof self->path + 1: 0;
        memcpy (self->path, path + from, len - from + 1);
        zstr_free (&path);
    }
    else
        snprintf (self->path, sizeof self->path, "%s", id);
    self->strategy = ONE_FOR_ONE;
    self->members = zlistx_new ();
    self->restarts = intensity_new (1, 5000);     //  OTP's defaults: 1 restart in 5 s
    self->todo = zlistx_new ();
    return self;
}

static void
s_action_destroy (action_t **self_p)
{
    action_t *self = *self_p;
    if (self) {
        otp_message_destroy (&self->call);
        free (self);
        *self_p = NULL;
    }
}

static void
s_member_destroy (member_t **self_p)
{
    member_t *self = *self_p;
    if (self) {
        child_destroy (&self->child);
        tree_destroy (&self->sub);
        free (self);
        *self_p = NULL;
    }
}

void
tree_destroy (tree_t **self_p)
{
    tree_t *self = *self_p;
    if (self) {
        action_t *action;
        while ((action = (action_t *) zlistx_first (self->todo))) {
            zlistx_detach_cur (self->todo);
            s_action_destroy (&action);
        }
        zlistx_destroy (&self->todo);
        member_t *member;
        while ((member = (member_t *) zlistx_last (self->members))) {
            zlistx_detach_cur (self->members);
            s_member_destroy (&member);
        }
        zlistx_destroy (&self->members);
        intensity_destroy (&self->restarts);
        free (self);
        *self_p = NULL;
    }
}

//  -------------------------------------------------------------------------
//  Loading

static void s_on_child_exit (child_t *child, int status, bool requested, void *arg);

static member_t *
s_add_member (tree_t *self, child_t *child, tree_t *sub, otp_restart_t restart)
{
    member_t *member = (member_t *) zmalloc (sizeof (member_t));
    member->tree = self;
    member->child = child;
    member->sub = sub;
    member->restart = restart;
    if (child)
        child_set_handler (child, s_on_child_exit, member);
    else
        sub->as_member = member;
    zlistx_add_end (self->members, member);
    return member;
}

//  Finds a member by id in this supervisor and below.
static member_t *
s_find (tree_t *self, const char *id)
{
    for (member_t *member = (member_t *) zlistx_first (self->members); member;
         member = (member_t *) zlistx_next (self->members)) {
        if (streq (s_member_id (member), id))
            return member;
    }
    //  A second walk: the first must not be disturbed by the recursion.
    zlistx_t *subs = zlistx_new ();
    for (member_t *member = (member_t *) zlistx_first (self->members); member;
         member = (member_t *) zlistx_next (self->members))
        if (member->sub)
            zlistx_add_end (subs, member->sub);
    member_t *found = NULL;
    for (tree_t *sub = (tree_t *) zlistx_first (subs); sub && !found;
         sub = (tree_t *) zlistx_next (subs))
        found = s_find (sub, id);
    zlistx_destroy (&subs);
    return found;
}

static tree_t *
s_root (tree_t *self)
{
    while (self->parent)
        self = self->parent;
    return self;
}

static int
s_set_option (tree_t *self, const char *key, const char *value, char *error, size_t error_size)
{
    long number;
    if (streq (key, "strategy")) {
        for (int i = 0; s_strategies [i]; i++)
            if (streq (value, s_strategies [i])) {
                self->strategy = (strategy_t) i;
                return 0;
            }
        snprintf (error, error_size, "strategy must be one_for_one, one_for_all or rest_for_one");
        return -1;
    }
    if (streq (key, "intensity")) {
        if (otp_parse_int (value, 0, 1000000, &number)) {
            snprintf (error, error_size, "intensity must be a number of restarts, 0..1000000");
            return -1;
        }
        intensity_set (self->restarts, (int) number, intensity_period_ms (self->restarts));
        return 0;
    }
    if (streq (key, "period")) {
        if (otp_parse_int (value, 1, 86400, &number)) {
            snprintf (error, error_size, "period must be a number of seconds, 1..86400");
            return -1;
        }
        intensity_set (self->restarts, intensity_max (self->restarts), (int) number * 1000);
        return 0;
    }
    snprintf (error, error_size, "unknown key '%s'", key);
    return -1;
}

static int s_load (tree_t *self, zconfig_t *section, char *error, size_t error_size);

//  A `child` section: a process, or (type = supervisor, no command, its
//  own children) a supervisor in this process.
static int
s_load_child (tree_t *self, zconfig_t *section, char *error, size_t error_size)
{
    const char *id = zconfig_value (section);
    char reason [512];
    bool nested = zconfig_locate (section, "child") != NULL && !zconfig_locate (section, "command");
    if (nested) {
        const char *type = zconfig_get (section, "type", "supervisor");
        if (!streq (type, "supervisor")) {
            snprintf (error, error_size, "child %s: a child with children must have type = supervisor", id);
            return -1;
        }
        otp_childspec_t *probe = otp_childspec_new ();
        int rc = otp_childspec_set (probe, "id", id, reason, sizeof reason);
        otp_childspec_destroy (&probe);
        if (rc) {
            snprintf (error, error_size, "child %s: %s", id, reason);
            return -1;
        }
        if (s_find (s_root (self), id)) {
            snprintf (error, error_size, "child %s: the id is used twice", id);
            return -1;
        }
        tree_t *sub = s_tree_new (self->app, self, id);
        member_t *member = s_add_member (self, NULL, sub, OTP_RESTART_PERMANENT);
        const char *restart = zconfig_get (section, "restart", "permanent");
        otp_childspec_t *spec = otp_childspec_new ();
        rc = otp_childspec_set (spec, "restart", restart, reason, sizeof reason);
        member->restart = spec->restart;
        otp_childspec_destroy (&spec);
        if (rc) {
            snprintf (error, error_size, "child %s: %s", sub->path, reason);
            return -1;
        }
        return s_load (sub, section, error, error_size);
    }
    otp_childspec_t *spec = otp_childspec_from_config (section, reason, sizeof reason);
    if (!spec) {
        snprintf (error, error_size, "child %s: %s", id? id: "(no id)", reason);
        return -1;
    }
    if (s_find (s_root (self), spec->id)) {
        snprintf (error, error_size, "child %s: the id is used twice", spec->id);
        otp_childspec_destroy (&spec);
        return -1;
    }
    otp_restart_t restart = spec->restart;
    child_t *child = child_new (self->app, &spec, self->path);
    s_add_member (self, child, NULL, restart);
    return 0;
}

//  A supervisor's section: its options and its children, in order.
static int
s_load (tree_t *self, zconfig_t *section, char *error, size_t error_size)
{
    char reason [512];
    for (zconfig_t *item = zconfig_child (section); item; item = zconfig_next (item)) {
        const char *key = zconfig_name (item);
        if (streq (key, "child")) {
            if (s_load_child (self, item, error, error_size))
                return -1;
        }
        else
        if (self->parent && (streq (key, "type") || streq (key, "restart")))
            continue;       //  read by the parent
        else
        if (s_set_option (self, key, zconfig_value (item)? zconfig_value (item): "", reason, sizeof reason)) {
            snprintf (error, error_size, "supervisor %s: %s", self->path, reason);
            return -1;
        }
    }
    return 0;
}

tree_t *
tree_load (app_t *app, const char *path, char *error, size_t error_size)
{
    tree_t *self = s_tree_new (app, NULL, "root");
    if (path) {
        FILE *file = fopen (path, "r");
        if (!file) {
            snprintf (error, error_size, "%s: %s", path, strerror (errno));
            tree_destroy (&self);
            return NULL;
        }
        fclose (file);
        zconfig_t *config = zconfig_load (path);
        if (!config) {
            snprintf (error, error_size, "%s: not a valid config file (ZPL)", path);
            tree_destroy (&self);
            return NULL;
        }
        char reason [1024];
        int rc = s_load (self, config, reason, sizeof reason);
        zconfig_destroy (&config);
        if (rc) {
            snprintf (error, error_size, "%s: %s", path, reason);
            tree_destroy (&self);
            return NULL;
        }
    }
    return self;
}

//  -------------------------------------------------------------------------
//  Running

static action_t *
s_enqueue (tree_t *self, act_op_t op, member_t *member)
{
    //  A start already waiting for the member is enough.
    if (op == ACT_START)
        for (action_t *action = (action_t *) zlistx_first (self->todo); action;
             action = (action_t *) zlistx_next (self->todo))
            if (action->op == ACT_START && action->member == member)
                return action;
    action_t *action = (action_t *) zmalloc (sizeof (action_t));
    action->op = op;
    action->member = member;
    zlistx_add_end (self->todo, action);
    return action;
}

//  Drops queued actions: those on `member` (NULL: any) of kind `op` (-1:
//  any), only those not yet begun if `unbegun`. The rest keep their order.
static void
s_todo_drop (tree_t *self, member_t *member, int op, bool unbegun)
{
    zlistx_t *kept = zlistx_new ();
    action_t *action;
    while ((action = (action_t *) zlistx_first (self->todo))) {
        zlistx_detach_cur (self->todo);
        if ((!member || action->member == member) && (op < 0 || (int) action->op == op)
        &&  !(unbegun && action->begun))
            s_action_destroy (&action);
        else
            zlistx_add_end (kept, action);
    }
    zlistx_destroy (&self->todo);
    self->todo = kept;
}

static void
s_reply (tree_t *self, otp_message_t **call_p)
{
    if (*call_p)
        requests_reply (self->app, call_p, NULL);
}

//  Starts a member now. A process that cannot start is a crash (the
//  reason is logged); a supervisor starts its members through its queue.
static void
s_start_member (tree_t *self, member_t *member)
{
    if (member->child) {
        char error [1024];
        bool busy;
        if (child_start (member->child, &busy, error, sizeof error)) {
            otp_warn ("%s", error);
            child_fail_later (member->child);
        }
    }
    else {
        tree_t *sub = member->sub;
        sub->running = true;
        sub->failing = sub->stopping = false;
        intensity_reset (sub->restarts);    //  a new supervisor, a new history
        for (member_t *each = (member_t *) zlistx_first (sub->members); each;
             each = (member_t *) zlistx_next (sub->members))
            if (!each->held)
                s_enqueue (sub, ACT_START, each);
        s_run (sub);
    }
}

//  Every running member stopped, last started first.
static void
s_stop_all (tree_t *self)
{
    for (member_t *member = (member_t *) zlistx_last (self->members); member;
         member = (member_t *) zlistx_prev (self->members))
        if (s_member_running (member))
            s_enqueue (self, ACT_STOP, member);
}

static void
s_begin_stop (tree_t *self, member_t *member)
{
    if (member->child)
        child_stop (member->child);
    else {
        tree_t *sub = member->sub;
        sub->stopping = true;
        //  What it was about to start no longer matters.
        s_todo_drop (sub, NULL, ACT_START, true);
        s_stop_all (sub);
        s_run (sub);
    }
}

static void
s_remove (tree_t *self, member_t *member)
{
    //  Actions on it go with it; a stop-child waiting on one is answered:
    //  what is gone is stopped.
    for (action_t *action = (action_t *) zlistx_first (self->todo); action;
         action = (action_t *) zlistx_next (self->todo))
        if (action->member == member)
            s_reply (self, &action->call);
    s_todo_drop (self, member, -1, false);
    void *handle = zlistx_find (self->members, member);
    if (handle)
        zlistx_detach (self->members, handle);
    if (member->child)
        child_release (member->child);
    s_member_destroy (&member);
}

static void
s_escalate (tree_t *self)
{
    self->failing = false;
    self->running = false;
    if (self->parent)
        s_member_down (self->parent, self->as_member, 1, false);
    else {
        otp_warn ("supervisor %s gave up: more than %d restarts in %d s", self->path,
                  intensity_max (self->restarts), intensity_period_ms (self->restarts) / 1000);
        app_shutdown (self->app, 1);
    }
}

//  Runs the queue until it must wait for a process to exit.
static void
s_run (tree_t *self)
{
    action_t *action;
    while ((action = (action_t *) zlistx_first (self->todo))) {
        member_t *member = action->member;
        if (action->op == ACT_STOP && s_member_running (member)) {
            if (!action->begun) {
                action->begun = true;
                s_begin_stop (self, member);
                continue;       //  it may have stopped at once (an empty supervisor)
            }
            return;
        }
        zlistx_detach_cur (self->todo);
        if (action->op == ACT_START && !s_member_running (member) && !self->stopping && !self->failing)
            s_start_member (self, member);
        s_reply (self, &action->call);
        if (action->op == ACT_REMOVE)
            s_remove (self, member);
        s_action_destroy (&action);
    }
    if (self->failing)
        s_escalate (self);
    else
    if (self->stopping) {
        self->stopping = false;
        self->running = false;
        if (self->parent)
            s_member_down (self->parent, self->as_member, 0, true);
        else
            app_check_done (self->app);
    }
}

static void
s_member_down (tree_t *self, member_t *member, int status, bool requested)
{
    //  Stopped for good (stop-child): its name goes too, so that calls to
    //  it fail at once instead of waiting for a process that will not come.
    if (member->child && member->held)
        child_release (member->child);
    //  A stop we asked for, or a member that was to be stopped anyway.
    for (action_t *action = (action_t *) zlistx_first (self->todo); action;
         action = (action_t *) zlistx_next (self->todo))
        if (action->op == ACT_STOP && action->member == member) {
            s_run (self);
            return;
        }
    if (requested || self->stopping || self->failing || !self->running) {
        s_run (self);
        return;
    }
    if (member->restart == OTP_RESTART_TEMPORARY) {
        s_enqueue (self, ACT_REMOVE, member);
        s_run (self);
        return;
    }
    if (member->restart == OTP_RESTART_TRANSIENT && status == 0) {
        member->held = true;
        if (member->child)
            child_release (member->child);
        return;
    }
    if (intensity_restart (self->restarts)) {
        self->failing = true;
        s_stop_all (self);
        s_run (self);
        return;
    }
    self->app->stats.restarts++;
    if (member->child)
        child_count_restart (member->child);
    otp_info ("supervisor %s: restarting %s (%s)", self->path, s_member_id (member),
              s_strategies [self->strategy]);
    if (self->strategy == ONE_FOR_ONE)
        s_enqueue (self, ACT_START, member);
    else {
        //  The siblings that restart with it: all of them, or those
        //  started after it. Stopped last first, started in order.
        bool after = false;
        zlistx_t *affected = zlistx_new ();
        for (member_t *each = (member_t *) zlistx_first (self->members); each;
             each = (member_t *) zlistx_next (self->members)) {
            if (each == member)
                after = true;
            if (self->strategy == ONE_FOR_ALL || after)
                zlistx_add_end (affected, each);
        }
        for (member_t *each = (member_t *) zlistx_last (affected); each;
             each = (member_t *) zlistx_prev (affected))
            if (each != member && s_member_running (each)) {
                s_enqueue (self, ACT_STOP, each);
                //  Temporary members are never restarted, even here.
                if (each->restart == OTP_RESTART_TEMPORARY)
                    s_enqueue (self, ACT_REMOVE, each);
            }
        for (member_t *each = (member_t *) zlistx_first (affected); each;
             each = (member_t *) zlistx_next (affected))
            if (!each->held && each->restart != OTP_RESTART_TEMPORARY)
                s_enqueue (self, ACT_START, each);
        zlistx_destroy (&affected);
    }
    s_run (self);
}

static void
s_on_child_exit (child_t *child, int status, bool requested, void *arg)
{
    member_t *member = (member_t *) arg;
    s_member_down (member->tree, member, status, requested);
}

int
tree_start (tree_t *self, char *error, size_t error_size)
{
    //  At boot, a child that cannot start stops the boot (OTP's
    //  supervisor fails its init): the reason is the error.
    self->running = true;
    zlistx_t *subs = zlistx_new ();
    for (member_t *member = (member_t *) zlistx_first (self->members); member;
         member = (member_t *) zlistx_next (self->members)) {
        if (member->child) {
            bool busy;
            if (child_start (member->child, &busy, error, error_size)) {
                zlistx_destroy (&subs);
                return -1;
            }
        }
        else
            zlistx_add_end (subs, member);
        //  A nested supervisor starts its members now, in order.
        while (zlistx_size (subs)) {
            member_t *each = (member_t *) zlistx_first (subs);
            zlistx_detach_cur (subs);
            if (tree_start (each->sub, error, error_size)) {
                zlistx_destroy (&subs);
                return -1;
            }
        }
    }
    zlistx_destroy (&subs);
    return 0;
}

void
tree_stop (tree_t *self)
{
    //  What was about to start gives way to the stop; stops and removals
    //  stay (a stop-child waiting on one is answered once it is done).
    s_todo_drop (self, NULL, ACT_START, true);
    self->failing = false;
    self->stopping = true;
    s_stop_all (self);
    s_run (self);
}

bool
tree_stopped (tree_t *self)
{
    for (member_t *member = (member_t *) zlistx_first (self->members); member;
         member = (member_t *) zlistx_next (self->members))
        if (s_member_running (member))
            return false;
    return true;
}

bool
tree_has (tree_t *self, const char *id)
{
    return s_find (self, id) != NULL;
}

int
tree_start_child (tree_t *self, otp_childspec_t **spec_p, char *error, size_t error_size)
{
    otp_childspec_t *spec = *spec_p;
    if (s_find (self, spec->id)) {
        snprintf (error, error_size, "child %s is already present", spec->id);
        otp_childspec_destroy (spec_p);
        return -1;
    }
    otp_restart_t restart = spec->restart;
    child_t *child = child_new (self->app, spec_p, self->path);
    member_t *member = s_add_member (self, child, NULL, restart);
    bool busy;
    if (child_start (child, &busy, error, error_size)) {
        zlistx_detach (self->members, zlistx_find (self->members, member));
        child_release (child);
        s_member_destroy (&member);
        return -1;
    }
    return 0;
}

int
tree_stop_child (tree_t *self, const char *id, otp_message_t **call, char *error, size_t error_size)
{
    member_t *member = s_find (self, id);
    if (!member) {
        snprintf (error, error_size, "no child %s", id);
        return -1;
    }
    member->held = true;
    action_t *action = s_enqueue (member->tree, ACT_STOP, member);
    action->call = *call;
    *call = NULL;
    //  OTP's terminate_child: a temporary child's spec goes with it.
    if (member->restart == OTP_RESTART_TEMPORARY)
        s_enqueue (member->tree, ACT_REMOVE, member);
    s_run (member->tree);
    return 0;
}

int
tree_restart_child (tree_t *self, const char *id, char *error, size_t error_size)
{
    member_t *member = s_find (self, id);
    if (!member) {
        snprintf (error, error_size, "no child %s", id);
        return -1;
    }
    if (s_member_running (member)) {
        snprintf (error, error_size, "child %s is running", id);
        return -1;
    }
    //  A supervisor that is not running has no children to restart (they
    //  would run unsupervised).
    tree_t *tree = member->tree;
    if (!tree->running || tree->stopping || tree->failing) {
        snprintf (error, error_size, "supervisor %s is not running", tree->path);
        return -1;
    }
    member->held = false;
    if (member->child) {
        bool busy;
        return child_start (member->child, &busy, error, error_size);
    }
    s_start_member (member->tree, member);
    return 0;
}

int
tree_delete_child (tree_t *self, const char *id, char *error, size_t error_size)
{
    member_t *member = s_find (self, id);
    if (!member) {
        snprintf (error, error_size, "no child %s", id);
        return -1;
    }
    if (s_member_running (member)) {
        snprintf (error, error_size, "child %s is running; stop it first", id);
        return -1;
    }
    s_remove (member->tree, member);
    return 0;
}

void
tree_count (tree_t *self, uint64_t *children, uint64_t *running)
{
    for (member_t *member = (member_t *) zlistx_first (self->members); member;
         member = (member_t *) zlistx_next (self->members))
        if (member->child) {
            (*children)++;
            if (streq (child_status (member->child), "running"))
                (*running)++;
        }
        else
            tree_count (member->sub, children, running);
}

void
tree_rows (tree_t *self, zlistx_t *rows)
{
    const char *node = self->app->config->node? self->app->config->node: "";
    for (member_t *member = (member_t *) zlistx_first (self->members); member;
         member = (member_t *) zlistx_next (self->members)) {
        if (member->child) {
            child_t *child = member->child;
            const otp_childspec_t *spec = child_spec (child);
            zlistx_add_end (rows, requests_row (spec->id, self->path, node, child_pid (child),
                child_status (child), child_restarts (child), spec->name? spec->name: "",
                otp_restart_name (spec->restart), otp_child_type_name (spec->type)));
        }
        else {
            zlistx_add_end (rows, requests_row (member->sub->id, self->path, node, 0,
                member->sub->running? "running": "stopped", 0, "",
                otp_restart_name (member->restart), "supervisor"));
        }
    }
    zlistx_t *subs = zlistx_new ();
    for (member_t *member = (member_t *) zlistx_first (self->members); member;
         member = (member_t *) zlistx_next (self->members))
        if (member->sub)
            zlistx_add_end (subs, member->sub);
    for (tree_t *sub = (tree_t *) zlistx_first (subs); sub; sub = (tree_t *) zlistx_next (subs))
        tree_rows (sub, rows);
    zlistx_destroy (&subs);
}
