/*  otp_cookie - the shared secret of a cluster, found the way Erlang finds it.
    Order: an explicit cookie, then a cookie file given by the user, then
    ~/.otp-cookie, which is created once with a random cookie and mode 0400
    when it does not exist. There is no built-in default cookie.              */
#ifndef OTP_COOKIE_H
#define OTP_COOKIE_H

#include <stddef.h>

#define OTP_COOKIE_MAX 255

//  Fills `cookie` and returns 0, or returns -1 with a one-line reason in
//  `error`. `explicit_cookie` and `file` may be NULL.
int otp_cookie_load (const char *explicit_cookie, const char *file,
                     char *cookie, size_t size, char *error, size_t error_size);

void otp_cookie_test (void);

#endif
