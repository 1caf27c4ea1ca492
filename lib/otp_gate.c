#include "otp_gate.h"
#include "otp_log.h"
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct _source_t source_t;

typedef struct {
    int fd;
    struct sockaddr_storage local, remote;  //  what the descriptor was when accepted
    socklen_t local_size, remote_size;
    source_t *source;
    void *in_all;                           //  handles in the two age-ordered lists
    void *in_source;
} conn_t;

struct _source_t {
    char address [INET6_ADDRSTRLEN];
    zlistx_t *conns;                        //  oldest first
};

struct _otp_gate_t {
    size_t max_total, max_per_address;
    zhashx_t *by_fd;                        //  "fd" -> conn_t
    zhashx_t *sources;                      //  address -> source_t
    zlistx_t *all;                          //  conn_t, oldest first
    uint64_t shed;
};

static void
s_source_destroy (void **item)
{
    source_t *source = (source_t *) *item;
    zlistx_destroy (&source->conns);
    free (source);
    *item = NULL;
}

otp_gate_t *
otp_gate_new (size_t max_total, size_t max_per_address)
{
    otp_gate_t *self = (otp_gate_t *) zmalloc (sizeof (otp_gate_t));
    assert (self);
    self->max_total = max_total? max_total: 1;
    self->max_per_address = max_per_address? max_per_address: 1;
    self->by_fd = zhashx_new ();
    zhashx_set_destructor (self->by_fd, (zhashx_destructor_fn *) zstr_free);
    self->sources = zhashx_new ();
    zhashx_set_destructor (self->sources, s_source_destroy);
    self->all = zlistx_new ();
    return self;
}

void
otp_gate_destroy (otp_gate_t **self_p)
{
    otp_gate_t *self = *self_p;
    if (self) {
        zlistx_destroy (&self->all);        //  holds no destructor: by_fd frees
        zhashx_destroy (&self->by_fd);
        zhashx_destroy (&self->sources);
        free (self);
        *self_p = NULL;
    }
}

static void
s_forget (otp_gate_t *self, conn_t *conn)
{
    char key [16];
    snprintf (key, sizeof key, "%d", conn->fd);
    zlistx_delete (self->all, conn->in_all);
    source_t *source = conn->source;
    zlistx_delete (source->conns, conn->in_source);
    if (zlistx_size (source->conns) == 0)
        zhashx_delete (self->sources, source->address);
    zhashx_delete (self->by_fd, key);       //  frees conn
}

//  The descriptor is still the connection we recorded: same addresses.
static bool
s_same (const conn_t *conn)
{
    struct sockaddr_storage local, remote;
    socklen_t local_size = sizeof local, remote_size = sizeof remote;
    return getsockname (conn->fd, (struct sockaddr *) &local, &local_size) == 0
        && getpeername (conn->fd, (struct sockaddr *) &remote, &remote_size) == 0
        && local_size == conn->local_size && remote_size == conn->remote_size
        && memcmp (&local, &conn->local, local_size) == 0
        && memcmp (&remote, &conn->remote, remote_size) == 0;
}

static void
s_shed (otp_gate_t *self, conn_t *conn)
{
    if (s_same (conn)) {
        shutdown (conn->fd, SHUT_RDWR);
        self->shed++;
    }
    s_forget (self, conn);
}

size_t
otp_gate_accepted (otp_gate_t *self, int fd)
{
    conn_t probe = { .fd = fd };
    probe.local_size = sizeof probe.local;
    probe.remote_size = sizeof probe.remote;
    if (fd < 0
    ||  getsockname (fd, (struct sockaddr *) &probe.local, &probe.local_size)
    ||  getpeername (fd, (struct sockaddr *) &probe.remote, &probe.remote_size))
        return 0;                           //  already gone
    char address [INET6_ADDRSTRLEN] = "?";
    if (probe.remote.ss_family == AF_INET)
        inet_ntop (AF_INET, &((struct sockaddr_in *) &probe.remote)->sin_addr,
                   address, sizeof address);
    else
    if (probe.remote.ss_family == AF_INET6)
        inet_ntop (AF_INET6, &((struct sockaddr_in6 *) &probe.remote)->sin6_addr,
                   address, sizeof address);

    //  A number seen again without its close: the old record is stale.
    otp_gate_settled (self, fd);
    uint64_t shed_before = self->shed;
    source_t *source = (source_t *) zhashx_lookup (self->sources, address);
    if (source && zlistx_size (source->conns) >= self->max_per_address)
        s_shed (self, (conn_t *) zlistx_first (source->conns));
    if (zlistx_size (self->all) >= self->max_total)
        s_shed (self, (conn_t *) zlistx_first (self->all));

    source = (source_t *) zhashx_lookup (self->sources, address);
    if (!source) {
        source = (source_t *) zmalloc (sizeof (source_t));
        snprintf (source->address, sizeof source->address, "%s", address);
        source->conns = zlistx_new ();
        zhashx_insert (self->sources, address, source);
    }
    conn_t *conn = (conn_t *) zmalloc (sizeof (conn_t));
    *conn = probe;
    conn->source = source;
    conn->in_all = zlistx_add_end (self->all, conn);
    conn->in_source = zlistx_add_end (source->conns, conn);
    char key [16];
    snprintf (key, sizeof key, "%d", fd);
    zhashx_insert (self->by_fd, key, conn);
    return (size_t) (self->shed - shed_before);
}

void
otp_gate_settled (otp_gate_t *self, int fd)
{
    if (fd < 0 || zlistx_size (self->all) == 0)
        return;
    char key [16];
    snprintf (key, sizeof key, "%d", fd);
    conn_t *conn = (conn_t *) zhashx_lookup (self->by_fd, key);
    if (conn)
        s_forget (self, conn);
}

size_t
otp_gate_pending (otp_gate_t *self)
{
    return zlistx_size (self->all);
}

uint64_t
otp_gate_shed (otp_gate_t *self)
{
    return self->shed;
}

//  A connected pair over loopback, from source address `from`.
static void
s_pair (int listener, const char *from, int *client, int *server)
{
    struct sockaddr_in to;
    socklen_t size = sizeof to;
    int rc = getsockname (listener, (struct sockaddr *) &to, &size);
    assert (rc == 0);
    *client = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in source = { .sin_family = AF_INET };
    inet_pton (AF_INET, from, &source.sin_addr);
    rc = bind (*client, (struct sockaddr *) &source, sizeof source);
    assert (rc == 0);
    rc = connect (*client, (struct sockaddr *) &to, sizeof to);
    assert (rc == 0);
    *server = accept (listener, NULL, NULL);
    assert (*server >= 0);
}

//  True if the server side of a pair was shut: the client reads EOF.
static bool
s_was_shed (int client)
{
    char byte;
    return recv (client, &byte, 1, MSG_DONTWAIT) == 0;
}

void
otp_gate_test (void)
{
    int listener = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in any = { .sin_family = AF_INET };
    inet_pton (AF_INET, "127.0.0.1", &any.sin_addr);
    int rc = bind (listener, (struct sockaddr *) &any, sizeof any);
    assert (rc == 0);
    rc = listen (listener, 16);
    assert (rc == 0);

    //  Two per address, three in all.
    otp_gate_t *gate = otp_gate_new (3, 2);
    int client [5], server [5];
    s_pair (listener, "127.0.0.2", &client [0], &server [0]);
    s_pair (listener, "127.0.0.2", &client [1], &server [1]);
    assert (otp_gate_accepted (gate, server [0]) == 0);
    assert (otp_gate_accepted (gate, server [1]) == 0);
    assert (otp_gate_pending (gate) == 2);
    //  A third from the same address sheds that address's oldest.
    s_pair (listener, "127.0.0.2", &client [2], &server [2]);
    assert (otp_gate_accepted (gate, server [2]) == 1);
    assert (s_was_shed (client [0]));
    assert (!s_was_shed (client [1]));
    assert (otp_gate_pending (gate) == 2);
    //  One that spoke is settled: never shed.
    otp_gate_settled (gate, server [1]);
    assert (otp_gate_pending (gate) == 1);
    s_pair (listener, "127.0.0.3", &client [3], &server [3]);
    assert (otp_gate_accepted (gate, server [3]) == 0);
    s_pair (listener, "127.0.0.4", &client [4], &server [4]);
    assert (otp_gate_accepted (gate, server [4]) == 0);
    assert (otp_gate_pending (gate) == 3);
    //  Full in all: the oldest of all goes (client 2, from 127.0.0.2).
    int late_client, late_server;
    s_pair (listener, "127.0.0.5", &late_client, &late_server);
    assert (otp_gate_accepted (gate, late_server) == 1);
    assert (s_was_shed (client [2]));
    assert (!s_was_shed (client [1]) && !s_was_shed (client [3]) && !s_was_shed (client [4]));
    assert (otp_gate_shed (gate) == 2);

    //  A descriptor closed and reused for another connection is not shut:
    //  its addresses are not the ones recorded.
    int other_client, other_server;
    s_pair (listener, "127.0.0.6", &other_client, &other_server);
    int reused = dup2 (other_server, server [3]);   //  closes server [3]'s own
    assert (reused == server [3]);
    close (other_server);
    close (client [0]);
    close (server [0]);
    s_pair (listener, "127.0.0.7", &client [0], &server [0]);
    //  Full: the oldest is now the record of server [3], stale.
    assert (otp_gate_accepted (gate, server [0]) == 0);
    assert (!s_was_shed (other_client));
    assert (otp_gate_shed (gate) == 2);

    for (int i = 0; i < 5; i++) {
        close (client [i]);
        close (server [i]);
    }
    close (late_client);
    close (late_server);
    close (other_client);
    close (listener);
    otp_gate_destroy (&gate);
}
