/*
 * Equality of two /stats results, every number the embed, the CLI and the chart show: used to
 * check the rollup path against the raw-only baseline. Header-only, for cmocka tests.
 */
#ifndef FLUXBOT_TEST_AN_STATS_EQ_H
#define FLUXBOT_TEST_AN_STATS_EQ_H

#include "analytics/an_stats.h"

static inline void assert_stats_equal(const an_stats *a, const an_stats *b)
{
    assert_int_equal(a->total_images, b->total_images);
    assert_int_equal(a->image_ms_sum, b->image_ms_sum);
    assert_int_equal(a->total_videos, b->total_videos);
    assert_int_equal(a->video_ms_sum, b->video_ms_sum);
    assert_int_equal(a->total_commands, b->total_commands);
    assert_int_equal(a->total_buttons, b->total_buttons);
    assert_int_equal(a->total_users, b->total_users);
    assert_int_equal(a->active_users, b->active_users);
    assert_int_equal(a->active_min, b->active_min);
    assert_int_equal(a->n_top_commands, b->n_top_commands);
    for (unsigned i = 0; i < a->n_top_commands; i++) {
        assert_string_equal(a->top_commands[i].name, b->top_commands[i].name);
        assert_int_equal(a->top_commands[i].count, b->top_commands[i].count);
    }
    assert_int_equal(a->n_top_resolutions, b->n_top_resolutions);
    for (unsigned i = 0; i < a->n_top_resolutions; i++) {
        assert_string_equal(a->top_resolutions[i].name, b->top_resolutions[i].name);
        assert_int_equal(a->top_resolutions[i].count, b->top_resolutions[i].count);
    }
    assert_int_equal(a->bucket_ms, b->bucket_ms);
    assert_int_equal(a->n_series, b->n_series);
    for (unsigned i = 0; i < a->n_series; i++) {
        assert_int_equal(a->series[i].start_ms, b->series[i].start_ms);
        assert_int_equal(a->series[i].images, b->series[i].images);
        assert_int_equal(a->series[i].videos, b->series[i].videos);
        assert_int_equal(a->series[i].commands, b->series[i].commands);
    }
}

#endif
