/*
 * Interaction response and message payload builders (see reply.h). Pure: cJSON in, text out.
 */
#include "discord/reply.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util/util_json.h"
#include "util/util_str.h"
#include "util/util_utf8.h"

static bool seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* custom_id / value strings are identifiers: they must fit and be valid UTF-8, never silently
 * change (repairing one would make it another id; sending it broken makes Discord refuse the
 * whole message). */
static bool id_ok(const char *s, size_t max)
{
    size_t chars = 0;
    if (!s || !util_utf8_valid(s, strlen(s), &chars)) return false;
    return chars >= 1 && chars <= max;
}

static cJSON *button_json(const reply_button *b, char *err, size_t errlen)
{
    if (b->style < REPLY_BTN_PRIMARY || b->style > REPLY_BTN_LINK) {
        seterr(err, errlen, "button style %d is not supported", (int)b->style);
        return NULL;
    }
    if ((!b->label || !*b->label) && (!b->emoji || !*b->emoji)) {
        seterr(err, errlen, "a button needs a label or an emoji");
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "type", 2);
    cJSON_AddNumberToObject(o, "style", b->style);
    if (b->label && *b->label) util_json_add_clipped(o, "label", b->label, 80);
    if (b->emoji && *b->emoji) {
        cJSON *e = cJSON_AddObjectToObject(o, "emoji");
        util_json_add_clipped(e, "name", b->emoji, 32);
    }
    if (b->style == REPLY_BTN_LINK) {
        if (!b->url || strlen(b->url) > 512 || !embed_url_ok(b->url) ||
            strncmp(b->url, "attachment://", 13) == 0) {
            cJSON_Delete(o);
            seterr(err, errlen, "a link button needs an http(s) url of at most 512 bytes");
            return NULL;
        }
        cJSON_AddStringToObject(o, "url", b->url);
    } else {
        if (!id_ok(b->custom_id, 100)) {
            cJSON_Delete(o);
            seterr(err, errlen, "a button needs a custom_id of 1..100 characters of valid UTF-8");
            return NULL;
        }
        cJSON_AddStringToObject(o, "custom_id", b->custom_id);
    }
    if (b->disabled) cJSON_AddTrueToObject(o, "disabled");
    return o;
}

static cJSON *select_json(const reply_select *s, char *err, size_t errlen)
{
    if (!id_ok(s->custom_id, 100)) {
        seterr(err, errlen, "a select needs a custom_id of 1..100 characters of valid UTF-8");
        return NULL;
    }
    if (s->noptions < 1 || s->noptions > REPLY_SELECT_OPTIONS_MAX) {
        seterr(err, errlen, "a select needs 1..25 options (has %u)", s->noptions);
        return NULL;
    }
    unsigned maxv = s->max_values ? s->max_values : 1;
    if (maxv > s->noptions) maxv = s->noptions;
    if (s->min_values > maxv) {
        seterr(err, errlen, "select min_values %u exceeds max_values %u", s->min_values, maxv);
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "type", 3);
    cJSON_AddStringToObject(o, "custom_id", s->custom_id);
    if (s->placeholder) util_json_add_clipped(o, "placeholder", s->placeholder, 150);
    cJSON_AddNumberToObject(o, "min_values", s->min_values);
    cJSON_AddNumberToObject(o, "max_values", maxv);
    if (s->disabled) cJSON_AddTrueToObject(o, "disabled");
    cJSON *opts = cJSON_AddArrayToObject(o, "options");
    for (unsigned i = 0; i < s->noptions; i++) {
        const reply_select_option *so = &s->options[i];
        if (!id_ok(so->value, 100)) {
            cJSON_Delete(o);
            seterr(err, errlen,
                   "select option %u needs a value of 1..100 characters of valid UTF-8", i);
            return NULL;
        }
        cJSON *x = cJSON_CreateObject();
        util_json_add_clipped(x, "label", so->label && *so->label ? so->label : so->value, 100);
        cJSON_AddStringToObject(x, "value", so->value);
        if (so->description && *so->description)
            util_json_add_clipped(x, "description", so->description, 100);
        if (so->is_default) cJSON_AddTrueToObject(x, "default");
        cJSON_AddItemToArray(opts, x);
    }
    return o;
}

static cJSON *components_json(const reply_row *rows, unsigned nrows, char *err, size_t errlen)
{
    if (nrows > REPLY_ROWS_MAX) {
        seterr(err, errlen, "at most %d action rows (got %u)", REPLY_ROWS_MAX, nrows);
        return NULL;
    }
    cJSON *arr = cJSON_CreateArray();
    for (unsigned r = 0; r < nrows; r++) {
        const reply_row *row = &rows[r];
        if ((row->select && row->nbuttons) || (!row->select && row->nbuttons == 0) ||
            row->nbuttons > REPLY_BUTTONS_PER_ROW) {
            cJSON_Delete(arr);
            seterr(err, errlen, "row %u must hold 1..5 buttons or one select", r);
            return NULL;
        }
        cJSON *ro = cJSON_CreateObject();
        cJSON_AddNumberToObject(ro, "type", 1);
        cJSON *items = cJSON_AddArrayToObject(ro, "components");
        cJSON_AddItemToArray(arr, ro);
        if (row->select) {
            cJSON *s = select_json(row->select, err, errlen);
            if (!s) {
                cJSON_Delete(arr);
                return NULL;
            }
            cJSON_AddItemToArray(items, s);
        }
        for (unsigned b = 0; b < row->nbuttons; b++) {
            cJSON *bj = button_json(&row->buttons[b], err, errlen);
            if (!bj) {
                cJSON_Delete(arr);
                return NULL;
            }
            cJSON_AddItemToArray(items, bj);
        }
    }
    /* custom_ids must be unique within a message. */
    const cJSON *ro, *it, *ro2, *it2;
    cJSON_ArrayForEach(ro, arr)
    {
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(ro, "components"))
        {
            const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(it, "custom_id"));
            if (!id) continue;
            bool after = false;
            cJSON_ArrayForEach(ro2, arr)
            {
                cJSON_ArrayForEach(it2, cJSON_GetObjectItem(ro2, "components"))
                {
                    if (it2 == it) {
                        after = true;
                        continue;
                    }
                    const char *id2 = cJSON_GetStringValue(cJSON_GetObjectItem(it2, "custom_id"));
                    if (after && id2 && strcmp(id, id2) == 0) {
                        seterr(err, errlen, "custom_id \"%s\" is used twice", id);
                        cJSON_Delete(arr);
                        return NULL;
                    }
                }
            }
        }
    }
    return arr;
}

static void add_snowflake_array(cJSON *parent, const char *key, const uint64_t *ids, unsigned n)
{
    cJSON *arr = cJSON_AddArrayToObject(parent, key);
    for (unsigned i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, util_json_u64(ids[i]));
}

/* Builds the message object into o; false with err on a structure error. */
static bool message_into(cJSON *o, const reply_msg *m, char *err, size_t errlen)
{
    if (m->content) util_json_add_clipped(o, "content", m->content, REPLY_CONTENT_MAX);
    if (m->nembeds > EMBED_PER_MESSAGE_MAX)
        return seterr(err, errlen, "at most %d embeds (got %u)", EMBED_PER_MESSAGE_MAX, m->nembeds);
    if (m->nembeds || m->set_embeds)
        cJSON_AddItemToObject(o, "embeds", embed_list_to_json(m->embeds, m->nembeds));
    if (m->nrows || m->set_components) {
        cJSON *c = components_json(m->rows, m->nrows, err, errlen);
        if (!c) return false;
        cJSON_AddItemToObject(o, "components", c);
    }
    if (m->nattachments > REPLY_ATTACHMENTS_MAX)
        return seterr(err, errlen, "at most %d attachments", REPLY_ATTACHMENTS_MAX);
    if (m->nattachments || m->set_attachments) {
        cJSON *arr = cJSON_AddArrayToObject(o, "attachments");
        for (unsigned i = 0; i < m->nattachments; i++) {
            const reply_attachment *a = &m->attachments[i];
            if (!a->filename || !*a->filename || strchr(a->filename, '/') ||
                strlen(a->filename) > 255)
                return seterr(err, errlen, "attachment %u needs a plain filename", i);
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "id", a->id);
            util_json_add_clipped(x, "filename", a->filename, 255);
            if (a->description && *a->description)
                util_json_add_clipped(x, "description", a->description, 1024);
            cJSON_AddItemToArray(arr, x);
        }
    }
    if (m->flags) cJSON_AddNumberToObject(o, "flags", m->flags);
    /* Never let user text ping anyone unless a user is named explicitly. */
    cJSON *am = cJSON_AddObjectToObject(o, "allowed_mentions");
    cJSON_AddArrayToObject(am, "parse");
    if (m->nmention_users) {
        unsigned n = m->nmention_users > REPLY_MENTION_USERS_MAX ? REPLY_MENTION_USERS_MAX
                                                                 : m->nmention_users;
        add_snowflake_array(am, "users", m->mention_users, n);
    }
    return true;
}

char *reply_message_json(const reply_msg *m, char *err, size_t errlen)
{
    cJSON *o = cJSON_CreateObject();
    if (!message_into(o, m, err, errlen)) {
        cJSON_Delete(o);
        return NULL;
    }
    return util_json_print_free(o);
}

char *reply_callback_json(reply_cb_type type, const reply_msg *data, char *err, size_t errlen)
{
    switch (type) {
    case REPLY_CB_PONG:
    case REPLY_CB_DEFERRED_UPDATE:
        data = NULL; /* these carry no data */
        break;
    case REPLY_CB_DEFERRED:
        /* Only the EPHEMERAL flag means anything on a deferred reply. */
        if (data && (data->flags & ~REPLY_FLAG_EPHEMERAL)) {
            seterr(err, errlen, "a deferred reply takes only the EPHEMERAL flag");
            return NULL;
        }
        break;
    case REPLY_CB_MESSAGE:
    case REPLY_CB_UPDATE:
        if (!data) {
            seterr(err, errlen, "callback type %d needs data", (int)type);
            return NULL;
        }
        break;
    case REPLY_CB_AUTOCOMPLETE:
        seterr(err, errlen, "use reply_autocomplete_json for type 8");
        return NULL;
    default:
        seterr(err, errlen, "callback type %d is not supported", (int)type);
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "type", type);
    if (type == REPLY_CB_DEFERRED) {
        if (data && data->flags) {
            cJSON *d = cJSON_AddObjectToObject(o, "data");
            cJSON_AddNumberToObject(d, "flags", data->flags);
        }
    } else if (data) {
        cJSON *d = cJSON_AddObjectToObject(o, "data");
        if (!message_into(d, data, err, errlen)) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    return util_json_print_free(o);
}

char *reply_text_json(const char *content, bool ephemeral)
{
    reply_msg m = {.content = content ? content : "",
                   .flags = ephemeral ? REPLY_FLAG_EPHEMERAL : 0};
    return reply_callback_json(REPLY_CB_MESSAGE, &m, NULL, 0);
}

char *reply_deferred_json(bool ephemeral)
{
    /* What reply_callback_json(REPLY_CB_DEFERRED, ...) prints for these two (test_ix_reply
     * compares): every deferral of a /stats or a generation sends one of them, and a copy costs
     * less than a cJSON tree built and printed per interaction. */
    return util_strdup(ephemeral ? "{\"type\":5,\"data\":{\"flags\":64}}" : "{\"type\":5}");
}

char *reply_deferred_update_json(void)
{
    return reply_callback_json(REPLY_CB_DEFERRED_UPDATE, NULL, NULL, 0);
}

char *reply_edit_text_json(const char *content, bool clear)
{
    reply_msg m = {.content = content ? content : "",
                   .set_embeds = clear,
                   .set_components = clear,
                   .set_attachments = clear};
    return reply_message_json(&m, NULL, 0);
}

char *reply_followup_text_json(const char *content, bool ephemeral)
{
    reply_msg m = {.content = content ? content : "",
                   .flags = ephemeral ? REPLY_FLAG_EPHEMERAL : 0};
    return reply_message_json(&m, NULL, 0);
}

char *reply_update_text_json(const char *content)
{
    reply_msg m = {.content = content ? content : "", .set_components = true};
    return reply_callback_json(REPLY_CB_UPDATE, &m, NULL, 0);
}

char *reply_autocomplete_json(const reply_choice *choices, unsigned n)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "type", REPLY_CB_AUTOCOMPLETE);
    cJSON *d = cJSON_AddObjectToObject(o, "data");
    cJSON *arr = cJSON_AddArrayToObject(d, "choices");
    unsigned emitted = 0;
    for (unsigned i = 0; i < n && emitted < REPLY_CHOICES_MAX; i++) {
        const reply_choice *c = &choices[i];
        if (!c->name || !*c->name) continue;
        if (c->str_value && !id_ok(c->str_value, 100)) continue; /* would be refused */
        cJSON *x = cJSON_CreateObject();
        util_json_add_clipped(x, "name", c->name, 100);
        if (c->str_value)
            cJSON_AddStringToObject(x, "value", c->str_value);
        else
            cJSON_AddNumberToObject(x, "value", c->num_value);
        cJSON_AddItemToArray(arr, x);
        emitted++;
    }
    return util_json_print_free(o);
}

char *reply_modal_json(const reply_modal *m, char *err, size_t errlen)
{
    if (!id_ok(m->custom_id, 100)) {
        seterr(err, errlen, "a modal needs a custom_id of 1..100 characters of valid UTF-8");
        return NULL;
    }
    if (!m->title || !*m->title) {
        seterr(err, errlen, "a modal needs a title");
        return NULL;
    }
    if (m->ninputs < 1 || m->ninputs > REPLY_MODAL_INPUTS_MAX) {
        seterr(err, errlen, "a modal holds 1..%d text inputs (has %u)", REPLY_MODAL_INPUTS_MAX,
               m->ninputs);
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "type", REPLY_CB_MODAL);
    cJSON *d = cJSON_AddObjectToObject(o, "data");
    cJSON_AddStringToObject(d, "custom_id", m->custom_id);
    util_json_add_clipped(d, "title", m->title, REPLY_INPUT_LABEL_MAX);
    cJSON *rows = cJSON_AddArrayToObject(d, "components");
    for (unsigned i = 0; i < m->ninputs; i++) {
        const reply_text_input *in = &m->inputs[i];
        unsigned maxl = in->max_length ? in->max_length : REPLY_INPUT_VALUE_MAX;
        bool dup = false;
        for (unsigned k = 0; k < i; k++)
            if (in->custom_id && m->inputs[k].custom_id &&
                strcmp(in->custom_id, m->inputs[k].custom_id) == 0)
                dup = true;
        if (!id_ok(in->custom_id, 100) || dup || !in->label || !*in->label ||
            maxl > REPLY_INPUT_VALUE_MAX || in->min_length > maxl) {
            cJSON_Delete(o);
            seterr(err, errlen,
                   "text input %u needs a unique custom_id, a label and lengths within "
                   "0..4000",
                   i);
            return NULL;
        }
        cJSON *row = cJSON_CreateObject();
        cJSON_AddNumberToObject(row, "type", 1);
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "type", 4);
        cJSON_AddStringToObject(x, "custom_id", in->custom_id);
        cJSON_AddNumberToObject(x, "style", in->paragraph ? 2 : 1);
        util_json_add_clipped(x, "label", in->label, REPLY_INPUT_LABEL_MAX);
        cJSON_AddNumberToObject(x, "min_length", in->min_length);
        cJSON_AddNumberToObject(x, "max_length", maxl);
        cJSON_AddBoolToObject(x, "required", in->required);
        if (in->value && *in->value) util_json_add_clipped(x, "value", in->value, maxl);
        if (in->placeholder && *in->placeholder)
            util_json_add_clipped(x, "placeholder", in->placeholder, 100);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(row, "components"), x);
        cJSON_AddItemToArray(rows, row);
    }
    return util_json_print_free(o);
}
