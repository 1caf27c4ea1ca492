#include "otp_log.h"
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <sys/time.h>

static char s_prog [64] = "otp";
static char s_node [300] = "";
static bool s_verbose = false;
static bool s_syslog = false;

void
otp_log_init (const char *progname)
{
    const char *slash = strrchr (progname, '/');
    snprintf (s_prog, sizeof s_prog, "%s", slash? slash + 1: progname);
}

void
otp_log_set_node (const char *node)
{
    snprintf (s_node, sizeof s_node, "%s", node? node: "");
}

void
otp_log_set_verbose (bool verbose)
{
    s_verbose = verbose;
}

void
otp_log_use_syslog (void)
{
    openlog (s_prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    s_syslog = true;
}

static void
s_vlog (int prio, const char *level, const char *fmt, va_list ap)
{
    char text [1024];
    vsnprintf (text, sizeof text, fmt, ap);
    //  A peer-supplied string may carry control characters: keep one event
    //  on one line whatever it contains.
    for (char *p = text; *p; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7f)
            *p = '?';
    if (s_syslog) {
        if (*s_node)
            syslog (prio, "[%s] %s", s_node, text);
        else
            syslog (prio, "%s", text);
        return;
    }
    struct timeval tv;
    gettimeofday (&tv, NULL);
    struct tm tm;
    gmtime_r (&tv.tv_sec, &tm);
    char stamp [32];
    strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf (stderr, "%s.%03dZ %s%s%s%s %s: %s\n", stamp, (int) (tv.tv_usec / 1000),
             s_prog, *s_node? "[": "", s_node, *s_node? "]": "", level, text);
}

bool
otp_log_ratelimit (int64_t *last, int interval_ms)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (*last && now - *last < interval_ms)
        return false;
    *last = now;
    return true;
}

#define LOG_BODY(prio, level) \
    va_list ap; va_start (ap, fmt); s_vlog (prio, level, fmt, ap); va_end (ap)

//  _exit, not exit: CZMQ's atexit handler would tear libzmq down under
//  sockets still open and abort (exit status 134) instead of saying why.
void otp_fatal (const char *fmt, ...) { LOG_BODY (LOG_ERR, "fatal"); fflush (NULL); _exit (1); }
void otp_warn (const char *fmt, ...) { LOG_BODY (LOG_WARNING, "warn"); }
void otp_info (const char *fmt, ...) { LOG_BODY (LOG_INFO, "info"); }
void otp_debug (const char *fmt, ...) { if (s_verbose) { LOG_BODY (LOG_DEBUG, "debug"); } }
