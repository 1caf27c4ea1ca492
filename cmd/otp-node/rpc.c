/*  Remote commands (Erlang's Node.spawn with the caller as group leader):
    `otp-ctl rpc NODE -- CMD ARGS` sends SPAWN; the command runs here in a
    session of its own, and what it writes on stdout and stderr goes back
    to the caller as OUT and ERR as it is written, then EXIT with its status
    once both pipes are drained and it has been reaped. A caller that goes
    away takes its commands with it: their process groups get SIGTERM, then
    SIGKILL.

    Flow control: the command's pipes are read only while its caller has
    less than RPC_WINDOW bytes unread (sent, not yet acknowledged: see
    `ack`); otherwise the node stops polling them, and the command blocks
    on its write until the caller reads on. A reply that does not fit in
    the caller's queue is kept and sent again, in order: no output, and
    no EXIT, is ever dropped for a caller that is still there.            */
#include "node.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#define RPC_CHUNK   (64 * 1024)
#define RPC_KILL_MS 2000            //  SIGTERM, then SIGKILL this much later
#define RPC_WINDOW  (1024 * 1024)   //  output a caller may have unread
#define RPC_RETRY_MS 10             //  replies kept (the caller's queue was full)

typedef struct {
    rpc_t *rpc;
    pid_t pid;
    zframe_t *routing_id;           //  the caller
    zframe_t *request;              //  its request id, echoed in every reply
    zmq_pollitem_t item [2];        //  stdout, stderr; fd -1 once drained
    bool exited;
    int status;
    bool orphan;                    //  the caller has gone
    int64_t kill_at;                //  then: SIGKILL from this time on
    bool paused;                    //  pipes not polled: the caller is behind
    bool done;                      //  EXIT queued: gone once `pending` is sent
    zlistx_t *pending;              //  zmsg_t: replies not sent yet, in order
} job_t;

struct _rpc_t {
    node_t *node;
    zlistx_t *jobs;
    bool retrying;                  //  the retry timer runs
};

static void s_flush (job_t *job);
static int s_on_output (zloop_t *loop, zmq_pollitem_t *item, void *arg);

static void
s_job_destroy (job_t **self_p)
{
    job_t *self = *self_p;
    if (self) {
        for (int i = 0; i < 2; i++)
            if (self->item [i].fd >= 0) {
                zloop_poller_end (self->rpc->node->loop, &self->item [i]);
                close (self->item [i].fd);
            }
        zframe_destroy (&self->routing_id);
        zframe_destroy (&self->request);
        zlistx_destroy (&self->pending);
        free (self);
        *self_p = NULL;
    }
}

rpc_t *
rpc_new (node_t *node)
{
    rpc_t *self = (rpc_t *) zmalloc (sizeof (rpc_t));
    self->node = node;
    self->jobs = zlistx_new ();
    zlistx_set_destructor (self->jobs, (zlistx_destructor_fn *) s_job_destroy);
    return self;
}

void
rpc_destroy (rpc_t **self_p)
{
    rpc_t *self = *self_p;
    if (self) {
        //  A node that stops takes the commands it runs with it. A job
        //  still listed and not done: its leader runs, or something it
        //  started (in its group, as a rule) holds its pipes. A done one
        //  only had its EXIT left to send, and its pid is reaped.
        for (job_t *job = (job_t *) zlistx_first (self->jobs); job;
             job = (job_t *) zlistx_next (self->jobs))
            if (!job->done)
                kill (-job->pid, SIGKILL);
        zlistx_destroy (&self->jobs);
        free (self);
        *self_p = NULL;
    }
}

//  The pipes are polled again (or for the first time).
static void
s_poll (job_t *job)
{
    for (int i = 0; i < 2; i++)
        if (job->item [i].fd >= 0) {
            //  A pipe whose writer has gone polls as an error (POLLHUP),
            //  often with the last bytes still in it: zloop must hand that
            //  to s_on_output, which reads to end of file, rather than drop
            //  the poller after one chance and leave the job waiting for an
            //  end that never comes.
            zloop_poller (job->rpc->node->loop, &job->item [i], s_on_output, job);
            zloop_poller_set_tolerant (job->rpc->node->loop, &job->item [i]);
        }
    job->paused = false;
}

static void
s_pause (job_t *job)
{
    for (int i = 0; i < 2; i++)
        if (job->item [i].fd >= 0)
            zloop_poller_end (job->rpc->node->loop, &job->item [i]);
    job->paused = true;
    job->rpc->node->stats.rpc_paused++;
}

//  The caller is behind: more output now would only queue in the node.
static bool
s_behind (job_t *job)
{
    return !job->orphan
        && (zlistx_size (job->pending) > 0
        ||  client_unacked (job->rpc->node, job->routing_id) >= RPC_WINDOW);
}

//  Reads on if the caller has caught up (or gone: the pipes must reach
//  their end, whatever becomes of the output).
static void
s_resume (job_t *job)
{
    if (job->paused && !job->done && !s_behind (job))
        s_poll (job);
}

static int
s_on_retry (zloop_t *loop, int timer_id, void *arg)
{
    rpc_t *self = (rpc_t *) arg;
    //  A flush may delete its job, and moves the list's cursor: walk a copy.
    zlistx_t *jobs = zlistx_new ();
    for (job_t *job = (job_t *) zlistx_first (self->jobs); job;
         job = (job_t *) zlistx_next (self->jobs))
        if (zlistx_size (job->pending))
            zlistx_add_end (jobs, job);
    for (job_t *job = (job_t *) zlistx_first (jobs); job; job = (job_t *) zlistx_next (jobs))
        s_flush (job);
    zlistx_destroy (&jobs);
    bool again = false;
    for (job_t *job = (job_t *) zlistx_first (self->jobs); job;
         job = (job_t *) zlistx_next (self->jobs))
        if (zlistx_size (job->pending))
            again = true;
    if (!again) {
        self->retrying = false;
        zloop_timer_end (loop, timer_id);
    }
    return 0;
}

//  Sends what is kept, in order, as far as the caller's queue takes it. A
//  done job whose last reply has gone is deleted: its pipes are closed, so
//  zloop holds nothing of it.
static void
s_flush (job_t *job)
{
    rpc_t *rpc = job->rpc;
    zmsg_t *msg;
    while ((msg = (zmsg_t *) zlistx_first (job->pending))) {
        if (job->orphan) {
            zlistx_delete (job->pending, zlistx_cursor (job->pending));
            continue;
        }
        zlistx_detach_cur (job->pending);
        if (node_to_client_try (rpc->node, job->routing_id, &msg) == 1) {
            zlistx_add_start (job->pending, msg);
            if (!rpc->retrying) {
                rpc->retrying = true;
                zloop_timer (rpc->node->loop, RPC_RETRY_MS, 0, s_on_retry, rpc);
            }
            return;
        }
    }
    if (job->done)
        zlistx_delete (rpc->jobs, zlistx_find (rpc->jobs, job));
    else
        s_resume (job);
}

static void
s_send (job_t *job, const char *tag, const void *data, size_t size)
{
    if (job->orphan)
        return;
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, tag);
    zmsg_addmem (msg, zframe_data (job->request), zframe_size (job->request));
    zmsg_addmem (msg, data, size);
    zlistx_add_end (job->pending, msg);
}

//  Done when it has exited and both pipes are drained: the output is whole.
static void
s_maybe_done (job_t *job)
{
    if (!job->exited || job->item [0].fd >= 0 || job->item [1].fd >= 0 || job->done)
        return;
    char status [16];
    int code = WIFEXITED (job->status)? WEXITSTATUS (job->status)
             : 128 + WTERMSIG (job->status);
    snprintf (status, sizeof status, "%d", code);
    s_send (job, "EXIT", status, strlen (status));
    job->done = true;
    s_flush (job);
}

static int
s_on_output (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    job_t *job = (job_t *) arg;
    int which = item->fd == job->item [0].fd? 0: 1;
    char *buffer = (char *) malloc (RPC_CHUNK);
    ssize_t n = read (item->fd, buffer, RPC_CHUNK);
    if (n > 0)
        s_send (job, which? "ERR": "OUT", buffer, (size_t) n);
    free (buffer);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        zloop_poller_end (loop, &job->item [which]);
        close (job->item [which].fd);
        job->item [which].fd = -1;
        s_maybe_done (job);     //  may delete the job
        return 0;
    }
    s_flush (job);
    if (!job->paused && s_behind (job))
        s_pause (job);
    return 0;
}

void
rpc_spawn (rpc_t *self, zframe_t *routing_id, zmsg_t *msg)
{
    int nargs = (int) zmsg_size (msg) - 2;
    char **argv = (char **) zmalloc ((size_t) (nargs + 1) * sizeof (char *));
    bool valid = true;
    for (int i = 0; i < nargs; i++) {
        char *arg = (char *) malloc (OTP_ARG_MAX + 1);
        if (otp_msg_str (msg, i + 1, arg, OTP_ARG_MAX + 1) || (i == 0 && !*arg))
            valid = false;
        argv [i] = arg;
    }
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "REP");
    zframe_t *request = otp_msg_arg (msg, 0);
    zmsg_addmem (reply, zframe_data (request), zframe_size (request));
    char error [OTP_ARG_MAX + 128] = "";
    int out [2] = { -1, -1 }, err [2] = { -1, -1 };
    pid_t pid = -1;
    if (!valid)
        snprintf (error, sizeof error, "SPAWN needs a command, and arguments without NUL bytes");
    else
    if (pipe2 (out, O_CLOEXEC) || pipe2 (err, O_CLOEXEC))
        snprintf (error, sizeof error, "pipe: %s", strerror (errno));
    else {
        otp_spawn_opts_t opts = {
            .argv = argv, .new_session = true, .null_stdio = true,
            .stdio = { 0, out [1], err [1] }
        };
        pid = otp_spawn (&opts, error, sizeof error);
    }
    for (int i = 0; i < nargs; i++)
        free (argv [i]);
    free (argv);
    //  The write ends are the child's now; closed once, here.
    if (out [1] >= 0)
        close (out [1]);
    if (err [1] >= 0)
        close (err [1]);
    if (pid < 0) {
        if (out [0] >= 0)
            close (out [0]);
        if (err [0] >= 0)
            close (err [0]);
        otp_warn ("rpc: %s", error);
        zmsg_addstr (reply, "error");
        zmsg_addstr (reply, error);
        node_to_client (self->node, routing_id, &reply);
        return;
    }
    job_t *job = (job_t *) zmalloc (sizeof (job_t));
    job->rpc = self;
    job->pid = pid;
    job->routing_id = zframe_dup (routing_id);
    job->request = zframe_dup (request);
    job->item [0] = (zmq_pollitem_t) { NULL, out [0], ZMQ_POLLIN, 0 };
    job->item [1] = (zmq_pollitem_t) { NULL, err [0], ZMQ_POLLIN, 0 };
    job->pending = zlistx_new ();
    zlistx_set_destructor (job->pending, (zlistx_destructor_fn *) zmsg_destroy);
    zlistx_add_end (self->jobs, job);
    s_poll (job);
    otp_info ("rpc: started pid %d", (int) pid);
    zmsg_addstr (reply, "ok");
    zmsg_addstrf (reply, "%d", (int) pid);
    node_to_client (self->node, routing_id, &reply);
}

static int
s_on_kill_timer (zloop_t *loop, int timer_id, void *arg)
{
    rpc_t *self = (rpc_t *) arg;
    int64_t now = zclock_mono ();
    //  A job that was done when its caller went (its EXIT was still kept)
    //  is freed here: nothing else would flush it, and its pid, reaped,
    //  may already be another process's.
    zlistx_t *done = zlistx_new ();
    for (job_t *job = (job_t *) zlistx_first (self->jobs); job;
         job = (job_t *) zlistx_next (self->jobs))
        if (job->orphan && job->done)
            zlistx_add_end (done, job);
        else
        if (job->orphan && now >= job->kill_at)
            kill (-job->pid, SIGKILL);
    for (job_t *job = (job_t *) zlistx_first (done); job; job = (job_t *) zlistx_next (done))
        zlistx_delete (self->jobs, zlistx_find (self->jobs, job));
    zlistx_destroy (&done);
    return 0;
}

//  May run from a timer (client_reap): only signals here, no job is
//  destroyed, since zloop may still hold a ready pollitem of its pipes.
void
rpc_client_gone (rpc_t *self, zframe_t *routing_id)
{
    bool any = false;
    for (job_t *job = (job_t *) zlistx_first (self->jobs); job;
         job = (job_t *) zlistx_next (self->jobs))
        if (!job->orphan && zframe_eq (job->routing_id, routing_id)) {
            //  Even once the leader has exited, what it left running in its
            //  group (a job still listed has its pipes open) goes too.
            job->orphan = true;
            job->kill_at = zclock_mono () + RPC_KILL_MS;
            //  A done job's pid is reaped: only its EXIT was left to send.
            if (!job->done) {
                otp_info ("rpc: caller gone, stopping process group %d", (int) job->pid);
                kill (-job->pid, SIGTERM);
            }
            zlistx_purge (job->pending);
            //  Its pipes are read to their end again, into nothing.
            if (job->paused && !job->done)
                s_poll (job);
            any = true;
        }
    if (any)
        zloop_timer (self->node->loop, RPC_KILL_MS, 1, s_on_kill_timer, self);
}

void
rpc_acked (rpc_t *self, zframe_t *routing_id)
{
    for (job_t *job = (job_t *) zlistx_first (self->jobs); job;
         job = (job_t *) zlistx_next (self->jobs))
        if (job->paused && zframe_eq (job->routing_id, routing_id))
            s_resume (job);
}

bool
rpc_reap (rpc_t *self, pid_t pid, int status)
{
    for (job_t *job = (job_t *) zlistx_first (self->jobs); job;
         job = (job_t *) zlistx_next (self->jobs))
        if (job->pid == pid) {
            job->exited = true;
            job->status = status;
            s_maybe_done (job);
            return true;
        }
    return false;
}
