/*  otp-sup - supervises OS processes: a local tree with OTP's semantics,
    and, beside a node, a member of the cluster's distributed supervisor
    (Horde's DynamicSupervisor). Runs as the node's process `otp-sup`.     */
#include "sup.h"
#include <getopt.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
"usage: otp-sup [-dnv] [--node NAME@HOST] [--config FILE] [options]\n"
"\n"
"Supervises programs as children. With --config, a local tree of supervisors\n"
"(OTP's one_for_one, one_for_all, rest_for_one). With --node, also a member of\n"
"the cluster's supervisor: children started with `otp-ctl start-child` run on\n"
"exactly one member and move when it dies or drains. Every option has an\n"
"environment variable; a flag wins over its variable.\n"
"\n"
"  -N, --node NODE          the node to serve, name@host (OTP_NODE_NAME)\n"
"  -f, --config FILE        the local tree (OTP_SUP_CONFIG); see below\n"
"  -s, --strategy NAME      cluster placement: uniform (hash of the id, the\n"
"                           default), random, or quorum (uniform, and a member\n"
"                           that sees no majority stops its children)\n"
"                           (OTP_SUP_STRATEGY)\n"
"      --members N          quorum: how many members the cluster has\n"
"                           (OTP_SUP_MEMBERS, default 3)\n"
"      --intensity N        cluster children: at most N restarts ... (OTP_SUP_INTENSITY, 3)\n"
"      --period S           ... within S seconds, or otp-sup gives up (OTP_SUP_PERIOD, 5)\n"
"      --failover-delay MS  quorum: wait before restarting a lost member's\n"
"                           children (OTP_SUP_FAILOVER_DELAY_MS, default 1000)\n"
"      --rebalance          when a member joins, move to it the children its\n"
"                           hash now gives it (OTP_SUP_REBALANCE=1; default:\n"
"                           children stay where they run, as Horde's)\n"
"  -c, --cookie COOKIE      cluster cookie (OTP_COOKIE)\n"
"      --cookie-file FILE   cookie file (OTP_COOKIE_FILE; default ~/.otp-cookie)\n"
"  -e, --epmd-port PORT     otp-epmd port (OTP_EPMD_PORT, default 4369)\n"
"  -d, --foreground         stay in the foreground and log to stderr\n"
"  -n, --check              check the configuration and exit\n"
"  -v, --verbose            log debug messages\n"
"  -h, --help               show this help\n"
"  -V, --version            show the version\n"
"\n"
"The config file (ZPL, as CZMQ's zconfig reads it; indent by 4 spaces):\n"
"\n"
"    strategy = one_for_all          # of the root supervisor\n"
"    intensity = 3                   # restarts allowed ...\n"
"    period = 5                      # ... within this many seconds\n"
"    child = db\n"
"        command = ./db.sh\n"
"        arg = --port\n"
"        arg = 5432\n"
"        restart = permanent         # transient, temporary\n"
"        shutdown = 2000             # ms, brutal_kill, infinity\n"
"        name = db                   # reachable by name (needs --node)\n"
"        env\n"
"            DB_MODE = \"fast\"\n"
"        keep-cookie = no            # yes: inherits OTP_COOKIE (default: yes for\n"
"                                    # messages = api, no otherwise)\n"
"    child = web                     # a supervisor in this process\n"
"        type = supervisor\n"
"        strategy = rest_for_one\n"
"        child = api\n"
"            command = ./api\n");
}

//  -------------------------------------------------------------------------

static bool
s_done (app_t *self)
{
    return self->stopping && (!self->tree || tree_stopped (self->tree))
        && (!self->cluster || cluster_stopped (self->cluster));
}

void
app_check_done (app_t *self)
{
    //  Seen by the loop's handlers, which end it (see s_on_check).
    (void) s_done (self);
}

void
app_shutdown (app_t *self, int status)
{
    if (self->stopping) {
        if (status > self->exit_status)
            self->exit_status = status;
        return;
    }
    self->stopping = true;
    self->exit_status = status;
    if (self->cluster) {
        if (status == 0 && self->draining)
            cluster_drain (self->cluster);
        else
            cluster_stop (self->cluster);
    }
    if (self->tree)
        tree_stop (self->tree);
}

//  Kills every child now: the node is gone, and with it any claim that
//  they are where the cluster thinks they are.
static void
s_kill_all (app_t *self)
{
    for (child_t *child = (child_t *) zhashx_first (self->pids); child;
         child = (child_t *) zhashx_next (self->pids))
        child_kill (child);
}

static int s_on_client (zloop_t *loop, zsock_t *sock, void *arg);

static int
s_on_pump (zloop_t *loop, int timer_id, void *arg)
{
    app_t *self = (app_t *) arg;
    self->pump_timer = -1;
    child_report_failures (self);
    return self->client? s_on_client (loop, NULL, self): (s_done (self)? -1: 0);
}

void
app_pump_later (app_t *self)
{
    if (self->pump_timer < 0 && self->loop)
        self->pump_timer = zloop_timer (self->loop, 1, 1, s_on_pump, self);
}

static void
s_on_event (app_t *self, zmsg_t *msg)
{
    char event [16], name [OTP_NODE_MAX + 1];
    if (zmsg_size (msg) != 4 || otp_msg_str (msg, 0, event, sizeof event)
    ||  otp_msg_str (msg, 1, name, sizeof name) || !self->cluster)
        return;
    if (streq (event, "nodeup"))
        cluster_on_nodeup (self->cluster, name);
    else
    if (streq (event, "nodedown"))
        cluster_on_nodedown (self->cluster, name);
    else
    if (streq (event, "draining") && !self->stopping) {
        otp_info ("the node is draining: handing children off");
        self->draining = true;
        app_shutdown (self, 0);
    }
}

static void
s_on_message (app_t *self, zmsg_t *msg)
{
    zframe_t *tag = zmsg_first (msg);
    if (tag && zframe_streq (tag, "EVENT")) {
        s_on_event (self, msg);
        return;
    }
    otp_message_t *message = otp_message_parse (msg);
    if (!message)
        return;     //  a REP to a request we did not wait for
    //  For a port: sent to its address, or a reply to its registration
    //  (whose ref is its address).
    port_t *port = (port_t *) zhashx_lookup (self->ports, message->to);
    if (!port && (streq (message->kind, "reply") || streq (message->kind, "noproc")))
        port = (port_t *) zhashx_lookup (self->ports, message->ref);
    if (port) {
        port_on_message (port, &message);
        return;
    }
    //  Mail for a port that is gone (its child stopped or moved; the node
    //  had not yet heard the detach): the caller is told noproc, as the
    //  node tells it once the address is free, and tries where the name is
    //  now. Taken as a request to otp-sup, it came back as a successful
    //  call with otp-sup's "not a request" for an answer.
    if (!streq (message->to, OTP_SUP_PROCESS)) {
        if (streq (message->kind, "call"))
            otp_client_noproc (self->client, message);
        self->stats.dropped++;
        otp_message_destroy (&message);
        return;
    }
    const char *at = strchr (message->from, '@');
    bool from_member = at && (size_t) (at - message->from) == strlen (OTP_SUP_PROCESS)
                    && strncmp (message->from, OTP_SUP_PROCESS, strlen (OTP_SUP_PROCESS)) == 0;
    if (streq (message->kind, "call")) {
        //  A member's HELLO or BEAT is a call (a missing otp-sup answers
        //  noproc); anything else is a request.
        byte *data = zframe_data (message->payload);
        size_t size = zframe_size (message->payload);
        bool member_op = from_member
                      && ((size >= 6 && memcmp (data, "\x05HELLO", 6) == 0)
                       || (size >= 5 && memcmp (data, "\x04" "BEAT", 5) == 0));
        if (member_op && self->cluster) {
            cluster_on_batch (self->cluster, at + 1, message->payload);
            requests_reply (self, &message, NULL);
        }
        else
            requests_on_call (self, &message);
    }
    else
    if (streq (message->kind, "reply") || streq (message->kind, "noproc")) {
        if (self->cluster && (streq (message->ref, "beat") || streq (message->ref, "hello")))
            cluster_on_beat_reply (self->cluster, message);
    }
    else
    if (from_member && self->cluster)
        cluster_on_batch (self->cluster, at + 1, message->payload);
    otp_message_destroy (&message);
}

static int
s_on_client (zloop_t *loop, zsock_t *sock, void *arg)
{
    app_t *self = (app_t *) arg;
    zmsg_t *msg;
    while ((msg = otp_client_try (self->client))) {
        s_on_message (self, msg);
        zmsg_destroy (&msg);
    }
    if (otp_client_lost (self->client)) {
        otp_warn ("%s; stopping every child", otp_client_error (self->client));
        s_kill_all (self);
        self->exit_status = 1;
        return -1;
    }
    return s_done (self)? -1: 0;
}

static int
s_on_signal (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    app_t *self = (app_t *) arg;
    int sig = otp_signal_read (item->fd);
    if (sig == SIGCHLD) {
        pid_t pid;
        int status;
        while ((pid = waitpid (-1, &status, WNOHANG)) > 0)
            child_reaped (self, pid, status);
    }
    else
    if (sig == SIGTERM || sig == SIGINT) {
        if (self->stopping) {
            otp_warn ("received %s while stopping: killing every child", strsignal (sig));
            s_kill_all (self);
        }
        else {
            otp_info ("received %s, stopping%s", strsignal (sig),
                      self->cluster? ": handing children off": "");
            self->draining = true;
            app_shutdown (self, 0);
        }
    }
    return s_done (self)? -1: 0;
}

void
app_bury (app_t *self, void *item)
{
    if (self->graveyard)
        zlistx_add_end (self->graveyard, item);
    else
        free (item);        //  no loop (otp-sup -n): nothing can still call it
}

static int
s_on_check (zloop_t *loop, int timer_id, void *arg)
{
    app_t *self = (app_t *) arg;
    //  Buried at least one check ago: any pass that could still see them
    //  has ended.
    zlistx_purge (self->graveyard_old);
    void *item;
    while ((item = zlistx_first (self->graveyard))) {
        zlistx_detach_cur (self->graveyard);
        zlistx_add_end (self->graveyard_old, item);
    }
    return s_done (self)? -1: 0;
}


static void
s_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static int
s_run (const sup_config_t *config, int sigfd)
{
    app_t *self = (app_t *) zmalloc (sizeof (app_t));
    self->config = config;
    self->loop = zloop_new ();
    self->pids = zhashx_new ();
    self->ports = zhashx_new ();
    self->failed = zlistx_new ();
    self->graveyard = zlistx_new ();
    zlistx_set_destructor (self->graveyard, (zlistx_destructor_fn *) s_free);
    self->graveyard_old = zlistx_new ();
    zlistx_set_destructor (self->graveyard_old, (zlistx_destructor_fn *) s_free);
    self->pump_timer = -1;
    //  Grandchildren whose parent exits come to us, not to init: reaped,
    //  and never left running under a child that is gone.
    prctl (PR_SET_CHILD_SUBREAPER, 1);
    zmq_pollitem_t sigitem = { NULL, sigfd, ZMQ_POLLIN, 0 };
    zloop_poller (self->loop, &sigitem, s_on_signal, self);
    zloop_timer (self->loop, 50, 0, s_on_check, self);

    zlistx_t *up = NULL;
    if (config->node) {
        char reason [1024];
        bool taken;
        self->client = otp_client_serve (config->node, config->cookie, config->epmd_port,
                                         OTP_SUP_PROCESS, 5000, &taken, reason, sizeof reason);
        if (!self->client)
            otp_fatal (taken? "another otp-sup already serves %s": "%s",
                       taken? config->node: reason);
        bool ok = false;
        zmsg_t *reply = otp_client_command (self->client, "monitor", "all", &ok);
        if (!reply || !ok)
            otp_fatal ("%s does not report its nodes: %s", config->node,
                       reply? "it refused 'monitor all'": otp_client_error (self->client));
        up = zlistx_new ();
        zlistx_set_destructor (up, (zlistx_destructor_fn *) zstr_free);
        char *peer;
        while ((peer = zmsg_popstr (reply)))
            zlistx_add_end (up, peer);
        zmsg_destroy (&reply);
        //  The node waits for us when it is told to stop: we hand our
        //  children off first (an older node without `hold` just stops).
        zmsg_t *held = otp_client_command (self->client, "hold", NULL, &ok);
        if (!held || !ok)
            otp_warn ("%s cannot wait for us at its shutdown: children will not be handed off",
                      config->node);
        zmsg_destroy (&held);
        zloop_reader (self->loop, otp_client_socket (self->client), s_on_client, self);
        zloop_reader (self->loop, otp_client_monitor_socket (self->client), s_on_client, self);
    }
    char error [1024];
    self->tree = config->config_file? tree_load (self, config->config_file, error, sizeof error): NULL;
    if (config->config_file && !self->tree)
        otp_fatal ("%s", error);
    if (config->node) {
        self->cluster = cluster_new (self);
        for (const char *peer = (const char *) zlistx_first (up); peer;
             peer = (const char *) zlistx_next (up))
            cluster_on_nodeup (self->cluster, peer);
        zlistx_destroy (&up);
        otp_info ("serving %s, strategy %s", config->node, config->strategy);
        self->metrics = sup_metrics_new (self);
    }
    if (self->tree && tree_start (self->tree, error, sizeof error)) {
        otp_warn ("%s", error);
        app_shutdown (self, 1);
    }
    if (!self->tree && !self->cluster)
        otp_fatal ("nothing to supervise: give --config FILE, --node NODE, or both");
    if (self->client)
        s_on_client (self->loop, NULL, self);   //  what waited in the mailbox during the set-up
    if (!s_done (self))
        zloop_start (self->loop);
    int status = self->exit_status;
    if (self->stopping)
        otp_info ("stopped");
    sup_metrics_destroy (&self->metrics);
    cluster_destroy (&self->cluster);
    tree_destroy (&self->tree);
    zloop_destroy (&self->loop);
    zhashx_destroy (&self->pids);
    zhashx_destroy (&self->ports);
    zlistx_destroy (&self->failed);
    zlistx_destroy (&self->graveyard);
    zlistx_destroy (&self->graveyard_old);
    otp_client_destroy (&self->client);
    free (self);
    return status;
}

int
main (int argc, char *argv [])
{
    otp_log_init (argv [0]);
    int sigfd = otp_signal_init ();
    const char *cookie = otp_env ("OTP_COOKIE", NULL);
    const char *cookie_file = otp_env ("OTP_COOKIE_FILE", NULL);
    sup_config_t config = {
        .node = otp_env ("OTP_NODE_NAME", NULL),
        .epmd_port = (int) otp_opt_int ("OTP_EPMD_PORT", otp_env ("OTP_EPMD_PORT", "4369"), 1, 65535),
        .config_file = otp_env ("OTP_SUP_CONFIG", NULL),
        .strategy = otp_env ("OTP_SUP_STRATEGY", "uniform"),
        .members = (int) otp_opt_int ("OTP_SUP_MEMBERS", otp_env ("OTP_SUP_MEMBERS", "3"), 1, 10000),
        .intensity = (int) otp_opt_int ("OTP_SUP_INTENSITY", otp_env ("OTP_SUP_INTENSITY", "3"), 0, 1000000),
        .period_ms = 1000 * (int) otp_opt_int ("OTP_SUP_PERIOD", otp_env ("OTP_SUP_PERIOD", "5"), 1, 86400),
        .failover_delay_ms = (int) otp_opt_int ("OTP_SUP_FAILOVER_DELAY_MS",
                                                otp_env ("OTP_SUP_FAILOVER_DELAY_MS", "1000"), 0, 600000),
    };
    bool foreground = false, check = false;
    config.rebalance = streq (otp_env ("OTP_SUP_REBALANCE", "0"), "1");
    enum { OPT_COOKIE_FILE = 256, OPT_MEMBERS, OPT_INTENSITY, OPT_PERIOD, OPT_FAILOVER_DELAY,
           OPT_REBALANCE };
    static const struct option longopts [] = {
        { "node", required_argument, NULL, 'N' },
        { "config", required_argument, NULL, 'f' },
        { "strategy", required_argument, NULL, 's' },
        { "members", required_argument, NULL, OPT_MEMBERS },
        { "intensity", required_argument, NULL, OPT_INTENSITY },
        { "period", required_argument, NULL, OPT_PERIOD },
        { "failover-delay", required_argument, NULL, OPT_FAILOVER_DELAY },
        { "rebalance", no_argument, NULL, OPT_REBALANCE },
        { "cookie", required_argument, NULL, 'c' },
        { "cookie-file", required_argument, NULL, OPT_COOKIE_FILE },
        { "epmd-port", required_argument, NULL, 'e' },
        { "foreground", no_argument, NULL, 'd' },
        { "check", no_argument, NULL, 'n' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "N:f:s:c:e:dnvhV", longopts, NULL)) != -1) {
        switch (opt) {
            case 'N': config.node = optarg; break;
            case 'f': config.config_file = optarg; break;
            case 's': config.strategy = optarg; break;
            case OPT_MEMBERS: config.members = (int) otp_opt_int ("--members", optarg, 1, 10000); break;
            case OPT_INTENSITY:
                config.intensity = (int) otp_opt_int ("--intensity", optarg, 0, 1000000);
                break;
            case OPT_PERIOD: config.period_ms = 1000 * (int) otp_opt_int ("--period", optarg, 1, 86400); break;
            case OPT_FAILOVER_DELAY:
                config.failover_delay_ms = (int) otp_opt_int ("--failover-delay", optarg, 0, 600000);
                break;
            case OPT_REBALANCE: config.rebalance = true; break;
            case 'c': cookie = otp_opt_secret (optarg); break;
            case OPT_COOKIE_FILE: cookie_file = optarg; cookie = NULL; break;
            case 'e': config.epmd_port = (int) otp_opt_int ("--epmd-port", optarg, 1, 65535); break;
            case 'd': foreground = true; break;
            case 'n': check = true; break;
            case 'v': otp_log_set_verbose (true); break;
            case 'h': s_usage (stdout); return 0;
            case 'V': otp_print_version ("otp-sup");
            default: s_usage (stderr); return 2;
        }
    }
    if (optind < argc)
        otp_fatal ("unexpected argument '%s' (see --help)", argv [optind]);
    if (!streq (config.strategy, "uniform") && !streq (config.strategy, "random")
    &&  !streq (config.strategy, "quorum"))
        otp_fatal ("strategy must be uniform, random or quorum, not '%s'", config.strategy);
    if (!streq (config.strategy, "quorum"))
        config.failover_delay_ms = 0;
    char secret [OTP_COOKIE_MAX + 1], error [1024];
    if (config.node) {
        char name [OTP_NAME_MAX + 1], host [OTP_HOST_MAX + 1];
        if (otp_node_split (config.node, name, sizeof name, host, sizeof host))
            otp_fatal ("'%s' is not a node name (name@host)", config.node);
        if (otp_cookie_load (cookie, cookie_file, secret, sizeof secret, error, sizeof error))
            otp_fatal ("%s", error);
        config.cookie = secret;
    }
    if (!config.node && !config.config_file)
        otp_fatal ("nothing to supervise: give --config FILE, --node NODE, or both");
    if (check) {
        if (config.config_file) {
            app_t probe = { .config = &config };
            tree_t *tree = tree_load (&probe, config.config_file, error, sizeof error);
            if (!tree)
                otp_fatal ("%s", error);
            tree_destroy (&tree);
        }
        printf ("configuration OK\n");
        return 0;
    }
    if (config.node)
        otp_log_set_node (config.node);
    if (!foreground)
        otp_daemonize ();
    return s_run (&config, sigfd);
}
