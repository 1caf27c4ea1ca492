#include "otp_cookie.h"
#include <assert.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  The strength rule: a cookie gives `rpc` on every node, and a captured
//  datagram lets an attacker test guesses offline, so a short or repetitive
//  one is refused. Counting characters is a crude measure of entropy, but it
//  is one a user can check by eye, and the cookies we make (and Erlang's 20
//  capitals) pass it by far.
static int
s_check (const char *cookie, char *error, size_t error_size)
{
    size_t len = strlen (cookie);
    if (len == 0) {
        snprintf (error, error_size, "the cookie is empty");
        return -1;
    }
    if (len > OTP_COOKIE_MAX) {
        snprintf (error, error_size, "the cookie is longer than %d characters", OTP_COOKIE_MAX);
        return -1;
    }
    if ((unsigned char) cookie [0] == 0xef && (unsigned char) cookie [1] == 0xbb
    &&  (unsigned char) cookie [2] == 0xbf) {
        snprintf (error, error_size, "the cookie starts with a UTF-8 byte order mark; save the file without it");
        return -1;
    }
    bool seen [128] = { false };
    size_t distinct = 0;
    for (const char *p = cookie; *p; p++) {
        unsigned char c = (unsigned char) *p;
        if (c < 0x21 || c > 0x7e) {
            snprintf (error, error_size, "the cookie must be printable ASCII, without spaces");
            return -1;
        }
        if (!seen [c]) {
            seen [c] = true;
            distinct++;
        }
    }
    if (len < OTP_COOKIE_MIN || distinct < OTP_COOKIE_MIN_DISTINCT) {
        snprintf (error, error_size, "the cookie is too weak: %zu characters, %zu different; "
                  "at least %d and %d are needed (otp-ctl cookie makes a good one)",
                  len, distinct, OTP_COOKIE_MIN, OTP_COOKIE_MIN_DISTINCT);
        return -1;
    }
    return 0;
}

int
otp_cookie_check (const char *cookie, char *error, size_t error_size)
{
    return s_check (cookie, error, error_size);
}

void
otp_cookie_make (char cookie [OTP_COOKIE_MADE + 1])
{
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    if (sodium_init () < 0)
        abort ();
    char error [256];
    //  32 of 62 symbols: 190 bits. Fewer than 8 different ones has odds
    //  below 1e-30, but the rule is checked rather than trusted.
    do {
        for (int i = 0; i < OTP_COOKIE_MADE; i++)
            cookie [i] = alphabet [randombytes_uniform (sizeof alphabet - 1)];
        cookie [OTP_COOKIE_MADE] = 0;
    } while (s_check (cookie, error, sizeof error));
}

int
otp_cookie_create (const char *path, char *error, size_t error_size)
{
    //  O_EXCL: two nodes starting at once must not write two different
    //  cookies, and a cookie is never replaced in place.
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
    if (fd < 0) {
        int e = errno;
        snprintf (error, error_size, "cannot create cookie file %s: %s", path, strerror (e));
        errno = e;
        return -1;
    }
    char cookie [OTP_COOKIE_MADE + 2];
    otp_cookie_make (cookie);
    cookie [OTP_COOKIE_MADE] = '\n';
    ssize_t n = write (fd, cookie, OTP_COOKIE_MADE + 1);
    sodium_memzero (cookie, sizeof cookie);
    if (close (fd) || n != OTP_COOKIE_MADE + 1) {
        unlink (path);
        snprintf (error, error_size, "cannot write cookie file %s", path);
        errno = EIO;
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
    if (explicit_cookie) {
        if (!*explicit_cookie) {
            snprintf (error, error_size, "the cookie given is empty");
            return -1;
        }
        if (s_check (explicit_cookie, error, error_size))
            return -1;
        snprintf (cookie, size, "%s", explicit_cookie);
        return 0;
    }
    //  A variable set but empty is a mistake (a missing Secret, a typo in a
    //  unit file), not a wish for a new random cookie: the node would start
    //  alone, in a cluster of its own, and say nothing.
    if (!file || !*file) {
        static const char *vars [] = { "OTP_COOKIE", "OTP_COOKIE_FILE" };
        for (size_t i = 0; i < sizeof vars / sizeof vars [0]; i++) {
            const char *value = getenv (vars [i]);
            if (value && !*value) {
                snprintf (error, error_size, "%s is set but empty; give a cookie, or unset it "
                          "to use ~/.otp-cookie", vars [i]);
                return -1;
            }
        }
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
        if (otp_cookie_create (path, error, error_size) && errno != EEXIST)
            return -1;
    }
    //  O_NONBLOCK: a FIFO given as the cookie file must not hang the start
    //  (with SIGTERM blocked, as it is by then); it is refused below.
    int fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf (error, error_size, "cannot read cookie file %s: %s", path, strerror (errno));
        return -1;
    }
    struct stat st;
    if (fstat (fd, &st) || !S_ISREG (st.st_mode)) {
        close (fd);
        snprintf (error, error_size, "cookie file %s is not a regular file", path);
        return -1;
    }
    if (st.st_mode & 077) {
        close (fd);
        snprintf (error, error_size, "cookie file %s must be accessible by its owner only", path);
        return -1;
    }
    //  Another user's file, however private, is another user's secret: a
    //  cookie planted by them (or left by a former owner of the account)
    //  would put this node in their cluster.
    if (st.st_uid != geteuid ()) {
        close (fd);
        snprintf (error, error_size, "cookie file %s belongs to uid %u, not to this user (uid %u)",
                  path, (unsigned) st.st_uid, (unsigned) geteuid ());
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

static int
s_load (const char *explicit_cookie, const char *file, char *error)
{
    char cookie [OTP_COOKIE_MAX + 1];
    return otp_cookie_load (explicit_cookie, file, cookie, sizeof cookie, error, 256);
}

static void
s_write (const char *path, const char *text, mode_t mode)
{
    unlink (path);
    FILE *f = fopen (path, "w");
    assert (f);
    fputs (text, f);
    fclose (f);
    chmod (path, mode);
}

void
otp_cookie_test (void)
{
    char cookie [OTP_COOKIE_MAX + 1], error [256];
    const char *strong = "Kq3vT9xLm2Rw7YpZ";
    assert (otp_cookie_load (strong, NULL, cookie, sizeof cookie, error, sizeof error) == 0);
    assert (strcmp (cookie, strong) == 0);
    assert (s_load ("has space in it, long enough", NULL, error) == -1);
    assert (s_load ("", NULL, error) == -1 && strstr (error, "empty"));
    //  The strength rule: length, then variety.
    assert (s_load ("secret", NULL, error) == -1 && strstr (error, "too weak: 6 characters"));
    assert (s_load ("abababababababababab", NULL, error) == -1 && strstr (error, "2 different"));
    assert (s_load ("Kq3vT9xLm2Rw7Yp", NULL, error) == -1);
    assert (s_load ("caf\xc3\xa9-cookie-0123456789", NULL, error) == -1 && strstr (error, "ASCII"));
    assert (s_load ("\xef\xbb\xbfKq3vT9xLm2Rw7YpZ", NULL, error) == -1 && strstr (error, "byte order mark"));
    //  What we make passes, and differs each time.
    char made [OTP_COOKIE_MADE + 1], again [OTP_COOKIE_MADE + 1];
    otp_cookie_make (made);
    otp_cookie_make (again);
    assert (strlen (made) == OTP_COOKIE_MADE && strcmp (made, again) != 0);
    assert (otp_cookie_check (made, error, sizeof error) == 0);
    //  Erlang's cookies (20 capitals) pass.
    assert (otp_cookie_check ("QWERTYUIOPASDFGHJKLZ", error, sizeof error) == 0);

    char dir [] = "/tmp/otp-cookie-test-XXXXXX";
    assert (mkdtemp (dir));
    char path [256];
    snprintf (path, sizeof path, "%s/c", dir);
    //  A missing explicit file is an error, not a reason to make one.
    assert (s_load (NULL, path, error) == -1);
    s_write (path, "FROMFILE-0123456789\n", 0644);
    assert (s_load (NULL, path, error) == -1 && strstr (error, "owner only"));
    chmod (path, 0400);
    assert (otp_cookie_load (NULL, path, cookie, sizeof cookie, error, sizeof error) == 0);
    assert (strcmp (cookie, "FROMFILE-0123456789") == 0);
    s_write (path, "\xef\xbb\xbf" "FROMFILE-0123456789\n", 0400);
    assert (s_load (NULL, path, error) == -1 && strstr (error, "byte order mark") && strstr (error, path));
    s_write (path, "weak\n", 0400);
    assert (s_load (NULL, path, error) == -1 && strstr (error, "too weak") && strstr (error, path));
    unlink (path);
    //  A FIFO is refused at once instead of blocking the start.
    assert (mkfifo (path, 0600) == 0);
    assert (s_load (NULL, path, error) == -1 && strstr (error, "not a regular file"));
    unlink (path);
    //  Another user's file (when we may make one: as root).
    if (geteuid () == 0) {
        s_write (path, "FROMFILE-0123456789\n", 0400);
        assert (chown (path, 65534, 65534) == 0);
        assert (s_load (NULL, path, error) == -1 && strstr (error, "belongs to uid 65534"));
        unlink (path);
    }

    //  No cookie at all: one is made in $HOME, 0400, and reused.
    char *old_home = getenv ("HOME")? strdup (getenv ("HOME")): NULL;
    char *old_cookie = getenv ("OTP_COOKIE")? strdup (getenv ("OTP_COOKIE")): NULL;
    char *old_file = getenv ("OTP_COOKIE_FILE")? strdup (getenv ("OTP_COOKIE_FILE")): NULL;
    unsetenv ("OTP_COOKIE");
    unsetenv ("OTP_COOKIE_FILE");
    setenv ("HOME", dir, 1);
    assert (otp_cookie_load (NULL, NULL, cookie, sizeof cookie, error, sizeof error) == 0);
    assert (strlen (cookie) == OTP_COOKIE_MADE);
    char first [OTP_COOKIE_MAX + 1];
    strcpy (first, cookie);
    snprintf (path, sizeof path, "%s/.otp-cookie", dir);
    struct stat st;
    assert (stat (path, &st) == 0 && (st.st_mode & 0777) == 0400);
    assert (otp_cookie_load (NULL, NULL, cookie, sizeof cookie, error, sizeof error) == 0);
    assert (strcmp (cookie, first) == 0);
    //  A variable set but empty is an error, not a fall-back to the file.
    setenv ("OTP_COOKIE", "", 1);
    assert (s_load (NULL, NULL, error) == -1 && strstr (error, "OTP_COOKIE is set but empty"));
    unsetenv ("OTP_COOKIE");
    setenv ("OTP_COOKIE_FILE", "", 1);
    assert (s_load (NULL, NULL, error) == -1 && strstr (error, "OTP_COOKIE_FILE is set but empty"));
    unsetenv ("OTP_COOKIE_FILE");
    unlink (path);
    rmdir (dir);
    if (old_home) {
        setenv ("HOME", old_home, 1);
        free (old_home);
    }
    else
        unsetenv ("HOME");
    if (old_cookie) {
        setenv ("OTP_COOKIE", old_cookie, 1);
        free (old_cookie);
    }
    if (old_file) {
        setenv ("OTP_COOKIE_FILE", old_file, 1);
        free (old_file);
    }
}
