#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_opt *find_opt(const cli_spec *spec, const char *name, size_t len) {
    for (const cli_opt *o = spec->opts; o && o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) return o;
    return NULL;
}

static int parse_value(const cli_spec *spec, const cli_opt *o, const char *text) {
    char *end = NULL;
    errno = 0;
    switch (o->kind) {
    case CLI_INT: {
        long v = strtol(text, &end, 10);
        if (errno || *end || end == text || v < INT32_MIN || v > INT32_MAX) break;
        *(int *)o->dst = (int)v;
        return 0;
    }
    case CLI_INT64: {
        long long v = strtoll(text, &end, 10);
        if (errno || *end || end == text) break;
        *(int64_t *)o->dst = v;
        return 0;
    }
    case CLI_FLOAT: {
        float v = strtof(text, &end);
        if (errno || *end || end == text) break;
        *(float *)o->dst = v;
        return 0;
    }
    case CLI_DOUBLE: {
        double v = strtod(text, &end);
        if (errno || *end || end == text) break;
        *(double *)o->dst = v;
        return 0;
    }
    case CLI_STR:
        *(const char **)o->dst = text;
        return 0;
    case CLI_FLAG:
        break;
    }
    const char *what = o->kind == CLI_INT || o->kind == CLI_INT64 ? "an integer" : "a number";
    fprintf(stderr, "tinyr1 %s: --%s expects %s, got '%s'\n", spec->command, o->name, what, text);
    return -1;
}

int cli_parse(const cli_spec *spec, int argc, char **argv, char **positional, int *n_positional) {
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            cli_print_help(spec);
            return 1;
        }
        /* "-n 200" is "--n 200": one-letter options may take one dash */
        int short_form = arg[0] == '-' && arg[1] && arg[1] != '-' && arg[2] == '\0' &&
                         find_opt(spec, arg + 1, 1);
        if ((strncmp(arg, "--", 2) == 0 && arg[2]) || short_form) {
            const char *name = arg + (short_form ? 1 : 2);
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const cli_opt *o = find_opt(spec, name, len);
            if (!o) {
                fprintf(stderr, "tinyr1 %s: unknown option '%.*s'; see 'tinyr1 %s --help'\n",
                        spec->command, (int)(len + 2), arg, spec->command);
                return -1;
            }
            if (o->kind == CLI_FLAG) {
                if (eq) {
                    fprintf(stderr, "tinyr1 %s: --%s takes no value\n", spec->command, o->name);
                    return -1;
                }
                *(int *)o->dst = 1;
                continue;
            }
            const char *value = eq ? eq + 1 : NULL;
            if (!value) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "tinyr1 %s: --%s needs a value (%s)\n", spec->command,
                            o->name, o->metavar ? o->metavar : "VALUE");
                    return -1;
                }
                value = argv[++i];
            }
            if (parse_value(spec, o, value) != 0) return -1;
            continue;
        }
        if (npos >= spec->max_positional) {
            fprintf(stderr, "tinyr1 %s: unexpected argument '%s'; see 'tinyr1 %s --help'\n",
                    spec->command, arg, spec->command);
            return -1;
        }
        positional[npos++] = argv[i];
    }
    if (npos < spec->min_positional) {
        fprintf(stderr, "tinyr1 %s: missing argument; usage: tinyr1 %s [options] %s\n",
                spec->command, spec->command, spec->usage ? spec->usage : "");
        return -1;
    }
    if (n_positional) *n_positional = npos;
    return 0;
}

static void format_value(const cli_opt *o, char *buf, size_t cap) {
    switch (o->kind) {
    case CLI_FLAG: snprintf(buf, cap, "%s", *(int *)o->dst ? "on" : "off"); break;
    case CLI_INT: snprintf(buf, cap, "%d", *(int *)o->dst); break;
    case CLI_INT64: snprintf(buf, cap, "%" PRId64, *(int64_t *)o->dst); break;
    case CLI_FLOAT: snprintf(buf, cap, "%g", (double)*(float *)o->dst); break;
    case CLI_DOUBLE: snprintf(buf, cap, "%g", *(double *)o->dst); break;
    case CLI_STR: {
        const char *s = *(const char **)o->dst;
        snprintf(buf, cap, "%s", s ? s : "(none)");
        break;
    }
    }
}

void cli_print_help(const cli_spec *spec) {
    printf("usage: tinyr1 %s [options] %s\n\n%s\n", spec->command, spec->usage ? spec->usage : "",
           spec->summary);
    if (spec->opts && spec->opts->name) printf("\noptions:\n");
    for (const cli_opt *o = spec->opts; o && o->name; o++) {
        char left[64], def[256];
        if (o->kind == CLI_FLAG)
            snprintf(left, sizeof left, "--%s", o->name);
        else
            snprintf(left, sizeof left, "--%s %s", o->name, o->metavar ? o->metavar : "VALUE");
        format_value(o, def, sizeof def);
        printf("  %-24s %s", left, o->help);
        if (o->kind != CLI_FLAG) printf(" [default: %s]", def);
        printf("\n");
    }
    printf("  %-24s %s\n", "--help", "show this help and exit");
    if (spec->details) printf("\n%s\n", spec->details);
}

void cli_print_resolved(const cli_spec *spec) {
    if (cli_dist()->rank != 0) return;
    fprintf(stderr, "tinyr1 %s", spec->command);
    for (const cli_opt *o = spec->opts; o && o->name; o++) {
        char v[256];
        format_value(o, v, sizeof v);
        fprintf(stderr, " --%s=%s", o->name, v);
    }
    fprintf(stderr, "\n");
}

int cli_error(const char *command, const char *message) {
    fprintf(stderr, "tinyr1 %s: %s\n", command, message);
    return 1;
}

int cli_dispatch(const char *group, const cli_command *commands, int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("usage: tinyr1 %s%s<command> [options]\n\ncommands:\n", group, *group ? " " : "");
        for (const cli_command *c = commands; c->name; c++)
            printf("  %-12s %s\n", c->name, c->summary);
        printf("\n'tinyr1 %s%s<command> --help' shows a command's options.\n", group, *group ? " " : "");
        return argc < 2 ? 1 : 0;
    }
    for (const cli_command *c = commands; c->name; c++)
        if (strcmp(c->name, argv[1]) == 0) return c->run(argc - 1, argv + 1);
    fprintf(stderr, "tinyr1 %s: unknown command '%s'; see 'tinyr1 %s --help'\n", group, argv[1],
            group);
    return 1;
}
