/* Constructor and destructor of the gateway's dispatch message (see gw.h). */
#include "msgs/gw.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/util_str.h"

static void gw_dispatch_dtor(rt_msg *m)
{
    gw_dispatch_msg *d = (gw_dispatch_msg *)m;
    free(d->data_json);
}

gw_dispatch_msg *gw_dispatch_msg_new(const char *event, uint32_t shard_id, uint64_t seq,
                                     const char *data_json, size_t data_len)
{
    gw_dispatch_msg *m = RT_MSG_NEW(gw_dispatch_msg, MSG_GW_DISPATCH, gw_dispatch_dtor);
    snprintf(m->event, sizeof m->event, "%s", event ? event : "");
    m->shard_id = shard_id;
    m->seq = seq;
    m->data_json = util_strndup(data_json ? data_json : "", data_json ? data_len : 0);
    m->data_len = data_json ? data_len : 0;
    return m;
}
