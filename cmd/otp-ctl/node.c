/*  otp-ctl's node commands: connect over CURVE, send one request, print.   */
#include "ctl.h"
#include <sys/time.h>

typedef struct {
    zsock_t *dealer;
    otp_monitor_t *monitor;
    zpoller_t *poller;
    bool handshaken;
    char error [2048];
} conn_t;

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

//  Connects to the node; returns 0, or -1 with conn->error set.
static int
s_connect (ctl_t *ctl, conn_t *conn)
{
    char name [OTP_NAME_MAX + 1], host [OTP_HOST_MAX + 1];
    if (!ctl->node)
        otp_fatal ("which node? give -n NAME@HOST (or set OTP_NODE_NAME)");
    if (otp_node_split (ctl->node, name, sizeof name, host, sizeof host))
        otp_fatal ("'%s' is not a node name (name@host)", ctl->node);
    char cookie [OTP_COOKIE_MAX + 1], error [512];
    if (otp_cookie_load (ctl->cookie, ctl->cookie_file, cookie, sizeof cookie, error, sizeof error))
        otp_fatal ("%s", error);
    int port = otp_epmd_port (host, ctl->epmd_port, name, ctl->timeout_ms);
    if (port < 0) {
        snprintf (conn->error, sizeof conn->error, "cannot reach %s: no otp-epmd answers at %s:%d",
                  ctl->node, host, ctl->epmd_port);
        return -1;
    }
    if (port == 0) {
        snprintf (conn->error, sizeof conn->error, "cannot reach %s: no such node on %s",
                  ctl->node, host);
        return -1;
    }
    otp_keys_t keys;
    otp_keys_from_cookie (&keys, cookie);
    conn->dealer = zsock_new (ZMQ_DEALER);
    otp_sock_harden (conn->dealer);
    zsock_set_sndtimeo (conn->dealer, ctl->timeout_ms);
    //  A request must not be lost when we exit right after sending it.
    zsock_set_linger (conn->dealer, 500);
    otp_auth_client (conn->dealer, &keys);
    conn->monitor = otp_monitor_new (conn->dealer,
        ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED
      | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
      | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    conn->poller = zpoller_new (conn->dealer, otp_monitor_socket (conn->monitor), NULL);
    zsock_connect (conn->dealer, "tcp://%s:%d", host, port);
    return 0;
}

static void
s_close (conn_t *conn)
{
    zpoller_destroy (&conn->poller);
    if (conn->monitor)
        otp_monitor_destroy (&conn->monitor);
    zsock_destroy (&conn->dealer);
}

//  Waits for the next message from the node until `deadline`. Returns it,
//  or NULL with conn->error set.
static zmsg_t *
s_receive (ctl_t *ctl, conn_t *conn, int64_t deadline)
{
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0) {
            snprintf (conn->error, sizeof conn->error, "%s did not answer within %d ms",
                      ctl->node, ctl->timeout_ms);
            return NULL;
        }
        void *which = zpoller_wait (conn->poller, (int) left);
        if (which == conn->dealer)
            return zmsg_recv (conn->dealer);
        if (which == otp_monitor_socket (conn->monitor)) {
            int event = otp_monitor_read (conn->monitor, NULL);
            if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
                conn->handshaken = true;
            else
            if (event == ZMQ_EVENT_DISCONNECTED && conn->handshaken) {
                snprintf (conn->error, sizeof conn->error, "lost the connection to %s", ctl->node);
                return NULL;
            }
            else
            if (event != ZMQ_EVENT_DISCONNECTED || !conn->handshaken) {
                //  The node closes a connection whose CURVE handshake it
                //  cannot decrypt: that is what a wrong cookie looks like.
                snprintf (conn->error, sizeof conn->error,
                          "%s refused the connection: wrong cookie?", ctl->node);
                return NULL;
            }
        }
    }
}

static int
s_request (ctl_t *ctl, conn_t *conn, const char *command, int seq)
{
    zmsg_t *request = zmsg_new ();
    zmsg_addstr (request, "REQ");
    zmsg_addstrf (request, "%d", seq);
    zmsg_addstr (request, command);
    return otp_send (&request, conn->dealer);
}

static double
s_now (void)
{
    struct timeval tv;
    gettimeofday (&tv, NULL);
    return (double) tv.tv_sec + tv.tv_usec / 1e6;
}

static int
s_monitor (ctl_t *ctl, conn_t *conn)
{
    //  Events stream in; a ping a second tells us the node is still there.
    s_request (ctl, conn, "monitor", 1);
    int seq = 1;
    //  A ping a second, whatever else arrives: a busy stream of events
    //  must not hide a node that stopped answering.
    int64_t last_answer = zclock_mono (), next_ping = last_answer + 1000;
    while (true) {
        int64_t now = zclock_mono ();
        if (now - last_answer > ctl->timeout_ms) {
            fprintf (stderr, "otp-ctl: %s stopped answering\n", ctl->node);
            return 1;
        }
        if (now >= next_ping) {
            s_request (ctl, conn, "ping", ++seq);
            next_ping = now + 1000;
        }
        zmsg_t *msg = s_receive (ctl, conn, next_ping);
        if (!msg) {
            if (!strstr (conn->error, "did not answer")) {
                fprintf (stderr, "otp-ctl: %s\n", conn->error);
                return 1;       //  the connection is lost
            }
            continue;
        }
        char tag [8] = "", event [16], node [OTP_NODE_MAX + 1], reason [256];
        if (otp_msg_str (msg, -1, tag, sizeof tag) == 0 && streq (tag, "REP"))
            last_answer = zclock_mono ();
        else
        if (streq (tag, "EVENT") && zmsg_size (msg) == 4
        &&  otp_msg_str (msg, 0, event, sizeof event) == 0
        &&  otp_msg_str (msg, 1, node, sizeof node) == 0
        &&  otp_msg_str (msg, 2, reason, sizeof reason) == 0) {
            if (ctl->json) {
                printf ("{\"time\":%.6f,\"event\":", s_now ());
                ctl_json_string (event);
                printf (",\"node\":");
                ctl_json_string (node);
                printf (",\"reason\":");
                ctl_json_string (reason);
                printf ("}\n");
            }
            else
                printf ("%s %s%s%s\n", event, node, *reason? " ": "", reason);
            fflush (stdout);
        }
        zmsg_destroy (&msg);
    }
}

static void
s_print (ctl_t *ctl, const char *command, zmsg_t *reply)
{
    int frames = (int) zmsg_size (reply) - 3;
    char value [OTP_ARG_MAX + 1], key [OTP_ARG_MAX + 1];
    if (streq (command, "nodes")) {
        if (ctl->json)
            printf ("[");
        for (int i = 0; i < frames; i++)
            if (otp_msg_str (reply, 2 + i, value, sizeof value) == 0) {
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
    if (streq (command, "info")) {
        if (ctl->json)
            printf ("{");
        for (int i = 0; i + 1 < frames; i += 2)
            if (otp_msg_str (reply, 2 + i, key, sizeof key) == 0
            &&  otp_msg_str (reply, 3 + i, value, sizeof value) == 0) {
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
    else {
        //  ping, stop: one word
        if (frames > 0 && otp_msg_str (reply, 2, value, sizeof value) == 0) {
            if (ctl->json) {
                printf ("{\"result\":");
                ctl_json_string (value);
                printf ("}\n");
            }
            else
                printf ("%s\n", value);
        }
    }
}

int
ctl_node (ctl_t *ctl, const char *command)
{
    conn_t conn = { NULL };
    bool ping = streq (command, "ping");
    int status = 0;
    if (s_connect (ctl, &conn) == 0) {
        if (streq (command, "monitor")) {
            status = s_monitor (ctl, &conn);
            s_close (&conn);
            return status;
        }
        s_request (ctl, &conn, command, 1);
        zmsg_t *reply = s_receive (ctl, &conn, zclock_mono () + ctl->timeout_ms);
        char tag [8], id [8], state [8], error [OTP_ARG_MAX + 1];
        if (reply && zmsg_size (reply) >= 3 && otp_msg_str (reply, -1, tag, sizeof tag) == 0
        &&  streq (tag, "REP") && otp_msg_str (reply, 0, id, sizeof id) == 0 && streq (id, "1")
        &&  otp_msg_str (reply, 1, state, sizeof state) == 0) {
            if (streq (state, "ok"))
                s_print (ctl, command, reply);
            else {
                otp_msg_str (reply, 2, error, sizeof error);
                snprintf (conn.error, sizeof conn.error, "%s: %s", ctl->node, error);
                status = 1;
            }
        }
        else
        if (reply) {
            snprintf (conn.error, sizeof conn.error, "%s sent a reply we cannot read", ctl->node);
            status = 1;
        }
        else
            status = 1;
        zmsg_destroy (&reply);
    }
    else
        status = 1;
    s_close (&conn);
    if (status) {
        if (ping) {
            if (ctl->json)
                printf ("{\"result\":\"pang\"}\n");
            else
                printf ("pang\n");
        }
        fflush (stdout);
        fprintf (stderr, "otp-ctl: %s\n", conn.error);
    }
    return status;
}
