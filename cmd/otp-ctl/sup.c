/*  otp-ctl's supervision commands: start-child, stop-child, restart-child,
    delete-child, which-children, count-children, sup-info (OTP's
    supervisor:* calls) and state (a cluster child's latest checkpoint).
    Each asks the otp-sup beside the node given by -n,
    which may send it on to the member that runs the child. Spec flags go
    through otp_childspec_set, so their errors read as a config file's do.  */
#include "ctl.h"
#include "otp_childspec.h"
#include "otp_supervisor.h"
#include <stdarg.h>

#define START_USAGE "usage: otp-ctl start-child ID [--name NAME] [--restart permanent|transient|temporary]\n" \
                    "           [--shutdown MS|brutal_kill|infinity] [--type worker|supervisor] [--node NODE]\n" \
                    "           [--cwd DIR] [--env KEY=VALUE]... [--messages stdin|tagged|api] [--keep-cookie yes|no]\n" \
                    "           [--local] -- COMMAND [ARGS...]"

//  Bad usage: one line (or the usage), exit 2, before anything is sent.
static void __attribute__ ((format (printf, 1, 2), noreturn))
s_usage_error (const char *format, ...)
{
    char text [1024];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    fprintf (stderr, "%s%s\n", strncmp (text, "usage: ", 7)? "otp-ctl: ": "", text);
    exit (2);
}

//  A spec key set from the command line; its error is a usage error.
static void
s_set (otp_childspec_t *spec, const char *key, const char *value)
{
    char error [256];
    if (otp_childspec_set (spec, key, value, error, sizeof error))
        s_usage_error ("%s", error);
}

//  The spec of `start-child ID [flags] -- COMMAND ARGS...`: flags and the
//  ID in any order before the `--`, the command line after it.
static otp_childspec_t *
s_start_spec (ctl_t *ctl, int argc, char **argv, bool *local)
{
    static const char *flags [] = {
        "name", "restart", "shutdown", "type", "node", "cwd", "env", "messages", "keep-cookie", NULL
    };
    otp_childspec_t *spec = otp_childspec_new ();
    bool have_id = false;
    int i = 0;
    for (; i < argc && !streq (argv [i], "--"); i++) {
        const char *arg = argv [i];
        if (streq (arg, "--json")) {
            ctl->json = true;
            continue;
        }
        if (streq (arg, "--local")) {
            *local = true;      //  the local tree's root, not the cluster
            continue;
        }
        if (arg [0] != '-') {
            if (have_id)
                s_usage_error ("start-child: '%s' after the ID: the command follows '--'", arg);
            s_set (spec, "id", arg);
            have_id = true;
            continue;
        }
        //  --KEY VALUE or --KEY=VALUE, KEY a spec key.
        const char *equals = strchr (arg, '=');
        size_t len = equals? (size_t) (equals - arg): strlen (arg);
        const char *key = NULL;
        for (int f = 0; flags [f] && !key; f++)
            if (strncmp (arg, "--", 2) == 0 && len == strlen (flags [f]) + 2
            &&  strncmp (arg + 2, flags [f], len - 2) == 0)
                key = flags [f];
        if (!key)
            s_usage_error ("start-child: unknown option '%.*s' (see --help)", (int) len, arg);
        const char *value = equals? equals + 1: NULL;
        if (!value) {
            if (i + 1 >= argc || streq (argv [i + 1], "--"))
                s_usage_error ("start-child: --%s needs a value", key);
            value = argv [++i];
        }
        s_set (spec, key, value);
    }
    if (!have_id || i + 1 >= argc)
        s_usage_error ("%s", START_USAGE);
    s_set (spec, "command", argv [++i]);
    while (++i < argc)
        s_set (spec, "arg", argv [i]);
    return spec;
}

static void
s_print_placed (ctl_t *ctl, const char *id, const char *verb, const char *node, long pid)
{
    if (ctl->json) {
        printf ("{\"id\":");
        ctl_json_string (id);
        printf (",\"node\":");
        ctl_json_string (node);
        printf (",\"pid\":%ld}\n", pid);
    }
    else
    if (pid > 0)
        printf ("%s %s on %s pid %ld\n", id, verb, node, pid);
    else
        printf ("%s %s on %s pid -\n", id, verb, node);
}

static void
s_print_done (ctl_t *ctl, const char *id, const char *result)
{
    if (ctl->json) {
        printf ("{\"id\":");
        ctl_json_string (id);
        printf (",\"result\":\"%s\"}\n", result);
    }
    else
        printf ("%s %s\n", id, result);
}

//  Rows of OTP_SUP_ROW frames, all checked by the library: strings, with
//  numbers where numbers belong.
static void
s_print_children (ctl_t *ctl, zmsg_t *rows)
{
    static const char *keys [OTP_SUP_ROW] = {
        [SUP_ROW_ID] = "id", [SUP_ROW_SUPERVISOR] = "supervisor", [SUP_ROW_NODE] = "node",
        [SUP_ROW_PID] = "pid", [SUP_ROW_STATUS] = "status", [SUP_ROW_RESTARTS] = "restarts",
        [SUP_ROW_NAME] = "name", [SUP_ROW_RESTART] = "restart", [SUP_ROW_TYPE] = "type"
    };
    int count = (int) zmsg_size (rows) / OTP_SUP_ROW;
    char **fields = (char **) zmalloc (sizeof (char *) * (size_t) (count * OTP_SUP_ROW + 1));
    int index = 0;
    for (zframe_t *frame = zmsg_first (rows); frame; frame = zmsg_next (rows))
        fields [index++] = zframe_strdup (frame);

    if (ctl->json) {
        printf ("[");
        for (int row = 0; row < count; row++) {
            printf ("%s{", row? ",": "");
            for (int col = 0; col < OTP_SUP_ROW; col++) {
                const char *value = fields [row * OTP_SUP_ROW + col];
                printf ("%s\"%s\":", col? ",": "", keys [col]);
                long number;
                if ((col == SUP_ROW_PID || col == SUP_ROW_RESTARTS)
                &&  otp_parse_int (value, 0, LONG_MAX, &number) == 0)
                    printf ("%ld", number);
                else
                    ctl_json_string (value);
            }
            printf ("}");
        }
        printf ("]\n");
    }
    else {
        //  The columns shown, in order; each as wide as its widest cell.
        static const int shown [] = {
            SUP_ROW_ID, SUP_ROW_NODE, SUP_ROW_PID, SUP_ROW_STATUS, SUP_ROW_RESTARTS,
            SUP_ROW_SUPERVISOR, SUP_ROW_NAME
        };
        static const char *headers [] = {
            "ID", "NODE", "PID", "STATUS", "RESTARTS", "SUPERVISOR", "NAME"
        };
        const int columns = (int) (sizeof shown / sizeof shown [0]);
        int width [sizeof shown / sizeof shown [0]];
        for (int c = 0; c < columns; c++)
            width [c] = (int) strlen (headers [c]);
        for (int row = 0; row < count; row++)
            for (int c = 0; c < columns; c++) {
                char *cell = fields [row * OTP_SUP_ROW + shown [c]];
                long pid;
                bool none = (shown [c] == SUP_ROW_PID
                             && otp_parse_int (cell, 0, LONG_MAX, &pid) == 0 && pid == 0)
                         || (shown [c] == SUP_ROW_NAME && *cell == 0);
                if (none) {
                    free (cell);
                    cell = fields [row * OTP_SUP_ROW + shown [c]] = strdup ("-");
                }
                if ((int) strlen (cell) > width [c])
                    width [c] = (int) strlen (cell);
            }
        for (int row = -1; row < count; row++)
            for (int c = 0; c < columns; c++) {
                const char *cell = row < 0? headers [c]: fields [row * OTP_SUP_ROW + shown [c]];
                if (c == columns - 1)
                    printf ("%s\n", cell);
                else
                    printf ("%-*s  ", width [c], cell);
            }
    }
    for (int i = 0; i < index; i++)
        free (fields [i]);
    free (fields);
}

static void
s_print_counts (ctl_t *ctl, zmsg_t *counts)
{
    static const char *keys [] = { "specs", "active", "supervisors", "workers" };
    if (ctl->json)
        printf ("{");
    for (int i = 0; i < 4; i++) {
        long value = 0;
        otp_msg_int (counts, i - 1, 0, LONG_MAX, &value);
        if (ctl->json)
            printf ("%s\"%s\":%ld", i? ",": "", keys [i], value);
        else
            printf ("%s %ld\n", keys [i], value);
    }
    if (ctl->json)
        printf ("}\n");
}

int
ctl_sup (ctl_t *ctl, const char *command, int argc, char **argv)
{
    bool start = streq (command, "start-child");
    bool takes_id = streq (command, "stop-child") || streq (command, "restart-child")
                 || streq (command, "delete-child");
    otp_childspec_t *spec = NULL;
    const char *id = NULL;
    bool local = false;
    if (start) {
        spec = s_start_spec (ctl, argc, argv, &local);
        id = spec->id;
    }
    else {
        //  --json may follow the command, as well as precede it.
        int args = 0;
        for (int i = 0; i < argc; i++)
            if (streq (argv [i], "--json"))
                ctl->json = true;
            else
                argv [args++] = argv [i];
        bool takes_name = streq (command, "state");
        if (args != (takes_id || takes_name? 1: 0))
            s_usage_error ("usage: otp-ctl %s%s", command, takes_id? " ID": takes_name? " ID|NAME": "");
        if (takes_name)
            id = argv [0];
        if (takes_id) {
            otp_childspec_t *check = otp_childspec_new ();
            s_set (check, "id", argv [0]);
            otp_childspec_destroy (&check);
            id = argv [0];
        }
    }
    if (!ctl->node)
        s_usage_error ("which node? give -n NAME@HOST (or set OTP_NODE_NAME)");

    //  A stop waits for the child's shutdown (SIGTERM, then its shutdown
    //  time): longer than a plain request's default.
    if (!ctl->timeout_set && (streq (command, "stop-child") || streq (command, "restart-child")))
        ctl->timeout_ms = 60000;
    char error [OTP_NODE_MAX + OTP_ARG_MAX + 64] = "";
    otp_client_t *client = ctl_connect (ctl, ctl->node, error, sizeof error);
    int status = 1;
    char node [OTP_NODE_MAX + 1];
    long pid = 0;
    if (!client)
        ;
    else
    if (start) {
        int rc = local? otp_sup_start_local_child (client, spec, node, &pid, error, sizeof error)
                      : otp_sup_start_child (client, spec, node, &pid, error, sizeof error);
        if (rc == 0) {
            s_print_placed (ctl, id, "started", node, pid);
            status = 0;
        }
    }
    else
    if (streq (command, "restart-child")) {
        if (otp_sup_restart_child (client, id, node, &pid, error, sizeof error) == 0) {
            s_print_placed (ctl, id, "restarted", node, pid);
            status = 0;
        }
    }
    else
    if (streq (command, "stop-child")) {
        if (otp_sup_stop_child (client, id, error, sizeof error) == 0) {
            s_print_done (ctl, id, "stopped");
            status = 0;
        }
    }
    else
    if (streq (command, "delete-child")) {
        if (otp_sup_delete_child (client, id, error, sizeof error) == 0) {
            s_print_done (ctl, id, "deleted");
            status = 0;
        }
    }
    else {
        zmsg_t *reply = streq (command, "state")
                      ? otp_sup_state (client, id, error, sizeof error)
                      : streq (command, "which-children")
                      ? otp_sup_which_children (client, error, sizeof error)
                      : streq (command, "count-children")
                      ? otp_sup_count_children (client, error, sizeof error)
                      : otp_sup_info (client, error, sizeof error);
        if (reply) {
            if (streq (command, "which-children"))
                s_print_children (ctl, reply);
            else
            if (streq (command, "count-children"))
                s_print_counts (ctl, reply);
            else
                ctl_print_pairs (ctl, reply);
            status = 0;
        }
        zmsg_destroy (&reply);
    }
    otp_client_destroy (&client);
    otp_childspec_destroy (&spec);
    fflush (stdout);
    if (status)
        fprintf (stderr, "otp-ctl: %s\n", error);
    return status;
}
