#include "otp_opt.h"
#include "otp_log.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

const char *
otp_env (const char *name, const char *fallback)
{
    const char *value = getenv (name);
    return value && *value? value: fallback;
}

const char *
otp_opt_secret (char *arg)
{
    static char copy [4096];
    snprintf (copy, sizeof copy, "%s", arg);
    for (char *p = arg; *p; p++)
        *p = 'x';
    return copy;
}

int
otp_parse_int (const char *text, long min, long max, long *value)
{
    if (!text || !*text)
        return -1;
    errno = 0;
    char *end;
    long v = strtol (text, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *value = v;
    return 0;
}

long
otp_opt_int (const char *what, const char *text, long min, long max)
{
    long value;
    if (otp_parse_int (text, min, max, &value))
        otp_fatal ("%s must be a number from %ld to %ld, not '%s'", what, min, max,
                   text? text: "");
    return value;
}

void
otp_print_version (const char *prog)
{
    printf ("%s (otp-labs) %s\n", prog, OTP_VERSION);
    exit (0);
}

bool
otp_port_free (const char *address, int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return true;
    int one = 1;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    if (!address || !strcmp (address, "*") || inet_pton (AF_INET, address, &sa.sin_addr) != 1)
        sa.sin_addr.s_addr = htonl (INADDR_ANY);
    bool ok = bind (fd, (struct sockaddr *) &sa, sizeof sa) == 0;
    close (fd);
    return ok;
}

void
otp_daemonize (void)
{
    if (daemon (0, 0))
        otp_fatal ("cannot go into the background: %s", strerror (errno));
    otp_log_use_syslog ();
}


int
otp_write_file (const char *path, const char *value)
{
    char tmp [4096];
    snprintf (tmp, sizeof tmp, "%s.%d.tmp", path, getpid ());
    FILE *f = fopen (tmp, "w");
    if (!f)
        return -1;
    fprintf (f, "%s\n", value);
    if (fclose (f) || rename (tmp, path)) {
        unlink (tmp);
        return -1;
    }
    return 0;
}
