#include "strategy.h"

static const strategy_ops_t *s_strategies [] = {
    &strategy_local_ops,
    &strategy_epmd_ops,
    &strategy_gossip_ops,
    &strategy_dns_ops,
    NULL
};

struct _strategy_t {
    const strategy_ops_t *ops;
    void *state;
    node_t *node;
};

static const strategy_ops_t *
s_find (const char *name, char *error, size_t error_size)
{
    for (int i = 0; s_strategies [i]; i++)
        if (streq (s_strategies [i]->name, name))
            return s_strategies [i];
    //  The list of known ones from the table, so that adding a strategy
    //  is one line there.
    int n = snprintf (error, error_size, "unknown cluster strategy '%s' (known:", name);
    for (int i = 0; s_strategies [i] && n >= 0 && (size_t) n < error_size; i++)
        n += snprintf (error + n, error_size - (size_t) n, "%s %s", i? ",": "",
                       s_strategies [i]->name);
    if (n >= 0 && (size_t) n < error_size)
        snprintf (error + n, error_size - (size_t) n, ")");
    return NULL;
}

bool
strategy_known (const char *name, char *error, size_t error_size)
{
    return s_find (name, error, error_size) != NULL;
}

strategy_t *
strategy_new (node_t *node, char *error, size_t error_size)
{
    const strategy_ops_t *ops = s_find (node->config->strategy, error, error_size);
    if (!ops)
        return NULL;
    void *state = ops->init (node, error, error_size);
    if (!state)
        return NULL;
    strategy_t *self = (strategy_t *) zmalloc (sizeof (strategy_t));
    self->ops = ops;
    self->state = state;
    self->node = node;
    return self;
}

void
strategy_destroy (strategy_t **self_p)
{
    if (*self_p) {
        (*self_p)->ops->destroy ((*self_p)->state);
        free (*self_p);
        *self_p = NULL;
    }
}

const char *
strategy_name (strategy_t *self)
{
    return self->ops->name;
}

void
strategy_tick (strategy_t *self)
{
    if (self && !self->node->stopping)
        self->ops->tick (self->state, self->node);
}
