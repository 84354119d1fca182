/* The run-cost accumulator: wall time, tokens and FLOPs per phase, MFU, peak RSS, cost.json. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1/cost.h"

static const char *phase_names[TR_PHASE_COUNT] = {"train", "generate", "teacher", "eval"};

const char *tr_phase_name(tr_phase phase) {
    return (int)phase >= 0 && phase < TR_PHASE_COUNT ? phase_names[phase] : NULL;
}

static void set_model(tr_cost_meter *m, const tr_config *cfg) {
    m->cfg = *cfg;
    if (m->cfg.head_dim <= 0 && m->cfg.n_heads > 0) m->cfg.head_dim = m->cfg.dim / m->cfg.n_heads;
    if (m->cfg.hidden_dim <= 0 && m->cfg.dim > 0)
        m->cfg.hidden_dim = tr_hidden_dim_llama(m->cfg.dim, 32);
    m->params = (double)tr_config_num_params(&m->cfg);
    m->params_matmul = tr_flops_params_matmul(&m->cfg);
}

void tr_cost_meter_init(tr_cost_meter *m, const char *stage, const tr_config *cfg,
                        const tr_peak *peak) {
    memset(m, 0, sizeof *m);
    snprintf(m->stage, sizeof m->stage, "%s", stage ? stage : "run");
    if (cfg) set_model(m, cfg);
    m->threads = tr_get_threads();
    if (peak) {
        m->peak_gflops = peak->gflops;
        snprintf(m->peak_source, sizeof m->peak_source, "%s", peak->source);
        snprintf(m->cpu, sizeof m->cpu, "%s", peak->cpu);
        if (peak->threads > 0) m->threads = peak->threads;
    } else {
        snprintf(m->peak_source, sizeof m->peak_source, "none");
        snprintf(m->cpu, sizeof m->cpu, "unknown");
    }
    m->t_start = tr_now();
    m->mark_t = m->t_start;
    m->peak_rss_bytes = tr_peak_rss_bytes();
}

void tr_cost_begin(tr_cost_meter *m, tr_phase phase) {
    if ((int)phase < 0 || phase >= TR_PHASE_COUNT) return;
    m->phase_t0[phase] = tr_now();
}

void tr_cost_add(tr_cost_meter *m, tr_phase phase, double seconds, double tokens, double flops) {
    if ((int)phase < 0 || phase >= TR_PHASE_COUNT) return;
    tr_phase_stats *s = &m->phase[phase];
    s->seconds += seconds;
    s->tokens += tokens;
    s->flops += flops;
    s->calls++;
}

void tr_cost_end(tr_cost_meter *m, tr_phase phase, double tokens, double flops) {
    if ((int)phase < 0 || phase >= TR_PHASE_COUNT) return;
    double dt = m->phase_t0[phase] > 0 ? tr_now() - m->phase_t0[phase] : 0.0;
    m->phase_t0[phase] = 0.0;
    tr_cost_add(m, phase, dt, tokens, flops);
}

void tr_cost_add_comm(tr_cost_meter *m, int ranks, double seconds, double bytes) {
    m->comm.ranks = ranks;
    if (ranks <= 1) return;
    m->comm.steps++;
    m->comm.seconds += seconds;
    m->comm.bytes += bytes;
}

void tr_cost_meter_update(tr_cost_meter *m) {
    m->wall_seconds = tr_now() - m->t_start;
    int64_t rss = tr_peak_rss_bytes();
    if (rss > m->peak_rss_bytes) m->peak_rss_bytes = rss;
}

tr_phase_stats tr_cost_total(const tr_cost_meter *m) {
    tr_phase_stats t = {0};
    for (int p = 0; p < TR_PHASE_COUNT; p++) {
        t.seconds += m->phase[p].seconds;
        t.tokens += m->phase[p].tokens;
        t.flops += m->phase[p].flops;
        t.calls += m->phase[p].calls;
    }
    return t;
}

double tr_cost_mfu(const tr_cost_meter *m, double flops, double seconds) {
    if (!(m->peak_gflops > 0) || !(seconds > 0)) return 0.0;
    return flops / seconds / (m->peak_gflops * 1e9);
}

int tr_cost_metrics_fragment(tr_cost_meter *m, char *buf, size_t cap) {
    tr_cost_meter_update(m);
    tr_phase_stats now = tr_cost_total(m), then = {0};
    for (int p = 0; p < TR_PHASE_COUNT; p++) {
        then.seconds += m->mark[p].seconds;
        then.flops += m->mark[p].flops;
    }
    double dflops = now.flops - then.flops, dsec = now.seconds - then.seconds;
    double gflops = dsec > 0 ? dflops / dsec * 1e-9 : 0.0;
    int n = snprintf(buf, cap,
                     "\"flops\":%.17g,\"flops_total\":%.17g,\"gflops\":%.6g,\"mfu\":%.6g,"
                     "\"mfu_total\":%.6g,\"wall_s\":%.6g,\"peak_rss_mb\":%.6g",
                     dflops, now.flops, gflops, tr_cost_mfu(m, dflops, dsec),
                     tr_cost_mfu(m, now.flops, now.seconds), m->wall_seconds,
                     (double)m->peak_rss_bytes / (1024.0 * 1024.0));
    memcpy(m->mark, m->phase, sizeof m->mark);
    m->mark_t = tr_now();
    return n;
}

static cJSON *stats_json(const tr_cost_meter *m, const tr_phase_stats *s) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "seconds", s->seconds);
    cJSON_AddNumberToObject(o, "tokens", s->tokens);
    cJSON_AddNumberToObject(o, "flops", s->flops);
    cJSON_AddNumberToObject(o, "calls", (double)s->calls);
    cJSON_AddNumberToObject(o, "gflops", s->seconds > 0 ? s->flops / s->seconds * 1e-9 : 0.0);
    cJSON_AddNumberToObject(o, "mfu", tr_cost_mfu(m, s->flops, s->seconds));
    return o;
}

int tr_cost_meter_to_json(const tr_cost_meter *m, char **out, tr_err *err) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return tr_fail(err, "cost.json: out of memory");
    cJSON_AddStringToObject(root, "format", "tinyr1-cost");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "stage", m->stage);
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    const tr_config *c = &m->cfg;
    cJSON_AddNumberToObject(model, "vocab", c->vocab);
    cJSON_AddNumberToObject(model, "dim", c->dim);
    cJSON_AddNumberToObject(model, "n_layers", c->n_layers);
    cJSON_AddNumberToObject(model, "n_heads", c->n_heads);
    cJSON_AddNumberToObject(model, "n_kv_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(model, "head_dim", c->head_dim);
    cJSON_AddNumberToObject(model, "hidden_dim", c->hidden_dim);
    cJSON_AddNumberToObject(model, "tied_embeddings", c->tied_embeddings);
    cJSON_AddNumberToObject(model, "qkv_bias", c->qkv_bias);
    cJSON_AddNumberToObject(model, "params", m->params);
    cJSON_AddNumberToObject(model, "params_matmul", m->params_matmul);
    cJSON *mach = cJSON_AddObjectToObject(root, "machine");
    cJSON_AddStringToObject(mach, "cpu", m->cpu);
    cJSON_AddNumberToObject(mach, "threads", m->threads);
    cJSON_AddNumberToObject(mach, "peak_gflops", m->peak_gflops);
    cJSON_AddStringToObject(mach, "peak_source", m->peak_source);
    cJSON_AddNumberToObject(root, "wall_seconds", m->wall_seconds);
    cJSON_AddNumberToObject(root, "peak_rss_bytes", (double)m->peak_rss_bytes);
    cJSON *ph = cJSON_AddObjectToObject(root, "phases");
    for (int p = 0; p < TR_PHASE_COUNT; p++)
        cJSON_AddItemToObject(ph, phase_names[p], stats_json(m, &m->phase[p]));
    tr_phase_stats t = tr_cost_total(m);
    cJSON_AddItemToObject(root, "total", stats_json(m, &t));
    /* the allreduce of data parallelism: what N machines would send (docs/mpi.md) */
    cJSON *ar = cJSON_AddObjectToObject(root, "allreduce");
    const tr_comm_stats *cm = &m->comm;
    int ranks = cm->ranks > 0 ? cm->ranks : 1;
    double steps = cm->steps > 0 ? (double)cm->steps : 1.0;
    cJSON_AddNumberToObject(ar, "ranks", ranks);
    cJSON_AddNumberToObject(ar, "steps", (double)cm->steps);
    cJSON_AddNumberToObject(ar, "seconds", cm->seconds);
    cJSON_AddNumberToObject(ar, "bytes", cm->bytes);
    cJSON_AddNumberToObject(ar, "seconds_per_step", cm->seconds / steps);
    cJSON_AddNumberToObject(ar, "bytes_per_step", cm->bytes / steps);
    /* the payload per step whatever the rank count: float gradients of every parameter */
    cJSON_AddNumberToObject(ar, "gradient_bytes_per_step", 4.0 * m->params);
    cJSON_AddNumberToObject(ar, "ring_bytes_per_rank_per_step",
                            2.0 * (ranks - 1) / ranks * 4.0 * m->params);
    double train_tokens = m->phase[TR_PHASE_TRAIN].tokens;
    cJSON_AddNumberToObject(root, "train_flops_6nd", 6.0 * m->params * train_tokens);
    *out = cJSON_Print(root);
    cJSON_Delete(root);
    if (!*out) return tr_fail(err, "cost.json: out of memory");
    return 0;
}

int tr_cost_meter_write(tr_cost_meter *m, const char *run_dir, tr_err *err) {
    tr_cost_meter_update(m);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/cost.json", run_dir) >= (int)sizeof path)
        return tr_fail(err, "%s: path too long", run_dir);
    char *text = NULL;
    if (tr_cost_meter_to_json(m, &text, err) != 0) return -1;
    int rc = tr_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

static int get_num(const cJSON *o, const char *key, double *v, const char *path, tr_err *err) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(x))
        return tr_fail(err, "%s: field '%s' missing or not a number", path, key);
    *v = x->valuedouble;
    return 0;
}

int tr_cost_meter_read(tr_cost_meter *m, const char *path, tr_err *err) {
    memset(m, 0, sizeof *m);
    char *text = tr_read_file(path, NULL, err);
    if (!text) return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) return tr_fail(err, "%s: not valid JSON", path);
    int rc = -1;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *stage = cJSON_GetObjectItemCaseSensitive(root, "stage");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *mach = cJSON_GetObjectItemCaseSensitive(root, "machine");
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(root, "phases");
    double v = 0;
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "tinyr1-cost") != 0) {
        tr_fail(err, "%s: field 'format' must be \"tinyr1-cost\"", path);
        goto done;
    }
    if (!cJSON_IsObject(model) || !cJSON_IsObject(mach) || !cJSON_IsObject(ph)) {
        tr_fail(err, "%s: objects 'model', 'machine' and 'phases' are required", path);
        goto done;
    }
    snprintf(m->stage, sizeof m->stage, "%s", cJSON_IsString(stage) ? stage->valuestring : "run");
    struct {
        const char *key;
        int *dst;
    } ints[] = {{"vocab", &m->cfg.vocab},           {"dim", &m->cfg.dim},
                {"n_layers", &m->cfg.n_layers},     {"n_heads", &m->cfg.n_heads},
                {"n_kv_heads", &m->cfg.n_kv_heads}, {"head_dim", &m->cfg.head_dim},
                {"hidden_dim", &m->cfg.hidden_dim}, {"tied_embeddings", &m->cfg.tied_embeddings},
                {"qkv_bias", &m->cfg.qkv_bias}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        if (get_num(model, ints[i].key, &v, path, err) != 0) goto done;
        *ints[i].dst = (int)v;
    }
    if (get_num(model, "params", &m->params, path, err) != 0) goto done;
    if (get_num(model, "params_matmul", &m->params_matmul, path, err) != 0) goto done;
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(mach, "cpu");
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(mach, "peak_source");
    snprintf(m->cpu, sizeof m->cpu, "%s", cJSON_IsString(cpu) ? cpu->valuestring : "unknown");
    snprintf(m->peak_source, sizeof m->peak_source, "%s",
             cJSON_IsString(src) ? src->valuestring : "none");
    if (get_num(mach, "threads", &v, path, err) != 0) goto done;
    m->threads = (int)v;
    if (get_num(mach, "peak_gflops", &m->peak_gflops, path, err) != 0) goto done;
    if (get_num(root, "wall_seconds", &m->wall_seconds, path, err) != 0) goto done;
    if (get_num(root, "peak_rss_bytes", &v, path, err) != 0) goto done;
    m->peak_rss_bytes = (int64_t)v;
    for (int p = 0; p < TR_PHASE_COUNT; p++) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(ph, phase_names[p]);
        if (!s) continue; /* a phase may be absent */
        if (get_num(s, "seconds", &m->phase[p].seconds, path, err) != 0 ||
            get_num(s, "tokens", &m->phase[p].tokens, path, err) != 0 ||
            get_num(s, "flops", &m->phase[p].flops, path, err) != 0 ||
            get_num(s, "calls", &v, path, err) != 0) {
            tr_fail_context(err, "phase '%s'", phase_names[p]);
            goto done;
        }
        m->phase[p].calls = (int64_t)v;
    }
    /* optional (older files have no allreduce object) */
    const cJSON *ar = cJSON_GetObjectItemCaseSensitive(root, "allreduce");
    if (cJSON_IsObject(ar)) {
        double r = 1, st = 0;
        if (get_num(ar, "ranks", &r, path, err) != 0 || get_num(ar, "steps", &st, path, err) != 0 ||
            get_num(ar, "seconds", &m->comm.seconds, path, err) != 0 ||
            get_num(ar, "bytes", &m->comm.bytes, path, err) != 0) {
            tr_fail_context(err, "object 'allreduce'");
            goto done;
        }
        m->comm.ranks = (int)r;
        m->comm.steps = (int64_t)st;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}
