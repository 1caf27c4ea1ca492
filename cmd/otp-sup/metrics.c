/*  otp-sup's figures for its node's /metrics (lib/otp_metrics): children
    it is in charge of here and how many run, restarts, failovers: what
    which-children lists and sup-info counts, counted in place (no rows
    built); looked at every SUP_METRICS_MS, reported to the node when they
    change and every OTP_METRICS_EVERY_MS anyway.                          */
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
    //  Workers placed here: the local tree's, and the cluster's this member owns.
    uint64_t children = 0, running = 0, failovers = 0;
    if (app->cluster)
        failovers = cluster_count (app->cluster, &children, &running);
    if (app->tree)
        tree_count (app->tree, &children, &running);
    otp_metrics_set (self->metrics, OTP_METRIC_SUP_CHILDREN, children);
    otp_metrics_set (self->metrics, OTP_METRIC_SUP_RUNNING, running);
    otp_metrics_set (self->metrics, OTP_METRIC_SUP_RESTARTS, app->stats.restarts);
    otp_metrics_set (self->metrics, OTP_METRIC_SUP_FAILOVERS, failovers);
    if (app->cluster) {
        uint64_t checkpoints, bytes, held;
        cluster_state_figures (app->cluster, &checkpoints, &bytes, &held);
        otp_metrics_set (self->metrics, OTP_METRIC_SUP_CHECKPOINTS, checkpoints);
        otp_metrics_set (self->metrics, OTP_METRIC_SUP_CHECKPOINT_BYTES, bytes);
        otp_metrics_set (self->metrics, OTP_METRIC_SUP_STATE_BYTES, held);
    }
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
