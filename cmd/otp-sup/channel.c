/*  A cluster child's checkpoint channel: our end of the socket it has as
    descriptor 3. Lines in (lib/otp_state parses them), answers out. What
    a child sends cannot hurt us: a line is at most OTP_STATE_LINE_MAX
    bytes (beyond, it is refused and skipped to its end), and while
    CHANNEL_OUT_MAX bytes of answers wait for the child to read them, its
    lines wait too (it is not read): every put gets its answer, in order.
    Garbage is answered with `error bad` (a put's or an unknown line's; a
    cast is never answered, so a child that only casts never finds a stale
    answer in its way).                                                    */
#include "sup.h"
#include <fcntl.h>
#include <sys/socket.h>

#define CHANNEL_READ 65536
#define CHANNEL_OUT_MAX 65536       //  answers not yet read by the child: then it waits
#define CHANNEL_KEEP 65536          //  a buffer larger than this is given back when empty
#define CHANNEL_READS 32            //  reads in one turn of the loop: a fast writer waits its turn

struct _channel_t {
    app_t *app;
    int fd;                         //  -1 when closed
    char *buf;
    size_t len, cap;
    bool skipping;                  //  inside a line that was too long
    zlistx_t *out;                  //  answers (strings) waiting for the socket
    size_t out_bytes, out_sent;
    int events;                     //  polled for: ZMQ_POLLIN, ZMQ_POLLOUT
    bool in_lines;                  //  s_lines runs (an answer must not re-enter it)
    bool closing;                   //  the child is gone: what it wrote is read, answers dropped
    bool dead;
    channel_fn *fn;
    void *arg;
    uint64_t bad;
};

static int s_on_readable (zloop_t *loop, zmq_pollitem_t *item, void *arg);

channel_t *
channel_new (app_t *app, int fd, channel_fn *fn, void *arg)
{
    channel_t *self = (channel_t *) zmalloc (sizeof (channel_t));
    self->app = app;
    self->fd = fd;
    self->fn = fn;
    self->arg = arg;
    self->out = zlistx_new ();
    zlistx_set_destructor (self->out, (czmq_destructor *) zstr_free);
    fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
    zmq_pollitem_t item = { NULL, fd, ZMQ_POLLIN, 0 };
    zloop_poller (app->loop, &item, s_on_readable, self);
    self->events = ZMQ_POLLIN;
    return self;
}

static void
s_close (channel_t *self)
{
    if (self->fd < 0)
        return;
    zmq_pollitem_t item = { NULL, self->fd, 0, 0 };
    zloop_poller_end (self->app->loop, &item);
    close (self->fd);
    self->fd = -1;
    self->events = 0;
}

void
channel_destroy (channel_t **self_p)
{
    channel_t *self = *self_p;
    if (self) {
        s_close (self);
        free (self->buf);
        self->buf = NULL;
        zlistx_destroy (&self->out);
        self->dead = true;
        app_bury (self->app, self);
        *self_p = NULL;
    }
}

static void s_lines (channel_t *self);

static bool
s_paused (channel_t *self)
{
    return self->out_bytes >= CHANNEL_OUT_MAX && !self->closing;
}

static void
s_flush (channel_t *self)
{
    char *line;
    while (self->fd >= 0 && (line = (char *) zlistx_first (self->out))) {
        size_t size = strlen (line);
        ssize_t n = write (self->fd, line + self->out_sent, size - self->out_sent);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n <= 0) {
            zlistx_purge (self->out);
            self->out_bytes = self->out_sent = 0;
            break;
        }
        self->out_sent += (size_t) n;
        if (self->out_sent < size)
            break;
        self->out_bytes -= size;
        self->out_sent = 0;
        zlistx_delete (self->out, zlistx_cursor (self->out));
    }
    if (self->fd < 0)
        return;
    //  Room again: the lines that waited are taken now.
    if (!s_paused (self) && self->len && !self->in_lines)
        s_lines (self);
    if (self->dead || self->fd < 0)
        return;
    //  One poller per descriptor in zloop: reading and writing share it.
    int events = (s_paused (self)? 0: ZMQ_POLLIN) | (zlistx_size (self->out)? ZMQ_POLLOUT: 0);
    if (events != self->events) {
        zmq_pollitem_t item = { NULL, self->fd, 0, 0 };
        zloop_poller_end (self->app->loop, &item);
        item.events = (short) events;
        zloop_poller (self->app->loop, &item, s_on_readable, self);
        self->events = events;
    }
}

void
channel_reply (channel_t *self, const char *fmt, ...)
{
    if (!self || self->fd < 0 || self->closing)
        return;
    va_list args;
    va_start (args, fmt);
    char *line = zsys_vprintf (fmt, args);
    va_end (args);
    size_t size = strlen (line);
    char *with_nl = zsys_sprintf ("%s\n", line);
    zstr_free (&line);
    zlistx_add_end (self->out, with_nl);
    self->out_bytes += size + 1;
    s_flush (self);
}

//  A cast is never answered, not even when it is refused.
static bool
s_is_cast (const char *line, size_t len)
{
    return (len >= 5 && memcmp (line, "cast ", 5) == 0) || (len == 4 && memcmp (line, "cast", 4) == 0)
        || (len >= 7 && memcmp (line, "cast64 ", 7) == 0);
}

static void
s_line (channel_t *self, const char *line, size_t len)
{
    bool wait;
    uint8_t *data;
    size_t size;
    char error [256];
    otp_state_code_t code = otp_state_parse (line, len, &wait, &data, &size, error, sizeof error);
    if (code == OTP_STATE_OK) {
        self->fn (self->arg, wait, data, size);
        return;
    }
    self->bad++;
    otp_info ("checkpoint channel: %s", error);
    if (!s_is_cast (line, len))
        channel_reply (self, "error %s %s", otp_state_code_name (code), error);
}

//  Whole lines out of the buffer; a line longer than the longest request
//  is refused at once and skipped to its end.
static void
s_lines (channel_t *self)
{
    self->in_lines = true;
    size_t start = 0;
    bool paused = false;
    while (start < self->len) {
        if (s_paused (self)) {
            paused = true;
            break;
        }
        char *nl = (char *) memchr (self->buf + start, '\n', self->len - start);
        if (!nl)
            break;
        size_t len = (size_t) (nl - (self->buf + start));
        if (self->skipping)
            self->skipping = false;
        else
            s_line (self, self->buf + start, len);
        if (self->dead)
            return;
        start += len + 1;
    }
    memmove (self->buf, self->buf + start, self->len - start);
    self->len -= start;
    if (!paused && self->len > OTP_STATE_LINE_MAX + 1) {
        bool answer = !self->skipping && !s_is_cast (self->buf, self->len);
        if (!self->skipping) {
            self->bad++;
            otp_info ("checkpoint channel: a line of more than %d bytes", OTP_STATE_LINE_MAX + 1);
        }
        self->skipping = true;
        self->len = 0;
        if (answer)
            channel_reply (self, "error %s a state is at most %d bytes",
                           otp_state_code_name (OTP_STATE_TOOLARGE), OTP_STATE_MAX);
        if (self->dead)
            return;
    }
    if (self->len == 0 && self->cap > CHANNEL_KEEP) {
        free (self->buf);
        self->buf = NULL;
        self->cap = 0;
    }
    self->in_lines = false;
}

//  Reads what is there (at most CHANNEL_READS times); false once the
//  child's end is closed.
static bool
s_read (channel_t *self, int most)
{
    for (int reads = 0; self->fd >= 0 && reads < most && !s_paused (self); reads++) {
        if (self->cap - self->len < CHANNEL_READ) {
            self->cap = self->cap? self->cap * 2: CHANNEL_READ * 2;
            self->buf = (char *) realloc (self->buf, self->cap);
        }
        ssize_t n = read (self->fd, self->buf + self->len, self->cap - self->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return true;
        if (n <= 0)
            return false;
        self->len += (size_t) n;
        s_lines (self);
        if (self->dead)
            return true;
    }
    return self->fd >= 0;
}

static int
s_on_readable (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    channel_t *self = (channel_t *) arg;
    if (self->dead || self->fd < 0 || item->fd != self->fd)
        return 0;       //  ended in this pass (see app_bury)
    if ((item->revents & ZMQ_POLLOUT))
        s_flush (self);
    if (!self->dead && self->fd >= 0 && (item->revents & (ZMQ_POLLIN | ZMQ_POLLERR))
    &&  !s_read (self, CHANNEL_READS) && !self->dead)
        s_close (self);
    return 0;
}

void
channel_drain (channel_t *self)
{
    if (!self || self->fd < 0)
        return;
    //  Its process is gone: its last lines are taken, whatever waits.
    self->closing = true;
    zlistx_purge (self->out);
    self->out_bytes = self->out_sent = 0;
    if (self->len)
        s_lines (self);
    while (!self->dead && s_read (self, CHANNEL_READS))
        if (self->fd >= 0) {
            char probe;
            if (recv (self->fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT) <= 0)
                break;      //  nothing more (or its end closed)
        }
    if (!self->dead)
        s_close (self);
}

uint64_t
channel_bad (channel_t *self)
{
    return self? self->bad: 0;
}
