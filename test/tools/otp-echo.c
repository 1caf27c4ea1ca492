/*  otp-echo - a test and benchmark tool, not part of the product: a process
    attached to a node that answers every call with its payload (after an
    optional prefix and delay) and prints every plain message on stdout, one
    per line. It registers names and joins groups in the cluster registry
    first, sends what --send asks for, and says "ready" on stderr once it
    has. A plain message "!join G", "!leave G", "!register N" or
    "!unregister N" makes it do that (and print "done" or the error).

    With --hold it plays a supervisor at shutdown: it sends `monitor all`
    and `hold`, so that its node drains before it leaves; on the `draining`
    event it prints "draining NODE" on stdout, waits --drain-delay MS (its
    hand-off) and exits 0.

    usage: otp-echo -n NODE [--attach NAME] [--register NAME]... [--join GROUP]...
                    [--send ADDR@NODE=TEXT]... [--prefix TEXT] [--delay MS]
                    [--hold] [--drain-delay MS] [--cookie C]                */
#include "otp.h"
#include <getopt.h>

int
main (int argc, char *argv [])
{
    otp_log_init (argv [0]);
    otp_signal_cli ();
    const char *node = otp_env ("OTP_NODE_NAME", NULL), *cookie_arg = otp_env ("OTP_COOKIE", NULL);
    const char *attach = NULL, *prefix = "";
    int delay_ms = 0, drain_delay_ms = 0;
    bool hold = false;
    zlistx_t *names = zlistx_new (), *groups = zlistx_new (), *sends = zlistx_new ();
    static const struct option longopts [] = {
        { "node", required_argument, NULL, 'n' },
        { "cookie", required_argument, NULL, 'c' },
        { "attach", required_argument, NULL, 'a' },
        { "register", required_argument, NULL, 'r' },
        { "join", required_argument, NULL, 'g' },
        { "send", required_argument, NULL, 's' },
        { "prefix", required_argument, NULL, 'p' },
        { "delay", required_argument, NULL, 'D' },
        { "hold", no_argument, NULL, 'H' },
        { "drain-delay", required_argument, NULL, 'W' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "n:c:a:r:g:s:p:D:HW:", longopts, NULL)) != -1) {
        switch (opt) {
            case 'n': node = optarg; break;
            case 'c': cookie_arg = optarg; break;
            case 'a': attach = optarg; break;
            case 'r': zlistx_add_end (names, optarg); break;
            case 'g': zlistx_add_end (groups, optarg); break;
            case 's': zlistx_add_end (sends, optarg); break;
            case 'p': prefix = optarg; break;
            case 'D': delay_ms = (int) otp_opt_int ("--delay", optarg, 0, 3600000); break;
            case 'H': hold = true; break;
            case 'W': drain_delay_ms = (int) otp_opt_int ("--drain-delay", optarg, 0, 3600000); break;
            default: return 2;
        }
    }
    if (!node)
        otp_fatal ("usage: otp-echo -n NODE [--attach NAME] [--register NAME] [--join GROUP]");
    char cookie [OTP_COOKIE_MAX + 1], error [1024];
    if (otp_cookie_load (cookie_arg, otp_env ("OTP_COOKIE_FILE", NULL), cookie, sizeof cookie,
                         error, sizeof error))
        otp_fatal ("%s", error);
    int epmd_port = (int) otp_opt_int ("OTP_EPMD_PORT", otp_env ("OTP_EPMD_PORT", "4369"), 1, 65535);
    otp_client_t *client = otp_client_new (node, cookie, epmd_port, 5000, error, sizeof error);
    if (!client)
        otp_fatal ("%s", error);
    if (attach && otp_client_attach (client, attach))
        otp_fatal ("cannot attach %s: %s", attach, otp_client_error (client));
    if (!otp_client_self (client))
        otp_fatal ("%s", otp_client_error (client));
    for (char *name = (char *) zlistx_first (names); name; name = (char *) zlistx_next (names))
        if (otp_reg_register (client, name, "otp-echo", error, sizeof error))
            otp_fatal ("cannot register %s: %s", name, error);
    for (char *group = (char *) zlistx_first (groups); group; group = (char *) zlistx_next (groups))
        if (otp_reg_join (client, group, error, sizeof error))
            otp_fatal ("cannot join %s: %s", group, error);
    for (char *send = (char *) zlistx_first (sends); send; send = (char *) zlistx_next (sends)) {
        //  ADDR@NODE=TEXT: the node is name@host, so split at the first '@'.
        char *at = strchr (send, '@'), *eq = at? strchr (at, '='): NULL;
        if (!eq)
            otp_fatal ("--send takes ADDR@NODE=TEXT");
        *at = *eq = 0;
        otp_client_send (client, send, at + 1, eq + 1, strlen (eq + 1));
    }
    if (hold) {
        //  As otp-sup does: subscribed before holding, so the node never
        //  waits for a holder that could not hear it drain.
        const char *steps [][2] = { { "monitor", "all" }, { "hold", NULL } };
        for (size_t i = 0; i < sizeof steps / sizeof steps [0]; i++) {
            bool ok = false;
            zmsg_t *reply = otp_client_command (client, steps [i][0], steps [i][1], &ok);
            if (!ok && reply && otp_msg_str (reply, -1, error, sizeof error) == 0)
                otp_fatal ("%s refused: %s", steps [i][0], error);
            zmsg_destroy (&reply);
            if (!ok)
                otp_fatal ("%s failed: %s", steps [i][0], otp_client_error (client));
        }
    }
    fprintf (stderr, "ready %s@%s\n", otp_client_self (client), node);
    while (true) {
        //  Raw, not otp_client_receive: that one skips EVENTs.
        zmsg_t *msg = otp_client_recv (client, INT64_MAX);
        if (!msg)
            otp_fatal ("%s", otp_client_error (client));
        char event [16];
        if (hold && zframe_streq (zmsg_first (msg), "EVENT")
        &&  otp_msg_str (msg, 0, event, sizeof event) == 0 && streq (event, "draining")) {
            printf ("draining %s\n", node);
            fflush (stdout);
            zclock_sleep (drain_delay_ms);
            zmsg_destroy (&msg);
            otp_client_destroy (&client);
            //  A clean exit, so that a sanitizer build has no leak to report.
            zlistx_destroy (&names);
            zlistx_destroy (&groups);
            zlistx_destroy (&sends);
            return 0;
        }
        otp_message_t *message = otp_message_parse (msg);
        zmsg_destroy (&msg);
        if (!message)
            continue;       //  another EVENT, a PING
        if (streq (message->kind, "call")) {
            if (delay_ms)
                zclock_sleep (delay_ms);
            size_t plen = strlen (prefix), size = zframe_size (message->payload);
            char *answer = (char *) malloc (plen + size + 1);
            memcpy (answer, prefix, plen);
            memcpy (answer + plen, zframe_data (message->payload), size);
            otp_client_reply (client, message, answer, plen + size);
            free (answer);
        }
        else {
            fwrite (zframe_data (message->payload), 1, zframe_size (message->payload), stdout);
            fputc ('\n', stdout);
            char *text = zframe_strdup (message->payload);
            int rc = 1;
            if (strncmp (text, "!join ", 6) == 0)
                rc = otp_reg_join (client, text + 6, error, sizeof error);
            else
            if (strncmp (text, "!leave ", 7) == 0)
                rc = otp_reg_leave (client, text + 7, error, sizeof error);
            else
            if (strncmp (text, "!register ", 10) == 0)
                rc = otp_reg_register (client, text + 10, "otp-echo", error, sizeof error);
            else
            if (strncmp (text, "!unregister ", 12) == 0)
                rc = otp_reg_unregister (client, text + 12, error, sizeof error);
            if (*text == '!')
                printf ("%s\n", rc? error: "done");
            free (text);
            fflush (stdout);
        }
        otp_message_destroy (&message);
    }
}
