/* ComfyUI protocol parsing: every websocket event type, binary frames, POST /prompt replies
 * (200, 400 with node_errors), /history, /queue positions, uploads, /view paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comfy/cproto.h"

static cproto_event ev;

static int parse(const char *s)
{
    return cproto_parse_event(s, strlen(s), &ev);
}

static void test_ws_events(void **state)
{
    (void)state;
    assert_int_equal(parse("{\"type\":\"status\",\"data\":{\"status\":{\"exec_info\":"
                           "{\"queue_remaining\":3}},\"sid\":\"abc\"}}"),
                     0);
    assert_int_equal(ev.type, CPROTO_EV_STATUS);
    assert_int_equal(ev.queue_remaining, 3);
    assert_string_equal(ev.sid, "abc");

    assert_int_equal(parse("{\"type\":\"execution_start\",\"data\":{\"prompt_id\":\"p1\","
                           "\"timestamp\":1}}"),
                     0);
    assert_int_equal(ev.type, CPROTO_EV_EXECUTION_START);
    assert_string_equal(ev.prompt_id, "p1");

    assert_int_equal(parse("{\"type\":\"execution_cached\",\"data\":{\"nodes\":[\"4\",\"5\"],"
                           "\"prompt_id\":\"p1\"}}"),
                     0);
    assert_int_equal(ev.type, CPROTO_EV_EXECUTION_CACHED);
    assert_int_equal(ev.ncached, 2);

    assert_int_equal(parse("{\"type\":\"executing\",\"data\":{\"node\":\"13\",\"display_node\":"
                           "\"13\",\"prompt_id\":\"p1\"}}"),
                     0);
    assert_int_equal(ev.type, CPROTO_EV_EXECUTING);
    assert_string_equal(ev.node, "13");
    assert_false(ev.node_null);

    assert_int_equal(parse("{\"type\":\"executing\",\"data\":{\"node\":null,\"prompt_id\":"
                           "\"p1\"}}"),
                     0);
    assert_true(ev.node_null);

    assert_int_equal(parse("{\"type\":\"progress\",\"data\":{\"value\":5,\"max\":20,"
                           "\"prompt_id\":\"p1\",\"node\":\"13\"}}"),
                     0);
    assert_int_equal(ev.type, CPROTO_EV_PROGRESS);
    assert_int_equal(ev.value, 5);
    assert_int_equal(ev.max, 20);

    assert_int_equal(parse("{\"type\":\"progress_state\",\"data\":{\"prompt_id\":\"p1\","
                           "\"nodes\":{}}}"),
                     0);
    assert_int_equal(ev.type, CPROTO_EV_PROGRESS_STATE);

    assert_int_equal(parse("{\"type\":\"executed\",\"data\":{\"node\":\"9\",\"output\":{"
                           "\"images\":[]},\"prompt_id\":\"p1\"}}"),
                     0);
    assert_int_equal(ev.type, CPROTO_EV_EXECUTED);
    assert_string_equal(ev.node, "9");

    assert_int_equal(parse("{\"type\":\"execution_success\",\"data\":{\"prompt_id\":\"p1\"}}"), 0);
    assert_int_equal(ev.type, CPROTO_EV_SUCCESS);

    assert_int_equal(parse("{\"type\":\"execution_error\",\"data\":{\"prompt_id\":\"p1\","
                           "\"node_id\":\"8\",\"node_type\":\"VAEDecode\",\"exception_message\":"
                           "\"CUDA out of memory\",\"exception_type\":\"torch.OutOfMemoryError\","
                           "\"traceback\":[],\"executed\":[]}}"),
                     0);
    assert_int_equal(ev.type, CPROTO_EV_ERROR);
    assert_string_equal(ev.node, "8");
    assert_string_equal(ev.node_type, "VAEDecode");
    assert_string_equal(ev.message, "CUDA out of memory");

    assert_int_equal(parse("{\"type\":\"execution_interrupted\",\"data\":{\"prompt_id\":\"p1\","
                           "\"node_id\":\"13\",\"node_type\":\"SamplerCustomAdvanced\","
                           "\"executed\":[]}}"),
                     0);
    assert_int_equal(ev.type, CPROTO_EV_INTERRUPTED);

    /* unknown types are fine and ignored */
    assert_int_equal(parse("{\"type\":\"crystools.monitor\",\"data\":{\"cpu\":3}}"), 0);
    assert_int_equal(ev.type, CPROTO_EV_UNKNOWN);
}

static void test_ws_hostile(void **state)
{
    (void)state;
    assert_int_equal(parse("not json"), -1);
    assert_int_equal(parse("[1,2]"), -1);
    assert_int_equal(parse("{\"data\":{}}"), -1);
    assert_int_equal(parse("{\"type\":\"progress\",\"data\":{\"value\":-1,\"max\":3}}"), -1);
    assert_int_equal(parse("{\"type\":\"progress\",\"data\":{\"value\":\"x\",\"max\":3}}"), -1);
    /* an over-long prompt id must not be truncated into a valid-looking one */
    char big[300];
    snprintf(big, sizeof big, "{\"type\":\"execution_start\",\"data\":{\"prompt_id\":\"%0100d\"}}",
             7);
    assert_int_equal(parse(big), -1);
    assert_int_equal(parse("{\"type\":\"executing\",\"data\":{\"node\":{},\"prompt_id\":\"p\"}}"),
                     -1);
    /* value > max is clamped */
    assert_int_equal(parse("{\"type\":\"progress\",\"data\":{\"value\":30,\"max\":20}}"), 0);
    assert_int_equal(ev.value, 20);
}

static void test_binary_frames(void **state)
{
    (void)state;
    uint8_t f1[16] = {0, 0, 0, 1, 0, 0, 0, 2, 0x89, 'P', 'N', 'G'};
    assert_int_equal(cproto_parse_binary(f1, 12, &ev), 0);
    assert_int_equal(ev.type, CPROTO_EV_PREVIEW);
    assert_int_equal(ev.preview_format, 2);
    assert_int_equal(ev.preview_offset, 8);
    assert_int_equal(ev.preview_len, 4);
    const char *meta = "{\"node_id\":\"13\",\"prompt_id\":\"pp\",\"image_type\":\"image/jpeg\"}";
    uint8_t f4[128] = {0, 0, 0, 4, 0, 0, 0, (uint8_t)strlen(meta)};
    memcpy(f4 + 8, meta, strlen(meta));
    memcpy(f4 + 8 + strlen(meta), "\xff\xd8\xff", 3);
    assert_int_equal(cproto_parse_binary(f4, 8 + strlen(meta) + 3, &ev), 0);
    assert_string_equal(ev.prompt_id, "pp");
    assert_int_equal(ev.preview_len, 3);
    uint8_t bad[8] = {0, 0, 0, 4, 0, 0, 1, 0};
    assert_int_equal(cproto_parse_binary(bad, 8, &ev), -1);
    assert_int_equal(cproto_parse_binary(bad, 3, &ev), -1);
}

static void test_submit_replies(void **state)
{
    (void)state;
    cproto_submit s;
    assert_int_equal(cproto_parse_submit(200,
                                         "{\"prompt_id\":\"3f0c-1\",\"number\":7,"
                                         "\"node_errors\":{}}",
                                         &s),
                     0);
    assert_true(s.ok);
    assert_string_equal(s.prompt_id, "3f0c-1");
    assert_int_equal(s.number, 7);
    assert_int_equal(cproto_parse_submit(200, "{\"number\":7}", &s), -1);
    assert_int_equal(cproto_parse_submit(200, "{\"prompt_id\":\"a b\"}", &s), -1);

    const char *body400 =
        "{\"error\":{\"type\":\"prompt_outputs_failed_validation\",\"message\":\"Prompt outputs "
        "failed validation\",\"details\":\"\",\"extra_info\":{}},\"node_errors\":{"
        "\"10\":{\"errors\":[{\"type\":\"value_not_in_list\",\"message\":\"Value not in list\","
        "\"details\":\"lora_name: 'x.safetensors' not in ['a.safetensors']\",\"extra_info\":{}}],"
        "\"dependent_outputs\":[\"9\"],\"class_type\":\"LoraLoaderModelOnly\"},"
        "\"40\":{\"errors\":[{\"type\":\"custom_validation_failed\",\"message\":\"Invalid image "
        "file: a.png\",\"details\":\"\"}],\"class_type\":\"LoadImage\"}}}";
    assert_int_equal(cproto_parse_submit(400, body400, &s), -1);
    assert_false(s.ok);
    assert_string_equal(s.error_type, "prompt_outputs_failed_validation");
    /* the operator line names every node error */
    assert_non_null(strstr(s.operator_text, "node 10 (LoraLoaderModelOnly): value_not_in_list"));
    assert_non_null(strstr(s.operator_text, "node 40 (LoadImage): custom_validation_failed"));
    /* the user line names the first node and its message */
    assert_non_null(strstr(s.user_text, "node 10 (LoraLoaderModelOnly)"));
    assert_non_null(strstr(s.user_text, "x.safetensors"));

    assert_int_equal(cproto_parse_submit(400,
                                         "{\"error\":{\"type\":\"no_prompt\",\"message\":"
                                         "\"No prompt provided\"},\"node_errors\":{}}",
                                         &s),
                     -1);
    assert_string_equal(s.error_type, "no_prompt");
    assert_int_equal(cproto_parse_submit(500, "<html>", &s), -1);
    assert_non_null(strstr(s.user_text, "HTTP 500"));
}

/* ComfyUI 0.3.64 answers 200 with node_errors when some outputs validated: it runs only those. */
static void test_submit_partial_outputs(void **state)
{
    (void)state;
    cproto_submit s;
    const char *body =
        "{\"prompt_id\":\"p-1\",\"number\":3,\"node_errors\":{"
        "\"10\":{\"errors\":[{\"type\":\"value_not_in_list\",\"message\":\"Value not in list\","
        "\"details\":\"lora_name: 'x' not in (list of length 2)\\n\",\"extra_info\":{}}],"
        "\"dependent_outputs\":[\"9\"],\"class_type\":\"LoraLoaderModelOnly\"},"
        "\"31\":{\"errors\":[{\"type\":\"required_input_missing\",\"message\":\"Required input "
        "is missing\",\"details\":\"images\"}],\"dependent_outputs\":[\"31\"],"
        "\"class_type\":\"PreviewImage\"}}}";
    /* the mapped output 9 is a dependent output of node 10: the job fails at once */
    const char *nine[] = {"9"};
    assert_int_equal(cproto_parse_submit_for(200, body, nine, 1, &s), -1);
    assert_false(s.ok);
    assert_true(s.partial);
    assert_string_equal(s.prompt_id, "p-1"); /* queued: the caller deletes it */
    assert_string_equal(s.error_type, "prompt_outputs_failed_validation");
    assert_string_equal(s.user_text, "ComfyUI rejected the workflow at node 10 "
                                     "(LoraLoaderModelOnly): Value not in list — lora_name: "
                                     "'x' not in (list of length 2)");
    assert_non_null(strstr(s.operator_text, "node 10 (LoraLoaderModelOnly): value_not_in_list"));
    assert_non_null(strstr(s.operator_text, "node 31 (PreviewImage): required_input_missing"));
    /* a failing output node itself (no dependent_outputs list at all) drops it too */
    const char *self = "{\"prompt_id\":\"p-2\",\"number\":4,\"node_errors\":{\"12\":{"
                       "\"errors\":[{\"type\":\"t\",\"message\":\"m\"}],"
                       "\"class_type\":\"SaveImage\"}}}";
    const char *twelve[] = {"12"};
    assert_int_equal(cproto_parse_submit_for(200, self, twelve, 1, &s), -1);
    assert_non_null(strstr(s.user_text, "node 12 (SaveImage): m"));
    /* the mapped output survived: ok, but every node error is there for the log */
    const char *five[] = {"5"};
    assert_int_equal(cproto_parse_submit_for(200, body, five, 1, &s), 0);
    assert_true(s.ok);
    assert_true(s.partial);
    assert_non_null(strstr(s.operator_text, "node 10 (LoraLoaderModelOnly)"));
    assert_non_null(strstr(s.operator_text, "node 31 (PreviewImage)"));
    /* several mapped outputs: one surviving is enough */
    const char *both[] = {"9", "5"};
    assert_int_equal(cproto_parse_submit_for(200, body, both, 2, &s), 0);
    const char *gone[] = {"9", "31"};
    assert_int_equal(cproto_parse_submit_for(200, body, gone, 2, &s), -1);
    /* a clean 200 is not partial and logs nothing */
    assert_int_equal(
        cproto_parse_submit_for(200, "{\"prompt_id\":\"p-3\",\"node_errors\":{}}", nine, 1, &s), 0);
    assert_false(s.partial);
    assert_string_equal(s.operator_text, "");
}

/* ComfyUI's error texts end with a newline (Python formatting); users see them mid-sentence. */
static void test_error_texts_trimmed(void **state)
{
    (void)state;
    const char *e =
        "{\"type\":\"execution_error\",\"data\":{\"prompt_id\":\"p\",\"node_id\":\"8\","
        "\"node_type\":\"VAEDecode\",\"exception_message\":\"CUDA out of memory\\n\\n\"}}";
    assert_int_equal(cproto_parse_event(e, strlen(e), &ev), 0);
    assert_string_equal(ev.message, "CUDA out of memory");
    cproto_history h;
    const char *hist =
        "{\"p\":{\"outputs\":{},\"status\":{\"status_str\":\"error\",\"messages\":["
        "[\"execution_error\",{\"node_id\":\"8\",\"exception_message\":\"boom\\n\"}]]}}}";
    assert_int_equal(cproto_parse_history(hist, "p", NULL, 0, &h), 0);
    assert_string_equal(h.error_message, "boom");
    cproto_submit s;
    assert_int_equal(cproto_parse_submit(400,
                                         "{\"error\":{\"type\":\"x\",\"message\":\"Bad thing\\n\"},"
                                         "\"node_errors\":{}}",
                                         &s),
                     -1);
    assert_string_equal(s.user_text, "ComfyUI rejected the workflow: Bad thing");
    assert_int_equal(cproto_parse_submit(409, "{\"error\":\"prompt_id already exists\\n\"}", &s),
                     -1);
    assert_string_equal(s.user_text, "ComfyUI rejected the job: prompt_id already exists");
}

static void test_history(void **state)
{
    (void)state;
    cproto_history h;
    assert_int_equal(cproto_parse_history("{}", "p1", NULL, 0, &h), 0);
    assert_false(h.found);
    const char *ok =
        "{\"p1\":{\"prompt\":[0,\"p1\",{},{},[\"9\"]],\"outputs\":{"
        "\"7\":{\"images\":[{\"filename\":\"ComfyUI_temp_x_00001_.png\",\"subfolder\":\"\","
        "\"type\":\"temp\"}]},"
        "\"5\":{\"images\":[{\"filename\":\"other.png\",\"subfolder\":\"\",\"type\":\"output\"}]},"
        "\"9\":{\"images\":[{\"filename\":\"fluxbot_00001_.png\",\"subfolder\":\"sub\","
        "\"type\":\"output\"}]}},"
        "\"status\":{\"status_str\":\"success\",\"completed\":true,\"messages\":["
        "[\"execution_start\",{\"prompt_id\":\"p1\"}],[\"execution_success\",{\"prompt_id\":\"p1\"}"
        "]]}}}";
    const char *pref[] = {"9"};
    assert_int_equal(cproto_parse_history(ok, "p1", pref, 1, &h), 0);
    assert_true(h.found);
    assert_true(h.success);
    assert_true(h.completed);
    assert_int_equal(h.noutputs, 2); /* another node's temp preview is skipped */
    assert_string_equal(h.outputs[0].filename, "fluxbot_00001_.png");
    assert_true(h.outputs[0].preferred);
    assert_string_equal(h.outputs[0].subfolder, "sub");
    assert_false(h.outputs[1].preferred);
    /* a mapped PreviewImage: its temp file is the result, fetched with type=temp */
    const char *pv[] = {"7"};
    assert_int_equal(cproto_parse_history(ok, "p1", pv, 1, &h), 0);
    assert_int_equal(h.noutputs, 3);
    assert_string_equal(h.outputs[0].filename, "ComfyUI_temp_x_00001_.png");
    assert_string_equal(h.outputs[0].type, "temp");
    assert_true(h.outputs[0].preferred);
    char view[300];
    assert_int_equal(cproto_view_path(&h.outputs[0], view, sizeof view), 0);
    assert_non_null(strstr(view, "&type=temp"));

    const char *err =
        "{\"p2\":{\"outputs\":{},\"status\":{\"status_str\":\"error\",\"completed\":false,"
        "\"messages\":[[\"execution_start\",{}],[\"execution_error\",{\"node_id\":\"8\","
        "\"node_type\":\"VAEDecode\",\"exception_message\":\"boom\"}]]}}}";
    assert_int_equal(cproto_parse_history(err, "p2", NULL, 0, &h), 0);
    assert_true(h.found);
    assert_false(h.success);
    assert_false(h.interrupted);
    assert_string_equal(h.error_node, "8");
    assert_string_equal(h.error_message, "boom");
    assert_int_equal(cproto_parse_history("nope", "p2", NULL, 0, &h), -1);

    const char *gifs = "{\"p3\":{\"outputs\":{\"42\":{\"gifs\":[{\"filename\":\"v.mp4\","
                       "\"subfolder\":\"\",\"type\":\"output\",\"format\":\"video/h264-mp4\"}]}},"
                       "\"status\":{\"status_str\":\"success\",\"completed\":true}}}";
    assert_int_equal(cproto_parse_history(gifs, "p3", NULL, 0, &h), 0);
    assert_int_equal(h.noutputs, 1);
    assert_string_equal(h.outputs[0].filename, "v.mp4");
}

static void test_queue_positions(void **state)
{
    (void)state;
    cproto_queue_pos q;
    /* pending is heap order: numbers 5, 3, 4; ours is 4 → one pending ahead + one running */
    const char *body = "{\"queue_running\":[[1,\"r\",{},{},[]]],\"queue_pending\":["
                       "[5,\"a\",{},{},[]],[3,\"b\",{},{},[]],[4,\"mine\",{},{},[]]]}";
    assert_int_equal(cproto_parse_queue(body, "mine", &q), 0);
    assert_true(q.pending);
    assert_false(q.running);
    assert_int_equal(q.position, 3);
    assert_int_equal(q.total, 4);
    assert_int_equal(cproto_parse_queue(body, "r", &q), 0);
    assert_true(q.running);
    assert_int_equal(cproto_parse_queue(body, "gone", &q), 0);
    assert_false(q.running || q.pending);
    assert_int_equal(cproto_parse_queue("{}", "x", &q), -1);
    assert_int_equal(cproto_parse_queue_remaining("{\"exec_info\":{\"queue_remaining\":2}}"), 2);
    assert_int_equal(cproto_parse_queue_remaining("{}"), -1);
}

static void test_upload_view_uuid(void **state)
{
    (void)state;
    char name[128];
    assert_int_equal(cproto_parse_upload("{\"name\":\"x (1).png\",\"subfolder\":\"\",\"type\":"
                                         "\"input\"}",
                                         name, sizeof name),
                     0);
    assert_string_equal(name, "x (1).png");
    assert_int_equal(
        cproto_parse_upload("{\"name\":\"x.png\",\"subfolder\":\"fb\"}", name, sizeof name), 0);
    assert_string_equal(name, "fb/x.png");
    assert_int_equal(cproto_parse_upload("{\"name\":\"../x.png\"}", name, sizeof name), -1);
    cproto_output o = {0};
    strcpy(o.filename, "a b&c.png");
    strcpy(o.subfolder, "s/t");
    strcpy(o.type, "output");
    char path[512];
    assert_int_equal(cproto_view_path(&o, path, sizeof path), 0);
    assert_string_equal(path, "/view?filename=a%20b%26c.png&subfolder=s%2Ft&type=output");
    uint8_t r[16];
    memset(r, 0xff, sizeof r);
    char u[37];
    cproto_uuid(r, u);
    assert_int_equal(strlen(u), 36);
    assert_int_equal(u[14], '4');
    assert_true(u[19] == 'b' || u[19] == 'a' || u[19] == '8' || u[19] == '9');

    cJSON *g = cJSON_Parse("{\"1\":{\"class_type\":\"X\",\"inputs\":{}}}");
    char *body = cproto_prompt_body(g, "cid", "pid");
    cJSON *b = cJSON_Parse(body);
    assert_string_equal(cJSON_GetObjectItem(b, "client_id")->valuestring, "cid");
    assert_string_equal(cJSON_GetObjectItem(b, "prompt_id")->valuestring, "pid");
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "prompt"), "1"));
    cJSON_Delete(b);
    /* the graph is printed in place (not copied) and stays the caller's, unchanged */
    assert_string_equal(body, "{\"prompt\":{\"1\":{\"class_type\":\"X\",\"inputs\":{}}},"
                              "\"client_id\":\"cid\",\"prompt_id\":\"pid\"}");
    free(body);
    body = cproto_prompt_body(g, "cid", NULL);
    assert_string_equal(body, "{\"prompt\":{\"1\":{\"class_type\":\"X\",\"inputs\":{}}},"
                              "\"client_id\":\"cid\"}");
    char *again = cJSON_PrintUnformatted(g);
    assert_string_equal(again, "{\"1\":{\"class_type\":\"X\",\"inputs\":{}}}");
    free(again);
    cJSON_Delete(g);
    free(body);
}

/* Found by fuzz_cproto: POST /prompt's "number" was converted to int64_t unchecked, so a
 * server answering 5.5e21 (or -1e300) made the runner execute undefined behaviour (UBSan:
 * "outside the range of representable values"). Out of range now reads as unknown (-1). */
static void test_submit_number_range(void **state)
{
    (void)state;
    cproto_submit s;
    const char *bad[] = {"5.55556e+21", "-1e300", "1e19", "-5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[160];
        snprintf(body, sizeof body,
                 "{\"prompt_id\":\"3f0c1a2b-0000-4000-8000-000000000001\",\"number\":%s}", bad[i]);
        assert_int_equal(cproto_parse_submit(200, body, &s), 0);
        assert_true(s.ok);
        assert_int_equal(s.number, -1);
    }
    assert_int_equal(
        cproto_parse_submit(
            200, "{\"prompt_id\":\"3f0c1a2b-0000-4000-8000-000000000001\",\"number\":7}", &s),
        0);
    assert_int_equal(s.number, 7);
}

/* Frames the bot never reads are told from their first bytes and not parsed; anything else
 * (another type, the type not first, an escaped name, a cut frame) goes to the parser. */
static void test_skippable_frames(void **state)
{
    (void)state;
    static const char *skip[] = {
        "{\"type\":\"progress_state\",\"data\":{\"prompt_id\":\"p\",\"nodes\":{}}}",
        "{\"type\": \"progress_state\", \"data\": {}}", /* Python's json.dumps spacing */
        " \n{ \"type\" :\t\"feature_flags\", \"data\": {}}",
        "{\"type\":\"progress_state\",\"data\":", /* cut after the name: still never read */
    };
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        assert_true(cproto_event_skippable(skip[i], strlen(skip[i])));
    static const char *parse[] = {
        "{\"type\":\"progress\",\"data\":{\"value\":1,\"max\":2}}",
        "{\"type\":\"executing\",\"data\":{\"node\":null}}",
        "{\"type\":\"status\",\"data\":{}}",
        "{\"type\":\"execution_success\",\"data\":{}}",
        "{\"type\":\"executed\",\"data\":{\"node\":\"9\"}}",
        "{\"data\":{},\"type\":\"progress_state\"}",       /* type not first */
        "{\"type\":\"progress_stat\\u0065\",\"data\":{}}", /* escaped */
        "{\"type\":\"progress_state_x\",\"data\":{}}",
        "{\"type\":\"progress_sta", /* no end to the name */
        "{\"type\":1}",
        "[\"type\",\"progress_state\"]",
        "",
    };
    for (size_t i = 0; i < sizeof parse / sizeof parse[0]; i++)
        assert_false(cproto_event_skippable(parse[i], strlen(parse[i])));
    /* the length bounds the look, not a NUL */
    const char *t = "{\"type\":\"progress_state\"}";
    assert_false(cproto_event_skippable(t, 20));
    assert_false(cproto_event_skippable(NULL, 0));
}

/* A success's history from its executed frames: the same outputs, in the same order, as the
 * /history entry that lists those nodes (preferred first, another node's temp file left out, a
 * node seen again keeping its place with its newest output); a frame of another prompt, one
 * without the prompt's id or node, or one that is not JSON means asking /history. */
static void test_history_from_executed(void **state)
{
    (void)state;
    static const char *fr[] = {
        "{\"type\":\"executed\",\"data\":{\"node\":\"12\",\"display_node\":\"12\",\"output\":"
        "{\"images\":[{\"filename\":\"prev.png\",\"subfolder\":\"\",\"type\":\"temp\"},"
        "{\"filename\":\"side.png\",\"subfolder\":\"\",\"type\":\"output\"}]},"
        "\"prompt_id\":\"p1\"}}",
        "{\"type\": \"executed\", \"data\": {\"node\": \"9\", \"output\": {\"images\": "
        "[{\"filename\": \"old.png\", \"subfolder\": \"\", \"type\": \"output\"}]}, "
        "\"prompt_id\": \"p1\"}}",
        "{\"type\":\"executed\",\"data\":{\"node\":\"9\",\"output\":{\"images\":["
        "{\"filename\":\"a_00001_.png\",\"subfolder\":\"s\",\"type\":\"output\"},"
        "{\"filename\":\"a_00002_.png\",\"subfolder\":\"s\",\"type\":\"output\"}]},"
        "\"prompt_id\":\"p1\"}}",
    };
    size_t lens[3];
    for (int i = 0; i < 3; i++)
        lens[i] = strlen(fr[i]);
    const char *pref[] = {"9"};
    cproto_history h, want;
    assert_int_equal(cproto_history_from_executed(fr, lens, 3, "p1", pref, 1, &h), 0);
    const char *body =
        "{\"p1\":{\"prompt\":[0,\"p1\",{},{},[\"9\"]],\"outputs\":{"
        "\"12\":{\"images\":[{\"filename\":\"prev.png\",\"subfolder\":\"\",\"type\":\"temp\"},"
        "{\"filename\":\"side.png\",\"subfolder\":\"\",\"type\":\"output\"}]},"
        "\"9\":{\"images\":[{\"filename\":\"a_00001_.png\",\"subfolder\":\"s\",\"type\":\"output\"}"
        ","
        "{\"filename\":\"a_00002_.png\",\"subfolder\":\"s\",\"type\":\"output\"}]}},"
        "\"status\":{\"status_str\":\"success\",\"completed\":true,\"messages\":[]}}}";
    assert_int_equal(cproto_parse_history(body, "p1", pref, 1, &want), 0);
    assert_true(h.found && h.completed && h.success && !h.interrupted);
    assert_int_equal(h.noutputs, 3);
    assert_int_equal(want.noutputs, 3);
    assert_memory_equal(&h, &want, sizeof h);
    assert_string_equal(h.outputs[0].filename, "a_00001_.png");
    assert_true(h.outputs[0].preferred);
    assert_string_equal(h.outputs[2].filename, "side.png");
    assert_false(h.outputs[2].preferred);

    /* anything doubtful: -1, nothing kept */
    static const char *bad[] = {
        "{\"type\":\"executed\",\"data\":{\"node\":\"9\",\"output\":{},\"prompt_id\":\"p2\"}}",
        "{\"type\":\"executed\",\"data\":{\"node\":\"9\",\"output\":{}}}",
        "{\"type\":\"executed\",\"data\":{\"output\":{},\"prompt_id\":\"p1\"}}",
        "{\"type\":\"executed\",\"data\":{\"node\":\"9\",\"output\":[],\"prompt_id\":\"p1\"}}",
        "{\"type\":\"executing\",\"data\":{\"node\":\"9\",\"output\":{},\"prompt_id\":\"p1\"}}",
        "{\"type\":\"executed\",\"data\":{\"node\":\"9\",\"output\":{},\"prompt_id\":\"p1\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *two[] = {fr[2], bad[i]};
        size_t tl[] = {lens[2], strlen(bad[i])};
        assert_int_equal(cproto_history_from_executed(two, tl, 2, "p1", pref, 1, &h), -1);
        assert_false(h.found);
        assert_int_equal(h.noutputs, 0);
    }
    assert_int_equal(cproto_history_from_executed(fr, lens, 3, "", pref, 1, &h), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ws_events),
        cmocka_unit_test(test_ws_hostile),
        cmocka_unit_test(test_binary_frames),
        cmocka_unit_test(test_submit_replies),
        cmocka_unit_test(test_submit_partial_outputs),
        cmocka_unit_test(test_error_texts_trimmed),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_queue_positions),
        cmocka_unit_test(test_upload_view_uuid),
        cmocka_unit_test(test_submit_number_range),
        cmocka_unit_test(test_skippable_frames),
        cmocka_unit_test(test_history_from_executed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
