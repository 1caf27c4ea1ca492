/*  otp-ctl's node commands, over an otp_client connection.                 */
#include "ctl.h"
#include <sys/time.h>

void
ctl_json_string (const char *text)
{
    putchar ('"');
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf ("\\%c", *p);
        else
        if (*p < 0x20)
            printf ("\\u%04x", *p);
        else
            putchar (*p);
    }
    putchar ('"');
}

static double
s_now (void)
{
    struct timeval tv;
    gettimeofday (&tv, NULL);
    return (double) tv.tv_sec + tv.tv_usec / 1e6;
}

//  Prints one EVENT or MSG from the node; ignores anything else.
static void
s_print_stream (ctl_t *ctl, zmsg_t *msg)
{
    char tag [8] = "", a [OTP_ARG_MAX + 1], b [OTP_ARG_MAX + 1], c [OTP_ARG_MAX + 1];
    otp_msg_str (msg, -1, tag, sizeof tag);
    if (streq (tag, "EVENT") && zmsg_size (msg) == 4
    &&  otp_msg_str (msg, 0, a, sizeof a) == 0 && otp_msg_str (msg, 1, b, sizeof b) == 0
    &&  otp_msg_str (msg, 2, c, sizeof c) == 0) {
        if (ctl->json) {
            printf ("{\"time\":%.6f,\"event\":", s_now ());
            ctl_json_string (a);
            printf (",\"node\":");
            ctl_json_string (b);
            printf (",\"reason\":");
            ctl_json_string (c);
            printf ("}\n");
        }
        else
            printf ("%s %s%s%s\n", a, b, *c? " ": "", c);
    }
    else
    if (streq (tag, "MSG") && zmsg_size (msg) >= 4
    &&  otp_msg_str (msg, 0, a, sizeof a) == 0) {
        zframe_t *payload = otp_msg_arg (msg, 2);
        char *text = zframe_strdup (payload);
        if (ctl->json) {
            printf ("{\"time\":%.6f,\"from\":", s_now ());
            ctl_json_string (a);
            printf (",\"msg\":");
            ctl_json_string (text);
            printf ("}\n");
        }
        else
            printf ("%s\n", text);
        free (text);
    }
    fflush (stdout);
}

//  monitor and listen: subscribe, then print what streams in, with pings on
//  a schedule whatever else arrives, so a busy stream cannot hide a dead node.
static int
s_stream (ctl_t *ctl, otp_client_t *client, const char *command, const char *arg)
{
    bool ok = false;
    zmsg_t *reply = otp_client_command (client, command, arg, &ok);
    if (!reply || !ok) {
        char reason [OTP_ARG_MAX + 1] = "";
        if (reply)
            otp_msg_str (reply, -1, reason, sizeof reason);
        fprintf (stderr, "otp-ctl: %s\n", reply? reason: otp_client_error (client));
        zmsg_destroy (&reply);
        return 1;
    }
    zmsg_destroy (&reply);
    //  Several pings per time-out, so that one late answer is no alarm.
    int ping_ms = ctl->timeout_ms / 3 < 1000? ctl->timeout_ms / 3: 1000;
    if (ping_ms < 1)
        ping_ms = 1;
    int64_t last_answer = zclock_mono (), next_ping = last_answer + ping_ms;
    while (true) {
        int64_t now = zclock_mono ();
        if (now - last_answer > ctl->timeout_ms) {
            fprintf (stderr, "otp-ctl: %s stopped answering\n", ctl->node);
            return 1;
        }
        if (now >= next_ping) {
            otp_client_request (client, "ping", NULL);
            next_ping = now + ping_ms;
        }
        zmsg_t *msg = otp_client_recv (client, next_ping);
        if (!msg) {
            if (!strstr (otp_client_error (client), "did not answer")) {
                fprintf (stderr, "otp-ctl: %s\n", otp_client_error (client));
                return 1;       //  the connection is lost
            }
            continue;
        }
        zframe_t *tag = zmsg_first (msg);
        if (zframe_streq (tag, "REP"))
            last_answer = zclock_mono ();
        else
            s_print_stream (ctl, msg);
        zmsg_destroy (&msg);
    }
}

void
ctl_print_pairs (ctl_t *ctl, zmsg_t *pairs)
{
    char value [OTP_ARG_MAX + 1], key [OTP_ARG_MAX + 1];
    int frames = (int) zmsg_size (pairs);
    if (ctl->json)
        printf ("{");
    for (int i = 0; i + 1 < frames; i += 2)
        if (otp_msg_str (pairs, i - 1, key, sizeof key) == 0
        &&  otp_msg_str (pairs, i, value, sizeof value) == 0) {
            if (ctl->json) {
                long number;
                printf ("%s", i? ",": "");
                ctl_json_string (key);
                printf (":");
                if (otp_parse_int (value, 0, LONG_MAX, &number) == 0)
                    printf ("%ld", number);
                else
                    ctl_json_string (value);
            }
            else
                printf ("%-20s %s\n", key, value);
        }
    if (ctl->json)
        printf ("}\n");
}

static void
s_print (ctl_t *ctl, const char *command, zmsg_t *reply)
{
    char value [OTP_ARG_MAX + 1];
    int frames = (int) zmsg_size (reply);
    if (streq (command, "nodes")) {
        if (ctl->json)
            printf ("[");
        for (int i = 0; i < frames; i++)
            if (otp_msg_str (reply, i - 1, value, sizeof value) == 0) {
                if (ctl->json) {
                    printf ("%s", i? ",": "");
                    ctl_json_string (value);
                }
                else
                    printf ("%s\n", value);
            }
        if (ctl->json)
            printf ("]\n");
    }
    else
    if (streq (command, "info"))
        ctl_print_pairs (ctl, reply);
    else
    if (frames > 0 && otp_msg_str (reply, -1, value, sizeof value) == 0) {
        //  ping, stop: one word
        if (ctl->json) {
            printf ("{\"result\":");
            ctl_json_string (value);
            printf ("}\n");
        }
        else
            printf ("%s\n", value);
    }
}

otp_client_t *
ctl_connect (ctl_t *ctl, const char *node, char *error, size_t error_size)
{
    char cookie [OTP_COOKIE_MAX + 1];
    if (otp_cookie_load (ctl->cookie, ctl->cookie_file, cookie, sizeof cookie, error, error_size))
        otp_fatal ("%s", error);
    return otp_client_new (node, cookie, ctl->epmd_port, ctl->timeout_ms, error, error_size);
}

int
ctl_node (ctl_t *ctl, const char *command, int argc, char **argv)
{
    if (!ctl->node)
        otp_fatal ("which node? give -n NAME@HOST (or set OTP_NODE_NAME)");
    if (streq (command, "listen") && (argc != 1 || !otp_name_valid (argv [0])))
        otp_fatal ("usage: otp-ctl -n NODE listen NAME");
    char error [OTP_NODE_MAX + OTP_ARG_MAX + 64];
    otp_client_t *client = ctl_connect (ctl, ctl->node, error, sizeof error);
    int status = 1;
    zmsg_t *reply = NULL;
    bool ok = false;
    if (!client)
        ;
    else
    if (streq (command, "monitor") || streq (command, "listen")) {
        status = s_stream (ctl, client, streq (command, "listen")? "attach": "monitor",
                           streq (command, "listen")? argv [0]: argc? "all": NULL);
        otp_client_destroy (&client);
        return status;
    }
    else {
        reply = otp_client_command (client, command, NULL, &ok);
        if (reply && ok) {
            s_print (ctl, command, reply);
            status = 0;
        }
        else
        if (reply) {
            char reason [OTP_ARG_MAX + 1] = "";
            otp_msg_str (reply, -1, reason, sizeof reason);
            snprintf (error, sizeof error, "%s: %s", ctl->node, reason);
        }
        else
            snprintf (error, sizeof error, "%s", otp_client_error (client));
        zmsg_destroy (&reply);
    }
    otp_client_destroy (&client);
    if (status) {
        if (streq (command, "ping"))
            printf (ctl->json? "{\"result\":\"pang\"}\n": "pang\n");
        fflush (stdout);
        fprintf (stderr, "otp-ctl: %s\n", error);
    }
    return status;
}
