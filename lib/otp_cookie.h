/*  otp_cookie - the shared secret of a cluster, found the way Erlang finds it.
    Order: an explicit cookie, then a cookie file given by the user, then
    ~/.otp-cookie, which is created once with a random cookie and mode 0400
    when it does not exist. There is no built-in default cookie.

    A cookie is printable ASCII without spaces, at least OTP_COOKIE_MIN
    characters of which at least OTP_COOKIE_MIN_DISTINCT differ; anything
    else is refused with a one-line reason. Mistakes that used to pass in
    silence are refused too: an empty --cookie, OTP_COOKIE or OTP_COOKIE_FILE
    set but empty, a file that is not a regular file (a FIFO would block),
    one readable by others or owned by another user, a UTF-8 byte order mark.  */
#ifndef OTP_COOKIE_H
#define OTP_COOKIE_H

#include <stddef.h>

#define OTP_COOKIE_MAX 255
#define OTP_COOKIE_MIN 16
#define OTP_COOKIE_MIN_DISTINCT 8
#define OTP_COOKIE_MADE 32          //  the length of the cookies we make

//  Fills `cookie` and returns 0, or returns -1 with a one-line reason in
//  `error`. `explicit_cookie` and `file` may be NULL.
int otp_cookie_load (const char *explicit_cookie, const char *file,
                     char *cookie, size_t size, char *error, size_t error_size);

//  Returns 0 if `cookie` may be used, or -1 with the reason in `error`.
int otp_cookie_check (const char *cookie, char *error, size_t error_size);

//  A new random cookie (32 letters and digits, 190 bits).
void otp_cookie_make (char cookie [OTP_COOKIE_MADE + 1]);

//  Writes a new cookie to `path`, mode 0400, only if no file is there.
//  Returns 0, or -1 with the reason in `error` (errno EEXIST if one was).
int otp_cookie_create (const char *path, char *error, size_t error_size);

void otp_cookie_test (void);

#endif
