/*  otp_signal - signals as events in the reactor, never as handlers.
    CZMQ installs its own SIGINT/SIGTERM handler on first use; we turn that
    off and block the signals we care about before any thread exists, so
    every thread inherits the mask and only the signalfd sees them.          */
#ifndef OTP_SIGNAL_H
#define OTP_SIGNAL_H

//  Call first in main(), before any CZMQ call. Returns a signalfd that
//  reports SIGTERM, SIGINT, SIGHUP and SIGCHLD; SIGPIPE is ignored.
int otp_signal_init (void);
//  For command-line tools: CZMQ's handler off and logs on stderr, but the
//  default signal actions kept, so that Ctrl-C and SIGTERM end the tool.
void otp_signal_cli (void);
//  Reads one pending signal from the fd; returns its number, or 0.
int otp_signal_read (int fd);
//  In a forked child, before exec: restore the default mask and handlers.
void otp_signal_child_reset (void);

#endif
