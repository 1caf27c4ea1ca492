/*  epmd: join a static list of node names (libcluster's Epmd strategy),
    retrying each until it answers.                                         */
#include "strategy.h"

typedef struct {
    zlistx_t *nodes;
} state_t;

static void *
s_init (node_t *node, char *error, size_t error_size)
{
    const char *list = node->config->cluster_nodes;
    if (!list || !*list) {
        snprintf (error, error_size, "the epmd strategy needs OTP_CLUSTER_NODES (or --nodes)");
        return NULL;
    }
    state_t *self = (state_t *) zmalloc (sizeof (state_t));
    self->nodes = zlistx_new ();
    zlistx_set_destructor (self->nodes, (zhashx_destructor_fn *) zstr_free);
    char *copy = strdup (list), *save = NULL;
    for (char *item = strtok_r (copy, ", \t\n", &save); item; item = strtok_r (NULL, ", \t\n", &save)) {
        char name [OTP_NAME_MAX + 1], host [OTP_HOST_MAX + 1];
        if (otp_node_split (item, name, sizeof name, host, sizeof host)) {
            snprintf (error, error_size, "'%s' in the node list is not a node name (name@host)", item);
            free (copy);
            zlistx_destroy (&self->nodes);
            free (self);
            return NULL;
        }
        zlistx_add_end (self->nodes, strdup (item));
    }
    free (copy);
    return self;
}

static void
s_tick (void *state, node_t *node)
{
    state_t *self = (state_t *) state;
    zlistx_t *up = peer_up_names (node);
    for (char *name = (char *) zlistx_first (self->nodes); name;
         name = (char *) zlistx_next (self->nodes))
        if (!streq (name, node->name) && !zlistx_find (up, name))
            resolver_lookup (node->resolver, name);
    zlistx_destroy (&up);
}

static void
s_destroy (void *state)
{
    state_t *self = (state_t *) state;
    zlistx_destroy (&self->nodes);
    free (self);
}

const strategy_ops_t strategy_epmd_ops = { "epmd", s_init, s_tick, s_destroy };
