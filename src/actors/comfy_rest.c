/* Sending the runner's Discord requests to the REST actor (see comfy_rest.h). */
#include "actors/comfy_rest.h"

#include "discord/reply_req.h"

int comfy_rest_send(rt_actor *rest, rest_req_msg *m, bool must_deliver)
{
    if (!rest) {
        rt_msg_free(&m->hdr);
        return -1;
    }
    int rc = must_deliver ? rt_send_spill(rest, &m->hdr) : rt_send(rest, &m->hdr);
    if (rc != 0) {
        rt_msg_free(&m->hdr);
        return -1;
    }
    return 0;
}

rest_req_msg *comfy_rest_edit_original_req(const comfy_reply_ref *ref, char *json_owned)
{
    return reply_req_edit_original(ref->application_id, ref->token, json_owned);
}

void comfy_rest_edit_original(rt_actor *rest, const comfy_reply_ref *ref, char *json_owned,
                              bool must_deliver)
{
    comfy_rest_send(rest, comfy_rest_edit_original_req(ref, json_owned), must_deliver);
}
