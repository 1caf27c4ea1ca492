/*  Runs the self-test of every lib/ module (CZMQ's convention).            */
#include "otp.h"
#include "otp_childspec.h"
#include "otp_supervisor.h"

int
main (void)
{
    otp_log_init ("otp-selftest");
    otp_signal_init ();
    struct { const char *name; void (*test) (void); } tests [] = {
        { "otp_name", otp_name_test },
        { "otp_cookie", otp_cookie_test },
        { "otp_kdf", otp_kdf_test },
        { "otp_proto", otp_proto_test },
        { "otp_auth", otp_auth_test },
        { "otp_gossip", otp_gossip_test },
        { "otp_registry", otp_registry_test },
        { "otp_childspec", otp_childspec_test },
        { "otp_supervisor", otp_supervisor_test },
        { "otp_metrics", otp_metrics_test },
        { "otp_limits", otp_limits_test },
        { "otp_detector", otp_detector_test },
        { "otp_gate", otp_gate_test },
        { "otp_zmtp", otp_zmtp_test },
        { "otp_state", otp_state_test },
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests [0]; i++) {
        printf (" * %s: ", tests [i].name);
        fflush (stdout);
        tests [i].test ();
        printf ("OK\n");
    }
    return 0;
}
