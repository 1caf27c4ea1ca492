/*  otp-epmd - the per-host port mapper: node name -> port.
    Nodes on this host register over loopback. A name is freed when the
    connection that registered it closes (a node killed with -9), or when
    it is not refreshed in time (a frozen node); see epmd.c.                */
#include "otp.h"
#include "epmd.h"
#include <getopt.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
"usage: otp-epmd [-dnv] [-p PORT] [-b ADDRESS] [--expire MS] [--port-file FILE]\n"
"\n"
"The per-host port mapper of otp-labs (Erlang's epmd).\n"
"\n"
"  -p, --port PORT      TCP port to listen on (OTP_EPMD_PORT, default 4369; 0 picks one)\n"
"  -b, --bind ADDRESS   IPv4 address to listen on (OTP_EPMD_BIND, default all)\n"
"      --expire MS      free a name not refreshed for MS milliseconds (default 1000)\n"
"      --port-file FILE write the port listened on to FILE once listening\n"
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
    };
    bool foreground = false, check = false;
    static const struct option longopts [] = {
        { "port", required_argument, NULL, 'p' },
        { "bind", required_argument, NULL, 'b' },
        { "expire", required_argument, NULL, 'e' },
        { "port-file", required_argument, NULL, 'f' },
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
