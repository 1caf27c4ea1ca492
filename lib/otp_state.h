/*  otp_state - a cluster child's checkpoints: the channel's contract (one
    place parses and formats its lines) and the C API a child uses.

    A child of the cluster supervisor finds a socket on descriptor
    $OTP_STATE_FD (3). It writes one request per line:

        put TEXT        checkpoint TEXT (the rest of the line), acknowledged
        put64 BASE64    the same, the bytes in base64 (any bytes)
        cast TEXT       checkpoint without waiting: no answer, may be lost
        cast64 BASE64

    and for each put reads one line back, in order:

        ok SEQ                  a majority of the members hold it
        error CODE TEXT         not held (CODE: an otp_state_code_t's name)

    At every start the latest state is given to it: $OTP_STATE_FILE (its
    bytes), $OTP_STATE_SEQ, $OTP_STATE_VERSION (the release that wrote it);
    after a partition in which two instances ran, the loser's as
    $OTP_STATE_MERGE_FILE and $OTP_STATE_MERGE_VERSION. $OTP_RELEASE_VERSION
    is the release running it now.                                          */
#ifndef OTP_STATE_H
#define OTP_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OTP_STATE_MAX (1 << 20)         //  bytes of one state
#define OTP_STATE_FD 3
//  The longest request line: "put64 " and the base64 of OTP_STATE_MAX bytes.
#define OTP_STATE_LINE_MAX (6 + 4 * ((OTP_STATE_MAX + 2) / 3))
#define OTP_STATE_VERSION_MAX 63

//  Why a checkpoint was not taken; the names travel in `error CODE TEXT`.
typedef enum {
    OTP_STATE_OK = 0,
    OTP_STATE_BAD,          //  not a request of the contract
    OTP_STATE_TOOLARGE,     //  more than OTP_STATE_MAX bytes
    OTP_STATE_NOQUORUM,     //  quorum: this member is on a minority side
    OTP_STATE_TIMEOUT,      //  a majority did not say it holds it in time
    OTP_STATE_BUSY,         //  too many checkpoints wait already
    OTP_STATE_CODES
} otp_state_code_t;

const char *otp_state_code_name (otp_state_code_t code);
//  The code of a name; OTP_STATE_BAD for one it does not know.
otp_state_code_t otp_state_code_of (const char *name);

//  One request line (without its '\n'). 0, `*wait` (put rather than cast)
//  and the state (malloc'ed, `*size` bytes; NULL if empty); or a code and
//  a one-line reason.
otp_state_code_t otp_state_parse (const char *line, size_t len, bool *wait,
                                  uint8_t **data, size_t *size, char *error, size_t error_size);
//  A request line for `data` (with its '\n'): put/cast TEXT when the bytes
//  are printable, else put64/cast64. NULL if over OTP_STATE_MAX.
char *otp_state_format (const void *data, size_t size, bool wait, size_t *line_size);

//  The C API of a child.
//  Checkpoints and waits for the answer: the sequence number (> 0), or -1
//  with the code (and `error`, a line) when it was not taken.
int64_t otp_state_put (const void *data, size_t size, otp_state_code_t *code,
                       char *error, size_t error_size);
//  Checkpoints without waiting: 0, or -1 if it could not be written.
int otp_state_cast (const void *data, size_t size);
//  The state this process was started with (malloc'ed, `*size` bytes), or
//  NULL when there is none; `version`, if given, the release that wrote it.
void *otp_state_get (size_t *size, char *version, size_t version_size);
//  After a partition: the other instance's state, as otp_state_get.
void *otp_state_merge (size_t *size, char *version, size_t version_size);

void otp_state_test (void);

#endif
