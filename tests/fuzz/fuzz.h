/* What every fuzz harness shares: quiet logs that still stop on a GLib
 * critical (a broken precondition is a bug the fuzzer should report), and
 * the input as a NUL-terminated string. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Drops migd's log lines (bad input is logged by design) but aborts on a
 * critical or an error, so that libFuzzer keeps the input. Call once. */
void fuzz_init(void);

/* @data as a string (owned); a NUL inside ends it early, as it would for
 * the C string the daemon's callers hand over. */
char *fuzz_text(const uint8_t *data, size_t size);

/* Splits @data at its first NUL byte: the part before (a string, owned) and
 * the rest (borrowed, maybe empty). */
char *fuzz_split(const uint8_t *data, size_t size, const uint8_t **ret_rest,
                 size_t *ret_rest_len);
