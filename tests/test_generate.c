/* Batched generation: the same tokens and log-probs for the same seeds whether requests run
 * together, in continuous batches through fewer slots, alone, or in another order; every
 * stop condition; the callback; the model log-probs against the training forward; and
 * llama2.c's stories260K greedy output (run.c's text, decoded here with a minimal reader of
 * tok512.bin) reproduced exactly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static tr_config cfg_small(void) {
    tr_config c = tr_config_default();
    c.vocab = 61;
    c.dim = 32;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.hidden_dim = 64;
    c.max_seq = 64;
    c.qkv_bias = 1;
    return c;
}

enum { NREQ = 6 };

static void make_requests(tr_gen_request *reqs, int32_t prompts[][12]) {
    tr_rng rng;
    tr_rng_seed(&rng, 31);
    for (int i = 0; i < NREQ; i++) {
        reqs[i].prompt_len = 1 + (int)tr_rng_below(&rng, 12);
        for (int j = 0; j < reqs[i].prompt_len; j++)
            prompts[i][j] = (int32_t)tr_rng_below(&rng, 61);
        reqs[i].prompt = prompts[i];
        reqs[i].seed = 1000 + (uint64_t)i;
    }
}

static int same_result(const tr_gen_result *a, const tr_gen_result *b) {
    return a->n == b->n && a->stop == b->stop &&
           memcmp(a->tokens, b->tokens, sizeof(int32_t) * a->n) == 0 &&
           memcmp(a->logprobs, b->logprobs, sizeof(float) * a->n) == 0 &&
           memcmp(a->logprobs_model, b->logprobs_model, sizeof(float) * a->n) == 0;
}

static void run(const tr_model *m, int slots, const tr_gen_request *reqs, int n,
                const tr_gen_params *p, tr_gen_result *out) {
    tr_err err;
    tr_infer *ctx;
    CHECK(tr_infer_init(&ctx, m, slots, 0, &err) == 0);
    tr_infer_set_adaptive(ctx, 0);
    int rc = tr_generate(ctx, reqs, n, p, out, NULL, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    for (int s = 0; s < slots; s++) CHECK(tr_infer_acquire(ctx) == s); /* all released */
    tr_infer_free(ctx);
}

static void test_batch_invariance(const tr_model *m) {
    tr_gen_request reqs[NREQ];
    int32_t prompts[NREQ][12];
    make_requests(reqs, prompts);
    tr_gen_params p = tr_gen_default_params();
    p.sampler.temperature = 0.8f;
    p.sampler.top_p = 0.9f;
    p.max_new_tokens = 40;
    p.n_stop_tokens = 1;
    p.stop_tokens[0] = 5; /* some sequences stop early, freeing slots */
    tr_gen_result all[NREQ], two[NREQ], one[NREQ], rev[NREQ];
    run(m, NREQ, reqs, NREQ, &p, all);
    run(m, 2, reqs, NREQ, &p, two); /* continuous batching through 2 slots */
    for (int i = 0; i < NREQ; i++) run(m, 1, &reqs[i], 1, &p, &one[i]);
    tr_gen_request r2[NREQ];
    for (int i = 0; i < NREQ; i++) r2[i] = reqs[NREQ - 1 - i];
    int threads = tr_get_threads();
    tr_set_threads(1);
    run(m, 3, r2, NREQ, &p, rev);
    tr_set_threads(threads);
    int stopped = 0;
    for (int i = 0; i < NREQ; i++) {
        CHECK_MSG(same_result(&all[i], &two[i]), "request %d: 6 slots vs 2 slots", i);
        CHECK_MSG(same_result(&all[i], &one[i]), "request %d: batched vs alone", i);
        CHECK_MSG(same_result(&all[i], &rev[NREQ - 1 - i]), "request %d: reversed order", i);
        stopped += all[i].stop == TR_STOP_TOKEN;
        CHECK(all[i].stop == TR_STOP_TOKEN || all[i].n == 40);
        if (all[i].stop == TR_STOP_TOKEN) CHECK(all[i].tokens[all[i].n - 1] == 5);
    }
    CHECK_MSG(stopped > 0, "no sequence hit the stop token: the test lost its point");
    /* different seeds give different samples */
    tr_gen_request other = reqs[0];
    other.seed = 999;
    tr_gen_result o;
    run(m, 1, &other, 1, &p, &o);
    CHECK(!same_result(&o, &all[0]));
    tr_gen_result_free(&o);
    for (int i = 0; i < NREQ; i++) {
        tr_gen_result_free(&all[i]);
        tr_gen_result_free(&two[i]);
        tr_gen_result_free(&one[i]);
        tr_gen_result_free(&rev[i]);
    }
}

/* Requests sharing a prompt (GRPO groups) copy the first one's cache instead of a
 * prefill: the results are those of each request alone. */
static void test_shared_prompts(const tr_model *m) {
    int32_t prompt[9] = {7, 1, 4, 4, 9, 30, 2, 8, 11}, copy[9];
    memcpy(copy, prompt, sizeof prompt);
    tr_gen_request reqs[7];
    for (int i = 0; i < 7; i++) {
        reqs[i].prompt = i == 3 ? copy : prompt; /* equal content, another pointer */
        reqs[i].prompt_len = i == 6 ? 5 : 9;     /* a prefix is not the same prompt */
        reqs[i].seed = 50 + (uint64_t)i;
    }
    tr_gen_params p = tr_gen_default_params();
    p.sampler.temperature = 1.0f;
    p.max_new_tokens = 25;
    p.n_stop_tokens = 1;
    p.stop_tokens[0] = 3;
    tr_gen_result grouped[7], three[7], alone;
    run(m, 7, reqs, 7, &p, grouped);
    run(m, 3, reqs, 7, &p, three); /* followers of live sequences too */
    for (int i = 0; i < 7; i++) {
        run(m, 1, &reqs[i], 1, &p, &alone);
        CHECK_MSG(same_result(&grouped[i], &alone), "shared prompt %d: grouped vs alone", i);
        CHECK_MSG(same_result(&three[i], &alone), "shared prompt %d: 3 slots vs alone", i);
        tr_gen_result_free(&alone);
        tr_gen_result_free(&grouped[i]);
        tr_gen_result_free(&three[i]);
    }
}

/* The model log-probs the generator reports equal log softmax of the TRAINING forward's
 * logits at the generated tokens (what GRPO recomputes), to 1e-5 relative to the row's
 * logit scale: both paths are float32 with different summation orders, and this model's
 * large weights (std 0.4) give logits in the tens, where one float ulp is ~2e-6. */
static void test_logprobs_vs_training(const tr_model *m) {
    tr_gen_request reqs[NREQ];
    int32_t prompts[NREQ][12];
    make_requests(reqs, prompts);
    tr_gen_params p = tr_gen_default_params();
    p.sampler.temperature = 0.7f;
    p.sampler.top_k = 10;
    p.max_new_tokens = 30;
    tr_gen_result out[NREQ];
    run(m, 3, reqs, NREQ, &p, out);
    tr_err err;
    double worst = 0;
    for (int i = 0; i < NREQ; i++) {
        int P = reqs[i].prompt_len, T = P + out[i].n - 1;
        int32_t seq[64];
        memcpy(seq, reqs[i].prompt, sizeof(int32_t) * P);
        memcpy(seq + P, out[i].tokens, sizeof(int32_t) * (out[i].n - 1));
        tr_activations *acts;
        CHECK(tr_activations_init(&acts, &m->cfg, 1, T, &err) == 0);
        const float *lg = tr_model_forward(m, acts, seq, 1, T);
        for (int k = 0; k < out[i].n; k++) {
            const float *row = lg + (size_t)(P - 1 + k) * m->cfg.vocab;
            double mx = -INFINITY, z = 0;
            for (int v = 0; v < m->cfg.vocab; v++) mx = row[v] > mx ? row[v] : mx;
            for (int v = 0; v < m->cfg.vocab; v++) z += exp(row[v] - mx);
            double want = row[out[i].tokens[k]] - mx - log(z), scale = 1.0;
            for (int v = 0; v < m->cfg.vocab; v++) scale = fmax(scale, fabs(row[v]));
            double d = fabs(out[i].logprobs_model[k] - want) / scale;
            worst = d > worst ? d : worst;
            CHECK(out[i].logprobs[k] <= 0.0f);
        }
        tr_activations_free(acts);
        tr_gen_result_free(&out[i]);
    }
    CHECK_MSG(worst <= 1e-5, "model log-probs differ from the training forward by %g of the logit scale", worst);
    printf("log-probs vs training forward: worst %.3g of the logit scale\n", worst);
}

/* token text for stop strings: token t prints one letter 'a' + t % 26 */
static const char *letter(const void *ctx, int32_t prev, int32_t id, size_t *len) {
    static const char abc[] = "abcdefghijklmnopqrstuvwxyz";
    (void)ctx;
    (void)prev;
    *len = 1;
    return abc + id % 26;
}

typedef struct {
    int calls, stop_at, abort_at;
} cb_state;

static int on_token(void *ctx, int seq, const tr_gen_result *r) {
    cb_state *s = ctx;
    (void)seq;
    s->calls++;
    if (s->abort_at && s->calls == s->abort_at) return -1;
    return s->stop_at && r->n == s->stop_at ? 1 : 0;
}

static void test_stops(const tr_model *m) {
    tr_err err;
    int32_t prompt[3] = {3, 4, 5};
    tr_gen_request req = {prompt, 3, 42};
    tr_gen_params p = tr_gen_default_params();
    p.sampler.temperature = 0.0f;
    p.max_new_tokens = 20;
    tr_gen_result free_run, r;
    run(m, 1, &req, 1, &p, &free_run);
    CHECK(free_run.n == 20 && free_run.stop == TR_STOP_MAX_TOKENS);

    /* stop token: the first occurrence of the token generated at step 6 */
    int32_t stop = free_run.tokens[6];
    int first = 0;
    while (free_run.tokens[first] != stop) first++;
    p.n_stop_tokens = 2;
    p.stop_tokens[0] = 60;
    p.stop_tokens[1] = stop;
    run(m, 1, &req, 1, &p, &r);
    CHECK(r.stop == TR_STOP_TOKEN && r.stop_index == 1 && r.n == first + 1);
    CHECK(memcmp(r.tokens, free_run.tokens, sizeof(int32_t) * r.n) == 0);
    tr_gen_result_free(&r);
    p.n_stop_tokens = 0;

    /* stop string: the letters of tokens 8..10 */
    char text[32], want[4];
    for (int i = 0; i < 20; i++) text[i] = (char)('a' + free_run.tokens[i] % 26);
    text[20] = 0;
    memcpy(want, text + 8, 3);
    want[3] = 0;
    int end = (int)(strstr(text, want) - text) + 3; /* tokens up to the first match */
    p.n_stop_strings = 1;
    p.stop_strings[0] = want;
    p.token_text = letter;
    run(m, 1, &req, 1, &p, &r);
    CHECK_MSG(r.stop == TR_STOP_STRING && r.n == end, "stop %d n %d want %d", r.stop, r.n, end);
    tr_gen_result_free(&r);
    p.n_stop_strings = 0;

    /* context: max_seq 10 holds the prompt (3) and 7 fed tokens: 8 generated */
    tr_infer *ctx;
    CHECK(tr_infer_init(&ctx, m, 1, 10, &err) == 0);
    CHECK(tr_generate(ctx, &req, 1, &p, &r, NULL, NULL, &err) == 0);
    CHECK(r.stop == TR_STOP_CONTEXT && r.n == 8);
    CHECK(memcmp(r.tokens, free_run.tokens, sizeof(int32_t) * r.n) == 0);
    tr_gen_result_free(&r);

    /* callback: called once per token; 1 stops the sequence, -1 aborts */
    cb_state st = {0, 5, 0};
    CHECK(tr_generate(ctx, &req, 1, &p, &r, on_token, &st, &err) == 0);
    CHECK(r.stop == TR_STOP_CALLBACK && r.n == 5 && st.calls == 5);
    tr_gen_result_free(&r);
    cb_state ab = {0, 0, 3};
    CHECK(tr_generate(ctx, &req, 1, &p, &r, on_token, &ab, &err) == -1);
    CHECK(strstr(err.msg, "aborted") != NULL);
    CHECK(r.n == 3);
    tr_gen_result_free(&r);
    CHECK(tr_infer_acquire(ctx) == 0); /* the slot was released after the abort */
    tr_infer_release(ctx, 0);

    /* refusals */
    tr_gen_request bad = {prompt, 0, 1};
    CHECK(tr_generate(ctx, &bad, 1, &p, &r, NULL, NULL, &err) == -1);
    p.n_stop_strings = 1;
    p.stop_strings[0] = "x";
    p.token_text = NULL;
    CHECK(tr_generate(ctx, &req, 1, &p, &r, NULL, NULL, &err) == -1);
    CHECK(strstr(err.msg, "token_text") != NULL);
    tr_infer_free(ctx);
    tr_gen_result_free(&free_run);
}

/* ---- stories260K -------------------------------------------------------------------- */

/* llama2.c tokenizer.bin pieces (a minimal reader for this test) */
static char **read_pieces(const char *path, int n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    int32_t maxlen;
    char **pieces = calloc(n, sizeof(char *));
    if (fread(&maxlen, 4, 1, f) != 1) n = 0;
    for (int i = 0; i < n; i++) {
        float score;
        int32_t len;
        if (fread(&score, 4, 1, f) != 1 || fread(&len, 4, 1, f) != 1 || len < 0 || len > 64) break;
        pieces[i] = calloc(len + 1, 1);
        if (fread(pieces[i], 1, len, f) != (size_t)len) break;
    }
    fclose(f);
    return pieces;
}

static void test_stories260k(void) {
    const char *dir = TR_SHARED_DATA "/models/stories260K/";
    char path[512];
    tr_err err;
    tr_model m;
    snprintf(path, sizeof path, "%sstories260K.bin", dir);
    if (tr_load_llama2c(&m, path, &err) != 0) {
        CHECK_MSG(0, "%s", err.msg);
        return;
    }
    snprintf(path, sizeof path, "%stok512.bin", dir);
    char **pieces = read_pieces(path, 512);
    snprintf(path, sizeof path, "%sexpected_stdout_t0_n200.txt", dir);
    size_t want_len = 0;
    char *want = tr_read_file(path, &want_len, &err);
    CHECK(pieces && want);
    if (!pieces || !want) return;

    /* run.c -t 0 -n 200 with no prompt: BOS, then up to 200 greedy tokens, stop at BOS */
    int32_t bos = 1;
    tr_gen_request req = {&bos, 1, 0};
    tr_gen_params p = tr_gen_default_params();
    p.sampler.temperature = 0.0f;
    p.max_new_tokens = 200;
    p.n_stop_tokens = 1;
    p.stop_tokens[0] = 1;
    tr_infer *ctx;
    tr_gen_result r;
    CHECK(tr_infer_init(&ctx, &m, 1, 0, &err) == 0);
    CHECK(tr_generate(ctx, &req, 1, &p, &r, NULL, NULL, &err) == 0);
    /* decode as run.c: a piece after BOS loses its leading space; <0xNN> is a byte */
    char text[4096];
    size_t n = 0;
    int32_t prev = 1;
    for (int i = 0; i < r.n && r.tokens[i] != 1; i++) {
        const char *pc = pieces[r.tokens[i]];
        if (prev == 1 && pc[0] == ' ') pc++;
        unsigned byte;
        char one[2] = {0, 0};
        if (sscanf(pc, "<0x%02X>", &byte) == 1) {
            one[0] = (char)byte;
            pc = one;
        }
        size_t l = strlen(pc);
        if (n + l < sizeof text) memcpy(text + n, pc, l), n += l;
        prev = r.tokens[i];
    }
    CHECK_MSG(n == want_len && memcmp(text, want, n) == 0,
              "stories260K greedy text differs from run.c's:\n%.*s\n---\n%s", (int)n, text, want);
    CHECK(r.n == 200 && r.stop == TR_STOP_MAX_TOKENS);
    /* the same through a batch of 4 identical requests with other seeds */
    tr_gen_request four[4] = {req, req, req, req};
    for (int i = 0; i < 4; i++) four[i].seed = (uint64_t)i * 77;
    tr_gen_result rs[4];
    tr_infer *c4;
    CHECK(tr_infer_init(&c4, &m, 4, 0, &err) == 0);
    CHECK(tr_generate(c4, four, 4, &p, rs, NULL, NULL, &err) == 0);
    for (int i = 0; i < 4; i++) {
        CHECK(same_result(&rs[i], &r));
        tr_gen_result_free(&rs[i]);
    }
    tr_infer_free(c4);
    tr_gen_result_free(&r);
    tr_infer_free(ctx);
    for (int i = 0; i < 512; i++) free(pieces[i]);
    free(pieces);
    free(want);
    tr_model_free(&m);
}

int main(void) {
    tr_err err;
    tr_config c = cfg_small();
    tr_model m;
    if (tr_model_init(&m, &c, &err) != 0) return 1;
    tr_model_init_random(&m, 3, 0.4f);
    test_batch_invariance(&m);
    test_shared_prompts(&m);
    test_logprobs_vs_training(&m);
    test_stops(&m);
    tr_model_free(&m);
    test_stories260k();
    return tu_finish("test_generate");
}
