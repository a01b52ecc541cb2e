/*
 * The ComfyUI wire protocol, both directions, without sockets: websocket event parsing (text and
 * binary frames), the POST /prompt body and its replies (including 400 node_errors), /history,
 * /queue, /prompt (GET) and /upload/image replies, /view query strings, prompt ids.
 *
 * Everything arriving from a server is untrusted: strings are bounded (longer ids make the event
 * invalid rather than truncated, so two ids can never be confused), numbers are range-checked,
 * unknown event types are reported as CPROTO_EV_UNKNOWN and ignored by callers.
 */
#ifndef FLUXBOT_COMFY_PROTO_H
#define FLUXBOT_COMFY_PROTO_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPROTO_ID_MAX 64 /* prompt ids, node ids, client ids (with NUL) */

typedef enum cproto_ev {
    CPROTO_EV_UNKNOWN = 0,
    CPROTO_EV_STATUS,
    CPROTO_EV_EXECUTION_START,
    CPROTO_EV_EXECUTION_CACHED,
    CPROTO_EV_EXECUTING,
    CPROTO_EV_PROGRESS,
    CPROTO_EV_PROGRESS_STATE,
    CPROTO_EV_EXECUTED,
    CPROTO_EV_SUCCESS,
    CPROTO_EV_ERROR,
    CPROTO_EV_INTERRUPTED,
    CPROTO_EV_PREVIEW, /* binary type 1 or 4 */
    CPROTO_EV_TEXT,    /* binary type 3 */
    CPROTO_EV_FEATURE_FLAGS,
} cproto_ev;

typedef struct cproto_event {
    cproto_ev type;
    char prompt_id[CPROTO_ID_MAX]; /* "" when the event carries none */
    char node[CPROTO_ID_MAX];      /* executing/progress/executed/error node */
    bool node_null;                /* executing with node null: the prompt is finished */
    int64_t queue_remaining;       /* status; -1 when absent */
    char sid[CPROTO_ID_MAX];       /* status on connect */
    uint32_t value, max;           /* progress */
    uint32_t ncached;              /* execution_cached: number of cached nodes */
    char node_type[96];            /* execution_error / interrupted */
    char exception_type[96];
    char message[512];                  /* exception_message (truncated) */
    uint32_t preview_format;            /* binary preview: 1 JPEG, 2 PNG, 0 = from metadata */
    size_t preview_offset, preview_len; /* image bytes inside the frame */
    uint64_t at_ms; /* when it arrived (rt_now_ms), set by the job's channel; 0 = not known */
} cproto_event;

const char *cproto_ev_name(cproto_ev t);

/* Error texts (exception_message, node error message and details) lose ComfyUI's trailing
 * newlines and blanks. */

/* Parses one text frame. 0 on success (ev filled, possibly CPROTO_EV_UNKNOWN for other types), -1
 * if the frame is not a valid event (bad JSON, no type, oversized ids, bad numbers). */
int cproto_parse_event(const char *text, size_t len, cproto_event *ev);
/* True when a text frame is an event the bot never reads (progress_state, which real ComfyUI
 * sends at every node's start and end and every step, with every node's state in it;
 * feature_flags), told from its first bytes alone: `{"type": "<name>"` (blanks allowed, the
 * name without escapes). Such frames are not parsed, so a malformed one is not counted as bad.
 * Anything else, including a type placed later in the object, is false: cproto_parse_event
 * decides. */
bool cproto_event_skippable(const char *text, size_t len);
/* Parses one binary frame (u32 big-endian type header). 0 or -1. */
int cproto_parse_binary(const uint8_t *data, size_t len, cproto_event *ev);

/* A v4 UUID in canonical lowercase form from 16 random bytes; out needs 37 bytes. */
void cproto_uuid(const uint8_t rnd[16], char out[37]);

/* Body of POST /prompt: {"prompt": graph, "client_id": ..., "prompt_id": ... (may be NULL)}.
 * The graph is not consumed. malloc'd text. */
char *cproto_prompt_body(const cJSON *graph, const char *client_id, const char *prompt_id);

/* The outcome of POST /prompt. */
typedef struct cproto_submit {
    bool ok;
    char prompt_id[CPROTO_ID_MAX]; /* also set when a 200 dropped our outputs (ok false) */
    int64_t number;
    char error_type[64];
    char user_text[512];      /* short, for the user: the first failing node and its message */
    char operator_text[4096]; /* every node error, for the log ("" on a clean 200) */
    /* A 200 with a non-empty node_errors: ComfyUI queued the prompt but runs only the outputs
     * that validated; operator_text lists every node error even when ok stays true. */
    bool partial;
} cproto_submit;

/* http_status 200 → ok with prompt_id (must be present and valid), anything else → an error
 * with the server's own words when the body has them. Returns 0 when ok. */
int cproto_parse_submit(int http_status, const char *body, cproto_submit *out);
/* Same, knowing the workflow's output node ids: a 200 whose node_errors drop every one of them
 * (the node itself failed, or it is among a failed node's dependent_outputs) is a failure (ok
 * false, -1, prompt_id kept so the caller can delete the queued prompt), with the node error
 * that dropped the first of them as user_text. Without outputs (n 0) a 200 is always ok. */
int cproto_parse_submit_for(int http_status, const char *body, const char *const *outputs,
                            unsigned noutputs, cproto_submit *out);

#define CPROTO_MAX_OUTPUTS 16

typedef struct cproto_output {
    char node[CPROTO_ID_MAX];
    char filename[256];
    char subfolder[256];
    char type[16];  /* output | temp | input */
    bool preferred; /* produced by one of the workflow's mapped output nodes */
} cproto_output;

typedef struct cproto_history {
    bool found; /* the prompt id is in history (i.e. it finished, any outcome) */
    bool completed;
    bool success; /* status_str == "success" */
    bool interrupted;
    char error_node[CPROTO_ID_MAX];
    char error_node_type[96];
    char error_message[512];
    unsigned noutputs;
    cproto_output outputs[CPROTO_MAX_OUTPUTS];
} cproto_history;

/* Parses GET /history/{prompt_id}. preferred_nodes (may be NULL) are the workflow's output node
 * ids; their files come first. Temp files (PreviewImage, served by /view?type=temp until the
 * server restarts) are kept for preferred nodes only: another node's temp file is a preview the
 * operator did not ask for. 0, or -1 on bad JSON. */
int cproto_parse_history(const char *body, const char *prompt_id, const char *const *preferred,
                         unsigned npreferred, cproto_history *out);

/* The history entry of a prompt that succeeded, from the raw `executed` text frames its
 * websocket sent (each carries a node's `output`, the object /history lists under that node):
 * found, completed and success set, outputs as cproto_parse_history orders them. -1 (out
 * cleared) when a frame is not a valid executed event of prompt_id with a node id and an output
 * object: the caller then asks /history. */
int cproto_history_from_executed(const char *const *frames, const size_t *lens, unsigned n,
                                 const char *prompt_id, const char *const *preferred,
                                 unsigned npreferred, cproto_history *out);

typedef struct cproto_queue_pos {
    bool running;      /* this prompt is executing */
    bool pending;      /* waiting; position below is meaningful */
    unsigned position; /* 1 = next to run (counting a running job ahead of it) */
    unsigned total;    /* running + pending, all clients */
} cproto_queue_pos;

/* Parses GET /queue and locates prompt_id (may be NULL to only count). 0 or -1. */
int cproto_parse_queue(const char *body, const char *prompt_id, cproto_queue_pos *out);
/* GET /prompt → exec_info.queue_remaining, or -1. */
int64_t cproto_parse_queue_remaining(const char *body);
/* POST /upload/image → the name to use in LoadImage ("sub/name" when a subfolder is given).
 * 0 or -1. */
int cproto_parse_upload(const char *body, char *name, size_t namelen);

/* "/view?filename=..&subfolder=..&type=..", values percent-encoded (util_url_escape). 0 or -1 if
 * it does not fit. */
int cproto_view_path(const cproto_output *o, char *out, size_t outlen);

/* Splits a server base URL "http[s]://host[:port][/prefix]" (trailing '/' ignored). host gets
 * the bare host (no brackets for IPv6), prefix "" or "/prefix". 0 or -1 when malformed. */
int cproto_parse_base_url(const char *url, char *host, size_t hostlen, int *port, bool *tls,
                          char *prefix, size_t prefixlen);

#endif
