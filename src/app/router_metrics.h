/*
 * The router's counters as Prometheus families, for the metrics exporter (app/metrics.h):
 *   fluxbot_router_interactions_total{command, outcome}  final outcome of each interaction
 *   fluxbot_router_dispatches_total, _callbacks_total, _stale_answers_total, _resets_total,
 *   fluxbot_router_role_events_total, fluxbot_router_pending, fluxbot_router_pending_max
 */
#ifndef FLUXBOT_APP_ROUTER_METRICS_H
#define FLUXBOT_APP_ROUTER_METRICS_H

#include "app/mfmt.h"

/* A metrics_collect_fn; ctx is the router. */
void router_metrics_collect(mfmt *out, void *router_ptr);

#endif
