/*  otp-bench - the registry and messaging figures of bench/run, measured
    through the real daemons with the C API a user would use.

    otp-bench -n NODE register COUNT OTHER_NODE...
        registers COUNT unique names from one process on NODE, pipelined
        (at most 1000 in flight); prints the time until NODE acknowledged
        them all, and until every OTHER_NODE's replica holds them all.
    otp-bench -n NODE call ADDR@NODE2 COUNT
        COUNT calls, one after another; prints median and p99 round trip.
    otp-bench -n NODE send ADDR@NODE2 COUNT
        COUNT one-way messages to a `sink`, in windows of 5000 closed by a
        call; prints messages per second and how many arrived.
    otp-bench -n NODE sink NAME
        attaches NAME; counts messages; answers a call with the count.
    otp-bench -n NODE children COUNT PREFIX CMD [ARGS...]
        starts COUNT cluster children PREFIX1..PREFIXCOUNT, each named like
        its id, one after another through otp-sup (start-child); prints the
        time until all were started, and where they run.
    otp-bench cookie SECONDS
        no node: what a captured gossip datagram costs someone guessing the
        cookie offline. Signs one announcement as a node would, then for
        SECONDS each (at least one guess) tries wrong cookies against it,
        deriving the key as before the master key (BLAKE2b of the cookie)
        and as now (Argon2id, otp_kdf); prints the derivation time and the
        guesses per second on this core for both.
    otp-bench state-child
        no node: a cluster child (its messages on stdin, one per line) that
        checkpoints through the C API of lib/otp_state.h. `put SIZE COUNT`:
        COUNT acknowledged checkpoints of SIZE bytes, one after another;
        answers "ok COUNT MEDIAN_US P99_US PER_S DIGEST" (DIGEST: of the
        last one). `cast SIZE COUNT`: COUNT casts closed by one put;
        answers "ok COUNT PER_S". `sum`: "SIZE DIGEST RELEASE" of the state
        it was started with ("none" without one).                         */
#include "otp.h"
#include "otp_supervisor.h"
#include <getopt.h>
#include <sodium.h>

#define WINDOW 1000

static int
s_cmp (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y? -1: x > y;
}

static int64_t
s_now_us (void)
{
    return zclock_usecs ();
}

static int64_t
s_names_on (otp_client_t *client)
{
    char error [256];
    zmsg_t *info = otp_reg_info (client, error, sizeof error);
    int64_t names = -1;
    char key [64], value [64];
    for (int i = 0; info && i + 1 < (int) zmsg_size (info); i += 2)
        if (otp_msg_str (info, i - 1, key, sizeof key) == 0 && streq (key, "names")
        &&  otp_msg_str (info, i, value, sizeof value) == 0)
            names = atoll (value);
    zmsg_destroy (&info);
    return names;
}

static int
s_register (otp_client_t *client, long count, char **others, int nothers,
            const char *cookie, int epmd_port)
{
    otp_client_t *peers [16];
    char error [1024];
    for (int i = 0; i < nothers && i < 16; i++) {
        peers [i] = otp_client_new (others [i], cookie, epmd_port, 5000, error, sizeof error);
        if (!peers [i])
            otp_fatal ("%s", error);
    }
    int64_t start = s_now_us ();
    long sent = 0, acked = 0, failed = 0;
    while (acked + failed < count) {
        while (sent < count && sent - acked - failed < WINDOW) {
            char name [32], ref [32];
            snprintf (name, sizeof name, "bench-%ld", sent);
            snprintf (ref, sizeof ref, "r%ld", sent);
            zmsg_t *request = zmsg_new ();
            zmsg_addstr (request, "register");
            zmsg_addstr (request, name);
            zmsg_addstr (request, "");
            zframe_t *payload = zmsg_encode (request);
            zmsg_destroy (&request);
            if (otp_client_send_request (client, OTP_REG_PROCESS, otp_client_node (client),
                                         zframe_data (payload), zframe_size (payload), ref))
                otp_fatal ("%s", otp_client_error (client));
            zframe_destroy (&payload);
            sent++;
        }
        otp_message_t *reply = otp_client_receive (client, 10000);
        if (!reply)
            otp_fatal ("registration stalled: %s", otp_client_error (client));
        zmsg_t *values = otp_payload_decode (reply->payload);
        char *status = values? zmsg_popstr (values): NULL;
        if (status && streq (status, "ok"))
            acked++;
        else
            failed++;
        free (status);
        zmsg_destroy (&values);
        otp_message_destroy (&reply);
    }
    int64_t local = s_now_us () - start;
    //  Visible everywhere: every other replica counts them all.
    int64_t everywhere = -1;
    while (s_now_us () - start < 60 * 1000000LL) {
        bool all = true;
        for (int i = 0; i < nothers && all; i++)
            all = s_names_on (peers [i]) >= count;
        if (all) {
            everywhere = s_now_us () - start;
            break;
        }
        zclock_sleep (5);
    }
    printf ("registered %ld names (%ld refused): acknowledged in %.0f ms (%.0f /s); "
            "on every replica in %.0f ms\n", acked, failed, local / 1000.0,
            acked / (local / 1e6), everywhere / 1000.0);
    for (int i = 0; i < nothers && i < 16; i++)
        otp_client_destroy (&peers [i]);
    return failed? 1: 0;
}

static void
s_split (const char *target, char *addr, char *node)
{
    const char *at = strchr (target, '@');
    if (!at || at - target > OTP_NAME_MAX)
        otp_fatal ("'%s' is not ADDR@NODE", target);
    snprintf (addr, OTP_NAME_MAX + 1, "%.*s", (int) (at - target), target);
    snprintf (node, OTP_NODE_MAX + 1, "%s", at + 1);
}

static int
s_call (otp_client_t *client, const char *target, long count)
{
    char addr [OTP_NAME_MAX + 1], node [OTP_NODE_MAX + 1];
    s_split (target, addr, node);
    int64_t *rtt = (int64_t *) malloc ((size_t) count * sizeof (int64_t));
    for (long i = 0; i < count; i++) {
        int64_t start = s_now_us ();
        zframe_t *reply = otp_client_call (client, addr, node, "ping", 4, 5000);
        if (!reply)
            otp_fatal ("call %ld: %s", i, otp_client_error (client));
        rtt [i] = s_now_us () - start;
        zframe_destroy (&reply);
    }
    qsort (rtt, (size_t) count, sizeof (int64_t), s_cmp);
    printf ("%ld calls: median %" PRId64 " us, p99 %" PRId64 " us\n", count,
            rtt [count / 2], rtt [(count * 99) / 100]);
    free (rtt);
    return 0;
}

static int
s_send (otp_client_t *client, const char *target, long count)
{
    char addr [OTP_NAME_MAX + 1], node [OTP_NODE_MAX + 1];
    s_split (target, addr, node);
    int64_t start = s_now_us ();
    long received = 0;
    for (long sent = 0; sent < count; ) {
        for (long i = 0; i < 5000 && sent < count; i++, sent++)
            if (otp_client_send (client, addr, node, "0123456789abcdef", 16))
                otp_fatal ("%s", otp_client_error (client));
        //  One connection and one path keep order: the count comes back
        //  after every message sent before it has arrived.
        zframe_t *reply = otp_client_call (client, addr, node, "count", 5, 10000);
        if (!reply)
            otp_fatal ("%s", otp_client_error (client));
        char *text = zframe_strdup (reply);
        received = atol (text);
        free (text);
        zframe_destroy (&reply);
    }
    int64_t elapsed = s_now_us () - start;
    printf ("%ld messages sent, %ld arrived, in %.0f ms: %.0f /s\n", count, received,
            elapsed / 1000.0, received / (elapsed / 1e6));
    return 0;
}

static int
s_sink (otp_client_t *client, const char *name)
{
    if (otp_client_attach (client, name))
        otp_fatal ("%s", otp_client_error (client));
    fprintf (stderr, "ready\n");
    long count = 0;
    while (true) {
        otp_message_t *message = otp_client_receive (client, -1);
        if (!message)
            otp_fatal ("%s", otp_client_error (client));
        if (streq (message->kind, "call")) {
            char text [32];
            snprintf (text, sizeof text, "%ld", count);
            otp_client_reply (client, message, text, strlen (text));
        }
        else
            count++;
        otp_message_destroy (&message);
    }
}

static int
s_children (otp_client_t *client, long count, const char *prefix, char **argv, int argc)
{
    zhashx_t *where = zhashx_new ();
    zhashx_set_destructor (where, (zhashx_destructor_fn *) zstr_free);
    int64_t start = s_now_us ();
    for (long i = 1; i <= count; i++) {
        otp_childspec_t *spec = otp_childspec_new ();
        char id [OTP_CHILD_ID_MAX + 1], error [1024], node [OTP_NODE_MAX + 1];
        snprintf (id, sizeof id, "%s%ld", prefix, i);
        if (otp_childspec_set (spec, "id", id, error, sizeof error)
        ||  otp_childspec_set (spec, "name", id, error, sizeof error)
        ||  otp_childspec_set (spec, "command", argv [0], error, sizeof error))
            otp_fatal ("%s", error);
        for (int a = 1; a < argc; a++)
            if (otp_childspec_set (spec, "arg", argv [a], error, sizeof error))
                otp_fatal ("%s", error);
        long pid;
        if (otp_sup_start_child (client, spec, node, &pid, error, sizeof error))
            otp_fatal ("%s: %s", id, error);
        otp_childspec_destroy (&spec);
        char *seen = (char *) zhashx_lookup (where, node);
        char *more = zsys_sprintf ("%ld", (seen? atol (seen): 0) + 1);
        zhashx_update (where, node, more);     //  the table owns it now
    }
    int64_t took = s_now_us () - start;
    printf ("%ld children started in %" PRId64 " ms (%.0f /s):", count, took / 1000,
            count * 1e6 / (double) (took? took: 1));
    zlistx_t *nodes = zhashx_keys (where);
    otp_names_sort (nodes);
    for (char *node = (char *) zlistx_first (nodes); node; node = (char *) zlistx_next (nodes))
        printf (" %s %s", node, (char *) zhashx_lookup (where, node));
    printf ("\n");
    zlistx_destroy (&nodes);
    zhashx_destroy (&where);
    return 0;
}

//  The gossip key as otp-labs derived it before the master key (v1).
static void
s_key_v1 (uint8_t key [OTP_GOSSIP_KEY_SIZE], const char *cookie)
{
    crypto_generichash (key, OTP_GOSSIP_KEY_SIZE, (const unsigned char *) cookie, strlen (cookie),
                        (const unsigned char *) "otp-labs/gossip/v1", 18);
}

static void
s_key_v2 (uint8_t key [OTP_GOSSIP_KEY_SIZE], const char *cookie)
{
    uint8_t master [OTP_KDF_KEY_SIZE];
    if (otp_kdf_derive (master, cookie, otp_kdf_cluster ()))
        otp_fatal ("Argon2id failed");
    otp_kdf_subkey (key, OTP_GOSSIP_KEY_SIZE, master, "otp-labs/gossip/v2");
}

//  Guesses against `datagram` for `seconds`; returns guesses per second.
static double
s_guess (const uint8_t *datagram, size_t size, double seconds,
         void (*derive) (uint8_t *, const char *))
{
    int64_t start = s_now_us (), stop = start + (int64_t) (seconds * 1e6);
    long guesses = 0;
    char guess [64];
    uint8_t key [OTP_GOSSIP_KEY_SIZE];
    otp_gossip_t msg;
    do {
        snprintf (guess, sizeof guess, "guess-%020ld", guesses++);
        derive (key, guess);
        if (otp_gossip_decode (datagram, size, key, &msg) == OTP_GOSSIP_OK)
            otp_fatal ("a wrong guess verified");
    } while (s_now_us () < stop);
    return (double) guesses * 1e6 / (double) (s_now_us () - start);
}

static int
s_cookie (double seconds)
{
    char cookie [OTP_COOKIE_MADE + 1];
    otp_cookie_make (cookie);
    otp_gossip_t msg = { .kind = OTP_GOSSIP_ALIVE, .port = 9100,
                         .instance = "0123456789abcdef0123456789abcdef",
                         .timestamp = 1796000000000, .sequence = 1 };
    snprintf (msg.node, sizeof msg.node, "a@10.0.0.1");
    snprintf (msg.host, sizeof msg.host, "10.0.0.1");
    uint8_t v1 [OTP_GOSSIP_MAX], v2 [OTP_GOSSIP_MAX], key [OTP_GOSSIP_KEY_SIZE];
    s_key_v1 (key, cookie);
    int size1 = otp_gossip_encode (&msg, key, v1, sizeof v1);
    int64_t t0 = s_now_us ();
    s_key_v2 (key, cookie);
    double derive_ms = (double) (s_now_us () - t0) / 1000.0;
    int size2 = otp_gossip_encode (&msg, key, v2, sizeof v2);
    if (size1 < 0 || size2 < 0)
        otp_fatal ("cannot sign the announcement");
    //  The node's own path: the key it really uses verifies the datagram.
    otp_gossip_key (key, cookie);
    if (otp_gossip_decode (v2, (size_t) size2, key, &msg) != OTP_GOSSIP_OK)
        otp_fatal ("otp_gossip_key is not the v2 derivation");
    double before = s_guess (v1, (size_t) size1, seconds, s_key_v1);
    double after = s_guess (v2, (size_t) size2, seconds, s_key_v2);
    printf ("derive %.1f ms; datagram %d bytes; guesses/s per core: v1 %.0f, v2 %.1f (%.0fx fewer)\n",
            derive_ms, size2, before, after, before / after);
    return 0;
}

//  The first 8 bytes of BLAKE2b of the bytes, in hex.
static void
s_digest (const void *data, size_t size, char hex [17])
{
    unsigned char hash [8];
    crypto_generichash (hash, sizeof hash, (const unsigned char *) data, size, NULL, 0);
    sodium_bin2hex (hex, 17, hash, sizeof hash);
}

//  The i-th state of SIZE bytes: different each time, and not printable
//  (so that it travels as base64, as most real states would).
static void
s_fill (uint8_t *data, size_t size, int64_t i)
{
    for (size_t j = 0; j < size; j++)
        data [j] = (uint8_t) ((j * 131 + (size_t) i * 7) ^ 0x80);
}

static int
s_state_child (void)
{
    setvbuf (stdout, NULL, _IOLBF, 0);
    char line [256];
    while (fgets (line, sizeof line, stdin)) {
        char verb [16];
        long size = 0, count = 0;
        int fields = sscanf (line, "%15s %ld %ld", verb, &size, &count);
        if (fields >= 1 && streq (verb, "sum")) {
            size_t got;
            char release [64], hex [17];
            void *state = otp_state_get (&got, release, sizeof release);
            if (!state)
                printf ("none\n");
            else {
                s_digest (state, got, hex);
                printf ("%zu %s %s\n", got, hex, release);
            }
            free (state);
            continue;
        }
        if (fields != 3 || size < 0 || size > OTP_STATE_MAX || count < 1 || count > 10000000
        ||  !(streq (verb, "put") || streq (verb, "cast"))) {
            printf ("error: put SIZE COUNT | cast SIZE COUNT | sum\n");
            continue;
        }
        uint8_t *data = (uint8_t *) malloc ((size_t) size + 1);
        int64_t *took = (int64_t *) malloc ((size_t) count * sizeof (int64_t));
        char error [256] = "the checkpoint channel cannot be written", hex [17] = "";
        otp_state_code_t code = OTP_STATE_BAD;
        int64_t start = s_now_us ();
        long done = 0;
        bool cast = streq (verb, "cast");
        for (long i = 0; i < count; i++) {
            s_fill (data, (size_t) size, i);
            int64_t t0 = s_now_us ();
            int rc = cast && i < count - 1? otp_state_cast (data, (size_t) size)
                   : otp_state_put (data, (size_t) size, &code, error, sizeof error) > 0? 0: -1;
            if (rc) {
                printf ("error %s %s\n", otp_state_code_name (code), error);
                break;
            }
            took [done++] = s_now_us () - t0;
            if (i == count - 1)
                s_digest (data, (size_t) size, hex);
        }
        double seconds = (double) (s_now_us () - start) / 1e6;
        if (done == count && cast)
            printf ("ok %ld %.0f\n", done, (double) done / seconds);
        else
        if (done == count) {
            qsort (took, (size_t) done, sizeof took [0], s_cmp);
            printf ("ok %ld %" PRId64 " %" PRId64 " %.0f %s\n", done, took [done / 2],
                    took [(done * 99) / 100], (double) done / seconds, hex);
        }
        free (took);
        free (data);
    }
    return 0;
}

int
main (int argc, char *argv [])
{
    otp_log_init (argv [0]);
    otp_signal_cli ();
    if (argc == 3 && streq (argv [1], "cookie"))
        return s_cookie ((double) otp_opt_int ("SECONDS", argv [2], 1, 600));
    if (argc == 2 && streq (argv [1], "state-child"))
        return s_state_child ();
    const char *node = otp_env ("OTP_NODE_NAME", NULL);
    int opt;
    while ((opt = getopt (argc, argv, "+n:")) != -1)
        if (opt == 'n')
            node = optarg;
    if (!node || optind + 2 > argc)
        otp_fatal ("usage: otp-bench -n NODE register COUNT NODE... | call ADDR@NODE COUNT | "
                   "send ADDR@NODE COUNT | sink NAME | children COUNT PREFIX CMD... | cookie SECONDS | "
                   "state-child");
    char cookie [OTP_COOKIE_MAX + 1], error [1024];
    if (otp_cookie_load (otp_env ("OTP_COOKIE", NULL), otp_env ("OTP_COOKIE_FILE", NULL),
                         cookie, sizeof cookie, error, sizeof error))
        otp_fatal ("%s", error);
    int epmd_port = (int) otp_opt_int ("OTP_EPMD_PORT", otp_env ("OTP_EPMD_PORT", "4369"), 1, 65535);
    otp_client_t *client = otp_client_new (node, cookie, epmd_port, 10000, error, sizeof error);
    if (!client)
        otp_fatal ("%s", error);
    const char *mode = argv [optind];
    int status;
    if (streq (mode, "register"))
        status = s_register (client, otp_opt_int ("COUNT", argv [optind + 1], 1, 10000000),
                             argv + optind + 2, argc - optind - 2, cookie, epmd_port);
    else
    if (streq (mode, "call") && optind + 3 <= argc)
        status = s_call (client, argv [optind + 1], otp_opt_int ("COUNT", argv [optind + 2], 1, 10000000));
    else
    if (streq (mode, "send") && optind + 3 <= argc)
        status = s_send (client, argv [optind + 1], otp_opt_int ("COUNT", argv [optind + 2], 1, 100000000));
    else
    if (streq (mode, "sink"))
        status = s_sink (client, argv [optind + 1]);
    else
    if (streq (mode, "children") && optind + 4 <= argc)
        status = s_children (client, otp_opt_int ("COUNT", argv [optind + 1], 1, 1000000),
                             argv [optind + 2], argv + optind + 3, argc - optind - 3);
    else
        otp_fatal ("unknown mode '%s'", mode);
    otp_client_destroy (&client);
    return status;
}
