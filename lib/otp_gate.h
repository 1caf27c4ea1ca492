/*  otp_gate - a bound on connections that were accepted but have not yet
    proved anything: a CURVE handshake that never ends costs the server a
    descriptor and ~14 KiB for libzmq's whole handshake interval, and an
    unauthenticated party can open thousands a second.

    The daemon tells the gate of each connection its socket accepts (the
    monitor's ACCEPTED event names the descriptor) and of each that settles
    (its first message arrived: the handshake passed) or closes. Over a
    bound - in total, or from one source address - the gate sheds the
    oldest unsettled connection (of that address, or of all): a real peer
    finishes its handshake in milliseconds, an attacker's connection
    lingers, so the oldest is the attacker's by far the most often, and a
    newcomer always gets its chance.

    Shedding is shutdown(2) of the descriptor, which libzmq's I/O thread
    owns: it reads end-of-file, closes the connection properly and frees
    its buffers. Before that the gate checks that the descriptor is still
    the connection it recorded (same local and remote address and port),
    so a number that libzmq has closed and reused is never touched.        */
#ifndef OTP_GATE_H
#define OTP_GATE_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _otp_gate_t otp_gate_t;

//  At most `max_total` unsettled connections, `max_per_address` of them
//  from one source address.
otp_gate_t *otp_gate_new (size_t max_total, size_t max_per_address);
void otp_gate_destroy (otp_gate_t **self_p);

//  Connection `fd` was accepted. Returns how many connections it shed.
size_t otp_gate_accepted (otp_gate_t *self, int fd);
//  Connection `fd` spoke, or closed: it is no longer unsettled. Cheap when
//  nothing is pending (it is called for every message).
void otp_gate_settled (otp_gate_t *self, int fd);

size_t otp_gate_pending (otp_gate_t *self);
uint64_t otp_gate_shed (otp_gate_t *self);

void otp_gate_test (void);

#endif
