/* The migd error domain and its mapping onto the REST API. */
#include <config.h>

#include "error.h"

G_DEFINE_QUARK(migd-error-quark, migd_error)

static const struct {
    const char *name;
    unsigned int http_status;
} error_codes[MIGD_ERROR_LAST] = {
    [MIGD_ERROR_INTERNAL] = { "internal_error", 500 },
    [MIGD_ERROR_INVALID_ARGUMENT] = { "invalid_argument", 400 },
    [MIGD_ERROR_INVALID_JSON] = { "invalid_json", 400 },
    [MIGD_ERROR_NOT_FOUND] = { "not_found", 404 },
    [MIGD_ERROR_METHOD_NOT_ALLOWED] = { "method_not_allowed", 405 },
    [MIGD_ERROR_CONFLICT] = { "conflict", 409 },
    [MIGD_ERROR_PAYLOAD_TOO_LARGE] = { "payload_too_large", 413 },
    [MIGD_ERROR_LIBVIRT_DISCONNECTED] = { "libvirt_disconnected", 503 },
    [MIGD_ERROR_CONFIG] = { "invalid_configuration", 500 },
    [MIGD_ERROR_UNREACHABLE] = { "destination_unreachable", 422 },
    [MIGD_ERROR_UNAUTHENTICATED] = { "unauthenticated", 401 },
    [MIGD_ERROR_NO_FREE_VF] = { "no_free_vf", 409 },
    [MIGD_ERROR_BUSY] = { "busy", 503 },
    [MIGD_ERROR_SHUTTING_DOWN] = { "shutting_down", 503 },
    [MIGD_ERROR_FORBIDDEN] = { "forbidden", 403 },
    [MIGD_ERROR_DRAINING] = { "draining", 503 },
};

const char *
migd_error_code_to_string(MigdErrorCode code)
{
    if ((unsigned int)code >= MIGD_ERROR_LAST)
        return error_codes[MIGD_ERROR_INTERNAL].name;
    return error_codes[code].name;
}

unsigned int
migd_error_code_to_http_status(MigdErrorCode code)
{
    if ((unsigned int)code >= MIGD_ERROR_LAST)
        return 500;
    return error_codes[code].http_status;
}

json_t *
migd_error_to_json(MigdErrorCode code, const char *message)
{
    g_autofree char *valid = NULL;

    /* json_pack() refuses a string that is not UTF-8, and an answer
     * without its envelope would become a 500. */
    if (!g_utf8_validate(message, -1, NULL))
        message = valid = g_utf8_make_valid(message, -1);
    return json_pack("{s:{s:s,s:s}}", "error", "code", migd_error_code_to_string(code),
                     "message", message);
}
