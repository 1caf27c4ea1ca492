/*  otp-gossip-tool - a test tool, not part of the product: plays the
    attacker and the bystander on a gossip network, with the announcement
    format of lib/otp_gossip.

    otp-gossip-tool sign --cookie C --node NAME@HOST [--host H] --port P
                         [--kind alive|leave] [--instance HEX32] [--seq N]
                         [--age MS] [--count N] [--out FILE] [common options]
        sends an announcement signed with C's key (a wrong cookie makes a
        forgery in the right format); --age stamps it MS in the past
        (negative: the future); --out also writes its bytes to FILE.
    otp-gossip-tool capture --cookie C [--from NAME@HOST] [--kind K]
                         [--timeout MS] --out FILE [common options]
        waits for an announcement that C's key verifies (from NAME, of kind
        K), writes its bytes to FILE and prints its fields.
    otp-gossip-tool send --in FILE [common options]
        sends FILE's bytes as they are (a replay).
    otp-gossip-tool show --in FILE --cookie C
        prints the fields of the announcement in FILE, or "unsigned".
    otp-gossip-tool listen --bind IP:PORT
        accepts TCP connections and prints "connection from IP:PORT" for
        each: where a forged announcement says a node is, nothing must
        connect.

    common options: --address A (default 233.252.1.32), --gossip-port P
    (default 45892), --if ADDRESS, --ttl N (default 1).                    */
#include "otp.h"
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    const char *cookie, *node, *host, *kind, *instance, *out, *in, *from, *address, *iface,
               *bind;
    int port, gossip_port, ttl, count, timeout_ms;
    long long age_ms;
    uint64_t sequence;
} options_t;

static void
s_print (const otp_gossip_t *msg)
{
    printf ("kind %s\nnode %s\nhost %s\nport %d\ninstance %s\nsequence %" PRIu64
            "\ntimestamp %" PRIu64 "\n", msg->kind == OTP_GOSSIP_LEAVE? "leave": "alive",
            msg->node, msg->host, msg->port, msg->instance, msg->sequence, msg->timestamp);
}

static int
s_write (const char *path, const uint8_t *data, size_t size)
{
    FILE *file = fopen (path, "wb");
    if (!file || fwrite (data, 1, size, file) != size) {
        if (file)
            fclose (file);
        otp_fatal ("cannot write %s", path);
    }
    fclose (file);
    return 0;
}

static size_t
s_read (const char *path, uint8_t *data, size_t size)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        otp_fatal ("cannot read %s", path);
    size_t n = fread (data, 1, size, file);
    fclose (file);
    return n;
}

static void
s_send (const options_t *opts, const uint8_t *data, size_t size)
{
    char error [256];
    int fd = otp_gossip_sender (opts->address, opts->iface, opts->ttl, error, sizeof error);
    if (fd < 0)
        otp_fatal ("%s", error);
    struct sockaddr_in to = { .sin_family = AF_INET,
                              .sin_port = htons ((uint16_t) opts->gossip_port) };
    inet_pton (AF_INET, opts->address, &to.sin_addr);
    if (sendto (fd, data, size, 0, (struct sockaddr *) &to, sizeof to) != (ssize_t) size)
        otp_fatal ("cannot send to %s:%d: %s", opts->address, opts->gossip_port, strerror (errno));
    close (fd);
}

static int
s_sign (const options_t *opts)
{
    if (!opts->cookie || !opts->node || !opts->port)
        otp_fatal ("sign needs --cookie, --node and --port");
    otp_gossip_t msg = {
        .kind = opts->kind && streq (opts->kind, "leave")? OTP_GOSSIP_LEAVE: OTP_GOSSIP_ALIVE,
        .port = opts->port,
        .sequence = opts->sequence
    };
    snprintf (msg.node, sizeof msg.node, "%s", opts->node);
    const char *host = opts->host? opts->host: strchr (opts->node, '@')? strchr (opts->node, '@') + 1: "";
    snprintf (msg.host, sizeof msg.host, "%s", host);
    if (opts->instance)
        snprintf (msg.instance, sizeof msg.instance, "%s", opts->instance);
    else {
        uint8_t random [16];
        randombytes_buf (random, sizeof random);
        sodium_bin2hex (msg.instance, sizeof msg.instance, random, sizeof random);
    }
    uint8_t key [OTP_GOSSIP_KEY_SIZE], data [OTP_GOSSIP_MAX];
    otp_gossip_key (key, opts->cookie);
    for (int i = 0; i < opts->count; i++) {
        msg.timestamp = (uint64_t) ((long long) zclock_time () - opts->age_ms);
        int size = otp_gossip_encode (&msg, key, data, sizeof data);
        if (size < 0)
            otp_fatal ("cannot encode that announcement (a bad node, host, port or instance)");
        s_send (opts, data, (size_t) size);
        if (opts->out)
            s_write (opts->out, data, (size_t) size);
        msg.sequence++;
        if (i + 1 < opts->count)
            zclock_sleep (100);
    }
    return 0;
}

static int
s_capture (const options_t *opts)
{
    if (!opts->cookie || !opts->out)
        otp_fatal ("capture needs --cookie and --out");
    char error [256];
    int fd = otp_gossip_receiver (opts->address, opts->gossip_port, opts->iface, error, sizeof error);
    if (fd < 0)
        otp_fatal ("%s", error);
    uint8_t key [OTP_GOSSIP_KEY_SIZE], data [OTP_GOSSIP_MAX + 1];
    otp_gossip_key (key, opts->cookie);
    int64_t deadline = zclock_mono () + opts->timeout_ms;
    while (zclock_mono () < deadline) {
        struct pollfd item = { .fd = fd, .events = POLLIN };
        if (poll (&item, 1, (int) (deadline - zclock_mono ())) <= 0)
            continue;
        ssize_t size = recv (fd, data, sizeof data, 0);
        otp_gossip_t msg;
        if (size <= 0 || (size_t) size > OTP_GOSSIP_MAX
        ||  otp_gossip_decode (data, (size_t) size, key, &msg) != OTP_GOSSIP_OK)
            continue;
        if ((opts->from && !streq (opts->from, msg.node))
        ||  (opts->kind && !streq (opts->kind, msg.kind == OTP_GOSSIP_LEAVE? "leave": "alive")))
            continue;
        s_write (opts->out, data, (size_t) size);
        s_print (&msg);
        close (fd);
        return 0;
    }
    close (fd);
    fprintf (stderr, "otp-gossip-tool: nothing captured in %d ms\n", opts->timeout_ms);
    return 1;
}

static int
s_listen (const options_t *opts)
{
    char ip [64];
    int port;
    if (!opts->bind || sscanf (opts->bind, "%63[^:]:%d", ip, &port) != 2)
        otp_fatal ("listen needs --bind IP:PORT");
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    if (inet_pton (AF_INET, ip, &sa.sin_addr) != 1
    ||  bind (fd, (struct sockaddr *) &sa, sizeof sa) || listen (fd, 64))
        otp_fatal ("cannot listen on %s: %s", opts->bind, strerror (errno));
    fprintf (stderr, "listening on %s\n", opts->bind);
    while (true) {
        struct sockaddr_in from;
        socklen_t size = sizeof from;
        int conn = accept (fd, (struct sockaddr *) &from, &size);
        if (conn < 0)
            continue;
        printf ("connection from %s:%d\n", inet_ntoa (from.sin_addr), ntohs (from.sin_port));
        fflush (stdout);
        close (conn);
    }
}

int
main (int argc, char *argv [])
{
    otp_log_init (argv [0]);
    otp_signal_cli ();
    if (argc < 2)
        otp_fatal ("usage: otp-gossip-tool sign|capture|send|show|listen [options]");
    const char *mode = argv [1];
    options_t opts = {
        .address = OTP_GOSSIP_GROUP, .gossip_port = OTP_GOSSIP_PORT, .ttl = 1, .count = 1,
        .timeout_ms = 5000, .sequence = 1, .iface = ""
    };
    static const struct option longopts [] = {
        { "cookie", required_argument, NULL, 'c' },
        { "node", required_argument, NULL, 'N' },
        { "host", required_argument, NULL, 'H' },
        { "port", required_argument, NULL, 'p' },
        { "kind", required_argument, NULL, 'k' },
        { "instance", required_argument, NULL, 'i' },
        { "seq", required_argument, NULL, 'q' },
        { "age", required_argument, NULL, 'a' },
        { "count", required_argument, NULL, 'n' },
        { "out", required_argument, NULL, 'o' },
        { "in", required_argument, NULL, 'I' },
        { "from", required_argument, NULL, 'f' },
        { "timeout", required_argument, NULL, 't' },
        { "address", required_argument, NULL, 'A' },
        { "gossip-port", required_argument, NULL, 'P' },
        { "if", required_argument, NULL, 'F' },
        { "ttl", required_argument, NULL, 'T' },
        { "bind", required_argument, NULL, 'b' },
        { NULL, 0, NULL, 0 }
    };
    optind = 2;
    int opt;
    while ((opt = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
            case 'c': opts.cookie = optarg; break;
            case 'N': opts.node = optarg; break;
            case 'H': opts.host = optarg; break;
            case 'p': opts.port = (int) otp_opt_int ("--port", optarg, 0, 65535); break;
            case 'k': opts.kind = optarg; break;
            case 'i': opts.instance = optarg; break;
            case 'q': opts.sequence = (uint64_t) otp_opt_int ("--seq", optarg, 0, LONG_MAX); break;
            case 'a': opts.age_ms = otp_opt_int ("--age", optarg, -86400000L * 365, 86400000L * 365); break;
            case 'n': opts.count = (int) otp_opt_int ("--count", optarg, 1, 1000); break;
            case 'o': opts.out = optarg; break;
            case 'I': opts.in = optarg; break;
            case 'f': opts.from = optarg; break;
            case 't': opts.timeout_ms = (int) otp_opt_int ("--timeout", optarg, 1, 3600000); break;
            case 'A': opts.address = optarg; break;
            case 'P': opts.gossip_port = (int) otp_opt_int ("--gossip-port", optarg, 1, 65535); break;
            case 'F': opts.iface = optarg; break;
            case 'T': opts.ttl = (int) otp_opt_int ("--ttl", optarg, 0, 255); break;
            case 'b': opts.bind = optarg; break;
            default: return 2;
        }
    }
    if (streq (mode, "sign"))
        return s_sign (&opts);
    if (streq (mode, "capture"))
        return s_capture (&opts);
    if (streq (mode, "listen"))
        return s_listen (&opts);
    if (streq (mode, "send") || streq (mode, "show")) {
        if (!opts.in)
            otp_fatal ("%s needs --in FILE", mode);
        uint8_t data [OTP_GOSSIP_MAX + 1];
        size_t size = s_read (opts.in, data, sizeof data);
        if (streq (mode, "send")) {
            s_send (&opts, data, size);
            return 0;
        }
        if (!opts.cookie)
            otp_fatal ("show needs --cookie");
        uint8_t key [OTP_GOSSIP_KEY_SIZE];
        otp_gossip_key (key, opts.cookie);
        otp_gossip_t msg;
        if (otp_gossip_decode (data, size, key, &msg) != OTP_GOSSIP_OK) {
            printf ("unsigned\n");
            return 1;
        }
        s_print (&msg);
        return 0;
    }
    otp_fatal ("unknown mode '%s' (sign, capture, send, show, listen)", mode);
}
