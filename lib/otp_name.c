#include "otp_name.h"
#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool
otp_name_valid (const char *name)
{
    size_t len = strlen (name);
    if (len == 0 || len > OTP_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum ((unsigned char) *p) && *p != '_' && *p != '-' && *p != '.')
            return false;
    return true;
}

bool
otp_host_valid (const char *host)
{
    size_t len = strlen (host);
    if (len == 0 || len > OTP_HOST_MAX || host [0] == '.' || host [0] == '-'
    ||  host [len - 1] == '.' || strstr (host, ".."))
        return false;
    for (const char *p = host; *p; p++)
        if (!isalnum ((unsigned char) *p) && *p != '-' && *p != '.')
            return false;
    return true;
}

int
otp_node_split (const char *node, char *name, size_t name_size,
                char *host, size_t host_size)
{
    const char *at = strchr (node, '@');
    if (!at || strchr (at + 1, '@'))
        return -1;
    size_t name_len = (size_t) (at - node);
    if (name_len == 0 || name_len > OTP_NAME_MAX || name_len >= name_size
    ||  strlen (node) > OTP_NODE_MAX
    ||  strlen (at + 1) >= host_size)
        return -1;
    char tmp [OTP_NAME_MAX + 1];
    memcpy (tmp, node, name_len);
    tmp [name_len] = 0;
    if (!otp_name_valid (tmp) || !otp_host_valid (at + 1))
        return -1;
    memcpy (name, tmp, name_len + 1);
    strcpy (host, at + 1);
    return 0;
}

int
otp_node_complete (const char *input, bool shortname, char *node, size_t size)
{
    char name [OTP_NAME_MAX + 1], host [OTP_HOST_MAX + 1];
    if (strchr (input, '@')) {
        if (otp_node_split (input, name, sizeof name, host, sizeof host))
            return -1;
        if (shortname && strchr (host, '.') && !isdigit ((unsigned char) host [0]))
            return -1;      //  Erlang refuses a dotted host for a short name
    }
    else {
        if (!otp_name_valid (input))
            return -1;
        snprintf (name, sizeof name, "%s", input);
        if (gethostname (host, sizeof host))
            return -1;
        host [sizeof host - 1] = 0;
        if (shortname) {
            char *dot = strchr (host, '.');
            if (dot)
                *dot = 0;
        }
        if (!otp_host_valid (host))
            return -1;
    }
    int n = snprintf (node, size, "%s@%s", name, host);
    return n < 0 || (size_t) n >= size || n > OTP_NODE_MAX? -1: 0;
}

//  Writes `ip` with dashes for dots; -1 unless it is a dotted IPv4 address.
static int
s_dashed (const char *ip, char *out, size_t size)
{
    struct in_addr address;
    if (inet_pton (AF_INET, ip, &address) != 1 || strlen (ip) >= size)
        return -1;
    size_t i;
    for (i = 0; ip [i]; i++)
        out [i] = ip [i] == '.'? '-': ip [i];
    out [i] = 0;
    return 0;
}

int
otp_pod_host (const char *ip, const char *ns, const char *domain, char *host, size_t size)
{
    char dashed [INET_ADDRSTRLEN];
    if (s_dashed (ip, dashed, sizeof dashed))
        return -1;
    int n = snprintf (host, size, "%s.%s.pod.%s", dashed, ns, domain);
    return n < 0 || (size_t) n >= size || !otp_host_valid (host)? -1: 0;
}

int
otp_host_like (const char *like, const char *ip, char *host, size_t size)
{
    char dashed [INET_ADDRSTRLEN], label [INET_ADDRSTRLEN];
    if (s_dashed (ip, dashed, sizeof dashed))
        return -1;
    //  Is our first label a dashed IPv4 address? Dots back, then parse.
    const char *dot = strchr (like, '.');
    size_t len = dot? (size_t) (dot - like): 0;
    struct in_addr address;
    bool pod = len > 0 && len < sizeof label;
    if (pod) {
        for (size_t i = 0; i < len; i++)
            label [i] = like [i] == '-'? '.': like [i];
        label [len] = 0;
        pod = inet_pton (AF_INET, label, &address) == 1;
    }
    int n = pod? snprintf (host, size, "%s%s", dashed, dot): snprintf (host, size, "%s", ip);
    return n < 0 || (size_t) n >= size? -1: 0;
}

typedef struct {
    const char *item;
    void *handle;
} s_node_t;

static int
s_compare (const void *a, const void *b)
{
    return strcmp (((const s_node_t *) a)->item, ((const s_node_t *) b)->item);
}

void
otp_names_sort (zlistx_t *list)
{
    size_t size = zlistx_size (list), i = 0;
    if (size < 2)
        return;
    //  Sort the handles, then move each node to the end in that order: the
    //  items themselves are never duplicated or freed.
    s_node_t *nodes = (s_node_t *) malloc (size * sizeof (s_node_t));
    for (const char *item = (const char *) zlistx_first (list); item;
         item = (const char *) zlistx_next (list), i++)
        nodes [i] = (s_node_t) { item, zlistx_cursor (list) };
    qsort (nodes, size, sizeof (s_node_t), s_compare);
    for (i = 0; i < size; i++)
        zlistx_move_end (list, nodes [i].handle);
    free (nodes);
}

void
otp_name_test (void)
{
    char name [OTP_NAME_MAX + 1], host [OTP_HOST_MAX + 1], node [OTP_NODE_MAX + 1];
    assert (otp_node_split ("a@localhost", name, sizeof name, host, sizeof host) == 0);
    assert (strcmp (name, "a") == 0 && strcmp (host, "localhost") == 0);
    assert (otp_node_split ("app@10-1-2-3.default.pod.cluster.local", name, sizeof name,
                            host, sizeof host) == 0);
    assert (otp_node_split ("a@10.0.0.1", name, sizeof name, host, sizeof host) == 0);
    assert (otp_node_split ("a", name, sizeof name, host, sizeof host) == -1);
    assert (otp_node_split ("@h", name, sizeof name, host, sizeof host) == -1);
    assert (otp_node_split ("a@", name, sizeof name, host, sizeof host) == -1);
    assert (otp_node_split ("a@b@c", name, sizeof name, host, sizeof host) == -1);
    assert (otp_node_split ("a b@h", name, sizeof name, host, sizeof host) == -1);
    assert (otp_node_split ("a@h..x", name, sizeof name, host, sizeof host) == -1);
    assert (otp_node_split ("a@h/x", name, sizeof name, host, sizeof host) == -1);
    assert (otp_node_split ("a@h\n", name, sizeof name, host, sizeof host) == -1);
    char big [400];
    memset (big, 'x', sizeof big - 1);
    big [sizeof big - 1] = 0;
    big [10] = '@';
    assert (otp_node_split (big, name, sizeof name, host, sizeof host) == -1);
    big [10] = 'x';
    big [20] = '@';     //  a valid name, a valid host, too long in all
    assert (otp_node_split (big, name, sizeof name, host, sizeof host) == -1);
    big [250] = 0;
    assert (otp_node_split (big, name, sizeof name, host, sizeof host) == 0);
    big [250] = 'x';
    big [20] = 'x';
    big [100] = '@';
    assert (otp_node_split (big, name, sizeof name, host, sizeof host) == -1);
    assert (otp_node_complete ("a@h", true, node, sizeof node) == 0);
    assert (strcmp (node, "a@h") == 0);
    assert (otp_node_complete ("a@h.example", true, node, sizeof node) == -1);
    assert (otp_node_complete ("a@h.example", false, node, sizeof node) == 0);
    assert (otp_node_complete ("a", true, node, sizeof node) == 0);
    assert (strchr (node, '@') && !strchr (node, '.'));
    assert (otp_node_complete ("a", false, node, 3) == -1);

    assert (otp_pod_host ("10.1.2.3", "default", "cluster.local", host, sizeof host) == 0);
    assert (strcmp (host, "10-1-2-3.default.pod.cluster.local") == 0);
    assert (otp_pod_host ("10.1.2", "default", "cluster.local", host, sizeof host) == -1);
    assert (otp_pod_host ("host", "default", "cluster.local", host, sizeof host) == -1);
    assert (otp_pod_host ("10.1.2.3", "bad ns", "cluster.local", host, sizeof host) == -1);
    assert (otp_pod_host ("10.1.2.3", "", "cluster.local", host, sizeof host) == -1);
    assert (otp_pod_host ("10.1.2.3", "default", "cluster.local", host, 20) == -1);
    assert (otp_host_like ("10-1-2-3.default.pod.cluster.local", "10.1.2.5", host, sizeof host) == 0);
    assert (strcmp (host, "10-1-2-5.default.pod.cluster.local") == 0);
    assert (otp_host_like ("10.1.2.3", "10.1.2.5", host, sizeof host) == 0);
    assert (strcmp (host, "10.1.2.5") == 0);
    assert (otp_host_like ("my-host.example", "10.1.2.5", host, sizeof host) == 0);
    assert (strcmp (host, "10.1.2.5") == 0);
    assert (otp_host_like ("1-2-3.example", "10.1.2.5", host, sizeof host) == 0);
    assert (strcmp (host, "10.1.2.5") == 0);
    assert (otp_host_like ("10-1-2-3", "10.1.2.5", host, sizeof host) == 0);
    assert (strcmp (host, "10.1.2.5") == 0);
    assert (otp_host_like ("10-1-2-3.x", "10.1.2", host, sizeof host) == -1);
    assert (otp_host_like ("10-1-2-3.x", "10.1.2.5", host, 5) == -1);

    //  1500 keys from a hash: zlistx_sort leaves some of these out of order.
    zhashx_t *hash = zhashx_new ();
    char key [16];
    for (int i = 1; i <= 1500; i++) {
        snprintf (key, sizeof key, "n%d", i);
        zhashx_insert (hash, key, (void *) "");
    }
    zlistx_t *keys = zhashx_keys (hash);
    otp_names_sort (keys);
    assert (zlistx_size (keys) == 1500);
    const char *prev = "";
    for (char *item = (char *) zlistx_first (keys); item; item = (char *) zlistx_next (keys)) {
        assert (strcmp (prev, item) < 0);
        prev = item;
    }
    zlistx_destroy (&keys);
    zhashx_destroy (&hash);
}
