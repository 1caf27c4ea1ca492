/*  otp-sup's figures for its node's /metrics (lib/otp_metrics): children
    it is in charge of here and how many run, restarts, failovers. Counted
    from the rows that which-children shows and the counters that sup-info
    shows, so the three agree; looked at every SUP_METRICS_MS, reported to
    the node when they change and every OTP_METRICS_EVERY_MS anyway.       */
#include "sup.h"

#define SUP_METRICS_MS 250       //  figures looked at this often

struct _sup_metrics_t {
    app_t *app;
    otp_metrics_t *metrics;
    int timer;
};

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    sup_metrics_t *self = (sup_metrics_t *) arg;
    app_t *app = self->app;
    const char *me = app->config->node;
    zlistx_t *rows = zlistx_new ();
    zlistx_set_destructor (rows, (zlistx_destructor_fn *) zmsg_destroy);
    if (app->cluster)
        cluster_rows (app->cluster, rows);
    if (app->tree)
        tree_rows (app->tree, rows);
    //  Workers placed here: the local tree's, and the cluster's this member owns.
    uint64_t children = 0, running = 0;
    for (zmsg_t *row = (zmsg_t *) zlistx_first (rows); row; row = (zmsg_t *) zlistx_next (rows)) {
        char node [OTP_NODE_MAX + 1], status [16], type [16];
        if (otp_msg_str (row, 1, node, sizeof node) || otp_msg_str (row, 3, status, sizeof status)
        ||  otp_msg_str (row, 7, type, sizeof type) || !streq (node, me) || streq (type, "supervisor"))
            continue;
        children++;
        if (streq (status, "running"))
            running++;
    }
    zlistx_destroy (&rows);
    //  Failovers are the cluster supervisor's count, as sup-info has it.
    uint64_t failovers = 0;
    if (app->cluster) {
        zmsg_t *info = zmsg_new ();
        cluster_info (app->cluster, info);
        for (zframe_t *key = zmsg_first (info); key; key = zmsg_next (info)) {
            zframe_t *value = zmsg_next (info);
            if (value && zframe_streq (key, "failovers")) {
                char *text = zframe_strdup (value);
                failovers = strtoull (text, NULL, 10);
                free (text);
            }
        }
        zmsg_destroy (&info);
    }
    otp_metrics_set (self->metrics, OTP_METRIC_SUP_CHILDREN, children);
    otp_metrics_set (self->metrics, OTP_METRIC_SUP_RUNNING, running);
    otp_metrics_set (self->metrics, OTP_METRIC_SUP_RESTARTS, app->stats.restarts);
    otp_metrics_set (self->metrics, OTP_METRIC_SUP_FAILOVERS, failovers);
    otp_metrics_push (self->metrics, app->client);
    return 0;
}

sup_metrics_t *
sup_metrics_new (app_t *app)
{
    sup_metrics_t *self = (sup_metrics_t *) zmalloc (sizeof (sup_metrics_t));
    self->app = app;
    self->metrics = otp_metrics_new ();
    self->timer = zloop_timer (app->loop, SUP_METRICS_MS, 0, s_on_timer, self);
    return self;
}

void
sup_metrics_destroy (sup_metrics_t **self_p)
{
    sup_metrics_t *self = *self_p;
    if (self) {
        if (self->app->loop)
            zloop_timer_end (self->app->loop, self->timer);
        otp_metrics_destroy (&self->metrics);
        free (self);
        *self_p = NULL;
    }
}
