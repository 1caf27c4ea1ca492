#include "otp_spawn.h"
#include "otp_signal.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/close_range.h>

pid_t
otp_spawn (const otp_spawn_opts_t *opts, char *error, size_t error_size)
{
    int fds [2];
    if (pipe2 (fds, O_CLOEXEC)) {
        snprintf (error, error_size, "pipe: %s", strerror (errno));
        return -1;
    }
    pid_t pid = fork ();
    if (pid < 0) {
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
        execvp (opts->argv [0], opts->argv);
        int err = errno;
        ssize_t n = write (fds [1], &err, sizeof err);
        (void) n;
        _exit (127);
    }
    close (fds [1]);
    int err = 0;
    ssize_t n;
    do
        n = read (fds [0], &err, sizeof err);
    while (n < 0 && errno == EINTR);
    close (fds [0]);
    if (n == (ssize_t) sizeof err) {
        snprintf (error, error_size, "cannot run %s: %s", opts->argv [0], strerror (err));
        return -1;      //  the child has exited with 127; SIGCHLD reaps it
    }
    return pid;
}
