/* migctl's HTTP transport: one request to migd's REST API over its unix
 * socket or TCP, with failures to reach it explained for the person on call. */
#pragma once

#include <curl/curl.h>
#include <glib.h>

#include "ctl-options.h"

/* Bodies larger than this are not something migd sends; stop reading. */
#define CTL_HTTP_MAX_BODY (16 * 1024 * 1024)

typedef struct CtlHttp CtlHttp;

typedef struct {
    long status;                /* the HTTP status code */
    char *body;                 /* NUL-terminated for convenience */
    size_t len;                 /* without that NUL */
} CtlResponse;

/* Takes @target over. Call curl_global_init() before the first one. */
CtlHttp *ctl_http_new(CtlTarget *target, guint timeout_seconds);

void ctl_http_free(CtlHttp *http);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlHttp, ctl_http_free)

/* Sends @method @path (e.g. "/v1/health") with the JSON @body (NULL for
 * none: a POST then has an empty body) and returns whatever status migd answered with. Fails with
 * CTL_ERROR_UNREACHABLE when no answer came, or CTL_ERROR_BAD_ANSWER when
 * the answer is too large to be migd's. */
CtlResponse *ctl_http_request(CtlHttp *http, const char *method,
                              const char *path, const char *body,
                              GError **error);

/* Receives the next bytes of a stream. Returns FALSE to stop reading:
 * with @error set when something is wrong with what came, without when the
 * stream said all there was to say. */
typedef gboolean (*CtlHttpChunkFunc)(const char *data, size_t len,
                                     gpointer user_data, GError **error);

/* GETs the event stream (text/event-stream) at @path: the body of a 2xx
 * answer goes to @chunk as it arrives, with no time limit but the one on
 * connecting; an answer of another status is returned whole, like
 * ctl_http_request()'s, for the caller to report. The returned body of a
 * stream is empty. Fails with CTL_ERROR_UNREACHABLE when no answer came or
 * the connection broke before the stream or @chunk ended it, with
 * CTL_ERROR_BAD_ANSWER when the answer is not an event stream, or with the
 * error @chunk set. */
CtlResponse *ctl_http_stream(CtlHttp *http, const char *path,
                             CtlHttpChunkFunc chunk, gpointer user_data,
                             GError **error);

void ctl_response_free(CtlResponse *response);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlResponse, ctl_response_free)

/* Why a request to @target got no answer and what to check, as one message.
 * @os_errno is CURLINFO_OS_ERRNO (0 if none), @detail curl's error buffer
 * (may be empty). Pure, for the unit tests. */
char *ctl_http_describe_failure(const CtlTarget *target, CURLcode code,
                                int os_errno, const char *detail,
                                guint timeout_seconds);
