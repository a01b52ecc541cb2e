/*
 * Messages to and from the analytics_writer actor (type numbers 200..299).
 *
 *  anyone → analytics_writer:  MSG_AN_EVENT       one event (built by an_record_*)
 *  anyone → analytics_writer:  MSG_AN_RESET       delete every event recorded before this
 *  analytics_writer → asker:   MSG_AN_RESET_DONE  rows deleted, or why the reset failed
 *  anyone → analytics_writer:  MSG_AN_FLUSH       commit everything accepted so far
 *  analytics_writer → asker:   MSG_AN_FLUSH_DONE  done (or why not)
 *
 * Ordering: every event and every reset carries a sequence number taken from one process-wide
 * counter at the moment it is recorded or requested (an_record_*, an_request_reset). The
 * writer orders by that number, not by arrival, since messages from different threads travel
 * in different lanes.
 */
#ifndef FLUXBOT_MSGS_ANALYTICS_H
#define FLUXBOT_MSGS_ANALYTICS_H

#include <stdint.h>

#include "analytics/an_event.h"
#include "fluxbot/msgs.h"

typedef struct rt_actor rt_actor;

enum {
    MSG_AN_EVENT = 200,
    MSG_AN_RESET = 201,
    MSG_AN_RESET_DONE = 202,
    MSG_AN_FLUSH = 203,
    MSG_AN_FLUSH_DONE = 204,
};

/* One event; ev.buf is owned by the message and freed by its destructor. */
typedef struct an_event_msg {
    rt_msg hdr;
    an_event ev;
} an_event_msg;

/* A reset (seq from the counter) or a flush (seq 0). */
typedef struct an_control_msg {
    rt_msg hdr;
    uint64_t seq;
    rt_actor *reply_to; /* NULL: nobody waits (the outcome is logged) */
    uint64_t cookie;    /* echoed in the reply */
} an_control_msg;

/* MSG_AN_RESET_DONE and MSG_AN_FLUSH_DONE. error is empty on success. */
typedef struct an_done_msg {
    rt_msg hdr;
    uint64_t cookie;
    uint64_t rows_deleted; /* resets: raw rows deleted, including accepted events not yet
                              committed that the reset discarded */
    char error[200];
} an_done_msg;

/* Next value of the process-wide event sequence (1, 2, 3, ...); any thread. */
uint64_t an_seq_next(void);

/* A zeroed event message (ev.buf NULL); fill ev and set the text with an_event_set_text. */
an_event_msg *an_event_msg_new(void);
an_control_msg *an_control_msg_new(uint16_t type, uint64_t seq, rt_actor *reply_to,
                                   uint64_t cookie);
an_done_msg *an_done_msg_new(uint16_t type, uint64_t cookie, uint64_t rows_deleted,
                             const char *error);

#endif
