#include "strategy.h"

static const strategy_ops_t *s_strategies [] = {
    &strategy_local_ops,
    &strategy_epmd_ops,
    NULL
};

struct _strategy_t {
    const strategy_ops_t *ops;
    void *state;
    node_t *node;
};

strategy_t *
strategy_new (node_t *node, char *error, size_t error_size)
{
    const strategy_ops_t *ops = NULL;
    for (int i = 0; s_strategies [i]; i++)
        if (streq (s_strategies [i]->name, node->config->strategy))
            ops = s_strategies [i];
    if (!ops) {
        snprintf (error, error_size, "unknown cluster strategy '%s' (known: local, epmd)",
                  node->config->strategy);
        return NULL;
    }
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
