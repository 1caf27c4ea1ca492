/*  Probes and metrics over HTTP: GET /health/live, /health/ready and
    /metrics, served by libmicrohttpd (MHD), which does the HTTP itself:
    parsing, limits, 400 for a malformed request, keep-alive, time-outs.

    MHD runs inside the node's zloop, not in a thread of its own. Started
    with MHD_USE_EPOLL and no internal thread, it keeps every socket of
    its own (the listener and each connection) in one epoll set whose
    descriptor is readable whenever any of them has work: zloop polls that
    one descriptor and calls MHD_run, and a one-shot timer covers MHD's
    own deadlines (idle connections; work left for the next run), as
    MHD_get_timeout asks. So each answer reads the node's state where it
    lives, on the thread that changes it: no lock, no snapshot that could
    lag, and a loop that hangs fails the liveness probe, which is what the
    liveness probe is for. Every answer is a few KiB built at once and
    copied to MHD, which writes it as the socket takes it: a slow or
    malicious client never holds the loop. (MHD 0.9.75, Debian bookworm's,
    has no MHD_USE_NO_THREAD_SAFETY; it is not needed, as only this
    thread ever calls MHD.)                                                */
#include "node.h"
#include <arpa/inet.h>
#include <sys/socket.h>
#include <microhttpd.h>

#define HTTP_CONNECTIONS 256        //  at most, all clients together: then the oldest goes
#define HTTP_PER_IP 16              //  at most, from one address
#define HTTP_IDLE_S 3               //  a connection silent this long is closed
#define HTTP_REQUEST_MS 5000        //  a request must be whole this long after the last
#define HTTP_TIMER_MAX_MS 1000      //  MHD is run at least this often while it waits

/*  MHD's time-out is for silence: a client that sends a byte of its
    request every second holds a connection for ever, and 16 addresses of
    such clients held all 256 (probes failed meanwhile). So a request must
    be whole HTTP_REQUEST_MS after the connection opened or after its last
    answer, and with the table full a newcomer takes the place of the
    oldest connection: a probe or a scrape is whole in milliseconds, so the
    oldest is nearly always the slow one. MHD closes nothing on request; a
    shutdown(2) of the connection's socket makes it read end-of-file and
    close the connection itself.                                           */
typedef struct {
    int fd;
    int64_t since;                  //  opened, or last answered
    void *handle;                   //  in http_t.conns
} http_conn_t;

struct _http_t {
    node_t *node;
    struct MHD_Daemon *daemon;
    zmq_pollitem_t item;            //  MHD's epoll descriptor
    int timer;                      //  -1, or MHD's next deadline
    int reaper;                     //  checks the request deadline
    zlistx_t *conns;                //  http_conn_t, oldest first
    uint64_t cut;                   //  connections shut: slow, or the oldest when full
};

static const char *s_text = "text/plain; charset=utf-8";

static enum MHD_Result
s_respond (struct MHD_Connection *connection, unsigned int status, const char *type,
           const char *body)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (strlen (body),
        (void *) body, MHD_RESPMEM_MUST_COPY);
    if (!response)
        return MHD_NO;
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    //  Probes and scrapes must see the node as it is now.
    MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response (connection, status, response);
    MHD_destroy_response (response);
    return rc;
}

static enum MHD_Result
s_on_request (void *cls, struct MHD_Connection *connection, const char *url,
              const char *method, const char *version, const char *upload_data,
              size_t *upload_data_size, void **request_state)
{
    http_t *self = (http_t *) cls;
    node_t *node = self->node;
    bool live = streq (url, "/health/live"), ready = streq (url, "/health/ready"),
         metrics = streq (url, "/metrics");
    if (!live && !ready && !metrics)
        return s_respond (connection, MHD_HTTP_NOT_FOUND, s_text, "not found\n");
    //  MHD leaves the body out of a HEAD answer.
    if (!streq (method, MHD_HTTP_METHOD_GET) && !streq (method, MHD_HTTP_METHOD_HEAD))
        return s_respond (connection, MHD_HTTP_METHOD_NOT_ALLOWED, s_text,
                          "method not allowed\n");
    //  Answered once the whole request is in (a body, if any, is read and
    //  dropped), so that the connection can serve the next one.
    static int started;
    if (*request_state != &started) {
        *request_state = &started;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (live)
        return s_respond (connection, MHD_HTTP_OK, s_text, "ok\n");
    if (ready) {
        char buf [OTP_NAME_MAX + 32], body [OTP_NAME_MAX + 34];
        const char *why = ready_check (node, buf, sizeof buf);
        snprintf (body, sizeof body, "%s\n", why? why: "ready");
        return s_respond (connection, why? MHD_HTTP_SERVICE_UNAVAILABLE: MHD_HTTP_OK, s_text, body);
    }
    char *text = metrics_text (node);
    if (!text)
        return s_respond (connection, MHD_HTTP_INTERNAL_SERVER_ERROR, s_text, "out of memory\n");
    enum MHD_Result rc = s_respond (connection, MHD_HTTP_OK,
                                    "text/plain; version=0.0.4; charset=utf-8", text);
    free (text);
    return rc;
}

//  MHD's complaints (a client that misbehaves, a full connection table):
//  the client's doing, so at debug level.
static void
s_on_log (void *cls, const char *format, va_list args)
{
    char line [512];
    vsnprintf (line, sizeof line, format, args);
    size_t len = strlen (line);
    while (len && (line [len - 1] == '\n' || line [len - 1] == '\r'))
        line [--len] = 0;
    otp_debug ("http: %s", line);
}

static int s_on_timer (zloop_t *loop, int timer_id, void *arg);

static void
s_cut (http_t *self, http_conn_t *conn)
{
    if (conn->fd >= 0) {
        shutdown (conn->fd, SHUT_RDWR);
        conn->fd = -1;              //  once: MHD tells us when it has closed it
        self->cut++;
        self->node->stats.http_cut++;
    }
}

static void
s_on_connection (void *cls, struct MHD_Connection *connection, void **socket_context,
                 enum MHD_ConnectionNotificationCode code)
{
    http_t *self = (http_t *) cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info (connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (zlistx_size (self->conns) >= HTTP_CONNECTIONS) {
            //  The oldest still open (one already cut may not be closed yet).
            for (http_conn_t *old = (http_conn_t *) zlistx_first (self->conns); old;
                 old = (http_conn_t *) zlistx_next (self->conns))
                if (old->fd >= 0) {
                    s_cut (self, old);
                    break;
                }
        }
        http_conn_t *conn = (http_conn_t *) zmalloc (sizeof (http_conn_t));
        conn->fd = info? info->connect_fd: -1;
        conn->since = zclock_mono ();
        conn->handle = zlistx_add_end (self->conns, conn);
        *socket_context = conn;
    }
    else
    if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        http_conn_t *conn = (http_conn_t *) *socket_context;
        zlistx_delete (self->conns, conn->handle);
        free (conn);
        *socket_context = NULL;
    }
}

//  An answer was sent: the connection's next request has its own time.
static void
s_on_completed (void *cls, struct MHD_Connection *connection, void **request_context,
                enum MHD_RequestTerminationCode code)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (info && info->socket_context) {
        http_conn_t *conn = (http_conn_t *) info->socket_context;
        conn->since = zclock_mono ();
        //  Oldest first: the list is ordered by `since`.
        http_t *self = (http_t *) cls;
        zlistx_move_end (self->conns, conn->handle);
    }
}

static void s_run (http_t *self);

static int
s_on_reaper (zloop_t *loop, int timer_id, void *arg)
{
    http_t *self = (http_t *) arg;
    int64_t oldest = zclock_mono () - HTTP_REQUEST_MS;
    bool cut = false;
    for (http_conn_t *conn = (http_conn_t *) zlistx_first (self->conns);
         conn && conn->since < oldest; conn = (http_conn_t *) zlistx_next (self->conns))
        if (conn->fd >= 0) {
            s_cut (self, conn);
            cut = true;
        }
    if (cut)
        s_run (self);
    return 0;
}

//  Runs MHD, then sets the timer to its next deadline.
static void
s_run (http_t *self)
{
    MHD_run (self->daemon);
    if (self->timer >= 0) {
        zloop_timer_end (self->node->loop, self->timer);
        self->timer = -1;
    }
    MHD_UNSIGNED_LONG_LONG wait;
    if (MHD_get_timeout (self->daemon, &wait) == MHD_YES) {
        size_t delay = wait < 1? 1: wait > HTTP_TIMER_MAX_MS? HTTP_TIMER_MAX_MS: (size_t) wait;
        self->timer = zloop_timer (self->node->loop, delay, 1, s_on_timer, self);
    }
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    http_t *self = (http_t *) arg;
    self->timer = -1;               //  a one-shot timer: zloop has ended it
    s_run (self);
    return 0;
}

static int
s_on_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    s_run ((http_t *) arg);
    return 0;
}

http_t *
http_new (node_t *node, char *error, size_t error_size)
{
    const node_config_t *config = node->config;
    struct sockaddr_in address = { .sin_family = AF_INET,
                                   .sin_port = htons ((uint16_t) config->http_port) };
    const char *bind = config->http_bind;
    if (!bind || !*bind || streq (bind, "*"))
        address.sin_addr.s_addr = htonl (INADDR_ANY);
    else
    if (inet_pton (AF_INET, bind, &address.sin_addr) != 1) {
        snprintf (error, error_size, "HTTP bind address '%s' is not an IPv4 address", bind);
        return NULL;
    }
    http_t *self = (http_t *) zmalloc (sizeof (http_t));
    self->node = node;
    self->timer = -1;
    self->conns = zlistx_new ();
    zlistx_set_destructor (self->conns, NULL);
    errno = 0;
    self->daemon = MHD_start_daemon (MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
        (uint16_t) config->http_port, NULL, NULL, s_on_request, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address,
        //  MHD's own limit is only a backstop: ours sheds the oldest.
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) HTTP_CONNECTIONS + 16,
        MHD_OPTION_NOTIFY_CONNECTION, s_on_connection, self,
        MHD_OPTION_NOTIFY_COMPLETED, s_on_completed, self,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int) HTTP_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) HTTP_IDLE_S,
        MHD_OPTION_EXTERNAL_LOGGER, s_on_log, self,
        MHD_OPTION_END);
    const union MHD_DaemonInfo *info = self->daemon?
        MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_EPOLL_FD): NULL;
    if (!info) {
        snprintf (error, error_size, "cannot serve HTTP on %s:%d: %s",
                  bind && *bind? bind: "*", config->http_port,
                  errno? strerror (errno): "libmicrohttpd refused to start");
        if (self->daemon)
            MHD_stop_daemon (self->daemon);
        zlistx_destroy (&self->conns);
        free (self);
        return NULL;
    }
    self->item.fd = info->epoll_fd;
    self->item.events = ZMQ_POLLIN;
    zloop_poller (node->loop, &self->item, s_on_ready, self);
    self->reaper = zloop_timer (node->loop, 500, 0, s_on_reaper, self);
    //  Connections that came before the first poll.
    s_run (self);
    otp_info ("serving HTTP on %s:%d (/health/live, /health/ready, /metrics)",
              bind && *bind? bind: "*", config->http_port);
    return self;
}

void
http_destroy (http_t **self_p)
{
    http_t *self = *self_p;
    if (!self)
        return;
    if (self->node->loop) {
        zloop_poller_end (self->node->loop, &self->item);
        if (self->timer >= 0)
            zloop_timer_end (self->node->loop, self->timer);
        zloop_timer_end (self->node->loop, self->reaper);
    }
    MHD_stop_daemon (self->daemon);     //  notifies each connection's close
    zlistx_destroy (&self->conns);
    free (self);
    *self_p = NULL;
}
