/*  otp_zmtp - a small, bounded ZMTP 3.x server codec for the NULL
    mechanism, as a ROUTER socket speaks it to DEALER clients: otp-epmd
    runs on a ZMQ_STREAM socket and parses the bytes of each connection
    itself, so that no peer can make it hold more than a few frames of a
    few KiB (libzmq's ROUTER buffers a whole multipart message, of any
    number of frames, before its reader sees any of it).

    Per connection: send otp_zmtp_hello first (our greeting and READY,
    Socket-Type ROUTER), then feed the codec the bytes that arrive; it
    answers PING (PONG) by queueing bytes (otp_zmtp_output), and hands back each
    complete message (otp_zmtp_recv). Anything malformed or over a bound
    makes otp_zmtp_feed return -1 (otp_zmtp_reason says why): the caller
    closes the connection. Bounds: a frame's size, a message's frame count,
    the messages completed by one feed. docs/protocol.md, "Port mapper".   */
#ifndef OTP_ZMTP_H
#define OTP_ZMTP_H

#include <czmq.h>

typedef struct _otp_zmtp_t otp_zmtp_t;

//  A codec for one new connection. max_frames: frames in one message;
//  max_frame: bytes in one message frame; max_pending: messages one feed
//  may complete before they are taken.
otp_zmtp_t *otp_zmtp_new (size_t max_frames, size_t max_frame, size_t max_pending);
void otp_zmtp_destroy (otp_zmtp_t **self_p);

//  Our greeting (64 bytes) and READY command, static: send them the moment
//  a connection opens.
const byte *otp_zmtp_hello (size_t *size);
//  Feeds `size` bytes that arrived. Returns 0, or -1 if the peer broke the
//  protocol or a bound: close the connection. A codec that failed stays
//  failed.
int otp_zmtp_feed (otp_zmtp_t *self, const byte *data, size_t size);
//  Why the feed failed (one line), or "".
const char *otp_zmtp_reason (otp_zmtp_t *self);
//  The bytes to send the peer (PONG), or NULL; the caller destroys it.
zchunk_t *otp_zmtp_output (otp_zmtp_t *self);
//  The next complete message fed, or NULL; the caller destroys it.
zmsg_t *otp_zmtp_recv (otp_zmtp_t *self);
//  True once the peer's greeting and READY came.
bool otp_zmtp_ready (otp_zmtp_t *self);
//  `msg` as ZMTP message frames, to send a peer; the caller destroys it.
zchunk_t *otp_zmtp_encode (zmsg_t *msg);

void otp_zmtp_test (void);

#endif
