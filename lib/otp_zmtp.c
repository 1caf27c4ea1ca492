/*  otp_zmtp - see otp_zmtp.h. The wire format is ZMTP 3.1 (rfc.zeromq.org
    spec 37) with the NULL mechanism: a 64-byte greeting each way, one
    READY command each way, then frames of one flags byte, a 1- or 8-byte
    size and the body. We parse one byte range at a time and keep only the
    frame being read (under its bound) and the frames of the message being
    assembled (under their count), never a whole stream.                  */
#include "otp_zmtp.h"
#include <assert.h>

#define GREETING_SIZE 64
#define FLAG_MORE    0x01
#define FLAG_LONG    0x02
#define FLAG_COMMAND 0x04
#define COMMAND_MAX  512        //  READY, PING: a few short properties
#define HELLO_READY_SIZE (2 + 6 + 12 + 4 + 6)   //  our READY command frame

typedef enum { S_GREETING, S_HEADER, S_SIZE, S_BODY } state_t;

typedef struct {
    byte *data;
    size_t size, cap;
} buffer_t;

struct _otp_zmtp_t {
    size_t max_frames, max_frame, max_pending;
    state_t state;
    byte greeting [GREETING_SIZE];
    size_t have;                //  bytes of the greeting, size or body read
    byte flags;
    byte size_bytes [8];
    size_t size_len;            //  1 or 8
    size_t body_size;
    byte *body;                 //  the frame being read
    bool ready;                 //  the peer's READY came
    zmsg_t *message;            //  frames of the message being assembled
    zlist_t *messages;          //  complete messages, for otp_zmtp_recv
    buffer_t output;            //  PONG
    char reason [128];
};

static void
s_put (buffer_t *buffer, const void *data, size_t size)
{
    if (buffer->size + size > buffer->cap) {
        size_t cap = buffer->cap? buffer->cap: 256;
        while (cap < buffer->size + size)
            cap *= 2;
        buffer->data = (byte *) realloc (buffer->data, cap);
        assert (buffer->data);      //  out of memory: as CZMQ does
        buffer->cap = cap;
    }
    if (size)
        memcpy (buffer->data + buffer->size, data, size);
    buffer->size += size;
}

static void
s_put_frame (buffer_t *buffer, byte flags, const void *data, size_t size)
{
    if (size > 255) {
        byte header [9] = { (byte) (flags | FLAG_LONG) };
        for (int i = 0; i < 8; i++)
            header [1 + i] = (byte) ((uint64_t) size >> (56 - 8 * i));
        s_put (buffer, header, sizeof header);
    }
    else {
        byte header [2] = { flags, (byte) size };
        s_put (buffer, header, sizeof header);
    }
    s_put (buffer, data, size);
}

otp_zmtp_t *
otp_zmtp_new (size_t max_frames, size_t max_frame, size_t max_pending)
{
    otp_zmtp_t *self = (otp_zmtp_t *) zmalloc (sizeof (otp_zmtp_t));
    self->max_frames = max_frames;
    self->max_frame = max_frame;
    self->max_pending = max_pending;
    self->messages = zlist_new ();
    return self;
}

void
otp_zmtp_destroy (otp_zmtp_t **self_p)
{
    otp_zmtp_t *self = *self_p;
    if (!self)
        return;
    free (self->body);
    zmsg_destroy (&self->message);
    zmsg_t *msg;
    while ((msg = (zmsg_t *) zlist_pop (self->messages)))
        zmsg_destroy (&msg);
    zlist_destroy (&self->messages);
    free (self->output.data);
    free (self);
    *self_p = NULL;
}

const byte *
otp_zmtp_hello (size_t *size)
{
    //  Signature, version 3.1, mechanism NULL, as-server; then our READY
    //  (Socket-Type ROUTER), which NULL lets us send before the peer's.
    //  All at once: libzmq sends its own greeting in two steps (the
    //  signature, then the rest once it has seen our version byte), and
    //  reads ours, then our READY, as they come.
    static const byte hello [GREETING_SIZE + HELLO_READY_SIZE] = {
        0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1, 'N', 'U', 'L', 'L',
        [32] = 1,
        [GREETING_SIZE] = FLAG_COMMAND, HELLO_READY_SIZE - 2,
        5, 'R', 'E', 'A', 'D', 'Y',
        11, 'S', 'o', 'c', 'k', 'e', 't', '-', 'T', 'y', 'p', 'e',
        0, 0, 0, 6, 'R', 'O', 'U', 'T', 'E', 'R'
    };
    *size = sizeof hello;
    return hello;
}

static int
s_fail (otp_zmtp_t *self, const char *reason)
{
    snprintf (self->reason, sizeof self->reason, "%s", reason);
    return -1;
}

static int
s_check_greeting (otp_zmtp_t *self)
{
    //  Checked as each part comes in, so that garbage (an HTTP request, a
    //  ZMTP 1.0/2.0 peer) is cut at its first bytes.
    const byte *g = self->greeting;
    if (self->have >= 1 && g [0] != 0xFF)
        return s_fail (self, "not a ZMTP greeting");
    if (self->have >= 10 && g [9] != 0x7F)
        return s_fail (self, "not a ZMTP greeting");
    if (self->have >= 11 && g [10] < 3)
        return s_fail (self, "ZMTP version before 3.0");
    if (self->have == GREETING_SIZE) {
        static const byte null_mechanism [20] = "NULL";
        if (memcmp (g + 12, null_mechanism, sizeof null_mechanism))
            return s_fail (self, "mechanism is not NULL");
        if (g [32] != 0)
            return s_fail (self, "peer claims to be a server");
    }
    return 0;
}

//  READY: name "READY", then properties: name-size (1), name, value-size
//  (4, network order), value. We need Socket-Type DEALER: the only client
//  of otp-epmd (a REQ would need an envelope we do not keep).
static int
s_on_ready (otp_zmtp_t *self, const byte *body, size_t size)
{
    if (size < 6 || body [0] != 5 || memcmp (body + 1, "READY", 5))
        return s_fail (self, "expected READY");
    size_t at = 6;
    bool typed = false;
    while (at < size) {
        size_t name_len = body [at++];
        if (name_len == 0 || name_len + 4 > size - at)
            return s_fail (self, "malformed READY property");
        const byte *name = body + at;
        at += name_len;
        uint32_t value_len = (uint32_t) body [at] << 24 | (uint32_t) body [at + 1] << 16
                           | (uint32_t) body [at + 2] << 8 | body [at + 3];
        at += 4;
        if (value_len > size - at)
            return s_fail (self, "malformed READY property");
        if (name_len == 11 && strncasecmp ((const char *) name, "Socket-Type", 11) == 0) {
            if (value_len != 6 || memcmp (body + at, "DEALER", 6))
                return s_fail (self, "socket type is not DEALER");
            typed = true;
        }
        at += value_len;
    }
    if (!typed)
        return s_fail (self, "READY without a Socket-Type");
    self->ready = true;     //  (ours went with the greeting)
    return 0;
}

static int
s_on_command (otp_zmtp_t *self, const byte *body, size_t size)
{
    if (!self->ready)
        return s_on_ready (self, body, size);
    //  PING: name, TTL (2 bytes), context (0..16 bytes) -> PONG context.
    if (size >= 7 && body [0] == 4 && memcmp (body + 1, "PING", 4) == 0 && size - 7 <= 16) {
        byte pong [5 + 16] = "\x04PONG";
        memcpy (pong + 5, body + 7, size - 7);
        s_put_frame (&self->output, FLAG_COMMAND, pong, 5 + size - 7);
        return 0;
    }
    if (size >= 5 && body [0] == 4 && memcmp (body + 1, "PONG", 4) == 0)
        return 0;
    return s_fail (self, "unexpected command");
}

static int
s_on_frame (otp_zmtp_t *self)
{
    if (self->flags & FLAG_COMMAND)
        return s_on_command (self, self->body, self->body_size);
    if (!self->ready)
        return s_fail (self, "message before READY");
    if (!self->message)
        self->message = zmsg_new ();
    if (zmsg_size (self->message) >= self->max_frames)
        return s_fail (self, "too many frames in a message");
    zmsg_addmem (self->message, self->body, self->body_size);
    if (!(self->flags & FLAG_MORE)) {
        if (zlist_size (self->messages) >= self->max_pending)
            return s_fail (self, "too many requests at once");
        zlist_append (self->messages, self->message);
        self->message = NULL;
    }
    return 0;
}

int
otp_zmtp_feed (otp_zmtp_t *self, const byte *data, size_t size)
{
    if (*self->reason)
        return -1;
    size_t at = 0;
    while (at < size) {
        switch (self->state) {
            case S_GREETING: {
                //  One byte at a time up to the version, so every check
                //  runs on the bytes it needs; then the rest at once.
                size_t take = self->have < 11? 1: GREETING_SIZE - self->have;
                if (take > size - at)
                    take = size - at;
                memcpy (self->greeting + self->have, data + at, take);
                self->have += take;
                at += take;
                if (s_check_greeting (self))
                    return -1;
                if (self->have == GREETING_SIZE) {
                    self->state = S_HEADER;
                    self->have = 0;
                }
                break;
            }
            case S_HEADER:
                self->flags = data [at++];
                if (self->flags & ~(FLAG_MORE | FLAG_LONG | FLAG_COMMAND))
                    return s_fail (self, "reserved flag bits set");
                if ((self->flags & FLAG_COMMAND) && (self->flags & FLAG_MORE))
                    return s_fail (self, "a command cannot have more frames");
                self->size_len = self->flags & FLAG_LONG? 8: 1;
                self->have = 0;
                self->state = S_SIZE;
                break;
            case S_SIZE:
                self->size_bytes [self->have++] = data [at++];
                if (self->have == self->size_len) {
                    uint64_t frame_size = 0;
                    for (size_t i = 0; i < self->size_len; i++)
                        frame_size = frame_size << 8 | self->size_bytes [i];
                    uint64_t limit = self->flags & FLAG_COMMAND? COMMAND_MAX: self->max_frame;
                    if (frame_size > limit)
                        return s_fail (self, "frame too large");
                    self->body_size = (size_t) frame_size;
                    self->have = 0;
                    if (self->body_size == 0) {
                        self->state = S_HEADER;
                        if (s_on_frame (self))
                            return -1;
                    }
                    else {
                        self->body = (byte *) malloc (self->body_size);
                        assert (self->body);
                        self->state = S_BODY;
                    }
                }
                break;
            case S_BODY: {
                size_t take = self->body_size - self->have;
                if (take > size - at)
                    take = size - at;
                memcpy (self->body + self->have, data + at, take);
                self->have += take;
                at += take;
                if (self->have == self->body_size) {
                    self->state = S_HEADER;
                    int rc = s_on_frame (self);
                    free (self->body);
                    self->body = NULL;
                    if (rc)
                        return -1;
                }
                break;
            }
        }
    }
    return 0;
}

const char *
otp_zmtp_reason (otp_zmtp_t *self)
{
    return self->reason;
}

zchunk_t *
otp_zmtp_output (otp_zmtp_t *self)
{
    if (self->output.size == 0)
        return NULL;
    zchunk_t *chunk = zchunk_new (self->output.data, self->output.size);
    self->output.size = 0;
    return chunk;
}

zmsg_t *
otp_zmtp_recv (otp_zmtp_t *self)
{
    return (zmsg_t *) zlist_pop (self->messages);
}

bool
otp_zmtp_ready (otp_zmtp_t *self)
{
    return self->ready;
}

zchunk_t *
otp_zmtp_encode (zmsg_t *msg)
{
    buffer_t buffer = { NULL, 0, 0 };
    size_t count = zmsg_size (msg), index = 0;
    for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg)) {
        bool last = ++index == count;     //  (zmsg_last would move the cursor)
        s_put_frame (&buffer, last? 0: FLAG_MORE, zframe_data (frame), zframe_size (frame));
    }
    zchunk_t *chunk = zchunk_new (buffer.data, buffer.size);
    free (buffer.data);
    return chunk;
}

//  ---------------------------------------------------------------------
//  Self-test: the codec fed as libzmq's DEALER greets (signature first),
//  byte by byte and at once, and malformed and oversized input.

static const byte s_client_greeting [GREETING_SIZE] = {
    0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1, 'N', 'U', 'L', 'L'
};
static const byte s_dealer_ready [] =
    "\x04\x1c\x05READY\x0bSocket-Type\0\0\0\x06" "DEALER";

static otp_zmtp_t *
s_test_ready (size_t max_frames, size_t max_pending)
{
    otp_zmtp_t *codec = otp_zmtp_new (max_frames, 16, max_pending);
    assert (otp_zmtp_output (codec) == NULL);
    assert (otp_zmtp_feed (codec, s_client_greeting, 10) == 0);
    assert (otp_zmtp_feed (codec, s_client_greeting + 10, GREETING_SIZE - 10) == 0);
    assert (!otp_zmtp_ready (codec));
    assert (otp_zmtp_feed (codec, s_dealer_ready, sizeof s_dealer_ready - 1) == 0);
    assert (otp_zmtp_ready (codec));
    assert (otp_zmtp_output (codec) == NULL);     //  our READY went with hello
    assert (*otp_zmtp_reason (codec) == 0);
    return codec;
}

void
otp_zmtp_test (void)
{
    size_t size;
    const byte *hello = otp_zmtp_hello (&size);
    assert (size == GREETING_SIZE + HELLO_READY_SIZE);
    assert (hello [0] == 0xFF && hello [9] == 0x7F && hello [10] == 3 && hello [32] == 1);
    assert (memcmp (hello + 12, "NULL", 4) == 0);
    //  Our READY parses as we parse a peer's (but names ROUTER).
    const byte *ready = hello + GREETING_SIZE;
    assert (ready [0] == FLAG_COMMAND && ready [1] == HELLO_READY_SIZE - 2);
    assert (memcmp (ready + 2, "\x05READY\x0bSocket-Type\0\0\0\x06ROUTER", HELLO_READY_SIZE - 2) == 0);

    //  A request in one go and byte by byte.
    otp_zmtp_t *codec = s_test_ready (4, 4);
    const byte request [] = { 0x01, 4, 'P', 'O', 'R', 'T', 0x00, 1, 'a' };
    assert (otp_zmtp_feed (codec, request, sizeof request) == 0);
    for (size_t i = 0; i < sizeof request; i++)
        assert (otp_zmtp_feed (codec, request + i, 1) == 0);
    for (int i = 0; i < 2; i++) {
        zmsg_t *msg = otp_zmtp_recv (codec);
        assert (msg && zmsg_size (msg) == 2 && zframe_streq (zmsg_first (msg), "PORT"));
        zmsg_destroy (&msg);
    }
    assert (otp_zmtp_recv (codec) == NULL);
    //  PING -> PONG with its context.
    const byte ping [] = { 0x04, 9, 4, 'P', 'I', 'N', 'G', 0, 10, 'c', 'x' };
    assert (otp_zmtp_feed (codec, ping, sizeof ping) == 0);
    zchunk_t *out = otp_zmtp_output (codec);
    assert (out && zchunk_size (out) == 2 + 7 && memcmp (zchunk_data (out) + 2, "\x04PONGcx", 7) == 0);
    zchunk_destroy (&out);
    //  The endless message: cut at its fifth frame, whatever follows.
    const byte empty_more [] = { 0x01, 0 };
    for (int i = 0; i < 4; i++)
        assert (otp_zmtp_feed (codec, empty_more, 2) == 0);
    assert (otp_zmtp_feed (codec, empty_more, 2) == -1);
    assert (strstr (otp_zmtp_reason (codec), "frames"));
    assert (otp_zmtp_feed (codec, request, sizeof request) == -1);   //  stays failed
    otp_zmtp_destroy (&codec);

    //  Requests queued in one feed: up to max_pending.
    codec = s_test_ready (4, 2);
    byte three [3 * sizeof request];
    for (int i = 0; i < 3; i++)
        memcpy (three + i * sizeof request, request, sizeof request);
    assert (otp_zmtp_feed (codec, three, 2 * sizeof request) == 0);
    assert (otp_zmtp_feed (codec, three, sizeof request) == -1);
    assert (strstr (otp_zmtp_reason (codec), "at once"));
    otp_zmtp_destroy (&codec);

    //  A reply, with a long frame.
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "OK");
    char big [300];
    memset (big, 'x', sizeof big);
    zmsg_addmem (reply, big, sizeof big);
    out = otp_zmtp_encode (reply);
    assert (zchunk_size (out) == 2 + 2 + 9 + 300);
    assert (zchunk_data (out) [0] == FLAG_MORE && zchunk_data (out) [4] == FLAG_LONG);
    assert (zchunk_data (out) [12] == 300 - 256 && zchunk_data (out) [11] == 1);
    zchunk_destroy (&out);
    zmsg_destroy (&reply);

    //  Malformed input, each on a fresh connection.
    struct { const char *data; size_t size; bool greeted; const char *why; } bad [] = {
        { "GET / HTTP/1.1\r\n", 16, false, "not a ZMTP" },
        { "\xff\0\0\0\0\0\0\0\x01\x7e", 10, false, "not a ZMTP" },
        { "\xff\0\0\0\0\0\0\0\x01\x7f\x02", 11, false, "version" },
        { "\x08\x00", 2, true, "reserved" },
        { "\x05\x00", 2, true, "command" },
        { "\x00\x11" "01234567890123456", 19, true, "too large" },
        { "\x02\x80\0\0\0\0\0\0\0", 9, true, "too large" },
        { "\x06\0\0\0\0\0\0\x02\x01", 9, true, "too large" },
        { "\x04\x05" "ERROR", 7, true, "unexpected" },
        { "\x00\x00", 2, false, "message before READY" },
        { "\x04\x06\x05READY", 8, false, "without a Socket-Type" },
        { "\x04\x19\x05READY\x0bSocket-Type\0\0\0\x03PUB", 27, false, "not DEALER" },
        { "\x04\x0b\x05READY\x0bSock", 13, false, "malformed" },
        { "\x04\x16\x05READY\x0bSocket-Type\xff\xff\xff\xff", 24, false, "malformed" },
        { "\x04\x05READY", 7, false, "expected READY" },
        { NULL, 0, false, NULL }
    };
    for (int i = 0; bad [i].data; i++) {
        if (bad [i].greeted)
            codec = s_test_ready (4, 4);
        else {
            codec = otp_zmtp_new (4, 16, 4);
            if (bad [i].data [0] != '\xff' && bad [i].data [0] != 'G')
                assert (otp_zmtp_feed (codec, s_client_greeting, GREETING_SIZE) == 0);
        }
        assert (otp_zmtp_feed (codec, (const byte *) bad [i].data, bad [i].size) == -1);
        assert (strstr (otp_zmtp_reason (codec), bad [i].why));
        otp_zmtp_destroy (&codec);
    }
    //  Other mechanisms and a server are refused at the end of the greeting.
    byte greeting [GREETING_SIZE];
    memcpy (greeting, s_client_greeting, GREETING_SIZE);
    memcpy (greeting + 12, "CURVE", 5);
    codec = otp_zmtp_new (4, 16, 4);
    assert (otp_zmtp_feed (codec, greeting, GREETING_SIZE) == -1);
    otp_zmtp_destroy (&codec);
    memcpy (greeting, s_client_greeting, GREETING_SIZE);
    greeting [32] = 1;
    codec = otp_zmtp_new (4, 16, 4);
    assert (otp_zmtp_feed (codec, greeting, GREETING_SIZE) == -1);
    otp_zmtp_destroy (&codec);
}
