/*  otp-reg - one replica of the cluster-wide registry (Horde.Registry,
    global and pg), running beside an otp-node as its process `otp-reg`.  */
#include "reg.h"
#include <getopt.h>
#include <signal.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
"usage: otp-reg [-dnv] --node NAME@HOST [options]\n"
"\n"
"A replica of the cluster's registry of unique names and groups, beside the\n"
"node NAME@HOST (on this host). Processes ask it through their node: see\n"
"otp-ctl whereis, names, members, groups. Every option has an environment\n"
"variable; a flag wins over its variable.\n"
"\n"
"  -N, --node NODE          the node to serve, name@host (OTP_NODE_NAME)\n"
"  -c, --cookie COOKIE      cluster cookie (OTP_COOKIE)\n"
"      --cookie-file FILE   cookie file (OTP_COOKIE_FILE; default ~/.otp-cookie)\n"
"  -e, --epmd-port PORT     otp-epmd port (OTP_EPMD_PORT, default 4369)\n"
"      --claim-timeout MS   a replica that does not answer a registration within\n"
"                           MS no longer holds registrations up\n"
"                           (OTP_REG_CLAIM_TIMEOUT_MS, default 2000)\n"
"  -d, --foreground         stay in the foreground and log to stderr\n"
"  -n, --check              check the configuration and exit\n"
"  -v, --verbose            log debug messages\n"
"  -h, --help               show this help\n"
"  -V, --version            show the version\n");
}

static void
s_on_event (reg_t *reg, zmsg_t *msg)
{
    char event [16], name [OTP_NODE_MAX + 1];
    if (zmsg_size (msg) != 4 || otp_msg_str (msg, 0, event, sizeof event)
    ||  otp_msg_str (msg, 1, name, sizeof name))
        return;
    if (streq (event, "nodeup"))
        reg_on_nodeup (reg, name);
    else
    if (streq (event, "nodedown"))
        reg_on_nodedown (reg, name);
    else
    if (streq (event, "down"))
        reg_on_down (reg, name);
}

static void
s_on_message (reg_t *reg, zmsg_t *msg)
{
    zframe_t *tag = zmsg_first (msg);
    if (tag && zframe_streq (tag, "EVENT")) {
        s_on_event (reg, msg);
        return;
    }
    otp_message_t *message = otp_message_parse (msg);
    if (!message)
        return;     //  a PING, or a late REP
    if (streq (message->kind, "call"))
        reg_on_request (reg, &message);
    else
    if (!*message->kind && strncmp (message->from, OTP_REG_PROCESS "@",
                                    strlen (OTP_REG_PROCESS) + 1) == 0)
        reg_on_batch (reg, message->from + strlen (OTP_REG_PROCESS) + 1, message->payload);
    else
        reg->stats.bad_messages++;
    otp_message_destroy (&message);
}


static int
s_run (const reg_config_t *config, int sigfd)
{
    char reason [1024];
    bool taken;
    otp_client_t *client = otp_client_serve (config->node, config->cookie, config->epmd_port,
                                             OTP_REG_PROCESS, 5000, &taken, reason, sizeof reason);
    if (!client)
        otp_fatal (taken? "another otp-reg already serves %s": "%s", taken? config->node: reason);
    bool ok = false;
    zmsg_t *reply = otp_client_command (client, "monitor", "all", &ok);
    if (!reply || !ok)
        otp_fatal ("%s does not report its processes: %s", config->node,
                   reply? "it refused 'monitor all'": otp_client_error (client));
    reg_t *reg = reg_new (config, client);
    otp_info ("serving %s", config->node);
    //  The nodes up before we came: their replicas may hold entries of
    //  ours from before a restart; those whose process still lives here are
    //  taken back. `down` events already flow, so none is missed between.
    zmsg_t *procs = otp_client_command (client, "processes", NULL, &ok);
    if (!procs || !ok)
        otp_fatal ("%s does not list its processes", config->node);
    zlistx_t *alive = zlistx_new ();
    zlistx_set_destructor (alive, (zlistx_destructor_fn *) zstr_free);
    char *name;
    while ((name = zmsg_popstr (procs)))
        zlistx_add_end (alive, name);
    zmsg_destroy (&procs);
    char *peer;
    while ((peer = zmsg_popstr (reply))) {
        reg_recover (reg, peer, alive);
        free (peer);
    }
    zlistx_destroy (&alive);
    zmsg_destroy (&reply);
    reg_flush (reg);

    int status = 0;
    int64_t next_tick = zclock_mono () + 100;
    otp_metrics_t *metrics = otp_metrics_new ();     //  for the node's /metrics
    while (true) {
        zmsg_t *msg = otp_client_recv (client, next_tick);
        if (!msg && otp_client_lost (client)) {
            otp_warn ("%s", otp_client_error (client));
            status = 1;
            break;
        }
        //  A burst is handled whole before batches go out: fewer, bigger batches.
        for (int count = 0; msg && count < 10000; count++) {
            s_on_message (reg, msg);
            zmsg_destroy (&msg);
            msg = count + 1 < 10000? otp_client_try (client): NULL;
        }
        zmsg_destroy (&msg);
        if (zclock_mono () >= next_tick) {
            reg_tick (reg);
            next_tick = zclock_mono () + 100;
        }
        reg_flush (reg);
        otp_metrics_set (metrics, OTP_METRIC_REGISTRY_NAMES, zhashx_size (reg->names));
        otp_metrics_set (metrics, OTP_METRIC_REGISTRY_GROUPS, zhashx_size (reg->groups));
        otp_metrics_push (metrics, client);
        int sig = otp_signal_read (sigfd);
        if (sig == SIGTERM || sig == SIGINT) {
            otp_info ("received %s, stopping", strsignal (sig));
            break;
        }
    }
    otp_metrics_destroy (&metrics);
    reg_destroy (&reg);
    otp_client_destroy (&client);
    return status;
}

int
main (int argc, char *argv [])
{
    otp_log_init (argv [0]);
    int sigfd = otp_signal_init ();
    const char *cookie = otp_env ("OTP_COOKIE", NULL);
    const char *cookie_file = otp_env ("OTP_COOKIE_FILE", NULL);
    reg_config_t config = {
        .node = otp_env ("OTP_NODE_NAME", NULL),
        .epmd_port = (int) otp_opt_int ("OTP_EPMD_PORT", otp_env ("OTP_EPMD_PORT", "4369"), 1, 65535),
        .claim_timeout_ms = (int) otp_opt_int ("OTP_REG_CLAIM_TIMEOUT_MS",
                                               otp_env ("OTP_REG_CLAIM_TIMEOUT_MS", "2000"), 10, 600000),
    };
    bool foreground = false, check = false;
    enum { OPT_COOKIE_FILE = 256, OPT_CLAIM_TIMEOUT };
    static const struct option longopts [] = {
        { "node", required_argument, NULL, 'N' },
        { "cookie", required_argument, NULL, 'c' },
        { "cookie-file", required_argument, NULL, OPT_COOKIE_FILE },
        { "epmd-port", required_argument, NULL, 'e' },
        { "claim-timeout", required_argument, NULL, OPT_CLAIM_TIMEOUT },
        { "foreground", no_argument, NULL, 'd' },
        { "check", no_argument, NULL, 'n' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "N:c:e:dnvhV", longopts, NULL)) != -1) {
        switch (opt) {
            case 'N': config.node = optarg; break;
            case 'c': cookie = otp_opt_secret (optarg); break;
            case OPT_COOKIE_FILE: cookie_file = optarg; cookie = NULL; break;
            case 'e': config.epmd_port = (int) otp_opt_int ("--epmd-port", optarg, 1, 65535); break;
            case OPT_CLAIM_TIMEOUT:
                config.claim_timeout_ms = (int) otp_opt_int ("--claim-timeout", optarg, 10, 600000);
                break;
            case 'd': foreground = true; break;
            case 'n': check = true; break;
            case 'v': otp_log_set_verbose (true); break;
            case 'h': s_usage (stdout); return 0;
            case 'V': otp_print_version ("otp-reg");
            default: s_usage (stderr); return 2;
        }
    }
    if (optind < argc)
        otp_fatal ("unexpected argument '%s' (see --help)", argv [optind]);
    if (!config.node)
        otp_fatal ("which node? give --node NAME@HOST (or set OTP_NODE_NAME)");
    char name [OTP_NAME_MAX + 1], host [OTP_HOST_MAX + 1];
    if (otp_node_split (config.node, name, sizeof name, host, sizeof host))
        otp_fatal ("'%s' is not a node name (name@host)", config.node);
    char secret [OTP_COOKIE_MAX + 1], error [1024];
    if (otp_cookie_load (cookie, cookie_file, secret, sizeof secret, error, sizeof error))
        otp_fatal ("%s", error);
    config.cookie = secret;
    if (check) {
        printf ("configuration OK\n");
        return 0;
    }
    otp_log_set_node (config.node);
    if (!foreground)
        otp_daemonize ();
    return s_run (&config, sigfd);
}
