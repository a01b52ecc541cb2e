/*
 * fuzz_cproto: what a ComfyUI server sends back, through the parsers the runner uses —
 * websocket events (text and binary frames, cproto_parse_event / cproto_parse_binary), the
 * replies of POST /prompt (including 400 node_errors), GET /history/{id}, GET /queue,
 * GET /prompt, POST /upload/image, and server base URLs — and on to what the user then sees:
 * the progress text the runner builds from events (prog_*) and the failure text
 * (cres_error_text), as the PATCH body reply_edit_text_json makes of them.
 *
 * The first input byte picks the parser; for events the rest is a sequence of frames (FZ_SEP)
 * replayed into one job's progress state.
 *
 * Invariants asserted, beyond "no crash, no sanitizer report":
 *  - parsed ids are NUL-terminated within CPROTO_ID_MAX; a binary preview lies inside its frame;
 *  - at most CPROTO_MAX_OUTPUTS outputs, "temp" ones only from the workflow's output nodes;
 *  - an accepted submit has a prompt id; a refused one has text for the user;
 *  - progress percent stays within 0..100 and every edit body (progress or failure) is valid
 *    JSON and UTF-8 with content within 2000 characters and mentions disabled;
 *  - an accepted base URL has a port in 1..65535 and a prefix that is "" or starts with '/'.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comfy/cproto.h"
#include "comfy/prog.h"
#include "comfy/cres.h"
#include "discord/reply.h"
#include "fuzz_support.h"

static void check_content_payload(const char *content, bool clear)
{
    char *body = reply_edit_text_json(content, clear);
    cJSON *j = fz_json(body, "content edit body");
    fz_check_message(j, true, "content edit body");
    cJSON_Delete(j);
    free(body);
}

static void check_id(const char *id, const char *what)
{
    FZ_ASSERT(memchr(id, '\0', CPROTO_ID_MAX) != NULL, what, NULL);
}

static void events(fz_in *in)
{
    prog_state p;
    uint64_t now = 1000;
    prog_init(&p, now);
    p.avg_job_ms = fz_u32(in) % 600000;
    for (unsigned k = 0; k < 64 && in->len; k++) {
        bool binary = fz_u8(in) & 1;
        now += fz_u8(in) * 100u;
        size_t len = 0;
        char *frame = fz_text(in, 1u << 16, &len);
        cproto_event ev;
        int rc = binary ? cproto_parse_binary((const uint8_t *)frame, len, &ev)
                        : cproto_parse_event(frame, len, &ev);
        if (rc == 0) {
            check_id(ev.prompt_id, "prompt id unterminated");
            check_id(ev.node, "node id unterminated");
            check_id(ev.sid, "sid unterminated");
            (void)cproto_ev_name(ev.type);
            if (ev.type == CPROTO_EV_PREVIEW)
                FZ_ASSERT(ev.preview_offset <= len && ev.preview_len <= len - ev.preview_offset,
                          "preview outside its frame", NULL);
            switch (ev.type) {
            case CPROTO_EV_PROGRESS:
                prog_step(&p, ev.value, ev.max, now);
                break;
            case CPROTO_EV_EXECUTION_START:
                prog_set_phase(&p, PROG_SAMPLING, now);
                break;
            case CPROTO_EV_STATUS:
                p.queue_position = ev.queue_remaining > 0 ? (unsigned)ev.queue_remaining : 0;
                break;
            case CPROTO_EV_ERROR:
            case CPROTO_EV_INTERRUPTED: {
                char text[700];
                cres_error_text(ev.message, text, sizeof text);
                check_content_payload(text, true);
                break;
            }
            default:
                break;
            }
        }
        unsigned pct = prog_percent(&p);
        FZ_ASSERT(pct <= 100, "progress over 100%", NULL);
        char text[300];
        prog_text(&p, (k & 1) ? "video" : "image", now, text, sizeof text);
        check_content_payload(text, false);
        free(frame);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1u << 20 || size == 0) return 0;
    fz_in in = {data + 1, size - 1};
    switch (data[0] % 8) {
    case 0:
        events(&in);
        break;
    case 1: { /* POST /prompt */
        int status = (int)(fz_u8(&in) % 4 == 0 ? 200 : 400 + fz_u8(&in) % 200);
        char *body = fz_rest(&in, NULL);
        cproto_submit sub;
        int rc = cproto_parse_submit(status, body, &sub);
        if (rc == 0) {
            FZ_ASSERT(sub.ok && sub.prompt_id[0], "accepted submit without a prompt id", body);
            check_id(sub.prompt_id, "submit prompt id unterminated");
        } else {
            FZ_ASSERT(!sub.ok, "refused submit marked ok", body);
            char text[700];
            cres_error_text(sub.user_text, text, sizeof text);
            check_content_payload(text, true);
        }
        free(body);
        break;
    }
    case 2: { /* GET /history/{id} */
        char *pid = fz_text(&in, 80, NULL);
        char *body = fz_rest(&in, NULL);
        const char *pref[] = {"9", "42"};
        cproto_history h;
        if (cproto_parse_history(body, pid, pref, 2, &h) == 0) {
            FZ_ASSERT(h.noutputs <= CPROTO_MAX_OUTPUTS, "too many outputs", NULL);
            for (unsigned i = 0; i < h.noutputs; i++) {
                FZ_ASSERT(strcmp(h.outputs[i].type, "temp") != 0 ||
                              strcmp(h.outputs[i].node, "9") == 0 ||
                              strcmp(h.outputs[i].node, "42") == 0,
                          "temp output of a node that is not an output node kept", NULL);
                char view[2048];
                (void)cproto_view_path(&h.outputs[i], view, sizeof view);
            }
            if (h.found && !h.success) {
                char text[700];
                cres_error_text(h.error_message, text, sizeof text);
                check_content_payload(text, true);
            }
        }
        free(pid);
        free(body);
        break;
    }
    case 3: { /* GET /queue */
        char *pid = fz_text(&in, 80, NULL);
        char *body = fz_rest(&in, NULL);
        cproto_queue_pos q;
        if (cproto_parse_queue(body, pid[0] ? pid : NULL, &q) == 0)
            FZ_ASSERT(!q.pending || q.position >= 1, "pending at position 0", NULL);
        free(pid);
        free(body);
        break;
    }
    case 4: {
        char *body = fz_rest(&in, NULL);
        (void)cproto_parse_queue_remaining(body);
        free(body);
        break;
    }
    case 5: { /* POST /upload/image */
        char *body = fz_rest(&in, NULL);
        char name[300];
        if (cproto_parse_upload(body, name, sizeof name) == 0)
            FZ_ASSERT(name[0] != '\0', "empty upload name accepted", body);
        free(body);
        break;
    }
    case 6: { /* server base URL */
        char *url = fz_rest(&in, NULL);
        char host[256], prefix[256];
        int port = 0;
        bool tls = false;
        if (cproto_parse_base_url(url, host, sizeof host, &port, &tls, prefix, sizeof prefix) ==
            0) {
            FZ_ASSERT(port > 0 && port < 65536, "base URL port out of range", url);
            FZ_ASSERT(prefix[0] == '\0' || prefix[0] == '/', "prefix without '/'", url);
            FZ_ASSERT(host[0] != '\0', "empty host accepted", url);
        }
        free(url);
        break;
    }
    default: { /* one binary frame, unsplit */
        cproto_event ev;
        if (cproto_parse_binary(in.p, in.len, &ev) == 0 && ev.type == CPROTO_EV_PREVIEW)
            FZ_ASSERT(ev.preview_offset <= in.len && ev.preview_len <= in.len - ev.preview_offset,
                      "preview outside its frame", NULL);
        break;
    }
    }
    return 0;
}
