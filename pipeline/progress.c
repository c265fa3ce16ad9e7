/* progress.c - a progress bar on terminals, plain lines elsewhere. */
#include "progress.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define BAR_WIDTH 30
#define BAR_INTERVAL 0.1   /* seconds between redraws */
#define LINE_INTERVAL 5.0  /* seconds between plain lines */

struct tl_progress {
    char label[32], unit[32];
    size_t total, done;
    int bar; /* 1: bar, 0: lines */
    double start, last_print;
    int printed_bar;
};

tl_progress_mode tl_progress_mode_parse(const char *name)
{
    if (!name)
        return TL_PROGRESS_AUTO;
    if (strcmp(name, "bar") == 0)
        return TL_PROGRESS_BAR;
    if (strcmp(name, "lines") == 0)
        return TL_PROGRESS_LINES;
    if (strcmp(name, "none") == 0)
        return TL_PROGRESS_NONE;
    return TL_PROGRESS_AUTO;
}

void tl_progress_format_seconds(double seconds, char *buf, size_t size)
{
    if (!isfinite(seconds) || seconds < 0) {
        snprintf(buf, size, "--:--");
        return;
    }
    long s = lround(seconds);
    if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else
        snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

tl_progress *tl_progress_create(const char *label, size_t total, const char *unit, tl_progress_mode mode)
{
    if (mode == TL_PROGRESS_NONE || tl_log_get_level() < TL_LOG_INFO || total == 0)
        return NULL;
    tl_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->label, sizeof p->label, "%s", label);
    snprintf(p->unit, sizeof p->unit, "%s", unit);
    p->total = total;
    p->bar = mode == TL_PROGRESS_BAR || (mode == TL_PROGRESS_AUTO && isatty(STDERR_FILENO));
    p->start = p->last_print = tl_now();
    return p;
}

static void draw(tl_progress *p, const char *stage, int final)
{
    double elapsed = tl_now() - p->start;
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    double left = rate > 0 ? (double)(p->total - p->done) / rate : NAN;
    double fraction = (double)p->done / (double)p->total;
    char eta[32], took[32];
    tl_progress_format_seconds(left, eta, sizeof eta);
    tl_progress_format_seconds(elapsed, took, sizeof took);
    if (p->bar) {
        char bar[BAR_WIDTH + 1];
        int filled = (int)(fraction * BAR_WIDTH + 0.5);
        for (int i = 0; i < BAR_WIDTH; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        fprintf(stderr, "\r\033[K%s [%s] %3.0f%% %zu/%zu %s, %.2f %s/s, %s %s%s%s", p->label, bar, 100 * fraction,
                p->done, p->total, p->unit, rate, p->unit, final ? "took" : "left", final ? took : eta,
                stage && !final ? "  " : "", stage && !final ? stage : "");
        if (final)
            fputc('\n', stderr);
        fflush(stderr);
        p->printed_bar = 1;
    } else {
        if (final)
            tl_log_info("%s: %zu of %zu %s done in %s (%.2f %s/s)", p->label, p->done, p->total, p->unit, took, rate,
                        p->unit);
        else
            tl_log_info("%s: %zu of %zu %s (%.0f%%), %.2f %s/s, %s left%s%s", p->label, p->done, p->total, p->unit,
                        100 * fraction, rate, p->unit, eta, stage ? ", now " : "", stage ? stage : "");
    }
}

void tl_progress_update(tl_progress *p, size_t done, const char *stage)
{
    if (!p)
        return;
    p->done = done > p->total ? p->total : done;
    double now = tl_now();
    if (now - p->last_print < (p->bar ? BAR_INTERVAL : LINE_INTERVAL))
        return;
    p->last_print = now;
    draw(p, stage, 0);
}

void tl_progress_finish(tl_progress **pp)
{
    if (!pp || !*pp)
        return;
    draw(*pp, NULL, 1);
    free(*pp);
    *pp = NULL;
}
