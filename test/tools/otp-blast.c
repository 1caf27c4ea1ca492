/*  otp-blast - a test and benchmark tool, not part of the product: the two
    sides of a slow-reader attack on a node (t0030, bench/attack).

    otp-blast sink -n NODE NAME [--delay MS]
        attaches NAME on NODE, says "ready" on stderr, and then never reads
        (the default) or reads one message every MS ms, counting; it prints
        the count and the bytes read on SIGTERM or once the connection is
        lost ("lost N BYTES"), and exits 0.
    otp-blast send -n NODE TO@TONODE COUNT SIZE
        sends COUNT messages of SIZE bytes to TO on TONODE as fast as its
        node takes them, then `ping`s the node (it has taken them all) and
        prints "sent COUNT"; exit 1 if a send fails.

    The cookie comes from OTP_COOKIE or --cookie.                          */
#include "otp.h"
#include <getopt.h>

static volatile sig_atomic_t s_stop = 0;
static void s_on_term (int sig) { (void) sig; s_stop = 1; }

static int
s_sink (otp_client_t *client, const char *name, int delay_ms)
{
    if (otp_client_attach (client, name)) {
        fprintf (stderr, "otp-blast: attach %s: %s\n", name, otp_client_error (client));
        return 1;
    }
    fprintf (stderr, "ready\n");
    uint64_t count = 0, bytes = 0;
    while (!s_stop) {
        if (delay_ms <= 0) {
            //  Never reads: only looks at whether the connection is there
            //  (the monitor socket, not the messages).
            zsock_t *monitor = otp_client_monitor_socket (client);
            zpoller_t *poller = zpoller_new (monitor, NULL);
            zpoller_wait (poller, 200);
            zpoller_destroy (&poller);
            //  otp_client_try would take a message: read the events here
            //  (libzmq's format: a frame of uint16 event, uint32 value). A
            //  handshake's success may still wait there from the attach.
            bool lost = false;
            while (zsock_events (monitor) & ZMQ_POLLIN) {
                zmsg_t *event = zmsg_recv (monitor);
                zframe_t *head = event? zmsg_first (event): NULL;
                uint16_t id = 0;
                if (head && zframe_size (head) == 6)
                    memcpy (&id, zframe_data (head), 2);
                zmsg_destroy (&event);
                if (id != ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
                    lost = true;
            }
            if (lost)
                break;
            continue;
        }
        otp_message_t *message = otp_client_receive (client, 1000);
        if (message) {
            count++;
            bytes += zframe_size (message->payload);
            otp_message_destroy (&message);
            zclock_sleep (delay_ms);
        }
        else
        if (otp_client_lost (client))
            break;
    }
    printf ("%s %" PRIu64 " %" PRIu64 "\n", s_stop? "stopped": "lost", count, bytes);
    return 0;
}

static int
s_send (otp_client_t *client, const char *target, long count, long size)
{
    char name [OTP_NAME_MAX + 1];
    const char *at = strchr (target, '@');
    if (!at || at == target || at - target > OTP_NAME_MAX)
        otp_fatal ("'%s' is not NAME@NODE", target);
    memcpy (name, target, (size_t) (at - target));
    name [at - target] = 0;
    byte *data = (byte *) malloc ((size_t) size);
    memset (data, 'x', (size_t) size);
    long sent = 0;
    for (; sent < count && !s_stop; sent++)
        if (otp_client_send (client, name, at + 1, data, (size_t) size)) {
            fprintf (stderr, "otp-blast: send %ld: %s\n", sent, otp_client_error (client));
            break;
        }
    free (data);
    bool ok = false;
    zmsg_t *reply = otp_client_command (client, "ping", NULL, &ok);
    zmsg_destroy (&reply);
    printf ("sent %ld\n", sent);
    return sent == count && ok? 0: 1;
}

int
main (int argc, char *argv [])
{
    otp_log_init (argv [0]);
    otp_signal_cli ();
    signal (SIGTERM, s_on_term);
    signal (SIGINT, s_on_term);
    const char *node = otp_env ("OTP_NODE_NAME", NULL), *cookie = otp_env ("OTP_COOKIE", NULL);
    int delay_ms = 0, timeout_ms = 10000;
    static const struct option longopts [] = {
        { "node", required_argument, NULL, 'n' },
        { "cookie", required_argument, NULL, 'c' },
        { "delay", required_argument, NULL, 'D' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "n:c:D:", longopts, NULL)) != -1) {
        switch (opt) {
            case 'n': node = optarg; break;
            case 'c': cookie = optarg; break;
            case 'D': delay_ms = (int) otp_opt_int ("--delay", optarg, 0, 3600000); break;
            default: return 2;
        }
    }
    argc -= optind, argv += optind;
    if (!node || !cookie || argc < 2
    ||  (!(streq (argv [0], "sink") && argc == 2) && !(streq (argv [0], "send") && argc == 4)))
        otp_fatal ("usage: otp-blast sink -n NODE NAME [--delay MS] | "
                   "otp-blast send -n NODE TO@TONODE COUNT SIZE");
    char error [1024];
    otp_client_t *client = otp_client_new (node, cookie, (int) otp_opt_int ("OTP_EPMD_PORT",
                                           otp_env ("OTP_EPMD_PORT", "4369"), 1, 65535),
                                           timeout_ms, error, sizeof error);
    if (!client)
        otp_fatal ("%s", error);
    int rc = streq (argv [0], "sink")? s_sink (client, argv [1], delay_ms)
           : s_send (client, argv [1], otp_opt_int ("COUNT", argv [2], 1, 100000000),
                     otp_opt_int ("SIZE", argv [3], 0, OTP_PAYLOAD_MAX));
    otp_client_destroy (&client);
    return rc;
}
