/*  otp-ctl's registry and messaging commands: whereis, names, members,
    groups, call, and send to a registered name. Each asks the otp-reg
    beside the node given by -n: a local read of its replica.              */
#include "ctl.h"

static void
s_print_list (ctl_t *ctl, zlistx_t *list)
{
    if (ctl->json)
        printf ("[");
    bool first = true;
    for (char *item = (char *) zlistx_first (list); item; item = (char *) zlistx_next (list)) {
        if (ctl->json) {
            printf ("%s", first? "": ",");
            ctl_json_string (item);
        }
        else
            printf ("%s\n", item);
        first = false;
    }
    if (ctl->json)
        printf ("]\n");
}

static int
s_whereis (ctl_t *ctl, otp_client_t *client, const char *name, char *error, size_t size)
{
    char node [OTP_NODE_MAX + 1], addr [OTP_NAME_MAX + 1], meta [OTP_ARG_MAX + 1];
    int found = otp_reg_whereis (client, name, node, addr, meta, error, size);
    if (found < 0)
        return -1;
    if (ctl->json) {
        printf ("{\"name\":");
        ctl_json_string (name);
        if (found) {
            printf (",\"node\":");
            ctl_json_string (node);
            printf (",\"address\":");
            ctl_json_string (addr);
            printf (",\"meta\":");
            ctl_json_string (meta);
            printf ("}\n");
        }
        else
            printf (",\"node\":null}\n");
    }
    else
        printf ("%s\n", found? node: "undefined");
    return found? 0: 1;
}

//  NAME@NODE is an address on a node (split at the first '@'); anything
//  else is a registered name.
static bool
s_address (const char *target, char *addr, char *node)
{
    const char *at = strchr (target, '@');
    char name [OTP_NAME_MAX + 1], host [OTP_HOST_MAX + 1];
    if (!at)
        return false;
    size_t len = (size_t) (at - target);
    if (len == 0 || len > OTP_NAME_MAX || otp_node_split (at + 1, name, sizeof name, host, sizeof host))
        otp_fatal ("'%s' is neither a registered name nor NAME@NODE", target);
    memcpy (addr, target, len);
    addr [len] = 0;
    if (!otp_name_valid (addr))
        otp_fatal ("'%s' is not a valid process name", addr);
    snprintf (node, OTP_NODE_MAX + 1, "%s", at + 1);
    return true;
}

static int
s_call (ctl_t *ctl, otp_client_t *client, const char *target, const char *text, int timeout_ms,
        char *error, size_t size)
{
    char addr [OTP_NAME_MAX + 1], node [OTP_NODE_MAX + 1];
    zframe_t *reply;
    if (s_address (target, addr, node)) {
        reply = otp_client_call (client, addr, node, text, strlen (text), timeout_ms);
        if (!reply)
            snprintf (error, size, "%s", otp_client_error (client));
    }
    else
        reply = otp_reg_call (client, target, text, strlen (text), timeout_ms, error, size);
    if (!reply)
        return -1;
    char *answer = zframe_strdup (reply);
    if (ctl->json) {
        printf ("{\"reply\":");
        ctl_json_string (answer);
        printf ("}\n");
    }
    else
        printf ("%s\n", answer);
    free (answer);
    zframe_destroy (&reply);
    return 0;
}

int
ctl_registry (ctl_t *ctl, const char *command, int argc, char **argv)
{
    if (!ctl->node)
        otp_fatal ("which node? give -n NAME@HOST (or set OTP_NODE_NAME)");
    int call_timeout = ctl->timeout_ms;
    if (streq (command, "call") && argc == 4 && streq (argv [2], "--timeout")) {
        call_timeout = (int) otp_opt_int ("--timeout", argv [3], 1, 3600000);
        argc = 2;
    }
    bool takes_arg = streq (command, "whereis") || streq (command, "members");
    bool takes_two = streq (command, "call") || streq (command, "send");
    if ((takes_arg && argc != 1) || (takes_two && argc != 2) || (!takes_arg && !takes_two && argc))
        otp_fatal ("usage: otp-ctl %s%s", command,
                   takes_arg? (streq (command, "members")? " GROUP": " NAME")
                 : streq (command, "call")? " NAME MESSAGE [--timeout MS]"
                 : takes_two? " NAME MESSAGE": "");
    if (argc > 0 && !strchr (argv [0], '@') && !otp_reg_name_valid (argv [0]))
        otp_fatal ("'%s' is not a valid name (1..255 printable characters, no spaces)", argv [0]);
    char error [OTP_NODE_MAX + OTP_ARG_MAX + 64] = "";
    //  A call may take longer than the connection's own time-out.
    otp_client_t *client = ctl_connect (ctl, ctl->node, error, sizeof error);
    int status = 1;
    if (!client)
        ;
    else
    if (streq (command, "whereis")) {
        int rc = s_whereis (ctl, client, argv [0], error, sizeof error);
        status = rc < 0? 1: rc;
    }
    else
    if (streq (command, "registry")) {
        zmsg_t *info = otp_reg_info (client, error, sizeof error);
        if (info) {
            ctl_print_pairs (ctl, info);
            status = 0;
        }
        zmsg_destroy (&info);
    }
    else
    if (streq (command, "call"))
        status = s_call (ctl, client, argv [0], argv [1], call_timeout, error, sizeof error)? 1: 0;
    else
    if (streq (command, "send")) {
        char addr [OTP_NAME_MAX + 1], node [OTP_NODE_MAX + 1];
        int rc = s_address (argv [0], addr, node)
               ? otp_client_send (client, addr, node, argv [1], strlen (argv [1]))
               : otp_reg_send (client, argv [0], argv [1], strlen (argv [1]), error, sizeof error);
        //  The ping that follows proves the node has taken the message:
        //  one connection keeps order.
        bool ok = false;
        zmsg_t *reply = rc? NULL: otp_client_command (client, "ping", NULL, &ok);
        if (rc == 0 && !(reply && ok))
            snprintf (error, sizeof error, "%s", otp_client_error (client));
        else
        if (rc == 0) {
            printf (ctl->json? "{\"result\":\"sent\"}\n": "sent\n");
            status = 0;
        }
        zmsg_destroy (&reply);
    }
    else {
        zlistx_t *list = streq (command, "names")? otp_reg_names (client, error, sizeof error)
                       : streq (command, "groups")? otp_reg_groups (client, error, sizeof error)
                       : otp_reg_members (client, argv [0], error, sizeof error);
        if (list) {
            s_print_list (ctl, list);
            status = 0;
        }
        zlistx_destroy (&list);
    }
    otp_client_destroy (&client);
    fflush (stdout);
    //  whereis of a name nobody holds has said "undefined": no error line.
    if (status && *error)
        fprintf (stderr, "otp-ctl: %s\n", error);
    return status;
}
