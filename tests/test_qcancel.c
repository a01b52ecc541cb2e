/*
 * comfy/qcancel.c: which job a cancel means and who may (a button's job, /cancel with one or
 * several jobs, another user's, a manager's), and the texts; plus the Cancel button's custom_id
 * (comfy/cres.c) it is reached by.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "comfy/cres.h"
#include "comfy/qcancel.h"

#define A 1001ULL
#define B 1002ULL
#define M 1009ULL

/* Jobs in the coordinator's order (older first): A's 11 (running), B's 12, A's 13 (waiting). */
static const qcancel_job jobs[] = {
    {.id = 11, .user_id = A, .running = true, .command = "comfy", .snippet = "a cat"},
    {.id = 12, .user_id = B, .command = "video", .snippet = ""},
    {.id = 13, .user_id = A, .command = "comfy", .snippet = "a dog"},
};

static void button_own_other_manager(void **state)
{
    (void)state;
    qcancel_decision d;
    qcancel_req r = {.job_id = 13, .by_user = A};
    qcancel_decide(jobs, 3, &r, &d);
    assert_int_equal(d.kind, QCANCEL_ONE);
    assert_int_equal(d.index, 2);
    /* B's job: the real owner decides, not the id in a button */
    r = (qcancel_req){.job_id = 12, .by_user = A};
    qcancel_decide(jobs, 3, &r, &d);
    assert_int_equal(d.kind, QCANCEL_DENIED);
    r.manager = true;
    qcancel_decide(jobs, 3, &r, &d);
    assert_int_equal(d.kind, QCANCEL_ONE);
    assert_int_equal(d.index, 1);
    /* ended */
    r = (qcancel_req){.job_id = 99, .by_user = A};
    qcancel_decide(jobs, 3, &r, &d);
    assert_int_equal(d.kind, QCANCEL_GONE);
    /* asked twice */
    qcancel_job j[1] = {jobs[0]};
    j[0].cancelling = true;
    r = (qcancel_req){.job_id = 11, .by_user = A};
    qcancel_decide(j, 1, &r, &d);
    assert_int_equal(d.kind, QCANCEL_ALREADY);
    char text[300];
    qcancel_refusal_text(&d, &r, text, sizeof text);
    assert_non_null(strstr(text, "already being cancelled"));
}

static void command_none_one_choice(void **state)
{
    (void)state;
    qcancel_decision d;
    qcancel_req r = {.by_user = 5555};
    qcancel_decide(jobs, 3, &r, &d);
    assert_int_equal(d.kind, QCANCEL_NONE);
    char text[400];
    qcancel_refusal_text(&d, &r, text, sizeof text);
    assert_string_equal(text, "You have no jobs waiting or running.");
    r = (qcancel_req){.by_user = B};
    qcancel_decide(jobs, 3, &r, &d);
    assert_int_equal(d.kind, QCANCEL_ONE);
    assert_int_equal(d.index, 1);
    /* several: a choice, newest first */
    r = (qcancel_req){.by_user = A};
    qcancel_decide(jobs, 3, &r, &d);
    assert_int_equal(d.kind, QCANCEL_CHOOSE);
    assert_int_equal(d.nchoice, 2);
    assert_int_equal(d.choice[0], 2);
    assert_int_equal(d.choice[1], 0);
    char list[1000];
    qcancel_choice_text(jobs, &d, &r, list, sizeof list);
    assert_string_equal(list, "You have 2 jobs. Which one should be cancelled?\n"
                              "1. `/comfy` \"a dog\" \xe2\x80\x94 waiting\n"
                              "2. `/comfy` \"a cat\" \xe2\x80\x94 running\n");
    /* a job being cancelled is no longer offered */
    qcancel_job j[3] = {jobs[0], jobs[1], jobs[2]};
    j[2].cancelling = true;
    qcancel_decide(j, 3, &r, &d);
    assert_int_equal(d.kind, QCANCEL_ONE);
    assert_int_equal(d.index, 0);
}

static void command_other_user(void **state)
{
    (void)state;
    qcancel_decision d;
    qcancel_req r = {.by_user = A, .target_user = B};
    qcancel_decide(jobs, 3, &r, &d);
    assert_int_equal(d.kind, QCANCEL_DENIED);
    char text[400];
    qcancel_refusal_text(&d, &r, text, sizeof text);
    assert_non_null(strstr(text, "only cancel your own jobs"));
    r = (qcancel_req){.by_user = M, .target_user = A, .manager = true};
    qcancel_decide(jobs, 3, &r, &d);
    assert_int_equal(d.kind, QCANCEL_CHOOSE);
    char list[1000];
    qcancel_choice_text(jobs, &d, &r, list, sizeof list);
    assert_non_null(strstr(list, "<@1001> has 2 jobs."));
    r = (qcancel_req){.by_user = M, .target_user = 777, .manager = true};
    qcancel_decide(jobs, 3, &r, &d);
    assert_int_equal(d.kind, QCANCEL_NONE);
    qcancel_refusal_text(&d, &r, text, sizeof text);
    assert_string_equal(text, "<@777> has no jobs waiting or running.");
}

static void choice_is_bounded(void **state)
{
    (void)state;
    qcancel_job many[30];
    for (unsigned i = 0; i < 30; i++)
        many[i] = (qcancel_job){.id = 100 + i, .user_id = A, .command = "comfy", .snippet = "x"};
    qcancel_decision d;
    qcancel_req r = {.by_user = A};
    qcancel_decide(many, 30, &r, &d);
    assert_int_equal(d.kind, QCANCEL_CHOOSE);
    assert_int_equal(d.nchoice, QCANCEL_CHOICES_MAX);
    assert_int_equal(d.more, 30 - QCANCEL_CHOICES_MAX);
    assert_int_equal(d.choice[0], 29); /* the newest */
    char list[4000];
    qcancel_choice_text(many, &d, &r, list, sizeof list);
    assert_non_null(strstr(list, "You have 30 jobs."));
    assert_non_null(strstr(list, "(10 older jobs not listed)"));
    char tiny[10];
    qcancel_choice_text(many, &d, &r, tiny, sizeof tiny); /* truncated, terminated */
    assert_int_equal(strlen(tiny), 9);
}

static void texts(void **state)
{
    (void)state;
    char t[300];
    qcancel_job_text(A, A, t, sizeof t);
    assert_string_equal(t, "\xf0\x9f\x9a\xab Cancelled.");
    qcancel_job_text(A, M, t, sizeof t);
    assert_string_equal(t, "\xf0\x9f\x9a\xab Cancelled by <@1009>.");
    qcancel_done_text(&jobs[0], A, true, t, sizeof t);
    assert_string_equal(t, "\xe2\x9c\x85 Your job `/comfy` \"a cat\" was cancelled.");
    qcancel_done_text(&jobs[1], M, false, t, sizeof t);
    assert_string_equal(t, "The job `/video` ended before it could be cancelled.");
}

static void cancel_custom_id(void **state)
{
    (void)state;
    char id[101];
    assert_int_equal(cres_custom_id(CRES_CANCEL, 123456789012345678ULL, 42, id, sizeof id), 0);
    assert_string_equal(id, "fb:cancel:123456789012345678:42");
    cres_action a;
    uint64_t job, owner;
    assert_int_equal(cres_parse_custom_id(id, &a, &job, &owner), 0);
    assert_int_equal(a, CRES_CANCEL);
    assert_int_equal(job, 123456789012345678ULL);
    assert_int_equal(owner, 42);
    const char *bad[] = {"fb:cancel:",
                         "fb:cancel:12",
                         "fb:cancel:12:",
                         "fb:cancel:012:4",
                         "fb:cancel:1:2:3",
                         "fb:cancel:1:x",
                         "fb:cancel:99999999999999999999:1"};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cres_parse_custom_id(bad[i], &a, &job, &owner), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(button_own_other_manager),
        cmocka_unit_test(command_none_one_choice),
        cmocka_unit_test(command_other_user),
        cmocka_unit_test(choice_is_bounded),
        cmocka_unit_test(texts),
        cmocka_unit_test(cancel_custom_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
