/*  Host names to IPv4 addresses, away from every event loop.

    libzmq resolves the host of a tcp:// endpoint in its one I/O thread, on
    every connection attempt; a DNS server that does not answer would stall
    all of the node's sockets, heartbeats included. So the node dials only
    numeric addresses: names are resolved here, by an actor thread, into a
    cache that the loop reads without waiting. A name not yet known is
    skipped for now; the answer triggers a strategy tick, which dials it.

    The same thread answers dns_records: every A record of a name (the dns
    strategy's headless Service), handed to a callback on the loop.         */
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

typedef struct {
    dns_records_fn *fn;
    void *arg;
} query_t;

struct _dns_t {
    node_t *node;
    zactor_t *actor;
    zhashx_t *cache;                    //  host -> entry_t
    zhashx_t *queries;                  //  name -> query_t, records on their way
};

static void
s_entry_free (void **item)
{
    free (*item);
    *item = NULL;
}

//  Requests are "A" host (the first address) or "ALL" name (every one);
//  answers are the same two frames, then "" or an error, then addresses.
static void
s_resolver (zsock_t *pipe, void *args)
{
    zsock_signal (pipe, 0);
    while (true) {
        char *kind = NULL, *host = NULL;
        if (zstr_recvx (pipe, &kind, &host, NULL) != 2 || streq (kind, "$TERM")) {
            zstr_free (&kind);
            zstr_free (&host);
            break;
        }
        struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
        struct addrinfo *result = NULL;
        int rc = getaddrinfo (host, NULL, &hints, &result);
        zmsg_t *answer = zmsg_new ();
        zmsg_addstr (answer, kind);
        zmsg_addstr (answer, host);
        zmsg_addstr (answer, rc? gai_strerror (rc): "");
        for (struct addrinfo *ai = rc? NULL: result; ai; ai = ai->ai_next) {
            char address [INET_ADDRSTRLEN];
            struct sockaddr_in *sa = (struct sockaddr_in *) ai->ai_addr;
            if (inet_ntop (AF_INET, &sa->sin_addr, address, sizeof address))
                zmsg_addstr (answer, address);
            if (streq (kind, "A"))
                break;
        }
        if (result)
            freeaddrinfo (result);
        zmsg_send (&answer, pipe);
        zstr_free (&kind);
        zstr_free (&host);
    }
}

static void
s_on_records (dns_t *self, const char *name, const char *error, zmsg_t *answer)
{
    query_t *query = (query_t *) zhashx_lookup (self->queries, name);
    if (!query)
        return;         //  cancelled
    query_t copy = *query;
    zhashx_delete (self->queries, name);
    //  Sorted and without duplicates: getaddrinfo's order is its own (RFC
    //  6724 sorting), and a name may list one address twice.
    zlistx_t *addresses = zlistx_new ();
    zlistx_set_destructor (addresses, (zhashx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (addresses, (zhashx_duplicator_fn *) strdup);
    zlistx_set_comparator (addresses, (zlistx_comparator_fn *) strcmp);
    for (char *address = zmsg_popstr (answer); address; address = zmsg_popstr (answer)) {
        if (!zlistx_find (addresses, address))
            zlistx_add_end (addresses, address);
        zstr_free (&address);
    }
    otp_names_sort (addresses);
    copy.fn (copy.arg, name, *error? error: NULL, addresses);
    zlistx_destroy (&addresses);
}

static int
s_on_answer (zloop_t *loop, zsock_t *sock, void *arg)
{
    dns_t *self = (dns_t *) arg;
    zmsg_t *answer = zmsg_recv (sock);
    char *kind = answer? zmsg_popstr (answer): NULL;
    char *host = answer? zmsg_popstr (answer): NULL;
    char *error = answer? zmsg_popstr (answer): NULL;
    if (kind && host && error && streq (kind, "ALL"))
        s_on_records (self, host, error, answer);
    else
    if (kind && host && error) {
        char *found = zmsg_popstr (answer);
        const char *address = found? found: "";
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
        zstr_free (&found);
    }
    zstr_free (&kind);
    zstr_free (&host);
    zstr_free (&error);
    zmsg_destroy (&answer);
    return 0;
}

dns_t *
dns_new (node_t *node)
{
    dns_t *self = (dns_t *) zmalloc (sizeof (dns_t));
    self->node = node;
    self->cache = zhashx_new ();
    zhashx_set_destructor (self->cache, s_entry_free);
    self->queries = zhashx_new ();
    zhashx_set_destructor (self->queries, s_entry_free);
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
        zhashx_destroy (&self->queries);
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
        zstr_sendx (self->actor, "A", host, NULL);
    }
    return *entry->address? entry->address: NULL;
}

int
dns_records (dns_t *self, const char *name, dns_records_fn *fn, void *arg)
{
    if (zhashx_lookup (self->queries, name))
        return -1;
    query_t *query = (query_t *) zmalloc (sizeof (query_t));
    query->fn = fn;
    query->arg = arg;
    zhashx_insert (self->queries, name, query);
    zstr_sendx (self->actor, "ALL", name, NULL);
    return 0;
}

void
dns_records_cancel (dns_t *self, const char *name)
{
    //  The answer still comes, and finds no query.
    zhashx_delete (self->queries, name);
}
