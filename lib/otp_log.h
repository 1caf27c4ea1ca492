/*  otp_log - one-line logging on stderr (or syslog when daemonized).
    Every line carries the program and, once known, the node name, so that the
    interleaved stderr of a local cluster stays readable.                      */
#ifndef OTP_LOG_H
#define OTP_LOG_H

#include <stdbool.h>
#include <stdint.h>

void otp_log_init (const char *progname);
void otp_log_set_node (const char *node);
void otp_log_set_verbose (bool verbose);
void otp_log_use_syslog (void);

//  True at most once per `interval_ms`; `last` holds the state (start at 0).
bool otp_log_ratelimit (int64_t *last, int interval_ms);

void otp_fatal (const char *fmt, ...) __attribute__ ((format (printf, 1, 2), noreturn));
void otp_warn (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
void otp_info (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
void otp_debug (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

#endif
