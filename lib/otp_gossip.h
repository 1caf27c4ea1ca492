/*  otp_gossip - the gossip strategy's announcements: one UDP datagram that
    says "node NAME, instance I, is alive (or leaving) and listens at
    HOST:PORT", signed with a key derived from the cookie.

    libcluster's Gossip encrypts its heartbeats but does not authenticate
    them; ours carry a MAC, a timestamp and a per-sender sequence number, so
    that a party without the cookie cannot make nodes dial an address of its
    choosing, and a captured announcement sent again is refused. A datagram
    is checked in this order: size, magic and version, then the MAC over
    everything before it (constant time), and only then are its fields read.

    Layout (big-endian; docs/protocol.md has it byte by byte):
        "OTPG" version kind port timestamp sequence instance
        name-length name host-length host MAC                               */
#ifndef OTP_GOSSIP_H
#define OTP_GOSSIP_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "otp_name.h"

#define OTP_GOSSIP_VERSION      1
#define OTP_GOSSIP_KEY_SIZE     32      //  crypto_auth_KEYBYTES
#define OTP_GOSSIP_MAC_SIZE     32      //  crypto_auth_BYTES
#define OTP_GOSSIP_MIN          78      //  the shortest: name "a@b", host "b"
#define OTP_GOSSIP_MAX          (74 + OTP_NODE_MAX + OTP_HOST_MAX)     //  582
#define OTP_GOSSIP_WINDOW_MS    30000   //  a timestamp further than this from ours is refused

//  libcluster's defaults (its interval is 5 s; ours is 1 s).
#define OTP_GOSSIP_GROUP        "233.252.1.32"
#define OTP_GOSSIP_PORT         45892

typedef enum {
    OTP_GOSSIP_ALIVE = 1,       //  "dial me"
    OTP_GOSSIP_LEAVE = 2        //  "I am going: do not dial me again"
} otp_gossip_kind_t;

//  What otp_gossip_decode says about a datagram.
typedef enum {
    OTP_GOSSIP_OK = 0,
    OTP_GOSSIP_UNSIGNED = -1,   //  wrong size, magic, version or MAC: not read further
    OTP_GOSSIP_INVALID = -2     //  signed, but its fields do not parse
} otp_gossip_status_t;

typedef struct {
    int kind;                           //  otp_gossip_kind_t
    char node [OTP_NODE_MAX + 1];       //  name@host
    char host [OTP_HOST_MAX + 1];       //  the address to dial
    int port;
    char instance [33];                 //  32 lowercase hex digits
    uint64_t timestamp;                 //  ms since the epoch, the sender's clock
    uint64_t sequence;                  //  1, 2, ... per sender instance
} otp_gossip_t;

//  The MAC key: a subkey of the cluster's master key (otp_kdf), for the
//  purpose "otp-labs/gossip/v2", unrelated to the CURVE keys. A captured
//  datagram tests a guessed cookie at the price of one Argon2id.
void otp_gossip_key (uint8_t key [OTP_GOSSIP_KEY_SIZE], const char *cookie);

//  Writes the signed datagram into `buffer` (OTP_GOSSIP_MAX bytes suffice).
//  Returns its size, or -1 if a field cannot be sent (a bad name, host,
//  port or instance).
int otp_gossip_encode (const otp_gossip_t *self, const uint8_t key [OTP_GOSSIP_KEY_SIZE],
                       uint8_t *buffer, size_t size);

//  Checks and reads a datagram; fills `self` only on OTP_GOSSIP_OK.
otp_gossip_status_t otp_gossip_decode (const uint8_t *data, size_t size,
                                       const uint8_t key [OTP_GOSSIP_KEY_SIZE],
                                       otp_gossip_t *self);

//  The replay guard: what was last accepted from each node name. An
//  announcement is fresh when its timestamp is within `window_ms` of `now`
//  and, for a name already heard, either its instance is the one heard and
//  its sequence number is greater, or its instance is another and its
//  timestamp is later than the last one accepted (a restart; an older
//  instance's capture is refused). Entries not refreshed for twice the
//  window are forgotten: by then a capture of them is outside the window.
typedef struct _otp_gossip_guard_t otp_gossip_guard_t;

otp_gossip_guard_t *otp_gossip_guard_new (int window_ms);
void otp_gossip_guard_destroy (otp_gossip_guard_t **self_p);
//  Returns true, and records it, if `msg` is fresh at wall-clock `now` (ms).
bool otp_gossip_guard_accept (otp_gossip_guard_t *self, const otp_gossip_t *msg, uint64_t now);
//  Forgets entries not refreshed for twice the window.
void otp_gossip_guard_expire (otp_gossip_guard_t *self, uint64_t now);
size_t otp_gossip_guard_size (otp_gossip_guard_t *self);

//  Sockets. A receiver binds `port` with SO_REUSEADDR and SO_REUSEPORT (so
//  that every node of a host, and a test tool, can share it) and, for
//  multicast, binds the group's address and joins the group on interface
//  `iface` ("" or NULL: any). A sender sends from `iface` (port 0) with
//  `ttl`, loopback on (nodes of one host hear each other), and
//  SO_BROADCAST when `address` is not a multicast group. Both are
//  non-blocking and close-on-exec. They return the descriptor, or -1 with
//  a one-line reason in `error`.
int otp_gossip_receiver (const char *address, int port, const char *iface,
                         char *error, size_t error_size);
int otp_gossip_sender (const char *address, const char *iface, int ttl,
                       char *error, size_t error_size);
//  True if `address` is a dotted IPv4 multicast group (224.0.0.0/4).
bool otp_gossip_is_multicast (const char *address);

void otp_gossip_test (void);

#endif
