/* test_progress.c - progress output: lines off a terminal, nothing when quiet. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>

#include "log.h"
#include "progress.h"

Test(progress, format_seconds)
{
    char b[32];
    tl_progress_format_seconds(0, b, sizeof b);
    cr_assert_str_eq(b, "0:00");
    tl_progress_format_seconds(125.4, b, sizeof b);
    cr_assert_str_eq(b, "2:05");
    tl_progress_format_seconds(3723, b, sizeof b);
    cr_assert_str_eq(b, "1:02:03");
    tl_progress_format_seconds(-1, b, sizeof b);
    cr_assert_str_eq(b, "--:--");
}

Test(progress, modes_parse)
{
    cr_assert_eq(tl_progress_mode_parse("bar"), TL_PROGRESS_BAR);
    cr_assert_eq(tl_progress_mode_parse("lines"), TL_PROGRESS_LINES);
    cr_assert_eq(tl_progress_mode_parse("none"), TL_PROGRESS_NONE);
    cr_assert_eq(tl_progress_mode_parse("auto"), TL_PROGRESS_AUTO);
}

Test(progress, quiet_and_none_print_nothing_and_null_is_safe, .init = cr_redirect_stderr)
{
    tl_log_set_level(TL_LOG_WARN);
    cr_assert_null(tl_progress_create("recon", 10, "slices", TL_PROGRESS_LINES));
    tl_log_set_level(TL_LOG_INFO);
    cr_assert_null(tl_progress_create("recon", 10, "slices", TL_PROGRESS_NONE));
    tl_progress_update(NULL, 3, "x");
    tl_progress_finish(NULL);
    fflush(stderr);
    cr_assert_stderr_eq_str("");
}

Test(progress, lines_end_with_a_summary, .init = cr_redirect_stderr)
{
    tl_log_set_level(TL_LOG_INFO);
    tl_progress *p = tl_progress_create("recon", 4, "slices", TL_PROGRESS_LINES);
    cr_assert_not_null(p);
    tl_progress_update(p, 2, "filter");
    tl_progress_update(p, 4, "write");
    tl_progress_finish(&p);
    cr_assert_null(p);
    fflush(stderr);
    char buf[1024] = {0};
    FILE *f = cr_get_redirected_stderr();
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    cr_assert(strstr(buf, "tomoline: recon: 4 of 4 slices done in "), "%s", buf);
}

Test(progress, bar_draws_in_place, .init = cr_redirect_stderr)
{
    tl_log_set_level(TL_LOG_INFO);
    tl_progress *p = tl_progress_create("recon", 8, "slices", TL_PROGRESS_BAR);
    tl_progress_update(p, 8, "write");
    tl_progress_finish(&p);
    fflush(stderr);
    char buf[1024] = {0};
    FILE *f = cr_get_redirected_stderr();
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    cr_assert(buf[0] == '\r' && strstr(buf, "recon [##############################] 100% 8/8 slices"), "%s", buf);
    cr_assert(strstr(buf, " took ") && buf[strlen(buf) - 1] == '\n', "%s", buf);
}
