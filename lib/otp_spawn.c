#include "otp_spawn.h"
#include "otp_signal.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <linux/close_range.h>

//  A secret of the cluster's: the cookie, or where to read it.
static bool
s_secret (const char *entry)
{
    return strncmp (entry, "OTP_COOKIE", 10) == 0;
}

//  Our environment, less what `extra` overrides (and less the cookie unless
//  `keep_cookie`), then `extra`. The strings are borrowed; only the array
//  is new.
static char **
s_environment (char *const *extra, bool keep_cookie)
{
    static char *const none [] = { NULL };
    if (!extra)
        extra = none;
    size_t ours = 0, theirs = 0;
    while (environ [ours])
        ours++;
    while (extra [theirs])
        theirs++;
    char **envp = (char **) calloc (ours + theirs + 1, sizeof (char *));
    if (!envp)
        return NULL;
    size_t count = 0;
    for (size_t i = 0; i < ours; i++) {
        size_t key = strcspn (environ [i], "=");
        bool replaced = false;
        for (size_t j = 0; j < theirs && !replaced; j++)
            replaced = strncmp (extra [j], environ [i], key) == 0 && extra [j][key] == '=';
        if (!replaced && (keep_cookie || !s_secret (environ [i])))
            envp [count++] = environ [i];
    }
    for (size_t j = 0; j < theirs; j++)
        envp [count++] = extra [j];
    return envp;
}

//  In the child: errno to the parent through the exec-error pipe, then out.
static void
s_fail_child (int error_fd)
{
    int err = errno;
    ssize_t n = write (error_fd, &err, sizeof err);
    (void) n;
    _exit (127);
}

int
otp_write_all (int fd, const void *data, size_t size)
{
    const char *at = (const char *) data;
    while (size > 0) {
        ssize_t n = write (fd, at, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        at += n;
        size -= (size_t) n;
    }
    return 0;
}

pid_t
otp_spawn (const otp_spawn_opts_t *opts, char *error, size_t error_size)
{
    int fds [2];
    if (pipe2 (fds, O_CLOEXEC)) {
        snprintf (error, error_size, "pipe: %s", strerror (errno));
        return -1;
    }
    //  The environment is built here: after fork, in a process with threads,
    //  only async-signal-safe calls are allowed (no malloc, so no putenv).
    char **volatile envp = opts->env || !opts->keep_cookie
                         ? s_environment (opts->env, opts->keep_cookie): NULL;
    pid_t parent = getpid ();
    pid_t pid = vfork ();
    if (pid < 0) {
        free (envp);
        close (fds [0]);
        close (fds [1]);
        snprintf (error, error_size, "fork: %s", strerror (errno));
        return -1;
    }
    if (pid == 0) {
        otp_signal_child_reset ();
        //  Nothing of ours leaks into the child (sockets, a test runner's
        //  pipes): close-on-exec for every descriptor above stderr.
        close_range (3, ~0U, CLOSE_RANGE_CLOEXEC);
        if (opts->new_session)
            setsid ();
        //  Dying with us: a supervisor killed by SIGKILL must not leave its
        //  children running where nobody can reach them. The parent may have
        //  died before this line: then we are already orphaned, and go.
        if (opts->death_signal) {
            prctl (PR_SET_PDEATHSIG, opts->death_signal);
            if (getppid () != parent)
                _exit (127);
        }
        if (opts->cwd && chdir (opts->cwd)) {
            int err = errno;
            ssize_t n = write (fds [1], &err, sizeof err);
            (void) n;
            _exit (127);
        }
        //  Descriptors 3.. may be the exec-error pipe's end: moved out of the way.
        int error_fd = fds [1];
        if (error_fd >= 3 && error_fd < 3 + OTP_SPAWN_EXTRA) {
            error_fd = fcntl (fds [1], F_DUPFD_CLOEXEC, 3 + OTP_SPAWN_EXTRA);
            if (error_fd < 0)
                s_fail_child (fds [1]);
        }
        if (opts->null_stdio) {
            int null = open ("/dev/null", O_RDWR);
            for (int i = 0; i < 3; i++) {
                int fd = opts->stdio [i] > 2? opts->stdio [i]: null;
                if (fd >= 0)
                    dup2 (fd, i);
            }
            if (null > 2)
                close (null);
        }
        //  Each extra descriptor to its place, through a copy above them all,
        //  so that none overwrites another that is still to move (dup2 also
        //  clears close-on-exec, which dup2 onto itself would not).
        int moved [OTP_SPAWN_EXTRA];
        for (int i = 0; i < OTP_SPAWN_EXTRA; i++) {
            moved [i] = opts->extra [i] > 2? fcntl (opts->extra [i], F_DUPFD_CLOEXEC,
                                                    3 + OTP_SPAWN_EXTRA): -1;
            if (opts->extra [i] > 2 && moved [i] < 0)
                s_fail_child (error_fd);
        }
        for (int i = 0; i < OTP_SPAWN_EXTRA; i++)
            if (moved [i] >= 0 && dup2 (moved [i], 3 + i) < 0)
                s_fail_child (error_fd);
        //  No environment (calloc failed): exec nothing rather than leak the cookie.
        if (!envp && !opts->keep_cookie)
            _exit (127);
        execvpe (opts->argv [0], opts->argv, envp? envp: environ);
        int err = errno;
        ssize_t n = write (error_fd, &err, sizeof err);
        (void) n;
        _exit (127);
    }
    free (envp);
    close (fds [1]);
    int err = 0;
    ssize_t n;
    do
        n = read (fds [0], &err, sizeof err);
    while (n < 0 && errno == EINTR);
    close (fds [0]);
    if (n == (ssize_t) sizeof err) {
        if (opts->cwd && err == ENOENT && access (opts->cwd, X_OK))
            snprintf (error, error_size, "cannot run %s in %s: %s", opts->argv [0], opts->cwd,
                      strerror (err));
        else
            snprintf (error, error_size, "cannot run %s: %s", opts->argv [0], strerror (err));
        return -1;      //  the child has exited with 127; SIGCHLD reaps it
    }
    return pid;
}
