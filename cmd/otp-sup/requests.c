/*  Requests to otp-sup (otp-ctl start-child, which-children, ...): calls
    whose payload is a request of lib/otp_supervisor.h. A child id names a
    child of the local tree if there is one, else of the cluster.           */
#include "sup.h"

static void
s_send_reply (app_t *app, otp_message_t **call_p, zmsg_t **reply_p)
{
    zframe_t *payload = zmsg_encode (*reply_p);
    if (otp_client_reply (app->client, *call_p, zframe_data (payload), zframe_size (payload)))
        otp_debug ("cannot answer %s", (*call_p)->from);
    zframe_destroy (&payload);
    zmsg_destroy (reply_p);
    otp_message_destroy (call_p);
}

void
requests_reply (app_t *app, otp_message_t **call_p, zmsg_t **values)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "ok");
    if (values && *values) {
        zframe_t *frame;
        while ((frame = zmsg_pop (*values)))
            zmsg_append (reply, &frame);
        zmsg_destroy (values);
    }
    s_send_reply (app, call_p, &reply);
}

void
requests_error (app_t *app, otp_message_t **call_p, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    char *reason = zsys_vprintf (fmt, args);
    va_end (args);
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "error");
    zmsg_addstr (reply, reason);
    zstr_free (&reason);
    s_send_reply (app, call_p, &reply);
}

void
requests_placed (app_t *app, otp_message_t **call_p, const char *node, long pid)
{
    zmsg_t *values = zmsg_new ();
    zmsg_addstr (values, node);
    zmsg_addstrf (values, "%ld", pid);
    requests_reply (app, call_p, &values);
}

void
requests_moved (app_t *app, otp_message_t **call_p, const char *node)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "moved");
    zmsg_addstr (reply, node);
    s_send_reply (app, call_p, &reply);
}

zmsg_t *
requests_row (const char *id, const char *supervisor, const char *node, long pid,
              const char *status, int restarts, const char *name,
              const char *restart, const char *type)
{
    zmsg_t *row = zmsg_new ();
    zmsg_addstr (row, id);
    zmsg_addstr (row, supervisor);
    zmsg_addstr (row, node);
    zmsg_addstrf (row, "%ld", pid);
    zmsg_addstr (row, status);
    zmsg_addstrf (row, "%d", restarts);
    zmsg_addstr (row, name);
    zmsg_addstr (row, restart);
    zmsg_addstr (row, type);
    return row;
}

//  Two frames as strings, compared as strcmp would.
static int
s_frame_compare (zframe_t *a, zframe_t *b)
{
    size_t sa = zframe_size (a), sb = zframe_size (b);
    int rc = memcmp (zframe_data (a), zframe_data (b), sa < sb? sa: sb);
    return rc? rc: (sa > sb) - (sa < sb);
}

static int
s_row_compare (const void *a, const void *b)
{
    zmsg_t *ra = *(zmsg_t **) a, *rb = *(zmsg_t **) b;
    //  By id; the same id in the cluster and a local tree: both shown, by
    //  supervisor.
    int rc = s_frame_compare (zmsg_first (ra), zmsg_first (rb));
    return rc? rc: s_frame_compare (zmsg_next (ra), zmsg_next (rb));
}

//  Every row, sorted by id; the caller destroys the list.
static zlistx_t *
s_rows (app_t *app)
{
    zlistx_t *rows = zlistx_new ();
    zlistx_set_destructor (rows, (zlistx_destructor_fn *) zmsg_destroy);
    if (app->cluster)
        cluster_rows (app->cluster, rows);
    if (app->tree)
        tree_rows (app->tree, rows);
    size_t count = zlistx_size (rows);
    zmsg_t **array = (zmsg_t **) calloc (count? count: 1, sizeof (zmsg_t *));
    size_t i = 0;
    zmsg_t *row;
    while ((row = (zmsg_t *) zlistx_first (rows))) {
        zlistx_detach_cur (rows);
        array [i++] = row;
    }
    qsort (array, count, sizeof (zmsg_t *), s_row_compare);
    for (i = 0; i < count; i++)
        zlistx_add_end (rows, array [i]);
    free (array);
    return rows;
}

static void
s_which (app_t *app, const char *after, otp_message_t **call_p)
{
    zlistx_t *rows = s_rows (app);
    zmsg_t *values = zmsg_new ();
    int taken = 0;
    for (zmsg_t *row = (zmsg_t *) zlistx_first (rows); row && taken < OTP_SUP_PAGE;
         row = (zmsg_t *) zlistx_next (rows)) {
        char *id = zframe_strdup (zmsg_first (row));
        bool wanted = strcmp (id, after) > 0;
        free (id);
        if (!wanted)
            continue;
        for (zframe_t *frame = zmsg_first (row); frame; frame = zmsg_next (row))
            zmsg_addmem (values, zframe_data (frame), zframe_size (frame));
        taken++;
    }
    zlistx_destroy (&rows);
    requests_reply (app, call_p, &values);
}

static void
s_count (app_t *app, otp_message_t **call_p)
{
    zlistx_t *rows = s_rows (app);
    int specs = 0, active = 0, supervisors = 0, workers = 0;
    for (zmsg_t *row = (zmsg_t *) zlistx_first (rows); row; row = (zmsg_t *) zlistx_next (rows)) {
        char status [16], type [16];
        otp_msg_str (row, 3, status, sizeof status);    //  index 4: after the id
        otp_msg_str (row, 7, type, sizeof type);
        specs++;
        if (streq (status, "running"))
            active++;
        if (streq (type, "supervisor"))
            supervisors++;
        else
            workers++;
    }
    zlistx_destroy (&rows);
    zmsg_t *values = zmsg_new ();
    zmsg_addstrf (values, "%d", specs);
    zmsg_addstrf (values, "%d", active);
    zmsg_addstrf (values, "%d", supervisors);
    zmsg_addstrf (values, "%d", workers);
    requests_reply (app, call_p, &values);
}

static void
s_info (app_t *app, otp_message_t **call_p)
{
    zmsg_t *values = zmsg_new ();
    zmsg_addstr (values, "node");
    zmsg_addstr (values, app->config->node? app->config->node: "");
    zmsg_addstr (values, "draining");
    zmsg_addstr (values, app->draining? "yes": "no");
#define STAT(field) \
    zmsg_addstr (values, #field); \
    zmsg_addstrf (values, "%" PRIu64, app->stats.field);
    STAT (starts) STAT (restarts) STAT (exits) STAT (exec_failures)
    STAT (messages_in) STAT (replies) STAT (dropped)
    STAT (replies_unmatched) STAT (calls_expired)
#undef STAT
    if (app->cluster)
        cluster_info (app->cluster, values);
    requests_reply (app, call_p, &values);
}

//  "ok", node, pid of a child of the local tree.
static void
s_reply_placed (app_t *app, const char *id, otp_message_t **call_p)
{
    zlistx_t *rows = zlistx_new ();
    zlistx_set_destructor (rows, (zlistx_destructor_fn *) zmsg_destroy);
    tree_rows (app->tree, rows);
    long pid = 0;
    for (zmsg_t *row = (zmsg_t *) zlistx_first (rows); row; row = (zmsg_t *) zlistx_next (rows))
        if (zframe_streq (zmsg_first (row), id)) {
            otp_msg_int (row, 2, 0, LONG_MAX, &pid);
            break;
        }
    zlistx_destroy (&rows);
    requests_placed (app, call_p, app->config->node? app->config->node: "", pid);
}

static void
s_start (app_t *app, zmsg_t *request, otp_message_t **call_p)
{
    //  A leading `supervisor` pair says where: "cluster" (the default
    //  when there is one) or "local" (the root of the local tree).
    bool local = !app->cluster;
    char key [32], value [32];
    if (zmsg_size (request) >= 2 && otp_msg_str (request, -1, key, sizeof key) == 0
    &&  streq (key, "supervisor")) {
        zframe_t *frame = zmsg_pop (request);
        zframe_destroy (&frame);
        frame = zmsg_pop (request);
        size_t size = zframe_size (frame);
        snprintf (value, sizeof value, "%.*s", (int) (size < sizeof value? size: sizeof value - 1),
                  (char *) zframe_data (frame));
        zframe_destroy (&frame);
        if (streq (value, "local"))
            local = true;
        else
        if (!streq (value, "cluster") || !app->cluster) {
            requests_error (app, call_p, "supervisor must be local%s", app->cluster? " or cluster": "");
            return;
        }
    }
    char error [1024];
    otp_childspec_t *spec = otp_childspec_decode (request, error, sizeof error);
    if (!spec) {
        requests_error (app, call_p, "%s", error);
        return;
    }
    if (app->stopping) {
        otp_childspec_destroy (&spec);
        requests_error (app, call_p, "otp-sup is stopping");
        return;
    }
    if (!local) {
        cluster_start_child (app->cluster, &spec, call_p);
        return;
    }
    if (!app->tree) {
        otp_childspec_destroy (&spec);
        requests_error (app, call_p, "this otp-sup has no local tree");
        return;
    }
    if (app->cluster && cluster_has (app->cluster, spec->id)) {
        requests_error (app, call_p, "child %s is already present (in the cluster)", spec->id);
        otp_childspec_destroy (&spec);
        return;
    }
    char id [OTP_CHILD_ID_MAX + 1];
    snprintf (id, sizeof id, "%s", spec->id);
    if (tree_start_child (app->tree, &spec, error, sizeof error)) {
        requests_error (app, call_p, "%s", error);
        return;
    }
    s_reply_placed (app, id, call_p);
}

void
requests_on_call (app_t *app, otp_message_t **call_p)
{
    zmsg_t *request = otp_payload_decode ((*call_p)->payload);
    char error [256];
    int index = request? otp_msg_check (request, otp_sup_requests, error, sizeof error): -1;
    if (index < 0) {
        requests_error (app, call_p, "%s", request? error: "not a request");
        zmsg_destroy (&request);
        return;
    }
    char id [OTP_CHILD_ID_MAX + 1] = "";
    if (index == SUP_STOP || index == SUP_RESTART || index == SUP_DELETE || index == SUP_WHICH)
        if (otp_msg_str (request, 0, id, sizeof id)) {
            requests_error (app, call_p, "not a child id");
            zmsg_destroy (&request);
            return;
        }
    bool in_tree = app->tree && *id && tree_has (app->tree, id);
    if (index == SUP_START) {
        zframe_t *command = zmsg_pop (request);
        zframe_destroy (&command);
        s_start (app, request, call_p);
    }
    else
    if (index == SUP_WHICH)
        s_which (app, id, call_p);
    else
    if (index == SUP_COUNT)
        s_count (app, call_p);
    else
    if (index == SUP_INFO)
        s_info (app, call_p);
    else
    if (index == SUP_STATE) {
        char which [OTP_REG_NAME_MAX + 1];
        if (otp_msg_str (request, 0, which, sizeof which))
            requests_error (app, call_p, "not a child id or name");
        else
        if (!app->cluster)
            requests_error (app, call_p, "no cluster supervisor here: only cluster children "
                            "have checkpoints");
        else
            cluster_state_request (app->cluster, which, call_p);
    }
    else
    if (!in_tree && !app->cluster)
        requests_error (app, call_p, "no child %s", id);
    else
    if (index == SUP_STOP) {
        if (!in_tree)
            cluster_stop_child (app->cluster, id, call_p);
        else
        if (tree_stop_child (app->tree, id, call_p, error, sizeof error))
            requests_error (app, call_p, "%s", error);
    }
    else
    if (index == SUP_RESTART) {
        if (!in_tree)
            cluster_restart_child (app->cluster, id, call_p);
        else
        if (tree_restart_child (app->tree, id, error, sizeof error))
            requests_error (app, call_p, "%s", error);
        else
            s_reply_placed (app, id, call_p);
    }
    else
    if (index == SUP_DELETE) {
        if (!in_tree)
            cluster_delete_child (app->cluster, id, call_p);
        else
        if (tree_delete_child (app->tree, id, error, sizeof error))
            requests_error (app, call_p, "%s", error);
        else
            requests_reply (app, call_p, NULL);
    }
    zmsg_destroy (&request);
}
