/*  Remote commands (Erlang's Node.spawn with the caller as group leader):
    `otp-ctl rpc NODE -- CMD ARGS` sends SPAWN; the command runs here in a
    session of its own, and what it writes on stdout and stderr goes back
    to the caller as OUT and ERR as it is written, then EXIT with its status
    once both pipes are drained and it has been reaped. A caller that goes
    away takes its commands with it: their process groups get SIGTERM, then
    SIGKILL.                                                              */
#include "node.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#define RPC_CHUNK   (64 * 1024)
#define RPC_KILL_MS 2000            //  SIGTERM, then SIGKILL this much later

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
} job_t;

struct _rpc_t {
    node_t *node;
    zlistx_t *jobs;
};

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
        //  still listed is not done: its leader runs, or something it
        //  started (in its group, as a rule) holds its pipes.
        for (job_t *job = (job_t *) zlistx_first (self->jobs); job;
             job = (job_t *) zlistx_next (self->jobs))
            kill (-job->pid, SIGKILL);
        zlistx_destroy (&self->jobs);
        free (self);
        *self_p = NULL;
    }
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
    node_to_client (job->rpc->node, job->routing_id, &msg);
}

//  Done when it has exited and both pipes are drained: the output is whole.
static void
s_maybe_done (job_t *job)
{
    if (!job->exited || job->item [0].fd >= 0 || job->item [1].fd >= 0)
        return;
    char status [16];
    int code = WIFEXITED (job->status)? WEXITSTATUS (job->status)
             : 128 + WTERMSIG (job->status);
    snprintf (status, sizeof status, "%d", code);
    s_send (job, "EXIT", status, strlen (status));
    zlistx_delete (job->rpc->jobs, zlistx_find (job->rpc->jobs, job));
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
        s_maybe_done (job);
    }
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
    zlistx_add_end (self->jobs, job);
    //  A pipe whose writer has gone polls as an error (POLLHUP), often with
    //  the last bytes still in it: zloop must hand that to s_on_output, which
    //  reads to end of file, rather than drop the poller after one chance
    //  and leave the job waiting for an end that never comes.
    for (int i = 0; i < 2; i++) {
        zloop_poller (self->node->loop, &job->item [i], s_on_output, job);
        zloop_poller_set_tolerant (self->node->loop, &job->item [i]);
    }
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
    for (job_t *job = (job_t *) zlistx_first (self->jobs); job;
         job = (job_t *) zlistx_next (self->jobs))
        if (job->orphan && now >= job->kill_at)
            kill (-job->pid, SIGKILL);
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
            otp_info ("rpc: caller gone, stopping process group %d", (int) job->pid);
            kill (-job->pid, SIGTERM);
            any = true;
        }
    if (any)
        zloop_timer (self->node->loop, RPC_KILL_MS, 1, s_on_kill_timer, self);
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
