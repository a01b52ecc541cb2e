/* Prompt enhancement's Prometheus families (see llm_metrics.h). */
#include "app/llm_metrics.h"

#include "actors/llm_enhance.h"

void llm_metrics_collect(mfmt *out, void *ctx)
{
    llm_enhance_counters c;
    llm_enhance_counters_get(ctx, &c);
    mfmt_single(out, "fluxbot_llm_jobs_total", "counter", "Jobs that asked for prompt enhancement.",
                c.jobs);
    mfmt_single(out, "fluxbot_llm_requests_total", "counter",
                "Requests sent to the chat-completions endpoint.", c.requests);
    mfmt_family(out, "fluxbot_llm_outcomes_total", "counter",
                "Enhancements by outcome (ok: enhanced; cancelled: the job was cancelled while the "
                "model worked; the others ran the prompt as typed).");
    const struct {
        const char *name;
        uint64_t v;
    } o[] = {{"ok", c.enhanced},       {"timeout", c.timeouts}, {"error", c.errors},
             {"filtered", c.filtered}, {"busy", c.busy},        {"cancelled", c.dropped}};
    for (size_t i = 0; i < sizeof o / sizeof o[0]; i++) {
        mfmt_label l[1] = {{"outcome", o[i].name}};
        mfmt_sample_u64(out, "fluxbot_llm_outcomes_total", NULL, l, 1, o[i].v);
    }
    mfmt_single(out, "fluxbot_llm_in_flight", "gauge", "Enhancement requests running now.",
                c.in_flight);
}
