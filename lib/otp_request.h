/*  otp_request - one request, one reply, with a deadline.
    Used by the command-line tool and at start-up, where blocking is fine;
    daemons in their loop never call it.                                     */
#ifndef OTP_REQUEST_H
#define OTP_REQUEST_H

#include <czmq.h>

//  Sends `*request` (destroyed) on a DEALER and waits up to `timeout_ms` for
//  one reply. Returns it, or NULL on timeout.
zmsg_t *otp_request (zsock_t *dealer, zmsg_t **request, int timeout_ms);
//  One request to the port mapper at host:port, over a fresh connection.
zmsg_t *otp_epmd_request (const char *host, int port, zmsg_t **request, int timeout_ms);
//  Asks the port mapper on `host` for the port of `name`. Returns the port,
//  0 if the name is not registered, -1 if the port mapper did not answer.
int otp_epmd_port (const char *host, int epmd_port, const char *name, int timeout_ms);

#endif
