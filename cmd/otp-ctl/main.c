/*  otp-ctl - the operator's command line: ping, nodes, info, stop, monitor,
    and the port mapper's names. It connects as a client (a hidden node),
    never as a cluster member.                                              */
#include "ctl.h"
#include <getopt.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
"usage: otp-ctl [-n NODE] [--cookie C | --cookie-file F] [--json] COMMAND [ARGS]\n"
"\n"
"Commands:\n"
"  ping                 pong if NODE answers (exit 0), pang if not (exit 1)\n"
"  nodes                NODE's connected peers, one per line, sorted\n"
"  info                 name, uptime, peers, strategy, counters\n"
"  stop                 stop NODE gracefully\n"
"  monitor [--all]      print nodeup/nodedown events as they happen; with --all,\n"
"                       also 'down NAME REASON' when a process here exits or detaches\n"
"  send NAME MSG        send MSG to whoever holds the registered NAME, anywhere\n"
"  send NAME@NODE MSG   send MSG to the process attached as NAME on NODE, through\n"
"                       the node given by -n (Erlang's {Name, Node} ! Msg)\n"
"  call NAME MSG [--timeout MS]  send MSG as a call (NAME or NAME@NODE) and\n"
"                       print the reply; exit 1 on time-out or if nobody holds NAME\n"
"  whereis NAME         the node that holds NAME (exit 1 and 'undefined' if none)\n"
"  names                registered names, one per line\n"
"  members GROUP        a group's members, ADDR@NODE, one per line\n"
"  groups               groups with members, one per line\n"
"  registry             the counters of the otp-reg beside NODE\n"
"  start-child ID [--name NAME] [--restart permanent|transient|temporary]\n"
"      [--shutdown MS|brutal_kill|infinity] [--type worker|supervisor] [--node N]\n"
"      [--cwd DIR] [--env KEY=VALUE]... [--messages stdin|tagged|api] [--keep-cookie yes|no]\n"
"      [--local] -- CMD ARGS\n"
"                       a cluster child: placed on one otp-sup member, moved when\n"
"                       it dies or drains; --local: in NODE's own local tree\n"
"  stop-child ID        stop a child; its spec stays (restart-child starts it)\n"
"  restart-child ID     start a stopped child again (OTP's restart_child): its node and pid\n"
"  delete-child ID      forget a stopped child's spec\n"
"  which-children       a table of every child: node, pid, status, restarts...\n"
"  count-children       specs, active, supervisors, workers\n"
"  sup-info             the counters of the otp-sup beside NODE\n"
"  state ID|NAME        a cluster child's latest checkpoint: size, seq, the release\n"
"                       that wrote it, its age (as the otp-sup beside NODE holds it)\n"
"  listen NAME          attach to the node as NAME and print each message sent to it\n"
"  rpc NODE [--] CMD ARGS  run CMD on NODE, streaming its output; its exit status\n"
"  epmd names [--host H]  the port mapper's names and ports\n"
"  epmd info [--host H]   the port mapper's pid, uptime and size\n"
"  cookie               print a new random cookie (32 letters and digits)\n"
"  cookie --file PATH   write a new cookie to PATH, mode 0400 (never over a file)\n"
"  cookie --check       check the cookie this otp-ctl would use (not printed)\n"
"\n"
"Options:\n"
"  -n, --node NODE        node to talk to, name@host (OTP_NODE_NAME)\n"
"  -c, --cookie COOKIE    cluster cookie (OTP_COOKIE)\n"
"      --cookie-file FILE cookie file (OTP_COOKIE_FILE; default ~/.otp-cookie)\n"
"  -e, --epmd-port PORT   otp-epmd port (OTP_EPMD_PORT, default 4369)\n"
"  -t, --timeout MS       how long to wait for an answer (default 3000; stop-child and\n"
"                         restart-child: 60000, as a child's shutdown may take long)\n"
"  -j, --json             print JSON instead of text\n"
"  -h, --help             show this help\n"
"  -V, --version          show the version\n");
}

int
main (int argc, char *argv [])
{
    otp_log_init (argv [0]);
    otp_signal_cli ();
    ctl_t ctl = {
        .node = otp_env ("OTP_NODE_NAME", NULL),
        .cookie = otp_env ("OTP_COOKIE", NULL),
        .cookie_file = otp_env ("OTP_COOKIE_FILE", NULL),
        .epmd_port = (int) otp_opt_int ("OTP_EPMD_PORT", otp_env ("OTP_EPMD_PORT", "4369"), 1, 65535),
        .timeout_ms = 3000,
    };
    enum { OPT_COOKIE_FILE = 256 };
    static const struct option longopts [] = {
        { "node", required_argument, NULL, 'n' },
        { "cookie", required_argument, NULL, 'c' },
        { "cookie-file", required_argument, NULL, OPT_COOKIE_FILE },
        { "epmd-port", required_argument, NULL, 'e' },
        { "timeout", required_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    //  '+': options end at the command, whose own options follow it.
    while ((opt = getopt_long (argc, argv, "+n:c:e:t:jhV", longopts, NULL)) != -1) {
        switch (opt) {
            case 'n': ctl.node = optarg; break;
            case 'c': ctl.cookie = otp_opt_secret (optarg); break;
            case OPT_COOKIE_FILE: ctl.cookie_file = optarg; ctl.cookie = NULL; break;
            case 'e': ctl.epmd_port = (int) otp_opt_int ("--epmd-port", optarg, 1, 65535); break;
            case 't':
                ctl.timeout_ms = (int) otp_opt_int ("--timeout", optarg, 1, 3600000);
                ctl.timeout_set = true;
                break;
            case 'j': ctl.json = true; break;
            case 'h': s_usage (stdout); return 0;
            case 'V': otp_print_version ("otp-ctl");
            default: s_usage (stderr); return 2;
        }
    }
    if (optind >= argc) {
        s_usage (stderr);
        return 2;
    }
    const char *command = argv [optind];
    char **args = argv + optind + 1;
    int nargs = argc - optind - 1;
    if (streq (command, "epmd"))
        return ctl_epmd (&ctl, nargs, args);
    if (streq (command, "monitor") && nargs == 1 && streq (args [0], "--all"))
        return ctl_node (&ctl, command, nargs, args);
    if (streq (command, "ping") || streq (command, "nodes") || streq (command, "info")
    ||  streq (command, "stop") || streq (command, "monitor")) {
        if (nargs > 0)
            otp_fatal ("%s takes no arguments", command);
        return ctl_node (&ctl, command, 0, NULL);
    }
    if (streq (command, "listen"))
        return ctl_node (&ctl, command, nargs, args);
    if (streq (command, "whereis") || streq (command, "names") || streq (command, "members")
    ||  streq (command, "groups") || streq (command, "call") || streq (command, "send")
    ||  streq (command, "registry"))
        return ctl_registry (&ctl, command, nargs, args);
    if (streq (command, "start-child") || streq (command, "stop-child")
    ||  streq (command, "restart-child") || streq (command, "delete-child")
    ||  streq (command, "which-children") || streq (command, "count-children")
    ||  streq (command, "sup-info") || streq (command, "state"))
        return ctl_sup (&ctl, command, nargs, args);
    if (streq (command, "rpc")) return ctl_rpc (&ctl, nargs, args);
    if (streq (command, "cookie")) return ctl_cookie (&ctl, nargs, args);
    otp_fatal ("unknown command '%s' (see --help)", command);
}
