/* Constructors of the analytics messages and the process-wide event sequence
 * (see an.h). */
#include "msgs/an.h"

#include <stdatomic.h>
#include <stdio.h>

static _Atomic uint64_t g_seq;

uint64_t an_seq_next(void)
{
    return atomic_fetch_add_explicit(&g_seq, 1, memory_order_relaxed) + 1;
}

static void event_dtor(rt_msg *m)
{
    an_event_clear(&((an_event_msg *)m)->ev);
}

an_event_msg *an_event_msg_new(void)
{
    return RT_MSG_NEW(an_event_msg, MSG_AN_EVENT, event_dtor);
}

an_control_msg *an_control_msg_new(uint16_t type, uint64_t seq, rt_actor *reply_to, uint64_t cookie)
{
    an_control_msg *m = RT_MSG_NEW(an_control_msg, type, NULL);
    m->seq = seq;
    m->reply_to = reply_to;
    m->cookie = cookie;
    return m;
}

an_done_msg *an_done_msg_new(uint16_t type, uint64_t cookie, uint64_t rows_deleted,
                             const char *error)
{
    an_done_msg *m = RT_MSG_NEW(an_done_msg, type, NULL);
    m->cookie = cookie;
    m->rows_deleted = rows_deleted;
    snprintf(m->error, sizeof m->error, "%s", error ? error : "");
    return m;
}
