#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const status_text[] = {
#define TL_X_TEXT(name, text) text,
    TL_STATUS_TABLE(TL_X_TEXT)
#undef TL_X_TEXT
};

static const char *const status_names[] = {
#define TL_X_NAME(name, text) #name,
    TL_STATUS_TABLE(TL_X_NAME)
#undef TL_X_NAME
};

const char *tl_strerror(tl_status status)
{
    if ((int)status < 0 || status >= TL_STATUS_COUNT)
        return "unknown status";
    return status_text[status];
}

const char *tl_status_name(tl_status status)
{
    if ((int)status < 0 || status >= TL_STATUS_COUNT)
        return "TL_UNKNOWN";
    return status_names[status];
}

tl_status tl_error_set(tl_error *err, tl_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->status = status;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return status;
}

void tl_error_prefix(tl_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[TL_ERROR_MSG_MAX];
    char old[TL_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof old);
    snprintf(err->message, sizeof err->message, "%s: %s", prefix, old);
}

void tl_error_clear(tl_error *err)
{
    if (err) {
        err->status = TL_OK;
        err->message[0] = '\0';
    }
}
