/*  Host names to IPv4 addresses, away from every event loop.

    libzmq resolves the host of a tcp:// endpoint in its one I/O thread, on
    every connection attempt; a DNS server that does not answer would stall
    all of the node's sockets, heartbeats included. So the node dials only
    numeric addresses: names are resolved here, by an actor thread, into a
    cache that the loop reads without waiting. A name not yet known is
    skipped for now; the answer triggers a strategy tick, which dials it.   */
#include "node.h"
#include <arpa/inet.h>
#include <netdb.h>

#define DNS_FRESH_MS   30000    //  re-resolve a name older than this
#define DNS_FAILED_MS   2000    //  ask again this long after a failure

typedef struct {
    char address [INET_ADDRSTRLEN];     //  "" when the look-up failed
    int64_t resolved;
    bool asked;                         //  a look-up is on its way
    bool warned;                        //  its failure was logged
} entry_t;

struct _dns_t {
    node_t *node;
    zactor_t *actor;
    zhashx_t *cache;                    //  host -> entry_t
};

static void
s_entry_free (void **item)
{
    free (*item);
    *item = NULL;
}

static void
s_resolver (zsock_t *pipe, void *args)
{
    zsock_signal (pipe, 0);
    while (true) {
        char *host = zstr_recv (pipe);
        if (!host || streq (host, "$TERM")) {
            zstr_free (&host);
            break;
        }
        char address [INET_ADDRSTRLEN] = "";
        struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
        struct addrinfo *result = NULL;
        if (getaddrinfo (host, NULL, &hints, &result) == 0 && result) {
            struct sockaddr_in *sa = (struct sockaddr_in *) result->ai_addr;
            inet_ntop (AF_INET, &sa->sin_addr, address, sizeof address);
        }
        if (result)
            freeaddrinfo (result);
        zstr_sendm (pipe, host);
        zstr_send (pipe, address);
        zstr_free (&host);
    }
}

static int
s_on_answer (zloop_t *loop, zsock_t *sock, void *arg)
{
    dns_t *self = (dns_t *) arg;
    char *host = NULL, *address = NULL;
    if (zstr_recvx (sock, &host, &address, NULL) == 2) {
        entry_t *entry = (entry_t *) zhashx_lookup (self->cache, host);
        if (entry) {
            //  A failed refresh keeps the last good address.
            if (*address || !*entry->address)
                snprintf (entry->address, sizeof entry->address, "%s", address);
            entry->resolved = zclock_mono ();
            entry->asked = false;
            if (!*address && !entry->warned)
                otp_warn ("cannot resolve %s (asking again every %d ms)", host, DNS_FAILED_MS);
            entry->warned = !*address;
        }
        if (*address)
            strategy_tick (self->node->strategy);   //  dial what waited for it
    }
    zstr_free (&host);
    zstr_free (&address);
    return 0;
}

dns_t *
dns_new (node_t *node)
{
    dns_t *self = (dns_t *) zmalloc (sizeof (dns_t));
    self->node = node;
    self->cache = zhashx_new ();
    zhashx_set_destructor (self->cache, s_entry_free);
    self->actor = zactor_new (s_resolver, NULL);
    zloop_reader (node->loop, (zsock_t *) self->actor, s_on_answer, self);
    return self;
}

void
dns_destroy (dns_t **self_p)
{
    dns_t *self = *self_p;
    if (self) {
        zloop_reader_end (self->node->loop, (zsock_t *) self->actor);
        //  Waits for a look-up in progress (the resolver's own time-out).
        zactor_destroy (&self->actor);
        zhashx_destroy (&self->cache);
        free (self);
        *self_p = NULL;
    }
}

const char *
dns_address (dns_t *self, const char *host)
{
    struct in_addr numeric;
    if (inet_pton (AF_INET, host, &numeric) == 1)
        return host;
    entry_t *entry = (entry_t *) zhashx_lookup (self->cache, host);
    if (!entry) {
        entry = (entry_t *) zmalloc (sizeof (entry_t));
        zhashx_insert (self->cache, host, entry);
    }
    int64_t age = zclock_mono () - entry->resolved;
    bool stale = !entry->resolved || age > (*entry->address? DNS_FRESH_MS: DNS_FAILED_MS);
    if (stale && !entry->asked) {
        entry->asked = true;
        zstr_send (self->actor, host);
    }
    return *entry->address? entry->address: NULL;
}
