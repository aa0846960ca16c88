/* The arguments after a command's name: its positional arguments and its
 * own options. Options are described by a table from which both the parser
 * and `migctl help COMMAND` work; what they set lands in a JSON object, laid
 * out as the request body it usually becomes. Pure, for the unit tests. */
#pragma once

#include <glib.h>
#include <jansson.h>

typedef enum {
    CTL_ARG_TRUE,               /* a flag that sets its member to true */
    CTL_ARG_FALSE,              /* a flag that sets its member to false */
    CTL_ARG_STRING,             /* any non-empty string */
    CTL_ARG_CHOICE,             /* one of the spec's choices */
    CTL_ARG_UINT,               /* a whole number from min to max */
    CTL_ARG_STRINGS,            /* repeatable: each use adds to an array */
    CTL_ARG_UINTS,              /* whole numbers separated by commas */
    CTL_ARG_LAST
} CtlArgKind;

typedef struct {
    const char *name;           /* the long option without "--"; NULL ends */
    const char *value_name;     /* for help; NULL for flags */
    CtlArgKind kind;
    const char *section;        /* the object its member goes in, or NULL */
    const char *member;
    guint64 min;                /* CTL_ARG_UINT and CTL_ARG_UINTS */
    guint64 max;
    const char *const *choices; /* CTL_ARG_CHOICE, NULL-terminated */
    const char *help;
} CtlArgSpec;

typedef struct {
    const char *command;        /* its name, for messages */
    const char *arguments;      /* the positional ones, e.g. "DOMAIN DEST" */
    int min_args;
    int max_args;
    const CtlArgSpec *options;  /* ends with a NULL name; NULL for none */
} CtlArgsSyntax;

typedef struct {
    char **args;                /* positional, NULL-terminated, borrowed */
    int n_args;
    json_t *options;            /* what the options set; {} if none */
} CtlArgs;

/* Parses @argv (without the command's name). A later use of an option
 * overrides an earlier one, except for repeatable ones; "--" ends the
 * options. Fails with CTL_ERROR_USAGE. */
CtlArgs *ctl_args_parse(const CtlArgsSyntax *syntax, int argc, char **argv,
                        GError **error);

void ctl_args_free(CtlArgs *args);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlArgs, ctl_args_free)

/* The options of a command for its help, one entry each. */
void ctl_args_append_help(GString *out, const CtlArgSpec *options);
