/*  otp_limits - descriptors and sockets, counted before they are taken.

    libzmq needs a descriptor for every socket (its mailbox) and every
    connection, and CZMQ asserts when zmq_socket fails: a daemon that runs
    out of either must notice first, refuse the new work, and keep what it
    has. These are the counts it asks before it creates a socket.           */
#ifndef OTP_LIMITS_H
#define OTP_LIMITS_H

#include <stdbool.h>

//  Descriptors kept free for clients, the port mapper, HTTP and commands:
//  a daemon stops taking peers when fewer than this would be left.
#define OTP_FD_RESERVE 48

//  Raises the soft limit on open files to the hard limit, and CZMQ's
//  socket limit (1024 by default) to match it. Call once, before the first
//  CZMQ socket and after any fork into the background.
void otp_limits_raise (void);

//  The soft limit on open files.
int otp_limits_fd_max (void);

//  Descriptors open now (counted in /proc/self/fd, at most once per 20 ms;
//  `otp_limits_took` adds to the count in between).
int otp_limits_fd_used (void);

//  Records that `count` descriptors were just taken, without waiting for
//  the next count: a burst of dials between two counts must not overrun
//  the limit. Nothing is given back this way: libzmq closes a socket's
//  descriptors later, in its own thread, and the next count sees it.
void otp_limits_took (int count);

//  True if `count` more descriptors can be taken and OTP_FD_RESERVE still
//  be left.
bool otp_limits_fd_room (int count);

void otp_limits_test (void);

#endif
