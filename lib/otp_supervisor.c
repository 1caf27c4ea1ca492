#include "otp_supervisor.h"
#include "otp_opt.h"
#include "otp_registry.h"
#include <assert.h>

const otp_cmd_t otp_sup_requests [SUP_REQUEST_COUNT + 1] = {
    //  start's pairs are checked by otp_childspec_decode, evenness too.
    [SUP_START]   = { "start",   0, OTP_SUP_START_ARGS_MAX, -1 },
    [SUP_STOP]    = { "stop",    1, 1, -1 },
    [SUP_RESTART] = { "restart", 1, 1, -1 },
    [SUP_DELETE]  = { "delete",  1, 1, -1 },
    [SUP_WHICH]   = { "which",   1, 1, -1 },
    [SUP_COUNT]   = { "count",   0, 0, -1 },
    [SUP_INFO]    = { "info",    0, 0, -1 },
    [SUP_STATE]   = { "state",   1, 1, -1 },
    [SUP_REQUEST_COUNT] = { NULL, 0, 0, -1 }
};

const otp_cmd_t otp_sup_ops [SUP_OP_COUNT + 1] = {
    [SUP_OP_HELLO]   = { "HELLO",   1, 1, -1 },
    [SUP_OP_TABLE]   = { "TABLE",   1, 1, -1 },
    //  The spec, an encoded frame list, may be larger than OTP_ARG_MAX.
    [SUP_OP_ENTRY]   = { "ENTRY",   7, 7, 6 },
    [SUP_OP_RUN]     = { "RUN",     5, 5, -1 },
    [SUP_OP_LEAVING] = { "LEAVING", 0, 0, -1 },
    [SUP_OP_BEAT]    = { "BEAT",    0, 0, -1 },
    //  One node name per member: a large cluster's list is long.
    [SUP_OP_SEES]    = { "SEES",    1, 1, 0 },
    [SUP_OP_STATE]   = { "STATE",   9, 9, 8 },
    [SUP_OP_STACK]   = { "STACK",   4, 4, -1 },
    [SUP_OP_STATEQ]  = { "STATEQ",  2, 2, -1 },
    [SUP_OP_STATER]  = { "STATER",  5, 5, -1 },
    [SUP_OP_COUNT]   = { NULL, 0, 0, -1 }
};

//  "start" and the spec's pairs; with `node`, placed there.
static zmsg_t *
s_start_request (const otp_childspec_t *spec, const char *node)
{
    otp_childspec_t *placed = NULL;
    if (node) {
        char error [256];
        placed = otp_childspec_dup (spec);
        int rc = otp_childspec_set (placed, "node", node, error, sizeof error);
        assert (rc == 0);       //  the caller has checked the name
    }
    zmsg_t *request = otp_childspec_encode (placed? placed: spec);
    zmsg_pushstr (request, "start");
    otp_childspec_destroy (&placed);
    return request;
}

static zmsg_t *
s_new (const char *command, const char *arg)
{
    zmsg_t *request = zmsg_new ();
    zmsg_addstr (request, command);
    if (arg)
        zmsg_addstr (request, arg);
    return request;
}

static void
s_malformed (char *error, size_t error_size)
{
    snprintf (error, error_size, "%s sent a malformed reply", OTP_SUP_PROCESS);
}

//  One request to the otp-sup on our node, or, if it answers "moved", once
//  more to the one on the node it names. `spec` makes it a start, which is
//  then placed on that node; else it is `command` and `arg`. Returns the
//  values of "ok", with the node that answered in `answered` (may be NULL).
static zmsg_t *
s_call (otp_client_t *client, const char *command, const char *arg,
        const otp_childspec_t *spec, char *answered, char *error, size_t error_size)
{
    char node [OTP_NODE_MAX + 1];
    snprintf (node, sizeof node, "%s", otp_client_node (client));
    for (int attempt = 0; attempt < 2; attempt++) {
        zmsg_t *request = spec? s_start_request (spec, attempt? node: NULL): s_new (command, arg);
        bool moved;
        zmsg_t *reply = otp_payload_call (client, OTP_SUP_PROCESS, node, &request, "moved",
                                          &moved, error, error_size);
        if (reply && !moved) {
            if (answered)
                snprintf (answered, OTP_NODE_MAX + 1, "%s", node);
            return reply;
        }
        char to [OTP_NODE_MAX + 1], name [OTP_NAME_MAX + 1], host [OTP_HOST_MAX + 1];
        bool valid = reply && zmsg_size (reply) == 1
                  && otp_msg_str (reply, -1, to, sizeof to) == 0
                  && otp_node_split (to, name, sizeof name, host, sizeof host) == 0;
        zmsg_destroy (&reply);
        if (!valid) {
            if (moved)
                s_malformed (error, error_size);
            return NULL;
        }
        if (attempt == 1)
            break;
        snprintf (node, sizeof node, "%s", to);
    }
    //  The members' view of the cluster changed under us: a caller that
    //  asks again will find it settled, or a real error.
    snprintf (error, error_size, "child placement moved twice; try again");
    return NULL;
}

//  "ok", node, pid: where the child now runs.
static int
s_placed (zmsg_t *reply, char *node, long *pid, char *error, size_t error_size)
{
    char where [OTP_NODE_MAX + 1], name [OTP_NAME_MAX + 1], host [OTP_HOST_MAX + 1];
    long value;
    if (zmsg_size (reply) != 2
    ||  otp_msg_str (reply, -1, where, sizeof where)
    ||  otp_node_split (where, name, sizeof name, host, sizeof host)
    ||  otp_msg_int (reply, 0, 0, INT32_MAX, &value)) {
        s_malformed (error, error_size);
        return -1;
    }
    if (node)
        snprintf (node, OTP_NODE_MAX + 1, "%s", where);
    if (pid)
        *pid = value;
    return 0;
}

int
otp_sup_start_local_child (otp_client_t *client, const otp_childspec_t *spec,
                           char *node, long *pid, char *error, size_t error_size)
{
    if (otp_childspec_check (spec, error, error_size))
        return -1;
    //  A leading `supervisor local` pair: the root of the local tree, here.
    zmsg_t *request = s_start_request (spec, NULL);
    zframe_t *command = zmsg_pop (request);
    zmsg_pushstr (request, "local");
    zmsg_pushstr (request, "supervisor");
    zmsg_prepend (request, &command);
    bool moved;
    zmsg_t *reply = otp_payload_call (client, OTP_SUP_PROCESS, otp_client_node (client), &request,
                                      "moved", &moved, error, error_size);
    int rc = reply && !moved? s_placed (reply, node, pid, error, error_size): -1;
    if (reply && moved)
        s_malformed (error, error_size);
    zmsg_destroy (&reply);
    return rc;
}

int
otp_sup_start_child (otp_client_t *client, const otp_childspec_t *spec,
                     char *node, long *pid, char *error, size_t error_size)
{
    if (otp_childspec_check (spec, error, error_size))
        return -1;
    zmsg_t *reply = s_call (client, NULL, NULL, spec, NULL, error, error_size);
    int rc = reply? s_placed (reply, node, pid, error, error_size): -1;
    zmsg_destroy (&reply);
    return rc;
}

int
otp_sup_stop_child (otp_client_t *client, const char *id, char *error, size_t error_size)
{
    zmsg_t *reply = s_call (client, "stop", id, NULL, NULL, error, error_size);
    int rc = reply? 0: -1;
    zmsg_destroy (&reply);
    return rc;
}

int
otp_sup_restart_child (otp_client_t *client, const char *id, char *node, long *pid,
                       char *error, size_t error_size)
{
    zmsg_t *reply = s_call (client, "restart", id, NULL, NULL, error, error_size);
    int rc = reply? s_placed (reply, node, pid, error, error_size): -1;
    zmsg_destroy (&reply);
    return rc;
}

int
otp_sup_delete_child (otp_client_t *client, const char *id, char *error, size_t error_size)
{
    zmsg_t *reply = s_call (client, "delete", id, NULL, NULL, error, error_size);
    int rc = reply? 0: -1;
    zmsg_destroy (&reply);
    return rc;
}

//  Whether a page of rows is whole and readable: every field a string, pid
//  and restarts numbers, every id after `after` (so that paging ends).
static bool
s_rows_valid (zmsg_t *rows, const char *after)
{
    if (zmsg_size (rows) % OTP_SUP_ROW)
        return false;
    char field [OTP_ARG_MAX + 1];
    int index = 0;
    for (zframe_t *frame = zmsg_first (rows); frame; frame = zmsg_next (rows), index++) {
        int column = index % OTP_SUP_ROW;
        size_t size = zframe_size (frame);
        if (size > OTP_ARG_MAX || memchr (zframe_data (frame), 0, size))
            return false;
        memcpy (field, zframe_data (frame), size);
        field [size] = 0;
        long number;
        if (column == SUP_ROW_ID && strcmp (field, after) <= 0)
            return false;
        if ((column == SUP_ROW_PID || column == SUP_ROW_RESTARTS)
        &&  (strspn (field, "0123456789") != size || otp_parse_int (field, 0, LONG_MAX, &number)))
            return false;
    }
    return true;
}

zmsg_t *
otp_sup_which_children (otp_client_t *client, char *error, size_t error_size)
{
    zmsg_t *all = zmsg_new ();
    char after [OTP_ARG_MAX + 1] = "";
    while (true) {
        zmsg_t *page = s_call (client, "which", after, NULL, NULL, error, error_size);
        if (page && !s_rows_valid (page, after)) {
            s_malformed (error, error_size);
            zmsg_destroy (&page);
        }
        if (!page) {
            zmsg_destroy (&all);
            return NULL;
        }
        size_t rows = zmsg_size (page) / OTP_SUP_ROW;
        zframe_t *frame;
        int index = 0;
        while ((frame = zmsg_pop (page))) {
            if (index++ % OTP_SUP_ROW == SUP_ROW_ID) {
                memcpy (after, zframe_data (frame), zframe_size (frame));
                after [zframe_size (frame)] = 0;
            }
            zmsg_append (all, &frame);
        }
        zmsg_destroy (&page);
        if (rows < OTP_SUP_PAGE)
            return all;
    }
}

zmsg_t *
otp_sup_count_children (otp_client_t *client, char *error, size_t error_size)
{
    zmsg_t *reply = s_call (client, "count", NULL, NULL, NULL, error, error_size);
    long value;
    bool valid = reply && zmsg_size (reply) == 4;
    for (int i = -1; valid && i < 3; i++)
        valid = otp_msg_int (reply, i, 0, LONG_MAX, &value) == 0;
    if (reply && !valid) {
        s_malformed (error, error_size);
        zmsg_destroy (&reply);
    }
    return reply;
}

zmsg_t *
otp_sup_info (otp_client_t *client, char *error, size_t error_size)
{
    zmsg_t *reply = s_call (client, "info", NULL, NULL, NULL, error, error_size);
    if (reply && zmsg_size (reply) % 2) {
        s_malformed (error, error_size);
        zmsg_destroy (&reply);
    }
    return reply;
}

zmsg_t *
otp_sup_state (otp_client_t *client, const char *id, char *error, size_t error_size)
{
    zmsg_t *reply = s_call (client, "state", id, NULL, NULL, error, error_size);
    if (reply && zmsg_size (reply) % 2) {
        s_malformed (error, error_size);
        zmsg_destroy (&reply);
    }
    return reply;
}

void
otp_supervisor_test (void)
{
    //  The tables: every entry named, in enum order, no name twice; every
    //  operation a fixed size (a batch does not mark where one ends).
    const otp_cmd_t *tables [] = { otp_sup_requests, otp_sup_ops };
    const int counts [] = { SUP_REQUEST_COUNT, SUP_OP_COUNT };
    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < counts [t]; i++) {
            const otp_cmd_t *cmd = &tables [t][i];
            assert (cmd->name && *cmd->name && strlen (cmd->name) < 32);
            assert (cmd->min_args >= 0 && cmd->max_args >= cmd->min_args);
            assert (cmd->payload_arg < cmd->max_args);
            for (int j = 0; j < i; j++)
                assert (!streq (cmd->name, tables [t][j].name));
            for (int j = 0; j < counts [1 - t]; j++)
                assert (!streq (cmd->name, tables [1 - t][j].name));
            if (t == 1)
                assert (cmd->min_args == cmd->max_args);
        }
        assert (tables [t][counts [t]].name == NULL);
    }
    assert (otp_sup_requests [SUP_START].max_args == 2 * (62 + 64 + 12));
    assert (streq (otp_sup_requests [SUP_WHICH].name, "which"));
    assert (otp_sup_ops [SUP_OP_ENTRY].max_args == 7 && otp_sup_ops [SUP_OP_RUN].max_args == 5);

    //  A spec as large as it gets travels as a start request, and comes out
    //  the same at the other end.
    char error [256];
    otp_childspec_t *spec = otp_childspec_new ();
    const char *keys [][2] = {
        { "id", "web" }, { "arg", "first" }, { "command", "/usr/bin/env" },
        { "cwd", "/tmp" }, { "restart", "temporary" }, { "shutdown", "brutal_kill" },
        { "type", "supervisor" }, { "name", "web" }, { "messages", "api" },
        { "node", "a@127.0.0.1" }
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys [0]; i++)
        assert (otp_childspec_set (spec, keys [i][0], keys [i][1], error, sizeof error) == 0);
    char big [OTP_ARG_MAX + 1];
    memset (big, 'v', OTP_ARG_MAX);
    big [OTP_ARG_MAX] = 0;
    while (spec->argc - 1 < OTP_CHILD_ARGS_MAX)
        assert (otp_childspec_set (spec, "arg", big, error, sizeof error) == 0);
    for (int i = 0; i < OTP_CHILD_ENV_MAX; i++) {
        char entry [OTP_ARG_MAX + 1];
        int len = snprintf (entry, sizeof entry, "V%d=", i);
        memset (entry + len, 'v', OTP_ARG_MAX - (size_t) len);
        entry [OTP_ARG_MAX] = 0;
        assert (otp_childspec_set (spec, "env", entry, error, sizeof error) == 0);
    }
    for (int placed = 0; placed < 2; placed++) {
        zmsg_t *request = s_start_request (spec, placed? "b@127.0.0.1": NULL);
        zframe_t *payload = zmsg_encode (request);
        zmsg_destroy (&request);
        assert (zframe_size (payload) < OTP_PAYLOAD_MAX);
        request = otp_payload_decode (payload);
        zframe_destroy (&payload);
        assert (request);
        assert (otp_msg_check (request, otp_sup_requests, error, sizeof error) == SUP_START);
        zframe_t *command = zmsg_pop (request);
        zframe_destroy (&command);
        otp_childspec_t *back = otp_childspec_decode (request, error, sizeof error);
        zmsg_destroy (&request);
        assert (back);
        assert (streq (back->id, "web") && streq (back->argv [0], "/usr/bin/env")
                && streq (back->argv [1], "first") && back->argc == OTP_CHILD_ARGS_MAX + 1
                && back->envc == OTP_CHILD_ENV_MAX && streq (back->cwd, "/tmp")
                && back->restart == OTP_RESTART_TEMPORARY && back->shutdown_set
                && back->shutdown_ms == OTP_SHUTDOWN_BRUTAL
                && back->type == OTP_CHILD_SUPERVISOR && streq (back->name, "web") && back->api);
        assert (streq (back->node, placed? "b@127.0.0.1": "a@127.0.0.1"));
        for (int i = 0; i < spec->argc; i++)
            assert (streq (back->argv [i], spec->argv [i]));
        for (int i = 0; i < spec->envc; i++)
            assert (streq (back->env [i], spec->env [i]));
        otp_childspec_destroy (&back);
    }

    //  A batch: an ENTRY whose spec is larger than an argument, then a RUN
    //  and a BEAT; a truncated RUN is malformed.
    zmsg_t *pairs = otp_childspec_encode (spec);
    zframe_t *encoded = zmsg_encode (pairs);
    zmsg_destroy (&pairs);
    assert (zframe_size (encoded) > OTP_ARG_MAX);
    zmsg_t *batch = zmsg_new ();
    const char *entry [] = { "ENTRY", "web", "3", "a@127.0.0.1", "a@127.0.0.1", "running", "1" };
    for (size_t i = 0; i < sizeof entry / sizeof entry [0]; i++)
        zmsg_addstr (batch, entry [i]);
    zmsg_append (batch, &encoded);
    const char *rest [] = { "RUN", "web", "3", "4242", "0", "running", "BEAT", "RUN", "web" };
    for (size_t i = 0; i < sizeof rest / sizeof rest [0]; i++)
        zmsg_addstr (batch, rest [i]);
    zframe_t *wire = zmsg_encode (batch);
    zmsg_destroy (&batch);
    batch = otp_payload_decode (wire);
    zframe_destroy (&wire);
    zmsg_t *op;
    assert (otp_batch_pop (batch, otp_sup_ops, &op) == SUP_OP_ENTRY);
    pairs = otp_payload_decode (otp_msg_arg (op, 6));
    otp_childspec_t *back = otp_childspec_decode (pairs, error, sizeof error);
    assert (back && back->argc == spec->argc);
    otp_childspec_destroy (&back);
    zmsg_destroy (&pairs);
    zmsg_destroy (&op);
    assert (otp_batch_pop (batch, otp_sup_ops, &op) == SUP_OP_RUN);
    long pid;
    assert (otp_msg_int (op, 2, 1, INT32_MAX, &pid) == 0 && pid == 4242);
    zmsg_destroy (&op);
    assert (otp_batch_pop (batch, otp_sup_ops, &op) == SUP_OP_BEAT);
    zmsg_destroy (&op);
    assert (otp_batch_pop (batch, otp_sup_ops, &op) == -2 && !op);
    zmsg_destroy (&batch);
    otp_childspec_destroy (&spec);

    //  Requests of the wrong size; which-children pages.
    zmsg_t *request = s_new ("stop", NULL);
    assert (otp_msg_check (request, otp_sup_requests, error, sizeof error) == -1);
    zmsg_addstr (request, "web");
    assert (otp_msg_check (request, otp_sup_requests, error, sizeof error) == SUP_STOP);
    zmsg_destroy (&request);
    zmsg_t *rows = zmsg_new ();
    const char *row [] = { "b", "cluster", "a@h", "12", "running", "0", "", "permanent", "worker" };
    for (int i = 0; i < OTP_SUP_ROW; i++)
        zmsg_addstr (rows, row [i]);
    assert (s_rows_valid (rows, "") && s_rows_valid (rows, "a") && !s_rows_valid (rows, "b"));
    zmsg_addstr (rows, "c");
    assert (!s_rows_valid (rows, ""));
    zmsg_destroy (&rows);
    rows = zmsg_new ();
    for (int i = 0; i < OTP_SUP_ROW; i++)
        zmsg_addstr (rows, i == SUP_ROW_PID? "-1": row [i]);
    assert (!s_rows_valid (rows, ""));
    zmsg_destroy (&rows);
}
