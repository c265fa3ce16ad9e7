#define _POSIX_C_SOURCE 200809L
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static tl_log_level current_level = TL_LOG_INFO, level_cap = TL_LOG_DEBUG;
static char source[64] = "tomoline";
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void tl_log_set_level(tl_log_level level) { current_level = level < level_cap ? level : level_cap; }

void tl_log_set_source(const char *name, tl_log_level cap)
{
    snprintf(source, sizeof source, "%s", name);
    level_cap = cap;
    if (current_level > cap)
        current_level = cap;
}
tl_log_level tl_log_get_level(void) { return current_level; }

void tl_log(tl_log_level level, const char *fmt, ...)
{
    if (level > current_level)
        return;
    static const char *const prefix[] = {"error: ", "warning: ", "", "debug: "};
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "%s: %s%s\n", source, prefix[level], line);
    pthread_mutex_unlock(&log_lock);
}

double tl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
