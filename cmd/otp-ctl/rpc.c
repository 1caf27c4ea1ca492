/*  otp-ctl rpc NODE [--] CMD ARGS...: runs CMD on NODE (Erlang's rpc:call
    of os:cmd, with our terminal as group leader). What it writes on stdout
    and stderr streams here as it is written; its exit status is ours. Our
    going away (even kill -9) takes the command with it: the node stops its
    process group when our connection closes.                              */
#include "ctl.h"

#define RPC_ARGS_MAX 63         //  SPAWN takes the request id and 63 arguments

static int
s_usage (void)
{
    fprintf (stderr, "usage: otp-ctl rpc NODE [--] COMMAND [ARGS...]\n");
    return 2;
}

int
ctl_rpc (ctl_t *ctl, int argc, char **argv)
{
    if (argc < 1)
        return s_usage ();
    const char *node = argv [0];
    argc--, argv++;
    if (argc > 0 && streq (argv [0], "--"))
        argc--, argv++;
    if (argc < 1 || !*argv [0])
        return s_usage ();
    if (argc > RPC_ARGS_MAX)
        otp_fatal ("rpc: at most %d command arguments, not %d", RPC_ARGS_MAX, argc);
    for (int i = 0; i < argc; i++)
        if (strlen (argv [i]) > OTP_ARG_MAX)
            otp_fatal ("rpc: argument %d is longer than %d bytes", i, OTP_ARG_MAX);

    char cookie [OTP_COOKIE_MAX + 1], error [OTP_NODE_MAX + OTP_ARG_MAX + 64];
    if (otp_cookie_load (ctl->cookie, ctl->cookie_file, cookie, sizeof cookie, error, sizeof error))
        otp_fatal ("%s", error);
    otp_client_t *client = otp_client_new (node, cookie, ctl->epmd_port, ctl->timeout_ms,
                                           error, sizeof error);
    if (!client) {
        fprintf (stderr, "otp-ctl: %s\n", error);
        return 1;
    }
    //  argv is NULL-terminated after argc (main's argv).
    int id = otp_client_spawn (client, argv);
    if (id < 0) {
        fprintf (stderr, "otp-ctl: %s\n", otp_client_error (client));
        otp_client_destroy (&client);
        return 1;
    }
    //  Until the REP, the node has the ctl time-out to answer; then the
    //  command may run as long as it likes, while pings on a schedule tell
    //  a dead node from a quiet command (as monitor and listen do).
    bool started = false;
    int ping_ms = ctl->timeout_ms / 3 < 1000? ctl->timeout_ms / 3: 1000;
    if (ping_ms < 1)
        ping_ms = 1;
    int64_t last_answer = zclock_mono (), next_ping = last_answer + ping_ms;
    int status = -1;
    while (status < 0) {
        int64_t now = zclock_mono ();
        if (now - last_answer >= ctl->timeout_ms) {
            if (started)
                fprintf (stderr, "otp-ctl: %s stopped answering\n", node);
            else
                fprintf (stderr, "otp-ctl: %s did not answer within %d ms\n",
                         node, ctl->timeout_ms);
            status = 1;
            break;
        }
        if (started && now >= next_ping) {
            otp_client_request (client, "ping", NULL);
            next_ping = now + ping_ms;
        }
        int64_t deadline = last_answer + ctl->timeout_ms;
        if (started && next_ping < deadline)
            deadline = next_ping;
        zmsg_t *msg = otp_client_recv (client, deadline);
        if (!msg) {
            if (!strstr (otp_client_error (client), "did not answer")) {
                fprintf (stderr, "otp-ctl: %s\n", otp_client_error (client));
                status = 1;     //  the connection is lost
            }
            continue;
        }
        char tag [8] = "", seq [16] = "";
        otp_msg_str (msg, -1, tag, sizeof tag);
        bool ours = otp_msg_str (msg, 0, seq, sizeof seq) == 0 && atoi (seq) == id;
        if (streq (tag, "REP"))
            last_answer = zclock_mono ();       //  ours, or a ping's
        if (!ours) {
            zmsg_destroy (&msg);                //  PING, a ping's REP, anything else
            continue;
        }
        char word [OTP_ARG_MAX + 1] = "";
        zframe_t *data = otp_msg_arg (msg, 1);
        if (streq (tag, "REP") && !started) {
            otp_msg_str (msg, 1, word, sizeof word);
            if (streq (word, "ok"))
                started = true;
            else {
                char reason [OTP_ARG_MAX + 1] = "";
                otp_msg_str (msg, 2, reason, sizeof reason);
                fprintf (stderr, "otp-ctl: %s: %s\n", node, reason);
                //  The shell's answer to a command it cannot run.
                status = strncmp (reason, "cannot run", 10) == 0? 127: 1;
            }
        }
        else
        if ((streq (tag, "OUT") || streq (tag, "ERR")) && started && data) {
            int fd = streq (tag, "OUT")? STDOUT_FILENO: STDERR_FILENO;
            if (otp_write_all (fd, zframe_data (data), zframe_size (data))) {
                //  Our reader has gone (a closed pipe): so do we, and with
                //  us the command.
                if (fd == STDOUT_FILENO)
                    fprintf (stderr, "otp-ctl: stdout: %s\n", strerror (errno));
                status = 1;
            }
        }
        else
        if (streq (tag, "EXIT") && started) {
            long code = 1;
            if (otp_msg_str (msg, 1, word, sizeof word)
            ||  otp_parse_int (word, 0, 255, &code))
                code = 1;
            status = (int) code;
        }
        zmsg_destroy (&msg);
        //  Time spent blocked on our own stdout is no silence of the node.
        last_answer = zclock_mono ();
    }
    otp_client_destroy (&client);
    return status;
}
