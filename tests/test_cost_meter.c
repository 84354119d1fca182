/* The run-cost accumulator (cost.json round trip, metrics fragment, MFU) and the peak probe
 * with its cache and environment override. */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static void make_tmpdir(char *buf, size_t cap) {
    snprintf(buf, cap, "/tmp/tinyr1_cost_XXXXXX");
    CHECK(mkdtemp(buf) != NULL);
}

static void test_meter(const char *dir) {
    tr_config cfg = tr_config_default();
    tr_peak peak = {.gflops = 100.0, .threads = 2};
    snprintf(peak.source, sizeof peak.source, "env");
    snprintf(peak.cpu, sizeof peak.cpu, "test cpu");
    tr_cost_meter m;
    tr_cost_meter_init(&m, "pretrain", &cfg, &peak);
    /* hand numbers: 2 s, 1e11 FLOPs -> 50 GFLOP/s -> MFU 0.5 against 100 GFLOP/s */
    tr_cost_add(&m, TR_PHASE_TRAIN, 2.0, 4096, 1e11);
    tr_cost_add(&m, TR_PHASE_GENERATE, 1.0, 100, 1e10);
    CHECK_CLOSE(tr_cost_mfu(&m, m.phase[TR_PHASE_TRAIN].flops, m.phase[TR_PHASE_TRAIN].seconds),
                0.5, 1e-12, 0);
    tr_phase_stats t = tr_cost_total(&m);
    CHECK(t.flops == 1.1e11 && t.seconds == 3.0 && t.calls == 2 && t.tokens == 4196);
    /* params: the default config (vocab 512, dim 64, 2 layers, hidden 192 by the llama rule) */
    double D = 64, H = 192, V = 512;
    double hand = 2 * (4 * D * D + 3 * D * H + 2 * D) + D + 2 * V * D;
    CHECK(m.params == hand);

    char buf[512];
    int n = tr_cost_metrics_fragment(&m, buf, sizeof buf);
    CHECK(n > 0 && (size_t)n < sizeof buf);
    char wrapped[600];
    snprintf(wrapped, sizeof wrapped, "{%s}", buf);
    cJSON *j = cJSON_Parse(wrapped);
    CHECK(j != NULL);
    CHECK(cJSON_GetObjectItem(j, "flops")->valuedouble == 1.1e11);
    CHECK_CLOSE(cJSON_GetObjectItem(j, "mfu")->valuedouble, 1.1e11 / 3.0 / 1e11, 1e-5, 0);
    CHECK(cJSON_GetObjectItem(j, "peak_rss_mb")->valuedouble > 0);
    cJSON_Delete(j);
    /* the next fragment covers only the new interval */
    tr_cost_add(&m, TR_PHASE_TRAIN, 1.0, 10, 2e10);
    tr_cost_metrics_fragment(&m, buf, sizeof buf);
    snprintf(wrapped, sizeof wrapped, "{%s}", buf);
    j = cJSON_Parse(wrapped);
    CHECK(j && cJSON_GetObjectItem(j, "flops")->valuedouble == 2e10);
    CHECK(j && cJSON_GetObjectItem(j, "flops_total")->valuedouble == 1.3e11);
    CHECK_CLOSE(cJSON_GetObjectItem(j, "gflops")->valuedouble, 20.0, 1e-5, 0);
    cJSON_Delete(j);

    /* timers measure something */
    tr_cost_begin(&m, TR_PHASE_EVAL);
    double t0 = tr_now();
    volatile double sink = 0;
    while (tr_now() - t0 < 0.01) sink += 1;
    tr_cost_end(&m, TR_PHASE_EVAL, 5, 123);
    CHECK(m.phase[TR_PHASE_EVAL].seconds >= 0.01 && m.phase[TR_PHASE_EVAL].calls == 1);

    /* cost.json round trip */
    tr_err err = {{0}};
    CHECK_MSG(tr_cost_meter_write(&m, dir, &err) == 0, "%s", err.msg);
    char path[600];
    snprintf(path, sizeof path, "%s/cost.json", dir);
    tr_cost_meter r;
    CHECK_MSG(tr_cost_meter_read(&r, path, &err) == 0, "%s", err.msg);
    CHECK(strcmp(r.stage, "pretrain") == 0 && strcmp(r.cpu, "test cpu") == 0);
    CHECK(r.cfg.dim == 64 && r.cfg.hidden_dim == 192 && r.cfg.head_dim == 16);
    CHECK(r.params == m.params && r.peak_gflops == 100.0 && r.threads == 2);
    for (int p = 0; p < TR_PHASE_COUNT; p++) {
        /* cJSON prints 15 significant digits: a measured time comes back to ~1e-15 */
        CHECK(fabs(r.phase[p].seconds - m.phase[p].seconds) <= 1e-13 * m.phase[p].seconds);
        CHECK(r.phase[p].flops == m.phase[p].flops);
        CHECK(r.phase[p].tokens == m.phase[p].tokens);
        CHECK(r.phase[p].calls == m.phase[p].calls);
    }
    CHECK(r.peak_rss_bytes == m.peak_rss_bytes && r.peak_rss_bytes > 0);
    CHECK(access(path, F_OK) == 0);
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0); /* atomic write leaves no temp file */

    /* malformed files are rejected with the field named */
    snprintf(path, sizeof path, "%s/bad.json", dir);
    const char *bad = "{\"format\":\"tinyr1-cost\",\"model\":{},\"machine\":{},\"phases\":{}}";
    CHECK(tr_write_file_atomic(path, bad, strlen(bad), &err) == 0);
    CHECK(tr_cost_meter_read(&r, path, &err) != 0 && strstr(err.msg, "vocab") != NULL);
    remove(path);
    snprintf(path, sizeof path, "%s/cost.json", dir);
    remove(path);
}

static void test_peak(const char *dir) {
    int sizes[] = {64, 128};
    double g = 0;
    tr_err err = {{0}};
    CHECK(tr_peak_probe(sizes, 2, 2, &g, &err) == 0 && g > 0);
    CHECK(tr_peak_probe(sizes, 0, 2, &g, &err) != 0);

    setenv("TINYR1_PEAK_GFLOPS", "123.5", 1);
    tr_peak p;
    CHECK(tr_peak_get(&p, 0, &err) == 0 && p.gflops == 123.5 && strcmp(p.source, "env") == 0);
    setenv("TINYR1_PEAK_GFLOPS", "fast", 1);
    CHECK(tr_peak_get(&p, 0, &err) != 0 && strstr(err.msg, "TINYR1_PEAK_GFLOPS") != NULL);
    unsetenv("TINYR1_PEAK_GFLOPS");

    /* a probe fills the cache; the next lookup reads the same figure back */
    setenv("TINYR1_CACHE_DIR", dir, 1);
    CHECK_MSG(tr_peak_get(&p, 1, &err) == 0, "%s", err.msg);
    CHECK(p.gflops > 0 && p.threads == tr_get_threads());
    printf("peak: %.1f GFLOP/s on %d threads (%s), %s, load %.2f\n", p.gflops, p.threads, p.cpu,
           p.source, p.load);
    if (strcmp(p.source, "probe") == 0) { /* cached only when the machine was not oversubscribed */
        tr_peak q;
        CHECK(tr_peak_get(&q, 0, &err) == 0 && strcmp(q.source, "cache") == 0 &&
              fabs(q.gflops - p.gflops) <= 1e-9 * p.gflops);
        CHECK(tr_peak_flops(&g, &err) == 0 && fabs(g - p.gflops) <= 1e-9 * p.gflops);
    } else {
        CHECK(strcmp(p.source, "probe-busy") == 0);
    }
    /* a cache entry for this (cpu, threads) is found and used */
    char path[600];
    snprintf(path, sizeof path, "%s/peak.json", dir);
    char text[1024];
    snprintf(text, sizeof text,
             "{\"entries\":[{\"cpu\":\"other\",\"threads\":%d,\"gflops\":1},"
             "{\"cpu\":\"%s\",\"threads\":%d,\"gflops\":77.25}]}",
             p.threads, p.cpu, p.threads);
    CHECK(tr_write_file_atomic(path, text, strlen(text), &err) == 0);
    tr_peak q;
    CHECK(tr_peak_get(&q, 0, &err) == 0 && strcmp(q.source, "cache") == 0 && q.gflops == 77.25);
    remove(path);
    unsetenv("TINYR1_CACHE_DIR");
}

int main(void) {
    char dir[64];
    make_tmpdir(dir, sizeof dir);
    test_meter(dir);
    test_peak(dir);
    rmdir(dir);
    CHECK(strcmp(tr_phase_name(TR_PHASE_TEACHER), "teacher") == 0 &&
          tr_phase_name(TR_PHASE_COUNT) == NULL);
    return tu_finish("cost_meter");
}
