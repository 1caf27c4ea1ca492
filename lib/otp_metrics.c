#include "otp_metrics.h"
#include "otp_proto.h"
#include <assert.h>

const otp_metric_t otp_metric_table [OTP_METRIC_COUNT] = {
    [OTP_METRIC_REGISTRY_NAMES] = { "otp_registry_names", false,
        "Unique names in the cluster registry, as this node's otp-reg holds them." },
    [OTP_METRIC_REGISTRY_GROUPS] = { "otp_registry_groups", false,
        "Groups in the cluster registry, as this node's otp-reg holds them." },
    [OTP_METRIC_SUP_CHILDREN] = { "otp_sup_children", false,
        "Child processes this node's otp-sup is in charge of here (local tree and cluster)." },
    [OTP_METRIC_SUP_RUNNING] = { "otp_sup_children_running", false,
        "Of those, the ones running." },
    [OTP_METRIC_SUP_RESTARTS] = { "otp_sup_restarts_total", true,
        "Children restarted by this node's otp-sup after they exited." },
    [OTP_METRIC_SUP_FAILOVERS] = { "otp_sup_failovers_total", true,
        "Children of lost cluster members that this node's otp-sup started here." },
    [OTP_METRIC_SUP_CHECKPOINTS] = { "otp_sup_checkpoints_total", true,
        "Checkpoints of cluster children run here, answered once a majority held them." },
    [OTP_METRIC_SUP_CHECKPOINT_BYTES] = { "otp_sup_checkpoint_bytes_total", true,
        "Bytes of the checkpoints of cluster children run here (casts included)." },
    [OTP_METRIC_SUP_STATE_BYTES] = { "otp_sup_state_bytes", false,
        "Bytes of cluster children's latest states that this node's otp-sup holds." },
};

zmsg_t *
otp_metrics_encode (const otp_metric_values_t *values)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "REQ");
    zmsg_addstr (msg, "0");
    zmsg_addstr (msg, "metrics");
    int pairs = 0;
    for (int id = 0; id < OTP_METRIC_COUNT && pairs < OTP_METRICS_PAIRS; id++)
        if (values->has & (1u << id)) {
            zmsg_addstr (msg, otp_metric_table [id].name);
            zmsg_addstrf (msg, "%" PRIu64, values->value [id]);
            pairs++;
        }
    return msg;
}

//  Digits only (strtoull would take a sign or leading blanks), 0..2^63-1.
static int
s_parse (const char *text, uint64_t *value)
{
    if (!*text || strlen (text) > 19)
        return -1;
    uint64_t v = 0;
    for (const char *c = text; *c; c++) {
        if (*c < '0' || *c > '9')
            return -1;
        v = v * 10 + (uint64_t) (*c - '0');
    }
    if (v > INT64_MAX)
        return -1;
    *value = v;
    return 0;
}

int
otp_metrics_decode (zmsg_t *msg, int first, otp_metric_values_t *values,
                    char *error, size_t error_size)
{
    memset (values, 0, sizeof *values);
    int args = (int) zmsg_size (msg) - 1;
    if (args < first || (args - first) % 2) {
        snprintf (error, error_size, "metrics takes NAME VALUE pairs");
        return -1;
    }
    for (int i = first; i < args; i += 2) {
        char name [64], text [32];
        uint64_t value;
        if (otp_msg_str (msg, i, name, sizeof name)) {
            snprintf (error, error_size, "metrics: argument %d is not a metric name", i - first + 1);
            return -1;
        }
        if (otp_msg_str (msg, i + 1, text, sizeof text) || s_parse (text, &value)) {
            snprintf (error, error_size, "metrics: the value of %s is not a whole number", name);
            return -1;
        }
        for (int id = 0; id < OTP_METRIC_COUNT; id++)
            if (streq (name, otp_metric_table [id].name)) {
                values->value [id] = value;
                values->has |= 1u << id;
            }
    }
    return 0;
}

struct _otp_metrics_t {
    otp_metric_values_t now;        //  as set
    otp_metric_values_t sent;       //  as last reported
    int64_t sent_at;                //  0: never
};

otp_metrics_t *
otp_metrics_new (void)
{
    return (otp_metrics_t *) zmalloc (sizeof (otp_metrics_t));
}

void
otp_metrics_destroy (otp_metrics_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

void
otp_metrics_set (otp_metrics_t *self, otp_metric_id_t id, uint64_t value)
{
    if (id < OTP_METRIC_COUNT) {
        self->now.value [id] = value;
        self->now.has |= 1u << id;
    }
}

int
otp_metrics_push (otp_metrics_t *self, otp_client_t *client)
{
    if (otp_client_lost (client))
        return -1;          //  a send would wait out the send time-out
    int64_t now = zclock_mono ();
    bool changed = memcmp (&self->now, &self->sent, sizeof self->now) != 0;
    if (self->sent_at && !(changed && now - self->sent_at >= OTP_METRICS_MIN_MS)
    &&  now - self->sent_at < OTP_METRICS_EVERY_MS)
        return 0;
    zmsg_t *msg = otp_metrics_encode (&self->now);
    //  Tried again at the next push (sent_at unchanged) if it failed.
    if (otp_send (&msg, otp_client_socket (client)))
        return -1;
    self->sent = self->now;
    self->sent_at = now;
    return 0;
}

void
otp_metrics_test (void)
{
    otp_metric_values_t values = { { 0 }, 0 }, back;
    char error [128];
    //  Every name is a Prometheus name; counters end in _total.
    for (int id = 0; id < OTP_METRIC_COUNT; id++) {
        const char *name = otp_metric_table [id].name;
        assert (name && strlen (name) < 64 && otp_metric_table [id].help);
        for (const char *c = name; *c; c++)
            assert (isalnum ((unsigned char) *c) || *c == '_');
        size_t len = strlen (name);
        bool total = len > 6 && streq (name + len - 6, "_total");
        assert (total == otp_metric_table [id].counter);
    }
    assert (OTP_METRIC_COUNT <= 2 * OTP_METRICS_PAIRS);

    //  A round trip, checked against the node's table as the node does.
    values.value [OTP_METRIC_REGISTRY_NAMES] = 42;
    values.value [OTP_METRIC_SUP_RESTARTS] = 9000000000000000000ull;
    values.has = (1u << OTP_METRIC_REGISTRY_NAMES) | (1u << OTP_METRIC_SUP_RESTARTS);
    zmsg_t *msg = otp_metrics_encode (&values);
    assert (otp_msg_check (msg, otp_node_cmds, error, sizeof error) == NODE_REQ);
    assert (zmsg_size (msg) == 7);
    assert (otp_metrics_decode (msg, 2, &back, error, sizeof error) == 0);
    assert (back.has == values.has);
    assert (back.value [OTP_METRIC_REGISTRY_NAMES] == 42);
    assert (back.value [OTP_METRIC_SUP_RESTARTS] == 9000000000000000000ull);
    zmsg_destroy (&msg);

    //  No pairs is a report of nothing; an unknown name is skipped.
    memset (&values, 0, sizeof values);
    msg = otp_metrics_encode (&values);
    assert (zmsg_size (msg) == 3);
    assert (otp_metrics_decode (msg, 2, &back, error, sizeof error) == 0 && back.has == 0);
    zmsg_addstr (msg, "otp_from_the_future");
    zmsg_addstr (msg, "7");
    zmsg_addstr (msg, "otp_sup_children");
    zmsg_addstr (msg, "3");
    assert (otp_metrics_decode (msg, 2, &back, error, sizeof error) == 0);
    assert (back.has == 1u << OTP_METRIC_SUP_CHILDREN && back.value [OTP_METRIC_SUP_CHILDREN] == 3);

    //  An odd count, a bad value, a NUL in a name: refused.
    zmsg_addstr (msg, "otp_sup_children_running");
    assert (otp_metrics_decode (msg, 2, &back, error, sizeof error) == -1);
    assert (strstr (error, "pairs"));
    zmsg_addstr (msg, "-1");
    assert (otp_metrics_decode (msg, 2, &back, error, sizeof error) == -1);
    assert (strstr (error, "otp_sup_children_running"));
    zmsg_destroy (&msg);
    const char *bad [] = { "", "1x", "99999999999999999999", "9223372036854775808", " 1", "+1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        msg = otp_metrics_encode (&values);
        zmsg_addstr (msg, "otp_registry_names");
        zmsg_addstr (msg, bad [i]);
        assert (otp_metrics_decode (msg, 2, &back, error, sizeof error) == -1);
        zmsg_destroy (&msg);
    }
    msg = otp_metrics_encode (&values);
    zmsg_addmem (msg, "otp\0x", 5);
    zmsg_addstr (msg, "1");
    assert (otp_metrics_decode (msg, 2, &back, error, sizeof error) == -1);
    zmsg_destroy (&msg);

    //  The sender: nothing set twice over is one report, not two.
    otp_metrics_t *self = otp_metrics_new ();
    otp_metrics_set (self, OTP_METRIC_SUP_CHILDREN, 5);
    otp_metrics_set (self, OTP_METRIC_COUNT, 5);      //  ignored
    assert (self->now.has == 1u << OTP_METRIC_SUP_CHILDREN);
    otp_metrics_destroy (&self);
    assert (!self);
}
