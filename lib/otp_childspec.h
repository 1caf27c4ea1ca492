/*  otp_childspec - what to run as a supervised child, and how (OTP's child
    spec): read from a config file, from the wire, or from otp-ctl's flags,
    always through otp_childspec_set, so that every way in is checked the
    same way.

    Keys (otp_childspec_set), each a string:
      id        1..64 of [A-Za-z0-9_.-]; unique within a supervisor
      command   the program: looked up in PATH when it has no '/'
      arg       one argument; repeated, in order (at most 62)
      env       KEY=VALUE added to the child's environment; repeated (at most 64)
      cwd       working directory (default: the supervisor's)
      restart   permanent (default) | transient | temporary
      shutdown  MS (0..3600000) | brutal_kill | infinity
                (default 5000 for a worker, infinity for a supervisor)
      type      worker (default) | supervisor
      name      a registry name (otp_reg_name_valid): the child is reachable
                by it cluster-wide
      messages  stdin (default: messages to the name arrive on stdin, one per
                line, and a call's reply is the next line on stdout) | tagged
                (each line starts with a call's id, or '-' for a plain
                message; a reply is a line "ID REPLY", in any order) | api
                (the child registers OTP_NAME itself through lib/)
      node      where a cluster child should run (a placement wish)
      keep-cookie  yes | no: whether the child inherits OTP_COOKIE and
                OTP_COOKIE_FILE (otp_spawn strips them otherwise). Default:
                yes with `messages = api` (it talks to the cluster), else no:
                a worker does not hold the keys to the cluster by accident */
#ifndef OTP_CHILDSPEC_H
#define OTP_CHILDSPEC_H

#include <czmq.h>
#include <stdbool.h>

#define OTP_CHILD_ID_MAX 64
#define OTP_CHILD_ARGS_MAX 62       //  arguments after the command
#define OTP_CHILD_ENV_MAX 64
#define OTP_SHUTDOWN_BRUTAL 0       //  SIGKILL at once
#define OTP_SHUTDOWN_INFINITY -1    //  SIGTERM, and wait as long as it takes
#define OTP_SHUTDOWN_MAX 3600000

typedef enum { OTP_RESTART_PERMANENT, OTP_RESTART_TRANSIENT, OTP_RESTART_TEMPORARY } otp_restart_t;
typedef enum { OTP_CHILD_WORKER, OTP_CHILD_SUPERVISOR } otp_child_type_t;

typedef struct {
    char *id;
    char **argv;                //  command, args..., NULL; argv [0] NULL until set
    int argc;                   //  1 + args: argv [argc] is NULL, set or not
    char **env;                 //  "KEY=VALUE"..., NULL
    int envc;
    char *cwd;                  //  NULL: the supervisor's
    otp_restart_t restart;
    int shutdown_ms;            //  OTP_SHUTDOWN_BRUTAL, OTP_SHUTDOWN_INFINITY, or ms
    bool shutdown_set;          //  false: the type's default applies
    otp_child_type_t type;
    char *name;                 //  NULL: none
    bool api;                   //  messages = api
    bool tagged;                //  messages = tagged
    char *node;                 //  NULL: no wish
    bool keep_cookie;           //  inherits the cookie (see keep-cookie)
    bool keep_cookie_set;       //  false: the default (api) applies
} otp_childspec_t;

otp_childspec_t *otp_childspec_new (void);
void otp_childspec_destroy (otp_childspec_t **self_p);
otp_childspec_t *otp_childspec_dup (const otp_childspec_t *self);

//  Sets one key (above). Returns 0, or -1 with a one-line reason naming the
//  key in `error` ("restart must be permanent, transient or temporary").
int otp_childspec_set (otp_childspec_t *self, const char *key, const char *value,
                       char *error, size_t error_size);
//  Whether the spec is whole: an id and a command. 0, or -1 and a reason.
int otp_childspec_check (const otp_childspec_t *self, char *error, size_t error_size);
//  The shutdown that applies: the one set, else the type's default.
int otp_childspec_shutdown (const otp_childspec_t *self);
//  Whether the child inherits the cookie: keep-cookie if set, else api.
bool otp_childspec_keeps_cookie (const otp_childspec_t *self);

//  The spec as key, value frames (arg and env repeated, in order); and back.
//  Decoding checks every pair with otp_childspec_set, then the whole.
zmsg_t *otp_childspec_encode (const otp_childspec_t *self);
otp_childspec_t *otp_childspec_decode (zmsg_t *pairs, char *error, size_t error_size);

//  From a config section (ZPL, see otp-sup --help):
//      child = ID
//          command = PROG
//          arg = A             (repeated)
//          env
//              KEY = VALUE     (one line each)
//          restart = transient ...
//  Every other key is one of the keys above, with a value and no lines
//  under it; `env = KEY=VALUE` works too. Unknown keys are an error, a
//  nested `child` among them: otp-sup looks for subtrees before it calls
//  this.
otp_childspec_t *otp_childspec_from_config (zconfig_t *section, char *error, size_t error_size);

//  Names of the enums, as written in specs and shown by which-children.
const char *otp_restart_name (otp_restart_t restart);
const char *otp_child_type_name (otp_child_type_t type);
//  "brutal_kill", "infinity" or the number of ms, into `buf`.
const char *otp_shutdown_name (int shutdown_ms, char *buf, size_t size);

void otp_childspec_test (void);

#endif
