/*  otp_metrics - the figures that the daemons beside a node (otp-reg,
    otp-sup) report to it, so that the node's /metrics shows the whole
    host: registry size, children, restarts, failovers. Defined once here:
    the names, their Prometheus types and help, and the wire format.

    A report is a request to the node, which answers it as any other:

        REQ 0 metrics NAME VALUE [NAME VALUE]...

    up to OTP_METRICS_PAIRS pairs (REQ carries 14 arguments after the
    command), NAME from the table below, VALUE a decimal integer
    0..2^63-1. Each report carries every figure its sender has and
    replaces the sender's last one; the node forgets them when the sender
    goes (it is a process in the node's table, see docs/protocol.md). A
    NAME the node does not know is skipped, so a newer daemon can report
    to an older node. The request id is "0": the sender does not wait for
    the reply, and otp_client numbers its own requests from 1, so that REP
    never passes for the answer to anything it waits for.                 */
#ifndef OTP_METRICS_H
#define OTP_METRICS_H

#include "otp_client.h"
#include <stdint.h>

#define OTP_METRICS_PAIRS 7
#define OTP_METRICS_EVERY_MS 1000   //  a report at least this often ...
#define OTP_METRICS_MIN_MS 100      //  ... and on a change, at most this often

typedef enum {
    OTP_METRIC_REGISTRY_NAMES,      //  otp-reg: unique names in its replica
    OTP_METRIC_REGISTRY_GROUPS,     //  otp-reg: groups in its replica
    OTP_METRIC_SUP_CHILDREN,        //  otp-sup: children it is in charge of here
    OTP_METRIC_SUP_RUNNING,         //  otp-sup: of those, running
    OTP_METRIC_SUP_RESTARTS,        //  otp-sup: restarts since it started
    OTP_METRIC_SUP_FAILOVERS,       //  otp-sup: children of lost members started here
    OTP_METRIC_SUP_CHECKPOINTS,     //  otp-sup: checkpoints taken here, held by a majority
    OTP_METRIC_SUP_CHECKPOINT_BYTES,    //  otp-sup: their bytes, casts included
    OTP_METRIC_SUP_STATE_BYTES,     //  otp-sup: bytes of children's states held here
    OTP_METRIC_COUNT
} otp_metric_id_t;

typedef struct {
    const char *name;               //  on the wire and in /metrics
    bool counter;                   //  a counter (..._total), else a gauge
    const char *help;
} otp_metric_t;

extern const otp_metric_t otp_metric_table [OTP_METRIC_COUNT];

//  One sender's figures: `has` has bit (1 << id) for each one set.
typedef struct {
    uint64_t value [OTP_METRIC_COUNT];
    uint32_t has;
} otp_metric_values_t;

//  The request for `values` (REQ 0 metrics ...), at most OTP_METRICS_PAIRS.
zmsg_t *otp_metrics_encode (const otp_metric_values_t *values);
//  Reads the pairs of a metrics request that start at argument `first`
//  (after REQ, id, "metrics": 2) into `values`. Returns 0, or -1 with a
//  one-line reason: an odd count, a name that is not one, a bad value.
int otp_metrics_decode (zmsg_t *msg, int first, otp_metric_values_t *values,
                        char *error, size_t error_size);

//  The sending side, for a daemon's loop: set the figures, then push.
typedef struct _otp_metrics_t otp_metrics_t;
otp_metrics_t *otp_metrics_new (void);
void otp_metrics_destroy (otp_metrics_t **self_p);
void otp_metrics_set (otp_metrics_t *self, otp_metric_id_t id, uint64_t value);
//  Reports to the node when a figure changed since the last report (at most
//  every OTP_METRICS_MIN_MS), and every OTP_METRICS_EVERY_MS anyway. Call it
//  at least every OTP_METRICS_MIN_MS or so. Returns 0, or -1 if the send
//  failed (it is tried again at the next push).
int otp_metrics_push (otp_metrics_t *self, otp_client_t *client);

void otp_metrics_test (void);

#endif
