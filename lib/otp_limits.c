#include "otp_limits.h"
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <sys/resource.h>
#include <assert.h>

static int s_used = -1;
static int64_t s_counted_at;

void
otp_limits_raise (void)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit (RLIMIT_NOFILE, &limit);
    }
    //  Every socket takes a descriptor, so there can be no more sockets
    //  than descriptors; CZMQ's 1024 would abort a node of ~1000 peers.
    int max = otp_limits_fd_max ();
    if (max > 65536)
        max = 65536;
    if (max > 1024)
        zsys_set_max_sockets ((size_t) max);
}

int
otp_limits_fd_max (void)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) || limit.rlim_cur == RLIM_INFINITY
    ||  limit.rlim_cur > 1 << 20)
        return 1 << 20;
    return (int) limit.rlim_cur;
}

static int
s_count (void)
{
    DIR *dir = opendir ("/proc/self/fd");
    if (!dir)               //  no descriptor left to look (or no /proc): full
        return errno == EMFILE || errno == ENFILE? otp_limits_fd_max (): 0;
    int count = -1;         //  the directory's own descriptor
    while (readdir (dir))
        count++;
    closedir (dir);
    return count - 2;       //  "." and ".."
}

int
otp_limits_fd_used (void)
{
    int64_t now = zclock_mono ();
    if (s_used < 0 || now - s_counted_at >= 20) {
        s_used = s_count ();
        s_counted_at = now;
    }
    return s_used;
}

void
otp_limits_took (int count)
{
    if (s_used >= 0)
        s_used += count;
}

bool
otp_limits_fd_room (int count)
{
    return otp_limits_fd_used () + count + OTP_FD_RESERVE <= otp_limits_fd_max ();
}

void
otp_limits_test (void)
{
    int fds [8];
    for (int i = 0; i < 8; i++) {
        fds [i] = dup (2);
        assert (fds [i] >= 0 && fds [i] < otp_limits_fd_max ());
    }
    zclock_sleep (25);
    //  Other threads (CZMQ's reaper) may close descriptors meanwhile: the
    //  count is only known to hold at least ours and the standard three.
    assert (otp_limits_fd_used () >= 8 + 3);
    for (int i = 0; i < 8; i++)
        close (fds [i]);
    //  Within 20 ms the count is kept, and moved by what was taken.
    int counted = otp_limits_fd_used ();
    otp_limits_took (3);
    assert (otp_limits_fd_used () == counted + 3);
    assert (otp_limits_fd_room (1));
    assert (!otp_limits_fd_room (otp_limits_fd_max ()));
}
