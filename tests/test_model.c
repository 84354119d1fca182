/* The whole model: gradients of the cross-entropy loss with respect to every parameter
 * tensor against central finite differences, on tiny configs (GQA + biases + untied, and
 * tied without biases). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef struct {
    tr_model *m;
    tr_activations *acts;
    tr_batch *batch;
    float *dlogits;
    double norm;
} ctx;

static double loss_of(ctx *c) {
    float *logits = tr_model_forward(c->m, c->acts, c->batch->tokens, c->batch->B, c->batch->T);
    double loss = 0;
    size_t n = (size_t)c->batch->B * c->batch->T * c->m->cfg.vocab;
    memcpy(c->dlogits, logits, n * sizeof(float));
    tr_err err;
    tr_ce_loss(c->dlogits, &loss, c->dlogits, c->batch->targets, c->batch->weights,
               (int64_t)c->batch->B * c->batch->T, c->m->cfg.vocab, c->norm, &err);
    return loss;
}

static void check_config(tr_config cfg, const char *label) {
    tr_err err;
    tr_model m;
    CHECK(tr_model_init(&m, &cfg, &err) == 0);
    tr_model_init_random(&m, 7, 0.5f);
    /* non-trivial norms and biases so their gradients are exercised */
    tr_rng rng;
    tr_rng_seed(&rng, 99);
    for (int i = 0; i < m.table.n_tensors; i++) {
        tr_tensor_info *t = &m.table.tensors[i];
        if (t->kind == TR_TENSOR_NORM || t->kind == TR_TENSOR_BIAS)
            for (size_t j = 0; j < t->numel; j++)
                m.params[t->offset + j] += 0.3f * tr_rng_normal(&rng);
    }
    int B = 2, T = 6;
    tr_batch batch;
    CHECK(tr_batch_alloc(&batch, B, T, &err) == 0);
    for (int i = 0; i < B * T; i++) batch.tokens[i] = (int32_t)tr_rng_below(&rng, cfg.vocab);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T - 1; t++) {
            batch.targets[b * T + t] = batch.tokens[b * T + t + 1];
            batch.weights[b * T + t] = (b == 1 && t < 2) ? 0.0f : 1.0f; /* a masked prompt */
        }
    tr_activations *acts;
    CHECK(tr_activations_init(&acts, &m.cfg, B, T, &err) == 0);
    float *dlogits = malloc((size_t)B * T * cfg.vocab * sizeof(float));
    ctx c = {&m, acts, &batch, dlogits, tr_batch_weight_sum(&batch)};
    loss_of(&c);
    float *grads = calloc(m.table.total, sizeof(float));
    tr_model_backward(&m, acts, grads, dlogits);

    /* a few entries of every tensor */
    for (int i = 0; i < m.table.n_tensors; i++) {
        tr_tensor_info *t = &m.table.tensors[i];
        double worst = 0;
        for (int k = 0; k < 6; k++) {
            size_t j = t->offset + (size_t)tr_rng_below(&rng, t->numel);
            float saved = m.params[j], eps = 1e-2f;
            m.params[j] = saved + eps;
            double lp = loss_of(&c);
            m.params[j] = saved - eps;
            double lm = loss_of(&c);
            m.params[j] = saved;
            double num = (lp - lm) / (2.0 * eps);
            double e = fabs(num - grads[j]) / fmax(fabs(num), 2e-3);
            if (e > worst) worst = e;
        }
        CHECK_MSG(worst < 2e-2, "%s: %s: worst relative error %.3g", label, t->name, worst);
    }
    free(grads);
    free(dlogits);
    tr_activations_free(acts);
    tr_batch_free(&batch);
    tr_model_free(&m);
}

/* The size bounds of tr_config_validate (model.h): sizes from files must not overflow the
 * parameter count or loop 2e9 times. Expected counts by hand from the tensor list. */
static void check_bounds(void) {
    tr_err err;
    tr_config c = tr_config_default(); /* V 512, D 64, L 2, NH 4 */
    c.n_layers = TR_CONFIG_MAX_LAYERS;
    CHECK(tr_config_validate(&c, &err) == 0);
    c.n_layers = TR_CONFIG_MAX_LAYERS + 1;
    CHECK(tr_config_validate(&c, &err) != 0 && strstr(err.msg, "implausible sizes"));
    c = tr_config_default();
    c.n_layers = 2000000000;
    CHECK(tr_config_validate(&c, &err) != 0);
    /* widths near INT_MAX: the size_t count would wrap */
    c = tr_config_default();
    c.dim = c.head_dim = 2147483646;
    c.n_heads = c.n_kv_heads = 1;
    c.hidden_dim = c.vocab = 2147483647;
    CHECK(tr_config_validate(&c, &err) != 0 && strstr(err.msg, "implausible sizes"));
    /* within every width bound but 2^24 x 2^24 x 3 x 2 layers > 2^40 parameters */
    c = tr_config_default();
    c.dim = c.hidden_dim = 1 << 24;
    c.n_heads = c.n_kv_heads = 1 << 16;
    c.vocab = 2;
    CHECK(tr_config_validate(&c, &err) != 0 && strstr(err.msg, "parameters, more than"));
    /* a 7B-sized Llama passes: 32000x4096x2 + 4096 + 32 x (2x4096 + 4x4096^2 + 3x11008x4096)
     * = 6,738,415,616 parameters */
    c = (tr_config){.vocab = 32000, .dim = 4096, .n_layers = 32, .n_heads = 32, .n_kv_heads = 32,
                    .hidden_dim = 11008, .max_seq = 4096, .rope_theta = 10000.0f, .norm_eps = 1e-5f};
    CHECK(tr_config_validate(&c, &err) == 0);
    CHECK(tr_config_num_params(&c) == 6738415616u);
    c.rope_theta = INFINITY;
    CHECK(tr_config_validate(&c, &err) != 0 && strstr(err.msg, "finite"));
}

int main(void) {
    check_bounds();
    tr_config a = {.vocab = 13, .dim = 16, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                   .hidden_dim = 24, .max_seq = 8, .rope_theta = 10000.0f, .norm_eps = 1e-5f,
                   .tied_embeddings = 0, .qkv_bias = 1};
    check_config(a, "gqa+bias+untied");
    tr_config b = a;
    b.n_kv_heads = 4;
    b.tied_embeddings = 1;
    b.qkv_bias = 0;
    check_config(b, "tied");
    return tu_finish("test_model");
}
