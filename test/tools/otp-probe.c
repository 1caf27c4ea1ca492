/*  otp-probe - a test tool, not part of the product: sends one message of
    arbitrary frames to a ZeroMQ endpoint (optionally over CURVE with a
    cookie's keys) and prints the frames of the reply, one per line. The
    bats suites use it to feed daemons malformed and oversized input.

    usage: otp-probe [--cookie C] [--identity ID] [--timeout MS] [--count N]
                     ENDPOINT FRAME...
    A FRAME is literal text, or @big:N (N bytes of 'x'), or @hex:HEX, or
    @empty (a zero-length frame).                                           */
#include "otp.h"
#include <getopt.h>

static zframe_t *
s_frame (const char *spec)
{
    if (strncmp (spec, "@big:", 5) == 0) {
        long size = otp_opt_int ("@big", spec + 5, 0, 64L << 20);
        zframe_t *frame = zframe_new (NULL, (size_t) size);
        memset (zframe_data (frame), 'x', (size_t) size);
        return frame;
    }
    if (strncmp (spec, "@hex:", 5) == 0) {
        size_t len = strlen (spec + 5) / 2;
        zframe_t *frame = zframe_new (NULL, len);
        for (size_t i = 0; i < len; i++) {
            unsigned int value;
            sscanf (spec + 5 + 2 * i, "%2x", &value);
            zframe_data (frame) [i] = (byte) value;
        }
        return frame;
    }
    if (streq (spec, "@empty"))
        return zframe_new_empty ();
    return zframe_from (spec);
}

int
main (int argc, char *argv [])
{
    otp_log_init (argv [0]);
    otp_signal_cli ();
    const char *cookie = NULL, *identity = NULL;
    int timeout = 1000, count = 1;
    static const struct option longopts [] = {
        { "cookie", required_argument, NULL, 'c' },
        { "timeout", required_argument, NULL, 't' },
        { "count", required_argument, NULL, 'n' },
        { "identity", required_argument, NULL, 'i' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "+c:t:n:i:", longopts, NULL)) != -1) {
        if (opt == 'c') cookie = optarg;
        else if (opt == 't') timeout = (int) otp_opt_int ("--timeout", optarg, 1, 600000);
        else if (opt == 'i') identity = optarg;
        else if (opt == 'n') count = (int) otp_opt_int ("--count", optarg, 1, 1000000);
        else return 2;
    }
    if (argc - optind < 1)
        otp_fatal ("usage: otp-probe [--cookie C] [--timeout MS] [--count N] ENDPOINT FRAME...");
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_linger (dealer, 1000);
    zsock_set_sndtimeo (dealer, timeout);
    if (cookie) {
        otp_keys_t keys;
        otp_keys_from_cookie (&keys, cookie);
        otp_auth_client (dealer, &keys);
    }
    if (identity)
        zsock_set_identity (dealer, identity);     //  to speak as a peer node
    if (zsock_connect (dealer, "%s", argv [optind]))
        otp_fatal ("cannot connect to %s", argv [optind]);
    for (int i = 0; i < count; i++) {
        zmsg_t *msg = zmsg_new ();
        for (int arg = optind + 1; arg < argc; arg++) {
            zframe_t *frame = s_frame (argv [arg]);
            zmsg_append (msg, &frame);
        }
        if (otp_send (&msg, dealer))
            otp_fatal ("cannot send to %s", argv [optind]);
    }
    zpoller_t *poller = zpoller_new (dealer, NULL);
    int status = 1;
    if (zpoller_wait (poller, timeout) == dealer) {
        zmsg_t *reply = zmsg_recv (dealer);
        for (zframe_t *frame = zmsg_first (reply); frame; frame = zmsg_next (reply))
            printf ("%.*s\n", (int) zframe_size (frame), (char *) zframe_data (frame));
        zmsg_destroy (&reply);
        status = 0;
    }
    else
        fprintf (stderr, "otp-probe: no reply within %d ms\n", timeout);
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    return status;
}
