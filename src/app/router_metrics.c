/* The router's counters for the metrics exporter (see router_metrics.h). */
#include "app/router_metrics.h"

#include "actors/router.h"

void router_metrics_collect(mfmt *out, void *ctx)
{
    router_counters s;
    router_counters_get((router *)ctx, &s);
    mfmt_family(out, "fluxbot_router_interactions_total", "counter",
                "Interactions by command and final outcome.");
    for (int c = 0; c < ROUTER_CMD_COUNT; c++)
        for (int o = 0; o < ROUTER_OUT_COUNT; o++) {
            if (!s.by[c][o] && o != ROUTER_OUT_OK) continue; /* keep the page short */
            mfmt_label l[2] = {{"command", router_cmd_name((router_cmd)c)},
                               {"outcome", router_outcome_name((router_outcome)o)}};
            mfmt_sample_u64(out, "fluxbot_router_interactions_total", NULL, l, 2, s.by[c][o]);
        }
    mfmt_single(out, "fluxbot_router_dispatches_total", "counter", "Gateway dispatches received.",
                s.dispatches);
    mfmt_single(out, "fluxbot_router_callbacks_total", "counter", "Interaction callbacks sent.",
                s.callbacks_sent);
    /* A summary without quantiles: rate(sum) / rate(count) is the mean over any window. */
    mfmt_family(out, "fluxbot_router_callback_seconds", "summary",
                "Interaction arrival to Discord's answer to its first callback.");
    mfmt_sample(out, "fluxbot_router_callback_seconds", "_sum", NULL, 0,
                (double)s.callback_ns_sum / 1e9);
    mfmt_sample_u64(out, "fluxbot_router_callback_seconds", "_count", NULL, 0, s.callbacks_timed);
    mfmt_single(out, "fluxbot_router_stale_answers_total", "counter",
                "Answers that arrived after their interaction timed out.", s.stale_answers);
    mfmt_single(out, "fluxbot_router_resets_total", "counter", "Statistics resets requested.",
                s.resets);
    mfmt_single(out, "fluxbot_router_role_events_total", "counter",
                "Guild role events applied by the router.", s.role_events);
    mfmt_single(out, "fluxbot_router_pending", "gauge",
                "Interactions waiting for Discord's answer to their callback.", s.pending);
    mfmt_single(out, "fluxbot_router_pending_max", "gauge", "Most interactions waiting at once.",
                s.pending_hwm);
}
