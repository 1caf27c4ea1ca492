#include "otp_kdf.h"
#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SALT_CONTEXT "otp-labs/kdf/v2"

const char *
otp_kdf_cluster (void)
{
    const char *name = getenv ("OTP_CLUSTER_NAME");
    return name && *name? name: OTP_CLUSTER_NAME_DEFAULT;
}

int
otp_kdf_derive (uint8_t key [OTP_KDF_KEY_SIZE], const char *cookie, const char *cluster)
{
    if (sodium_init () < 0)
        return -1;
    //  Argon2id wants a salt of exactly crypto_pwhash_SALTBYTES; the name
    //  may be any length, so the salt is its hash.
    uint8_t salt [crypto_pwhash_SALTBYTES];
    crypto_generichash (salt, sizeof salt, (const unsigned char *) cluster, strlen (cluster),
                        (const unsigned char *) SALT_CONTEXT, strlen (SALT_CONTEXT));
    return crypto_pwhash (key, OTP_KDF_KEY_SIZE, cookie, strlen (cookie), salt,
                          OTP_KDF_OPSLIMIT, OTP_KDF_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13) == 0? 0: -1;
}

//  The last derivation: a hash of what it was made from (not the cookie
//  itself, which stays with its caller) and the key. A node derives its
//  CURVE pair and its gossip key, a client may connect many times.
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t s_from [32];
static uint8_t s_key [OTP_KDF_KEY_SIZE];
static bool s_have;

int
otp_kdf_master (uint8_t key [OTP_KDF_KEY_SIZE], const char *cookie)
{
    if (sodium_init () < 0)
        return -1;
    const char *cluster = otp_kdf_cluster ();
    uint8_t from [32];
    crypto_generichash_state state;
    crypto_generichash_init (&state, NULL, 0, sizeof from);
    crypto_generichash_update (&state, (const unsigned char *) cookie, strlen (cookie) + 1);
    crypto_generichash_update (&state, (const unsigned char *) cluster, strlen (cluster) + 1);
    crypto_generichash_final (&state, from, sizeof from);

    pthread_mutex_lock (&s_lock);
    int rc = 0;
    if (!s_have || sodium_memcmp (from, s_from, sizeof from) != 0) {
        rc = otp_kdf_derive (s_key, cookie, cluster);
        s_have = rc == 0;
        memcpy (s_from, from, sizeof from);
    }
    if (rc == 0)
        memcpy (key, s_key, OTP_KDF_KEY_SIZE);
    pthread_mutex_unlock (&s_lock);
    sodium_memzero (from, sizeof from);
    return rc;
}

void
otp_kdf_subkey (uint8_t *out, size_t size, const uint8_t master [OTP_KDF_KEY_SIZE],
                const char *purpose)
{
    crypto_generichash (out, size, (const unsigned char *) purpose, strlen (purpose),
                        master, OTP_KDF_KEY_SIZE);
}

void
otp_kdf_test (void)
{
    uint8_t a [OTP_KDF_KEY_SIZE], b [OTP_KDF_KEY_SIZE], c [OTP_KDF_KEY_SIZE];
    assert (otp_kdf_derive (a, "alpha-cookie-0123456789", "one") == 0);
    assert (otp_kdf_derive (b, "alpha-cookie-0123456789", "one") == 0);
    assert (memcmp (a, b, sizeof a) == 0);
    //  Another cluster name, or another cookie: another key.
    assert (otp_kdf_derive (c, "alpha-cookie-0123456789", "two") == 0);
    assert (memcmp (a, c, sizeof a) != 0);
    assert (otp_kdf_derive (c, "alpha-cookie-0123456780", "one") == 0);
    assert (memcmp (a, c, sizeof a) != 0);

    //  The cached key is the derivation for OTP_CLUSTER_NAME, and follows
    //  a change of cookie or of name.
    char *old = getenv ("OTP_CLUSTER_NAME")? strdup (getenv ("OTP_CLUSTER_NAME")): NULL;
    setenv ("OTP_CLUSTER_NAME", "one", 1);
    assert (otp_kdf_master (b, "alpha-cookie-0123456789") == 0);
    assert (memcmp (a, b, sizeof a) == 0);
    assert (otp_kdf_master (b, "alpha-cookie-0123456780") == 0);
    assert (memcmp (b, c, sizeof b) == 0);
    setenv ("OTP_CLUSTER_NAME", "two", 1);
    assert (otp_kdf_master (b, "alpha-cookie-0123456789") == 0);
    assert (memcmp (a, b, sizeof a) != 0);
    unsetenv ("OTP_CLUSTER_NAME");
    assert (strcmp (otp_kdf_cluster (), OTP_CLUSTER_NAME_DEFAULT) == 0);
    if (old) {
        setenv ("OTP_CLUSTER_NAME", old, 1);
        free (old);
    }

    //  Subkeys differ by purpose.
    otp_kdf_subkey (b, sizeof b, a, "curve");
    otp_kdf_subkey (c, sizeof c, a, "gossip");
    assert (memcmp (b, c, sizeof b) != 0);
}
