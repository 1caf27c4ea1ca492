#include "otp_auth.h"
#include "otp_log.h"
#include <assert.h>
#include <sodium.h>

#include "otp_kdf.h"

struct _otp_zap_t {
    zsock_t *handler;
    uint8_t allowed [32];
    uint64_t rejected;
    int64_t warned;
};

void
otp_keys_from_cookie (otp_keys_t *keys, const char *cookie)
{
    //  Called at start (a node, a client's first connection): this is the
    //  only place the key pair is made, so a failure here is a start-up one.
    uint8_t master [OTP_KDF_KEY_SIZE];
    if (otp_kdf_master (master, cookie))
        otp_fatal ("cannot derive the cluster's keys (Argon2id needs %u MiB)", OTP_KDF_MEMLIMIT >> 20);
    otp_kdf_subkey (keys->secret_key, sizeof keys->secret_key, master, "otp-labs/curve/v2");
    sodium_memzero (master, sizeof master);
    crypto_scalarmult_base (keys->public_key, keys->secret_key);
}

void
otp_auth_server (zsock_t *sock, const otp_keys_t *keys)
{
    zsock_set_curve_server (sock, 1);
    zsock_set_curve_secretkey_bin (sock, keys->secret_key);
    zsock_set_curve_publickey_bin (sock, keys->public_key);
    zsock_set_zap_domain (sock, "otp");
}

void
otp_auth_client (zsock_t *sock, const otp_keys_t *keys)
{
    zsock_set_curve_serverkey_bin (sock, keys->public_key);
    zsock_set_curve_publickey_bin (sock, keys->public_key);
    zsock_set_curve_secretkey_bin (sock, keys->secret_key);
}

otp_zap_t *
otp_zap_new (const otp_keys_t *keys)
{
    otp_zap_t *self = (otp_zap_t *) zmalloc (sizeof (otp_zap_t));
    assert (self);
    memcpy (self->allowed, keys->public_key, sizeof self->allowed);
    self->handler = zsock_new (ZMQ_REP);
    assert (self->handler);
    if (zsock_bind (self->handler, "inproc://zeromq.zap.01") != 0)
        otp_fatal ("cannot bind the ZAP handler: %s", zmq_strerror (zmq_errno ()));
    return self;
}

void
otp_zap_destroy (otp_zap_t **self_p)
{
    if (*self_p) {
        zsock_destroy (&(*self_p)->handler);
        free (*self_p);
        *self_p = NULL;
    }
}

zsock_t *
otp_zap_socket (otp_zap_t *self)
{
    return self->handler;
}

uint64_t
otp_zap_rejected (otp_zap_t *self)
{
    return self->rejected;
}

void
otp_zap_handle (otp_zap_t *self)
{
    //  RFC 27: version, request id, domain, address, identity, mechanism,
    //  then the mechanism's credentials (for CURVE, the client's public key).
    zmsg_t *request = zmsg_recv (self->handler);
    if (!request)
        return;
    char *version = zmsg_popstr (request);
    zframe_t *request_id = zmsg_pop (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    char *identity = zmsg_popstr (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *key = zmsg_pop (request);

    bool ok = mechanism && streq (mechanism, "CURVE") && key
           && zframe_size (key) == 32
           && sodium_memcmp (zframe_data (key), self->allowed, 32) == 0;
    if (!ok) {
        self->rejected++;
        if (otp_log_ratelimit (&self->warned, 10000))
            otp_warn ("refused a connection from %s: its key is not this cluster's",
                  address? address: "?");
    }
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    if (request_id)
        zmsg_append (reply, &request_id);
    else
        zmsg_addstr (reply, "");
    zmsg_addstr (reply, ok? "200": "400");
    zmsg_addstr (reply, ok? "OK": "not a member of this cluster");
    zmsg_addstr (reply, "");
    zmsg_addstr (reply, "");
    zmsg_send (&reply, self->handler);

    zframe_destroy (&key);
    zstr_free (&version);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&identity);
    zstr_free (&mechanism);
    zmsg_destroy (&request);
}

void
otp_auth_test (void)
{
    otp_keys_t a, b, c;
    otp_keys_from_cookie (&a, "alpha");
    otp_keys_from_cookie (&b, "alpha");
    otp_keys_from_cookie (&c, "beta");
    assert (memcmp (&a, &b, sizeof a) == 0);
    assert (memcmp (a.public_key, c.public_key, 32) != 0);

    //  A round trip through a real CURVE handshake and the ZAP handler.
    otp_zap_t *zap = otp_zap_new (&a);
    zsock_t *server = zsock_new (ZMQ_ROUTER);
    otp_auth_server (server, &a);
    int port = zsock_bind (server, "tcp://127.0.0.1:*");
    assert (port > 0);
    zpoller_t *poller = zpoller_new (otp_zap_socket (zap), server, NULL);

    zsock_t *good = zsock_new (ZMQ_DEALER);
    otp_auth_client (good, &b);
    zsock_connect (good, "tcp://127.0.0.1:%d", port);
    zstr_send (good, "hello");
    bool delivered = false;
    for (int i = 0; i < 20 && !delivered; i++) {
        void *which = zpoller_wait (poller, 250);
        if (which == otp_zap_socket (zap))
            otp_zap_handle (zap);
        else
        if (which == server) {
            zmsg_t *msg = zmsg_recv (server);
            zmsg_destroy (&msg);
            delivered = true;
        }
    }
    assert (delivered);
    zsock_destroy (&good);

    zsock_t *bad = zsock_new (ZMQ_DEALER);
    otp_auth_client (bad, &c);
    zsock_connect (bad, "tcp://127.0.0.1:%d", port);
    zstr_send (bad, "hello");
    for (int i = 0; i < 4; i++) {
        void *which = zpoller_wait (poller, 100);
        assert (which != server);
        if (which == otp_zap_socket (zap))
            otp_zap_handle (zap);
    }
    zsock_destroy (&bad);

    //  Knowing the public key but not the secret: ZAP refuses it.
    zcert_t *stranger = zcert_new ();
    zsock_t *spy = zsock_new (ZMQ_DEALER);
    zcert_apply (stranger, spy);
    zsock_set_curve_serverkey_bin (spy, a.public_key);
    zsock_connect (spy, "tcp://127.0.0.1:%d", port);
    zstr_send (spy, "hello");
    for (int i = 0; i < 4; i++) {
        void *which = zpoller_wait (poller, 100);
        assert (which != server);
        if (which == otp_zap_socket (zap))
            otp_zap_handle (zap);
    }
    assert (otp_zap_rejected (zap) >= 1);
    zsock_destroy (&spy);
    zcert_destroy (&stranger);
    zpoller_destroy (&poller);
    zsock_destroy (&server);
    otp_zap_destroy (&zap);
}
