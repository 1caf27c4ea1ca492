#include "otp_proto.h"
#include "otp_opt.h"
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

const otp_cmd_t otp_epmd_cmds [EPMD_CMD_COUNT + 1] = {
    [EPMD_ALIVE] = { "ALIVE", 3, 3, -1 },  //  name, port, instance
    [EPMD_BYE]   = { "BYE",   2, 2, -1 },  //  name, instance
    [EPMD_PORT]  = { "PORT",  1, 1, -1 },  //  name
    [EPMD_NAMES] = { "NAMES", 0, 0, -1 },
    [EPMD_INFO]  = { "INFO",  0, 0, -1 },
    [EPMD_CMD_COUNT] = { NULL, 0, 0, -1 }
};

const otp_cmd_t otp_node_cmds [NODE_CMD_COUNT + 1] = {
    [NODE_HELLO] = { "HELLO", 5, 8, -1 },
    [NODE_HB]    = { "HB",    0, 3, -1 },
    [NODE_BYE]   = { "BYE",   0, 0, -1 },
    [NODE_ROUTE] = { "ROUTE", 4, 6, 3 },
    [NODE_REQ]   = { "REQ",   2, 16, -1 },
    [NODE_SEND]  = { "SEND",  3, 5, 2 },
    [NODE_SPAWN] = { "SPAWN", 2, 64, -1 },
    [NODE_ACK]   = { "ACK",   1, 1, -1 },
    [NODE_CMD_COUNT] = { NULL, 0, 0, -1 }
};

int
otp_msg_check (zmsg_t *msg, const otp_cmd_t *table, char *error, size_t error_size)
{
    zframe_t *command = zmsg_first (msg);
    if (!command) {
        snprintf (error, error_size, "empty message");
        return -1;
    }
    int index = -1;
    size_t len = zframe_size (command);
    for (int i = 0; table [i].name; i++)
        if (strlen (table [i].name) == len
        &&  memcmp (table [i].name, zframe_data (command), len) == 0) {
            index = i;
            break;
        }
    if (index < 0) {
        snprintf (error, error_size, "unknown command");
        return -1;
    }
    const otp_cmd_t *cmd = &table [index];
    int args = (int) zmsg_size (msg) - 1;
    if (args < cmd->min_args || (cmd->max_args >= 0 && args > cmd->max_args)) {
        snprintf (error, error_size, "%s takes %d..%d arguments, not %d",
                  cmd->name, cmd->min_args, cmd->max_args, args);
        return -1;
    }
    int arg = 0;
    for (zframe_t *frame = zmsg_next (msg); frame; frame = zmsg_next (msg), arg++) {
        size_t limit = arg == cmd->payload_arg? OTP_PAYLOAD_MAX: OTP_ARG_MAX;
        if (zframe_size (frame) > limit) {
            snprintf (error, error_size, "%s argument %d is too large (%zu bytes)",
                      cmd->name, arg + 1, zframe_size (frame));
            return -1;
        }
    }
    return index;
}

zframe_t *
otp_msg_arg (zmsg_t *msg, int index)
{
    zframe_t *frame = zmsg_first (msg);
    for (int i = 0; frame && i <= index; i++)
        frame = zmsg_next (msg);
    return frame;
}

int
otp_msg_str (zmsg_t *msg, int index, char *buf, size_t size)
{
    zframe_t *frame = otp_msg_arg (msg, index);
    if (!frame || zframe_size (frame) >= size
    ||  memchr (zframe_data (frame), 0, zframe_size (frame)))
        return -1;
    memcpy (buf, zframe_data (frame), zframe_size (frame));
    buf [zframe_size (frame)] = 0;
    return 0;
}

int
otp_msg_int (zmsg_t *msg, int index, long min, long max, long *value)
{
    char buf [32];
    if (otp_msg_str (msg, index, buf, sizeof buf))
        return -1;
    //  strtol would take leading spaces and a '+': a wire number is digits.
    for (const char *p = buf; *p; p++)
        if ((*p < '0' || *p > '9') && !(p == buf && *p == '-'))
            return -1;
    return otp_parse_int (buf, min, max, value);
}

void
otp_sock_harden (zsock_t *sock)
{
    zsock_set_maxmsgsize (sock, OTP_MSG_MAX);
    zsock_set_sndtimeo (sock, 0);
    zsock_set_linger (sock, 0);
}

int
otp_send (zmsg_t **msg, zsock_t *sock)
{
    int rc = zmsg_send (msg, sock);
    if (rc) {
        int err = zmq_errno ();
        zmsg_destroy (msg);
        errno = err;
    }
    return rc;
}

zmsg_t *
otp_recv_fd (zsock_t *sock, int *fd, bool *loopback)
{
    *fd = -1;
    if (loopback)
        *loopback = false;
    zmsg_t *msg = zmsg_new ();
    zmq_msg_t part;
    zmq_msg_init (&part);
    while (true) {
        if (zmq_msg_recv (&part, zsock_resolve (sock), 0) < 0) {
            zmq_msg_close (&part);
            zmsg_destroy (&msg);
            return NULL;
        }
        //  A ROUTER's routing-id part is made up locally: the descriptor
        //  travels on the parts that came off the wire.
        if (zmsg_size (msg) > 0 && *fd < 0) {
            *fd = zmq_msg_get (&part, ZMQ_SRCFD);
            const char *peer = loopback? zmq_msg_gets (&part, "Peer-Address"): NULL;
            if (peer)
                *loopback = strncmp (peer, "127.", 4) == 0 || streq (peer, "::1");
        }
        zmsg_addmem (msg, zmq_msg_data (&part), zmq_msg_size (&part));
        if (!zmq_msg_more (&part))
            break;
    }
    zmq_msg_close (&part);
    return msg;
}

int
otp_msg_kind (zmsg_t *msg, int index, char *kind, size_t kind_size)
{
    //  A message either ends at its payload, or carries a kind and a ref.
    int extra = (int) zmsg_size (msg) - 1 - index;
    *kind = 0;
    if (extra == 0)
        return 0;
    if (extra != 2 || otp_msg_str (msg, index, kind, kind_size)
    ||  !(streq (kind, "call") || streq (kind, "reply") || streq (kind, "noproc"))
    ||  zframe_size (otp_msg_arg (msg, index + 1)) == 0
    ||  zframe_size (otp_msg_arg (msg, index + 1)) > OTP_REF_MAX)
        return -1;
    return 0;
}

int
otp_bind (zsock_t *sock, const char *address, int port)
{
    if (port == 0)
        return zsock_bind (sock, "tcp://%s:*", address);
    //  zsock_bind returns the port for tcp:// endpoints, -1 on failure.
    return zsock_bind (sock, "tcp://%s:%d", address, port) < 0? -1: port;
}

void
otp_proto_test (void)
{
    char error [256];
    zmsg_t *msg = zmsg_new ();
    assert (otp_msg_check (msg, otp_epmd_cmds, error, sizeof error) == -1);
    zmsg_addstr (msg, "ALIVE");
    zmsg_addstr (msg, "a");
    zmsg_addstr (msg, "4370");
    assert (otp_msg_check (msg, otp_epmd_cmds, error, sizeof error) == -1);
    zmsg_addstr (msg, "123");
    assert (otp_msg_check (msg, otp_epmd_cmds, error, sizeof error) == EPMD_ALIVE);
    long port;
    assert (otp_msg_int (msg, 1, 1, 65535, &port) == 0 && port == 4370);
    assert (otp_msg_int (msg, 0, 1, 65535, &port) == -1);
    assert (otp_msg_int (msg, 1, 1, 100, &port) == -1);
    assert (otp_msg_int (msg, 7, 1, 100, &port) == -1);
    char name [8];
    assert (otp_msg_str (msg, 0, name, sizeof name) == 0 && streq (name, "a"));
    assert (otp_msg_str (msg, 9, name, sizeof name) == -1);
    zmsg_destroy (&msg);

    //  Prefixes and near-misses of a command name are unknown commands.
    const char *unknown [] = { "ALIV", "ALIVEX", "alive", "", NULL };
    for (int i = 0; unknown [i]; i++) {
        msg = zmsg_new ();
        zmsg_addstr (msg, unknown [i]);
        assert (otp_msg_check (msg, otp_epmd_cmds, error, sizeof error) == -1);
        zmsg_destroy (&msg);
    }

    //  Embedded NUL, oversized argument, large payload where allowed.
    msg = zmsg_new ();
    zmsg_addstr (msg, "PORT");
    zmsg_addmem (msg, "a\0b", 3);
    assert (otp_msg_check (msg, otp_epmd_cmds, error, sizeof error) == EPMD_PORT);
    assert (otp_msg_str (msg, 0, name, sizeof name) == -1);
    zmsg_destroy (&msg);

    char *big = (char *) calloc (1, OTP_ARG_MAX + 2);
    memset (big, 'x', OTP_ARG_MAX + 1);
    msg = zmsg_new ();
    zmsg_addstr (msg, "SEND");
    zmsg_addstr (msg, big);
    zmsg_addstr (msg, "n@h");
    zmsg_addstr (msg, "body");
    assert (otp_msg_check (msg, otp_node_cmds, error, sizeof error) == -1);
    zmsg_destroy (&msg);
    msg = zmsg_new ();
    zmsg_addstr (msg, "SEND");
    zmsg_addstr (msg, "name");
    zmsg_addstr (msg, "n@h");
    zmsg_addstr (msg, big);
    assert (otp_msg_check (msg, otp_node_cmds, error, sizeof error) == NODE_SEND);
    zmsg_destroy (&msg);
    free (big);
}
