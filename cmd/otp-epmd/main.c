/*  otp-epmd - the per-host port mapper: node name -> port.
    Nodes on this host register on a local endpoint (ipc://@otp-epmd-PORT),
    anyone looks up over TCP. A name is freed when the connection that
    registered it closes (a node killed with -9), or when
    it is not refreshed in time (a frozen node); see epmd.c.                */
#include "otp.h"
#include "epmd.h"
#include <getopt.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
"usage: otp-epmd [-dnv] [-p PORT] [-b ADDRESS] [--expire MS] [--port-file FILE]\n"
"                [--max-conns N] [--max-per-address N] [--max-local N] [--tcp-register]\n"
"\n"
"The per-host port mapper of otp-labs (Erlang's epmd).\n"
"\n"
"  -p, --port PORT      TCP port to listen on (OTP_EPMD_PORT, default 4369; 0 picks one)\n"
"  -b, --bind ADDRESS   IPv4 address to listen on (OTP_EPMD_BIND, default all)\n"
"      --expire MS      free a name not refreshed for MS milliseconds (default 1000)\n"
"      --port-file FILE write the port listened on to FILE once listening\n"
"      --max-conns N    TCP connections at once (default 1024)\n"
"      --max-per-address N  TCP connections from one address (default 256)\n"
"      --max-local N    connections on the local endpoint (default 1024)\n"
"                       over a bound, the oldest connection makes room (locally:\n"
"                       the oldest that holds no name; if all do, a new one is refused)\n"
"      --tcp-register   also take ALIVE/BYE over TCP from 127.* (nodes older than\n"
"                       the local endpoint, during an upgrade; a proxy on this\n"
"                       host can then register for remote clients)\n"
"  -d, --foreground     stay in the foreground and log to stderr\n"
"  -n, --check          check the configuration and exit\n"
"  -v, --verbose        log every request\n"
"  -h, --help           show this help\n"
"  -V, --version        show the version\n");
}

int
main (int argc, char *argv [])
{
    otp_log_init (argv [0]);
    int sigfd = otp_signal_init ();

    epmd_config_t config = {
        .port = (int) otp_opt_int ("OTP_EPMD_PORT", otp_env ("OTP_EPMD_PORT", "4369"), 0, 65535),
        .bind = otp_env ("OTP_EPMD_BIND", "*"),
        .expire_ms = 1000,
        .max_conns = 1024,
        .max_per_address = 256,
        .max_local = 1024,
    };
    bool foreground = false, check = false;
    static const struct option longopts [] = {
        { "port", required_argument, NULL, 'p' },
        { "bind", required_argument, NULL, 'b' },
        { "expire", required_argument, NULL, 'e' },
        { "port-file", required_argument, NULL, 'f' },
        { "max-conns", required_argument, NULL, 'C' },
        { "max-per-address", required_argument, NULL, 'A' },
        { "max-local", required_argument, NULL, 'L' },
        { "tcp-register", no_argument, NULL, 'T' },
        { "foreground", no_argument, NULL, 'd' },
        { "check", no_argument, NULL, 'n' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "p:b:dnvhV", longopts, NULL)) != -1) {
        switch (opt) {
            case 'p': config.port = (int) otp_opt_int ("--port", optarg, 0, 65535); break;
            case 'b': config.bind = optarg; break;
            case 'e': config.expire_ms = (int) otp_opt_int ("--expire", optarg, 50, 3600000); break;
            case 'f': config.port_file = optarg; break;
            case 'C': config.max_conns = (int) otp_opt_int ("--max-conns", optarg, 1, 1000000); break;
            case 'A': config.max_per_address = (int) otp_opt_int ("--max-per-address", optarg, 1, 1000000); break;
            case 'L': config.max_local = (int) otp_opt_int ("--max-local", optarg, 1, 1000000); break;
            case 'T': config.tcp_register = true; break;
            case 'd': foreground = true; break;
            case 'n': check = true; break;
            case 'v': otp_log_set_verbose (true); break;
            case 'h': s_usage (stdout); return 0;
            case 'V': otp_print_version ("otp-epmd");
            default: s_usage (stderr); return 2;
        }
    }
    if (optind < argc)
        otp_fatal ("unexpected argument '%s' (see --help)", argv [optind]);
    if (config.port && !otp_port_free (config.bind, config.port))
        otp_fatal ("port %d is in use: is another otp-epmd running?", config.port);
    if (check) {
        printf ("configuration OK\n");
        return 0;
    }
    if (!foreground)
        otp_daemonize ();
    otp_limits_raise ();
    return epmd_run (&config, sigfd);
}
