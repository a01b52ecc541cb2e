/* Constructors and destructors of the REST messages (see rest.h). */
#include "msgs/rest.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "util/util_str.h"

static void rest_req_dtor(rt_msg *m)
{
    rest_req_msg *r = (rest_req_msg *)m;
    free(r->path);
    free(r->json);
    for (unsigned i = 0; i < r->nfiles; i++) {
        free(r->files[i].filename);
        free(r->files[i].content_type);
        free(r->files[i].data);
    }
    if (r->then) rt_msg_free(&r->then->hdr);
}

rest_req_msg *rest_req_msg_new(rest_method method, const char *path, const char *json)
{
    rest_req_msg *m = RT_MSG_NEW(rest_req_msg, MSG_REST_REQ, rest_req_dtor);
    m->method = method;
    m->path = util_strdup(path ? path : "/");
    m->json = util_strdup(json);
    return m;
}

int rest_req_add_file_owned(rest_req_msg *m, const char *filename, const char *content_type,
                            uint8_t *data, size_t len)
{
    if (m->nfiles >= REST_MAX_FILES) return -1;
    rest_file *f = &m->files[m->nfiles++];
    f->filename = util_strdup(filename ? filename : "file.bin");
    f->content_type = util_strdup(content_type ? content_type : "application/octet-stream");
    f->data = data;
    f->len = len;
    return 0;
}

int rest_req_add_file(rest_req_msg *m, const char *filename, const char *content_type,
                      const uint8_t *data, size_t len)
{
    if (m->nfiles >= REST_MAX_FILES) return -1;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) abort();
    if (len) memcpy(copy, data, len);
    return rest_req_add_file_owned(m, filename, content_type, copy, len);
}

static void rest_res_dtor(rt_msg *m)
{
    free(((rest_res_msg *)m)->body);
}

rest_res_msg *rest_res_msg_new(uint64_t cookie, int status, const char *body, size_t body_len)
{
    rest_res_msg *m = RT_MSG_NEW(rest_res_msg, MSG_REST_RES, rest_res_dtor);
    m->cookie = cookie;
    m->status = status;
    if (body) {
        m->body = util_strndup(body, body_len);
        m->body_len = body_len;
    }
    return m;
}

const char *rest_method_name(rest_method m)
{
    static const char *const names[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    return (unsigned)m < 5 ? names[m] : "GET";
}
