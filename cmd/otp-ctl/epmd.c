/*  otp-ctl epmd: ask a port mapper directly (no cookie needed: it only
    tells names and ports, as Erlang's epmd -names does).                   */
#include "ctl.h"

int
ctl_epmd (ctl_t *ctl, int argc, char **argv)
{
    const char *host = "127.0.0.1";
    if (argc < 1)
        otp_fatal ("usage: otp-ctl epmd names|info [--host HOST]");
    const char *what = argv [0];
    for (int i = 1; i < argc; i++) {
        if (streq (argv [i], "--host") && i + 1 < argc)
            host = argv [++i];
        else
            otp_fatal ("unexpected argument '%s' to epmd %s", argv [i], what);
    }
    if (!otp_host_valid (host))
        otp_fatal ("'%s' is not a host name", host);
    if (!streq (what, "names") && !streq (what, "info"))
        otp_fatal ("unknown epmd command '%s' (names, info)", what);

    zmsg_t *request = zmsg_new ();
    zmsg_addstr (request, streq (what, "names")? "NAMES": "INFO");
    zmsg_t *reply = otp_epmd_request (host, ctl->epmd_port, &request, ctl->timeout_ms);
    if (!reply)
        otp_fatal ("no otp-epmd answers at %s:%d", host, ctl->epmd_port);
    char value [OTP_ARG_MAX + 1];
    int frames = (int) zmsg_size (reply) - 1;
    if (streq (what, "names")) {
        if (ctl->json)
            printf ("[");
        for (int i = 0; i + 1 < frames; i += 2) {
            char name [OTP_ARG_MAX + 1];
            if (otp_msg_str (reply, i, name, sizeof name) || otp_msg_str (reply, i + 1, value, sizeof value))
                continue;
            if (ctl->json) {
                printf ("%s{\"name\":", i? ",": "");
                ctl_json_string (name);
                printf (",\"port\":%s}", value);
            }
            else
                printf ("%s %s\n", name, value);
        }
        if (ctl->json)
            printf ("]\n");
    }
    else {
        const char *keys [] = { "pid", "uptime_ms", "names" };
        if (ctl->json)
            printf ("{");
        for (int i = 0; i < 3 && i < frames; i++) {
            if (otp_msg_str (reply, i, value, sizeof value))
                continue;
            if (ctl->json)
                printf ("%s\"%s\":%s", i? ",": "", keys [i], value);
            else
                printf ("%s %s\n", keys [i], value);
        }
        if (ctl->json)
            printf ("}\n");
    }
    zmsg_destroy (&reply);
    return 0;
}
