/* The machine's peak: an sgemm probe (OpenBLAS, every thread), cached per (cpu, threads). */
#include <cJSON.h>
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "tinyr1/cost.h"

int64_t tr_peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (int64_t)ru.ru_maxrss * 1024; /* Linux reports kilobytes */
}

static void cpu_model(char *out, size_t cap) {
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        colon++;
        while (*colon == ' ' || *colon == '\t') colon++;
        size_t n = strcspn(colon, "\n");
        while (n > 0 && colon[n - 1] == ' ') n--;
        if (n >= cap) n = cap - 1;
        memcpy(out, colon, n);
        out[n] = '\0';
        break;
    }
    fclose(f);
}

int tr_peak_probe(const int *sizes, int n_sizes, int reps, double *gflops, tr_err *err) {
    if (n_sizes <= 0 || reps <= 0) return tr_fail(err, "peak probe: need sizes and reps > 0");
    double best = 0.0;
    for (int s = 0; s < n_sizes; s++) {
        int n = sizes[s];
        if (n <= 0 || n > 16384) return tr_fail(err, "peak probe: size %d outside [1, 16384]", n);
        size_t nn = (size_t)n * (size_t)n;
        float *a = tr_aligned_alloc(nn * sizeof(float), err);
        float *b = a ? tr_aligned_alloc(nn * sizeof(float), err) : NULL;
        float *c = b ? tr_aligned_alloc(nn * sizeof(float), err) : NULL;
        if (!c) {
            free(a);
            free(b);
            return tr_fail_context(err, "peak probe");
        }
        for (size_t i = 0; i < nn; i++) {
            a[i] = (float)((i * 7 + 3) % 13) * 0.01f;
            b[i] = (float)((i * 5 + 1) % 11) * 0.01f;
        }
        for (int r = 0; r <= reps; r++) { /* r == 0 is the warm-up */
            double t0 = tr_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f,
                        c, n);
            double dt = tr_now() - t0;
            if (r > 0 && dt > 0) {
                double g = 2.0 * (double)n * (double)n * (double)n / dt * 1e-9;
                if (g > best) best = g;
            }
        }
        free(a);
        free(b);
        free(c);
    }
    if (!(best > 0)) return tr_fail(err, "peak probe: no positive timing");
    *gflops = best;
    return 0;
}

static int cache_path(char *out, size_t cap) {
    const char *d = getenv("TINYR1_CACHE_DIR");
    if (d && *d) return snprintf(out, cap, "%s/peak.json", d) < (int)cap ? 0 : -1;
    d = getenv("XDG_CACHE_HOME");
    if (d && *d) return snprintf(out, cap, "%s/tinyr1/peak.json", d) < (int)cap ? 0 : -1;
    d = getenv("HOME");
    if (d && *d) return snprintf(out, cap, "%s/.cache/tinyr1/peak.json", d) < (int)cap ? 0 : -1;
    return -1;
}

/* Looks (cpu, threads) up in the cache; returns 1 and sets *g when found. */
static int cache_lookup(const char *path, const char *cpu, int threads, double *g) {
    char *text = tr_read_file(path, NULL, NULL);
    if (!text) return 0;
    cJSON *root = cJSON_Parse(text);
    free(text);
    int found = 0;
    cJSON *entries = root ? cJSON_GetObjectItemCaseSensitive(root, "entries") : NULL;
    cJSON *e;
    cJSON_ArrayForEach(e, entries) {
        cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "cpu");
        cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "threads");
        cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "gflops");
        if (cJSON_IsString(c) && cJSON_IsNumber(t) && cJSON_IsNumber(v) &&
            strcmp(c->valuestring, cpu) == 0 && (int)t->valuedouble == threads &&
            v->valuedouble > 0) {
            *g = v->valuedouble;
            found = 1;
            break;
        }
    }
    cJSON_Delete(root);
    return found;
}

static void cache_store(const char *path, const char *cpu, int threads, double g) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        if (tr_mkdirs(dir, NULL) != 0) return;
    }
    char *text = tr_read_file(path, NULL, NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        root = cJSON_CreateObject();
    }
    cJSON *entries = cJSON_GetObjectItemCaseSensitive(root, "entries");
    if (!cJSON_IsArray(entries)) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, "entries");
        entries = cJSON_AddArrayToObject(root, "entries");
    }
    /* drop a previous entry with the same key */
    for (int i = cJSON_GetArraySize(entries) - 1; i >= 0; i--) {
        cJSON *e = cJSON_GetArrayItem(entries, i);
        cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "cpu");
        cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "threads");
        if (cJSON_IsString(c) && cJSON_IsNumber(t) && strcmp(c->valuestring, cpu) == 0 &&
            (int)t->valuedouble == threads)
            cJSON_DeleteItemFromArray(entries, i);
    }
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "cpu", cpu);
    cJSON_AddNumberToObject(e, "threads", threads);
    cJSON_AddNumberToObject(e, "gflops", g);
    cJSON_AddStringToObject(e, "method", "cblas_sgemm, sizes 1024 2048, best of 3");
    char when[32];
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    cJSON_AddStringToObject(e, "measured_at", when);
    cJSON_AddItemToArray(entries, e);
    char *out = cJSON_Print(root);
    if (out) tr_write_file_atomic(path, out, strlen(out), NULL);
    free(out);
    cJSON_Delete(root);
}

/* 1-minute load average and online CPUs; a probe taken while the machine is oversubscribed
 * (load above the CPU count) measures the contention, not the machine. */
static int machine_busy(double *load) {
    *load = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return 0;
    int ok = fscanf(f, "%lf", load) == 1;
    fclose(f);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return ok && cpus > 0 && *load > (double)cpus + 0.5;
}

int tr_peak_get(tr_peak *peak, int force_probe, tr_err *err) {
    memset(peak, 0, sizeof *peak);
    peak->threads = tr_get_threads();
    cpu_model(peak->cpu, sizeof peak->cpu);
    if (cache_path(peak->cache_path, sizeof peak->cache_path) != 0) peak->cache_path[0] = '\0';
    if (!force_probe) {
        const char *env = getenv("TINYR1_PEAK_GFLOPS");
        if (env && *env) {
            char *end = NULL;
            double g = strtod(env, &end);
            if (end == env || *end || !(g > 0))
                return tr_fail(err, "TINYR1_PEAK_GFLOPS: expected a positive number, got '%s'",
                               env);
            peak->gflops = g;
            snprintf(peak->source, sizeof peak->source, "env");
            return 0;
        }
        if (peak->cache_path[0] &&
            cache_lookup(peak->cache_path, peak->cpu, peak->threads, &peak->gflops)) {
            snprintf(peak->source, sizeof peak->source, "cache");
            return 0;
        }
    }
    static const int sizes[] = {1024, 2048};
    if (tr_peak_probe(sizes, 2, 3, &peak->gflops, err) != 0) return -1;
    /* Two decimals are far below the probe's noise, and a short decimal survives the JSON
     * cache's round trip (cJSON prints 15 significant digits), so probe and cache agree. */
    peak->gflops = round(peak->gflops * 100.0) / 100.0;
    if (machine_busy(&peak->load)) {
        snprintf(peak->source, sizeof peak->source, "probe-busy");
        return 0; /* used for this process, not cached */
    }
    snprintf(peak->source, sizeof peak->source, "probe");
    if (peak->cache_path[0]) cache_store(peak->cache_path, peak->cpu, peak->threads, peak->gflops);
    return 0;
}

int tr_peak_flops(double *gflops, tr_err *err) {
    tr_peak p;
    if (tr_peak_get(&p, 0, err) != 0) return -1;
    *gflops = p.gflops;
    return 0;
}
