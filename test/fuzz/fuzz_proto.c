/*  libFuzzer target for everything a daemon parses from the network: the
    input is split into frames at 0xFF bytes, checked against both command
    tables, and every argument is read as a string, an integer and a node
    name, as the handlers do. Run with `make fuzz`.                         */
#include "otp.h"

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
    zmsg_destroy (&msg);

    const otp_cmd_t *payload_tables [] = { otp_reg_requests, otp_reg_ops };
    for (int t = 0; t < 2; t++) {
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
            zmsg_destroy (&op);
        }
        zmsg_destroy (&batch);
    }
    return 0;
}
