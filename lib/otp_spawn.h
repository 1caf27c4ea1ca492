/*  otp_spawn - fork and exec, done carefully (s6's way).
    The child touches no ZeroMQ: it resets its signal mask, moves to its own
    session if asked, and execs. A close-on-exec pipe tells the parent,
    synchronously, whether exec worked, so a bad command is an error at once
    rather than a child that dies with 127.                                  */
#ifndef OTP_SPAWN_H
#define OTP_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#define OTP_SPAWN_EXTRA 3

typedef struct {
    char *const *argv;      //  argv[0] is looked up in PATH when it has no '/'
    bool new_session;       //  setsid(): own process group, no terminal
    bool null_stdio;        //  stdin/stdout/stderr to /dev/null ...
    int stdio [3];          //  ... except those given here (> 2); 0 keeps it null
    //  Given to the child as descriptors 3, 4, 5... (each > 2); 0: none.
    int extra [OTP_SPAWN_EXTRA];
    char *const *env;       //  "KEY=VALUE"... added to our environment; NULL: none
    const char *cwd;        //  NULL: ours
    int death_signal;       //  sent to the child when we die (PR_SET_PDEATHSIG); 0: none
    //  The child inherits OTP_COOKIE, OTP_COOKIE_FILE (every OTP_COOKIE*)
    //  only if this is set: a worker or a remote command does not get the
    //  keys to the cluster unless its spec asks. `env` may still set them.
    bool keep_cookie;
} otp_spawn_opts_t;

//  Returns the child's pid, or -1 with a one-line reason in `error`.
pid_t otp_spawn (const otp_spawn_opts_t *opts, char *error, size_t error_size);

//  Writes all of `data` to a blocking descriptor (EINTR retried): 0, or -1.
int otp_write_all (int fd, const void *data, size_t size);

#endif
