/*  A cluster strategy finds the nodes to join (libcluster's idea). It is
    ticked once at start and then every poll interval, and calls
    resolver_lookup/resolver_list/peer_connect for what it finds. Adding
    one is a file with a strategy_ops_t and a line in strategy.c.            */
#ifndef STRATEGY_H
#define STRATEGY_H

#include "node.h"

typedef struct {
    const char *name;
    //  Reads its settings; returns private state, or NULL with an error.
    void *(*init) (node_t *node, char *error, size_t error_size);
    void (*tick) (void *state, node_t *node);
    void (*destroy) (void *state);
} strategy_ops_t;

extern const strategy_ops_t strategy_local_ops;
extern const strategy_ops_t strategy_epmd_ops;
extern const strategy_ops_t strategy_gossip_ops;
extern const strategy_ops_t strategy_dns_ops;

#endif
