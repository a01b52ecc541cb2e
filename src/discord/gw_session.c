/*
 * gw_session: the gateway state machine of one shard (see gw_session.h for the rules).
 */
#include "discord/gw_session.h"

#include <stdio.h>
#include <string.h>

#define DEF(v, d) ((v) ? (v) : (d))

/* What to do after a connection ends. */
typedef enum plan {
    PLAN_RESUME,           /* resume if a session exists, else identify */
    PLAN_IDENTIFY,         /* the session was dropped: identify */
    PLAN_IDENTIFY_INVALID, /* op 9 false: identify after a random 1-5 s */
} plan;

static double rnd(gw_session *s)
{
    if (s->cfg.rand01) {
        double r = s->cfg.rand01(s->cfg.rand_ctx);
        if (!(r >= 0.0)) r = 0.0; /* also catches NaN */
        if (r >= 1.0) r = 0.999999999;
        return r;
    }
    /* xorshift64*: enough for jitter, which only needs to decorrelate shards and restarts. */
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) * (1.0 / 9007199254740992.0);
}

static gw_action *push(gw_session *s, gw_action_kind kind)
{
    if (s->act_count == GW_SESSION_ACTIONS) {
        /* Cannot happen with one drain per event (each event emits at most three actions);
         * keep the newest decision rather than corrupting the queue. */
        s->act_head = (s->act_head + 1) % GW_SESSION_ACTIONS;
        s->act_count--;
    }
    gw_action *a = &s->actions[(s->act_head + s->act_count) % GW_SESSION_ACTIONS];
    s->act_count++;
    memset(a, 0, offsetof(gw_action, url));
    a->url[0] = a->text[0] = a->payload[0] = '\0';
    a->kind = kind;
    return a;
}

bool gw_session_next_action(gw_session *s, gw_action *out)
{
    if (s->act_count == 0) return false;
    const gw_action *a = &s->actions[s->act_head];
    /* Copy only the meaningful parts: the payload buffer is large. */
    memcpy(out, a, offsetof(gw_action, payload));
    if (a->kind == GW_ACT_SEND) {
        memcpy(out->payload, a->payload, a->len + 1);
    } else {
        out->payload[0] = '\0';
    }
    s->act_head = (s->act_head + 1) % GW_SESSION_ACTIONS;
    s->act_count--;
    return true;
}

static void emit_close(gw_session *s, int code, const char *why)
{
    gw_action *a = push(s, GW_ACT_CLOSE);
    a->code = code;
    snprintf(a->text, sizeof a->text, "%s", why);
}

static void emit_send(gw_session *s, int op, const char *payload, int len, bool priority)
{
    if (len < 0) return;
    gw_action *a = push(s, GW_ACT_SEND);
    a->op = op;
    a->priority = priority;
    a->len = (size_t)len;
    memcpy(a->payload, payload, (size_t)len);
    a->payload[len] = '\0';
}

static void drop_session(gw_session *s)
{
    s->session_id[0] = '\0';
    s->resume_url[0] = '\0';
    s->has_seq = false;
    s->seq = 0;
    s->failed_resumes = 0;
}

static void reset_connection(gw_session *s)
{
    s->hb_interval = 0;
    s->hb_next = 0;
    s->hb_awaiting_ack = false;
    s->hb_sent_at = 0;
    s->identify_wanted = false;
    s->hb_reply_unacked = false;
    s->hb_reply_pending = false;
    s->hb_reply_at = 0;
    s->deadline = 0;
    gw_rl_init(&s->rl, 0);
}

uint64_t gw_backoff_ms(uint32_t attempts, uint32_t base_ms, uint32_t cap_ms)
{
    if (attempts == 0) return 0;
    uint32_t shift = attempts - 1 > 30 ? 30 : attempts - 1;
    uint64_t d = (uint64_t)base_ms << shift;
    return d > cap_ms ? cap_ms : d;
}

/* Ends the current connection (closing it with close_code when >= 0) and schedules the next. */
static void end_connection(gw_session *s, uint64_t now, int close_code, const char *why, plan p)
{
    const bool reached_active = s->state == GW_ST_ACTIVE;
    if (close_code >= 0) emit_close(s, close_code, why);

    if (reached_active) {
        s->attempts = 0;
    } else {
        s->attempts++;
        if (s->connecting_to_resume && s->session_id[0] && p == PLAN_RESUME) {
            s->failed_resumes++;
            if (s->failed_resumes >= DEF(s->cfg.max_failed_resumes, 3u)) {
                /* openclaw #103596 / discordeno #3907: stop resume loops, start afresh. */
                drop_session(s);
            }
        }
    }
    if (p != PLAN_RESUME) drop_session(s);
    reset_connection(s);
    s->connecting_to_resume = false;
    s->state = GW_ST_DISCONNECTED;

    uint64_t d = gw_backoff_ms(s->attempts, DEF(s->cfg.backoff_base_ms, 1000u),
                               DEF(s->cfg.backoff_cap_ms, 60000u));
    if (d) d = d / 2 + (uint64_t)((double)(d - d / 2) * rnd(s));
    if (p == PLAN_IDENTIFY_INVALID) {
        uint32_t lo = DEF(s->cfg.invalid_wait_min_ms, 1000u);
        uint32_t hi = DEF(s->cfg.invalid_wait_max_ms, 5000u);
        if (hi < lo) hi = lo;
        uint64_t w = lo + (uint64_t)((double)(hi - lo) * rnd(s));
        if (w > d) d = w;
    }
    s->reconnect_at = now + d;
}

int gw_session_init(gw_session *s, const gw_session_cfg *cfg, uint64_t now)
{
    memset(s, 0, sizeof *s);
    if (!cfg || !cfg->token || !cfg->token[0] || strlen(cfg->token) >= sizeof s->token) return -1;
    if (cfg->shard_count == 0 || cfg->shard_id >= cfg->shard_count) return -1;
    s->cfg = *cfg;
    snprintf(s->token, sizeof s->token, "%s", cfg->token);
    s->cfg.token = s->token;
    if (gw_url_with_query(cfg->gateway_url, cfg->compress, s->gateway_url, sizeof s->gateway_url) <
        0)
        return -1;
    s->cfg.gateway_url = NULL; /* not kept: the caller's buffer may go away */
    s->state = GW_ST_DISCONNECTED;
    s->reconnect_at = now;
    s->latency_ms = -1;
    s->rng = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)cfg->shard_id << 32) ^ now;
    if (s->rng == 0) s->rng = 1;
    reset_connection(s);
    return 0;
}

bool gw_session_connected(const gw_session *s)
{
    return s->state == GW_ST_CONNECTING || s->state == GW_ST_WAIT_HELLO ||
           s->state == GW_ST_IDENTIFYING || s->state == GW_ST_RESUMING || s->state == GW_ST_ACTIVE;
}

static bool after_hello(const gw_session *s)
{
    return s->state == GW_ST_IDENTIFYING || s->state == GW_ST_RESUMING || s->state == GW_ST_ACTIVE;
}

static void send_heartbeat(gw_session *s)
{
    char buf[64];
    int n = gw_build_heartbeat(buf, sizeof buf, s->has_seq, s->seq);
    emit_send(s, GW_OP_HEARTBEAT, buf, n, true);
    s->n_heartbeats++;
}

/* Answers a server heartbeat request if the outbound limiter has a permit, else owes it. The
 * answer counts against the commands' share, not the heartbeats' reserved one, so regular
 * beats keep their room and the total stays within Discord's 120 per 60 s. */
static void answer_heartbeat_request(gw_session *s, uint64_t now)
{
    uint64_t at = now;
    if (gw_rl_acquire(&s->rl, now, &at)) {
        send_heartbeat(s);
        s->hb_reply_unacked = true;
        s->hb_reply_pending = false;
    } else {
        s->hb_reply_pending = true;
        s->hb_reply_at = at;
    }
}

static bool reply_due(const gw_session *s, uint64_t now)
{
    return s->hb_reply_pending && !s->hb_reply_unacked && now >= s->hb_reply_at;
}

void gw_session_poll(gw_session *s, uint64_t now)
{
    switch (s->state) {
    case GW_ST_DISCONNECTED:
        if (now >= s->reconnect_at) {
            const bool resume = s->session_id[0] != '\0';
            gw_action *a = push(s, GW_ACT_CONNECT);
            snprintf(a->url, sizeof a->url, "%s",
                     resume && s->resume_url[0] ? s->resume_url : s->gateway_url);
            s->connecting_to_resume = resume;
            s->state = GW_ST_CONNECTING;
            s->deadline = now + DEF(s->cfg.connect_timeout_ms, 10000u);
            s->n_connects++;
        }
        break;
    case GW_ST_CONNECTING:
        if (now >= s->deadline) {
            /* Abort the attempt; counts as a failed connect. */
            emit_close(s, 0, "connect timed out");
            gw_session_on_connect_error(s, now);
        }
        break;
    case GW_ST_WAIT_HELLO:
        if (now >= s->deadline) end_connection(s, now, 4000, "no HELLO in time", PLAN_RESUME);
        break;
    case GW_ST_IDENTIFYING:
    case GW_ST_RESUMING:
    case GW_ST_ACTIVE:
        if (s->hb_interval && now >= s->hb_next) {
            if (s->hb_awaiting_ack) {
                s->n_zombies++;
                end_connection(s, now, 4000, "zombied connection: no heartbeat ACK", PLAN_RESUME);
                break;
            }
            send_heartbeat(s);
            s->hb_awaiting_ack = true;
            s->hb_sent_at = now;
            /* Like tokio's MissedTickBehavior::Delay: a late tick does not cause a burst. */
            s->hb_next = now + s->hb_interval;
            s->hb_reply_pending = false; /* this beat answers any request still owed */
        }
        if (reply_due(s, now)) answer_heartbeat_request(s, now);
        break;
    case GW_ST_FATAL:
    case GW_ST_STOPPED:
        break;
    }
}

uint64_t gw_session_next_deadline(const gw_session *s)
{
    switch (s->state) {
    case GW_ST_DISCONNECTED:
        return s->reconnect_at;
    case GW_ST_CONNECTING:
    case GW_ST_WAIT_HELLO:
        return s->deadline;
    case GW_ST_IDENTIFYING:
    case GW_ST_RESUMING:
    case GW_ST_ACTIVE: {
        uint64_t d = s->hb_interval ? s->hb_next : UINT64_MAX;
        if (s->hb_reply_pending && !s->hb_reply_unacked && s->hb_reply_at < d) d = s->hb_reply_at;
        return d;
    }
    default:
        return UINT64_MAX;
    }
}

void gw_session_hold_until(gw_session *s, uint64_t at)
{
    if (s->state == GW_ST_DISCONNECTED && s->reconnect_at < at) s->reconnect_at = at;
}

void gw_session_on_open(gw_session *s, uint64_t now)
{
    if (s->state != GW_ST_CONNECTING) return;
    reset_connection(s);
    s->state = GW_ST_WAIT_HELLO;
    s->deadline = now + DEF(s->cfg.hello_timeout_ms, 15000u);
}

void gw_session_on_connect_error(gw_session *s, uint64_t now)
{
    if (s->state != GW_ST_CONNECTING) return;
    /* twilight #1942: a resume URL that cannot be reached is forgotten; the session may
     * still be resumed through the main gateway URL. */
    if (s->connecting_to_resume) s->resume_url[0] = '\0';
    end_connection(s, now, -1, "connect failed", PLAN_RESUME);
}

static void on_hello(gw_session *s, uint64_t now, const gw_envelope *env)
{
    gw_span v;
    int64_t interval = 0;
    if (!env->has_d || gw_json_get(env->d, "heartbeat_interval", &v) != 1 ||
        gw_json_int64(v, &interval) != GW_JSON_OK || interval < 1 || interval > 3600000) {
        end_connection(s, now, 4000, "HELLO without a valid heartbeat_interval", PLAN_RESUME);
        return;
    }
    s->hb_interval = (uint64_t)interval;
    s->hb_next = now + (uint64_t)((double)interval * rnd(s));
    s->hb_awaiting_ack = false;
    s->deadline = 0;
    gw_rl_init(&s->rl, s->hb_interval);
    if (s->session_id[0]) {
        char buf[GW_PAYLOAD_MAX];
        int n = gw_build_resume(buf, sizeof buf, s->token, s->session_id, s->has_seq, s->seq);
        gw_rl_acquire(&s->rl, now, NULL); /* a fresh window always has room */
        emit_send(s, GW_OP_RESUME, buf, n, false);
        s->state = GW_ST_RESUMING;
        s->n_resumes++;
    } else {
        s->state = GW_ST_IDENTIFYING;
        s->identify_wanted = true;
    }
}

static void on_ready(gw_session *s, uint64_t now, const gw_envelope *env)
{
    gw_span v, app;
    char sid[sizeof s->session_id];
    if (!env->has_d || gw_json_get(env->d, "session_id", &v) != 1 ||
        gw_json_string(v, sid, sizeof sid, NULL) != GW_JSON_OK || sid[0] == '\0') {
        end_connection(s, now, 4000, "READY without a valid session_id", PLAN_IDENTIFY);
        return;
    }
    snprintf(s->session_id, sizeof s->session_id, "%s", sid);
    s->resume_url[0] = '\0';
    char base[GW_URL_MAX];
    if (gw_json_get(env->d, "resume_gateway_url", &v) == 1 &&
        gw_json_string(v, base, sizeof base, NULL) == GW_JSON_OK) {
        if (gw_url_with_query(base, s->cfg.compress, s->resume_url, sizeof s->resume_url) < 0)
            s->resume_url[0] = '\0'; /* unusable: resume through the main URL */
    }
    if (gw_json_get(env->d, "application", &app) == 1 && gw_json_get(app, "id", &v) == 1)
        gw_json_snowflake(v, &s->application_id);
    if (gw_json_get(env->d, "user", &app) == 1 && gw_json_get(app, "id", &v) == 1)
        gw_json_snowflake(v, &s->user_id);
    s->state = GW_ST_ACTIVE;
    s->attempts = 0;
    s->failed_resumes = 0;
    s->n_ready++;
}

gw_frame_result gw_session_on_frame(gw_session *s, uint64_t now, const gw_envelope *env)
{
    if (!gw_session_connected(s) || s->state == GW_ST_CONNECTING) return GW_FRAME_IGNORED;
    switch (env->op) {
    case GW_OP_HELLO:
        if (s->state != GW_ST_WAIT_HELLO) return GW_FRAME_IGNORED;
        on_hello(s, now, env);
        return GW_FRAME_CONTROL;
    case GW_OP_HEARTBEAT_ACK:
        if (s->hb_awaiting_ack) {
            s->latency_ms = (int64_t)(now - s->hb_sent_at);
            s->hb_awaiting_ack = false;
        }
        s->n_acks++;
        s->hb_reply_unacked = false;
        if (reply_due(s, now)) answer_heartbeat_request(s, now);
        return GW_FRAME_CONTROL;
    case GW_OP_HEARTBEAT:
        /* The server wants a beat now; it does not move the regular schedule. Requests that
         * arrive while an answer is unacknowledged are folded into one: answering each of a
         * burst of 300 would exceed 120 sends per 60 s and get the connection closed (4008). */
        s->n_heartbeat_requests++;
        if (s->hb_reply_unacked || s->hb_reply_pending) {
            s->hb_reply_pending = true;
            s->n_heartbeat_coalesced++;
        } else {
            answer_heartbeat_request(s, now);
        }
        return GW_FRAME_CONTROL;
    case GW_OP_RECONNECT:
        s->n_reconnect_requests++;
        end_connection(s, now, 4000, "server asked to reconnect (op 7)", PLAN_RESUME);
        return GW_FRAME_CONTROL;
    case GW_OP_INVALID_SESSION: {
        s->n_invalid_sessions++;
        const bool resumable = env->has_d && gw_json_kind_of(env->d) == GW_JSON_TRUE;
        if (resumable && s->session_id[0])
            end_connection(s, now, 4000, "invalid session (resumable)", PLAN_RESUME);
        else
            end_connection(s, now, 1000, "invalid session", PLAN_IDENTIFY_INVALID);
        return GW_FRAME_CONTROL;
    }
    case GW_OP_DISPATCH:
        break;
    default:
        return GW_FRAME_IGNORED;
    }
    if (!after_hello(s)) return GW_FRAME_IGNORED;

    if (env->has_seq) {
        if (s->has_seq && env->seq <= s->seq) {
            s->n_duplicates++;
            return GW_FRAME_DUPLICATE;
        }
        s->has_seq = true;
        s->seq = env->seq;
    }
    if (strcmp(env->t, "READY") == 0) {
        on_ready(s, now, env);
    } else if (strcmp(env->t, "RESUMED") == 0) {
        if (s->state == GW_ST_RESUMING) {
            s->state = GW_ST_ACTIVE;
            s->attempts = 0;
            s->failed_resumes = 0;
            s->n_resumed++;
        }
    }
    return GW_FRAME_DISPATCH;
}

void gw_session_on_close(gw_session *s, uint64_t now, int code)
{
    if (!gw_session_connected(s)) return;
    if (s->state == GW_ST_CONNECTING) {
        gw_session_on_connect_error(s, now);
        return;
    }
    switch (gw_close_classify(code)) {
    case GW_CLOSE_FATAL: {
        gw_action *a = push(s, GW_ACT_FATAL);
        a->code = code;
        snprintf(a->text, sizeof a->text, "%s", gw_close_describe(code));
        snprintf(s->fatal_reason, sizeof s->fatal_reason, "%s", a->text);
        reset_connection(s);
        s->state = GW_ST_FATAL;
        break;
    }
    case GW_CLOSE_NEW_SESSION:
        end_connection(s, now, -1, gw_close_describe(code), PLAN_IDENTIFY);
        break;
    case GW_CLOSE_RESUME:
        end_connection(s, now, -1, gw_close_describe(code), PLAN_RESUME);
        break;
    }
}

void gw_session_on_protocol_error(gw_session *s, uint64_t now, const char *why)
{
    if (!gw_session_connected(s)) return;
    if (s->state == GW_ST_CONNECTING) {
        gw_session_on_connect_error(s, now);
        return;
    }
    end_connection(s, now, 4000, why ? why : "protocol error", PLAN_RESUME);
}

bool gw_session_wants_identify(const gw_session *s)
{
    return s->state == GW_ST_IDENTIFYING && s->identify_wanted;
}

bool gw_session_needs_identify(const gw_session *s)
{
    return s->session_id[0] == '\0';
}

void gw_session_identify(gw_session *s, uint64_t now)
{
    if (!gw_session_wants_identify(s)) return;
    gw_identify_params p = {
        .token = s->token,
        .intents = s->cfg.intents,
        .shard_id = s->cfg.shard_id,
        .shard_count = s->cfg.shard_count,
        .large_threshold = DEF(s->cfg.large_threshold, 50u),
    };
    char buf[GW_PAYLOAD_MAX];
    int n = gw_build_identify(buf, sizeof buf, &p);
    gw_rl_acquire(&s->rl, now, NULL);
    emit_send(s, GW_OP_IDENTIFY, buf, n, false);
    s->identify_wanted = false;
    s->has_seq = false; /* a new session numbers from 1 */
    s->seq = 0;
    s->n_identifies++;
}

void gw_session_stop(gw_session *s, uint64_t now)
{
    (void)now;
    if (s->state == GW_ST_STOPPED || s->state == GW_ST_FATAL) return;
    if (gw_session_connected(s))
        emit_close(s, s->state == GW_ST_CONNECTING ? 0 : 1000, "shutting down");
    reset_connection(s);
    drop_session(s); /* a 1000 close ends the session on Discord's side */
    s->state = GW_ST_STOPPED;
}

const char *gw_state_name(gw_state st)
{
    static const char *const names[] = {"disconnected", "connecting", "wait_hello", "identifying",
                                        "resuming",     "active",     "fatal",      "stopped"};
    return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "?";
}

gw_close_class gw_close_classify(int code)
{
    switch (code) {
    case 4004:
    case 4010:
    case 4011:
    case 4012:
    case 4013:
    case 4014:
        return GW_CLOSE_FATAL;
    case 4007:
    case 4009:
        return GW_CLOSE_NEW_SESSION;
    default:
        /* 4000-4003, 4005, 4008, unknown 4xxx, 1000/1001 from the server (Cloudflare sends
         * them), 1006 / no close frame: resume (docs: "disconnected but no close code"). */
        return GW_CLOSE_RESUME;
    }
}

const char *gw_close_describe(int code)
{
    switch (code) {
    case 1000:
        return "normal closure (1000) from the server: resuming";
    case 1001:
        return "going away (1001) from the server: resuming";
    case 1006:
        return "connection lost without a close frame (1006): resuming";
    case 4000:
        return "unknown error (4000): resuming";
    case 4001:
        return "unknown opcode (4001): resuming";
    case 4002:
        return "decode error (4002): resuming";
    case 4003:
        return "not authenticated (4003): resuming";
    case 4004:
        return "authentication failed (close 4004): the bot token is invalid or was reset; set "
               "a valid DISCORD_TOKEN";
    case 4005:
        return "already authenticated (4005): resuming";
    case 4007:
        return "invalid sequence (4007): starting a new session";
    case 4008:
        return "rate limited (4008): resuming";
    case 4009:
        return "session timed out (4009): starting a new session";
    case 4010:
        return "invalid shard (close 4010): the shard id/count sent is invalid; check --shard "
               "ID/COUNT and shard_count";
    case 4011:
        return "sharding required (close 4011): the bot is in too many guilds for one shard; "
               "run more shards (shard_count)";
    case 4012:
        return "invalid API version (close 4012): Discord no longer accepts gateway v10; "
               "upgrade fluxbot";
    case 4013:
        return "invalid intents (close 4013): the intents bitfield was rejected";
    case 4014:
        return "disallowed intents (close 4014): a privileged intent is not enabled for this "
               "application; enable it in the Developer Portal or stop requesting it";
    default:
        return "closed by the server: resuming";
    }
}
