/*  otp-ctl cookie: makes a good cookie, or checks the one in use. Offline:
    it talks to no node.                                                    */
#include "ctl.h"
#include <errno.h>
#include <sodium.h>

int
ctl_cookie (ctl_t *ctl, int argc, char **argv)
{
    char error [512];
    if (argc == 0) {
        char cookie [OTP_COOKIE_MADE + 1];
        otp_cookie_make (cookie);
        printf ("%s\n", cookie);
        return 0;
    }
    if (argc == 2 && streq (argv [0], "--file")) {
        if (otp_cookie_create (argv [1], error, sizeof error)) {
            //  Nodes that read the old one would be cut off from the new.
            fprintf (stderr, "otp-ctl: %s%s\n", error,
                     errno == EEXIST? " (a cookie is not replaced in place; remove it first)": "");
            return 1;
        }
        printf ("wrote a new cookie to %s (mode 0400)\n", argv [1]);
        return 0;
    }
    if (argc == 1 && streq (argv [0], "--check")) {
        //  The cookie this otp-ctl would use, found as every program finds
        //  it; only its verdict is printed, never the cookie.
        char cookie [OTP_COOKIE_MAX + 1];
        if (otp_cookie_load (ctl->cookie, ctl->cookie_file, cookie, sizeof cookie,
                             error, sizeof error)) {
            fprintf (stderr, "otp-ctl: %s\n", error);
            return 1;
        }
        printf ("the cookie is usable: %zu characters\n", strlen (cookie));
        sodium_memzero (cookie, sizeof cookie);
        return 0;
    }
    fprintf (stderr, "usage: otp-ctl cookie [--file PATH | --check]\n");
    return 2;
}
