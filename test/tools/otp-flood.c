/*  otp-flood - a test tool, not part of the product: an unauthenticated
    attacker's connection flood. Opens COUNT TCP connections to HOST:PORT,
    at most RATE a second, each from ADDRESS if given, sends on each the
    start of a ZMTP greeting and nothing more (a handshake that never ends),
    and holds them for SECONDS, or until SIGTERM; with --close, it then
    closes them all at once (a burst of disconnections).

    usage: otp-flood [--count N] [--rate N] [--hold SECONDS] [--from ADDRESS]
                     [--greeting curve|null|none|http] [--drip MS] [--close] HOST PORT
    With --drip, one more byte every MS milliseconds on each connection (a
    slowloris: never silent long enough for an idle time-out).
    Prints one line when done:
        opened N refused N closed-by-peer N open N
    "closed-by-peer" counts the connections the server shut, "open" those
    still open at the end. With --progress, the same line every second on
    stderr.                                                                 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t s_stop;
static void s_on_term (int sig) { (void) sig; s_stop = 1; }

static long
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static long
s_arg (const char *name, const char *text, long min, long max)
{
    char *end;
    long value = strtol (text, &end, 10);
    if (*text == 0 || *end || value < min || value > max) {
        fprintf (stderr, "otp-flood: %s must be %ld..%ld\n", name, min, max);
        exit (2);
    }
    return value;
}

int
main (int argc, char *argv [])
{
    long count = 1000, rate = 2000, hold = 10, drip = 0;
    const char *from = NULL, *greeting_kind = "curve";
    bool close_all = false, progress = false;
    static const struct option longopts [] = {
        { "count", required_argument, NULL, 'n' },
        { "rate", required_argument, NULL, 'r' },
        { "hold", required_argument, NULL, 'h' },
        { "from", required_argument, NULL, 'f' },
        { "greeting", required_argument, NULL, 'g' },
        { "close", no_argument, NULL, 'c' },
        { "progress", no_argument, NULL, 'p' },
        { "drip", required_argument, NULL, 'D' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
            case 'n': count = s_arg ("--count", optarg, 1, 1000000); break;
            case 'r': rate = s_arg ("--rate", optarg, 1, 1000000); break;
            case 'h': hold = s_arg ("--hold", optarg, 0, 86400); break;
            case 'f': from = optarg; break;
            case 'g': greeting_kind = optarg; break;
            case 'c': close_all = true; break;
            case 'p': progress = true; break;
            case 'D': drip = s_arg ("--drip", optarg, 1, 3600000); break;
            default: return 2;
        }
    }
    if (argc - optind != 2) {
        fprintf (stderr, "usage: otp-flood [--count N] [--rate N] [--hold S] [--from ADDRESS]"
                         " [--greeting curve|null|none|http] [--close] [--progress] HOST PORT\n");
        return 2;
    }
    //  ZMTP 3.0 (RFC 23): signature, version 3.0, mechanism, as-server, filler.
    unsigned char greeting [64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0 };
    size_t greeting_size = sizeof greeting;
    if (strcmp (greeting_kind, "curve") == 0)
        memcpy (greeting + 12, "CURVE", 5);
    else
    if (strcmp (greeting_kind, "null") == 0)
        memcpy (greeting + 12, "NULL", 4);
    else
    if (strcmp (greeting_kind, "http") == 0) {
        //  A request line and one header, never the blank line that ends it.
        const char *partial = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        greeting_size = strlen (partial);
        memcpy (greeting, partial, greeting_size);
    }
    else
    if (strcmp (greeting_kind, "none") == 0)
        greeting_size = 0;
    else {
        fprintf (stderr, "otp-flood: --greeting is curve, null, http or none\n");
        return 2;
    }
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) s_arg ("PORT", argv [optind + 1], 1, 65535)) };
    struct sockaddr_in source = { .sin_family = AF_INET };
    if (inet_pton (AF_INET, argv [optind], &to.sin_addr) != 1
    ||  (from && inet_pton (AF_INET, from, &source.sin_addr) != 1)) {
        fprintf (stderr, "otp-flood: addresses are dotted IPv4\n");
        return 2;
    }
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit (RLIMIT_NOFILE, &limit);
    }
    signal (SIGTERM, s_on_term);
    signal (SIGINT, s_on_term);
    signal (SIGPIPE, SIG_IGN);

    int poll_fd = epoll_create1 (EPOLL_CLOEXEC);
    int *fds = calloc ((size_t) count, sizeof (int));
    long opened = 0, refused = 0, closed_by_peer = 0, open = 0;
    long started = s_now_ms (), last_report = started, deadline = -1, last_drip = started;
    char *is_open = calloc ((size_t) count, 1);
    while (!s_stop) {
        long now = s_now_ms ();
        //  Open what the rate allows so far.
        long due = (now - started) * rate / 1000 + 1;
        while (opened + refused < count && opened + refused < due) {
            int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                refused++;
                continue;
            }
            if (from && bind (fd, (struct sockaddr *) &source, sizeof source)) {
                close (fd);
                refused++;
                continue;
            }
            if (connect (fd, (struct sockaddr *) &to, sizeof to) && errno != EINPROGRESS) {
                close (fd);
                refused++;
                continue;
            }
            struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.fd = fd };
            epoll_ctl (poll_fd, EPOLL_CTL_ADD, fd, &ev);
            is_open [opened] = 1;
            fds [opened++] = fd;
            open++;
        }
        if (opened + refused >= count && deadline < 0)
            deadline = now + hold * 1000;
        if (deadline >= 0 && now >= deadline)
            break;
        struct epoll_event events [256];
        int ready = epoll_wait (poll_fd, events, 256, 10);
        for (int i = 0; i < ready; i++) {
            int fd = events [i].data.fd;
            if (events [i].events & EPOLLOUT) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (!err && greeting_size && write (fd, greeting, greeting_size) < 0)
                    err = errno;
                struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = fd };
                epoll_ctl (poll_fd, EPOLL_CTL_MOD, fd, &ev);
                if (err) {
                    epoll_ctl (poll_fd, EPOLL_CTL_DEL, fd, NULL);
                    closed_by_peer++;
                    open--;
                    continue;
                }
            }
            if (events [i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                char buf [4096];
                ssize_t n = read (fd, buf, sizeof buf);
                if (n == 0 || (n < 0 && errno != EAGAIN)) {
                    epoll_ctl (poll_fd, EPOLL_CTL_DEL, fd, NULL);
                    closed_by_peer++;
                    open--;
                }
            }
        }
        if (drip && now - last_drip >= drip) {
            for (long i = 0; i < opened; i++)
                if (is_open [i] && write (fds [i], "x", 1) < 0 && errno != EAGAIN)
                    is_open [i] = 0;
            last_drip = now;
        }
        if (progress && now - last_report >= 1000) {
            fprintf (stderr, "opened %ld refused %ld closed-by-peer %ld open %ld\n",
                     opened, refused, closed_by_peer, open);
            last_report = now;
        }
    }
    printf ("opened %ld refused %ld closed-by-peer %ld open %ld\n",
            opened, refused, closed_by_peer, open);
    fflush (stdout);
    if (close_all)
        for (long i = 0; i < opened; i++)
            close (fds [i]);
    free (fds);
    free (is_open);
    close (poll_fd);
    return 0;
}
