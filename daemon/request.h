/* The body of POST /v1/migrations, validated strictly: every unknown field,
 * wrong type or value out of range is refused with a message that names the
 * field by its path (options.bandwidth_mibps). */
#pragma once

#include <glib.h>
#include <jansson.h>

#include "job.h"

typedef struct {
    char *domain;
    char *destination;          /* a peer name or a libvirt URI, as given */
    char *strategy;
    JobOptions options;
    PolicyConfig policy;        /* the defaults with the request's overrides */
} MigrationRequest;

void migration_request_clear(MigrationRequest *req);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(MigrationRequest, migration_request_clear)

/* Fills @ret from @body, starting from @policy_defaults. On error @ret is
 * cleared and the error (MIGD_ERROR_INVALID_ARGUMENT) names the field. */
gboolean migration_request_parse(json_t *body, const PolicyConfig *policy_defaults,
                                 MigrationRequest *ret, GError **error);
