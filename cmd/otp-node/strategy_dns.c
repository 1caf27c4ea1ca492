/*  dns: join the nodes behind the A records of a name (libcluster's
    Kubernetes.DNS strategy; the name is a Kubernetes headless Service,
    whose A records are its ready pods' IPs).

    Every poll the name is looked up off the loop (dns.c). Each address IP
    in the answer is the node BASENAME@IP, or BASENAME@10-1-2-5.NS.pod.DOMAIN
    when our own host part has that pod A-record form: peers are named as
    they name themselves. Those not up are dialled through their host's
    otp-epmd, as the epmd strategy does.

    A name that leaves the records is dropped, once, when it leaves (as
    libcluster disconnects the nodes that left its list): the connection
    closes and nobody dials it again. It did not say BYE, so it is not kept
    out: if it still runs and dials us, it is a peer again. A look-up that
    fails or finds no records changes nothing, so that a DNS outage does not
    split the cluster (libcluster drops every node then).                    */
#include "strategy.h"

#define DNS_WARN_MS 10000       //  a failing name is logged this often

typedef struct {
    node_t *node;
    char query [OTP_HOST_MAX + 1];
    char basename [OTP_NAME_MAX + 1];
    zhashx_t *names;            //  node name -> "": the last good answer
    bool answered;              //  names holds an answer
    int64_t asked;              //  when the last look-up went out
    int64_t warned;             //  rate limit of the failure log
    bool failing;
} state_t;

static void s_on_records (void *arg, const char *name, const char *error, zlistx_t *addresses);

static void *
s_init (node_t *node, char *error, size_t error_size)
{
    const char *query = node->config->dns_query;
    const char *basename = node->config->dns_basename;
    if (!query || !*query) {
        snprintf (error, error_size, "the dns strategy needs OTP_CLUSTER_DNS_QUERY (or --dns-query)");
        return NULL;
    }
    //  A trailing dot (an absolute name, which skips the resolver's search
    //  list) is allowed; otp_host_valid refuses it, so check without.
    char bare [OTP_HOST_MAX + 2];
    snprintf (bare, sizeof bare, "%s", query);
    size_t len = strlen (bare);
    if (len > 1 && bare [len - 1] == '.')
        bare [len - 1] = 0;
    if (strlen (query) > OTP_HOST_MAX || !otp_host_valid (bare)) {
        snprintf (error, error_size, "'%s' is not a DNS name (OTP_CLUSTER_DNS_QUERY)", query);
        return NULL;
    }
    if (basename && *basename && !otp_name_valid (basename)) {
        snprintf (error, error_size, "'%s' is not a node base name (letters, digits, _ - .)",
                  basename);
        return NULL;
    }
    state_t *self = (state_t *) zmalloc (sizeof (state_t));
    self->node = node;
    snprintf (self->query, sizeof self->query, "%s", query);
    //  libcluster's application_name; ours defaults to our own short name,
    //  as every pod of a Deployment runs the same release.
    snprintf (self->basename, sizeof self->basename, "%s",
              basename && *basename? basename: node->short_name);
    self->names = zhashx_new ();
    return self;
}

//  Dials the nodes of the last answer that are not up.
static void
s_dial (state_t *self)
{
    node_t *node = self->node;
    zlistx_t *up = peer_up_names (node);
    for (void *item = zhashx_first (self->names); item; item = zhashx_next (self->names)) {
        const char *name = (const char *) zhashx_cursor (self->names);
        if (!streq (name, node->name) && !zlistx_find (up, (void *) name))
            resolver_lookup (node->resolver, name);
    }
    zlistx_destroy (&up);
}

static void
s_on_records (void *arg, const char *query, const char *error, zlistx_t *addresses)
{
    state_t *self = (state_t *) arg;
    node_t *node = self->node;
    if (error || zlistx_size (addresses) == 0) {
        //  A pod may start before its Service has a ready address: normal
        //  for a while, so said once and then now and then.
        if (otp_log_ratelimit (&self->warned, DNS_WARN_MS))
            otp_warn ("dns strategy: cannot resolve %s: %s (asking again every %d ms; "
                      "the nodes it named are kept)", query, error? error: "no A records",
                      node->config->poll_ms);
        self->failing = true;
        return;
    }
    if (self->failing)
        otp_info ("dns strategy: %s resolves again", query);
    self->failing = false;
    self->warned = 0;
    zhashx_t *names = zhashx_new ();
    for (const char *ip = (const char *) zlistx_first (addresses); ip;
         ip = (const char *) zlistx_next (addresses)) {
        char host [OTP_HOST_MAX + 1], name [OTP_NODE_MAX + 2];
        if (otp_host_like (node->host, ip, host, sizeof host) == 0
        &&  snprintf (name, sizeof name, "%s@%s", self->basename, host) <= OTP_NODE_MAX)
            zhashx_update (names, name, (void *) "");
    }
    int added = 0, removed = 0;
    for (void *item = zhashx_first (names); item; item = zhashx_next (names))
        if (!zhashx_lookup (self->names, zhashx_cursor (names)))
            added++;
    for (void *item = zhashx_first (self->names); item; item = zhashx_next (self->names)) {
        const char *name = (const char *) zhashx_cursor (self->names);
        if (!zhashx_lookup (names, name)) {
            removed++;
            peer_disconnect (node, name, "not in the DNS records");
        }
    }
    if (added || removed)
        otp_info ("dns strategy: %s has %zu record(s) (%d new, %d gone)",
                  query, zhashx_size (names), added, removed);
    zhashx_destroy (&self->names);
    self->names = names;
    self->answered = true;
    s_dial (self);
}

static void
s_tick (void *state, node_t *node)
{
    state_t *self = (state_t *) state;
    //  Ticks also come from every host name that dns.c resolves: ask the
    //  records once per poll interval, not at each of those.
    int64_t now = zclock_mono ();
    if (!self->asked || now - self->asked >= node->config->poll_ms / 2)
        if (dns_records (node->dns, self->query, s_on_records, self) == 0)
            self->asked = now;
    if (self->answered)
        s_dial (self);
}

static void
s_destroy (void *state)
{
    state_t *self = (state_t *) state;
    dns_records_cancel (self->node->dns, self->query);
    zhashx_destroy (&self->names);
    free (self);
}

const strategy_ops_t strategy_dns_ops = { "dns", s_init, s_tick, s_destroy };
