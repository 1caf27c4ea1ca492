#ifndef CTL_H
#define CTL_H

#include "otp.h"

typedef struct {
    const char *node;
    const char *cookie;
    const char *cookie_file;
    int epmd_port;
    int timeout_ms;
    bool timeout_set;               //  -t given: it wins over a command's own default
    bool json;
} ctl_t;

//  Commands sent to a node; exit status.
int ctl_node (ctl_t *ctl, const char *command, int argc, char **argv);
//  `epmd names|info [--host H]`; exit status.
int ctl_epmd (ctl_t *ctl, int argc, char **argv);
//  `rpc NODE [--] CMD ARGS...`: runs CMD on NODE; its exit status.
int ctl_rpc (ctl_t *ctl, int argc, char **argv);
//  A client connection to `node`, or NULL with the reason in `error`.
otp_client_t *ctl_connect (ctl_t *ctl, const char *node, char *error, size_t error_size);
//  whereis, names, members, groups, call, and send by registered name.
int ctl_registry (ctl_t *ctl, const char *command, int argc, char **argv);
//  start-child, stop-child, restart-child, delete-child, which-children,
//  count-children and sup-info, to the otp-sup beside the node.
int ctl_sup (ctl_t *ctl, const char *command, int argc, char **argv);
//  `cookie [--file PATH | --check]`: a new cookie, or the verdict on the
//  one in use; exit status.
int ctl_cookie (ctl_t *ctl, int argc, char **argv);
//  Prints key, value frames as a table, or a JSON object.
void ctl_print_pairs (ctl_t *ctl, zmsg_t *pairs);
//  Prints `text` as a JSON string.
void ctl_json_string (const char *text);

#endif
