/* Table, JSON, CSV and SVG outputs of the end-to-end benchmark (see e2e_report.h). */
#include "e2e_report.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

void e2e_report_table(FILE *out, const e2e_result *r, const char *machine)
{
    if (machine) fprintf(out, "machine: %s\n", machine);
    if (r->router_threads)
        fprintf(out, "threads: router %u, runner %u; load: %.0f interactions/s for %.1f s\n",
                r->router_threads, r->runner_threads, r->rate_target, r->seconds);
    else
        fprintf(out,
                "threads: router on the scheduler, runner %u; load: %.0f interactions/s for "
                "%.1f s\n",
                r->runner_threads, r->rate_target, r->seconds);
    fprintf(out, "%-34s %14s\n", "metric", "value");
    fprintf(out, "%-34s %14llu\n", "interactions sent", (unsigned long long)r->sent);
    fprintf(out, "%-34s %14llu\n", "answered exactly once", (unsigned long long)r->answered);
    fprintf(out, "%-34s %14llu\n", "answered twice", (unsigned long long)r->answered_twice);
    fprintf(out, "%-34s %14llu\n", "unanswered", (unsigned long long)r->unanswered);
    fprintf(out, "%-34s %14.1f\n", "interactions/s sustained", r->throughput);
    fprintf(out, "%-34s %14.3f\n", "first reply p50 (ms)", r->reply_p50_ms);
    fprintf(out, "%-34s %14.3f\n", "first reply p99 (ms)", r->reply_p99_ms);
    fprintf(out, "%-34s %14.3f\n", "first reply p99.9 (ms)", r->reply_p999_ms);
    fprintf(out, "%-34s %14.3f\n", "first reply max (ms)", r->reply_max_ms);
    fprintf(out, "%-34s %8llu/%-5llu\n", "jobs done/sent", (unsigned long long)r->jobs_done,
            (unsigned long long)r->jobs);
    fprintf(out, "%-34s %14.3f\n", "job completion p50 (ms)", r->job_p50_ms);
    fprintf(out, "%-34s %14.3f\n", "job completion p99 (ms)", r->job_p99_ms);
    fprintf(out, "%-34s %14.3f\n", "job completion max (ms)", r->job_max_ms);
    fprintf(out, "%-34s %14.1f\n", "jobs finished/s", r->jobs_per_s);
    fprintf(out, "%-34s %14llu\n", "analytics rows", (unsigned long long)r->analytics_rows);
    fprintf(out, "%-34s %14.1f\n", "analytics rows/s", r->analytics_rows_per_s);
    fprintf(out, "%-34s %14.1f\n", "CPU ms per 1000 interactions", r->cpu_ms_per_1000);
    fprintf(out, "%-34s %14.1f\n", "peak RSS (MiB)", (double)r->peak_rss_kb / 1024.0);
    fprintf(out, "%-34s %14d\n", "fluxbot exit code", r->exit_code);
}

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* JSON has no NaN/Inf: write null for them. */
static void json_num(FILE *out, const char *key, double v, bool comma)
{
    if (isfinite(v))
        fprintf(out, "\"%s\":%.6g", key, v);
    else
        fprintf(out, "\"%s\":null", key);
    if (comma) fputc(',', out);
}

void e2e_report_json(FILE *out, const e2e_result *r, const char *machine)
{
    fputc('{', out);
    fprintf(out, "\"router_threads\":%u,\"runner_threads\":%u,", r->router_threads,
            r->runner_threads);
    json_num(out, "rate_target", r->rate_target, true);
    json_num(out, "seconds", r->seconds, true);
    fprintf(out, "\"sent\":%llu,\"answered\":%llu,\"answered_twice\":%llu,\"unanswered\":%llu,",
            (unsigned long long)r->sent, (unsigned long long)r->answered,
            (unsigned long long)r->answered_twice, (unsigned long long)r->unanswered);
    json_num(out, "interactions_per_s", r->throughput, true);
    json_num(out, "reply_p50_ms", r->reply_p50_ms, true);
    json_num(out, "reply_p99_ms", r->reply_p99_ms, true);
    json_num(out, "reply_p999_ms", r->reply_p999_ms, true);
    json_num(out, "reply_max_ms", r->reply_max_ms, true);
    fprintf(out, "\"jobs\":%llu,\"jobs_done\":%llu,", (unsigned long long)r->jobs,
            (unsigned long long)r->jobs_done);
    json_num(out, "job_p50_ms", r->job_p50_ms, true);
    json_num(out, "job_p99_ms", r->job_p99_ms, true);
    json_num(out, "job_max_ms", r->job_max_ms, true);
    json_num(out, "jobs_per_s", r->jobs_per_s, true);
    fprintf(out, "\"analytics_rows\":%llu,", (unsigned long long)r->analytics_rows);
    json_num(out, "analytics_rows_per_s", r->analytics_rows_per_s, true);
    json_num(out, "cpu_ms_per_1000", r->cpu_ms_per_1000, true);
    fprintf(out, "\"peak_rss_kb\":%llu,\"exit_code\":%d", (unsigned long long)r->peak_rss_kb,
            r->exit_code);
    if (machine) {
        fputs(",\"machine\":", out);
        json_str(out, machine);
    }
    fputs("}\n", out);
}

void e2e_csv_header(FILE *out)
{
    fputs("router_threads,runner_threads,rate_target,seconds,sent,answered,answered_twice,"
          "unanswered,interactions_per_s,reply_p50_ms,reply_p99_ms,reply_p999_ms,jobs,jobs_done,"
          "job_p50_ms,job_p99_ms,jobs_per_s,analytics_rows_per_s,cpu_ms_per_1000,peak_rss_kb,exit_"
          "code\n",
          out);
}

void e2e_csv_row(FILE *out, const e2e_result *r)
{
    fprintf(out,
            "%u,%u,%.1f,%.1f,%llu,%llu,%llu,%llu,%.2f,%.3f,%.3f,%.3f,%llu,%llu,%.3f,%.3f,"
            "%.2f,%.1f,%.1f,%llu,%d\n",
            r->router_threads, r->runner_threads, r->rate_target, r->seconds,
            (unsigned long long)r->sent, (unsigned long long)r->answered,
            (unsigned long long)r->answered_twice, (unsigned long long)r->unanswered, r->throughput,
            r->reply_p50_ms, r->reply_p99_ms, r->reply_p999_ms, (unsigned long long)r->jobs,
            (unsigned long long)r->jobs_done, r->job_p50_ms, r->job_p99_ms, r->jobs_per_s,
            r->analytics_rows_per_s, r->cpu_ms_per_1000, (unsigned long long)r->peak_rss_kb,
            r->exit_code);
}

double e2e_nice_ceil(double v)
{
    if (!(v > 0) || !isfinite(v)) return 1;
    double p = pow(10, floor(log10(v)));
    static const double steps[] = {1, 2, 5, 10};
    for (int i = 0; i < 4; i++)
        if (steps[i] * p >= v * (1 - 1e-12)) return steps[i] * p;
    return 10 * p;
}

/* ---- SVG ----------------------------------------------------------------------------------- */

#define SVG_W 1420
#define SVG_H 420
#define PANEL_W 380
#define PANEL_H 280
#define MARGIN_L 70
#define MARGIN_T 60

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                     "#9467bd", "#8c564b", "#e377c2", "#17becf"};

static int cmp_u(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

static size_t distinct(const e2e_result *pts, size_t n, bool router, unsigned *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v = router ? pts[i].router_threads : pts[i].runner_threads;
        bool seen = false;
        for (size_t j = 0; j < k; j++)
            if (out[j] == v) seen = true;
        if (!seen) out[k++] = v;
    }
    qsort(out, k, sizeof *out, cmp_u);
    return k;
}

enum { P_THROUGHPUT, P_REPLY_P99, P_JOB_P99 };

static double pick_value(const e2e_result *r, int which)
{
    return which == P_THROUGHPUT  ? r->throughput
           : which == P_REPLY_P99 ? r->reply_p99_ms
                                  : r->job_p99_ms;
}

static void panel(FILE *out, int x0, const char *title, const char *ylabel, const e2e_result *pts,
                  size_t n, const unsigned *xs, size_t nx, const unsigned *series, size_t ns,
                  int which)
{
    double ymax = 0;
    for (size_t i = 0; i < n; i++) {
        double v = pick_value(&pts[i], which);
        if (isfinite(v) && v > ymax) ymax = v;
    }
    ymax = e2e_nice_ceil(ymax);
    int y0 = MARGIN_T;
    fprintf(out, "<g transform=\"translate(%d,%d)\">\n", x0, y0);
    fprintf(out, "<text x=\"%d\" y=\"-14\" text-anchor=\"middle\" font-weight=\"bold\">%s</text>\n",
            PANEL_W / 2, title);
    fprintf(out,
            "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n",
            PANEL_W, PANEL_H);
    for (int t = 0; t <= 5; t++) {
        double v = ymax * t / 5;
        double y = PANEL_H - (double)PANEL_H * t / 5;
        fprintf(out,
                "<line x1=\"0\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>"
                "<text x=\"-6\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">%g</text>\n",
                y, PANEL_W, y, y + 4, v);
    }
    for (size_t i = 0; i < nx; i++) {
        double x = nx == 1 ? PANEL_W / 2.0 : (double)PANEL_W * (double)i / (double)(nx - 1);
        fprintf(out,
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\">%u</text>\n", x,
                PANEL_H + 16, xs[i]);
    }
    fprintf(out,
            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">router threads (0 = "
            "on the scheduler)</text>\n",
            PANEL_W / 2, PANEL_H + 34);
    fprintf(out,
            "<text transform=\"translate(-48,%d) rotate(-90)\" text-anchor=\"middle\" "
            "font-size=\"12\">%s</text>\n",
            PANEL_H / 2, ylabel);
    for (size_t s = 0; s < ns; s++) {
        const char *col = colors[s % (sizeof colors / sizeof colors[0])];
        fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
        for (size_t i = 0; i < nx; i++) {
            for (size_t k = 0; k < n; k++) {
                if (pts[k].router_threads != xs[i] || pts[k].runner_threads != series[s]) continue;
                double v = pick_value(&pts[k], which);
                if (!isfinite(v)) continue;
                double x = nx == 1 ? PANEL_W / 2.0 : (double)PANEL_W * (double)i / (double)(nx - 1);
                fprintf(out, "%.1f,%.1f ", x, PANEL_H - PANEL_H * v / ymax);
            }
        }
        fputs("\"/>\n", out);
        for (size_t i = 0; i < nx; i++) {
            for (size_t k = 0; k < n; k++) {
                if (pts[k].router_threads != xs[i] || pts[k].runner_threads != series[s]) continue;
                double v = pick_value(&pts[k], which);
                if (!isfinite(v)) continue;
                double x = nx == 1 ? PANEL_W / 2.0 : (double)PANEL_W * (double)i / (double)(nx - 1);
                fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", x,
                        PANEL_H - PANEL_H * v / ymax, col);
            }
        }
    }
    fputs("</g>\n", out);
}

int e2e_svg_sweep(FILE *out, const e2e_result *pts, size_t n, const char *title)
{
    if (n == 0) return -1;
    unsigned *xs = calloc(n, sizeof *xs), *series = calloc(n, sizeof *series);
    if (!xs || !series) {
        free(xs);
        free(series);
        return -1;
    }
    size_t nx = distinct(pts, n, true, xs);
    size_t ns = distinct(pts, n, false, series);
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            SVG_W, SVG_H, SVG_W, SVG_H);
    fputs("<text x=\"710\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">", out);
    for (const char *p = title ? title : ""; *p; p++) {
        if (*p == '<')
            fputs("&lt;", out);
        else if (*p == '>')
            fputs("&gt;", out);
        else if (*p == '&')
            fputs("&amp;", out);
        else
            fputc(*p, out);
    }
    fputs("</text>\n", out);
    panel(out, MARGIN_L, "interactions answered per second", "interactions/s", pts, n, xs, nx,
          series, ns, P_THROUGHPUT);
    panel(out, MARGIN_L + PANEL_W + 80, "interaction to first reply, p99", "ms", pts, n, xs, nx,
          series, ns, P_REPLY_P99);
    panel(out, MARGIN_L + 2 * (PANEL_W + 80), "job completion, p99", "ms", pts, n, xs, nx, series,
          ns, P_JOB_P99);
    /* Legend: one entry per runner thread count. */
    for (size_t s = 0; s < ns; s++) {
        const char *col = colors[s % (sizeof colors / sizeof colors[0])];
        int lx = MARGIN_L + (int)s * 130, ly = SVG_H - 22;
        fprintf(out,
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>"
                "<text x=\"%d\" y=\"%d\" font-size=\"12\">runner threads %u</text>\n",
                lx, ly, lx + 20, ly, col, lx + 26, ly + 4, series[s]);
    }
    fputs("</svg>\n", out);
    free(xs);
    free(series);
    return 0;
}

void e2e_machine(char *out, size_t cap)
{
    char model[160] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                const char *c = strchr(line, ':');
                if (c) {
                    c++;
                    while (*c == ' ')
                        c++;
                    snprintf(model, sizeof model, "%s", c);
                    model[strcspn(model, "\n")] = 0;
                }
                break;
            }
        }
        fclose(f);
    }
    struct utsname u;
    if (uname(&u) != 0) strcpy(u.release, "?");
    snprintf(out, cap, "%s, %ld cores, Linux %s", model, sysconf(_SC_NPROCESSORS_ONLN), u.release);
}
