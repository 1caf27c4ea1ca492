/*  otp_kdf - the cluster's master key, derived from the cookie once per
    process with Argon2id (libsodium's crypto_pwhash), salted by the
    cluster's name.

    Every key on the wire (the CURVE key pair, the gossip MAC key) comes from
    this master key, never from the cookie directly: whoever captures a
    datagram or a handshake and guesses cookies offline pays one Argon2id
    (19 MiB, 2 passes: OWASP's minimum for passwords) per guess instead of
    one BLAKE2b. The salt is the cluster's name (OTP_CLUSTER_NAME, default
    "otp-labs"), so one dictionary of precomputed keys serves one cluster
    name only, and two clusters that share a cookie by mistake but not a name
    cannot talk.                                                             */
#ifndef OTP_KDF_H
#define OTP_KDF_H

#include <stddef.h>
#include <stdint.h>

#define OTP_KDF_KEY_SIZE    32
#define OTP_KDF_OPSLIMIT    2
#define OTP_KDF_MEMLIMIT    (19u << 20)
#define OTP_CLUSTER_NAME_DEFAULT "otp-labs"

//  The master key for `cookie` in the cluster named by OTP_CLUSTER_NAME.
//  Computed once: later calls with the same cookie return the same key at
//  once. Returns 0, or -1 if the derivation's memory could not be had.
int otp_kdf_master (uint8_t key [OTP_KDF_KEY_SIZE], const char *cookie);

//  The same derivation for an explicit cluster name, never cached (the
//  benchmark and the self-test time and compare it).
int otp_kdf_derive (uint8_t key [OTP_KDF_KEY_SIZE], const char *cookie, const char *cluster);

//  A subkey for one purpose ("curve", "gossip"), from the master key.
void otp_kdf_subkey (uint8_t *out, size_t size, const uint8_t master [OTP_KDF_KEY_SIZE],
                     const char *purpose);

//  The cluster's name: OTP_CLUSTER_NAME, or the default.
const char *otp_kdf_cluster (void);

void otp_kdf_test (void);

#endif
