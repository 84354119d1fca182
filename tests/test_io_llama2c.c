/* llama2.c .bin import: the RoPE row permutation on a hand example and by its meaning
 * (interleaved RoPE on the original rows == rotate-half RoPE on the permuted rows), the
 * real stories260K model (header, and values read straight from the file bytes at computed
 * offsets), a hand-made unshared-classifier file, and refusals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char tmpdir[64];

static void test_permutation_hand(void) {
    /* 2 heads of HD 4, 2 columns; w[r][c] = 10 r + c. Interleaved pairs (0,1),(2,3) must
     * become rotate-half pairs (0,2),(1,3): new head rows = old rows 0, 2, 1, 3. */
    float w[16], want[16];
    for (int r = 0; r < 8; r++)
        for (int c = 0; c < 2; c++) w[r * 2 + c] = (float)(10 * r + c);
    const int order[8] = {0, 2, 1, 3, 4, 6, 5, 7};
    for (int r = 0; r < 8; r++)
        for (int c = 0; c < 2; c++) want[r * 2 + c] = (float)(10 * order[r] + c);
    tr_err err;
    CHECK(tr_permute_rope_rows(w, 2, 4, 2, &err) == 0);
    CHECK(memcmp(w, want, sizeof w) == 0);
    CHECK(tr_permute_rope_rows(w, 2, 3, 2, &err) == -1);
}

/* RoPE as llama2.c's run.c applies it: pairs (2i, 2i+1) of each head. */
static void rope_interleaved(float *q, int nh, int hd, int pos, float theta) {
    for (int h = 0; h < nh; h++)
        for (int i = 0; i < hd / 2; i++) {
            double a = pos * pow(theta, -2.0 * i / hd);
            float *p = q + h * hd + 2 * i, x = p[0], y = p[1];
            p[0] = (float)(x * cos(a) - y * sin(a));
            p[1] = (float)(x * sin(a) + y * cos(a));
        }
}

/* RoPE as Hugging Face applies it: pairs (i, i + hd/2). */
static void rope_half(float *q, int nh, int hd, int pos, float theta) {
    for (int h = 0; h < nh; h++)
        for (int i = 0; i < hd / 2; i++) {
            double a = pos * pow(theta, -2.0 * i / hd);
            float *p = q + h * hd, x = p[i], y = p[i + hd / 2];
            p[i] = (float)(x * cos(a) - y * sin(a));
            p[i + hd / 2] = (float)(x * sin(a) + y * cos(a));
        }
}

static void matvec(float *y, const float *w, const float *x, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        double s = 0;
        for (int c = 0; c < cols; c++) s += (double)w[r * cols + c] * x[c];
        y[r] = (float)s;
    }
}

static void test_permutation_meaning(void) {
    enum { NH = 3, HD = 8, D = 12, Q = NH * HD };
    tr_rng rng;
    tr_rng_seed(&rng, 7);
    float wq[Q * D], wk[Q * D], pq[Q * D], pk[Q * D], x1[D], x2[D];
    for (int i = 0; i < Q * D; i++) wq[i] = tr_rng_normal(&rng), wk[i] = tr_rng_normal(&rng);
    for (int i = 0; i < D; i++) x1[i] = tr_rng_normal(&rng), x2[i] = tr_rng_normal(&rng);
    memcpy(pq, wq, sizeof wq);
    memcpy(pk, wk, sizeof wk);
    tr_err err;
    CHECK(tr_permute_rope_rows(pq, NH, HD, D, &err) == 0);
    CHECK(tr_permute_rope_rows(pk, NH, HD, D, &err) == 0);
    float q[Q], k[Q], q2[Q], k2[Q];
    matvec(q, wq, x1, Q, D); /* query at position 5, key at position 2 */
    matvec(k, wk, x2, Q, D);
    matvec(q2, pq, x1, Q, D);
    matvec(k2, pk, x2, Q, D);
    rope_interleaved(q, NH, HD, 5, 10000.0f);
    rope_interleaved(k, NH, HD, 2, 10000.0f);
    rope_half(q2, NH, HD, 5, 10000.0f);
    rope_half(k2, NH, HD, 2, 10000.0f);
    for (int h = 0; h < NH; h++) { /* attention scores per head agree */
        double s1 = 0, s2 = 0;
        for (int d = 0; d < HD; d++) s1 += q[h * HD + d] * k[h * HD + d];
        for (int d = 0; d < HD; d++) s2 += q2[h * HD + d] * k2[h * HD + d];
        CHECK_CLOSE(s2, s1, 1e-5, 1e-5);
    }
    for (int h = 0; h < NH; h++) /* and the rotated vectors are the same, rearranged */
        for (int i = 0; i < HD / 2; i++)
            for (int j = 0; j < 2; j++)
                CHECK_CLOSE(q2[h * HD + j * HD / 2 + i], q[h * HD + 2 * i + j], 1e-5, 1e-6);
}

static float file_float(const char *bytes, int64_t index) {
    float f;
    memcpy(&f, bytes + 28 + 4 * index, 4);
    return f;
}

static void test_stories260k(void) {
    const char *path = TR_SHARED_DATA "/models/stories260K/stories260K.bin";
    tr_model m;
    tr_err err;
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "skipping: %s not found\n", path);
        return;
    }
    CHECK_MSG(tr_load_llama2c(&m, path, &err) == 0, "%s", err.msg);
    if (!m.params) return;
    const tr_config *c = &m.cfg;
    CHECK(c->dim == 64 && c->hidden_dim == 172 && c->n_layers == 5 && c->n_heads == 8);
    CHECK(c->n_kv_heads == 4 && c->vocab == 512 && c->max_seq == 512 && c->head_dim == 8);
    CHECK(c->tied_embeddings == 1 && c->qkv_bias == 0);
    CHECK(c->norm_eps == 1e-5f && c->rope_theta == 10000.0f);
    CHECK(m.view.lm_head == m.view.embed);

    size_t len;
    char *b = tr_read_file(path, &len, &err);
    CHECK(b && len == 1056540);
    if (!b) {
        tr_model_free(&m);
        return;
    }
    int32_t hdr[7];
    memcpy(hdr, b, 28);
    CHECK(hdr[0] == 64 && hdr[5] == 512 && hdr[6] == 512);
    const int64_t D = 64, H = 172, L = 5, NH = 8, KVH = 4, HD = 8, V = 512, KV = KVH * HD;
    /* offsets (in floats after the header) of each tensor kind, from the layout */
    int64_t o_emb = 0, o_att = o_emb + V * D, o_wq = o_att + L * D, o_wk = o_wq + L * D * D;
    int64_t o_wv = o_wk + L * KV * D, o_wo = o_wv + L * KV * D, o_ffn = o_wo + L * D * D;
    int64_t o_w1 = o_ffn + L * D, o_w2 = o_w1 + L * H * D, o_w3 = o_w2 + L * D * H;
    int64_t o_fin = o_w3 + L * H * D, o_freq = o_fin + D;
    CHECK(28 + 4 * (o_freq + 512 * HD) == (int64_t)len); /* shared classifier: nothing after */

    int bad = 0;
    for (int64_t r = 0; r < V; r += 37) /* embedding rows */
        for (int64_t j = 0; j < D; j++)
            bad += m.view.embed[r * D + j] != file_float(b, o_emb + r * D + j);
    for (int l = 0; l < L; l++) {
        const tr_layer_view *lv = &m.view.layers[l];
        for (int64_t j = 0; j < D; j++) {
            bad += lv->attn_norm[j] != file_float(b, o_att + l * D + j);
            bad += lv->mlp_norm[j] != file_float(b, o_ffn + l * D + j);
        }
        /* q: engine row h*HD + jj*HD/2 + i holds file row h*HD + 2i + jj */
        for (int64_t h = 0; h < NH; h++)
            for (int64_t i = 0; i < HD / 2; i++)
                for (int64_t jj = 0; jj < 2; jj++)
                    for (int64_t col = 0; col < D; col++) {
                        int64_t er = h * HD + jj * HD / 2 + i, fr = h * HD + 2 * i + jj;
                        bad +=
                            lv->wq[er * D + col] != file_float(b, o_wq + l * D * D + fr * D + col);
                        if (h < KVH)
                            bad += lv->wk[er * D + col] !=
                                   file_float(b, o_wk + l * KV * D + fr * D + col);
                    }
        for (int64_t e = 0; e < KV * D; e++)
            bad += lv->wv[e] != file_float(b, o_wv + l * KV * D + e);
        for (int64_t e = 0; e < D * D; e++) bad += lv->wo[e] != file_float(b, o_wo + l * D * D + e);
        for (int64_t e = 0; e < H * D; e++) {
            bad += lv->w_gate[e] != file_float(b, o_w1 + l * H * D + e);
            bad += lv->w_down[e] != file_float(b, o_w2 + l * D * H + e);
            bad += lv->w_up[e] != file_float(b, o_w3 + l * H * D + e);
        }
    }
    for (int64_t j = 0; j < D; j++) bad += m.view.final_norm[j] != file_float(b, o_fin + j);
    CHECK_MSG(bad == 0, "%d values misplaced", bad);
    /* the permutation really moved something: engine wq row 1 is file row 2 */
    CHECK(m.view.layers[0].wq[1 * D] == file_float(b, o_wq + 2 * D));
    CHECK(m.view.layers[0].wq[1 * D] != file_float(b, o_wq + 1 * D));
    /* the freq_cis table starts with cos(0) = 1 (a check on the layout, not the loader) */
    CHECK(file_float(b, o_freq) == 1.0f);

    tr_model m2;
    CHECK_MSG(tr_model_load(&m2, path, &err) == 0, "%s", err.msg); /* detection: .bin */
    if (m2.params) {
        CHECK(memcmp(m2.params, m.params, m.table.total * sizeof(float)) == 0);
        tr_model_free(&m2);
    }

    /* refusals: truncated, extended, garbage header, a version-1 magic */
    char p[256];
    snprintf(p, sizeof p, "%s/trunc.bin", tmpdir);
    CHECK(tr_write_file_atomic(p, b, len - 4, &err) == 0);
    CHECK(tr_load_llama2c(&m2, p, &err) == -1 && strstr(err.msg, "1056536 bytes") &&
          strstr(err.msg, "implies 1056540"));
    CHECK(m2.params == NULL);
    CHECK(tr_write_file_atomic(p, b, 20, &err) == 0);
    CHECK(tr_load_llama2c(&m2, p, &err) == -1 && strstr(err.msg, "too short"));
    int32_t junk[7] = {64, 172, 5, 7, 4, 512, 512}; /* 7 heads do not divide 64 */
    memcpy(b, junk, 28);
    CHECK(tr_write_file_atomic(p, b, len, &err) == 0);
    CHECK(tr_load_llama2c(&m2, p, &err) == -1 && strstr(err.msg, "implausible"));
    int32_t v1[2] = {0x616b3432, 1};
    memcpy(b, v1, 8);
    CHECK(tr_write_file_atomic(p, b, len, &err) == 0);
    CHECK(tr_load_llama2c(&m2, p, &err) == -1 && strstr(err.msg, "version-1"));
    snprintf(p, sizeof p, "%s/absent.bin", tmpdir);
    CHECK(tr_load_llama2c(&m2, p, &err) == -1 && strstr(err.msg, "cannot open"));
    free(b);
    tr_model_free(&m);
}

/* A hand-made file with an unshared classifier (negative vocab): every float is its own
 * index, so each tensor's first value tells where it was read from. */
static void test_unshared(void) {
    const int32_t D = 4, H = 6, L = 1, NH = 2, KVH = 1, V = 3, S = 5, HD = 2, KV = 2;
    int64_t n = (int64_t)V * D + L * (2 * D + D * D + 2 * KV * D + D * D + 3 * H * D) + D +
                (int64_t)S * HD + (int64_t)V * D;
    size_t len = 28 + 4 * (size_t)n;
    char *b = malloc(len);
    int32_t hdr[7] = {D, H, L, NH, KVH, -V, S};
    memcpy(b, hdr, 28);
    for (int64_t i = 0; i < n; i++) {
        float f = (float)i;
        memcpy(b + 28 + 4 * i, &f, 4);
    }
    char p[256];
    tr_err err;
    snprintf(p, sizeof p, "%s/unshared.bin", tmpdir);
    CHECK(tr_write_file_atomic(p, b, len, &err) == 0);
    free(b);
    tr_model m;
    CHECK_MSG(tr_load_llama2c(&m, p, &err) == 0, "%s", err.msg);
    if (!m.params) return;
    CHECK(m.cfg.tied_embeddings == 0 && m.cfg.vocab == 3 && m.view.lm_head != m.view.embed);
    int64_t o_wq = V * D + L * D,
            o_fin = V * D + L * (2 * D + D * D + 2 * KV * D + D * D + 3 * H * D);
    CHECK(m.view.embed[0] == 0.0f && m.view.embed[V * D - 1] == (float)(V * D - 1));
    CHECK(m.view.final_norm[0] == (float)o_fin);
    CHECK(m.view.lm_head[0] == (float)(o_fin + D + S * HD)); /* after the skipped freq_cis */
    CHECK(m.view.lm_head[V * D - 1] == (float)(n - 1));
    /* HD 2: pairs (0,1) are already (i, i + HD/2): the permutation is the identity */
    CHECK(m.view.layers[0].wq[D] == (float)(o_wq + D));
    tr_model_free(&m);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tinyr1_l2c_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    test_permutation_hand();
    test_permutation_meaning();
    test_stories260k();
    test_unshared();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return tu_finish("test_io_llama2c");
}
