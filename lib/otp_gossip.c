#include "otp_gossip.h"
#include "otp_auth.h"
#include "otp_kdf.h"
#include "otp_log.h"
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAGIC           "OTPG"
#define FIXED           40      //  magic .. instance; the name's length byte follows

//  Offsets of the fixed part.
enum { AT_VERSION = 4, AT_KIND = 5, AT_PORT = 6, AT_TIMESTAMP = 8, AT_SEQUENCE = 16,
       AT_INSTANCE = 24 };

void
otp_gossip_key (uint8_t key [OTP_GOSSIP_KEY_SIZE], const char *cookie)
{
    uint8_t master [OTP_KDF_KEY_SIZE];
    if (otp_kdf_master (master, cookie))
        otp_fatal ("cannot derive the cluster's keys (Argon2id needs %u MiB)", OTP_KDF_MEMLIMIT >> 20);
    otp_kdf_subkey (key, OTP_GOSSIP_KEY_SIZE, master, "otp-labs/gossip/v2");
    sodium_memzero (master, sizeof master);
}

static void
s_put64 (uint8_t *at, uint64_t value)
{
    for (int i = 7; i >= 0; i--, value >>= 8)
        at [i] = (uint8_t) value;
}

static uint64_t
s_get64 (const uint8_t *at)
{
    uint64_t value = 0;
    for (int i = 0; i < 8; i++)
        value = value << 8 | at [i];
    return value;
}

int
otp_gossip_encode (const otp_gossip_t *self, const uint8_t key [OTP_GOSSIP_KEY_SIZE],
                   uint8_t *buffer, size_t size)
{
    char name [OTP_NAME_MAX + 1], name_host [OTP_HOST_MAX + 1];
    size_t name_len = strlen (self->node), host_len = strlen (self->host);
    size_t total = FIXED + 1 + name_len + 1 + host_len + OTP_GOSSIP_MAC_SIZE;
    size_t bin_len = 0;
    if ((self->kind != OTP_GOSSIP_ALIVE && self->kind != OTP_GOSSIP_LEAVE)
    ||  self->port < 1 || self->port > 65535
    ||  otp_node_split (self->node, name, sizeof name, name_host, sizeof name_host)
    ||  !otp_host_valid (self->host)
    ||  strlen (self->instance) != 32 || total > size)
        return -1;
    memcpy (buffer, MAGIC, 4);
    buffer [AT_VERSION] = OTP_GOSSIP_VERSION;
    buffer [AT_KIND] = (uint8_t) self->kind;
    buffer [AT_PORT] = (uint8_t) (self->port >> 8);
    buffer [AT_PORT + 1] = (uint8_t) self->port;
    s_put64 (buffer + AT_TIMESTAMP, self->timestamp);
    s_put64 (buffer + AT_SEQUENCE, self->sequence);
    if (sodium_hex2bin (buffer + AT_INSTANCE, 16, self->instance, 32, NULL, &bin_len, NULL)
    ||  bin_len != 16)
        return -1;
    uint8_t *at = buffer + FIXED;
    *at++ = (uint8_t) name_len;
    memcpy (at, self->node, name_len);
    at += name_len;
    *at++ = (uint8_t) host_len;
    memcpy (at, self->host, host_len);
    at += host_len;
    crypto_auth (at, buffer, (unsigned long long) (at - buffer), key);
    return (int) total;
}

//  Reads a length-prefixed string at `*at`, within `end`; -1 if it does not fit.
static int
s_string (const uint8_t **at, const uint8_t *end, char *out, size_t out_size)
{
    if (*at >= end)
        return -1;
    size_t len = **at;
    if (len == 0 || len >= out_size || (size_t) (end - *at - 1) < len)
        return -1;
    memcpy (out, *at + 1, len);
    out [len] = 0;
    if (strlen (out) != len)
        return -1;          //  a NUL inside
    *at += 1 + len;
    return 0;
}

otp_gossip_status_t
otp_gossip_decode (const uint8_t *data, size_t size, const uint8_t key [OTP_GOSSIP_KEY_SIZE],
                   otp_gossip_t *self)
{
    //  Nothing is read from a datagram before its MAC is known good.
    if (size < OTP_GOSSIP_MIN || size > OTP_GOSSIP_MAX
    ||  memcmp (data, MAGIC, 4) != 0 || data [AT_VERSION] != OTP_GOSSIP_VERSION)
        return OTP_GOSSIP_UNSIGNED;
    const uint8_t *mac = data + size - OTP_GOSSIP_MAC_SIZE;
    if (crypto_auth_verify (mac, data, (unsigned long long) (mac - data), key) != 0)
        return OTP_GOSSIP_UNSIGNED;

    otp_gossip_t msg;
    memset (&msg, 0, sizeof msg);
    msg.kind = data [AT_KIND];
    msg.port = data [AT_PORT] << 8 | data [AT_PORT + 1];
    msg.timestamp = s_get64 (data + AT_TIMESTAMP);
    msg.sequence = s_get64 (data + AT_SEQUENCE);
    sodium_bin2hex (msg.instance, sizeof msg.instance, data + AT_INSTANCE, 16);
    const uint8_t *at = data + FIXED;
    char name [OTP_NAME_MAX + 1], name_host [OTP_HOST_MAX + 1];
    if ((msg.kind != OTP_GOSSIP_ALIVE && msg.kind != OTP_GOSSIP_LEAVE)
    ||  msg.port == 0 || msg.sequence == 0
    ||  s_string (&at, mac, msg.node, sizeof msg.node)
    ||  s_string (&at, mac, msg.host, sizeof msg.host)
    ||  at != mac
    ||  otp_node_split (msg.node, name, sizeof name, name_host, sizeof name_host)
    ||  !otp_host_valid (msg.host))
        return OTP_GOSSIP_INVALID;
    *self = msg;
    return OTP_GOSSIP_OK;
}

//  --------------------------------------------------------------------------
//  The replay guard

typedef struct {
    char instance [33];
    uint64_t sequence;
    uint64_t timestamp;         //  the sender's, of the last accepted
    uint64_t accepted;          //  ours, when it was accepted
} seen_t;

struct _otp_gossip_guard_t {
    zhashx_t *seen;             //  node name -> seen_t
    uint64_t window;
};

static void
s_seen_free (void **item)
{
    free (*item);
    *item = NULL;
}

otp_gossip_guard_t *
otp_gossip_guard_new (int window_ms)
{
    otp_gossip_guard_t *self = (otp_gossip_guard_t *) zmalloc (sizeof (otp_gossip_guard_t));
    self->seen = zhashx_new ();
    zhashx_set_destructor (self->seen, s_seen_free);
    self->window = (uint64_t) window_ms;
    return self;
}

void
otp_gossip_guard_destroy (otp_gossip_guard_t **self_p)
{
    if (*self_p) {
        zhashx_destroy (&(*self_p)->seen);
        free (*self_p);
        *self_p = NULL;
    }
}

bool
otp_gossip_guard_accept (otp_gossip_guard_t *self, const otp_gossip_t *msg, uint64_t now)
{
    //  Outside the window: an old capture, or a clock we cannot trust.
    if (msg->timestamp + self->window < now || msg->timestamp > now + self->window)
        return false;
    seen_t *seen = (seen_t *) zhashx_lookup (self->seen, msg->node);
    if (seen) {
        if (streq (seen->instance, msg->instance)) {
            if (msg->sequence <= seen->sequence)
                return false;
        }
        else
        //  Another instance must be newer than the one we know: a node that
        //  restarts stamps its first announcement later than its last one.
        if (msg->timestamp <= seen->timestamp)
            return false;
    }
    else {
        seen = (seen_t *) zmalloc (sizeof (seen_t));
        zhashx_insert (self->seen, msg->node, seen);
    }
    snprintf (seen->instance, sizeof seen->instance, "%s", msg->instance);
    seen->sequence = msg->sequence;
    seen->timestamp = msg->timestamp;
    seen->accepted = now;
    return true;
}

void
otp_gossip_guard_expire (otp_gossip_guard_t *self, uint64_t now)
{
    zlistx_t *old = zlistx_new ();
    for (seen_t *seen = (seen_t *) zhashx_first (self->seen); seen;
         seen = (seen_t *) zhashx_next (self->seen))
        if (seen->accepted + 2 * self->window < now)
            zlistx_add_end (old, (void *) zhashx_cursor (self->seen));
    for (const char *name = (const char *) zlistx_first (old); name;
         name = (const char *) zlistx_next (old))
        zhashx_delete (self->seen, name);
    zlistx_destroy (&old);
}

size_t
otp_gossip_guard_size (otp_gossip_guard_t *self)
{
    return zhashx_size (self->seen);
}

//  --------------------------------------------------------------------------
//  Sockets

bool
otp_gossip_is_multicast (const char *address)
{
    struct in_addr in;
    return inet_pton (AF_INET, address, &in) == 1 && IN_MULTICAST (ntohl (in.s_addr));
}

//  Parses an IPv4 address, "" or NULL being any; -1 with an error if not one.
static int
s_address (const char *text, const char *what, struct in_addr *out, char *error,
           size_t error_size)
{
    if (!text || !*text || streq (text, "*")) {
        out->s_addr = htonl (INADDR_ANY);
        return 0;
    }
    if (inet_pton (AF_INET, text, out) != 1) {
        snprintf (error, error_size, "%s '%s' is not an IPv4 address", what, text);
        return -1;
    }
    return 0;
}

static int
s_fail (int fd, char *error, size_t error_size, const char *fmt, const char *arg)
{
    int saved = errno;
    char what [256];
    snprintf (what, sizeof what, fmt, arg);
    snprintf (error, error_size, "%s: %s", what, strerror (saved));
    if (fd >= 0)
        close (fd);
    return -1;
}

int
otp_gossip_receiver (const char *address, int port, const char *iface,
                     char *error, size_t error_size)
{
    struct in_addr group, local;
    if (s_address (address, "gossip address", &group, error, error_size)
    ||  s_address (iface, "gossip interface", &local, error, error_size))
        return -1;
    bool multicast = IN_MULTICAST (ntohl (group.s_addr));
    int fd = socket (AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return s_fail (fd, error, error_size, "cannot open a UDP socket%s", "");
    int on = 1, off = 0;
    //  Every node of a host listens on the one port.
    if (setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on)
    ||  setsockopt (fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on))
        return s_fail (fd, error, error_size, "cannot share the gossip port%s", "");
    //  Bound to the group, a socket hears only that group: not unicast to
    //  the port, nor (with MULTICAST_ALL off) other groups joined on this
    //  host. Broadcasts come to 255.255.255.255 or a subnet's broadcast
    //  address, so a broadcast receiver binds any.
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    sa.sin_addr.s_addr = multicast? group.s_addr: htonl (INADDR_ANY);
    if (bind (fd, (struct sockaddr *) &sa, sizeof sa)) {
        char where [64];
        snprintf (where, sizeof where, "%s:%d", inet_ntoa (sa.sin_addr), port);
        return s_fail (fd, error, error_size, "cannot bind the gossip port %s", where);
    }
    if (multicast) {
        setsockopt (fd, IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof off);
        struct ip_mreq join = { .imr_multiaddr = group, .imr_interface = local };
        if (setsockopt (fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &join, sizeof join))
            return s_fail (fd, error, error_size,
                           "cannot join multicast group %s (is there a route for "
                           "224.0.0.0/4, or give --gossip-if or --gossip-broadcast)", address);
    }
    return fd;
}

int
otp_gossip_sender (const char *address, const char *iface, int ttl,
                   char *error, size_t error_size)
{
    struct in_addr group, local;
    if (s_address (address, "gossip address", &group, error, error_size)
    ||  s_address (iface, "gossip interface", &local, error, error_size))
        return -1;
    int fd = socket (AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return s_fail (fd, error, error_size, "cannot open a UDP socket%s", "");
    int on = 1;
    unsigned char mttl = (unsigned char) ttl, loop = 1;
    if (IN_MULTICAST (ntohl (group.s_addr))) {
        if (setsockopt (fd, IPPROTO_IP, IP_MULTICAST_TTL, &mttl, sizeof mttl)
        ||  setsockopt (fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop)
        ||  (local.s_addr != htonl (INADDR_ANY)
             && setsockopt (fd, IPPROTO_IP, IP_MULTICAST_IF, &local, sizeof local)))
            return s_fail (fd, error, error_size, "cannot set up multicast on %s",
                           iface && *iface? iface: "any interface");
    }
    else
    if (setsockopt (fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof on)
    ||  setsockopt (fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl))
        return s_fail (fd, error, error_size, "cannot set up broadcast%s", "");
    //  Bound to an interface's address, a limited broadcast (or a multicast
    //  without MULTICAST_IF) leaves by that interface.
    if (local.s_addr != htonl (INADDR_ANY)) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = local };
        if (bind (fd, (struct sockaddr *) &sa, sizeof sa))
            return s_fail (fd, error, error_size, "cannot send from %s", iface);
    }
    return fd;
}

//  --------------------------------------------------------------------------

void
otp_gossip_test (void)
{
    uint8_t key [OTP_GOSSIP_KEY_SIZE], other [OTP_GOSSIP_KEY_SIZE], again [OTP_GOSSIP_KEY_SIZE];
    otp_gossip_key (key, "alpha");
    otp_gossip_key (again, "alpha");
    otp_gossip_key (other, "beta");
    assert (memcmp (key, again, sizeof key) == 0);
    assert (memcmp (key, other, sizeof key) != 0);
    //  Not the CURVE secret derived from the same cookie.
    otp_keys_t keys;
    otp_keys_from_cookie (&keys, "alpha");
    assert (memcmp (key, keys.secret_key, sizeof key) != 0);

    otp_gossip_t msg = {
        .kind = OTP_GOSSIP_ALIVE, .node = "a@10.0.0.1", .host = "10.0.0.1", .port = 40001,
        .instance = "00112233445566778899aabbccddeeff", .timestamp = 1700000000000ULL,
        .sequence = 1
    };
    uint8_t buffer [OTP_GOSSIP_MAX], copy [OTP_GOSSIP_MAX];
    int size = otp_gossip_encode (&msg, key, buffer, sizeof buffer);
    assert (size == 74 + 10 + 8);
    assert (memcmp (buffer, "OTPG\x01\x01", 6) == 0);

    //  Sign and verify: every field comes back.
    otp_gossip_t out;
    assert (otp_gossip_decode (buffer, (size_t) size, key, &out) == OTP_GOSSIP_OK);
    assert (out.kind == msg.kind && out.port == msg.port && out.sequence == 1
         && out.timestamp == msg.timestamp);
    assert (streq (out.node, msg.node) && streq (out.host, msg.host)
         && streq (out.instance, msg.instance));

    //  Any byte changed, anywhere, and it is refused unread.
    for (int i = 0; i < size; i++) {
        memcpy (copy, buffer, (size_t) size);
        copy [i] ^= 0x20;
        memset (&out, 0x55, sizeof out);
        assert (otp_gossip_decode (copy, (size_t) size, key, &out) == OTP_GOSSIP_UNSIGNED);
        assert (out.port == 0x55555555);
    }
    //  Cut short, or padded.
    assert (otp_gossip_decode (buffer, (size_t) size - 1, key, &out) == OTP_GOSSIP_UNSIGNED);
    memcpy (copy, buffer, (size_t) size);
    copy [size] = 0;
    assert (otp_gossip_decode (copy, (size_t) size + 1, key, &out) == OTP_GOSSIP_UNSIGNED);
    assert (otp_gossip_decode (buffer, 10, key, &out) == OTP_GOSSIP_UNSIGNED);
    //  The right format under another cookie's key.
    assert (otp_gossip_decode (buffer, (size_t) size, other, &out) == OTP_GOSSIP_UNSIGNED);
    int forged = otp_gossip_encode (&msg, other, copy, sizeof copy);
    assert (forged == size);
    assert (otp_gossip_decode (copy, (size_t) forged, key, &out) == OTP_GOSSIP_UNSIGNED);

    //  Signed by a cookie holder but malformed: read, and refused.
    memcpy (copy, buffer, (size_t) size);
    copy [5] = 9;               //  no such kind
    crypto_auth (copy + size - 32, copy, (unsigned long long) size - 32, key);
    assert (otp_gossip_decode (copy, (size_t) size, key, &out) == OTP_GOSSIP_INVALID);
    memcpy (copy, buffer, (size_t) size);
    copy [40] = 200;            //  a name longer than the datagram
    crypto_auth (copy + size - 32, copy, (unsigned long long) size - 32, key);
    assert (otp_gossip_decode (copy, (size_t) size, key, &out) == OTP_GOSSIP_INVALID);

    //  What cannot be sent is not encoded.
    otp_gossip_t bad = msg;
    snprintf (bad.node, sizeof bad.node, "no-at-sign");
    assert (otp_gossip_encode (&bad, key, copy, sizeof copy) == -1);
    bad = msg;
    bad.port = 0;
    assert (otp_gossip_encode (&bad, key, copy, sizeof copy) == -1);
    bad = msg;
    snprintf (bad.instance, sizeof bad.instance, "not-hex");
    assert (otp_gossip_encode (&bad, key, copy, sizeof copy) == -1);
    assert (otp_gossip_encode (&msg, key, copy, 20) == -1);

    //  Replay: the same datagram twice, an older sequence, a timestamp out
    //  of the window, an older instance after a newer one.
    uint64_t now = msg.timestamp + 100;
    otp_gossip_guard_t *guard = otp_gossip_guard_new (OTP_GOSSIP_WINDOW_MS);
    assert (otp_gossip_decode (buffer, (size_t) size, key, &out) == OTP_GOSSIP_OK);
    assert (otp_gossip_guard_accept (guard, &out, now));
    assert (!otp_gossip_guard_accept (guard, &out, now));
    otp_gossip_t next = out;
    next.sequence = 2;
    next.timestamp += 1000;
    assert (otp_gossip_guard_accept (guard, &next, now + 1000));
    assert (!otp_gossip_guard_accept (guard, &out, now + 1000));
    otp_gossip_t stale = next;
    stale.sequence = 3;
    stale.timestamp = now - OTP_GOSSIP_WINDOW_MS - 1000;
    assert (!otp_gossip_guard_accept (guard, &stale, now + 1000));
    stale.timestamp = now + OTP_GOSSIP_WINDOW_MS + 2000;
    assert (!otp_gossip_guard_accept (guard, &stale, now + 1000));
    //  A restart: a new instance, stamped later, is accepted from sequence 1;
    //  the old instance's later sequence numbers are refused after it.
    otp_gossip_t restarted = next;
    snprintf (restarted.instance, sizeof restarted.instance, "%s", "ffeeddccbbaa99887766554433221100");
    restarted.sequence = 1;
    restarted.timestamp = next.timestamp + 500;
    assert (otp_gossip_guard_accept (guard, &restarted, now + 1500));
    otp_gossip_t old = next;
    old.sequence = 7;
    assert (!otp_gossip_guard_accept (guard, &old, now + 1500));
    //  Another node is kept apart.
    otp_gossip_t b = msg;
    snprintf (b.node, sizeof b.node, "b@10.0.0.2");
    assert (otp_gossip_guard_accept (guard, &b, now));
    assert (otp_gossip_guard_size (guard) == 2);
    otp_gossip_guard_expire (guard, now + 2 * OTP_GOSSIP_WINDOW_MS);
    assert (otp_gossip_guard_size (guard) == 2);
    otp_gossip_guard_expire (guard, now + 2 * OTP_GOSSIP_WINDOW_MS + 1200);
    assert (otp_gossip_guard_size (guard) == 1);
    otp_gossip_guard_destroy (&guard);
    assert (!guard);

    assert (otp_gossip_is_multicast (OTP_GOSSIP_GROUP));
    assert (!otp_gossip_is_multicast ("255.255.255.255"));
    assert (!otp_gossip_is_multicast ("localhost"));
    char error [256];
    assert (otp_gossip_receiver ("not-an-address", 1, NULL, error, sizeof error) == -1);
    assert (strstr (error, "not an IPv4 address"));
}
