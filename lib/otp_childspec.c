#include "otp_childspec.h"
#include "otp_name.h"
#include "otp_opt.h"
#include "otp_proto.h"
#include "otp_registry.h"
#include <assert.h>
#include <ctype.h>
#include <stdarg.h>

#define DEFAULT_WORKER_SHUTDOWN 5000
#define SHOW_MAX 48             //  bytes of a bad value quoted in an error

otp_childspec_t *
otp_childspec_new (void)
{
    otp_childspec_t *self = (otp_childspec_t *) zmalloc (sizeof (otp_childspec_t));
    //  Room for the command, every argument and the NULL: never reallocated.
    self->argv = (char **) zmalloc ((OTP_CHILD_ARGS_MAX + 2) * sizeof (char *));
    self->argc = 1;
    self->env = (char **) zmalloc ((OTP_CHILD_ENV_MAX + 1) * sizeof (char *));
    return self;
}

void
otp_childspec_destroy (otp_childspec_t **self_p)
{
    otp_childspec_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < self->argc; i++)
        free (self->argv [i]);
    for (int i = 0; i < self->envc; i++)
        free (self->env [i]);
    free (self->argv);
    free (self->env);
    free (self->id);
    free (self->cwd);
    free (self->name);
    free (self->node);
    free (self);
    *self_p = NULL;
}

static char *
s_dup (const char *text)
{
    return text? strdup (text): NULL;
}

otp_childspec_t *
otp_childspec_dup (const otp_childspec_t *self)
{
    otp_childspec_t *copy = otp_childspec_new ();
    for (int i = 0; i < self->argc; i++)
        copy->argv [i] = s_dup (self->argv [i]);
    copy->argc = self->argc;
    for (int i = 0; i < self->envc; i++)
        copy->env [i] = strdup (self->env [i]);
    copy->envc = self->envc;
    copy->id = s_dup (self->id);
    copy->cwd = s_dup (self->cwd);
    copy->restart = self->restart;
    copy->shutdown_ms = self->shutdown_ms;
    copy->shutdown_set = self->shutdown_set;
    copy->type = self->type;
    copy->name = s_dup (self->name);
    copy->api = self->api;
    copy->tagged = self->tagged;
    copy->node = s_dup (self->node);
    copy->keep_cookie = self->keep_cookie;
    copy->keep_cookie_set = self->keep_cookie_set;
    return copy;
}

static int
s_fail (char *error, size_t error_size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (error, error_size, format, args);
    va_end (args);
    return -1;
}

//  A value as an error may quote it: the message stays one short line,
//  whatever the value holds.
static const char *
s_show (const char *value, char *buf, size_t size)
{
    size_t at = 0;
    for (const char *p = value; *p && at + 1 < size; p++) {
        if (at == SHOW_MAX) {
            snprintf (buf + at, size - at, "...");
            return buf;
        }
        buf [at++] = (unsigned char) *p < 0x20 || *p == 0x7f? '?': *p;
    }
    buf [at] = 0;
    return buf;
}

static bool
s_id_valid (const char *id)
{
    size_t len = strlen (id);
    if (len == 0 || len > OTP_CHILD_ID_MAX)
        return false;
    for (const char *p = id; *p; p++)
        if (!isalnum ((unsigned char) *p) && *p != '_' && *p != '.' && *p != '-')
            return false;
    return true;
}

//  The length of KEY in "KEY=VALUE", or 0 if it is not that.
static size_t
s_env_key (const char *entry)
{
    const char *equals = strchr (entry, '=');
    if (!equals || equals == entry || isdigit ((unsigned char) entry [0]))
        return 0;
    for (const char *p = entry; p < equals; p++)
        if (!isalnum ((unsigned char) *p) && *p != '_')
            return 0;
    return (size_t) (equals - entry);
}

static void
s_replace (char **field, const char *value)
{
    free (*field);
    *field = strdup (value);
}

static int
s_add_env (otp_childspec_t *self, const char *value, char *error, size_t error_size)
{
    char show [SHOW_MAX + 4];
    size_t key_len = s_env_key (value);
    if (key_len == 0)
        return s_fail (error, error_size, "env '%s' is not KEY=VALUE (KEY: [A-Za-z_][A-Za-z0-9_]*)",
                       s_show (value, show, sizeof show));
    //  The last value of a KEY wins, as in a shell: a config file's env and
    //  a flag may both give it.
    for (int i = 0; i < self->envc; i++)
        if (strncmp (self->env [i], value, key_len + 1) == 0) {
            s_replace (&self->env [i], value);
            return 0;
        }
    if (self->envc == OTP_CHILD_ENV_MAX)
        return s_fail (error, error_size, "too many env entries (at most %d)", OTP_CHILD_ENV_MAX);
    self->env [self->envc++] = strdup (value);
    return 0;
}

bool
otp_childspec_keeps_cookie (const otp_childspec_t *self)
{
    return self->keep_cookie_set? self->keep_cookie: self->api;
}

int
otp_childspec_set (otp_childspec_t *self, const char *key, const char *value,
                   char *error, size_t error_size)
{
    char show [SHOW_MAX + 4];
    static const char *keys [] = {
        "id", "command", "arg", "env", "cwd", "restart", "shutdown", "type",
        "name", "messages", "node", "keep-cookie", NULL
    };
    bool known = false;
    for (int i = 0; keys [i] && !known; i++)
        known = streq (key, keys [i]);
    if (!known)
        return s_fail (error, error_size, "unknown key '%s'", s_show (key, show, sizeof show));
    size_t len = strlen (value);
    if (len > OTP_ARG_MAX)
        return s_fail (error, error_size, "%s is too long (%zu bytes, at most %d)",
                       key, len, OTP_ARG_MAX);

    if (streq (key, "id")) {
        if (!s_id_valid (value))
            return s_fail (error, error_size, "id '%s' is not valid: 1..%d of A-Z a-z 0-9 _ . -",
                           s_show (value, show, sizeof show), OTP_CHILD_ID_MAX);
        s_replace (&self->id, value);
    }
    else
    if (streq (key, "command")) {
        if (len == 0)
            return s_fail (error, error_size, "command must not be empty");
        s_replace (&self->argv [0], value);
    }
    else
    if (streq (key, "arg")) {
        if (self->argc - 1 == OTP_CHILD_ARGS_MAX)
            return s_fail (error, error_size, "too many args (at most %d)", OTP_CHILD_ARGS_MAX);
        self->argv [self->argc++] = strdup (value);
    }
    else
    if (streq (key, "env"))
        return s_add_env (self, value, error, error_size);
    else
    if (streq (key, "cwd")) {
        if (len == 0)
            return s_fail (error, error_size, "cwd must not be empty");
        s_replace (&self->cwd, value);
    }
    else
    if (streq (key, "restart")) {
        if (streq (value, "permanent"))
            self->restart = OTP_RESTART_PERMANENT;
        else
        if (streq (value, "transient"))
            self->restart = OTP_RESTART_TRANSIENT;
        else
        if (streq (value, "temporary"))
            self->restart = OTP_RESTART_TEMPORARY;
        else
            return s_fail (error, error_size, "restart must be permanent, transient or temporary");
    }
    else
    if (streq (key, "shutdown")) {
        long ms = 0;
        if (streq (value, "brutal_kill"))
            ms = OTP_SHUTDOWN_BRUTAL;
        else
        if (streq (value, "infinity"))
            ms = OTP_SHUTDOWN_INFINITY;
        else {
            //  Digits only: strtol alone would take " 5" or "+5".
            bool digits = len > 0 && len < 12;
            for (const char *p = value; *p && digits; p++)
                digits = *p >= '0' && *p <= '9';
            if (!digits || otp_parse_int (value, 0, OTP_SHUTDOWN_MAX, &ms))
                return s_fail (error, error_size,
                               "shutdown must be MS (0..%d), brutal_kill or infinity",
                               OTP_SHUTDOWN_MAX);
        }
        self->shutdown_ms = (int) ms;
        self->shutdown_set = true;
    }
    else
    if (streq (key, "type")) {
        if (streq (value, "worker"))
            self->type = OTP_CHILD_WORKER;
        else
        if (streq (value, "supervisor"))
            self->type = OTP_CHILD_SUPERVISOR;
        else
            return s_fail (error, error_size, "type must be worker or supervisor");
    }
    else
    if (streq (key, "name")) {
        if (!otp_reg_name_valid (value))
            return s_fail (error, error_size,
                           "name '%s' is not valid: 1..%d printable characters, no spaces",
                           s_show (value, show, sizeof show), OTP_REG_NAME_MAX);
        s_replace (&self->name, value);
    }
    else
    if (streq (key, "messages")) {
        if (streq (value, "stdin") || streq (value, "tagged")) {
            self->api = false;
            self->tagged = streq (value, "tagged");
        }
        else
        if (streq (value, "api")) {
            self->api = true;
            self->tagged = false;
        }
        else
            return s_fail (error, error_size, "messages must be stdin, tagged or api");
    }
    else
    if (streq (key, "keep-cookie")) {
        if (streq (value, "yes") || streq (value, "no"))
            self->keep_cookie = streq (value, "yes");
        else
            return s_fail (error, error_size, "keep-cookie must be yes or no");
        self->keep_cookie_set = true;
    }
    else {
        assert (streq (key, "node"));
        char name [OTP_NAME_MAX + 1], host [OTP_HOST_MAX + 1];
        if (otp_node_split (value, name, sizeof name, host, sizeof host))
            return s_fail (error, error_size, "node '%s' is not valid: NAME@HOST",
                           s_show (value, show, sizeof show));
        s_replace (&self->node, value);
    }
    return 0;
}

int
otp_childspec_check (const otp_childspec_t *self, char *error, size_t error_size)
{
    if (!self->id)
        return s_fail (error, error_size, "id is missing");
    if (!self->argv [0])
        return s_fail (error, error_size, "command is missing (child '%s')", self->id);
    return 0;
}

int
otp_childspec_shutdown (const otp_childspec_t *self)
{
    if (self->shutdown_set)
        return self->shutdown_ms;
    return self->type == OTP_CHILD_SUPERVISOR? OTP_SHUTDOWN_INFINITY: DEFAULT_WORKER_SHUTDOWN;
}

zmsg_t *
otp_childspec_encode (const otp_childspec_t *self)
{
    zmsg_t *pairs = zmsg_new ();
    //  The command comes before its arguments, so a reader that sets the
    //  pairs in order (all readers do) rebuilds argv as it was.
    if (self->id) {
        zmsg_addstr (pairs, "id");
        zmsg_addstr (pairs, self->id);
    }
    if (self->argv [0]) {
        zmsg_addstr (pairs, "command");
        zmsg_addstr (pairs, self->argv [0]);
    }
    for (int i = 1; i < self->argc; i++) {
        zmsg_addstr (pairs, "arg");
        zmsg_addstr (pairs, self->argv [i]);
    }
    for (int i = 0; i < self->envc; i++) {
        zmsg_addstr (pairs, "env");
        zmsg_addstr (pairs, self->env [i]);
    }
    if (self->cwd) {
        zmsg_addstr (pairs, "cwd");
        zmsg_addstr (pairs, self->cwd);
    }
    zmsg_addstr (pairs, "restart");
    zmsg_addstr (pairs, otp_restart_name (self->restart));
    //  An unset shutdown stays unset: its default follows the type.
    if (self->shutdown_set) {
        char buf [16];
        zmsg_addstr (pairs, "shutdown");
        zmsg_addstr (pairs, otp_shutdown_name (self->shutdown_ms, buf, sizeof buf));
    }
    zmsg_addstr (pairs, "type");
    zmsg_addstr (pairs, otp_child_type_name (self->type));
    if (self->name) {
        zmsg_addstr (pairs, "name");
        zmsg_addstr (pairs, self->name);
    }
    zmsg_addstr (pairs, "messages");
    zmsg_addstr (pairs, self->api? "api": self->tagged? "tagged": "stdin");
    if (self->node) {
        zmsg_addstr (pairs, "node");
        zmsg_addstr (pairs, self->node);
    }
    //  Only when set: an otp-sup of an older version decodes the rest.
    if (self->keep_cookie_set) {
        zmsg_addstr (pairs, "keep-cookie");
        zmsg_addstr (pairs, self->keep_cookie? "yes": "no");
    }
    return pairs;
}

//  A frame as a string of at most `size - 1` bytes without NUL, or -1.
static int
s_frame_str (zframe_t *frame, char *buf, size_t size)
{
    if (zframe_size (frame) >= size || memchr (zframe_data (frame), 0, zframe_size (frame)))
        return -1;
    memcpy (buf, zframe_data (frame), zframe_size (frame));
    buf [zframe_size (frame)] = 0;
    return 0;
}

otp_childspec_t *
otp_childspec_decode (zmsg_t *pairs, char *error, size_t error_size)
{
    if (zmsg_size (pairs) % 2) {
        s_fail (error, error_size, "a child spec is key, value pairs, not %zu frames",
                zmsg_size (pairs));
        return NULL;
    }
    otp_childspec_t *self = otp_childspec_new ();
    //  Keys are short; anything longer than the longest is unknown anyway.
    char key [16], value [OTP_ARG_MAX + 1];
    for (zframe_t *frame = zmsg_first (pairs); frame; frame = zmsg_next (pairs)) {
        zframe_t *data = zmsg_next (pairs);
        int rc = 0;
        if (s_frame_str (frame, key, sizeof key))
            rc = s_fail (error, error_size, "unknown key in a child spec");
        else
        if (zframe_size (data) > OTP_ARG_MAX)
            rc = s_fail (error, error_size, "%s is too long (%zu bytes, at most %d)",
                         key, zframe_size (data), OTP_ARG_MAX);
        else
        if (s_frame_str (data, value, sizeof value))
            rc = s_fail (error, error_size, "%s holds a NUL byte", key);
        else
            rc = otp_childspec_set (self, key, value, error, error_size);
        if (rc) {
            otp_childspec_destroy (&self);
            return NULL;
        }
    }
    if (otp_childspec_check (self, error, error_size))
        otp_childspec_destroy (&self);
    return self;
}

otp_childspec_t *
otp_childspec_from_config (zconfig_t *section, char *error, size_t error_size)
{
    char show [SHOW_MAX + 4];
    if (!streq (zconfig_name (section), "child")) {
        s_fail (error, error_size, "'%s' is not a child section",
                s_show (zconfig_name (section), show, sizeof show));
        return NULL;
    }
    otp_childspec_t *self = otp_childspec_new ();
    const char *id = zconfig_value (section);
    int rc = otp_childspec_set (self, "id", id? id: "", error, error_size);
    for (zconfig_t *item = zconfig_child (section); item && rc == 0; item = zconfig_next (item)) {
        const char *key = zconfig_name (item);
        const char *value = zconfig_value (item)? zconfig_value (item): "";
        if (streq (key, "env")) {
            //  Each line of the subsection is one variable; a value on the
            //  env line itself ("env = KEY=VALUE") is one more.
            if (*value)
                rc = otp_childspec_set (self, "env", value, error, error_size);
            for (zconfig_t *var = zconfig_child (item); var && rc == 0; var = zconfig_next (var)) {
                const char *var_value = zconfig_value (var)? zconfig_value (var): "";
                if (zconfig_child (var))
                    rc = s_fail (error, error_size, "env '%s' is not KEY = VALUE",
                                 s_show (zconfig_name (var), show, sizeof show));
                else {
                    char *entry = zsys_sprintf ("%s=%s", zconfig_name (var), var_value);
                    rc = otp_childspec_set (self, "env", entry, error, error_size);
                    zstr_free (&entry);
                }
            }
        }
        else
        if (zconfig_child (item)) {
            rc = otp_childspec_set (self, key, value, error, error_size);
            //  A known key with lines under it: those lines are misplaced.
            if (rc == 0)
                rc = s_fail (error, error_size, "%s takes a value, not a section", key);
        }
        else
            rc = otp_childspec_set (self, key, value, error, error_size);
    }
    if (rc == 0)
        rc = otp_childspec_check (self, error, error_size);
    if (rc)
        otp_childspec_destroy (&self);
    return self;
}

const char *
otp_restart_name (otp_restart_t restart)
{
    return restart == OTP_RESTART_TRANSIENT? "transient"
         : restart == OTP_RESTART_TEMPORARY? "temporary": "permanent";
}

const char *
otp_child_type_name (otp_child_type_t type)
{
    return type == OTP_CHILD_SUPERVISOR? "supervisor": "worker";
}

const char *
otp_shutdown_name (int shutdown_ms, char *buf, size_t size)
{
    if (shutdown_ms == OTP_SHUTDOWN_BRUTAL)
        snprintf (buf, size, "brutal_kill");
    else
    if (shutdown_ms == OTP_SHUTDOWN_INFINITY)
        snprintf (buf, size, "infinity");
    else
        snprintf (buf, size, "%d", shutdown_ms);
    return buf;
}

static void
s_assert_fails (otp_childspec_t *spec, const char *key, const char *value, const char *expect)
{
    char error [256] = "";
    assert (otp_childspec_set (spec, key, value, error, sizeof error) == -1);
    assert (strstr (error, expect));
    assert (!strchr (error, '\n'));
}

void
otp_childspec_test (void)
{
    char error [256];
    otp_childspec_t *spec = otp_childspec_new ();
    assert (otp_childspec_check (spec, error, sizeof error) == -1);
    assert (streq (error, "id is missing"));
    assert (otp_childspec_set (spec, "id", "web.1_a-b", error, sizeof error) == 0);
    assert (otp_childspec_check (spec, error, sizeof error) == -1);
    assert (strstr (error, "command is missing"));

    //  Arguments given before the command stay after it, in order.
    assert (otp_childspec_set (spec, "arg", "-c", error, sizeof error) == 0);
    assert (otp_childspec_set (spec, "command", "sh", error, sizeof error) == 0);
    assert (otp_childspec_set (spec, "arg", "", error, sizeof error) == 0);
    assert (spec->argc == 3 && streq (spec->argv [0], "sh") && streq (spec->argv [1], "-c")
            && streq (spec->argv [2], "") && spec->argv [3] == NULL);
    assert (otp_childspec_set (spec, "command", "/bin/sh", error, sizeof error) == 0);
    assert (streq (spec->argv [0], "/bin/sh") && spec->argc == 3);
    assert (otp_childspec_check (spec, error, sizeof error) == 0);

    //  Defaults.
    assert (spec->restart == OTP_RESTART_PERMANENT && spec->type == OTP_CHILD_WORKER);
    assert (otp_childspec_shutdown (spec) == 5000);
    assert (otp_childspec_set (spec, "type", "supervisor", error, sizeof error) == 0);
    assert (otp_childspec_shutdown (spec) == OTP_SHUTDOWN_INFINITY);
    assert (otp_childspec_set (spec, "shutdown", "brutal_kill", error, sizeof error) == 0);
    assert (otp_childspec_shutdown (spec) == OTP_SHUTDOWN_BRUTAL);
    assert (otp_childspec_set (spec, "shutdown", "3600000", error, sizeof error) == 0);
    assert (otp_childspec_shutdown (spec) == 3600000);
    assert (otp_childspec_set (spec, "shutdown", "infinity", error, sizeof error) == 0);
    assert (otp_childspec_shutdown (spec) == OTP_SHUTDOWN_INFINITY);
    assert (otp_childspec_set (spec, "type", "worker", error, sizeof error) == 0);

    //  Each key's errors name it, on one line.
    s_assert_fails (spec, "foo", "x", "unknown key 'foo'");
    s_assert_fails (spec, "id", "a b", "id 'a b' is not valid: 1..64 of A-Z a-z 0-9 _ . -");
    s_assert_fails (spec, "id", "", "id '' is not valid");
    s_assert_fails (spec, "id", "line\nbreak", "id 'line?break'");
    s_assert_fails (spec, "restart", "sometimes", "restart must be permanent, transient or temporary");
    s_assert_fails (spec, "shutdown", "-1", "shutdown must be");
    s_assert_fails (spec, "shutdown", "3600001", "shutdown must be");
    s_assert_fails (spec, "shutdown", " 5", "shutdown must be");
    s_assert_fails (spec, "shutdown", "+5", "shutdown must be");
    s_assert_fails (spec, "shutdown", "", "shutdown must be");
    s_assert_fails (spec, "type", "daemon", "type must be worker or supervisor");
    s_assert_fails (spec, "messages", "pipe", "messages must be stdin, tagged or api");
    s_assert_fails (spec, "env", "FOO", "env 'FOO' is not KEY=VALUE");
    s_assert_fails (spec, "env", "=x", "is not KEY=VALUE");
    s_assert_fails (spec, "env", "1A=x", "is not KEY=VALUE");
    s_assert_fails (spec, "env", "A-B=x", "is not KEY=VALUE");
    s_assert_fails (spec, "name", "a b", "name 'a b' is not valid");
    s_assert_fails (spec, "node", "nohost", "node 'nohost' is not valid");
    s_assert_fails (spec, "node", "a@b@c", "node 'a@b@c' is not valid");
    s_assert_fails (spec, "command", "", "command must not be empty");
    s_assert_fails (spec, "cwd", "", "cwd must not be empty");
    char big [OTP_ARG_MAX + 2];
    memset (big, 'a', sizeof big - 1);
    big [sizeof big - 1] = 0;
    s_assert_fails (spec, "arg", big, "arg is too long (1025 bytes, at most 1024)");
    s_assert_fails (spec, "unknown-and-very-long-key-name-that-goes-on-and-on-forever", "x",
                    "unknown key 'unknown-and-very-long-key-name-that-goes-on-and-...'");
    big [OTP_ARG_MAX] = 0;
    assert (otp_childspec_set (spec, "arg", big, error, sizeof error) == 0);
    //  A failed set changes nothing.
    assert (streq (spec->id, "web.1_a-b") && spec->restart == OTP_RESTART_PERMANENT);

    //  Limits on repeated keys; the last value of an env KEY wins.
    while (spec->argc - 1 < OTP_CHILD_ARGS_MAX)
        assert (otp_childspec_set (spec, "arg", "x", error, sizeof error) == 0);
    s_assert_fails (spec, "arg", "x", "too many args (at most 62)");
    assert (otp_childspec_set (spec, "env", "A=1", error, sizeof error) == 0);
    assert (otp_childspec_set (spec, "env", "AB=2", error, sizeof error) == 0);
    assert (otp_childspec_set (spec, "env", "A=3=4", error, sizeof error) == 0);
    assert (otp_childspec_set (spec, "env", "_x9=", error, sizeof error) == 0);
    assert (spec->envc == 3 && streq (spec->env [0], "A=3=4") && streq (spec->env [1], "AB=2"));
    for (int i = spec->envc; i < OTP_CHILD_ENV_MAX; i++) {
        char entry [32];
        snprintf (entry, sizeof entry, "V%d=x", i);
        assert (otp_childspec_set (spec, "env", entry, error, sizeof error) == 0);
    }
    s_assert_fails (spec, "env", "ONE_MORE=x", "too many env entries (at most 64)");
    assert (otp_childspec_set (spec, "env", "A=5", error, sizeof error) == 0);

    assert (otp_childspec_set (spec, "restart", "transient", error, sizeof error) == 0);
    assert (otp_childspec_set (spec, "shutdown", "250", error, sizeof error) == 0);
    assert (otp_childspec_set (spec, "name", "web:1", error, sizeof error) == 0);
    assert (otp_childspec_set (spec, "messages", "tagged", error, sizeof error) == 0);
    assert (spec->tagged && !spec->api);
    {
        zmsg_t *tagged = otp_childspec_encode (spec);
        otp_childspec_t *round = otp_childspec_decode (tagged, error, sizeof error);
        assert (round && round->tagged && !round->api);
        otp_childspec_destroy (&round);
        zmsg_destroy (&tagged);
    }
    assert (otp_childspec_set (spec, "messages", "api", error, sizeof error) == 0);
    assert (spec->api && !spec->tagged);
    assert (otp_childspec_set (spec, "node", "a@127.0.0.1", error, sizeof error) == 0);
    assert (otp_childspec_set (spec, "cwd", "/tmp", error, sizeof error) == 0);
    //  An api child keeps the cookie unless told otherwise.
    assert (otp_childspec_keeps_cookie (spec));
    s_assert_fails (spec, "keep-cookie", "maybe", "keep-cookie must be yes or no");
    assert (otp_childspec_set (spec, "keep-cookie", "no", error, sizeof error) == 0);
    assert (!otp_childspec_keeps_cookie (spec));

    //  Encode, through the wire's frame list, and back: the same spec.
    zmsg_t *pairs = otp_childspec_encode (spec);
    zframe_t *wire = zmsg_encode (pairs);
    zmsg_destroy (&pairs);
    pairs = otp_payload_decode (wire);
    zframe_destroy (&wire);
    otp_childspec_t *back = otp_childspec_decode (pairs, error, sizeof error);
    assert (back);
    otp_childspec_t *copy = otp_childspec_dup (back);
    otp_childspec_destroy (&back);
    back = copy;
    assert (streq (back->id, spec->id) && back->argc == spec->argc && back->envc == spec->envc);
    for (int i = 0; i < spec->argc; i++)
        assert (streq (back->argv [i], spec->argv [i]));
    assert (back->argv [back->argc] == NULL);
    for (int i = 0; i < spec->envc; i++)
        assert (streq (back->env [i], spec->env [i]));
    assert (back->env [back->envc] == NULL);
    assert (streq (back->cwd, "/tmp") && streq (back->name, "web:1")
            && streq (back->node, "a@127.0.0.1") && back->api);
    assert (back->keep_cookie_set && !otp_childspec_keeps_cookie (back));
    assert (back->restart == OTP_RESTART_TRANSIENT && back->shutdown_set
            && back->shutdown_ms == 250 && back->type == OTP_CHILD_WORKER);
    otp_childspec_destroy (&back);

    //  Bad frame lists: odd, an unknown key, a NUL, too long, incomplete.
    zmsg_addstr (pairs, "restart");
    assert (!otp_childspec_decode (pairs, error, sizeof error));
    assert (strstr (error, "key, value pairs"));
    zmsg_addstr (pairs, "sometimes");
    assert (!otp_childspec_decode (pairs, error, sizeof error));
    assert (streq (error, "restart must be permanent, transient or temporary"));
    zmsg_destroy (&pairs);
    const struct { const char *key; size_t key_len; const char *value; size_t value_len;
                   const char *expect; } bad [] = {
        { "bogus", 5, "x", 1, "unknown key 'bogus'" },
        { "id\0x", 4, "x", 1, "unknown key in a child spec" },
        { "a-key-longer-than-any-known-one", 31, "x", 1, "unknown key in a child spec" },
        { "command", 7, "s\0h", 3, "command holds a NUL byte" },
        { "arg", 3, big, OTP_ARG_MAX + 1, "arg is too long" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        pairs = zmsg_new ();
        zmsg_addstr (pairs, "id");
        zmsg_addstr (pairs, "x");
        zmsg_addmem (pairs, bad [i].key, bad [i].key_len);
        zmsg_addmem (pairs, bad [i].value, bad [i].value_len);
        assert (!otp_childspec_decode (pairs, error, sizeof error));
        assert (strstr (error, bad [i].expect));
        zmsg_destroy (&pairs);
    }
    pairs = zmsg_new ();
    zmsg_addstr (pairs, "id");
    zmsg_addstr (pairs, "x");
    assert (!otp_childspec_decode (pairs, error, sizeof error));
    assert (strstr (error, "command is missing"));
    zmsg_addstr (pairs, "command");
    zmsg_addstr (pairs, "true");
    back = otp_childspec_decode (pairs, error, sizeof error);
    assert (back && !back->shutdown_set && otp_childspec_shutdown (back) == 5000 && !back->name);
    otp_childspec_destroy (&back);
    zmsg_destroy (&pairs);
    otp_childspec_destroy (&spec);

    //  From a config section: repeated args, an env subsection.
    zconfig_t *root = zconfig_str_load (
        "child = db\n"
        "    command = postgres\n"
        "    arg = -D\n"
        "    arg = \"/var/lib/pg data\"\n"
        "    env\n"
        "        PGPORT = 5433\n"
        "        LANG = C\n"
        "    restart = transient\n"
        "    shutdown = 30000\n"
        "    name = db\n"
        "child = bad\n"
        "    command = x\n"
        "    strategy = one_for_one\n"
        "child = sub\n"
        "    type = supervisor\n"
        "    command = otp-sup\n"
        "    child = inner\n"
        "        command = true\n"
        "child = a b\n"
        "    command = x\n"
        "child = nocommand\n"
        "    restart = temporary\n"
        "child = nested\n"
        "    command = x\n"
        "    cwd = /\n"
        "        oops = 1\n"
        "child = badenv\n"
        "    command = x\n"
        "    env\n"
        "        1X = y\n"
        "other = x\n");
    assert (root);
    zconfig_t *section = zconfig_child (root);
    spec = otp_childspec_from_config (section, error, sizeof error);
    assert (spec);
    assert (streq (spec->id, "db") && spec->argc == 3 && streq (spec->argv [0], "postgres")
            && streq (spec->argv [1], "-D") && streq (spec->argv [2], "/var/lib/pg data"));
    assert (spec->envc == 2 && streq (spec->env [0], "PGPORT=5433") && streq (spec->env [1], "LANG=C"));
    assert (spec->restart == OTP_RESTART_TRANSIENT && otp_childspec_shutdown (spec) == 30000);
    assert (streq (spec->name, "db"));
    otp_childspec_destroy (&spec);
    const char *expect [] = {
        "unknown key 'strategy'", "unknown key 'child'", "id 'a b' is not valid",
        "command is missing (child 'nocommand')", "cwd takes a value, not a section",
        "env '1X=y' is not KEY=VALUE", "'other' is not a child section"
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect [0]; i++) {
        section = zconfig_next (section);
        assert (section);
        assert (!otp_childspec_from_config (section, error, sizeof error));
        assert (strstr (error, expect [i]));
    }
    zconfig_destroy (&root);

    char buf [16];
    assert (streq (otp_shutdown_name (OTP_SHUTDOWN_BRUTAL, buf, sizeof buf), "brutal_kill"));
    assert (streq (otp_shutdown_name (OTP_SHUTDOWN_INFINITY, buf, sizeof buf), "infinity"));
    assert (streq (otp_shutdown_name (1500, buf, sizeof buf), "1500"));
    assert (streq (otp_restart_name (OTP_RESTART_TEMPORARY), "temporary"));
    assert (streq (otp_child_type_name (OTP_CHILD_SUPERVISOR), "supervisor"));
}
