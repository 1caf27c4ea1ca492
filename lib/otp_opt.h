/*  otp_opt - what every binary does with its command line: environment
    fallbacks (flags win), strict numbers, --version, daemonizing.          */
#ifndef OTP_OPT_H
#define OTP_OPT_H

#include <stdbool.h>

#ifndef OTP_VERSION
#define OTP_VERSION "0.0.0"
#endif

//  The environment variable's value when set and non-empty, else `fallback`.
const char *otp_env (const char *name, const char *fallback);
//  Parses a whole decimal integer within [min, max]. Returns 0 or -1.
int otp_parse_int (const char *text, long min, long max, long *value);
//  As otp_parse_int, but exits with a one-line error naming `what`.
long otp_opt_int (const char *what, const char *text, long min, long max);
//  A secret given on the command line (--cookie): returns a copy and
//  overwrites the argument in place with 'x's, so that ps and
//  /proc/PID/cmdline no longer show it (they did in the instant before; a
//  variable or a file is the better way). One secret a process: the copy
//  is static.
const char *otp_opt_secret (char *arg);
//  Prints "PROG (otp-labs) VERSION" and exits 0.
void otp_print_version (const char *prog) __attribute__ ((noreturn));
//  True if a TCP listener could bind address:port now. Checked before a
//  daemon forks into the background, where a bind error would go unseen.
bool otp_port_free (const char *address, int port);
//  Detaches into the background (fork, setsid, stdio to /dev/null) and
//  logs to syslog from then on. Call before the first CZMQ call.
void otp_daemonize (void);
//  Writes `value` and a newline to `path` atomically (a temp file renamed).
int otp_write_file (const char *path, const char *value);

#endif
