/*  otp_auth - CURVE keys derived from the cookie, and the ZAP handler that
    admits only clients holding them.

    Every member of a cluster derives the same long-term key pair from the
    cookie. A client that does not hold the cookie cannot build the server's
    public key, so its handshake fails; the ZAP handler then also refuses any
    client whose long-term key is not the cookie's, so knowing the public key
    alone (it may leak: it is "public") is not enough to connect.           */
#ifndef OTP_AUTH_H
#define OTP_AUTH_H

#include <czmq.h>
#include <stdint.h>

typedef struct {
    uint8_t public_key [32];
    uint8_t secret_key [32];
} otp_keys_t;

//  Derives the cluster key pair from the cookie (otp_kdf: Argon2id once, then
//  BLAKE2b keyed by purpose). Exits at once if the derivation fails.
void otp_keys_from_cookie (otp_keys_t *keys, const char *cookie);
//  Makes `sock` a CURVE server with the cluster keys.
void otp_auth_server (zsock_t *sock, const otp_keys_t *keys);
//  Makes `sock` a CURVE client of a cluster server.
void otp_auth_client (zsock_t *sock, const otp_keys_t *keys);

//  The ZAP handler: one per process that runs CURVE servers, bound before
//  any of them binds. Read `otp_zap_socket` from the process's loop and call
//  `otp_zap_handle` when it is readable.
typedef struct _otp_zap_t otp_zap_t;
otp_zap_t *otp_zap_new (const otp_keys_t *keys);
void otp_zap_destroy (otp_zap_t **self_p);
zsock_t *otp_zap_socket (otp_zap_t *self);
void otp_zap_handle (otp_zap_t *self);
uint64_t otp_zap_rejected (otp_zap_t *self);

void otp_auth_test (void);

#endif
