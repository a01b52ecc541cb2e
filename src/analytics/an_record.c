/* The analytics producer API (see an_record.h): event messages numbered and sent to the writer. */
#include "analytics/an_record.h"

#include "moderation/mod_state.h"
#include "msgs/an.h"

static int64_t event_time(uint64_t ts_ms)
{
    /* 0 means now; absurd values (beyond year ~292 million) are treated as now as well. */
    return ts_ms && ts_ms < (UINT64_C(1) << 62) ? (int64_t)ts_ms : (int64_t)rt_wall_ms();
}

static int send_event(rt_actor *writer, an_event_msg *m)
{
    /* The number is taken last, just before the send, so it orders this event against resets
     * requested by other threads as closely as the call order allows. */
    m->ev.seq = an_seq_next();
    /* Lazily: the writer commits in batches and ticks every flush_ms on its own, so waking it
     * for each event (a futex wake and a context switch, per interaction) buys nothing. */
    int rc = rt_send_lazy(writer, &m->hdr);
    if (rc != 0) rt_msg_free(&m->hdr);
    return rc;
}

int an_record_command(rt_actor *writer, const an_command_event *e)
{
    if (!writer || !e) return -RT_ESTOPPED;
    an_event_msg *m = an_event_msg_new();
    an_event *ev = &m->ev;
    ev->kind = AN_EV_COMMAND;
    ev->ts_ms = event_time(e->ts_ms);
    ev->user_id = e->user_id;
    ev->guild_id = e->guild_id;
    ev->channel_id = e->channel_id;
    ev->duration_ms = e->exec_ms;
    ev->success = e->success;
    ev->cmd_kind = e->kind;
    ev->interaction_id = e->interaction_id;
    an_event_set_text(ev, &(an_event_text){.command = e->command ? e->command : ""});
    return send_event(writer, m);
}

int an_record_outcome(rt_actor *writer, uint64_t interaction_id, bool success)
{
    if (!writer) return -RT_ESTOPPED;
    if (!interaction_id) return 0;
    an_event_msg *m = an_event_msg_new();
    an_event *ev = &m->ev;
    ev->kind = AN_EV_OUTCOME;
    ev->ts_ms = (int64_t)rt_wall_ms();
    ev->interaction_id = interaction_id;
    ev->success = success;
    return send_event(writer, m);
}

int an_record_image(rt_actor *writer, const an_image_event *e)
{
    if (!writer || !e) return -RT_ESTOPPED;
    an_event_msg *m = an_event_msg_new();
    an_event *ev = &m->ev;
    ev->kind = AN_EV_IMAGE;
    ev->ts_ms = event_time(e->ts_ms);
    ev->user_id = e->user_id;
    ev->guild_id = e->guild_id;
    ev->duration_ms = e->generation_ms;
    ev->success = e->success;
    ev->is_video = e->is_video;
    ev->upscale_factor = e->upscale_factor;
    ev->width = e->width;
    ev->height = e->height;
    an_event_set_text(ev, &(an_event_text){.prompt = e->prompt,
                                           .resolution = e->resolution,
                                           .loras = e->loras,
                                           .generation_type = e->generation_type});
    return send_event(writer, m);
}

int an_record_activity(rt_actor *writer, const an_activity_event *e)
{
    if (!writer || !e) return -RT_ESTOPPED;
    an_event_msg *m = an_event_msg_new();
    an_event *ev = &m->ev;
    ev->kind = AN_EV_ACTIVITY;
    ev->ts_ms = event_time(e->ts_ms);
    ev->user_id = e->user_id;
    ev->guild_id = e->guild_id;
    ev->success = true;
    an_event_set_text(
        ev, &(an_event_text){.action = e->action ? e->action : "", .details = e->details});
    return send_event(writer, m);
}

int an_record_result(rt_actor *writer, const an_result_event *e)
{
    if (!writer || !e) return -RT_ESTOPPED;
    an_event_msg *m = an_event_msg_new();
    an_event *ev = &m->ev;
    ev->kind = AN_EV_RESULT;
    ev->ts_ms = event_time(e->ts_ms);
    ev->job_id = e->job_id;
    ev->user_id = e->user_id;
    ev->channel_id = e->channel_id;
    ev->success = e->success;
    ev->is_image = e->is_image;
    an_event_set_text(ev,
                      &(an_event_text){.params = e->params ? e->params : "{}", .url = e->view_url});
    return send_event(writer, m);
}

int an_record_result_msg(rt_actor *writer, const an_result_msg_event *e)
{
    if (!writer || !e) return -RT_ESTOPPED;
    an_event_msg *m = an_event_msg_new();
    an_event *ev = &m->ev;
    ev->kind = AN_EV_RESULT_MSG;
    ev->ts_ms = event_time(e->ts_ms);
    ev->job_id = e->job_id;
    ev->user_id = e->user_id;
    ev->channel_id = e->channel_id;
    ev->message_id = e->message_id;
    ev->success = true;
    an_event_set_text(ev, &(an_event_text){.url = e->attachment_url});
    return send_event(writer, m);
}

int an_record_moderation(rt_actor *writer, const an_moderation_event *e)
{
    if (!writer || !e) return -RT_ESTOPPED;
    an_event_msg *m = an_event_msg_new();
    an_event *ev = &m->ev;
    ev->kind = AN_EV_MODERATION;
    ev->ts_ms = event_time(e->ts_ms);
    ev->user_id = e->user_id;
    ev->guild_id = e->guild_id;
    ev->success = true;
    an_event_set_text(ev,
                      &(an_event_text){.action = e->op ? e->op : "", .details = e->details_json});
    return send_event(writer, m);
}

int an_record_mod_change(void *writer, const mod_record *m)
{
    if (!m) return -RT_ESTOPPED;
    if (m->activity) {
        an_activity_event ev = {.user_id = m->user_id,
                                .guild_id = m->guild_id,
                                .action = m->op,
                                .details = m->details_json,
                                .ts_ms = (uint64_t)m->ts_ms};
        return an_record_activity(writer, &ev);
    }
    an_moderation_event ev = {.user_id = m->user_id,
                              .guild_id = m->guild_id,
                              .op = m->op,
                              .details_json = m->details_json,
                              .ts_ms = (uint64_t)m->ts_ms};
    return an_record_moderation(writer, &ev);
}

static int send_control(rt_actor *writer, uint16_t type, uint64_t seq, rt_actor *reply_to,
                        uint64_t cookie)
{
    if (!writer) return -RT_ESTOPPED;
    an_control_msg *m = an_control_msg_new(type, seq, reply_to, cookie);
    int rc = rt_send_spill(writer, &m->hdr);
    if (rc != 0) rt_msg_free(&m->hdr);
    return rc;
}

int an_request_reset(rt_actor *writer, rt_actor *reply_to, uint64_t cookie)
{
    return send_control(writer, MSG_AN_RESET, an_seq_next(), reply_to, cookie);
}

int an_request_flush(rt_actor *writer, rt_actor *reply_to, uint64_t cookie)
{
    return send_control(writer, MSG_AN_FLUSH, 0, reply_to, cookie);
}
