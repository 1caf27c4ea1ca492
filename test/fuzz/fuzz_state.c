/*  libFuzzer target for the checkpoint channel's parser (lib/otp_state.c),
    which reads every line a child writes on its descriptor 3. Any input
    either parses, to at most OTP_STATE_MAX bytes that come back the same
    through otp_state_format and a second parse, or is refused with a code
    and a reason; never more. Run with `make fuzz`.                        */
#include "otp.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    bool wait;
    uint8_t *state;
    size_t state_size;
    char error [256] = "";
    otp_state_code_t code = otp_state_parse ((const char *) data, size, &wait, &state,
                                             &state_size, error, sizeof error);
    if (code != OTP_STATE_OK) {
        assert (code > OTP_STATE_OK && code < OTP_STATE_CODES && *error);
        assert (!state && state_size == 0);
        return 0;
    }
    assert (state_size <= OTP_STATE_MAX && (state_size == 0) == (state == NULL));
    size_t line_size;
    char *line = otp_state_format (state, state_size, wait, &line_size);
    assert (line && line [line_size - 1] == '\n' && line_size - 1 <= OTP_STATE_LINE_MAX);
    bool wait2;
    uint8_t *again;
    size_t again_size;
    assert (otp_state_parse (line, line_size - 1, &wait2, &again, &again_size, error,
                             sizeof error) == OTP_STATE_OK);
    assert (wait2 == wait && again_size == state_size);
    assert (state_size == 0 || memcmp (again, state, state_size) == 0);
    free (again);
    free (line);
    free (state);
    return 0;
}
