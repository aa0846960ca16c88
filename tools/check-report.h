/* What migd-plugin-check did, as JSON on stdout and one line per step on
 * stderr: each call with its device, outcome and what it returned (probe
 * flags, the saved state). */
#pragma once

#include <jansson.h>

#include "check-device.h"
#include "plugin-call.h"

/* The step for a call's @result on @device. */
json_t *check_report_call(const CheckDevice *device, const PluginCallResult *result,
                          const char *call);
/* A step that did not run, and why. */
json_t *check_report_skipped(const char *step, const char *target, const char *why);
/* A state carried between calls: its version, size and bytes. Adds
 * state_text when the bytes are printable UTF-8 text. */
void check_report_state(json_t *step, GBytes *state, guint32 version);

/* The line on stderr for @step. */
void check_report_say(const json_t *step);
