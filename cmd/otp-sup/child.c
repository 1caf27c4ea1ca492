/*  A child: one OS process run from a spec, in its own process group, its
    stdout and stderr logged line by line under its id. Stopping is OTP's
    shutdown: SIGTERM to the group, SIGKILL once the shutdown time is up
    (at once for brutal_kill). When the process has exited, what is left of
    its group is killed too, so grandchildren never outlive it.             */
#include "sup.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define LINE_MAX_BYTES 4096

typedef struct {
    int fd;                         //  -1 when closed
    char buf [LINE_MAX_BYTES + 1];    //  + 1: a line's end is written in place
    size_t len;
    bool cut;                       //  the current line was cut: its rest is not a reply
} stream_t;

struct _child_t {
    app_t *app;
    otp_childspec_t *spec;
    char supervisor [256];
    char status [16];
    pid_t pid;                      //  0 when not running
    bool stop_requested;
    int kill_timer;                 //  -1: none
    stream_t out, err;
    port_t *port;                   //  named children, bridged through stdin/stdout
    int restarts;
    bool starting;                  //  waiting for the registry (child_start_async)
    bool failing;                   //  in app->failed (child_fail_later)
    bool dead;                      //  destroyed, waiting in the graveyard
    child_started_fn *started;
    child_exit_fn *handler;
    void *handler_arg;
    channel_fn *checkpoint;         //  NULL: no checkpoint channel
    void *checkpoint_arg;
    channel_t *channel;             //  of the process that runs
    zlistx_t *start_env;            //  KEY=VALUE for its next start
    int given [2];                  //  descriptors 4 and 5 of its next start; -1: none
    uint64_t instance;
    uint64_t channel_bad;           //  of its processes so far
};

static void s_close_given (child_t *self);

child_t *
child_new (app_t *app, otp_childspec_t **spec_p, const char *supervisor)
{
    child_t *self = (child_t *) zmalloc (sizeof (child_t));
    self->app = app;
    self->spec = *spec_p;
    *spec_p = NULL;
    snprintf (self->supervisor, sizeof self->supervisor, "%s", supervisor);
    snprintf (self->status, sizeof self->status, "stopped");
    self->kill_timer = -1;
    self->out.fd = -1;
    self->err.fd = -1;
    self->given [0] = self->given [1] = -1;
    return self;
}

static void s_close_streams (child_t *self);

void
child_destroy (child_t **self_p)
{
    child_t *self = *self_p;
    if (self) {
        if (self->pid > 0) {
            //  Never left running unseen: a child destroyed alive is killed.
            kill (-self->pid, SIGKILL);
            char key [16];
            snprintf (key, sizeof key, "%d", (int) self->pid);
            zhashx_delete (self->app->pids, key);
        }
        if (self->kill_timer >= 0)
            zloop_timer_end (self->app->loop, self->kill_timer);
        if (self->failing)
            for (child_t *each = (child_t *) zlistx_first (self->app->failed); each;
                 each = (child_t *) zlistx_next (self->app->failed))
                if (each == self) {
                    zlistx_delete (self->app->failed, zlistx_cursor (self->app->failed));
                    break;
                }
        s_close_streams (self);
        channel_destroy (&self->channel);
        zlistx_destroy (&self->start_env);
        s_close_given (self);
        port_destroy (&self->port);
        otp_childspec_destroy (&self->spec);
        self->dead = true;
        app_bury (self->app, self);
        *self_p = NULL;
    }
}

void
child_set_handler (child_t *self, child_exit_fn *handler, void *arg)
{
    self->handler = handler;
    self->handler_arg = arg;
}

void
child_set_checkpoints (child_t *self, channel_fn *fn, void *arg)
{
    self->checkpoint = fn;
    self->checkpoint_arg = arg;
}

void
child_set_start_env (child_t *self, zlistx_t *pairs)
{
    zlistx_destroy (&self->start_env);
    self->start_env = zlistx_new ();
    zlistx_set_destructor (self->start_env, (czmq_destructor *) zstr_free);
    for (const char *pair = (const char *) zlistx_first (pairs); pair;
         pair = (const char *) zlistx_next (pairs))
        zlistx_add_end (self->start_env, strdup (pair));
}

void
child_set_start_fds (child_t *self, int fd4, int fd5)
{
    s_close_given (self);
    self->given [0] = fd4;
    self->given [1] = fd5;
}

uint64_t child_instance (child_t *self) { return self->instance; }

void
child_checkpoint_reply (child_t *self, uint64_t instance, const char *fmt, ...)
{
    if (!self->channel || instance != self->instance)
        return;
    va_list args;
    va_start (args, fmt);
    char *line = zsys_vprintf (fmt, args);
    va_end (args);
    channel_reply (self->channel, "%s", line);
    zstr_free (&line);
}

uint64_t
child_channel_bad (child_t *self)
{
    return self->channel_bad + channel_bad (self->channel);
}

const otp_childspec_t *child_spec (child_t *self) { return self->spec; }
const char *child_id (child_t *self) { return self->spec->id; }
const char *child_supervisor (child_t *self) { return self->supervisor; }
pid_t child_pid (child_t *self) { return self->pid; }
bool child_alive (child_t *self) { return self->pid > 0; }
int child_restarts (child_t *self) { return self->restarts; }
void child_count_restart (child_t *self) { self->restarts++; }
const char *child_status (child_t *self) { return self->status; }

void
child_set_status (child_t *self, const char *status)
{
    snprintf (self->status, sizeof self->status, "%s", status);
}

//  Logs (or hands the port) each whole line; a line longer than the
//  buffer is cut, not lost.
static void
s_lines (child_t *self, stream_t *stream, bool flush)
{
    char *start = stream->buf, *end = stream->buf + stream->len, *nl;
    while ((nl = memchr (start, '\n', (size_t) (end - start)))
    ||     (flush && start < end)
    ||     (start == stream->buf && stream->len == LINE_MAX_BYTES)) {
        char *stop = nl? nl: end;
        *stop = 0;
        if (stop > start && stop [-1] == '\r')
            stop [-1] = 0;
        //  A line longer than the buffer answers one call with its first
        //  part; the rest is logged, or it would answer the next call.
        bool taken = !stream->cut && stream == &self->out && self->port
                  && port_on_line (self->port, start);
        if (!taken)
            otp_info ("%s: %s", self->spec->id, start);
        stream->cut = !nl && !flush;
        start = nl? nl + 1: end;
    }
    stream->len = (size_t) (end - start);
    memmove (stream->buf, start, stream->len);
}

static int
s_on_output (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    child_t *self = (child_t *) arg;
    if (self->dead || item->fd < 0 || (item->fd != self->out.fd && item->fd != self->err.fd))
        return 0;       //  ended in this pass (see app_bury)
    stream_t *stream = item->fd == self->out.fd? &self->out: &self->err;
    ssize_t n = read (stream->fd, stream->buf + stream->len, LINE_MAX_BYTES - stream->len);
    if (n > 0) {
        stream->len += (size_t) n;
        s_lines (self, stream, false);
    }
    else
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        s_lines (self, stream, true);
        zmq_pollitem_t gone = { NULL, stream->fd, ZMQ_POLLIN, 0 };
        zloop_poller_end (self->app->loop, &gone);
        close (stream->fd);
        stream->fd = -1;
    }
    return 0;
}

static void
s_close_streams (child_t *self)
{
    stream_t *streams [2] = { &self->out, &self->err };
    for (int i = 0; i < 2; i++) {
        stream_t *stream = streams [i];
        if (stream->fd < 0)
            continue;
        //  What the process wrote before it exited is still read: its last
        //  words are often the reason it died.
        ssize_t n;
        while ((n = read (stream->fd, stream->buf + stream->len,
                          LINE_MAX_BYTES - stream->len)) > 0) {
            stream->len += (size_t) n;
            s_lines (self, stream, false);
        }
        s_lines (self, stream, true);
        zmq_pollitem_t gone = { NULL, stream->fd, ZMQ_POLLIN, 0 };
        zloop_poller_end (self->app->loop, &gone);
        close (stream->fd);
        stream->fd = -1;
    }
}

static int
s_pipe (int fds [2], bool parent_reads)
{
    if (pipe2 (fds, O_CLOEXEC))
        return -1;
    int ours = parent_reads? fds [0]: fds [1];
    fcntl (ours, F_SETFL, fcntl (ours, F_GETFL) | O_NONBLOCK);
    return 0;
}

//  Closes each open descriptor of `count` pairs.
static void
s_close_pairs (int *pairs [], int count)
{
    for (int p = 0; p < count; p++)
        for (int e = 0; e < 2; e++)
            if (pairs [p][e] >= 0) {
                close (pairs [p][e]);
                pairs [p][e] = -1;
            }
}

static void
s_close_given (child_t *self)
{
    for (int i = 0; i < 2; i++)
        if (self->given [i] >= 0) {
            close (self->given [i]);
            self->given [i] = -1;
        }
}

static bool
s_bridged (child_t *self)
{
    return self->spec->name && !self->spec->api;
}

//  What must hold before a start; -1 and a reason if not.
static int
s_check (child_t *self, char *error, size_t error_size)
{
    assert (self->pid == 0);
    if (self->spec->name && !self->app->client) {
        snprintf (error, error_size, "child %s has a name, but otp-sup serves no node (--node)",
                  self->spec->id);
        return -1;
    }
    return 0;
}

static int s_spawn (child_t *self, char *error, size_t error_size);

int
child_start (child_t *self, bool *busy, char *error, size_t error_size)
{
    *busy = false;
    if (s_check (self, error, error_size))
        return -1;
    //  The name first: a child that cannot have its name does not run, so
    //  that a name never runs twice (the holder may be moving away).
    if (s_bridged (self) && !(self->port && port_registered (self->port))) {
        if (!self->port)
            self->port = port_new (self->app, self, self->spec->name);
        if (port_register (self->port, busy, error, error_size)) {
            port_destroy (&self->port);
            return -1;
        }
    }
    return s_spawn (self, error, error_size);
}

void
child_start_async (child_t *self, child_started_fn *started)
{
    char error [1024] = "";
    self->started = started;
    if (self->starting)
        return;         //  already waiting for its name
    if (s_check (self, error, sizeof error)) {
        started (self, -1, false, error, self->handler_arg);
        return;
    }
    if (s_bridged (self) && !(self->port && port_registered (self->port))) {
        if (!self->port)
            self->port = port_new (self->app, self, self->spec->name);
        self->starting = true;
        child_set_status (self, "starting");
        port_register_async (self->port);
        return;
    }
    int rc = s_spawn (self, error, sizeof error);
    started (self, rc, false, error, self->handler_arg);
}

void
child_on_registered (child_t *self, bool ok, bool busy, const char *error)
{
    if (!self->starting)
        return;         //  stopped while it waited
    self->starting = false;
    if (!ok) {
        port_destroy (&self->port);
        child_set_status (self, busy? "waiting": "failed");
        self->started (self, -1, busy, error, self->handler_arg);
        return;
    }
    char reason [1024] = "";
    int rc = s_spawn (self, reason, sizeof reason);
    self->started (self, rc, false, reason, self->handler_arg);
}

//  Runs the command: the name, if any, is already ours.
static int
s_spawn (child_t *self, char *error, size_t error_size)
{
    const otp_childspec_t *spec = self->spec;
    const char *node = self->app->config->node;
    bool bridged = s_bridged (self);
    int in [2] = { -1, -1 }, out [2] = { -1, -1 }, err [2] = { -1, -1 };
    if ((bridged && s_pipe (in, false)) || s_pipe (out, true) || s_pipe (err, true)) {
        snprintf (error, error_size, "pipe: %s", strerror (errno));
        int *all [3] = { in, out, err };
        s_close_pairs (all, 3);
        return -1;
    }
    //  The checkpoint channel: a socket pair, the child's end its fd 3.
    int channel [2] = { -1, -1 };
    if (self->checkpoint && socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel)) {
        snprintf (error, error_size, "socketpair: %s", strerror (errno));
        int *all [3] = { in, out, err };
        s_close_pairs (all, 3);
        return -1;
    }
    //  Never on 0-2 (the child's stdio): otp_spawn would not pass it on.
    if (channel [1] >= 0 && channel [1] <= 2) {
        int moved = fcntl (channel [1], F_DUPFD_CLOEXEC, 3);
        close (channel [1]);
        channel [1] = moved;
        if (moved < 0) {
            snprintf (error, error_size, "fcntl: %s", strerror (errno));
            close (channel [0]);
            int *all [3] = { in, out, err };
            s_close_pairs (all, 3);
            return -1;
        }
    }
    size_t extra = self->start_env? zlistx_size (self->start_env): 0;
    char **env = (char **) zmalloc ((size_t) (spec->envc + 5 + (int) extra) * sizeof (char *));
    int envc = 0;
    for (int i = 0; i < spec->envc; i++)
        env [envc++] = spec->env [i];
    char *own [4];
    own [0] = zsys_sprintf ("OTP_NODE=%s", node? node: "");
    own [1] = zsys_sprintf ("OTP_CHILD_ID=%s", spec->id);
    own [2] = zsys_sprintf ("OTP_NAME=%s", spec->name? spec->name: "");
    own [3] = self->checkpoint? zsys_sprintf ("OTP_STATE_FD=%d", OTP_STATE_FD): NULL;
    for (int i = 0; i < 4; i++)
        if (own [i])
            env [envc++] = own [i];
    if (self->start_env)
        for (char *pair = (char *) zlistx_first (self->start_env); pair;
             pair = (char *) zlistx_next (self->start_env))
            env [envc++] = pair;
    env [envc] = NULL;
    otp_spawn_opts_t opts = {
        .argv = spec->argv,
        .new_session = true,
        .null_stdio = true,
        .stdio = { bridged? in [0]: 0, out [1], err [1] },
        .env = env,
        .cwd = spec->cwd,
        .death_signal = SIGKILL,
        .keep_cookie = otp_childspec_keeps_cookie (spec),
        .extra = { channel [1], self->given [0] >= 0? self->given [0]: 0,
                   self->given [1] >= 0? self->given [1]: 0 },
    };
    pid_t pid = otp_spawn (&opts, error, error_size);
    for (int i = 0; i < 4; i++)
        zstr_free (&own [i]);
    free (env);
    if (channel [1] >= 0)
        close (channel [1]);
    s_close_given (self);           //  the child has its copies
    if (bridged)
        close (in [0]);
    close (out [1]);
    close (err [1]);
    if (pid < 0) {
        if (bridged)
            close (in [1]);
        close (out [0]);
        close (err [0]);
        if (channel [0] >= 0)
            close (channel [0]);
        self->app->stats.exec_failures++;
        child_set_status (self, "failed");
        return -1;
    }
    self->pid = pid;
    self->instance++;
    self->stop_requested = false;
    self->app->stats.starts++;
    if (channel [0] >= 0)
        self->channel = channel_new (self->app, channel [0], self->checkpoint, self->checkpoint_arg);
    char key [16];
    snprintf (key, sizeof key, "%d", (int) pid);
    zhashx_update (self->app->pids, key, self);
    self->out.fd = out [0];
    self->err.fd = err [0];
    self->out.len = self->err.len = 0;
    zmq_pollitem_t item = { NULL, out [0], ZMQ_POLLIN, 0 };
    zloop_poller (self->app->loop, &item, s_on_output, self);
    item.fd = err [0];
    zloop_poller (self->app->loop, &item, s_on_output, self);
    if (self->port)
        port_set_stdin (self->port, bridged? in [1]: -1);
    child_set_status (self, "running");
    otp_info ("%s: started, pid %d", spec->id, (int) pid);
    return 0;
}

static int
s_on_kill_timer (zloop_t *loop, int timer_id, void *arg)
{
    child_t *self = (child_t *) arg;
    if (self->dead)
        return 0;
    self->kill_timer = -1;
    if (self->pid > 0) {
        otp_warn ("%s: still running %d ms after SIGTERM; SIGKILL", self->spec->id,
                  otp_childspec_shutdown (self->spec));
        kill (-self->pid, SIGKILL);
    }
    return 0;
}

void
child_stop (child_t *self)
{
    self->starting = false;
    if (self->pid <= 0 || self->stop_requested)
        return;
    self->stop_requested = true;
    child_set_status (self, "stopping");
    int shutdown = otp_childspec_shutdown (self->spec);
    if (shutdown == OTP_SHUTDOWN_BRUTAL) {
        kill (-self->pid, SIGKILL);
        return;
    }
    kill (-self->pid, SIGTERM);
    if (shutdown > 0)
        self->kill_timer = zloop_timer (self->app->loop, (size_t) shutdown, 1, s_on_kill_timer, self);
}

void
child_kill (child_t *self)
{
    if (self->pid > 0) {
        self->stop_requested = true;
        kill (-self->pid, SIGKILL);
    }
}

void
child_fail_later (child_t *self)
{
    if (self->failing)
        return;
    self->failing = true;
    zlistx_add_end (self->app->failed, self);
    app_pump_later (self->app);
}

void
child_report_failures (app_t *app)
{
    child_t *self;
    while ((self = (child_t *) zlistx_first (app->failed))) {
        zlistx_detach_cur (app->failed);
        self->failing = false;
        if (self->handler)
            self->handler (self, 127, false, self->handler_arg);
    }
}

void
child_release (child_t *self)
{
    port_destroy (&self->port);
}

void
child_reaped (app_t *app, pid_t pid, int wstatus)
{
    char key [16];
    snprintf (key, sizeof key, "%d", (int) pid);
    child_t *self = (child_t *) zhashx_lookup (app->pids, key);
    if (!self)
        return;         //  a grandchild we inherited as subreaper, or a failed exec
    zhashx_delete (app->pids, key);
    //  The group goes with its leader: nothing it started lives on.
    kill (-pid, SIGKILL);
    self->pid = 0;
    if (self->kill_timer >= 0) {
        zloop_timer_end (app->loop, self->kill_timer);
        self->kill_timer = -1;
    }
    s_close_streams (self);
    //  Its last checkpoint (a hand-off's) may still wait in the socket.
    if (self->channel) {
        channel_drain (self->channel);
        self->channel_bad += channel_bad (self->channel);
        channel_destroy (&self->channel);
    }
    if (self->port)
        port_set_stdin (self->port, -1);
    int status = WIFEXITED (wstatus)? WEXITSTATUS (wstatus)
               : WIFSIGNALED (wstatus)? 128 + WTERMSIG (wstatus): 255;
    bool requested = self->stop_requested;
    self->stop_requested = false;
    app->stats.exits++;
    child_set_status (self, "stopped");
    if (requested)
        otp_info ("%s: stopped (status %d)", self->spec->id, status);
    else
    if (WIFSIGNALED (wstatus))
        otp_warn ("%s: killed by %s", self->spec->id, strsignal (WTERMSIG (wstatus)));
    else
        otp_info ("%s: exited with status %d", self->spec->id, status);
    if (self->handler)
        self->handler (self, status, requested, self->handler_arg);
}
