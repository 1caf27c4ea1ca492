/*  Readiness: whether the node should get traffic (GET /health/ready).

    A node is ready when it has joined its cluster, is not draining, and
    every process named in --ready-needs is attached to it.

    Joined means: a peer is up; or the strategy has had one full round (a
    poll interval since its first tick, or under gossip an announcement
    interval, in which every node that hears us answers at once) and no
    dial is in progress (every node it dialled is up, or was given up after
    the connect time-out). So a node that finds others is ready as soon as
    one of them is up, and a node alone - the first of a cluster, or one
    whose finds do not answer - after its first round, plus the connect
    time-out if something it found is unreachable.

    Joined is for good: a node that later loses its peers is still a
    working member (failure detection reports the loss), and a probe that
    followed every re-dial of a lost peer would flap.                     */
#include "node.h"

bool
ready_joined (node_t *node)
{
    if (node->joined)
        return true;
    zlistx_t *up = peer_up_names (node);
    size_t up_count = zlistx_size (up);
    zlistx_destroy (&up);
    int round = streq (node->config->strategy, "gossip")? node->config->gossip_interval_ms
                                                          : node->config->poll_ms;
    bool settled = node->first_tick && zclock_mono () - node->first_tick >= round
                && zhashx_size (node->peers) == up_count;
    if (up_count > 0 || settled) {
        node->joined = true;
        otp_info ("joined the cluster (%zu peer(s) up)", up_count);
    }
    return node->joined;
}

//  The first name of the comma-separated `list` for which `ok` is false,
//  copied to `buf`; NULL if there is none.
static const char *
s_first_not (const char *list, bool (*ok) (void *arg, const char *name), void *arg,
             char *buf, size_t size)
{
    char *copy = strdup (list? list: ""), *save = NULL;
    const char *found = NULL;
    for (char *name = copy? strtok_r (copy, ", \t", &save): NULL; name && !found;
         name = strtok_r (NULL, ", \t", &save))
        if (!ok (arg, name)) {
            snprintf (buf, size, "%s", name);
            found = buf;
        }
    free (copy);
    return found;
}

static bool
s_attached (void *node, const char *name)
{
    return zhashx_lookup (((node_t *) node)->attached, name) != NULL;
}

static bool
s_valid (void *arg, const char *name)
{
    return otp_name_valid (name);
}

const char *
ready_check (node_t *node, char *buf, size_t size)
{
    if (node->draining || node->stopping)
        return "draining";
    if (!ready_joined (node))
        return "joining";
    char name [OTP_NAME_MAX + 1];
    if (!s_first_not (node->config->ready_needs, s_attached, node, name, sizeof name))
        return NULL;
    snprintf (buf, size, "waiting for %s", name);
    return buf;
}

const char *
ready_needs_invalid (const char *list, char *buf, size_t size)
{
    return s_first_not (list, s_valid, NULL, buf, size);
}
