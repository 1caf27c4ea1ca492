/*  A port (Erlang's idea): a named child's process on the node. It holds
    the child's name in the registry, and bridges messages: each message
    sent to the name is written to the child's stdin as one line, and for a
    call the next line the child writes on stdout is the reply. It lives as
    long as the child's spec here, across restarts in place, so the name is
    never free for another holder in between; messages that come while the
    child restarts wait for the new process.                                */
#include "sup.h"
#include <fcntl.h>
#include <poll.h>

#define PORT_QUEUE_MAX (1024 * 1024)    //  bytes waiting for stdin, then drop
#define PORT_CALLS_MAX 1024             //  calls waiting for a reply line
//  A tagged call whose reply has not come in this long is forgotten: its
//  caller has given up (otp-ctl's longest wait is its -t), and a late line
//  with its id is then dropped like any other unknown one.
#define PORT_CALL_EXPIRE_MS 60000

typedef struct {
    char *line;                     //  with its '\n'; freed once written
    size_t size, sent;
    otp_message_t *call;            //  NULL for a plain message
    uint64_t id;                    //  a tagged call's id (messages = tagged)
    int64_t written_at;
} pending_t;

struct _port_t {
    app_t *app;
    child_t *child;
    char name [OTP_REG_NAME_MAX + 1];
    char address [OTP_NAME_MAX + 1];    //  the port's process on the node
    bool registering;               //  a register-as waits for its reply
    bool registered;
    int stdin_fd;                   //  -1 while the child does not run
    bool writing;                   //  a POLLOUT poller is on
    zlistx_t *queue;                //  pending_t, to write
    size_t queued;
    zlistx_t *calls;                //  pending_t with a call, written, waiting for a line
    bool tagged;                    //  messages = tagged: lines carry call ids
    uint64_t next_id;
    int retry_timer;                //  taking the name back; -1: none
    int64_t warned;
    bool dead;                      //  destroyed, waiting in the graveyard
};

static void
s_pending_destroy (pending_t **self_p)
{
    pending_t *self = *self_p;
    if (self) {
        free (self->line);
        otp_message_destroy (&self->call);
        free (self);
        *self_p = NULL;
    }
}

port_t *
port_new (app_t *app, child_t *child, const char *name)
{
    port_t *self = (port_t *) zmalloc (sizeof (port_t));
    self->app = app;
    self->child = child;
    snprintf (self->name, sizeof self->name, "%s", name);
    //  Every port is a process of its own on the node, attached by our one
    //  connection: messages to it come to us, marked with its address.
    snprintf (self->address, sizeof self->address, "_sup%d.%" PRIu64, (int) getpid (),
              ++app->port_sequence);
    self->stdin_fd = -1;
    self->retry_timer = -1;
    self->queue = zlistx_new ();
    zlistx_set_destructor (self->queue, (zlistx_destructor_fn *) s_pending_destroy);
    self->calls = zlistx_new ();
    zlistx_set_destructor (self->calls, (zlistx_destructor_fn *) s_pending_destroy);
    self->tagged = child_spec (child)->tagged;
    //  Not waited for: the node takes requests in order, so the attach is
    //  done before any registration of the address can be answered.
    otp_client_request (app->client, "attach", self->address);
    zhashx_insert (app->ports, self->address, self);
    return self;
}

void
port_destroy (port_t **self_p)
{
    port_t *self = *self_p;
    if (self) {
        //  The name is given up before the address goes: whoever takes it
        //  next (a hand-off) need not wait for the node to notice.
        if (self->registered || self->registering) {
            zframe_t *request = otp_reg_request ("unregister-as", self->name, self->address, NULL);
            //  A call (otp-reg takes requests as calls only); its reply is ignored.
            otp_client_send_request (self->app->client, OTP_REG_PROCESS,
                                     otp_client_node (self->app->client),
                                     zframe_data (request), zframe_size (request), "unregister");
            zframe_destroy (&request);
        }
        //  Calls waiting for stdin get their answer now, as the node gives
        //  it once the address is free (noproc), rather than at their
        //  time-out; those written are answered by port_set_stdin.
        for (pending_t *pending = (pending_t *) zlistx_first (self->queue); pending;
             pending = (pending_t *) zlistx_next (self->queue))
            if (pending->call)
                otp_client_noproc (self->app->client, pending->call);
        otp_client_request (self->app->client, "detach", self->address);
        zhashx_delete (self->app->ports, self->address);
        port_set_stdin (self, -1);
        if (self->retry_timer >= 0)
            zloop_timer_end (self->app->loop, self->retry_timer);
        zlistx_destroy (&self->queue);
        zlistx_destroy (&self->calls);
        self->dead = true;
        app_bury (self->app, self);
        *self_p = NULL;
    }
}

bool
port_registered (port_t *self)
{
    return self->registered;
}

static void
s_meta (port_t *self, char *meta, size_t size)
{
    snprintf (meta, size, "child=%s", child_id (self->child));
}

int
port_register (port_t *self, bool *busy, char *error, size_t error_size)
{
    char reason [512], meta [OTP_CHILD_ID_MAX + 16];
    s_meta (self, meta, sizeof meta);
    *busy = false;
    int rc = otp_reg_register_as (self->app->client, self->name, self->address, meta,
                                  reason, sizeof reason);
    //  What came while we waited is in the mailbox: no socket shows it.
    app_pump_later (self->app);
    if (rc == 0) {
        self->registered = true;
        return 0;
    }
    *busy = strstr (reason, "registered") != NULL;
    snprintf (error, error_size, "child %s cannot take the name %s: %s",
              child_id (self->child), self->name, reason);
    return -1;
}

void
port_register_async (port_t *self)
{
    char meta [OTP_CHILD_ID_MAX + 16];
    s_meta (self, meta, sizeof meta);
    zframe_t *request = otp_reg_request ("register-as", self->name, meta, self->address);
    //  The reply comes to the port's address: the call is sent as it.
    otp_client_send_request (self->app->client, OTP_REG_PROCESS, otp_client_node (self->app->client),
                             zframe_data (request), zframe_size (request), self->address);
    zframe_destroy (&request);
    self->registering = true;
}

//  A reply to port_register_async (its ref is our address).
static void
s_on_registered (port_t *self, otp_message_t *reply)
{
    self->registering = false;
    char reason [512] = "no answer from otp-reg";
    bool ok = false, busy = false;
    zmsg_t *values = streq (reply->kind, "reply")? otp_payload_decode (reply->payload): NULL;
    char status [8] = "";
    if (values && otp_msg_str (values, -1, status, sizeof status) == 0) {
        ok = streq (status, "ok");
        if (!ok && otp_msg_str (values, 0, reason, sizeof reason))
            snprintf (reason, sizeof reason, "malformed reply from otp-reg");
    }
    zmsg_destroy (&values);
    self->registered = ok;
    //  Held elsewhere, or no otp-reg here right now (restarting): try again.
    if (!ok)
        busy = strstr (reason, "registered") != NULL || streq (reply->kind, "noproc");
    char error [1024] = "";
    if (!ok)
        snprintf (error, sizeof error, "child %s cannot take the name %s: %s",
                  child_id (self->child), self->name, reason);
    if (self->retry_timer >= 0) {
        //  Taking the name back after a heal (s_on_retry): the child runs.
        if (ok) {
            otp_info ("%s: has its name again", child_id (self->child));
            zloop_timer_end (self->app->loop, self->retry_timer);
            self->retry_timer = -1;
        }
    }
    //  A child that restarted meanwhile waits for this answer too (a no-op
    //  for one that runs).
    child_on_registered (self->child, ok, busy, error);
}

static int s_on_writable (zloop_t *loop, zmq_pollitem_t *item, void *arg);

//  Writes what it can without blocking; a full pipe waits for POLLOUT.
static void
s_flush (port_t *self)
{
    pending_t *pending;
    while (self->stdin_fd >= 0 && (pending = (pending_t *) zlistx_first (self->queue))) {
        ssize_t n = write (self->stdin_fd, pending->line + pending->sent, pending->size - pending->sent);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) {
            //  The child closed its stdin: nothing more reaches it.
            otp_debug ("%s: stdin: %s", self->name, strerror (errno));
            self->app->stats.dropped += zlistx_size (self->queue);
            zlistx_purge (self->queue);
            self->queued = 0;
            break;
        }
        pending->sent += (size_t) n;
        if (pending->sent < pending->size)
            break;
        self->queued -= pending->size;
        zlistx_detach_cur (self->queue);
        if (pending->call) {
            if (zlistx_size (self->calls) >= PORT_CALLS_MAX) {
                pending_t *oldest = (pending_t *) zlistx_first (self->calls);
                zlistx_detach_cur (self->calls);
                s_pending_destroy (&oldest);
                self->app->stats.dropped++;
            }
            zstr_free (&pending->line);
            pending->written_at = zclock_mono ();
            zlistx_add_end (self->calls, pending);
        }
        else
            s_pending_destroy (&pending);
    }
    bool want = self->stdin_fd >= 0 && zlistx_size (self->queue) > 0;
    if (want != self->writing) {
        zmq_pollitem_t item = { NULL, self->stdin_fd, ZMQ_POLLOUT, 0 };
        if (want)
            zloop_poller (self->app->loop, &item, s_on_writable, self);
        else
            zloop_poller_end (self->app->loop, &item);
        self->writing = want;
    }
}

static int
s_on_writable (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    port_t *self = (port_t *) arg;
    if (!self->dead)
        s_flush (self);
    return 0;
}

void
port_set_stdin (port_t *self, int fd)
{
    if (self->writing) {
        zmq_pollitem_t item = { NULL, self->stdin_fd, ZMQ_POLLOUT, 0 };
        zloop_poller_end (self->app->loop, &item);
        self->writing = false;
    }
    if (self->stdin_fd >= 0)
        close (self->stdin_fd);
    self->stdin_fd = fd;
    //  Calls written to the process that exited will never be answered by
    //  the next one: their callers hear it at once (noproc: "exited before
    //  it replied"), as a gen_server:call hears of its callee's crash from
    //  its monitor, rather than at their time-out.
    for (pending_t *call = (pending_t *) zlistx_first (self->calls); call;
         call = (pending_t *) zlistx_next (self->calls))
        otp_client_noproc (self->app->client, call->call);
    zlistx_purge (self->calls);
    if (fd >= 0)
        s_flush (self);
}

//  Tagged calls whose reply is overdue are forgotten (PORT_CALL_EXPIRE_MS).
static void
s_expire (port_t *self)
{
    int64_t now = zclock_mono ();
    pending_t *call;
    while ((call = (pending_t *) zlistx_first (self->calls))
       &&  now - call->written_at > PORT_CALL_EXPIRE_MS) {
        zlistx_detach_cur (self->calls);
        s_pending_destroy (&call);
        self->app->stats.calls_expired++;
    }
}

//  "ID REST" with ID a call's decimal id: the id, and REST in `rest`.
static bool
s_tag (const char *line, uint64_t *id, const char **rest)
{
    if (*line < '1' || *line > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long value = strtoull (line, &end, 10);
    if (errno || (*end != ' ' && *end != 0))
        return false;
    *id = (uint64_t) value;
    *rest = *end? end + 1: end;
    return true;
}

bool
port_on_line (port_t *self, const char *line)
{
    pending_t *call = NULL;
    if (self->tagged) {
        //  A reply names its call: any order, and a late, repeated or
        //  unknown id is dropped without touching the others. A line
        //  with no id is the child's own output (logged).
        uint64_t id;
        const char *rest;
        if (!s_tag (line, &id, &rest))
            return false;
        s_expire (self);
        for (call = (pending_t *) zlistx_first (self->calls); call;
             call = (pending_t *) zlistx_next (self->calls))
            if (call->id == id)
                break;
        if (!call) {
            self->app->stats.replies_unmatched++;
            if (otp_log_ratelimit (&self->warned, 1000))
                otp_warn ("%s: a reply to no call waiting (id %" PRIu64 "): dropped; %" PRIu64
                          " so far", self->name, id, self->app->stats.replies_unmatched);
            return true;
        }
        zlistx_detach_cur (self->calls);
        line = rest;
    }
    else {
        //  One reply per line, in order: the oldest call takes it.
        call = (pending_t *) zlistx_first (self->calls);
        if (!call)
            return false;
        zlistx_detach_cur (self->calls);
    }
    otp_client_reply (self->app->client, call->call, line, strlen (line));
    s_pending_destroy (&call);
    self->app->stats.replies++;
    return true;
}

static void
s_deliver (port_t *self, otp_message_t **message_p)
{
    otp_message_t *message = *message_p;
    size_t size = zframe_size (message->payload);
    if (self->queued + size + 1 > PORT_QUEUE_MAX) {
        if (otp_log_ratelimit (&self->warned, 1000))
            otp_warn ("%s: %zu bytes wait for its stdin; dropping messages", self->name, self->queued);
        self->app->stats.dropped++;
        otp_message_destroy (message_p);
        return;
    }
    if (self->tagged)
        s_expire (self);
    pending_t *pending = (pending_t *) zmalloc (sizeof (pending_t));
    bool call = streq (message->kind, "call");
    //  Tagged: "ID " before a call, "- " before a plain message.
    char tag [24] = "";
    if (self->tagged) {
        if (call)
            pending->id = ++self->next_id;
        if (call)
            snprintf (tag, sizeof tag, "%" PRIu64 " ", pending->id);
        else
            snprintf (tag, sizeof tag, "- ");
    }
    size_t tag_size = strlen (tag);
    pending->line = (char *) malloc (tag_size + size + 1);
    memcpy (pending->line, tag, tag_size);
    memcpy (pending->line + tag_size, zframe_data (message->payload), size);
    //  One message, one line: a newline inside would split it in two.
    for (size_t i = tag_size; i < tag_size + size; i++)
        if (pending->line [i] == '\n' || pending->line [i] == '\r')
            pending->line [i] = ' ';
    size += tag_size;
    pending->line [size] = '\n';
    pending->size = size + 1;
    if (call) {
        pending->call = message;
        *message_p = NULL;
    }
    else
        otp_message_destroy (message_p);
    zlistx_add_end (self->queue, pending);
    self->queued += pending->size;
    self->app->stats.messages_in++;
    s_flush (self);
}

//  Our name went to another holder after a heal (see port_on_message): we
//  take it back once that holder has stopped.
static int
s_on_retry (zloop_t *loop, int timer_id, void *arg)
{
    port_t *self = (port_t *) arg;
    if (!self->dead && !self->registering)
        port_register_async (self);
    return 0;
}

void
port_on_message (port_t *self, otp_message_t **message_p)
{
    otp_message_t *message = *message_p;
    if (streq (message->kind, "reply") || streq (message->kind, "noproc")) {
        if (streq (message->ref, self->address))
            s_on_registered (self, message);
        otp_message_destroy (message_p);
        return;
    }
    if (!*message->kind && strncmp (message->from, OTP_REG_PROCESS "@", strlen (OTP_REG_PROCESS) + 1) == 0) {
        //  The registry gave our name to an older holder after a heal.
        //  Which instance lives is the supervisor's call, not the
        //  registry's: if ours is to run, the other stops, and we take
        //  the name back then.
        otp_warn ("%s: %.*s", self->name, (int) zframe_size (message->payload),
                  (char *) zframe_data (message->payload));
        self->registered = false;
        if (self->retry_timer < 0)
            self->retry_timer = zloop_timer (self->app->loop, 100, 0, s_on_retry, self);
        otp_message_destroy (message_p);
        return;
    }
    s_deliver (self, message_p);
}
