/*  libFuzzer target for otp-epmd's ZMTP codec (lib/otp_zmtp.c), which
    parses every byte an unauthenticated peer sends. The input, after a
    valid client greeting and READY (or as it came, every other run), is
    fed once whole and once in pieces whose sizes come from the input; both
    must give the same messages and the same verdict. Every message must be
    within the bounds, and must come back the same from otp_zmtp_encode
    fed to a fresh codec. Run with `make fuzz`.                            */
#include "otp.h"

#define MAX_FRAMES 8
#define MAX_FRAME 64
#define MAX_PENDING 4

static const byte s_greeting [64] = {
    0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1, 'N', 'U', 'L', 'L'
};
static const byte s_ready [] = "\x04\x1c\x05READY\x0bSocket-Type\0\0\0\x06" "DEALER";

//  Feeds `data` in pieces of `step` bytes (0: at once); collects the
//  messages into `out`. Returns the feed's verdict.
static int
s_run (const byte *data, size_t size, bool greet, size_t step, size_t max_pending,
       zlist_t *out)
{
    otp_zmtp_t *codec = otp_zmtp_new (MAX_FRAMES, MAX_FRAME, max_pending);
    if (greet) {
        assert (otp_zmtp_feed (codec, s_greeting, sizeof s_greeting) == 0);
        assert (otp_zmtp_feed (codec, s_ready, sizeof s_ready - 1) == 0);
        assert (otp_zmtp_ready (codec));
    }
    int rc = 0;
    size_t at = 0;
    while (at < size && rc == 0) {
        size_t take = step && step < size - at? step: size - at;
        rc = otp_zmtp_feed (codec, data + at, take);
        at += take;
        //  Taken after each feed, as otp-epmd does.
        size_t pending = 0;
        zmsg_t *msg;
        while ((msg = otp_zmtp_recv (codec))) {
            if (++pending > max_pending || zmsg_size (msg) > MAX_FRAMES)
                abort ();
            for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg))
                if (zframe_size (frame) > MAX_FRAME)
                    abort ();
            zlist_append (out, msg);
        }
        zchunk_t *output = otp_zmtp_output (codec);
        zchunk_destroy (&output);
    }
    if (rc == 0 && *otp_zmtp_reason (codec))
        abort ();
    if (rc && (!*otp_zmtp_reason (codec) || otp_zmtp_feed (codec, s_ready, 1) != -1))
        abort ();       //  a failed codec says why, and stays failed
    otp_zmtp_destroy (&codec);
    return rc;
}

static void
s_purge (zlist_t *list)
{
    zmsg_t *msg;
    while ((msg = (zmsg_t *) zlist_pop (list)))
        zmsg_destroy (&msg);
}

static bool
s_same (zmsg_t *a, zmsg_t *b)
{
    if (zmsg_size (a) != zmsg_size (b))
        return false;
    for (zframe_t *x = zmsg_first (a), *y = zmsg_first (b); x; x = zmsg_next (a), y = zmsg_next (b))
        if (!zframe_eq (x, y))
            return false;
    return true;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static bool ready = false;
    if (!ready) {
        zsys_handler_set (NULL);
        ready = true;
    }
    if (size < 1)
        return 0;
    bool greet = (data [0] & 1) == 0;
    size_t step = (size_t) (data [0] >> 1) % 17;
    data++, size--;
    zlist_t *whole = zlist_new (), *pieces = zlist_new ();
    //  With the bound on pending requests out of the way (it depends on
    //  how the bytes were cut, by design), how the input is cut changes
    //  nothing: the same verdict, the same messages.
    int rc_whole = s_run (data, size, greet, 0, size + 1, whole);
    int rc_pieces = s_run (data, size, greet, step? step: 1, size + 1, pieces);
    if (rc_whole != rc_pieces || zlist_size (whole) != zlist_size (pieces))
        abort ();
    //  And with it, at most MAX_PENDING per feed (checked in s_run).
    zlist_t *bounded = zlist_new ();
    s_run (data, size, greet, step, MAX_PENDING, bounded);
    s_purge (bounded);
    zlist_destroy (&bounded);
    for (zmsg_t *a = (zmsg_t *) zlist_first (whole), *b = (zmsg_t *) zlist_first (pieces); a;
         a = (zmsg_t *) zlist_next (whole), b = (zmsg_t *) zlist_next (pieces))
        if (!s_same (a, b))
            abort ();
    //  What we encode, we parse back the same.
    for (zmsg_t *msg = (zmsg_t *) zlist_first (pieces); msg; msg = (zmsg_t *) zlist_next (pieces)) {
        zchunk_t *wire = otp_zmtp_encode (msg);
        zlist_t *again = zlist_new ();
        if (s_run (zchunk_data (wire), zchunk_size (wire), true, 0, 1, again) != 0
        ||  zlist_size (again) != 1 || !s_same (msg, (zmsg_t *) zlist_first (again)))
            abort ();
        s_purge (again);
        zlist_destroy (&again);
        zchunk_destroy (&wire);
    }
    s_purge (whole);
    s_purge (pieces);
    zlist_destroy (&whole);
    zlist_destroy (&pieces);
    return 0;
}
