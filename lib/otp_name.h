/*  otp_name - node names, `name@host`, as Erlang writes them.
    The host part is what peers connect to, so it must be a DNS name or an
    IPv4 address; the name part is what the port mapper keys on.             */
#ifndef OTP_NAME_H
#define OTP_NAME_H

#include <stdbool.h>
#include <czmq.h>
#include <stddef.h>

#define OTP_NAME_MAX 64         //  the part before '@'
#define OTP_HOST_MAX 253        //  a DNS name
#define OTP_NODE_MAX 255        //  a node name is a ZeroMQ routing id

//  True if `name` is a valid short name: [A-Za-z0-9_.-], 1..OTP_NAME_MAX.
bool otp_name_valid (const char *name);
//  Sorts a list of strings byte-wise (strcmp), in place. CZMQ 4.2.1's
//  zlistx_sort (a comb sort) can leave items out of order.
void otp_names_sort (zlistx_t *list);
//  True if `host` is a valid host name or dotted IPv4 address.
bool otp_host_valid (const char *host);
//  Splits `node` ("name@host") into its parts. Returns 0, or -1 with nothing
//  written when the node name is not valid.
int otp_node_split (const char *node, char *name, size_t name_size,
                    char *host, size_t host_size);
//  Builds a full node name from --name/--sname style input: "a@h" stays as
//  it is, "a" gets this machine's host name (short with `shortname`).
//  Returns 0, or -1 when the result is not a valid node name.
int otp_node_complete (const char *input, bool shortname, char *node, size_t size);
//  The pod A-record name Kubernetes' DNS gives a pod: IPv4 address `ip` with
//  dashes for dots, then ".NAMESPACE.pod.DOMAIN" ("10-1-2-3.default.pod.
//  cluster.local"). Returns 0, or -1 when `ip` is not a dotted IPv4 address
//  or the result is not a valid host name.
int otp_pod_host (const char *ip, const char *ns, const char *domain, char *host, size_t size);
//  The host part of a node at `ip`, spelled as `like` (our own host) is: a
//  pod A-record name when `like` is one (a dashed IPv4 address and a dot
//  first: "10-1-2-5.default.pod.cluster.local"), else `ip` itself. Returns
//  0, or -1 when `ip` is not a dotted IPv4 address or the result too long.
int otp_host_like (const char *like, const char *ip, char *host, size_t size);

void otp_name_test (void);

#endif
