/* PyTorch parity of the whole model: logits, loss, every parameter gradient and the weights
 * after 3 AdamW steps (with gradient clipping), for (1) GQA + untied + q/k/v biases and
 * (2) tied embeddings, against tests/ref_model.py (float64 PyTorch, written from the math).
 * Error measure per tensor: max |c - ref| / max |ref| (relative to the tensor's scale, so
 * entries that happen to be near zero do not dominate); must be < 1e-4 everywhere. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static double scaled_err(const float *a, const double *ref, size_t n) {
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - ref[i]);
        if (isnan(d)) return INFINITY;
        if (d > diff) diff = d;
        if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
    }
    return diff / (scale > 0 ? scale : 1);
}

/* Compares a float32 buffer with a F64 tensor of the oracle's output. */
static void compare(const tr_safetensors *out, const char *name, const float *mine, size_t n,
                    const char *label) {
    const tr_st_tensor *t = tr_st_find(out, name);
    CHECK_MSG(t != NULL, "%s: oracle output lacks %s", label, name);
    if (!t) return;
    CHECK_MSG((size_t)t->numel == n, "%s: %s has %lld elements, expected %zu", label, name,
              (long long)t->numel, n);
    if ((size_t)t->numel != n) return;
    double *ref = malloc(n * sizeof(double));
    memcpy(ref, t->data, n * sizeof(double));
    double e = scaled_err(mine, ref, n);
    CHECK_MSG(e < 1e-4, "%s: %s: relative error %.3g", label, name, e);
    free(ref);
}

static void run_case(tr_config cfg, const char *label) {
    tr_err err;
    tr_model m;
    CHECK(tr_model_init(&m, &cfg, &err) == 0);
    tr_model_init_random(&m, 17, 0.1f);
    tr_rng rng;
    tr_rng_seed(&rng, 23);
    for (int i = 0; i < m.table.n_tensors; i++) { /* non-trivial norms and biases */
        tr_tensor_info *t = &m.table.tensors[i];
        if (t->kind == TR_TENSOR_NORM || t->kind == TR_TENSOR_BIAS)
            for (size_t j = 0; j < t->numel; j++)
                m.params[t->offset + j] += 0.2f * tr_rng_normal(&rng);
    }
    const int B = 3, T = 16, V = cfg.vocab;
    tr_batch batch;
    tr_batch_alloc(&batch, B, T, &err);
    for (int i = 0; i < B * T; i++) batch.tokens[i] = (int32_t)tr_rng_below(&rng, V);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int i = b * T + t;
            int has_target = t < T - 1 && !(b == 2 && t >= 12); /* row 2 is padded */
            batch.targets[i] = has_target ? batch.tokens[i + 1] : -1;
            batch.weights[i] = has_target ? ((b == 1 && t < 5) ? 0.0f : 1.0f) : 0.0f;
        }

    /* inputs for the oracle */
    char dir[] = "/tmp/tinyr1_parity_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char in_path[256], out_path[256];
    snprintf(in_path, sizeof in_path, "%s/in.safetensors", dir);
    snprintf(out_path, sizeof out_path, "%s/out.safetensors", dir);
    int n_in = m.table.n_tensors + 3;
    tr_st_write_tensor *w = calloc((size_t)n_in, sizeof *w);
    for (int i = 0; i < m.table.n_tensors; i++) {
        tr_tensor_info *t = &m.table.tensors[i];
        w[i] = (tr_st_write_tensor){t->name, TR_DT_F32, t->ndim, t->shape,
                                    m.params + t->offset, NULL};
    }
    int64_t bt[2] = {B, T};
    w[n_in - 3] = (tr_st_write_tensor){"tokens", TR_DT_I32, 2, bt, batch.tokens, NULL};
    w[n_in - 2] = (tr_st_write_tensor){"targets", TR_DT_I32, 2, bt, batch.targets, NULL};
    w[n_in - 1] = (tr_st_write_tensor){"weights", TR_DT_F32, 2, bt, batch.weights, NULL};
    char config_json[512];
    snprintf(config_json, sizeof config_json,
             "{\"vocab\":%d,\"dim\":%d,\"n_layers\":%d,\"n_heads\":%d,\"n_kv_heads\":%d,"
             "\"head_dim\":%d,\"hidden_dim\":%d,\"max_seq\":%d,\"rope_theta\":%g,"
             "\"norm_eps\":%g,\"tied_embeddings\":%d,\"qkv_bias\":%d}",
             m.cfg.vocab, m.cfg.dim, m.cfg.n_layers, m.cfg.n_heads, m.cfg.n_kv_heads,
             m.cfg.head_dim, m.cfg.hidden_dim, m.cfg.max_seq, (double)m.cfg.rope_theta,
             (double)m.cfg.norm_eps, m.cfg.tied_embeddings, m.cfg.qkv_bias);
    const float lr = 1e-2f, clip = 0.5f;
    char train_json[256];
    snprintf(train_json, sizeof train_json,
             "{\"lr\":%.9g,\"beta1\":0.9,\"beta2\":0.95,\"eps\":1e-8,\"weight_decay\":0.1,"
             "\"steps\":3,\"grad_clip\":%g}", (double)lr, (double)clip);
    const char *keys[2] = {"config", "train"}, *vals[2] = {config_json, train_json};
    CHECK(tr_st_write(in_path, w, n_in, keys, vals, 2, &err) == 0);
    free(w);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s/ref_model.py %s %s", TR_PYTHON, TR_TESTS_DIR, in_path,
             out_path);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "%s: the PyTorch oracle failed (%s)", label, cmd);
    tr_safetensors *out = NULL;
    if (rc != 0 || tr_st_open(&out, out_path, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        tu_failures++;
        return;
    }

    /* forward + loss + gradients */
    tr_activations *acts;
    CHECK(tr_activations_init(&acts, &m.cfg, B, T, &err) == 0);
    float *logits = tr_model_forward(&m, acts, batch.tokens, B, T);
    compare(out, "logits", logits, (size_t)B * T * V, label);
    double loss;
    CHECK(tr_ce_loss(logits, &loss, logits, batch.targets, batch.weights, (int64_t)B * T, V,
                     tr_batch_weight_sum(&batch), &err) == 0);
    const tr_st_tensor *lt = tr_st_find(out, "loss");
    double ref_loss;
    memcpy(&ref_loss, lt->data, sizeof ref_loss);
    CHECK_MSG(fabs(loss - ref_loss) / fabs(ref_loss) < 1e-5, "%s: loss %.9g vs %.9g", label, loss,
              ref_loss);
    compare(out, "dlogits", logits, (size_t)B * T * V, label);
    float *grads = calloc(m.table.total, sizeof(float));
    tr_model_backward(&m, acts, grads, logits);
    char name[160];
    for (int i = 0; i < m.table.n_tensors; i++) {
        tr_tensor_info *t = &m.table.tensors[i];
        snprintf(name, sizeof name, "grad.%s", t->name);
        compare(out, name, grads + t->offset, t->numel, label);
    }
    free(grads);
    tr_activations_free(acts);

    /* 3 AdamW steps on the same batch, through the trainer (clipping included) */
    tr_adamw_params p = {.lr = lr, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                         .weight_decay = 0.1f};
    tr_lr_schedule s = {TR_SCHEDULE_CONSTANT, lr, lr, 0, 3};
    tr_trainer tr;
    CHECK(tr_trainer_init(&tr, &m, p, NULL, s, clip, B, T, tr_dist_single(), &err) == 0);
    tr_objective ce = tr_objective_ce();
    const tr_st_tensor *losses = tr_st_find(out, "losses");
    for (int step = 0; step < 3; step++) {
        tr_step_stats st;
        CHECK(tr_trainer_step(&tr, &batch, 1, &ce, &st, &err) == 0);
        double ref;
        memcpy(&ref, (const char *)losses->data + step * sizeof(double), sizeof ref);
        CHECK_MSG(fabs(st.loss - ref) / fabs(ref) < 1e-5, "%s: step %d loss %.9g vs %.9g", label,
                  step, st.loss, ref);
    }
    for (int i = 0; i < m.table.n_tensors; i++) {
        tr_tensor_info *t = &m.table.tensors[i];
        snprintf(name, sizeof name, "final.%s", t->name);
        compare(out, name, m.params + t->offset, t->numel, label);
    }
    tr_trainer_free(&tr);
    tr_st_close(out);
    tr_batch_free(&batch);
    tr_model_free(&m);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

int main(void) {
    tr_config gqa = {.vocab = 64, .dim = 32, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                     .hidden_dim = 64, .max_seq = 16, .rope_theta = 10000.0f, .norm_eps = 1e-5f,
                     .tied_embeddings = 0, .qkv_bias = 1};
    run_case(gqa, "gqa+untied+bias");
    tr_config tied = gqa;
    tied.n_kv_heads = 4;
    tied.tied_embeddings = 1;
    tied.qkv_bias = 0;
    tied.rope_theta = 1e6f;
    run_case(tied, "tied");
    return tu_finish("parity_model");
}
