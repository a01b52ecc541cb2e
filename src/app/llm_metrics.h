/*
 * Prompt enhancement's counters as Prometheus families, for the metrics exporter
 * (app/metrics.h):
 *   fluxbot_llm_jobs_total                      jobs the llm actor received
 *   fluxbot_llm_requests_total                  requests sent to the chat endpoint
 *   fluxbot_llm_outcomes_total{outcome}         ok, timeout, error, filtered, busy
 *   fluxbot_llm_in_flight                       requests running now
 */
#ifndef FLUXBOT_APP_LLM_METRICS_H
#define FLUXBOT_APP_LLM_METRICS_H

#include "app/mfmt.h"

/* A metrics_collect_fn; ctx is the llm_enhance actor. */
void llm_metrics_collect(mfmt *out, void *llm_enhance_ptr);

#endif
