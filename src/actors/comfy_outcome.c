/* What a finished job amounts to, and its analytics rows (see comfy_outcome.h). */
#include "actors/comfy_outcome.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_record.h"
#include "util/util_str.h"

void comfy_outcome_fill(comfy_outcome *o, const cjob *j, bool success, uint64_t ms,
                        const char *reason, const char *text)
{
    comfy_outcome_clear(o);
    o->job_id = j->id;
    o->user_id = j->origin.user_id;
    o->guild_id = j->origin.guild_id;
    o->channel_id = j->origin.channel_id;
    o->reply.application_id = j->reply.application_id;
    o->reply.interaction_id = j->reply.interaction_id;
    o->reply.token = util_strdup(j->reply.token ? j->reply.token : "");
    o->success = success;
    o->is_video = j->kind == COMFY_KIND_VIDEO;
    o->upscale = cjob_total_upscale(j);
    o->ms = ms;
    o->finished_wall_ms = rt_wall_ms();
    o->received_wall_ms = j->received_wall_ms ? j->received_wall_ms : o->finished_wall_ms;
    snprintf(o->generation_type, sizeof o->generation_type, "%s", cjob_generation_type(j));
    o->prompt = util_strdup(j->user_prompt ? j->user_prompt : "");
    /* Counted under the label the user picked (an upscale under its source's), with the
     * delivered size and the factor relative to the label in their own columns. */
    snprintf(o->resolution, sizeof o->resolution, "%s", j->resolution);
    cjob_output_size(j, &o->width, &o->height);
    o->loras = cjob_lora_json(j);
    snprintf(o->reason, sizeof o->reason, "%s", reason ? reason : "");
    snprintf(o->text, sizeof o->text, "%s", text ? text : "");
    snprintf(o->enhance, sizeof o->enhance, "%s",
             j->enhance != CJOB_ENH_NONE ? cjob_enhance_name(j->enhance) : "");
}

void comfy_outcome_clear(comfy_outcome *o)
{
    free(o->reply.token);
    free(o->prompt);
    free(o->loras);
    memset(o, 0, sizeof *o);
}

void comfy_outcome_record(rt_actor *analytics, const comfy_outcome *o, bool delivered)
{
    if (!analytics || !o->job_id) return;
    bool success = o->success && delivered;
    const char *reason = o->success ? "not_delivered" : o->reason;
    an_image_event ie = {.user_id = o->user_id,
                         .guild_id = o->guild_id,
                         .prompt = o->prompt,
                         .resolution = o->resolution,
                         .width = o->width,
                         .height = o->height,
                         .loras = o->loras ? o->loras : "[]",
                         .upscale_factor = o->upscale,
                         .generation_ms = (uint32_t)(o->ms > UINT32_MAX ? UINT32_MAX : o->ms),
                         .is_video = o->is_video,
                         .generation_type = o->generation_type,
                         .success = success,
                         .ts_ms = o->finished_wall_ms};
    an_record_image(analytics, &ie);
    /* The interaction that asked for it (a /comfy, or a Regenerate/Upscale press) succeeded or
     * failed only now: its command_usage row gets the outcome. */
    an_record_outcome(analytics, o->reply.interaction_id, success);
    /* details: the job, its time, why it failed (for a cancel: who, and whether it was waiting
     * or running), and what became of a prompt enhancement ("enhance": ok, timeout, error,
     * filtered, busy, off), so an operator can count them */
    char d[300], enh[40] = "";
    if (o->enhance[0]) snprintf(enh, sizeof enh, ",\"enhance\":\"%s\"", o->enhance);
    if (o->cancelled)
        snprintf(d, sizeof d,
                 "{\"job\":%" PRIu64 ",\"ms\":%" PRIu64
                 ",\"reason\":\"cancelled\",\"by\":\"%" PRIu64 "\",\"stage\":\"%s\"%s}",
                 o->job_id, o->ms, o->cancelled_by, o->cancelled_waiting ? "waiting" : "running",
                 enh);
    else
        snprintf(d, sizeof d, "{\"job\":%" PRIu64 ",\"ms\":%" PRIu64 "%s%s%s%s}", o->job_id, o->ms,
                 success ? "" : ",\"reason\":\"", success ? "" : reason, success ? "" : "\"", enh);
    an_activity_event ae = {.user_id = o->user_id,
                            .guild_id = o->guild_id,
                            .action = o->cancelled ? "job_cancelled"
                                      : success    ? "job_finished"
                                                   : "job_failed",
                            .details = d,
                            .ts_ms = o->finished_wall_ms};
    an_record_activity(analytics, &ae);
}
