#include "otp_cookie.h"
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
s_check (const char *cookie, char *error, size_t error_size)
{
    size_t len = strlen (cookie);
    if (len == 0 || len > OTP_COOKIE_MAX) {
        snprintf (error, error_size, "cookie must be 1..%d characters", OTP_COOKIE_MAX);
        return -1;
    }
    for (const char *p = cookie; *p; p++)
        if ((unsigned char) *p < 0x21 || *p == 0x7f) {
            snprintf (error, error_size, "cookie must be printable, without spaces");
            return -1;
        }
    return 0;
}

static int
s_create (const char *path, char *error, size_t error_size)
{
    //  O_EXCL: two nodes starting at once must not write two different cookies.
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL, 0400);
    if (fd < 0)
        return errno == EEXIST? 0: (snprintf (error, error_size,
                "cannot create cookie file %s: %s", path, strerror (errno)), -1);
    char cookie [21];
    for (int i = 0; i < 20; i++)
        cookie [i] = (char) ('A' + randombytes_uniform (26));
    cookie [20] = '\n';
    ssize_t n = write (fd, cookie, sizeof cookie);
    close (fd);
    if (n != (ssize_t) sizeof cookie) {
        unlink (path);
        snprintf (error, error_size, "cannot write cookie file %s", path);
        return -1;
    }
    return 0;
}

int
otp_cookie_load (const char *explicit_cookie, const char *file,
                 char *cookie, size_t size, char *error, size_t error_size)
{
    if (sodium_init () < 0) {
        snprintf (error, error_size, "libsodium failed to initialise");
        return -1;
    }
    if (explicit_cookie && *explicit_cookie) {
        if (s_check (explicit_cookie, error, error_size))
            return -1;
        snprintf (cookie, size, "%s", explicit_cookie);
        return 0;
    }
    char path [4096];
    if (file && *file)
        snprintf (path, sizeof path, "%s", file);
    else {
        const char *home = getenv ("HOME");
        if (!home || !*home) {
            snprintf (error, error_size, "no cookie given and HOME is not set");
            return -1;
        }
        snprintf (path, sizeof path, "%s/.otp-cookie", home);
        if (s_create (path, error, error_size))
            return -1;
    }
    int fd = open (path, O_RDONLY | O_NOFOLLOW);
    if (fd < 0) {
        snprintf (error, error_size, "cannot read cookie file %s: %s", path, strerror (errno));
        return -1;
    }
    struct stat st;
    if (fstat (fd, &st) || (st.st_mode & 077)) {
        close (fd);
        snprintf (error, error_size, "cookie file %s must be accessible by its owner only", path);
        return -1;
    }
    char buffer [OTP_COOKIE_MAX + 2];
    ssize_t n = read (fd, buffer, sizeof buffer - 1);
    close (fd);
    if (n < 0)
        n = 0;
    buffer [n] = 0;
    buffer [strcspn (buffer, "\r\n")] = 0;
    if (s_check (buffer, error, error_size)) {
        size_t len = strlen (error);
        snprintf (error + len, error_size - len, " (in %s)", path);
        return -1;
    }
    snprintf (cookie, size, "%s", buffer);
    return 0;
}

void
otp_cookie_test (void)
{
    char cookie [OTP_COOKIE_MAX + 1], error [256];
    assert (otp_cookie_load ("secret", NULL, cookie, sizeof cookie, error, sizeof error) == 0);
    assert (strcmp (cookie, "secret") == 0);
    assert (otp_cookie_load ("has space", NULL, cookie, sizeof cookie, error, sizeof error) == -1);

    char dir [] = "/tmp/otp-cookie-test-XXXXXX";
    assert (mkdtemp (dir));
    char path [256];
    snprintf (path, sizeof path, "%s/c", dir);
    //  A missing explicit file is an error, not a reason to make one.
    assert (otp_cookie_load (NULL, path, cookie, sizeof cookie, error, sizeof error) == -1);
    FILE *f = fopen (path, "w");
    fputs ("FROMFILE\n", f);
    fclose (f);
    chmod (path, 0644);
    assert (otp_cookie_load (NULL, path, cookie, sizeof cookie, error, sizeof error) == -1);
    assert (strstr (error, "owner only"));
    chmod (path, 0400);
    assert (otp_cookie_load (NULL, path, cookie, sizeof cookie, error, sizeof error) == 0);
    assert (strcmp (cookie, "FROMFILE") == 0);
    unlink (path);

    //  No cookie at all: one is made in $HOME, 0400, and reused.
    char *old_home = getenv ("HOME")? strdup (getenv ("HOME")): NULL;
    setenv ("HOME", dir, 1);
    assert (otp_cookie_load (NULL, NULL, cookie, sizeof cookie, error, sizeof error) == 0);
    assert (strlen (cookie) == 20);
    char first [OTP_COOKIE_MAX + 1];
    strcpy (first, cookie);
    snprintf (path, sizeof path, "%s/.otp-cookie", dir);
    struct stat st;
    assert (stat (path, &st) == 0 && (st.st_mode & 0777) == 0400);
    assert (otp_cookie_load (NULL, NULL, cookie, sizeof cookie, error, sizeof error) == 0);
    assert (strcmp (cookie, first) == 0);
    unlink (path);
    rmdir (dir);
    if (old_home) {
        setenv ("HOME", old_home, 1);
        free (old_home);
    }
    else
        unsetenv ("HOME");
}
