/* Training: AdamW against a hand computation, schedules, clipping, exact resume from a
 * checkpoint (bit for bit), and refusal of corrupt or truncated checkpoints. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static void test_adamw_by_hand(void) {
    /* one matrix tensor (decays) and one norm (does not), two steps, computed in double */
    tr_config c = {.vocab = 3, .dim = 2, .n_layers = 1, .n_heads = 1, .n_kv_heads = 1,
                   .hidden_dim = 2, .max_seq = 4, .rope_theta = 10000, .norm_eps = 1e-5f,
                   .tied_embeddings = 0};
    tr_err err;
    tr_model m;
    CHECK(tr_model_init(&m, &c, &err) == 0);
    tr_model_init_random(&m, 3, 0.5f);
    tr_adamw_params p = {.lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f,
                         .weight_decay = 0.5f};
    tr_adamw opt;
    CHECK(tr_adamw_init(&opt, &m.table, p, &err) == 0);
    int iw = tr_param_table_find(&m.table, "lm_head.weight");
    int in = tr_param_table_find(&m.table, "model.norm.weight");
    size_t jw = m.table.tensors[iw].offset, jn = m.table.tensors[in].offset;
    double w = m.params[jw], nrm = m.params[jn], mw = 0, vw = 0, mn = 0, vn = 0;
    float *g = calloc(m.table.total, sizeof(float));
    double gs[2] = {0.3, -1.7};
    for (int t = 1; t <= 2; t++) {
        g[jw] = (float)gs[t - 1];
        g[jn] = (float)-gs[t - 1];
        tr_adamw_step(&opt, &m.table, m.params, g, p.lr);
        double bc1 = 1 - pow(0.9, t), bc2 = 1 - pow(0.99, t);
        w *= 1 - 0.1 * 0.5; /* decoupled decay on the matrix */
        mw = 0.9 * mw + 0.1 * gs[t - 1];
        vw = 0.99 * vw + 0.01 * gs[t - 1] * gs[t - 1];
        w -= 0.1 / bc1 * mw / (sqrt(vw) / sqrt(bc2) + 1e-8);
        mn = 0.9 * mn - 0.1 * gs[t - 1];
        vn = 0.99 * vn + 0.01 * gs[t - 1] * gs[t - 1];
        nrm -= 0.1 / bc1 * mn / (sqrt(vn) / sqrt(bc2) + 1e-8); /* no decay on norms */
    }
    CHECK_CLOSE(m.params[jw], w, 1e-6, 1e-7);
    CHECK_CLOSE(m.params[jn], nrm, 1e-6, 1e-7);
    free(g);
    tr_adamw_free(&opt);
    tr_model_free(&m);
}

static void test_schedule_and_clip(void) {
    tr_lr_schedule s = {TR_SCHEDULE_COSINE, 1.0f, 0.1f, 10, 110};
    CHECK_CLOSE(tr_lr_at(&s, 0), 0.1, 1e-6, 0);   /* (0+1)/10 */
    CHECK_CLOSE(tr_lr_at(&s, 9), 1.0, 1e-6, 0);
    CHECK_CLOSE(tr_lr_at(&s, 60), 0.1 + 0.9 * 0.5, 1e-6, 0); /* halfway: cos(pi/2) = 0 */
    CHECK_CLOSE(tr_lr_at(&s, 110), 0.1, 1e-6, 0);
    s.kind = TR_SCHEDULE_CONSTANT;
    CHECK_CLOSE(tr_lr_at(&s, 60), 1.0, 1e-6, 0);
    float g[4] = {3, 4, 0, 0}; /* norm 5 */
    double n = tr_clip_grad_norm(g, 4, 1.0);
    CHECK_CLOSE(n, 5.0, 1e-9, 0);
    CHECK_CLOSE(g[0], 3.0 / (5 + 1e-6), 1e-6, 0);
    float h[2] = {0.3f, 0.4f};
    tr_clip_grad_norm(h, 2, 1.0); /* below the threshold: unchanged */
    CHECK(h[0] == 0.3f && h[1] == 0.4f);
}

/* ---- exact resume ---- */
typedef struct {
    tr_token_stream *stream;
} sctx;
static int next(void *ctx, tr_batch *b, tr_train_state *st, tr_err *err) {
    (void)err;
    tr_token_stream_sample(((sctx *)ctx)->stream, b, &st->data_rng);
    st->data_cursor++;
    return 0;
}

static tr_config small_config(void) {
    tr_config c = {.vocab = 50, .dim = 32, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                   .hidden_dim = 48, .max_seq = 32, .rope_theta = 10000, .norm_eps = 1e-5f,
                   .tied_embeddings = 0, .qkv_bias = 1};
    return c;
}

/* Trains from (a fresh model | the checkpoint in dir) up to `until` steps; returns 0/1/-1
 * as tr_train_loop. */
static int run(const char *dir, int64_t until, int from_checkpoint, tr_token_stream *stream) {
    tr_err err;
    tr_model m;
    tr_train_state st = {0};
    tr_adamw restored = {0};
    tr_adamw_params p = tr_adamw_default_params();
    p.lr = 1e-2f;
    char ckpt[512];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.bin", dir);
    if (from_checkpoint) {
        tr_checkpoint_info info;
        if (tr_checkpoint_load(ckpt, &m, &restored, p, &info, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            return -1;
        }
        st = info.state;
        tr_checkpoint_info_free(&info);
    } else {
        tr_config c = small_config();
        tr_model_init(&m, &c, &err);
        tr_model_init_random(&m, 11, 0.05f);
        tr_rng_seed(&st.rng, 1);
        tr_rng_seed(&st.data_rng, 2);
    }
    tr_lr_schedule s = {TR_SCHEDULE_COSINE, 1e-2f, 1e-3f, 3, 20};
    tr_trainer t;
    tr_trainer_init(&t, &m, p, from_checkpoint ? &restored : NULL, s, 1.0f, 4, 16,
                    tr_dist_single(), &err);
    tr_loop_config lc = {.stage = "test", .out_dir = dir, .steps = until, .micro_batches = 2,
                         .B = 4, .T = 16, .quiet = 1};
    sctx c = {stream};
    tr_objective ce = tr_objective_ce();
    int rc = tr_train_loop(&t, &lc, next, &c, &ce, &st, &err);
    if (rc < 0) fprintf(stderr, "%s\n", err.msg);
    tr_trainer_free(&t);
    tr_model_free(&m);
    tr_adamw_free(&restored);
    return rc;
}

/* The "loss" values of metrics.jsonl, in order. */
static int read_losses(const char *dir, double *out, int cap) {
    char path[512];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    size_t len;
    tr_err err;
    char *text = tr_read_file(path, &len, &err);
    if (!text) return 0;
    int n = 0;
    for (char *p = text; (p = strstr(p, "\"loss\":")) && n < cap; p += 7) out[n++] = atof(p + 7);
    free(text);
    return n;
}

static void test_resume(void) {
    int32_t *ids = malloc(5000 * sizeof(int32_t));
    tr_rng r;
    tr_rng_seed(&r, 5);
    for (int i = 0; i < 5000; i++) ids[i] = (int32_t)((i * 7 + tr_rng_below(&r, 3)) % 50);
    tr_token_stream stream;
    tr_err err;
    CHECK(tr_token_stream_init(&stream, ids, 5000, &err) == 0);
    char a[] = "/tmp/tinyr1_resume_a_XXXXXX", b[] = "/tmp/tinyr1_resume_b_XXXXXX";
    CHECK(mkdtemp(a) && mkdtemp(b));
    CHECK(run(a, 20, 0, &stream) == 0);
    CHECK(run(b, 10, 0, &stream) == 0);
    CHECK(run(b, 20, 1, &stream) == 0);
    double la[32], lb[32];
    int na = read_losses(a, la, 32), nb = read_losses(b, lb, 32);
    CHECK_MSG(na == 20 && nb == 20, "metrics lines: %d and %d", na, nb);
    int same = na == nb;
    for (int i = 0; i < na && i < nb; i++) same = same && la[i] == lb[i];
    CHECK_MSG(same, "losses differ between a straight run and a resumed one");
    CHECK(la[19] < la[0]); /* and it learned something */
    /* the final weights are identical too */
    tr_model ma, mb;
    tr_checkpoint_info ia, ib;
    char pa[512], pb[512];
    snprintf(pa, sizeof pa, "%s/checkpoint.bin", a);
    snprintf(pb, sizeof pb, "%s/checkpoint.bin", b);
    CHECK(tr_checkpoint_load(pa, &ma, NULL, tr_adamw_default_params(), &ia, &err) == 0);
    CHECK(tr_checkpoint_load(pb, &mb, NULL, tr_adamw_default_params(), &ib, &err) == 0);
    CHECK(memcmp(ma.params, mb.params, ma.table.total * sizeof(float)) == 0);
    CHECK(ia.state.step == 20 && ib.state.step == 20);

    /* corrupt and truncated checkpoints are refused with a message */
    size_t len;
    char *bytes = tr_read_file(pa, &len, &err);
    char bad[600];
    snprintf(bad, sizeof bad, "%s/bad.bin", a);
    tr_model mc;
    tr_checkpoint_info ic;
    CHECK(tr_write_file_atomic(bad, bytes, len / 2, &err) == 0);
    CHECK(tr_checkpoint_load(bad, &mc, NULL, tr_adamw_default_params(), &ic, &err) != 0);
    CHECK_MSG(strstr(err.msg, "truncated") != NULL, "message: %s", err.msg);
    bytes[len - 100] ^= 0x40;
    CHECK(tr_write_file_atomic(bad, bytes, len, &err) == 0);
    CHECK(tr_checkpoint_load(bad, &mc, NULL, tr_adamw_default_params(), &ic, &err) != 0);
    CHECK_MSG(strstr(err.msg, "checksum") != NULL, "message: %s", err.msg);
    bytes[len - 100] ^= 0x40;
    memcpy(bytes, "NOTACKPT", 8);
    CHECK(tr_write_file_atomic(bad, bytes, len, &err) == 0);
    CHECK(tr_checkpoint_load(bad, &mc, NULL, tr_adamw_default_params(), &ic, &err) != 0);
    CHECK_MSG(strstr(err.msg, "not a tinyr1 checkpoint") != NULL, "message: %s", err.msg);
    CHECK(tr_write_file_atomic(bad, bytes, 10, &err) == 0);
    CHECK(tr_checkpoint_load(bad, &mc, NULL, tr_adamw_default_params(), &ic, &err) != 0);
    free(bytes);
    tr_checkpoint_info_free(&ia);
    tr_checkpoint_info_free(&ib);
    tr_model_free(&ma);
    tr_model_free(&mb);
    tr_token_stream_free(&stream);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", a, b);
    CHECK(system(cmd) == 0);
}

int main(void) {
    test_adamw_by_hand();
    test_schedule_and_clip();
    test_resume();
    return tu_finish("test_train");
}
