#include "otp_signal.h"
#include "otp_log.h"
#include <czmq.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

int
otp_signal_init (void)
{
    setenv ("ZSYS_SIGHANDLER", "false", 1);
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGTERM);
    sigaddset (&set, SIGINT);
    sigaddset (&set, SIGHUP);
    sigaddset (&set, SIGCHLD);
    if (sigprocmask (SIG_BLOCK, &set, NULL))
        otp_fatal ("cannot block signals");
    signal (SIGPIPE, SIG_IGN);
    int fd = signalfd (-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        otp_fatal ("cannot create a signalfd");
    zsys_handler_set (NULL);
    //  CZMQ logs to stdout by default; our stdout belongs to the command.
    zsys_set_logstream (stderr);
    return fd;
}

void
otp_signal_cli (void)
{
    setenv ("ZSYS_SIGHANDLER", "false", 1);
    signal (SIGPIPE, SIG_IGN);
    zsys_handler_set (NULL);
    zsys_set_logstream (stderr);
}

int
otp_signal_read (int fd)
{
    struct signalfd_siginfo info;
    ssize_t n = read (fd, &info, sizeof info);
    return n == (ssize_t) sizeof info? (int) info.ssi_signo: 0;
}

void
otp_signal_child_reset (void)
{
    sigset_t set;
    sigemptyset (&set);
    sigprocmask (SIG_SETMASK, &set, NULL);
    signal (SIGPIPE, SIG_DFL);
}
