/*  otp-ctl cookie: makes a good cookie, or checks the one in use. Offline:
    it talks to no node.                                                    */
#include "ctl.h"
#include <errno.h>
#include <sodium.h>
#include <fcntl.h>
#include <unistd.h>

static int
s_write_new (const char *path)
{
    char cookie [OTP_COOKIE_MADE + 2];
    otp_cookie_make (cookie);
    cookie [OTP_COOKIE_MADE] = '\n';
    //  O_EXCL: a cookie is never replaced in place; nodes that read the old
    //  one would be cut off from those that read the new one.
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
    if (fd < 0) {
        fprintf (stderr, "otp-ctl: cannot create %s: %s%s\n", path, strerror (errno),
                 errno == EEXIST? " (a cookie is not replaced in place; remove it first)": "");
        return 1;
    }
    ssize_t n = write (fd, cookie, OTP_COOKIE_MADE + 1);
    sodium_memzero (cookie, sizeof cookie);
    if (close (fd) || n != OTP_COOKIE_MADE + 1) {
        fprintf (stderr, "otp-ctl: cannot write %s\n", path);
        unlink (path);
        return 1;
    }
    printf ("wrote a new cookie to %s (mode 0400)\n", path);
    return 0;
}

int
ctl_cookie (ctl_t *ctl, int argc, char **argv)
{
    if (argc == 0) {
        char cookie [OTP_COOKIE_MADE + 1];
        otp_cookie_make (cookie);
        printf ("%s\n", cookie);
        return 0;
    }
    if (argc == 2 && streq (argv [0], "--file"))
        return s_write_new (argv [1]);
    if (argc == 1 && streq (argv [0], "--check")) {
        //  The cookie this otp-ctl would use, found as every program finds
        //  it; only its verdict is printed, never the cookie.
        char cookie [OTP_COOKIE_MAX + 1], error [512];
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
