/*  otp-node - a named cluster member (a BEAM node's net_kernel, libcluster
    and a node observer, for programs in any language).                     */
#include "node.h"
#include <arpa/inet.h>
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
"  -N, --name NODE          long node name, name@host (OTP_NODE_NAME); a name\n"
"                           without @ when POD_IP and NAMESPACE are set: the pod\n"
"                           A-record form name@10-1-2-3.NAMESPACE.pod.DOMAIN\n"
"  -s, --sname NAME         short name; the host is this machine's (OTP_NODE_SNAME)\n"
"  -c, --cookie COOKIE      cluster cookie (OTP_COOKIE); prefer the variable or a file\n"
"      --cookie-file FILE   read the cookie from FILE, mode 0400 (OTP_COOKIE_FILE);\n"
"                           default ~/.otp-cookie, created once if missing\n"
"  -p, --port PORT          node port (OTP_NODE_PORT, default 0: any free port)\n"
"  -b, --bind ADDRESS       IPv4 address to listen on (OTP_NODE_BIND, default all)\n"
"  -e, --epmd-port PORT     port of otp-epmd on every host (OTP_EPMD_PORT, default 4369)\n"
"      --no-epmd            do not start otp-epmd when none answers (OTP_NO_EPMD=1)\n"
"  -S, --strategy NAME      cluster strategy: local | epmd | gossip | dns\n"
"                           (OTP_CLUSTER_STRATEGY, default local)\n"
"      --nodes LIST         node names for the epmd strategy, comma-separated\n"
"                           (OTP_CLUSTER_NODES)\n"
"      --gossip-address A   for gossip: the multicast group (OTP_GOSSIP_ADDRESS,\n"
"                           default 233.252.1.32), or with --gossip-broadcast the\n"
"                           broadcast address (default 255.255.255.255)\n"
"      --gossip-port PORT   UDP port of the announcements (OTP_GOSSIP_PORT, 45892)\n"
"      --gossip-ttl N       multicast TTL, 0..255 (OTP_GOSSIP_TTL, default 1)\n"
"      --gossip-interval MS how often a node announces itself\n"
"                           (OTP_GOSSIP_INTERVAL_MS, default 1000)\n"
"      --gossip-if ADDRESS  address of the interface to send and join on\n"
"                           (OTP_GOSSIP_IF, default any)\n"
"      --gossip-broadcast   broadcast instead of multicast, for networks without\n"
"                           it (OTP_GOSSIP_BROADCAST=1)\n"
"      --dns-query NAME     for the dns strategy: the name whose A records are the\n"
"                           nodes, e.g. a headless Service (OTP_CLUSTER_DNS_QUERY)\n"
"      --dns-basename NAME  for dns: the name part of those nodes\n"
"                           (OTP_CLUSTER_DNS_BASENAME, default this node's own)\n"
"      --cluster-domain D   Kubernetes cluster domain of pod A-record names\n"
"                           (OTP_CLUSTER_DOMAIN, default cluster.local)\n"
"      --poll MS            how often the strategy looks for nodes (OTP_CLUSTER_POLL_MS,\n"
"                           default 1000)\n"
"      --heartbeat MS       heartbeat interval (OTP_HEARTBEAT_MS, default 200; by\n"
"                           default it grows with the peers, at most 50 beats/s)\n"
"      --timeout MS         a silent peer is down after MS (OTP_HEARTBEAT_TIMEOUT_MS,\n"
"                           default 800, stretched for slow nodes and large clusters;\n"
"                           either given: both are upper bounds, never stretched)\n"
"      --drain-timeout MS   on SIGTERM or stop, wait up to MS for the processes\n"
"                           holding the node to go (OTP_DRAIN_TIMEOUT_MS, default\n"
"                           30000; 0: do not wait)\n"
"      --handshake-timeout MS  an incoming connection must end its CURVE handshake\n"
"                           within MS (OTP_HANDSHAKE_TIMEOUT_MS, default 10000)\n"
"      --max-handshakes N   at most N incoming connections in their handshake at\n"
"                           once, N/4 from one address; the oldest are shed\n"
"                           (OTP_MAX_HANDSHAKES, default 1024)\n"
"      --http-port PORT     serve GET /health/live, /health/ready and /metrics\n"
"                           (Prometheus) over HTTP on PORT (OTP_HTTP_PORT,\n"
"                           default 0: no HTTP)\n"
"      --http-bind ADDRESS  IPv4 address HTTP listens on (OTP_HTTP_BIND, default all)\n"
"      --ready-needs NAMES  /health/ready also waits until these processes are\n"
"                           attached, comma-separated, e.g. otp-reg,otp-sup\n"
"                           (OTP_READY_NEEDS)\n"
"      --client-budget KIB  a process attached here may have KIB unread before\n"
"                           its messages are dropped, and is cut off after 2 s\n"
"                           over it without reading (OTP_CLIENT_BUDGET_KIB,\n"
"                           default 8192: 8 MiB)\n"
"      --peer-budget KIB    messages to a peer node are dropped while KIB of them\n"
"                           are not acknowledged (OTP_PEER_BUDGET_KIB, default\n"
"                           16384: 16 MiB)\n"
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
        .gossip_address = otp_env ("OTP_GOSSIP_ADDRESS", NULL),
        .gossip_port = (int) otp_opt_int ("OTP_GOSSIP_PORT", otp_env ("OTP_GOSSIP_PORT", "45892"), 1, 65535),
        .gossip_ttl = (int) otp_opt_int ("OTP_GOSSIP_TTL", otp_env ("OTP_GOSSIP_TTL", "1"), 0, 255),
        .gossip_interval_ms = (int) otp_opt_int ("OTP_GOSSIP_INTERVAL_MS", otp_env ("OTP_GOSSIP_INTERVAL_MS", "1000"), 10, 3600000),
        .gossip_if = otp_env ("OTP_GOSSIP_IF", ""),
        .gossip_broadcast = streq (otp_env ("OTP_GOSSIP_BROADCAST", "0"), "1"),
        .dns_query = otp_env ("OTP_CLUSTER_DNS_QUERY", NULL),
        .dns_basename = otp_env ("OTP_CLUSTER_DNS_BASENAME", NULL),
        .poll_ms = (int) otp_opt_int ("OTP_CLUSTER_POLL_MS", otp_env ("OTP_CLUSTER_POLL_MS", "1000"), 10, 3600000),
        .heartbeat_ms = (int) otp_opt_int ("OTP_HEARTBEAT_MS", otp_env ("OTP_HEARTBEAT_MS", "200"), 10, 600000),
        .timeout_ms = (int) otp_opt_int ("OTP_HEARTBEAT_TIMEOUT_MS", otp_env ("OTP_HEARTBEAT_TIMEOUT_MS", "800"), 20, 3600000),
        //  Set by the operator, they are upper bounds (otp_detector.h).
        .detector_fixed = otp_env ("OTP_HEARTBEAT_MS", NULL) || otp_env ("OTP_HEARTBEAT_TIMEOUT_MS", NULL),
        .drain_timeout_ms = (int) otp_opt_int ("OTP_DRAIN_TIMEOUT_MS", otp_env ("OTP_DRAIN_TIMEOUT_MS", "30000"), 0, 3600000),
        .handshake_ms = (int) otp_opt_int ("OTP_HANDSHAKE_TIMEOUT_MS", otp_env ("OTP_HANDSHAKE_TIMEOUT_MS", "10000"), 100, 600000),
        .handshake_max = (int) otp_opt_int ("OTP_MAX_HANDSHAKES", otp_env ("OTP_MAX_HANDSHAKES", "1024"), 4, 1000000),
        .http_port = (int) otp_opt_int ("OTP_HTTP_PORT", otp_env ("OTP_HTTP_PORT", "0"), 0, 65535),
        .http_bind = otp_env ("OTP_HTTP_BIND", "*"),
        .ready_needs = otp_env ("OTP_READY_NEEDS", ""),
        .client_budget = 1024 * (uint64_t) otp_opt_int ("OTP_CLIENT_BUDGET_KIB", otp_env ("OTP_CLIENT_BUDGET_KIB", "8192"), 256, 16777216),
        .peer_budget = 1024 * (uint64_t) otp_opt_int ("OTP_PEER_BUDGET_KIB", otp_env ("OTP_PEER_BUDGET_KIB", "16384"), 2048, 16777216),
    };
    bool foreground = false, check = false;
    enum { OPT_COOKIE_FILE = 256, OPT_NO_EPMD, OPT_NODES, OPT_POLL, OPT_HEARTBEAT, OPT_TIMEOUT,
           OPT_DRAIN_TIMEOUT, OPT_DNS_QUERY, OPT_DNS_BASENAME, OPT_CLUSTER_DOMAIN };
    const char *cluster_domain = otp_env ("OTP_CLUSTER_DOMAIN", "cluster.local");
    enum { OPT_GOSSIP_ADDRESS = 512, OPT_GOSSIP_PORT, OPT_GOSSIP_TTL, OPT_GOSSIP_INTERVAL,
           OPT_GOSSIP_IF, OPT_GOSSIP_BROADCAST };
    enum { OPT_HTTP_PORT = 768, OPT_HTTP_BIND, OPT_READY_NEEDS, OPT_HANDSHAKE_TIMEOUT,
           OPT_MAX_HANDSHAKES, OPT_CLIENT_BUDGET, OPT_PEER_BUDGET };
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
        { "gossip-address", required_argument, NULL, OPT_GOSSIP_ADDRESS },
        { "gossip-port", required_argument, NULL, OPT_GOSSIP_PORT },
        { "gossip-ttl", required_argument, NULL, OPT_GOSSIP_TTL },
        { "gossip-interval", required_argument, NULL, OPT_GOSSIP_INTERVAL },
        { "gossip-if", required_argument, NULL, OPT_GOSSIP_IF },
        { "gossip-broadcast", no_argument, NULL, OPT_GOSSIP_BROADCAST },
        { "dns-query", required_argument, NULL, OPT_DNS_QUERY },
        { "dns-basename", required_argument, NULL, OPT_DNS_BASENAME },
        { "cluster-domain", required_argument, NULL, OPT_CLUSTER_DOMAIN },
        { "poll", required_argument, NULL, OPT_POLL },
        { "heartbeat", required_argument, NULL, OPT_HEARTBEAT },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT },
        { "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT },
        { "max-handshakes", required_argument, NULL, OPT_MAX_HANDSHAKES },
        { "http-port", required_argument, NULL, OPT_HTTP_PORT },
        { "http-bind", required_argument, NULL, OPT_HTTP_BIND },
        { "ready-needs", required_argument, NULL, OPT_READY_NEEDS },
        { "client-budget", required_argument, NULL, OPT_CLIENT_BUDGET },
        { "peer-budget", required_argument, NULL, OPT_PEER_BUDGET },
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
            case 'c': cookie = otp_opt_secret (optarg); break;
            case OPT_COOKIE_FILE: cookie_file = optarg; cookie = NULL; break;
            case 'p': config.port = (int) otp_opt_int ("--port", optarg, 0, 65535); break;
            case 'b': config.bind = optarg; break;
            case 'e': config.epmd_port = (int) otp_opt_int ("--epmd-port", optarg, 1, 65535); break;
            case OPT_NO_EPMD: config.start_epmd = false; break;
            case 'S': config.strategy = optarg; break;
            case OPT_NODES: config.cluster_nodes = optarg; break;
            case OPT_GOSSIP_ADDRESS: config.gossip_address = optarg; break;
            case OPT_GOSSIP_PORT:
                config.gossip_port = (int) otp_opt_int ("--gossip-port", optarg, 1, 65535);
                break;
            case OPT_GOSSIP_TTL: config.gossip_ttl = (int) otp_opt_int ("--gossip-ttl", optarg, 0, 255); break;
            case OPT_GOSSIP_INTERVAL:
                config.gossip_interval_ms = (int) otp_opt_int ("--gossip-interval", optarg, 10, 3600000);
                break;
            case OPT_GOSSIP_IF: config.gossip_if = optarg; break;
            case OPT_GOSSIP_BROADCAST: config.gossip_broadcast = true; break;
            case OPT_DNS_QUERY: config.dns_query = optarg; break;
            case OPT_DNS_BASENAME: config.dns_basename = optarg; break;
            case OPT_CLUSTER_DOMAIN: cluster_domain = optarg; break;
            case OPT_POLL: config.poll_ms = (int) otp_opt_int ("--poll", optarg, 10, 3600000); break;
            case OPT_HEARTBEAT:
                config.heartbeat_ms = (int) otp_opt_int ("--heartbeat", optarg, 10, 600000);
                config.detector_fixed = true;
                break;
            case OPT_TIMEOUT:
                config.timeout_ms = (int) otp_opt_int ("--timeout", optarg, 20, 3600000);
                config.detector_fixed = true;
                break;
            case OPT_DRAIN_TIMEOUT:
                config.drain_timeout_ms = (int) otp_opt_int ("--drain-timeout", optarg, 0, 3600000);
                break;
            case OPT_HANDSHAKE_TIMEOUT:
                config.handshake_ms = (int) otp_opt_int ("--handshake-timeout", optarg, 100, 600000);
                break;
            case OPT_MAX_HANDSHAKES:
                config.handshake_max = (int) otp_opt_int ("--max-handshakes", optarg, 4, 1000000);
                break;
            case OPT_HTTP_PORT: config.http_port = (int) otp_opt_int ("--http-port", optarg, 0, 65535); break;
            case OPT_HTTP_BIND: config.http_bind = optarg; break;
            case OPT_READY_NEEDS: config.ready_needs = optarg; break;
            case OPT_CLIENT_BUDGET:
                config.client_budget = 1024 * (uint64_t) otp_opt_int ("--client-budget", optarg, 256, 16777216);
                break;
            case OPT_PEER_BUDGET:
                config.peer_budget = 1024 * (uint64_t) otp_opt_int ("--peer-budget", optarg, 2048, 16777216);
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

    char node_name [OTP_NODE_MAX + 1], pod_name [OTP_NODE_MAX + 2];
    if (!name && !sname)
        otp_fatal ("a node needs a name: --name NAME@HOST or --sname NAME (see --help)");
    //  In a pod (the manifests export POD_IP and NAMESPACE), a bare long
    //  name takes the pod's A record as its host, which the cluster's DNS
    //  resolves and every peer can reach: the seeds' release names nodes so.
    const char *pod_ip = otp_env ("POD_IP", NULL), *pod_ns = otp_env ("NAMESPACE", NULL);
    if (name && !strchr (name, '@') && pod_ip && pod_ns) {
        char pod_host [OTP_HOST_MAX + 1];
        if (otp_pod_host (pod_ip, pod_ns, cluster_domain, pod_host, sizeof pod_host))
            otp_fatal ("cannot name the node after its pod: POD_IP '%s' (an IPv4 address), "
                       "NAMESPACE '%s' and cluster domain '%s' do not make a host name",
                       pod_ip, pod_ns, cluster_domain);
        snprintf (pod_name, sizeof pod_name, "%s@%s", name, pod_host);
        name = pod_name;
    }
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
    if (!strategy_known (config.strategy, error, sizeof error))
        otp_fatal ("%s", error);
    if (streq (config.strategy, "epmd") && !config.cluster_nodes)
        otp_fatal ("the epmd strategy needs OTP_CLUSTER_NODES (or --nodes)");
    if (!config.gossip_address)
        config.gossip_address = config.gossip_broadcast? "255.255.255.255": OTP_GOSSIP_GROUP;
    if (streq (config.strategy, "gossip")) {
        struct in_addr any;
        if (inet_pton (AF_INET, config.gossip_address, &any) != 1)
            otp_fatal ("gossip address '%s' is not an IPv4 address", config.gossip_address);
        if (config.gossip_broadcast == otp_gossip_is_multicast (config.gossip_address))
            otp_fatal (config.gossip_broadcast? "gossip address %s is a multicast group, not a "
                       "broadcast address": "gossip address %s is not a multicast group "
                       "(224.0.0.0/4; for broadcast, give --gossip-broadcast)",
                       config.gossip_address);
        if (*config.gossip_if && inet_pton (AF_INET, config.gossip_if, &any) != 1)
            otp_fatal ("gossip interface '%s' is not an IPv4 address", config.gossip_if);
        //  Tried once here, so that a network without a multicast route is
        //  an error at start, before the node forks or starts otp-epmd.
        int fd = otp_gossip_receiver (config.gossip_address, config.gossip_port,
                                      config.gossip_if, error, sizeof error);
        if (fd >= 0) {
            close (fd);
            fd = otp_gossip_sender (config.gossip_address, config.gossip_if,
                                    config.gossip_ttl, error, sizeof error);
        }
        if (fd < 0)
            otp_fatal ("%s", error);
        close (fd);
    }
    if (streq (config.strategy, "dns") && !config.dns_query)
        otp_fatal ("the dns strategy needs OTP_CLUSTER_DNS_QUERY (or --dns-query)");
    if (config.port && !otp_port_free (config.bind, config.port))
        otp_fatal ("port %d is in use", config.port);
    struct in_addr http_address;
    if (!streq (config.http_bind, "*") && inet_pton (AF_INET, config.http_bind, &http_address) != 1)
        otp_fatal ("HTTP bind address '%s' is not an IPv4 address", config.http_bind);
    if (config.http_port && (config.http_port == config.port
                          || !otp_port_free (config.http_bind, config.http_port)))
        otp_fatal ("HTTP port %d is in use", config.http_port);
    char bad_name [OTP_ARG_MAX + 1];
    if (ready_needs_invalid (config.ready_needs, bad_name, sizeof bad_name))
        otp_fatal ("'%s' in the ready needs (--ready-needs) is not a process name "
                   "(letters, digits, _ - .)", bad_name);
    if (check) {
        printf ("configuration OK\n");
        return 0;
    }
    if (!foreground)
        otp_daemonize ();
    otp_limits_raise ();
    return node_run (&config, sigfd);
}
