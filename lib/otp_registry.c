#include "otp_registry.h"
#include <assert.h>

const otp_cmd_t otp_reg_requests [REG_REQUEST_COUNT + 1] = {
    [REG_REGISTER]   = { "register",   2, 2, -1 },
    [REG_UNREGISTER] = { "unregister", 1, 1, -1 },
    [REG_WHEREIS]    = { "whereis",    1, 1, -1 },
    [REG_NAMES]      = { "names",      1, 1, -1 },
    [REG_JOIN]       = { "join",       1, 1, -1 },
    [REG_LEAVE]      = { "leave",      1, 1, -1 },
    [REG_MEMBERS]    = { "members",    2, 2, -1 },
    [REG_GROUPS]     = { "groups",     1, 1, -1 },
    [REG_INFO]       = { "info",       0, 0, -1 },
    [REG_REGISTER_AS]   = { "register-as",   3, 3, -1 },
    [REG_UNREGISTER_AS] = { "unregister-as", 2, 2, -1 },
    [REG_REQUEST_COUNT] = { NULL, 0, 0, -1 }
};

const otp_cmd_t otp_reg_ops [REG_OP_COUNT + 1] = {
    [REG_OP_SYNC]  = { "SYNC",  0, 0, -1 },
    [REG_OP_RESET] = { "RESET", 0, 0, -1 },
    [REG_OP_ADD]   = { "ADD",   4, 4, -1 },
    [REG_OP_DEL]   = { "DEL",   2, 2, -1 },
    [REG_OP_JOIN]  = { "JOIN",  2, 2, -1 },
    [REG_OP_LEAVE] = { "LEAVE", 2, 2, -1 },
    [REG_OP_CLAIM] = { "CLAIM", 3, 3, -1 },
    [REG_OP_ACK]   = { "ACK",   4, 4, -1 },
    [REG_OP_RECOVER]  = { "RECOVER",  0, 0, -1 },
    [REG_OP_YOURS]    = { "YOURS",    4, 4, -1 },
    [REG_OP_YOURJOIN] = { "YOURJOIN", 2, 2, -1 },
    [REG_OP_COUNT] = { NULL, 0, 0, -1 }
};

zmsg_t *
otp_payload_decode (zframe_t *payload)
{
    //  zmsg_encode's format: each frame is a length (one byte, or 0xFF and
    //  four bytes big-endian) and its bytes. Every length is checked
    //  against what is left before anything is copied.
    const byte *data = zframe_data (payload);
    size_t size = zframe_size (payload), at = 0;
    zmsg_t *msg = zmsg_new ();
    while (at < size) {
        size_t len = data [at++];
        if (len == 0xFF) {
            if (size - at < 4) {
                zmsg_destroy (&msg);
                return NULL;
            }
            len = ((size_t) data [at] << 24) | ((size_t) data [at + 1] << 16)
                | ((size_t) data [at + 2] << 8) | (size_t) data [at + 3];
            at += 4;
        }
        if (len > size - at) {
            zmsg_destroy (&msg);
            return NULL;
        }
        zmsg_addmem (msg, data + at, len);
        at += len;
    }
    return msg;
}

int
otp_batch_pop (zmsg_t *batch, const otp_cmd_t *table, zmsg_t **op)
{
    *op = NULL;
    zframe_t *command = zmsg_pop (batch);
    if (!command)
        return -1;
    int index = -1;
    for (int i = 0; table [i].name; i++)
        if (zframe_streq (command, table [i].name)) {
            index = i;
            break;
        }
    //  Each entry takes a fixed number of arguments: the batch says nothing
    //  of where one ends, the table does.
    if (index < 0 || table [index].min_args != table [index].max_args
    ||  (int) zmsg_size (batch) < table [index].min_args) {
        zframe_destroy (&command);
        return -2;
    }
    *op = zmsg_new ();
    zmsg_append (*op, &command);
    for (int i = 0; i < table [index].min_args; i++) {
        zframe_t *arg = zmsg_pop (batch);
        zmsg_append (*op, &arg);
    }
    char error [256];
    if (otp_msg_check (*op, table, error, sizeof error) != index) {
        zmsg_destroy (op);
        return -2;
    }
    return index;
}

bool
otp_reg_name_valid (const char *name)
{
    size_t len = strlen (name);
    if (len == 0 || len > OTP_REG_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            return false;
    return true;
}

zmsg_t *
otp_payload_call (otp_client_t *client, const char *process, const char *node,
                  zmsg_t **request, const char *other, bool *is_other,
                  char *error, size_t error_size)
{
    if (is_other)
        *is_other = false;
    zframe_t *payload = zmsg_encode (*request);
    zmsg_destroy (request);
    zframe_t *answer = otp_client_call (client, process, node,
                                        zframe_data (payload), zframe_size (payload),
                                        otp_client_timeout (client));
    zframe_destroy (&payload);
    if (!answer) {
        if (strstr (otp_client_error (client), "no process"))
            snprintf (error, error_size, "no %s runs on %s", process, node);
        else
            snprintf (error, error_size, "%s", otp_client_error (client));
        return NULL;
    }
    zmsg_t *reply = otp_payload_decode (answer);
    zframe_destroy (&answer);
    zframe_t *status = reply? zmsg_pop (reply): NULL;
    bool is_ok = status && zframe_streq (status, "ok");
    bool is_error = status && zframe_streq (status, "error");
    bool is_extra = status && other && zframe_streq (status, other);
    if (!is_ok && !is_error && !is_extra) {
        snprintf (error, error_size, "%s sent a malformed reply", process);
        zframe_destroy (&status);
        zmsg_destroy (&reply);
        return NULL;
    }
    zframe_destroy (&status);
    if (is_error) {
        if (otp_msg_str (reply, -1, error, error_size))
            snprintf (error, error_size, "%s refused the request", process);
        zmsg_destroy (&reply);
        return NULL;
    }
    if (is_other)
        *is_other = is_extra;
    return reply;
}

//  One request to our node's otp-reg; the reply's values, or NULL.
static zmsg_t *
s_request (otp_client_t *client, zmsg_t **request, char *error, size_t error_size)
{
    return otp_payload_call (client, OTP_REG_PROCESS, otp_client_node (client), request,
                             NULL, NULL, error, error_size);
}

static zmsg_t *
s_new (const char *command, const char *arg1, const char *arg2)
{
    zmsg_t *request = zmsg_new ();
    zmsg_addstr (request, command);
    if (arg1)
        zmsg_addstr (request, arg1);
    if (arg2)
        zmsg_addstr (request, arg2);
    return request;
}

static int
s_simple (otp_client_t *client, const char *command, const char *arg1, const char *arg2,
          char *error, size_t error_size)
{
    zmsg_t *request = s_new (command, arg1, arg2);
    zmsg_t *reply = s_request (client, &request, error, error_size);
    int rc = reply? 0: -1;
    zmsg_destroy (&reply);
    return rc;
}

int
otp_reg_register (otp_client_t *client, const char *name, const char *meta,
                  char *error, size_t error_size)
{
    return s_simple (client, "register", name, meta? meta: "", error, error_size);
}

int
otp_reg_unregister (otp_client_t *client, const char *name, char *error, size_t error_size)
{
    return s_simple (client, "unregister", name, NULL, error, error_size);
}

zframe_t *
otp_reg_request (const char *command, const char *a, const char *b, const char *c)
{
    zmsg_t *request = s_new (command, a, b);
    if (c)
        zmsg_addstr (request, c);
    zframe_t *payload = zmsg_encode (request);
    zmsg_destroy (&request);
    return payload;
}

int
otp_reg_register_as (otp_client_t *client, const char *name, const char *addr, const char *meta,
                     char *error, size_t error_size)
{
    zmsg_t *request = s_new ("register-as", name, meta? meta: "");
    zmsg_addstr (request, addr);
    zmsg_t *reply = s_request (client, &request, error, error_size);
    int rc = reply? 0: -1;
    zmsg_destroy (&reply);
    return rc;
}

int
otp_reg_unregister_as (otp_client_t *client, const char *name, const char *addr,
                       char *error, size_t error_size)
{
    return s_simple (client, "unregister-as", name, addr, error, error_size);
}

int
otp_reg_join (otp_client_t *client, const char *group, char *error, size_t error_size)
{
    return s_simple (client, "join", group, NULL, error, error_size);
}

int
otp_reg_leave (otp_client_t *client, const char *group, char *error, size_t error_size)
{
    return s_simple (client, "leave", group, NULL, error, error_size);
}

int
otp_reg_whereis (otp_client_t *client, const char *name, char *node, char *addr,
                 char *meta, char *error, size_t error_size)
{
    zmsg_t *request = s_new ("whereis", name, NULL);
    zmsg_t *reply = s_request (client, &request, error, error_size);
    if (!reply)
        return -1;
    int found = 0;
    if (zmsg_size (reply) == 3
    &&  otp_msg_str (reply, -1, node, OTP_NODE_MAX + 1) == 0
    &&  otp_msg_str (reply, 0, addr, OTP_NAME_MAX + 1) == 0
    &&  (!meta || otp_msg_str (reply, 1, meta, OTP_ARG_MAX + 1) == 0))
        found = 1;
    else
    if (zmsg_size (reply) != 0) {
        snprintf (error, error_size, "otp-reg sent a malformed reply");
        found = -1;
    }
    zmsg_destroy (&reply);
    return found;
}

//  All pages of `names`, `groups` or `members GROUP`.
static zlistx_t *
s_paged (otp_client_t *client, const char *command, const char *group,
         char *error, size_t error_size)
{
    zlistx_t *list = zlistx_new ();
    zlistx_set_destructor (list, (zlistx_destructor_fn *) zstr_free);
    char after [OTP_REG_NAME_MAX + 1] = "";
    while (true) {
        zmsg_t *request = group? s_new (command, group, after): s_new (command, after, NULL);
        zmsg_t *reply = s_request (client, &request, error, error_size);
        if (!reply) {
            zlistx_destroy (&list);
            return NULL;
        }
        size_t count = zmsg_size (reply);
        char *item;
        while ((item = zmsg_popstr (reply))) {
            snprintf (after, sizeof after, "%s", item);
            zlistx_add_end (list, item);
        }
        zmsg_destroy (&reply);
        if (count < OTP_REG_PAGE)
            return list;
    }
}

zlistx_t *
otp_reg_names (otp_client_t *client, char *error, size_t error_size)
{
    return s_paged (client, "names", NULL, error, error_size);
}

zlistx_t *
otp_reg_groups (otp_client_t *client, char *error, size_t error_size)
{
    return s_paged (client, "groups", NULL, error, error_size);
}

zlistx_t *
otp_reg_members (otp_client_t *client, const char *group, char *error, size_t error_size)
{
    return s_paged (client, "members", group, error, error_size);
}

zmsg_t *
otp_reg_info (otp_client_t *client, char *error, size_t error_size)
{
    zmsg_t *request = s_new ("info", NULL, NULL);
    return s_request (client, &request, error, error_size);
}

int
otp_reg_send (otp_client_t *client, const char *name, const void *data, size_t size,
              char *error, size_t error_size)
{
    char node [OTP_NODE_MAX + 1], addr [OTP_NAME_MAX + 1];
    int found = otp_reg_whereis (client, name, node, addr, NULL, error, error_size);
    if (found == 0)
        snprintf (error, error_size, "no process is registered as '%s'", name);
    if (found != 1)
        return -1;
    if (otp_client_send (client, addr, node, data, size)) {
        snprintf (error, error_size, "%s", otp_client_error (client));
        return -1;
    }
    return 0;
}

zframe_t *
otp_reg_call (otp_client_t *client, const char *name, const void *data, size_t size,
              int timeout_ms, char *error, size_t error_size)
{
    char node [OTP_NODE_MAX + 1], addr [OTP_NAME_MAX + 1];
    int found = otp_reg_whereis (client, name, node, addr, NULL, error, error_size);
    if (found == 0)
        snprintf (error, error_size, "no process is registered as '%s'", name);
    if (found != 1)
        return NULL;
    zframe_t *reply = otp_client_call (client, addr, node, data, size, timeout_ms);
    if (!reply) {
        if (strstr (otp_client_error (client), "no process"))
            snprintf (error, error_size, "'%s' exited before it replied", name);
        else
        if (strstr (otp_client_error (client), "did not reply"))
            snprintf (error, error_size, "'%s' did not reply within %d ms", name, timeout_ms);
        else
            snprintf (error, error_size, "%s", otp_client_error (client));
    }
    return reply;
}

void
otp_registry_test (void)
{
    assert (otp_reg_name_valid ("counter"));
    assert (otp_reg_name_valid ("chat:alice/1"));
    assert (!otp_reg_name_valid (""));
    assert (!otp_reg_name_valid ("a b"));
    assert (!otp_reg_name_valid ("tab\there"));
    char big [OTP_REG_NAME_MAX + 2];
    memset (big, 'x', sizeof big - 1);
    big [sizeof big - 1] = 0;
    assert (!otp_reg_name_valid (big));
    big [OTP_REG_NAME_MAX] = 0;
    assert (otp_reg_name_valid (big));

    //  A batch of two operations, then truncated and unknown ones.
    zmsg_t *batch = zmsg_new ();
    zmsg_addstr (batch, "ADD");
    zmsg_addstr (batch, "x");
    zmsg_addstr (batch, "_a");
    zmsg_addstr (batch, "");
    zmsg_addstr (batch, "17");
    zmsg_addstr (batch, "SYNC");
    zmsg_addstr (batch, "DEL");
    zmsg_addstr (batch, "x");
    zmsg_t *op;
    assert (otp_batch_pop (batch, otp_reg_ops, &op) == REG_OP_ADD);
    assert (zmsg_size (op) == 5);
    zmsg_destroy (&op);
    assert (otp_batch_pop (batch, otp_reg_ops, &op) == REG_OP_SYNC);
    zmsg_destroy (&op);
    assert (otp_batch_pop (batch, otp_reg_ops, &op) == -2 && !op);
    zmsg_destroy (&batch);
    batch = zmsg_new ();
    assert (otp_batch_pop (batch, otp_reg_ops, &op) == -1);
    zmsg_addstr (batch, "NOPE");
    assert (otp_batch_pop (batch, otp_reg_ops, &op) == -2);
    zmsg_addstr (batch, "ACK");
    zmsg_addmem (batch, NULL, OTP_ARG_MAX + 1);
    zmsg_destroy (&batch);

    //  A length that runs past the end is refused (CZMQ's decoder crashes).
    const byte bad [] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
    zframe_t *frame = zframe_new (bad, sizeof bad);
    assert (otp_payload_decode (frame) == NULL);
    zframe_destroy (&frame);
    const byte short_frame [] = { 3, 'a', 'b' };
    frame = zframe_new (short_frame, sizeof short_frame);
    assert (otp_payload_decode (frame) == NULL);
    zframe_destroy (&frame);
    zmsg_t *round = zmsg_new ();
    zmsg_addstr (round, "x");
    zmsg_addmem (round, NULL, 0);
    zframe_t *large = zframe_new (NULL, 300);
    memset (zframe_data (large), 'y', 300);
    zmsg_append (round, &large);
    frame = zmsg_encode (round);
    zmsg_t *back = otp_payload_decode (frame);
    assert (back && zmsg_size (back) == 3 && zframe_size (zmsg_last (back)) == 300);
    zmsg_destroy (&back);
    zmsg_destroy (&round);
    zframe_destroy (&frame);

    //  Requests are checked against their own table.
    batch = zmsg_new ();
    zmsg_addstr (batch, "whereis");
    zmsg_addstr (batch, "x");
    assert (otp_batch_pop (batch, otp_reg_requests, &op) == REG_WHEREIS);
    zmsg_destroy (&op);
    zmsg_destroy (&batch);
}
