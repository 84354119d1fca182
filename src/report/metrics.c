#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "tinyr1/report.h"

/* Keeps the lines of an existing file whose "step" is <= resume_step (rewritten atomically). */
static int truncate_after(const char *path, int64_t resume_step, tr_err *err) {
    size_t len = 0;
    tr_err ignore;
    char *text = tr_read_file(path, &len, &ignore);
    if (!text) return 0; /* no file yet */
    char *kept = malloc(len + 1);
    if (!kept) {
        free(text);
        return tr_fail(err, "%s: out of memory", path);
    }
    size_t k = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        char saved = line[n];
        line[n] = '\0';
        cJSON *j = cJSON_Parse(line);
        const cJSON *step = j ? cJSON_GetObjectItemCaseSensitive(j, "step") : NULL;
        int keep = j && (!cJSON_IsNumber(step) || step->valuedouble <= (double)resume_step);
        cJSON_Delete(j);
        if (keep) {
            memcpy(kept + k, line, n);
            k += n;
            kept[k++] = '\n';
        }
        line[n] = saved;
        line += n + (nl ? 1 : 0);
    }
    int rc = tr_write_file_atomic(path, kept, k, err);
    free(kept);
    free(text);
    return rc;
}

int tr_metrics_open(tr_metrics *m, const char *path, int64_t resume_step, tr_err *err) {
    memset(m, 0, sizeof *m);
    snprintf(m->path, sizeof m->path, "%s", path);
    if (resume_step >= 0) {
        if (truncate_after(path, resume_step, err) != 0) return -1;
    } else {
        remove(path);
    }
    m->f = fopen(path, "a");
    if (!m->f) return tr_fail(err, "%s: cannot open for appending: %s", path, strerror(errno));
    return 0;
}

int tr_metrics_write(tr_metrics *m, const char *json_object, tr_err *err) {
    if (!m->f) return 0;
    if (fputs(json_object, m->f) < 0 || fputc('\n', m->f) == EOF || fflush(m->f) != 0)
        return tr_fail(err, "%s: write failed: %s", m->path, strerror(errno));
    return 0;
}

void tr_metrics_close(tr_metrics *m) {
    if (m->f) fclose(m->f);
    m->f = NULL;
}
