/*  otp-node - a named cluster member (a BEAM node's net_kernel, libcluster
    and a node observer, for programs in any language).                     */
#include "node.h"
#include <getopt.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
"usage: otp-node [-dnv] (--name NAME@HOST | --sname NAME) [options]\n"
"\n"
"A named member of an otp-labs cluster. Every option has an environment\n"
"variable; a flag wins over its variable.\n"
"\n"
"  -N, --name NODE          long node name, name@host (OTP_NODE_NAME)\n"
"  -s, --sname NAME         short name; the host is this machine's (OTP_NODE_SNAME)\n"
"  -c, --cookie COOKIE      cluster cookie (OTP_COOKIE); prefer the variable or a file\n"
"      --cookie-file FILE   read the cookie from FILE, mode 0400 (OTP_COOKIE_FILE);\n"
"                           default ~/.otp-cookie, created once if missing\n"
"  -p, --port PORT          node port (OTP_NODE_PORT, default 0: any free port)\n"
"  -b, --bind ADDRESS       IPv4 address to listen on (OTP_NODE_BIND, default all)\n"
"  -e, --epmd-port PORT     port of otp-epmd on every host (OTP_EPMD_PORT, default 4369)\n"
"      --no-epmd            do not start otp-epmd when none answers (OTP_NO_EPMD=1)\n"
"  -S, --strategy NAME      cluster strategy: local | epmd (OTP_CLUSTER_STRATEGY,\n"
"                           default local)\n"
"      --nodes LIST         node names for the epmd strategy, comma-separated\n"
"                           (OTP_CLUSTER_NODES)\n"
"      --poll MS            how often the strategy looks for nodes (OTP_CLUSTER_POLL_MS,\n"
"                           default 1000)\n"
"      --heartbeat MS       heartbeat interval (OTP_HEARTBEAT_MS, default 200)\n"
"      --timeout MS         a silent peer is down after MS (OTP_HEARTBEAT_TIMEOUT_MS,\n"
"                           default 800)\n"
"      --drain-timeout MS   on SIGTERM or stop, wait up to MS for the processes\n"
"                           holding the node to go (OTP_DRAIN_TIMEOUT_MS, default\n"
"                           30000; 0: do not wait)\n"
"  -d, --foreground         stay in the foreground and log to stderr\n"
"  -n, --check              check the configuration and exit\n"
"  -v, --verbose            log debug messages\n"
"  -h, --help               show this help\n"
"  -V, --version            show the version\n");
}

int
main (int argc, char *argv [])
{
    otp_log_init (argv [0]);
    int sigfd = otp_signal_init ();

    const char *name = otp_env ("OTP_NODE_NAME", NULL);
    const char *sname = otp_env ("OTP_NODE_SNAME", NULL);
    const char *cookie = otp_env ("OTP_COOKIE", NULL);
    const char *cookie_file = otp_env ("OTP_COOKIE_FILE", NULL);
    node_config_t config = {
        .bind = otp_env ("OTP_NODE_BIND", "*"),
        .port = (int) otp_opt_int ("OTP_NODE_PORT", otp_env ("OTP_NODE_PORT", "0"), 0, 65535),
        .epmd_port = (int) otp_opt_int ("OTP_EPMD_PORT", otp_env ("OTP_EPMD_PORT", "4369"), 1, 65535),
        .start_epmd = !streq (otp_env ("OTP_NO_EPMD", "0"), "1"),
        .strategy = otp_env ("OTP_CLUSTER_STRATEGY", "local"),
        .cluster_nodes = otp_env ("OTP_CLUSTER_NODES", NULL),
        .poll_ms = (int) otp_opt_int ("OTP_CLUSTER_POLL_MS", otp_env ("OTP_CLUSTER_POLL_MS", "1000"), 10, 3600000),
        .heartbeat_ms = (int) otp_opt_int ("OTP_HEARTBEAT_MS", otp_env ("OTP_HEARTBEAT_MS", "200"), 10, 600000),
        .timeout_ms = (int) otp_opt_int ("OTP_HEARTBEAT_TIMEOUT_MS", otp_env ("OTP_HEARTBEAT_TIMEOUT_MS", "800"), 20, 3600000),
        .drain_timeout_ms = (int) otp_opt_int ("OTP_DRAIN_TIMEOUT_MS", otp_env ("OTP_DRAIN_TIMEOUT_MS", "30000"), 0, 3600000),
    };
    bool foreground = false, check = false;
    enum { OPT_COOKIE_FILE = 256, OPT_NO_EPMD, OPT_NODES, OPT_POLL, OPT_HEARTBEAT, OPT_TIMEOUT,
           OPT_DRAIN_TIMEOUT };
    static const struct option longopts [] = {
        { "name", required_argument, NULL, 'N' },
        { "sname", required_argument, NULL, 's' },
        { "cookie", required_argument, NULL, 'c' },
        { "cookie-file", required_argument, NULL, OPT_COOKIE_FILE },
        { "port", required_argument, NULL, 'p' },
        { "bind", required_argument, NULL, 'b' },
        { "epmd-port", required_argument, NULL, 'e' },
        { "no-epmd", no_argument, NULL, OPT_NO_EPMD },
        { "strategy", required_argument, NULL, 'S' },
        { "nodes", required_argument, NULL, OPT_NODES },
        { "poll", required_argument, NULL, OPT_POLL },
        { "heartbeat", required_argument, NULL, OPT_HEARTBEAT },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT },
        { "foreground", no_argument, NULL, 'd' },
        { "check", no_argument, NULL, 'n' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "N:s:c:p:b:e:S:dnvhV", longopts, NULL)) != -1) {
        switch (opt) {
            case 'N': name = optarg; sname = NULL; break;
            case 's': sname = optarg; name = NULL; break;
            case 'c': cookie = optarg; break;
            case OPT_COOKIE_FILE: cookie_file = optarg; cookie = NULL; break;
            case 'p': config.port = (int) otp_opt_int ("--port", optarg, 0, 65535); break;
            case 'b': config.bind = optarg; break;
            case 'e': config.epmd_port = (int) otp_opt_int ("--epmd-port", optarg, 1, 65535); break;
            case OPT_NO_EPMD: config.start_epmd = false; break;
            case 'S': config.strategy = optarg; break;
            case OPT_NODES: config.cluster_nodes = optarg; break;
            case OPT_POLL: config.poll_ms = (int) otp_opt_int ("--poll", optarg, 10, 3600000); break;
            case OPT_HEARTBEAT: config.heartbeat_ms = (int) otp_opt_int ("--heartbeat", optarg, 10, 600000); break;
            case OPT_TIMEOUT: config.timeout_ms = (int) otp_opt_int ("--timeout", optarg, 20, 3600000); break;
            case OPT_DRAIN_TIMEOUT:
                config.drain_timeout_ms = (int) otp_opt_int ("--drain-timeout", optarg, 0, 3600000);
                break;
            case 'd': foreground = true; break;
            case 'n': check = true; break;
            case 'v': otp_log_set_verbose (true); break;
            case 'h': s_usage (stdout); return 0;
            case 'V': otp_print_version ("otp-node");
            default: s_usage (stderr); return 2;
        }
    }
    if (optind < argc)
        otp_fatal ("unexpected argument '%s' (see --help)", argv [optind]);

    char node_name [OTP_NODE_MAX + 1];
    if (!name && !sname)
        otp_fatal ("a node needs a name: --name NAME@HOST or --sname NAME (see --help)");
    if (otp_node_complete (name? name: sname, sname != NULL, node_name, sizeof node_name))
        otp_fatal ("'%s' is not a valid node name (name@host; name of letters, digits, _ - .)",
                   name? name: sname);
    config.name = node_name;
    otp_log_set_node (node_name);
    if (config.timeout_ms <= config.heartbeat_ms)
        otp_fatal ("the heartbeat time-out (%d ms) must be longer than the interval (%d ms)",
                   config.timeout_ms, config.heartbeat_ms);
    config.connect_timeout_ms = config.timeout_ms * 2 > 2000? config.timeout_ms * 2: 2000;

    char cookie_value [OTP_COOKIE_MAX + 1], error [512];
    if (otp_cookie_load (cookie, cookie_file, cookie_value, sizeof cookie_value, error, sizeof error))
        otp_fatal ("%s", error);
    config.cookie = cookie_value;
    if (!streq (config.strategy, "local") && !streq (config.strategy, "epmd"))
        otp_fatal ("unknown cluster strategy '%s' (known: local, epmd)", config.strategy);
    if (streq (config.strategy, "epmd") && !config.cluster_nodes)
        otp_fatal ("the epmd strategy needs OTP_CLUSTER_NODES (or --nodes)");
    if (config.port && !otp_port_free (config.bind, config.port))
        otp_fatal ("port %d is in use", config.port);
    if (check) {
        printf ("configuration OK\n");
        return 0;
    }
    if (!foreground)
        otp_daemonize ();
    otp_raise_nofile ();
    return node_run (&config, sigfd);
}
