/*  local: join every node registered on this host's otp-epmd.              */
#include "strategy.h"

static void *
s_init (node_t *node, char *error, size_t error_size)
{
    return node;        //  no settings of its own
}

static void
s_tick (void *state, node_t *node)
{
    resolver_list (node->resolver, "127.0.0.1", node->host);
}

static void
s_destroy (void *state)
{
}

const strategy_ops_t strategy_local_ops = { "local", s_init, s_tick, s_destroy };
