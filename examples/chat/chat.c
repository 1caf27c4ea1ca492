/*  otp-chat - the chat example: Elixir's P24Chat (send_message/2, with eve
    too busy to talk) as a C program attached to its node.

    Every chat process is attached as `chat` on its node, so that "the chat
    process on NODE" is the address chat@NODE, as P24Chat reaches its
    TaskSupervisor by {name, node}. It also registers the person's NAME in
    the cluster-wide registry, so that one can send by name alone.

    Input, one line each: `TARGET TEXT`, TARGET a node (name@host) or a
    registered name. Output: each message received, one line each.       */
#include "otp.h"
#include <getopt.h>
#include <poll.h>

#define CHAT_PROCESS "chat"
#define BUSY_ANSWER "stay quiet for a while"
#define CHAT_LINE_MAX 65536
//  How long to wait for a message before looking at stdin again: the
//  client has no fd to poll beside stdin, so we take turns.
#define CHAT_TICK_MS 50

static void
s_usage (FILE *out)
{
    fprintf (out,
"usage: otp-chat -n NODE [--busy] [--exit-on-eof] [--cookie C | --cookie-file F] NAME\n"
"\n"
"Attaches to NODE as the process `chat`, registers NAME in the cluster-wide\n"
"registry (otp-reg must run beside NODE), then reads lines from stdin:\n"
"  NODE TEXT    send TEXT to the chat process on NODE (name@host)\n"
"  NAME TEXT    send TEXT to whoever registered NAME\n"
"and prints every message it receives, one per line.\n"
"\n"
"Options:\n"
"  -n, --node NODE        node to attach to, name@host (OTP_NODE_NAME)\n"
"  -b, --busy             answer every message with \"" BUSY_ANSWER "\"\n"
"      --exit-on-eof      exit at the end of stdin (default: keep receiving)\n"
"  -c, --cookie COOKIE    cluster cookie (OTP_COOKIE)\n"
"      --cookie-file FILE cookie file (OTP_COOKIE_FILE; default ~/.otp-cookie)\n"
"  -e, --epmd-port PORT   otp-epmd port (OTP_EPMD_PORT, default 4369)\n"
"  -t, --timeout MS       how long to wait for the node (default 5000)\n"
"  -h, --help             show this help\n"
"  -V, --version          show the version\n");
}

//  Sends one input line. A bad line is a warning, never the end of the
//  chat: a typo must not take the person off the cluster.
static void
s_send_line (otp_client_t *client, char *line)
{
    size_t len = strlen (line);
    if (len && line [len - 1] == '\r')
        line [--len] = 0;       //  typed on a terminal that sends CRLF
    if (len == 0)
        return;
    char *text = strchr (line, ' ');
    if (!text) {
        otp_warn ("'%s': say TARGET TEXT (TARGET is a node name@host or a registered name)", line);
        return;
    }
    *text++ = 0;
    while (*text == ' ')
        text++;
    if (strchr (line, '@')) {
        char name [OTP_NAME_MAX + 1], host [OTP_HOST_MAX + 1];
        if (otp_node_split (line, name, sizeof name, host, sizeof host))
            otp_warn ("'%s' is not a node name (name@host)", line);
        else
        if (otp_client_send (client, CHAT_PROCESS, line, text, strlen (text)))
            otp_warn ("cannot send to %s: %s", line, otp_client_error (client));
        //  Else sent as Erlang sends: a node we are not connected to, or one
        //  with no chat process, drops it and counts it.
    }
    else {
        char error [1024];
        if (otp_reg_send (client, line, text, strlen (text), error, sizeof error))
            otp_warn ("cannot send to %s: %s", line, error);
    }
}

//  Ends the chat with one line of error. The client goes first: CZMQ would
//  otherwise add its own lines about the sockets left open.
static void
s_fatal (otp_client_t **client_p, const char *reason) __attribute__ ((noreturn));
static void
s_fatal (otp_client_t **client_p, const char *reason)
{
    char copy [1024];
    snprintf (copy, sizeof copy, "%s", reason);     //  reason may be the client's
    otp_client_destroy (client_p);
    otp_fatal ("%s", copy);
}

static void
s_deliver (otp_client_t *client, otp_message_t *message, bool busy)
{
    size_t size = zframe_size (message->payload);
    char *text = (char *) zmalloc (size + 1);
    memcpy (text, zframe_data (message->payload), size);
    //  One message, one line, whatever the sender put in it.
    for (size_t i = 0; i < size; i++)
        if (text [i] == '\n' || text [i] == '\r' || text [i] == 0)
            text [i] = ' ';
    puts (text);
    fflush (stdout);

    //  Two busy people would tell each other to stay quiet for ever: the
    //  answer itself is never answered.
    const char *at = strchr (message->from, '@');
    if (busy && !streq (text, BUSY_ANSWER) && at && at > message->from) {
        char addr [OTP_NAME_MAX + 1];
        snprintf (addr, sizeof addr, "%.*s", (int) (at - message->from), message->from);
        if (otp_client_send (client, addr, at + 1, BUSY_ANSWER, strlen (BUSY_ANSWER)))
            otp_warn ("cannot answer %s: %s", message->from, otp_client_error (client));
    }
    //  A sender without an address (otp-ctl send) cannot be answered.
    free (text);
}

int
main (int argc, char *argv [])
{
    otp_log_init (argv [0]);
    otp_signal_cli ();
    const char *node = otp_env ("OTP_NODE_NAME", NULL);
    const char *cookie_arg = otp_env ("OTP_COOKIE", NULL);
    const char *cookie_file = otp_env ("OTP_COOKIE_FILE", NULL);
    int epmd_port = (int) otp_opt_int ("OTP_EPMD_PORT", otp_env ("OTP_EPMD_PORT", "4369"), 1, 65535);
    int timeout_ms = 5000;
    bool busy = false, exit_on_eof = false;
    enum { OPT_COOKIE_FILE = 256, OPT_EXIT_ON_EOF };
    static const struct option longopts [] = {
        { "node", required_argument, NULL, 'n' },
        { "busy", no_argument, NULL, 'b' },
        { "exit-on-eof", no_argument, NULL, OPT_EXIT_ON_EOF },
        { "cookie", required_argument, NULL, 'c' },
        { "cookie-file", required_argument, NULL, OPT_COOKIE_FILE },
        { "epmd-port", required_argument, NULL, 'e' },
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "n:bc:e:t:hV", longopts, NULL)) != -1) {
        switch (opt) {
            case 'n': node = optarg; break;
            case 'b': busy = true; break;
            case OPT_EXIT_ON_EOF: exit_on_eof = true; break;
            case 'c': cookie_arg = otp_opt_secret (optarg); break;
            case OPT_COOKIE_FILE: cookie_file = optarg; cookie_arg = NULL; break;
            case 'e': epmd_port = (int) otp_opt_int ("--epmd-port", optarg, 1, 65535); break;
            case 't': timeout_ms = (int) otp_opt_int ("--timeout", optarg, 1, 3600000); break;
            case 'h': s_usage (stdout); return 0;
            case 'V': otp_print_version ("otp-chat");
            default: s_usage (stderr); return 2;
        }
    }
    if (!node)
        otp_fatal ("which node? (-n NODE or OTP_NODE_NAME)");
    if (optind == argc)
        otp_fatal ("who is chatting? (otp-chat -n NODE NAME)");
    if (optind < argc - 1)
        otp_fatal ("unexpected argument '%s'", argv [optind + 1]);
    const char *name = argv [optind];
    if (!otp_reg_name_valid (name))
        otp_fatal ("'%s' is not a valid name (printable, no spaces)", name);
    otp_log_set_node (node);

    char cookie [OTP_COOKIE_MAX + 1], error [1024];
    if (otp_cookie_load (cookie_arg, cookie_file, cookie, sizeof cookie, error, sizeof error))
        otp_fatal ("%s", error);
    otp_client_t *client = otp_client_new (node, cookie, epmd_port, timeout_ms, error, sizeof error);
    if (!client)
        otp_fatal ("%s", error);
    char reason [2048];
    if (otp_client_attach (client, CHAT_PROCESS)) {
        snprintf (reason, sizeof reason, "cannot attach as %s on %s: %s",
                  CHAT_PROCESS, node, otp_client_error (client));
        s_fatal (&client, reason);
    }
    if (otp_reg_register (client, name, "otp-chat", error, sizeof error)) {
        snprintf (reason, sizeof reason, "cannot register %s: %s", name, error);
        s_fatal (&client, reason);
    }
    otp_info ("%s is chatting as %s@%s", name, CHAT_PROCESS, node);

    char line [CHAT_LINE_MAX + 1];
    size_t fill = 0;
    bool reading = true, skipping = false;
    while (true) {
        otp_message_t *message = otp_client_receive (client, reading? CHAT_TICK_MS: -1);
        if (message) {
            s_deliver (client, message, busy);
            otp_message_destroy (&message);
        }
        else
        if (!reading || !strstr (otp_client_error (client), "no message within"))
            s_fatal (&client, otp_client_error (client));
        if (!reading)
            continue;

        struct pollfd input = { .fd = STDIN_FILENO, .events = POLLIN };
        if (poll (&input, 1, 0) != 1)
            continue;
        //  Our own buffer, not stdio's: stdio could hold lines that poll
        //  no longer reports.
        ssize_t got = read (STDIN_FILENO, line + fill, CHAT_LINE_MAX - fill);
        if (got <= 0) {
            if (fill && !skipping) {
                line [fill] = 0;
                s_send_line (client, line);
            }
            if (exit_on_eof)
                break;
            reading = false;    //  P24Chat's node stays up after its shell goes
            continue;
        }
        fill += (size_t) got;
        char *start = line, *newline;
        while ((newline = (char *) memchr (start, '\n', fill - (size_t) (start - line)))) {
            *newline = 0;
            if (!skipping)
                s_send_line (client, start);
            skipping = false;
            start = newline + 1;
        }
        fill -= (size_t) (start - line);
        memmove (line, start, fill);
        if (fill == CHAT_LINE_MAX) {
            otp_warn ("a line longer than %d bytes: dropped", CHAT_LINE_MAX);
            skipping = true;
            fill = 0;
        }
    }
    otp_client_destroy (&client);
    return 0;
}
