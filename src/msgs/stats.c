/* Constructor of the stats reporter's messages (see stats.h). */
#include "msgs/stats.h"

#include "util/util_str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void query_dtor(rt_msg *m)
{
    free(((stats_query_msg *)m)->token);
}

stats_query_msg *stats_query_msg_new(int days, const char *application_id, const char *token,
                                     rt_actor *rest)
{
    stats_query_msg *m = RT_MSG_NEW(stats_query_msg, MSG_STATS_QUERY, query_dtor);
    m->days = days;
    snprintf(m->application_id, sizeof m->application_id, "%s",
             application_id ? application_id : "");
    m->token = util_strdup(token ? token : "");
    m->rest = rest;
    return m;
}
