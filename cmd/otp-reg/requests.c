/*  Calls from processes: register, whereis, groups... Reads are answered
    from this replica alone; only `register` waits for the other replicas. */
#include "reg.h"

static void
s_error (reg_t *self, const otp_message_t *call, const char *format, const char *arg)
{
    zmsg_t *values = zmsg_new ();
    zmsg_addstr (values, "error");
    zmsg_addstrf (values, format, arg);
    reg_reply (self, call, &values);
}

//  The sorted keys of `table` after `after`, at most OTP_REG_PAGE of them.
static void
s_page (zhashx_t *table, const char *after, zmsg_t *values)
{
    zlistx_t *keys = zhashx_keys (table);
    otp_names_sort (keys);
    int count = 0;
    for (char *key = (char *) zlistx_first (keys); key && count < OTP_REG_PAGE;
         key = (char *) zlistx_next (keys))
        if (strcmp (key, after) > 0) {
            zmsg_addstr (values, key);
            count++;
        }
    zlistx_destroy (&keys);
}

static void
s_info (reg_t *self, zmsg_t *values)
{
    uint64_t local = 0, members = 0, replicas = 0;
    for (entry_t *entry = (entry_t *) zhashx_first (self->names); entry;
         entry = (entry_t *) zhashx_next (self->names))
        local += streq (entry->node, self->node);
    for (zhashx_t *group = (zhashx_t *) zhashx_first (self->groups); group;
         group = (zhashx_t *) zhashx_next (self->groups))
        members += zhashx_size (group);
    for (rpeer_t *peer = (rpeer_t *) zhashx_first (self->peers); peer;
         peer = (rpeer_t *) zhashx_next (self->peers))
        replicas += peer->replica;
    struct { const char *key; uint64_t value; } stats [] = {
        { "names", zhashx_size (self->names) },
        { "local_names", local },
        { "groups", zhashx_size (self->groups) },
        { "members", members },
        { "replicas", replicas },
        { "claims", zhashx_size (self->claims) },
        { "registrations", self->stats.registrations },
        { "unregistrations", self->stats.unregistrations },
        { "conflicts", self->stats.conflicts },
        { "requests", self->stats.requests },
        { "ops_in", self->stats.ops_in },
        { "ops_out", self->stats.ops_out },
        { "claim_timeouts", self->stats.timeouts },
        { "bad_messages", self->stats.bad_messages },
    };
    zmsg_addstr (values, "node");
    zmsg_addstr (values, self->node);
    for (size_t i = 0; i < sizeof stats / sizeof stats [0]; i++) {
        zmsg_addstr (values, stats [i].key);
        zmsg_addstrf (values, "%" PRIu64, stats [i].value);
    }
}

void
reg_on_request (reg_t *self, otp_message_t **call_p)
{
    otp_message_t *call = *call_p;
    self->stats.requests++;
    zmsg_t *request = otp_payload_decode (call->payload), *op = NULL;
    int index = request? otp_batch_pop (request, otp_reg_requests, &op): -2;
    //  `meta` is register's metadata, or members' page cursor.
    char arg [OTP_ARG_MAX + 1] = "", meta [OTP_ARG_MAX + 1] = "", addr [OTP_NAME_MAX + 1] = "";
    //  The caller's address, if it is a process of this node.
    const char *at = strchr (call->from, '@');
    bool local = at && at > call->from && at - call->from <= OTP_NAME_MAX
              && streq (at + 1, self->node);
    if (local)
        snprintf (addr, sizeof addr, "%.*s", (int) (at - call->from), call->from);
    //  register-as and unregister-as: for another process of the caller's
    //  node (as Erlang's register/2 takes any local pid), named last.
    char as [OTP_NAME_MAX + 1] = "";
    bool bad_as = false;
    if (index == REG_REGISTER_AS || index == REG_UNREGISTER_AS) {
        bad_as = otp_msg_str (op, index == REG_REGISTER_AS? 2: 1, as, sizeof as) || !otp_name_valid (as);
        if (!bad_as && local)
            snprintf (addr, sizeof addr, "%s", as);
        index = index == REG_REGISTER_AS? REG_REGISTER: REG_UNREGISTER;
    }
    if (index < 0 || zmsg_size (request) > 0 || bad_as
    ||  (zmsg_size (op) > 1 && otp_msg_str (op, 0, arg, sizeof arg))
    ||  (zmsg_size (op) > 2 && otp_msg_str (op, 1, meta, sizeof meta))) {
        self->stats.bad_messages++;
        s_error (self, call, "%s", "malformed request");
    }
    else
    if ((index == REG_REGISTER || index == REG_UNREGISTER || index == REG_JOIN
      || index == REG_LEAVE || index == REG_WHEREIS || index == REG_MEMBERS)
    &&  !otp_reg_name_valid (arg))
        s_error (self, call, "'%s' is not a valid name (1..255 printable characters, no spaces)",
                 strlen (arg) > 64? "(too long)": arg);
    else
    if ((index == REG_REGISTER || index == REG_UNREGISTER || index == REG_JOIN
      || index == REG_LEAVE) && !local)
        s_error (self, call, "%s", "only a process attached to this node may register here");
    else
    if (index == REG_REGISTER) {
        entry_t *held = (entry_t *) zhashx_lookup (self->names, arg);
        if (held && streq (held->node, self->node) && streq (held->addr, addr)) {
            zmsg_t *values = zmsg_new ();
            zmsg_addstr (values, "ok");
            reg_reply (self, call, &values);
        }
        else
        if (held) {
            char holder [OTP_ARG_MAX + OTP_NAME_MAX + OTP_NODE_MAX + 32];
            snprintf (holder, sizeof holder, "'%s' is registered to %s@%s",
                      arg, held->addr, held->node);
            s_error (self, call, "%s", holder);
        }
        else
        if (zhashx_lookup (self->claims, arg))
            s_error (self, call, "'%s' is being registered by another process", arg);
        else
            reg_claim (self, arg, addr, meta, call_p);
    }
    else
    if (index == REG_UNREGISTER) {
        entry_t *held = (entry_t *) zhashx_lookup (self->names, arg);
        if (held && !(streq (held->node, self->node) && streq (held->addr, addr)))
            s_error (self, call, "'%s' is registered to another process", arg);
        else {
            reg_delete (self, arg);
            zmsg_t *values = zmsg_new ();
            zmsg_addstr (values, "ok");
            reg_reply (self, call, &values);
        }
    }
    else {
        zmsg_t *values = zmsg_new ();
        zmsg_addstr (values, "ok");
        if (index == REG_WHEREIS) {
            entry_t *held = (entry_t *) zhashx_lookup (self->names, arg);
            if (held) {
                zmsg_addstr (values, held->node);
                zmsg_addstr (values, held->addr);
                zmsg_addstr (values, held->meta);
            }
        }
        else
        if (index == REG_NAMES)
            s_page (self->names, arg, values);
        else
        if (index == REG_GROUPS)
            s_page (self->groups, arg, values);
        else
        if (index == REG_MEMBERS) {
            zhashx_t *members = (zhashx_t *) zhashx_lookup (self->groups, arg);
            if (members)
                s_page (members, meta, values);
        }
        else
        if (index == REG_JOIN)
            reg_join (self, arg, addr);
        else
        if (index == REG_LEAVE)
            reg_leave (self, arg, addr);
        else
            s_info (self, values);
        reg_reply (self, call, &values);
    }
    zmsg_destroy (&op);
    zmsg_destroy (&request);
    otp_message_destroy (call_p);
}
