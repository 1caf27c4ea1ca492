/*  otp-squat - a test tool, not part of the product: a local user holding
    names on otp-epmd. Registers COUNT names (PREFIX0, PREFIX1, ...) on
    ENDPOINT, one connection each (otp-epmd allows one name a connection),
    and keeps them alive with an ALIVE every 200 ms for SECONDS, or until
    SIGTERM. Prints one line once every name was answered:
        registered N refused N
    and the first refusal's reason on stderr.

    usage: otp-squat [--count N] [--port P] [--hold SECONDS] ENDPOINT PREFIX
    With --count 1 the name is PREFIX itself.                               */
#include "otp.h"
#include <getopt.h>

static void
s_alive (zsock_t *dealer, const char *name, int port)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "ALIVE");
    zmsg_addstr (msg, name);
    zmsg_addstrf (msg, "%d", port);
    zmsg_addstr (msg, "squatter");
    otp_send (&msg, dealer);
}

int
main (int argc, char *argv [])
{
    otp_log_init (argv [0]);
    int sigfd = otp_signal_init ();
    int count = 1, port = 1, hold = 60;
    static const struct option longopts [] = {
        { "count", required_argument, NULL, 'n' },
        { "port", required_argument, NULL, 'p' },
        { "hold", required_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "+n:p:h:", longopts, NULL)) != -1) {
        if (opt == 'n') count = (int) otp_opt_int ("--count", optarg, 1, 100000);
        else if (opt == 'p') port = (int) otp_opt_int ("--port", optarg, 1, 65535);
        else if (opt == 'h') hold = (int) otp_opt_int ("--hold", optarg, 0, 86400);
        else return 2;
    }
    if (argc - optind != 2)
        otp_fatal ("usage: otp-squat [--count N] [--port P] [--hold SECONDS] ENDPOINT PREFIX");
    const char *endpoint = argv [optind], *prefix = argv [optind + 1];
    zsock_t **dealers = (zsock_t **) zmalloc (sizeof (zsock_t *) * (size_t) count);
    char (*names) [OTP_NAME_MAX + 1] = zmalloc ((size_t) count * (OTP_NAME_MAX + 1));
    bool *answered = (bool *) zmalloc ((size_t) count);
    //  One poll item a connection, and every ready one is read on each
    //  pass: a poller that hands back the first ready socket starves the
    //  last ones (the first always have another reply waiting) on a loaded
    //  machine, and the line below never came.
    zmq_pollitem_t *items = (zmq_pollitem_t *) zmalloc (sizeof (zmq_pollitem_t) * (size_t) (count + 1));
    for (int i = 0; i < count; i++) {
        if (count == 1)
            snprintf (names [i], OTP_NAME_MAX + 1, "%s", prefix);
        else
            snprintf (names [i], OTP_NAME_MAX + 1, "%s%d", prefix, i);
        dealers [i] = zsock_new (ZMQ_DEALER);
        zsock_set_linger (dealers [i], 0);
        zsock_set_sndhwm (dealers [i], 4);
        zsock_connect (dealers [i], "%s", endpoint);
        items [i] = (zmq_pollitem_t) { zsock_resolve (dealers [i]), 0, ZMQ_POLLIN, 0 };
    }
    items [count] = (zmq_pollitem_t) { NULL, sigfd, ZMQ_POLLIN, 0 };
    int registered = 0, refused = 0, pending = count;
    int64_t deadline = zclock_mono () + (int64_t) hold * 1000, next = 0;
    while (zclock_mono () < deadline) {
        if (zclock_mono () >= next) {
            for (int i = 0; i < count; i++)
                s_alive (dealers [i], names [i], port);
            next = zclock_mono () + 200;
        }
        if (zmq_poll (items, count + 1, 50) <= 0)
            continue;
        if (items [count].revents & ZMQ_POLLIN)
            break;
        for (int i = 0; i < count; i++) {
            if (!(items [i].revents & ZMQ_POLLIN))
                continue;
            while (zsock_events (dealers [i]) & ZMQ_POLLIN) {
                zmsg_t *reply = zmsg_recv (dealers [i]);
                if (!reply)
                    break;
                if (!answered [i]) {
                    answered [i] = true;
                    pending--;
                    if (zframe_streq (zmsg_first (reply), "OK"))
                        registered++;
                    else {
                        if (!refused) {
                            char *reason = zframe_strdup (zmsg_last (reply));
                            fprintf (stderr, "otp-squat: %s refused: %s\n", names [i], reason);
                            free (reason);
                        }
                        refused++;
                    }
                    if (pending == 0) {
                        printf ("registered %d refused %d\n", registered, refused);
                        fflush (stdout);
                    }
                }
                zmsg_destroy (&reply);
            }
        }
    }
    if (pending)
        printf ("registered %d refused %d unanswered %d\n", registered, refused, pending);
    free (items);
    for (int i = 0; i < count; i++)
        zsock_destroy (&dealers [i]);
    free (dealers);
    free (names);
    free (answered);
    return 0;
}
