/* FLOP formulas (src/cost/flops.c) against a brute-force count.
 *
 * This file holds its own naive transformer (Llama/Qwen2: GQA, RoPE, RMSNorm, SwiGLU,
 * optional qkv bias, tied or untied head) in double precision, forward and backward,
 * with a KV cache for prefill/decode. Every multiply-add inside a matrix product or an
 * attention product increments a counter in its innermost loop, by operation. The
 * backward is checked against central finite differences, so the count is the count of
 * a real backward. The formulas must match the counts exactly (2 FLOPs per multiply-add).
 * Larger shapes are checked against 6ND with published parameter counts and against
 * PaLM's attention term. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

enum { C_QKV, C_O, C_SCORES, C_VALUES, C_MLP, C_LM, C_N };

typedef struct {
    int V, D, L, NH, KVH, HD, H, Q, KV, tied, bias;
} shp;

/* offsets of each tensor in the flat parameter (and gradient) array */
typedef struct {
    size_t emb, fn, lm, total;
    size_t an[4], wq[4], bq[4], wk[4], bk[4], wv[4], bv[4], wo[4], mn[4], wg[4], wu[4], wd[4];
} layout;

typedef struct {
    int64_t macs[C_N];
} counter;

static layout make_layout(const shp *s) {
    layout l;
    memset(&l, 0, sizeof l);
    size_t o = 0;
    l.emb = o, o += (size_t)s->V * s->D;
    for (int i = 0; i < s->L; i++) {
        l.an[i] = o, o += s->D;
        l.wq[i] = o, o += (size_t)s->Q * s->D;
        l.bq[i] = o, o += s->bias ? s->Q : 0;
        l.wk[i] = o, o += (size_t)s->KV * s->D;
        l.bk[i] = o, o += s->bias ? s->KV : 0;
        l.wv[i] = o, o += (size_t)s->KV * s->D;
        l.bv[i] = o, o += s->bias ? s->KV : 0;
        l.wo[i] = o, o += (size_t)s->D * s->Q;
        l.mn[i] = o, o += s->D;
        l.wg[i] = o, o += (size_t)s->H * s->D;
        l.wu[i] = o, o += (size_t)s->H * s->D;
        l.wd[i] = o, o += (size_t)s->D * s->H;
    }
    l.fn = o, o += s->D;
    l.lm = s->tied ? l.emb : o;
    if (!s->tied) o += (size_t)s->V * s->D;
    l.total = o;
    return l;
}

/* ---- counted kernels ------------------------------------------------------------- */

/* y[N,out] = x[N,in] W[out,in]^T (+ b) */
static void mm_fwd(counter *c, int kind, double *y, const double *x, const double *W,
                   const double *b, int N, int in, int out) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < out; o++) {
            double acc = b ? b[o] : 0.0;
            for (int i = 0; i < in; i++) {
                acc += x[n * in + i] * W[o * in + i];
                c->macs[kind]++;
            }
            y[n * out + o] = acc;
        }
}

/* dx += dy W ; dW += dy^T x ; db += sum dy (dx, dW may be NULL to skip... never here) */
static void mm_bwd(counter *c, int kind, double *dx, double *dW, double *db, const double *dy,
                   const double *x, const double *W, int N, int in, int out) {
    for (int n = 0; n < N; n++)
        for (int i = 0; i < in; i++) {
            double acc = 0.0;
            for (int o = 0; o < out; o++) {
                acc += dy[n * out + o] * W[o * in + i];
                c->macs[kind]++;
            }
            dx[n * in + i] += acc;
        }
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++) {
            double acc = 0.0;
            for (int n = 0; n < N; n++) {
                acc += dy[n * out + o] * x[n * in + i];
                c->macs[kind]++;
            }
            dW[o * in + i] += acc;
        }
    if (db)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < out; o++) db[o] += dy[n * out + o];
}

/* ---- uncounted elementwise ops --------------------------------------------------- */

static void rms_fwd(double *y, double *rinv, const double *x, const double *w, int N, int D) {
    for (int n = 0; n < N; n++) {
        double ss = 0;
        for (int d = 0; d < D; d++) ss += x[n * D + d] * x[n * D + d];
        double r = 1.0 / sqrt(ss / D + 1e-5);
        rinv[n] = r;
        for (int d = 0; d < D; d++) y[n * D + d] = x[n * D + d] * r * w[d];
    }
}

static void rms_bwd(double *dx, double *dw, const double *dy, const double *x, const double *rinv,
                    const double *w, int N, int D) {
    for (int n = 0; n < N; n++) {
        double r = rinv[n], dot = 0;
        for (int d = 0; d < D; d++) {
            dw[d] += dy[n * D + d] * x[n * D + d] * r;
            dot += dy[n * D + d] * w[d] * x[n * D + d];
        }
        for (int d = 0; d < D; d++)
            dx[n * D + d] += r * dy[n * D + d] * w[d] - r * r * r * x[n * D + d] * dot / D;
    }
}

/* rotate-half RoPE on [N, heads*HD] at absolute positions pos0 + n; sign -1 = inverse */
static void rope(double *x, int N, int heads, int HD, int pos0, double sign) {
    for (int n = 0; n < N; n++)
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < HD / 2; i++) {
                double ang = (pos0 + n) * pow(10000.0, -2.0 * i / HD) * sign;
                double *a = &x[(size_t)n * heads * HD + h * HD + i], *b = a + HD / 2;
                double x0 = *a, x1 = *b;
                *a = x0 * cos(ang) - x1 * sin(ang);
                *b = x0 * sin(ang) + x1 * cos(ang);
            }
}

static double silu(double g) {
    return g / (1.0 + exp(-g));
}

/* ---- the naive model ------------------------------------------------------------- */

typedef struct {
    int T; /* positions of this pass */
    double *x_in[4], *xn1[4], *r1[4], *q[4], *att_o[4], *x_mid[4], *xn2[4], *r2[4], *g[4], *u[4],
        *a[4], *p[4];
    double *x_fin, *xnf, *rf, *logits;
} acts;

typedef struct {
    double *k[4], *v[4]; /* [cap, KV] per layer, rotated keys */
    int cap;
} kvcache;

static double *dalloc(size_t n) {
    return calloc(n ? n : 1, sizeof(double));
}

static void acts_alloc(acts *A, const shp *s, int T, int ctx) {
    memset(A, 0, sizeof *A);
    A->T = T;
    for (int l = 0; l < s->L; l++) {
        A->x_in[l] = dalloc((size_t)T * s->D);
        A->xn1[l] = dalloc((size_t)T * s->D);
        A->r1[l] = dalloc(T);
        A->q[l] = dalloc((size_t)T * s->Q);
        A->att_o[l] = dalloc((size_t)T * s->Q);
        A->x_mid[l] = dalloc((size_t)T * s->D);
        A->xn2[l] = dalloc((size_t)T * s->D);
        A->r2[l] = dalloc(T);
        A->g[l] = dalloc((size_t)T * s->H);
        A->u[l] = dalloc((size_t)T * s->H);
        A->a[l] = dalloc((size_t)T * s->H);
        A->p[l] = dalloc((size_t)s->NH * T * ctx);
    }
    A->x_fin = dalloc((size_t)T * s->D);
    A->xnf = dalloc((size_t)T * s->D);
    A->rf = dalloc(T);
    A->logits = dalloc((size_t)T * s->V);
}

static void acts_free(acts *A, const shp *s) {
    for (int l = 0; l < s->L; l++) {
        free(A->x_in[l]), free(A->xn1[l]), free(A->r1[l]), free(A->q[l]), free(A->att_o[l]);
        free(A->x_mid[l]), free(A->xn2[l]), free(A->r2[l]), free(A->g[l]), free(A->u[l]);
        free(A->a[l]), free(A->p[l]);
    }
    free(A->x_fin), free(A->xnf), free(A->rf), free(A->logits);
}

/* Runs n positions (absolute past .. past+n-1) of one sequence, appending k/v to the cache.
 * Logits are computed for positions [logit_from, n) only. */
static void forward(counter *c, const shp *s, const layout *ly, const double *P, const int *tokens,
                    int n, int past, int logit_from, kvcache *kv, acts *A) {
    int ctx = past + n, D = s->D, Q = s->Q, KV = s->KV, HD = s->HD, grp = s->NH / s->KVH;
    double *x = dalloc((size_t)n * D), *tmp = dalloc((size_t)n * (Q > D ? Q : D));
    double *k = dalloc((size_t)n * KV), *att = dalloc((size_t)n * Q);
    for (int t = 0; t < n; t++)
        memcpy(&x[t * D], &P[ly->emb + (size_t)tokens[t] * D], D * sizeof(double));
    double scale = 1.0 / sqrt((double)HD);
    for (int l = 0; l < s->L; l++) {
        memcpy(A->x_in[l], x, (size_t)n * D * sizeof(double));
        rms_fwd(A->xn1[l], A->r1[l], x, &P[ly->an[l]], n, D);
        mm_fwd(c, C_QKV, A->q[l], A->xn1[l], &P[ly->wq[l]], s->bias ? &P[ly->bq[l]] : NULL, n, D,
               Q);
        mm_fwd(c, C_QKV, k, A->xn1[l], &P[ly->wk[l]], s->bias ? &P[ly->bk[l]] : NULL, n, D, KV);
        mm_fwd(c, C_QKV, &kv->v[l][(size_t)past * KV], A->xn1[l], &P[ly->wv[l]],
               s->bias ? &P[ly->bv[l]] : NULL, n, D, KV);
        rope(A->q[l], n, s->NH, HD, past, 1.0);
        rope(k, n, s->KVH, HD, past, 1.0);
        memcpy(&kv->k[l][(size_t)past * KV], k, (size_t)n * KV * sizeof(double));
        for (int h = 0; h < s->NH; h++) {
            int kh = h / grp;
            for (int t = 0; t < n; t++) {
                int pos = past + t;
                double *p = &A->p[l][((size_t)h * n + t) * ctx], mx = -1e300, sum = 0;
                for (int t2 = 0; t2 <= pos; t2++) {
                    double sc = 0;
                    for (int d = 0; d < HD; d++) {
                        sc += A->q[l][(size_t)t * Q + h * HD + d] *
                              kv->k[l][(size_t)t2 * KV + kh * HD + d];
                        c->macs[C_SCORES]++;
                    }
                    p[t2] = sc * scale;
                    if (p[t2] > mx) mx = p[t2];
                }
                for (int t2 = 0; t2 <= pos; t2++) sum += (p[t2] = exp(p[t2] - mx));
                for (int t2 = 0; t2 <= pos; t2++) p[t2] /= sum;
                for (int d = 0; d < HD; d++) {
                    double o = 0;
                    for (int t2 = 0; t2 <= pos; t2++) {
                        o += p[t2] * kv->v[l][(size_t)t2 * KV + kh * HD + d];
                        c->macs[C_VALUES]++;
                    }
                    att[(size_t)t * Q + h * HD + d] = o;
                }
            }
        }
        memcpy(A->att_o[l], att, (size_t)n * Q * sizeof(double));
        mm_fwd(c, C_O, tmp, att, &P[ly->wo[l]], NULL, n, Q, D);
        for (size_t i = 0; i < (size_t)n * D; i++) x[i] += tmp[i];
        memcpy(A->x_mid[l], x, (size_t)n * D * sizeof(double));
        rms_fwd(A->xn2[l], A->r2[l], x, &P[ly->mn[l]], n, D);
        mm_fwd(c, C_MLP, A->g[l], A->xn2[l], &P[ly->wg[l]], NULL, n, D, s->H);
        mm_fwd(c, C_MLP, A->u[l], A->xn2[l], &P[ly->wu[l]], NULL, n, D, s->H);
        for (size_t i = 0; i < (size_t)n * s->H; i++) A->a[l][i] = silu(A->g[l][i]) * A->u[l][i];
        mm_fwd(c, C_MLP, tmp, A->a[l], &P[ly->wd[l]], NULL, n, s->H, D);
        for (size_t i = 0; i < (size_t)n * D; i++) x[i] += tmp[i];
    }
    memcpy(A->x_fin, x, (size_t)n * D * sizeof(double));
    rms_fwd(A->xnf, A->rf, x, &P[ly->fn], n, D);
    int nl = n - logit_from;
    if (nl > 0)
        mm_fwd(c, C_LM, &A->logits[(size_t)logit_from * s->V], &A->xnf[(size_t)logit_from * D],
               &P[ly->lm], NULL, nl, D, s->V);
    free(x), free(tmp), free(k), free(att);
}

/* Mean cross-entropy over the T positions; fills dlogits when given. */
static double ce(const double *logits, const int *targets, int T, int V, double *dlogits) {
    double loss = 0;
    for (int t = 0; t < T; t++) {
        const double *z = &logits[(size_t)t * V];
        double mx = -1e300, sum = 0;
        for (int v = 0; v < V; v++) mx = z[v] > mx ? z[v] : mx;
        for (int v = 0; v < V; v++) sum += exp(z[v] - mx);
        loss += log(sum) + mx - z[targets[t]];
        if (dlogits)
            for (int v = 0; v < V; v++)
                dlogits[(size_t)t * V + v] = (exp(z[v] - mx) / sum - (v == targets[t])) / T;
    }
    return loss / T;
}

/* Backward of a training forward (past = 0, all logits). Accumulates into G. */
static void backward(counter *c, const shp *s, const layout *ly, const double *P, double *G,
                     const int *tokens, int T, const kvcache *kv, const acts *A,
                     const double *dlogits) {
    int D = s->D, Q = s->Q, KV = s->KV, HD = s->HD, grp = s->NH / s->KVH;
    double *dx = dalloc((size_t)T * D), *dxn = dalloc((size_t)T * D);
    double *dtmp = dalloc((size_t)T * (s->H > Q ? s->H : Q)), *dg = dalloc((size_t)T * s->H);
    double *du = dalloc((size_t)T * s->H), *dq = dalloc((size_t)T * Q);
    double *dk = dalloc((size_t)T * KV), *dv = dalloc((size_t)T * KV), *dp = dalloc(T);
    double scale = 1.0 / sqrt((double)HD);
    mm_bwd(c, C_LM, dxn, &G[ly->lm], NULL, dlogits, A->xnf, &P[ly->lm], T, D, s->V);
    rms_bwd(dx, &G[ly->fn], dxn, A->x_fin, A->rf, &P[ly->fn], T, D);
    for (int l = s->L - 1; l >= 0; l--) {
        /* MLP: x = x_mid + a Wd^T */
        memset(dtmp, 0, (size_t)T * s->H * sizeof(double));
        mm_bwd(c, C_MLP, dtmp, &G[ly->wd[l]], NULL, dx, A->a[l], &P[ly->wd[l]], T, s->H, D);
        for (size_t i = 0; i < (size_t)T * s->H; i++) {
            double g = A->g[l][i], sg = 1.0 / (1.0 + exp(-g));
            du[i] = dtmp[i] * silu(g);
            dg[i] = dtmp[i] * A->u[l][i] * (sg * (1.0 + g * (1.0 - sg)));
        }
        memset(dxn, 0, (size_t)T * D * sizeof(double));
        mm_bwd(c, C_MLP, dxn, &G[ly->wg[l]], NULL, dg, A->xn2[l], &P[ly->wg[l]], T, D, s->H);
        mm_bwd(c, C_MLP, dxn, &G[ly->wu[l]], NULL, du, A->xn2[l], &P[ly->wu[l]], T, D, s->H);
        rms_bwd(dx, &G[ly->mn[l]], dxn, A->x_mid[l], A->r2[l], &P[ly->mn[l]], T, D);
        /* attention: x_mid = x_in + att Wo^T */
        double *datt = dtmp;
        memset(datt, 0, (size_t)T * Q * sizeof(double));
        mm_bwd(c, C_O, datt, &G[ly->wo[l]], NULL, dx, A->att_o[l], &P[ly->wo[l]], T, Q, D);
        memset(dq, 0, (size_t)T * Q * sizeof(double));
        memset(dk, 0, (size_t)T * KV * sizeof(double));
        memset(dv, 0, (size_t)T * KV * sizeof(double));
        for (int h = 0; h < s->NH; h++) {
            int kh = h / grp;
            for (int t = 0; t < T; t++) {
                const double *p = &A->p[l][((size_t)h * T + t) * T];
                const double *dO = &datt[(size_t)t * Q + h * HD];
                double dot = 0;
                for (int t2 = 0; t2 <= t; t2++) {
                    double acc = 0;
                    for (int d = 0; d < HD; d++) {
                        acc += dO[d] * kv->v[l][(size_t)t2 * KV + kh * HD + d];
                        c->macs[C_VALUES]++;
                    }
                    dp[t2] = acc;
                    for (int d = 0; d < HD; d++) {
                        dv[(size_t)t2 * KV + kh * HD + d] += p[t2] * dO[d];
                        c->macs[C_VALUES]++;
                    }
                    dot += p[t2] * dp[t2];
                }
                for (int t2 = 0; t2 <= t; t2++) {
                    double ds = p[t2] * (dp[t2] - dot) * scale;
                    for (int d = 0; d < HD; d++) {
                        dq[(size_t)t * Q + h * HD + d] +=
                            ds * kv->k[l][(size_t)t2 * KV + kh * HD + d];
                        c->macs[C_SCORES]++;
                    }
                    for (int d = 0; d < HD; d++) {
                        dk[(size_t)t2 * KV + kh * HD + d] +=
                            ds * A->q[l][(size_t)t * Q + h * HD + d];
                        c->macs[C_SCORES]++;
                    }
                }
            }
        }
        rope(dq, T, s->NH, HD, 0, -1.0); /* the rotation is orthogonal: its transpose inverts it */
        rope(dk, T, s->KVH, HD, 0, -1.0);
        memset(dxn, 0, (size_t)T * D * sizeof(double));
        mm_bwd(c, C_QKV, dxn, &G[ly->wq[l]], s->bias ? &G[ly->bq[l]] : NULL, dq, A->xn1[l],
               &P[ly->wq[l]], T, D, Q);
        mm_bwd(c, C_QKV, dxn, &G[ly->wk[l]], s->bias ? &G[ly->bk[l]] : NULL, dk, A->xn1[l],
               &P[ly->wk[l]], T, D, KV);
        mm_bwd(c, C_QKV, dxn, &G[ly->wv[l]], s->bias ? &G[ly->bv[l]] : NULL, dv, A->xn1[l],
               &P[ly->wv[l]], T, D, KV);
        rms_bwd(dx, &G[ly->an[l]], dxn, A->x_in[l], A->r1[l], &P[ly->an[l]], T, D);
    }
    for (int t = 0; t < T; t++) /* embedding: scatter-add, not a product */
        for (int d = 0; d < D; d++) G[ly->emb + (size_t)tokens[t] * D + d] += dx[(size_t)t * D + d];
    free(dx), free(dxn), free(dtmp), free(dg), free(du), free(dq), free(dk), free(dv), free(dp);
}

static void cache_alloc(kvcache *kv, const shp *s, int cap) {
    kv->cap = cap;
    for (int l = 0; l < s->L; l++) {
        kv->k[l] = dalloc((size_t)cap * s->KV);
        kv->v[l] = dalloc((size_t)cap * s->KV);
    }
}

static void cache_free(kvcache *kv, const shp *s) {
    for (int l = 0; l < s->L; l++) free(kv->k[l]), free(kv->v[l]);
}

static tr_config to_cfg(const shp *s) {
    tr_config c = tr_config_default();
    c.vocab = s->V, c.dim = s->D, c.n_layers = s->L, c.n_heads = s->NH, c.n_kv_heads = s->KVH;
    c.head_dim = s->HD, c.hidden_dim = s->H, c.tied_embeddings = s->tied, c.qkv_bias = s->bias;
    return c;
}

static double train_loss(counter *c, const shp *s, const layout *ly, const double *P,
                         const int *tok, const int *tgt, int T) {
    kvcache kv;
    acts A;
    cache_alloc(&kv, s, T);
    acts_alloc(&A, s, T, T);
    forward(c, s, ly, P, tok, T, 0, 0, &kv, &A);
    double loss = ce(A.logits, tgt, T, s->V, NULL);
    acts_free(&A, s);
    cache_free(&kv, s);
    return loss;
}

/* One shape: forward/backward counts for B sequences of T, gradient check, generation. */
static void check_shape(const shp *s, int B, int T) {
    layout ly = make_layout(s);
    tr_config cfg = to_cfg(s);
    tr_err err = {{0}};
    CHECK(tr_config_validate(&cfg, &err) == 0);
    /* the naive layout has exactly the library's parameter count */
    CHECK_MSG(ly.total == tr_config_num_params(&cfg), "%zu vs %zu", ly.total,
              tr_config_num_params(&cfg));
    double *P = dalloc(ly.total), *G = dalloc(ly.total);
    tr_rng rng;
    tr_rng_seed(&rng, 7);
    for (size_t i = 0; i < ly.total; i++) P[i] = 0.3 * tr_rng_normal(&rng);
    for (int l = 0; l < s->L; l++)
        for (int d = 0; d < s->D; d++) P[ly.an[l] + d] = 1.0 + 0.1 * tr_rng_normal(&rng);
    int *tok = malloc(sizeof(int) * (size_t)B * T), *tgt = malloc(sizeof(int) * (size_t)B * T);
    for (int i = 0; i < B * T; i++)
        tok[i] = (int)tr_rng_below(&rng, s->V), tgt[i] = (int)tr_rng_below(&rng, s->V);

    counter fwd = {{0}}, bwd = {{0}};
    for (int b = 0; b < B; b++) {
        kvcache kv;
        acts A;
        cache_alloc(&kv, s, T);
        acts_alloc(&A, s, T, T);
        forward(&fwd, s, &ly, P, tok + b * T, T, 0, 0, &kv, &A);
        double *dl = dalloc((size_t)T * s->V);
        ce(A.logits, tgt + b * T, T, s->V, dl);
        backward(&bwd, s, &ly, P, G, tok + b * T, T, &kv, &A, dl);
        free(dl);
        acts_free(&A, s);
        cache_free(&kv, s);
    }
    tr_flops f = tr_flops_forward_ex(&cfg, B, T, 0, T);
    double parts[C_N] = {f.qkv, f.attn_out, f.attn_scores, f.attn_values, f.mlp, f.lm_head};
    const char *names[C_N] = {"qkv", "o_proj", "scores", "values", "mlp", "lm_head"};
    double fsum = 0, bsum = 0;
    for (int k = 0; k < C_N; k++) {
        CHECK_MSG(2.0 * (double)fwd.macs[k] == parts[k], "forward %s: counted %.0f, formula %.0f",
                  names[k], 2.0 * (double)fwd.macs[k], parts[k]);
        CHECK_MSG(2.0 * (double)bwd.macs[k] == 2.0 * parts[k],
                  "backward %s: counted %.0f, formula %.0f", names[k], 2.0 * (double)bwd.macs[k],
                  2.0 * parts[k]);
        fsum += 2.0 * (double)fwd.macs[k];
        bsum += 2.0 * (double)bwd.macs[k];
    }
    CHECK(fsum == tr_flops_forward(&cfg, B, T));
    CHECK(bsum == tr_flops_backward(&cfg, B, T));
    CHECK(fsum + bsum == tr_flops_train_step(&cfg, B, T));

    /* the backward is a real one: central differences on a few parameters (sequence 0) */
    memset(G, 0, ly.total * sizeof(double));
    {
        counter scratch = {{0}};
        kvcache kv;
        acts A;
        cache_alloc(&kv, s, T);
        acts_alloc(&A, s, T, T);
        forward(&scratch, s, &ly, P, tok, T, 0, 0, &kv, &A);
        double *dl = dalloc((size_t)T * s->V);
        ce(A.logits, tgt, T, s->V, dl);
        backward(&scratch, s, &ly, P, G, tok, T, &kv, &A, dl);
        free(dl);
        acts_free(&A, s);
        cache_free(&kv, s);
    }
    size_t probe[] = {ly.emb + (size_t)tok[0] * s->D + 1,
                      ly.wq[0] + 3,
                      ly.wk[s->L - 1] + 2,
                      ly.wv[0] + 5,
                      ly.wo[0] + 1,
                      ly.an[0],
                      ly.wg[0] + 4,
                      ly.wd[s->L - 1] + 2,
                      ly.fn + 1,
                      ly.lm + (size_t)tgt[1] * s->D,
                      ly.mn[s->L - 1] + 2,
                      s->bias ? ly.bk[0] + 1 : ly.wu[0]};
    double max_rel = 0;
    for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++) {
        double keep = P[probe[i]], h = 1e-5;
        counter scratch = {{0}};
        P[probe[i]] = keep + h;
        double lp = train_loss(&scratch, s, &ly, P, tok, tgt, T);
        P[probe[i]] = keep - h;
        double lm = train_loss(&scratch, s, &ly, P, tok, tgt, T);
        P[probe[i]] = keep;
        double num = (lp - lm) / (2 * h), rel = fabs(num - G[probe[i]]) / fmax(fabs(num), 1e-6);
        if (rel > max_rel) max_rel = rel;
    }
    CHECK_MSG(max_rel < 1e-5, "gradient check: max relative error %g", max_rel);

    /* generation: prefill of P0 positions (last logits only), then decode steps */
    int P0 = T - 2 > 1 ? T - 2 : 1, n_new = 4;
    counter pre = {{0}}, dec = {{0}};
    for (int b = 0; b < B; b++) {
        kvcache kv;
        acts A, A1;
        cache_alloc(&kv, s, P0 + n_new);
        acts_alloc(&A, s, P0, P0);
        forward(&pre, s, &ly, P, tok + b * T, P0, 0, P0 - 1, &kv, &A);
        acts_alloc(&A1, s, 1, P0 + n_new);
        for (int j = 0; j < n_new - 1; j++) {
            int next = (j * 7 + b) % s->V;
            forward(&dec, s, &ly, P, &next, 1, P0 + j, 0, &kv, &A1);
        }
        acts_free(&A1, s);
        acts_free(&A, s);
        cache_free(&kv, s);
    }
    double pre_f = 0, dec_f = 0;
    for (int k = 0; k < C_N; k++)
        pre_f += 2.0 * (double)pre.macs[k], dec_f += 2.0 * (double)dec.macs[k];
    CHECK_MSG(pre_f == tr_flops_prefill(&cfg, B, P0, 0), "prefill %.0f vs %.0f", pre_f,
              tr_flops_prefill(&cfg, B, P0, 0));
    double dec_formula = 0;
    for (int j = 0; j < n_new - 1; j++) dec_formula += tr_flops_decode_step(&cfg, B, P0 + j);
    CHECK_MSG(dec_f == dec_formula, "decode %.0f vs %.0f", dec_f, dec_formula);
    CHECK(pre_f + dec_f == tr_flops_generate(&cfg, B, P0, n_new));
    /* prefill with every logit = the training forward of the same positions */
    CHECK(tr_flops_prefill(&cfg, B, P0, 1) == tr_flops_forward(&cfg, B, P0));

    free(P), free(G), free(tok), free(tgt);
}

/* Per-token train FLOPs of a large config = 6N minus non-matmul parameters plus the causal
 * attention term, with N a published parameter count. */
static void check_large(const char *name, tr_config cfg, double published_params,
                        double non_matmul_params, int T) {
    tr_err err = {{0}};
    CHECK(tr_config_validate(&cfg, &err) == 0);
    CHECK_MSG((double)tr_config_num_params(&cfg) == published_params,
              "%s: %zu parameters, published %.0f", name, tr_config_num_params(&cfg),
              published_params);
    double L = cfg.n_layers, Qd = (double)cfg.n_heads * cfg.head_dim;
    double per_token = tr_flops_train_step(&cfg, 1, T) / T;
    /* causal attention: 3 passes x 4 L Q FLOPs per (query, key) pair, (T+1)/2 pairs per token */
    double attn = 3.0 * 4.0 * L * Qd * (T + 1) / 2.0;
    double expected = 6.0 * (published_params - non_matmul_params) + attn;
    CHECK_MSG(fabs(per_token - expected) <= 1e-12 * expected, "%s: %.17g vs %.17g", name, per_token,
              expected);
    /* against 6ND: the ratio exceeds 1 by the attention term less the non-matmul share */
    double ratio = tr_flops_train_step(&cfg, 4, T) / tr_flops_6nd(&cfg, 4.0 * T);
    double expect_ratio =
        1.0 + attn / (6.0 * published_params) - non_matmul_params / published_params;
    CHECK_CLOSE(ratio, expect_ratio, 1e-12, 0);
    /* PaLM (Chowdhery et al. 2022, App. B) counts full, non-causal attention: 12 L H Q T per
     * token for forward+backward; the causal count is (T+1)/(2T) of it. */
    double palm_attn = 12.0 * L * Qd * T;
    double ours_attn = per_token - 6.0 * tr_flops_params_matmul(&cfg);
    CHECK_CLOSE(ours_attn / palm_attn, (T + 1.0) / (2.0 * T), 1e-12, 0);
    printf("%s T=%d: train FLOPs/token %.4g = %.4f x 6N (attention %.2f%%)\n", name, T, per_token,
           ratio, 100.0 * attn / per_token);
}

int main(void) {
    /* MHA, untied, no bias, head_dim * heads == dim */
    shp a = {.V = 11, .D = 8, .L = 2, .NH = 2, .KVH = 2, .HD = 4, .H = 12, .tied = 0, .bias = 0};
    /* GQA (4 heads on 2 kv heads), head_dim * heads != dim, qkv bias, tied head */
    shp b = {.V = 13, .D = 6, .L = 2, .NH = 4, .KVH = 2, .HD = 4, .H = 10, .tied = 1, .bias = 1};
    /* multi-query, one layer */
    shp c = {.V = 7, .D = 8, .L = 1, .NH = 4, .KVH = 1, .HD = 2, .H = 16, .tied = 0, .bias = 1};
    shp list[] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        shp *s = &list[i];
        s->Q = s->NH * s->HD;
        s->KV = s->KVH * s->HD;
        check_shape(s, 2, 5);
        check_shape(s, 1, 3);
    }

    /* empty or degenerate requests count nothing */
    tr_config d = tr_config_default();
    CHECK(tr_flops_forward(&d, 0, 8) == 0);
    CHECK(tr_flops_generate(&d, 2, 8, 0) == 0);
    /* defaults resolved like tr_config_validate (head_dim 0, hidden_dim 0) */
    tr_config dv = d;
    tr_err err = {{0}};
    CHECK(tr_config_validate(&dv, &err) == 0);
    CHECK(tr_flops_forward(&d, 3, 16) == tr_flops_forward(&dv, 3, 16));

    /* Llama-2-7B: 6,738,415,616 parameters (Hugging Face meta-llama/Llama-2-7b-hf); untied,
     * so the input embedding (32000 x 4096, a lookup) and 65 norm vectors are not matmuls. */
    tr_config llama = {.vocab = 32000,
                       .dim = 4096,
                       .n_layers = 32,
                       .n_heads = 32,
                       .n_kv_heads = 32,
                       .head_dim = 0,
                       .hidden_dim = 11008,
                       .max_seq = 4096,
                       .rope_theta = 1e4f,
                       .norm_eps = 1e-5f,
                       .tied_embeddings = 0,
                       .qkv_bias = 0};
    check_large("llama-2-7b", llama, 6738415616.0, 32000.0 * 4096 + 65.0 * 4096, 4096);
    /* Qwen2.5-0.5B: 494,032,768 parameters (Hugging Face Qwen/Qwen2.5-0.5B); tied, so the one
     * embedding matrix is the LM head; q/k/v biases (896 + 2 x 128 per layer) and 49 norms. */
    tr_config qwen = {.vocab = 151936,
                      .dim = 896,
                      .n_layers = 24,
                      .n_heads = 14,
                      .n_kv_heads = 2,
                      .head_dim = 0,
                      .hidden_dim = 4864,
                      .max_seq = 32768,
                      .rope_theta = 1e6f,
                      .norm_eps = 1e-6f,
                      .tied_embeddings = 1,
                      .qkv_bias = 1};
    check_large("qwen2.5-0.5b", qwen, 494032768.0, 24.0 * (896 + 256) + 49.0 * 896, 4096);
    check_large("qwen2.5-0.5b", qwen, 494032768.0, 24.0 * (896 + 256) + 49.0 * 896, 512);
    return tu_finish("cost_flops");
}
