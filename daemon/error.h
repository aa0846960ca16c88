/* migd's error domain: stable codes that the API maps to an HTTP status and
 * a machine-readable code string. */
#pragma once

#include <glib.h>
#include <jansson.h>

#define MIGD_ERROR (migd_error_quark())

typedef enum {
    MIGD_ERROR_INTERNAL,            /* a bug or an unexpected system failure */
    MIGD_ERROR_INVALID_ARGUMENT,    /* the caller sent something we refuse */
    MIGD_ERROR_INVALID_JSON,        /* the body is not JSON at all */
    MIGD_ERROR_NOT_FOUND,
    MIGD_ERROR_METHOD_NOT_ALLOWED,
    MIGD_ERROR_CONFLICT,
    MIGD_ERROR_PAYLOAD_TOO_LARGE,
    MIGD_ERROR_LIBVIRT_DISCONNECTED,
    MIGD_ERROR_CONFIG,              /* the configuration file is wrong */
    MIGD_ERROR_UNREACHABLE,         /* a destination does not answer */
    MIGD_ERROR_UNAUTHENTICATED,     /* over TCP without a client certificate or the peer token */
    MIGD_ERROR_NO_FREE_VF,          /* every VF of the pool is leased or in use */
    MIGD_ERROR_BUSY,                /* a limit is reached; ask again later */
    MIGD_ERROR_SHUTTING_DOWN,       /* migd is stopping; ask again once it is back */
    MIGD_ERROR_FORBIDDEN,           /* the credential is good, but not for this */
    MIGD_ERROR_DRAINING,            /* this host is being drained: it takes no guest in */
    MIGD_ERROR_LAST
} MigdErrorCode;

GQuark migd_error_quark(void);

/* "invalid_argument", ...: the code the API puts in error.code. */
const char *migd_error_code_to_string(MigdErrorCode code);

/* The API's error envelope {"error":{"code","message"}}, new reference;
 * never NULL. A message that quotes bytes which are not UTF-8 (a client's
 * request) has them replaced by U+FFFD, which JSON can carry. */
json_t *migd_error_to_json(MigdErrorCode code, const char *message);

/* The HTTP status an API response carries for this code. */
unsigned int migd_error_code_to_http_status(MigdErrorCode code);
