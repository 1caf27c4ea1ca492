/*  libFuzzer target for everything a daemon parses from the network: the
    input is split into frames at 0xFF bytes, checked against both command
    tables, and every argument is read as a string, an integer and a node
    name, as the handlers do, and the frames as a metrics report. The same
    bytes, as a frame list, are read as registry and supervisor payloads and
    as a child spec, and as a gossip datagram: once as it came (the MAC
    check must refuse it unread), once signed with the fuzzer's key so that
    the field parser and the replay guard see it too. Run with `make fuzz`. */
#include "otp.h"
#include "otp_childspec.h"
#include "otp_supervisor.h"
#include "otp_metrics.h"
#include <sodium.h>

//  A gossip datagram, as otp-node's gossip strategy reads it.
static void
s_gossip (const uint8_t *data, size_t size)
{
    static uint8_t key [OTP_GOSSIP_KEY_SIZE];
    static otp_gossip_guard_t *guard = NULL;
    if (!guard) {
        otp_gossip_key (key, "fuzz");
        guard = otp_gossip_guard_new (OTP_GOSSIP_WINDOW_MS);
    }
    otp_gossip_t msg;
    if (otp_gossip_decode (data, size, key, &msg) == OTP_GOSSIP_OK)
        abort ();           //  a forgery got through
    //  The same bytes as the body of a datagram signed with our key.
    if (size > OTP_GOSSIP_MAX - OTP_GOSSIP_MAC_SIZE)
        return;
    uint8_t signed_data [OTP_GOSSIP_MAX], again [OTP_GOSSIP_MAX];
    memcpy (signed_data, data, size);
    crypto_auth (signed_data + size, signed_data, size, key);
    size_t total = size + OTP_GOSSIP_MAC_SIZE;
    if (otp_gossip_decode (signed_data, total, key, &msg) != OTP_GOSSIP_OK)
        return;
    //  What parses encodes back to the same bytes.
    int n = otp_gossip_encode (&msg, key, again, sizeof again);
    if (n != (int) total || memcmp (again, signed_data, total) != 0)
        abort ();
    otp_gossip_guard_accept (guard, &msg, msg.timestamp + (uint64_t) (data [0] * 1000));
    otp_gossip_guard_expire (guard, msg.timestamp);
}

//  A child spec's pairs, from the wire, as otp-sup reads them.
static void
s_childspec (zmsg_t *pairs)
{
    char error [256];
    otp_childspec_t *spec = otp_childspec_decode (pairs, error, sizeof error);
    if (spec) {
        zmsg_t *again = otp_childspec_encode (spec);
        otp_childspec_t *copy = otp_childspec_dup (spec);
        otp_childspec_shutdown (copy);
        otp_childspec_destroy (&copy);
        zmsg_destroy (&again);
    }
    otp_childspec_destroy (&spec);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static bool ready = false;
    if (!ready) {
        zsys_handler_set (NULL);
        zsys_set_logstream (stderr);
        ready = true;
    }
    zmsg_t *msg = zmsg_new ();
    size_t start = 0;
    for (size_t i = 0; i <= size; i++)
        if (i == size || data [i] == 0xFF) {
            zmsg_addmem (msg, data + start, i - start);
            start = i + 1;
        }
    char error [256], text [OTP_ARG_MAX + 1], name [OTP_NAME_MAX + 1], host [OTP_HOST_MAX + 1];
    long value;
    const otp_cmd_t *tables [] = { otp_epmd_cmds, otp_node_cmds };
    for (int t = 0; t < 2; t++) {
        int cmd = otp_msg_check (msg, tables [t], error, sizeof error);
        if (cmd < 0)
            continue;
        for (int arg = -1; arg < (int) zmsg_size (msg); arg++) {
            otp_msg_int (msg, arg, LONG_MIN, LONG_MAX, &value);
            if (otp_msg_str (msg, arg, text, sizeof text) == 0) {
                otp_name_valid (text);
                otp_host_valid (text);
                otp_node_split (text, name, sizeof name, host, sizeof host);
            }
        }
        char kind [8];
        otp_msg_kind (msg, 3, kind, sizeof kind);
        otp_msg_kind (msg, 4, kind, sizeof kind);
    }
    //  A metrics report (REQ 0 metrics NAME VALUE ...), read as the node
    //  reads it; what decodes must encode again to the same figures.
    otp_metric_values_t values = { .has = 0 };
    if (otp_metrics_decode (msg, 0, &values, error, sizeof error) == 0) {
        zmsg_t *again = otp_metrics_encode (&values);
        otp_metric_values_t copy = { .has = 0 };
        assert (otp_metrics_decode (again, 2, &copy, error, sizeof error) == 0);
        assert (copy.has == values.has);
        zmsg_destroy (&again);
    }
    zmsg_destroy (&msg);
    s_gossip (data, size);

    const otp_cmd_t *payload_tables [] = {
        otp_reg_requests, otp_reg_ops, otp_sup_requests, otp_sup_ops
    };
    for (int t = 0; t < 4; t++) {
        zframe_t *payload = zframe_new (data, size);
        zmsg_t *batch = otp_payload_decode (payload);
        zframe_destroy (&payload);
        if (!batch)
            break;
        zmsg_t *op;
        while (otp_batch_pop (batch, payload_tables [t], &op) >= 0) {
            for (int arg = 0; arg + 1 < (int) zmsg_size (op); arg++)
                if (otp_msg_str (op, arg, text, sizeof text) == 0) {
                    otp_reg_name_valid (text);
                    otp_parse_int (text, 0, LONG_MAX, &value);
                }
            //  An ENTRY's last argument is an encoded spec.
            if (payload_tables [t] == otp_sup_ops && zmsg_size (op) == 8) {
                zmsg_t *pairs = otp_payload_decode (zmsg_last (op));
                if (pairs)
                    s_childspec (pairs);
                zmsg_destroy (&pairs);
            }
            zmsg_destroy (&op);
        }
        zmsg_destroy (&batch);
    }

    //  A start request carries a spec's pairs after its command; the whole
    //  payload is tried as bare pairs too.
    zframe_t *payload = zframe_new (data, size);
    zmsg_t *request = otp_payload_decode (payload);
    zframe_destroy (&payload);
    if (request) {
        s_childspec (request);
        if (otp_msg_check (request, otp_sup_requests, error, sizeof error) == SUP_START) {
            zframe_t *command = zmsg_pop (request);
            zframe_destroy (&command);
            s_childspec (request);
        }
        zmsg_destroy (&request);
    }
    return 0;
}
