/* The analytics benchmarks' synthetic events (see bench_events.h). */
#include "bench_events.h"

#include <string.h>

const char *const bench_events_cmds[BENCH_EVENTS_NCMDS] = {"comfy", "redux",    "pulid", "video",
                                                           "stats", "lorainfo", "queue"};
const char *const bench_events_res[BENCH_EVENTS_NRES] = {
    "1024x1024", "16:9 [1920x1080 landscape]", "832x1216",
    "1216x832",  "9:16 [1080x1920 portrait]",  "3:2",
    "4:5"};

uint64_t bench_events_rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

void bench_events_make(an_event *e, uint64_t *rng, uint64_t seq, int64_t ts)
{
    uint64_t r = bench_events_rnd(rng);
    memset(e, 0, sizeof *e);
    e->seq = seq;
    e->ts_ms = ts;
    e->user_id = 100000000000000000ULL + r % 500;
    e->guild_id = 7;
    unsigned k = (unsigned)(r >> 20) % 10;
    if (k < 4) {
        e->kind = AN_EV_COMMAND;
        e->channel_id = 8;
        e->success = (r >> 30) % 20 != 0;
        e->duration_ms = (uint32_t)((r >> 8) % 3000);
        an_event_set_text(
            e, &(an_event_text){.command = bench_events_cmds[(r >> 24) % BENCH_EVENTS_NCMDS]});
    } else if (k < 8) {
        e->kind = AN_EV_IMAGE;
        e->success = (r >> 30) % 10 != 0;
        e->is_video = (r >> 33) % 8 == 0;
        e->duration_ms = (uint32_t)((r >> 8) % 90000);
        e->upscale_factor = 1;
        an_event_set_text(
            e, &(an_event_text){.prompt = "a lighthouse on a cliff at dusk",
                                .resolution = bench_events_res[(r >> 24) % BENCH_EVENTS_NRES],
                                .loras = "",
                                .generation_type = "standard"});
    } else {
        e->kind = AN_EV_ACTIVITY;
        e->success = true;
        an_event_set_text(e, &(an_event_text){.action = "job_queued", .details = "{}"});
    }
}
