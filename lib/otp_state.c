/*  otp_state - the checkpoint channel's lines, and a child's C API.
    The bytes in base64 are libsodium's (sodium_bin2base64, the original
    variant with padding: what `base64 -w0` writes).                       */
#include "otp_state.h"
#include "otp_spawn.h"
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *s_codes [OTP_STATE_CODES] = {
    [OTP_STATE_OK] = "ok",
    [OTP_STATE_BAD] = "bad",
    [OTP_STATE_TOOLARGE] = "toolarge",
    [OTP_STATE_NOQUORUM] = "noquorum",
    [OTP_STATE_TIMEOUT] = "timeout",
    [OTP_STATE_BUSY] = "busy",
};

const char *
otp_state_code_name (otp_state_code_t code)
{
    return code >= 0 && code < OTP_STATE_CODES? s_codes [code]: "bad";
}

otp_state_code_t
otp_state_code_of (const char *name)
{
    for (int i = 0; i < OTP_STATE_CODES; i++)
        if (strcmp (name, s_codes [i]) == 0)
            return (otp_state_code_t) i;
    return OTP_STATE_BAD;
}

typedef struct { const char *verb; bool wait, base64; } verb_t;
static const verb_t s_verbs [] = {
    { "put", true, false }, { "put64", true, true },
    { "cast", false, false }, { "cast64", false, true },
};

otp_state_code_t
otp_state_parse (const char *line, size_t len, bool *wait, uint8_t **data, size_t *size,
                 char *error, size_t error_size)
{
    *data = NULL;
    *size = 0;
    if (len && line [len - 1] == '\r')
        len--;
    const char *space = memchr (line, ' ', len);
    size_t verb_len = space? (size_t) (space - line): len;
    const verb_t *verb = NULL;
    for (size_t i = 0; i < sizeof s_verbs / sizeof s_verbs [0]; i++)
        if (strlen (s_verbs [i].verb) == verb_len && memcmp (line, s_verbs [i].verb, verb_len) == 0)
            verb = &s_verbs [i];
    if (!verb) {
        snprintf (error, error_size, "not a checkpoint request (put, put64, cast, cast64): '%.*s'",
                  (int) (verb_len > 32? 32: verb_len), line);
        return OTP_STATE_BAD;
    }
    *wait = verb->wait;
    const char *body = space? space + 1: line + len;
    size_t body_len = (size_t) (line + len - body);
    if (!verb->base64) {
        if (body_len > OTP_STATE_MAX) {
            snprintf (error, error_size, "a state is at most %d bytes, not %zu", OTP_STATE_MAX, body_len);
            return OTP_STATE_TOOLARGE;
        }
        if (memchr (body, 0, body_len)) {
            snprintf (error, error_size, "a NUL byte in a text state: send its bytes with %s64",
                      verb->wait? "put": "cast");
            return OTP_STATE_BAD;
        }
        if (body_len) {
            *data = (uint8_t *) malloc (body_len);
            memcpy (*data, body, body_len);
        }
        *size = body_len;
        return OTP_STATE_OK;
    }
    //  Padding takes at most 2 bytes off the 3 of each 4 characters.
    size_t most = (body_len + 3) / 4 * 3;
    if (most > OTP_STATE_MAX + 2) {
        snprintf (error, error_size, "a state is at most %d bytes, not about %zu", OTP_STATE_MAX,
                  body_len / 4 * 3);
        return OTP_STATE_TOOLARGE;
    }
    uint8_t *bytes = (uint8_t *) malloc (most? most: 1);
    size_t decoded = 0;
    const char *end = NULL;
    if (sodium_base642bin (bytes, most, body, body_len, NULL, &decoded, &end,
                           sodium_base64_VARIANT_ORIGINAL) || end != body + body_len) {
        free (bytes);
        snprintf (error, error_size, "not base64");
        return OTP_STATE_BAD;
    }
    if (decoded > OTP_STATE_MAX) {
        free (bytes);
        snprintf (error, error_size, "a state is at most %d bytes, not %zu", OTP_STATE_MAX, decoded);
        return OTP_STATE_TOOLARGE;
    }
    if (decoded == 0) {
        free (bytes);
        bytes = NULL;
    }
    *data = bytes;
    *size = decoded;
    return OTP_STATE_OK;
}

static bool
s_printable (const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++)
        if (data [i] < 0x20 || data [i] == 0x7F)
            return false;
    return true;
}

char *
otp_state_format (const void *data, size_t size, bool wait, size_t *line_size)
{
    if (size > OTP_STATE_MAX)
        return NULL;
    const uint8_t *bytes = (const uint8_t *) data;
    bool text = s_printable (bytes, size);
    const char *verb = text? (wait? "put": "cast"): (wait? "put64": "cast64");
    size_t body = text? size: sodium_base64_ENCODED_LEN (size, sodium_base64_VARIANT_ORIGINAL);
    char *line = (char *) malloc (strlen (verb) + 1 + body + 2);
    size_t at = (size_t) sprintf (line, "%s ", verb);
    if (text) {
        if (size)
            memcpy (line + at, bytes, size);
        at += size;
    }
    else {
        sodium_bin2base64 (line + at, body, bytes, size, sodium_base64_VARIANT_ORIGINAL);
        at += strlen (line + at);
    }
    line [at++] = '\n';
    line [at] = 0;
    *line_size = at;
    return line;
}

//  -------------------------------------------------------------------------
//  A child's side

static int
s_fd (void)
{
    const char *value = getenv ("OTP_STATE_FD");
    if (!value || !*value)
        return -1;
    char *end;
    long fd = strtol (value, &end, 10);
    return *end || fd < 0 || fd > 1024? -1: (int) fd;
}

static int
s_send (const void *data, size_t size, bool wait)
{
    int fd = s_fd ();
    if (fd < 0) {
        errno = ENOTCONN;
        return -1;
    }
    size_t line_size;
    char *line = otp_state_format (data, size, wait, &line_size);
    if (!line) {
        errno = EMSGSIZE;
        return -1;
    }
    int rc = otp_write_all (fd, line, line_size);
    free (line);
    return rc? -1: fd;
}

int64_t
otp_state_put (const void *data, size_t size, otp_state_code_t *code, char *error, size_t error_size)
{
    *code = OTP_STATE_BAD;
    if (size > OTP_STATE_MAX) {
        *code = OTP_STATE_TOOLARGE;
        snprintf (error, error_size, "a state is at most %d bytes, not %zu", OTP_STATE_MAX, size);
        return -1;
    }
    int fd = s_send (data, size, true);
    if (fd < 0) {
        snprintf (error, error_size, "no checkpoint channel: %s", strerror (errno));
        return -1;
    }
    //  Byte by byte: what follows the answer is not ours to take.
    char reply [512];
    size_t len = 0;
    while (1) {
        char c;
        ssize_t n = read (fd, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf (error, error_size, "the checkpoint channel closed");
            return -1;
        }
        if (c == '\n')
            break;
        if (len < sizeof reply - 1)
            reply [len++] = c;
    }
    reply [len] = 0;
    if (strncmp (reply, "ok ", 3) == 0) {
        *code = OTP_STATE_OK;
        return strtoll (reply + 3, NULL, 10);
    }
    if (strncmp (reply, "error ", 6) == 0) {
        char name [16] = "";
        const char *text = strchr (reply + 6, ' ');
        size_t name_len = text? (size_t) (text - reply - 6): strlen (reply + 6);
        if (name_len < sizeof name)
            memcpy (name, reply + 6, name_len), name [name_len] = 0;
        *code = otp_state_code_of (name);
        snprintf (error, error_size, "%s", text? text + 1: name);
        return -1;
    }
    snprintf (error, error_size, "not an answer of the checkpoint channel: '%.64s'", reply);
    return -1;
}

int
otp_state_cast (const void *data, size_t size)
{
    return s_send (data, size, false) < 0? -1: 0;
}

static void *
s_read_file (const char *file_var, const char *version_var, size_t *size,
             char *version, size_t version_size)
{
    *size = 0;
    if (version && version_size)
        *version = 0;
    const char *path = getenv (file_var);
    if (!path || !*path)
        return NULL;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat (fd, &st) || !S_ISREG (st.st_mode) || st.st_size > OTP_STATE_MAX) {
        close (fd);
        return NULL;
    }
    uint8_t *data = (uint8_t *) malloc ((size_t) st.st_size + 1);
    size_t got = 0;
    while (got < (size_t) st.st_size) {
        ssize_t n = read (fd, data + got, (size_t) st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t) n;
    }
    close (fd);
    data [got] = 0;
    *size = got;
    const char *written_by = getenv (version_var);
    if (version && version_size)
        snprintf (version, version_size, "%s", written_by? written_by: "");
    return data;
}

void *
otp_state_get (size_t *size, char *version, size_t version_size)
{
    return s_read_file ("OTP_STATE_FILE", "OTP_STATE_VERSION", size, version, version_size);
}

void *
otp_state_merge (size_t *size, char *version, size_t version_size)
{
    return s_read_file ("OTP_STATE_MERGE_FILE", "OTP_STATE_MERGE_VERSION", size, version, version_size);
}

//  -------------------------------------------------------------------------

void
otp_state_test (void)
{
    char error [256];
    bool wait;
    uint8_t *data;
    size_t size;
    assert (otp_state_parse ("put 42", 6, &wait, &data, &size, error, sizeof error) == 0);
    assert (wait && size == 2 && memcmp (data, "42", 2) == 0);
    free (data);
    assert (otp_state_parse ("cast a b\r", 9, &wait, &data, &size, error, sizeof error) == 0);
    assert (!wait && size == 3 && memcmp (data, "a b", 3) == 0);
    free (data);
    assert (otp_state_parse ("put", 3, &wait, &data, &size, error, sizeof error) == 0);
    assert (wait && size == 0 && !data);
    assert (otp_state_parse ("put64 AAEC", 10, &wait, &data, &size, error, sizeof error) == 0);
    assert (size == 3 && data [0] == 0 && data [1] == 1 && data [2] == 2);
    free (data);
    assert (otp_state_parse ("put64 !!!!", 10, &wait, &data, &size, error, sizeof error) == OTP_STATE_BAD);
    assert (otp_state_parse ("PUT 1", 5, &wait, &data, &size, error, sizeof error) == OTP_STATE_BAD);
    assert (otp_state_parse ("putx 1", 6, &wait, &data, &size, error, sizeof error) == OTP_STATE_BAD);
    assert (otp_state_parse ("", 0, &wait, &data, &size, error, sizeof error) == OTP_STATE_BAD);
    assert (otp_state_parse ("put a\0b", 7, &wait, &data, &size, error, sizeof error) == OTP_STATE_BAD);

    //  The largest state goes both ways; one byte more does not.
    uint8_t *big = (uint8_t *) malloc (OTP_STATE_MAX + 8);
    for (size_t i = 0; i <= OTP_STATE_MAX; i++)
        big [i] = (uint8_t) (i * 7);
    size_t line_size;
    char *line = otp_state_format (big, OTP_STATE_MAX, true, &line_size);
    assert (line && strncmp (line, "put64 ", 6) == 0 && line [line_size - 1] == '\n');
    assert (line_size - 1 <= OTP_STATE_LINE_MAX);
    assert (otp_state_parse (line, line_size - 1, &wait, &data, &size, error, sizeof error) == 0);
    assert (size == OTP_STATE_MAX && memcmp (data, big, size) == 0);
    free (data);
    free (line);
    assert (otp_state_format (big, OTP_STATE_MAX + 1, true, &line_size) == NULL);
    memset (big, 'x', OTP_STATE_MAX + 8);
    assert (otp_state_parse ((char *) big, OTP_STATE_MAX + 1, &wait, &data, &size, error,
                             sizeof error) == OTP_STATE_BAD);
    memcpy (big, "put ", 4);
    assert (otp_state_parse ((char *) big, OTP_STATE_MAX + 4, &wait, &data, &size, error,
                             sizeof error) == 0 && size == OTP_STATE_MAX);
    free (data);
    assert (otp_state_parse ((char *) big, OTP_STATE_MAX + 5, &wait, &data, &size, error,
                             sizeof error) == OTP_STATE_TOOLARGE);
    free (big);
    line = otp_state_format ("7", 1, false, &line_size);
    assert (strcmp (line, "cast 7\n") == 0);
    free (line);

    for (int i = 0; i < OTP_STATE_CODES; i++)
        assert (otp_state_code_of (otp_state_code_name ((otp_state_code_t) i)) == (otp_state_code_t) i);
    assert (otp_state_code_of ("nonsense") == OTP_STATE_BAD);
}
