/* The inference forward: token runs appended to slots of a KV cache (prefill and decode are
 * the same code with different runs). See include/tinyr1/gen.h for the contract.
 *
 * Legend: R rows in a chunk (one row = one token of one slot), D dim, V vocab, NH/KVH heads,
 * HD head size, G = NH/KVH, QD = NH*HD, KVD = KVH*HD, S = QD + 2*KVD (fused q|k|v row),
 * H MLP width, T threads.
 *
 * One OpenMP parallel region per chunk of rows, with barriers between the phases of a
 * layer. The weight matmuls split the OUTPUT columns across threads (each thread streams
 * its own slice of every weight matrix, which is what bounds a decode step); the small
 * per-row work (RMSNorm of the rows) is done by every thread into a private buffer, which
 * costs R*D and saves a barrier. The kernels (src/core/ops_infer.c) are single-threaded:
 * no nested parallel region is opened inside the region. The weights are the context's own
 * copy of the model's matrices, packed in panels of 16 outputs (F32 or BF16,
 * tr_infer_set_weights), taken before the first call and again at tr_infer_sync.
 *
 * Batch invariance: every output element is computed by tr_infer_matmul's fixed sequence of
 * operations, the attention of (row, head) only reads that row and its own slot's cache,
 * RMSNorm/RoPE/SwiGLU are row-wise: a row's result does not depend on the other rows, on
 * the chunking or on the thread count. */
#include <math.h>
#include <omp.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tinyr1/gen.h"
#include "tinyr1/ops.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define TR_INFER_AVX2 1
#else
#define TR_INFER_AVX2 0
#endif

/* A barrier for the threads of one parallel region: spins briefly, then yields the core
 * (an OpenMP barrier spins much longer, which wastes the core a descheduled partner needs
 * when the machine is shared). Sense-reversing; sequentially consistent atomics order the
 * phases' writes. */
typedef struct {
    _Alignas(64) atomic_int count;
    _Alignas(64) atomic_int sense;
    int n;
} spin_barrier;

static void barrier_wait(spin_barrier *b, int *local_sense) {
    int s = !*local_sense;
    *local_sense = s;
    if (atomic_fetch_add(&b->count, 1) == b->n - 1) {
        atomic_store(&b->count, 0);
        atomic_store(&b->sense, s);
        return;
    }
    for (int spins = 0; atomic_load(&b->sense) != s; spins++) {
        if (spins < 200) {
#if TR_INFER_AVX2
            _mm_pause();
#endif
        } else {
            sched_yield();
        }
    }
}

/* The matrices of one layer, packed: q|k|v fused ([S, D], the model stores wq, wk, wv one
 * after the other), o ([D, QD]), gate and up ([H, D]), down ([D, H]). */
typedef struct {
    tr_panels qkv, wo, gate, up, down;
} layer_panels;

struct tr_infer {
    spin_barrier bar;
    atomic_int *att_next; /* [L] next attention item of each layer */
    const tr_model *m;
    tr_config cfg;
    int max_slots, max_seq, max_rows, max_threads;
    int *len;                   /* [max_slots] positions held */
    uint8_t *used;              /* [max_slots] acquired */
    uint8_t *mark;              /* [max_slots] scratch: slot seen in this call */
    void *kc, *vc;              /* [L, max_slots, KVH, max_seq, HD] of F32 or BF16; NULL
                                 * until the first forward (ensure_cache) */
    tr_infer_kv kv;             /* their element type */
    float *rope_cos, *rope_sin; /* [max_seq, HD/2] */
    /* per chunk */
    int32_t *row_tok;
    int *row_slot, *row_pos, *out_row;
    float *x;   /* [max_rows, D] residual stream */
    float *qkv; /* [max_rows, S] */
    float *att; /* [max_rows, QD] */
    float *act; /* [max_rows, H] */
    float *gu;  /* [H rounded up to 16, 2, max_rows]: gate | up of hidden units [a, b) at
                 * a * 2 * max_rows, so the slices of any split never overlap */
    /* per thread */
    float *xn;            /* [T, max_rows, D] normalised rows */
    float *scores;        /* [T, G, max_seq] */
    int adaptive;         /* 1: one thread while the machine is oversubscribed */
    int busy;             /* the last load check found it oversubscribed */
    double load_checked;  /* tr_now() of that check */
    double matmul_params; /* floats of the weight matrices a row multiplies */
    /* the weights, packed (tr_panels): per layer, the embedding and the LM head (the same
     * panels when tied); their storage is one block */
    layer_panels *lw; /* [L] */
    tr_panels embed, lm_head;
    void *pk; /* the block */
    size_t pk_bytes;
    tr_infer_weights mode; /* TR_INFER_F32 or TR_INFER_BF16 */
    int packed;            /* 0: pack from the model before the next forward */
    int borrowed;          /* packed from tr_infer_use_bf16's buffer, not from the model */
    size_t bytes;          /* buffers other than the weights */
};

/* ---- context ------------------------------------------------------------------------- */

static void split(int n, int parts, int part, int align, int *a, int *b) {
    int chunk = (n + parts - 1) / parts;
    chunk = (chunk + align - 1) / align * align;
    int lo = part * chunk;
    *a = lo < n ? lo : n;
    *b = lo + chunk < n ? lo + chunk : n;
}

static size_t cache_index(const tr_infer *c, int layer, int slot, int g) {
    return ((((size_t)layer * c->max_slots + slot) * c->cfg.n_kv_heads + g) * c->max_seq) *
           c->cfg.head_dim;
}

static size_t kv_elem(tr_infer_kv kind) {
    return kind == TR_KV_BF16 ? sizeof(uint16_t) : sizeof(float);
}

/* The address of position pos of (layer, slot, kv-head g) in cache kc or vc. */
static char *cache_at(const tr_infer *c, void *cache, int layer, int slot, int g, int pos) {
    return (char *)cache +
           (cache_index(c, layer, slot, g) + (size_t)pos * c->cfg.head_dim) * kv_elem(c->kv);
}

/* Bytes of each of the two caches (keys, values) in the current element type. */
static size_t cache_bytes(const tr_infer *c) {
    return (size_t)c->cfg.n_layers * c->max_slots * c->cfg.n_kv_heads * (size_t)c->max_seq *
           c->cfg.head_dim * kv_elem(c->kv);
}

/* Allocates both caches, in the current type, unless they are there. At the first forward,
 * not at init: tr_infer_set_kv may still change the type, and a BF16 cache must not need
 * room for an F32 one first. Not zeroed (every page would be touched): attention reads
 * only positions that were written. */
static int ensure_cache(tr_infer *c, tr_err *err) {
    if (c->kc) return 0;
    const size_t bytes = (cache_bytes(c) + 63) / 64 * 64;
    void *k = NULL, *v = NULL;
    if (posix_memalign(&k, 64, bytes) != 0 || posix_memalign(&v, 64, bytes) != 0) {
        free(k);
        return tr_fail(err,
                       "infer: out of memory for a %s KV cache of 2 x %zu bytes (%d slots x %d "
                       "positions; fewer slots, a shorter context or --kv bf16 need less)",
                       c->kv == TR_KV_BF16 ? "BF16" : "F32", bytes, c->max_slots, c->max_seq);
    }
    c->kc = k;
    c->vc = v;
    return 0;
}

void tr_infer_free(tr_infer *c) {
    if (!c) return;
    free(c->att_next);
    free(c->lw);
    free(c->pk);
    free(c->len);
    free(c->used);
    free(c->mark);
    free(c->kc);
    free(c->vc);
    free(c->rope_cos);
    free(c->rope_sin);
    free(c->row_tok);
    free(c->row_slot);
    free(c->row_pos);
    free(c->out_row);
    free(c->x);
    free(c->qkv);
    free(c->att);
    free(c->act);
    free(c->xn);
    free(c->gu);
    free(c->scores);
    free(c);
}

static float *falloc(tr_infer *c, size_t n, tr_err *err) {
    c->bytes += n * sizeof(float);
    return tr_aligned_alloc(n * sizeof(float), err);
}

int tr_infer_init(tr_infer **out, const tr_model *m, int max_slots, int max_seq, tr_err *err) {
    *out = NULL;
    const tr_config *cfg = &m->cfg;
    if (max_seq == 0) max_seq = cfg->max_seq;
    if (max_slots <= 0 || max_slots > 1 << 16)
        return tr_fail(err, "infer: max_slots must be in 1..65536, got %d", max_slots);
    if (max_seq <= 0 || max_seq > cfg->max_seq)
        return tr_fail(err, "infer: max_seq must be in 1..%d (the model's max_seq), got %d",
                       cfg->max_seq, max_seq);
    tr_infer *c = tr_calloc(1, sizeof *c, err);
    if (!c) return -1;
    c->m = m;
    c->cfg = *cfg;
    c->max_slots = max_slots;
    c->max_seq = max_seq;
    c->max_rows = max_slots > 64 ? max_slots : 64;
    c->max_threads = omp_get_max_threads();
    c->adaptive = 1;
    c->load_checked = -1e9;
    const size_t D = cfg->dim, HD = cfg->head_dim, NH = cfg->n_heads, KVH = cfg->n_kv_heads,
                 H = cfg->hidden_dim, L = cfg->n_layers, Rm = c->max_rows, T = c->max_threads;
    const size_t QD = NH * HD, S = QD + 2 * KVH * HD;
    c->matmul_params = (double)L * (D * S + QD * D + 3.0 * D * H) + (double)cfg->vocab * D;
    c->att_next = tr_calloc((size_t)L, sizeof(atomic_int), err);
    c->lw = tr_calloc((size_t)L, sizeof *c->lw, err);
    c->len = tr_calloc(max_slots, sizeof(int), err);
    c->used = tr_calloc(max_slots, 1, err);
    c->mark = tr_calloc(max_slots, 1, err);
    c->row_tok = tr_calloc(Rm, sizeof(int32_t), err);
    c->row_slot = tr_calloc(Rm, sizeof(int), err);
    c->row_pos = tr_calloc(Rm, sizeof(int), err);
    c->out_row = tr_calloc(Rm, sizeof(int), err);
    if (!c->att_next || !c->lw || !c->len || !c->used || !c->mark || !c->row_tok || !c->row_slot ||
        !c->row_pos || !c->out_row)
        goto fail;
    if (!(c->rope_cos = falloc(c, (size_t)max_seq * (HD / 2), err)) ||
        !(c->rope_sin = falloc(c, (size_t)max_seq * (HD / 2), err)))
        goto fail;
    tr_rope_tables(c->rope_cos, c->rope_sin, max_seq, (int)HD, cfg->rope_theta);
    if (!(c->x = falloc(c, Rm * D, err)) || !(c->qkv = falloc(c, Rm * S, err)) ||
        !(c->att = falloc(c, Rm * QD, err)) || !(c->act = falloc(c, Rm * H, err)) ||
        !(c->xn = falloc(c, T * Rm * D, err)) ||
        !(c->gu = falloc(c, (H + TR_PANEL - 1) / TR_PANEL * TR_PANEL * 2 * Rm, err)) ||
        !(c->scores = falloc(c, T * (NH / KVH) * max_seq, err)))
        goto fail;
    *out = c;
    return 0;
fail:
    tr_infer_free(c);
    return tr_fail_context(err, "infer: %d slots x %d positions", max_slots, max_seq);
}

int tr_infer_max_slots(const tr_infer *c) {
    return c->max_slots;
}
void tr_infer_set_adaptive(tr_infer *c, int on) {
    c->adaptive = on;
}

/* Oversubscribed: the 1-minute load average above the online CPUs + 0.5 (checked at most
 * once a second; no /proc/loadavg: never). */
static int machine_busy(tr_infer *c) {
    double now = tr_now();
    if (now - c->load_checked < 1.0) return c->busy;
    c->load_checked = now;
    double load = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return c->busy = 0;
    int ok = fscanf(f, "%lf", &load) == 1;
    fclose(f);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return c->busy = ok && cpus > 0 && load > (double)cpus + 0.5;
}
int tr_infer_max_seq(const tr_infer *c) {
    return c->max_seq;
}
const tr_model *tr_infer_model(const tr_infer *c) {
    return c->m;
}

int tr_infer_acquire(tr_infer *c) {
    for (int s = 0; s < c->max_slots; s++)
        if (!c->used[s]) {
            c->used[s] = 1;
            c->len[s] = 0;
            return s;
        }
    return -1;
}

void tr_infer_release(tr_infer *c, int slot) {
    if (slot < 0 || slot >= c->max_slots) return;
    c->used[slot] = 0;
    c->len[slot] = 0;
}

int tr_infer_length(const tr_infer *c, int slot) {
    return slot >= 0 && slot < c->max_slots ? c->len[slot] : -1;
}

int tr_infer_truncate(tr_infer *c, int slot, int n, tr_err *err) {
    if (slot < 0 || slot >= c->max_slots)
        return tr_fail(err, "infer: slot %d outside 0..%d", slot, c->max_slots - 1);
    if (n < 0 || n > c->len[slot])
        return tr_fail(err, "infer: cannot truncate slot %d to %d positions (it holds %d)", slot, n,
                       c->len[slot]);
    c->len[slot] = n;
    return 0;
}

int tr_infer_copy(tr_infer *c, int dst, int src, int n, tr_err *err) {
    if (dst < 0 || dst >= c->max_slots || src < 0 || src >= c->max_slots)
        return tr_fail(err, "infer: copy from slot %d to %d: slots are 0..%d", src, dst,
                       c->max_slots - 1);
    if (n < 0 || n > c->len[src])
        return tr_fail(err, "infer: cannot copy %d positions of slot %d (it holds %d)", n, src,
                       c->len[src]);
    if (dst != src && n > 0) { /* (n > 0: src holds positions, so the cache exists) */
        const size_t HD = c->cfg.head_dim;
        for (int l = 0; l < c->cfg.n_layers; l++)
            for (int g = 0; g < c->cfg.n_kv_heads; g++) {
                memcpy(cache_at(c, c->kc, l, dst, g, 0), cache_at(c, c->kc, l, src, g, 0),
                       (size_t)n * HD * kv_elem(c->kv));
                memcpy(cache_at(c, c->vc, l, dst, g, 0), cache_at(c, c->vc, l, src, g, 0),
                       (size_t)n * HD * kv_elem(c->kv));
            }
    }
    c->len[dst] = n;
    return 0;
}

/* ---- attention over the cache ------------------------------------------------------ */

/* The G query heads of kv-head g for row r (its slot, at its position pos): softmax(q
 * K^T / sqrt(HD)) V over the cache positions 0..pos of that kv-head, into c->att. sc:
 * [G * max_seq] scratch. */
static void attend(const tr_infer *c, int layer, int r, int g, float *sc) {
    const int HD = c->cfg.head_dim, NH = c->cfg.n_heads, G = NH / c->cfg.n_kv_heads;
    const size_t S = (size_t)(NH + 2 * c->cfg.n_kv_heads) * HD, QD = (size_t)NH * HD;
    const size_t h = (size_t)g * G * HD;
    const void *K = cache_at(c, c->kc, layer, c->row_slot[r], g, 0),
               *V = cache_at(c, c->vc, layer, c->row_slot[r], g, 0);
    const int n = c->row_pos[r] + 1;
    const float scale = 1.0f / sqrtf((float)HD);
    if (c->kv == TR_KV_BF16)
        tr_infer_attend_bf16(c->att + r * QD + h, c->qkv + r * S + h, G, K, V, n, HD, scale, sc);
    else
        tr_infer_attend(c->att + r * QD + h, c->qkv + r * S + h, G, K, V, n, HD, scale, sc);
}

/* ---- weights -------------------------------------------------------------------------- */

/* Walks the matrices of context c in storage order: DO(panels, model F32 source, rows, cols). */
#define FOR_EACH_MATRIX(c, DO)                                                                     \
    do {                                                                                           \
        const tr_config *cf_ = &(c)->cfg;                                                          \
        const int D_ = cf_->dim, H_ = cf_->hidden_dim, QD_ = cf_->n_heads * cf_->head_dim;         \
        const int S_ = QD_ + 2 * cf_->n_kv_heads * cf_->head_dim;                                  \
        for (int l_ = 0; l_ < cf_->n_layers; l_++) {                                               \
            const tr_layer_view *v_ = &(c)->m->view.layers[l_];                                    \
            layer_panels *p_ = &(c)->lw[l_];                                                       \
            DO(&p_->qkv, v_->wq, S_, D_);                                                          \
            DO(&p_->wo, v_->wo, D_, QD_);                                                          \
            DO(&p_->gate, v_->w_gate, H_, D_);                                                     \
            DO(&p_->up, v_->w_up, H_, D_);                                                         \
            DO(&p_->down, v_->w_down, D_, H_);                                                     \
        }                                                                                          \
        DO(&(c)->lm_head, (c)->m->view.lm_head, cf_->vocab, D_);                                   \
        if ((c)->m->view.lm_head != (c)->m->view.embed)                                            \
            DO(&(c)->embed, (c)->m->view.embed, cf_->vocab, D_);                                   \
    } while (0)

/* Bytes of the packed block in `mode`. */
static size_t packed_bytes(const tr_infer *c, tr_infer_weights mode) {
    const size_t elem = mode == TR_INFER_BF16 ? sizeof(uint16_t) : sizeof(float);
    size_t numel = 0;
#define COUNT(P, W, N, C)                                                                          \
    do {                                                                                           \
        (void)(P), (void)(W);                                                                      \
        numel += tr_panels_numel((N), (C));                                                        \
    } while (0)
    FOR_EACH_MATRIX(c, COUNT);
#undef COUNT
    return (numel * elem + 63) / 64 * 64;
}

/* Packs every matrix into the context's block in `mode`, from the model's F32 parameters
 * (src_bf16 NULL) or from BF16 values at the same offsets. */
static int pack_weights(tr_infer *c, tr_infer_weights mode, const uint16_t *src_bf16, tr_err *err) {
    const size_t bytes = packed_bytes(c, mode);
    if (bytes != c->pk_bytes) {
        void *pk = NULL;
        if (posix_memalign(&pk, 64, bytes) != 0)
            return tr_fail(err, "infer: out of memory for the packed weights (%zu MB)",
                           bytes >> 20);
        free(c->pk);
        c->pk = pk;
        c->pk_bytes = bytes;
    }
    const float *params = c->m->params;
    size_t at = 0;
#define PACK(P, W, N, C)                                                                           \
    do {                                                                                           \
        *(P) = (tr_panels){NULL, NULL, (N), (C)};                                                  \
        size_t off_ = (size_t)((W)-params);                                                        \
        if (mode == TR_INFER_F32) {                                                                \
            float *d_ = (float *)c->pk + at;                                                       \
            tr_panels_pack(d_, (W), (N), (C));                                                     \
            (P)->f32 = d_;                                                                         \
        } else {                                                                                   \
            uint16_t *d_ = (uint16_t *)c->pk + at;                                                 \
            if (src_bf16)                                                                          \
                tr_panels_repack_bf16(d_, src_bf16 + off_, (N), (C));                              \
            else                                                                                   \
                tr_panels_pack_bf16(d_, (W), (N), (C));                                            \
            (P)->bf16 = d_;                                                                        \
        }                                                                                          \
        at += tr_panels_numel((N), (C));                                                           \
    } while (0)
    FOR_EACH_MATRIX(c, PACK);
#undef PACK
    if (c->m->view.lm_head == c->m->view.embed) c->embed = c->lm_head;
    c->mode = mode;
    c->packed = 1;
    c->borrowed = src_bf16 != NULL;
    return 0;
}

int tr_infer_set_weights(tr_infer *c, tr_infer_weights w, tr_err *err) {
    if (c->borrowed)
        return tr_fail(err, "infer: the weights came from tr_infer_use_bf16 (the model's F32 "
                            "matrices are not loaded); call tr_infer_use_bf16(ctx, NULL) first "
                            "to use the model's own");
    const tr_param_table *tb = &c->m->table;
    if (w == TR_INFER_AUTO) {
        w = TR_INFER_BF16;
        for (int i = 0; i < tb->n_tensors && w == TR_INFER_BF16; i++) {
            const tr_tensor_info *ti = &tb->tensors[i];
            if ((ti->kind == TR_TENSOR_MATRIX || ti->kind == TR_TENSOR_EMBED) &&
                !tr_f32_is_bf16(c->m->params + ti->offset, ti->numel))
                w = TR_INFER_F32;
        }
    }
    return pack_weights(c, w, NULL, err);
}

int tr_infer_sync(tr_infer *c, tr_err *err) {
    if (c->borrowed)
        return tr_fail(err, "infer: the weights came from tr_infer_use_bf16, not from the model; "
                            "call it again to change them");
    return pack_weights(c, c->mode, NULL, err);
}

int tr_infer_use_bf16(tr_infer *c, const uint16_t *params_bf16, tr_err *err) {
    if (!params_bf16) {
        c->mode = TR_INFER_F32;
        c->packed = 0;
        c->borrowed = 0;
        return 0;
    }
    return pack_weights(c, TR_INFER_BF16, params_bf16, err);
}

tr_infer_weights tr_infer_get_weights(const tr_infer *c) {
    return c->mode;
}

int tr_infer_set_kv(tr_infer *c, tr_infer_kv kind, tr_err *err) {
    if (kind != TR_KV_F32 && kind != TR_KV_BF16)
        return tr_fail(err, "infer: unknown KV cache type %d (expected TR_KV_F32 or TR_KV_BF16)",
                       (int)kind);
    if (kind == c->kv) return 0;
    for (int s = 0; s < c->max_slots; s++)
        if (c->len[s] > 0)
            return tr_fail(err,
                           "infer: cannot change the KV cache type while slot %d holds %d "
                           "positions (release or truncate every slot to 0 first)",
                           s, c->len[s]);
    free(c->kc); /* (allocated again, in the new type, at the next forward) */
    free(c->vc);
    c->kc = c->vc = NULL;
    c->kv = kind;
    return 0;
}

tr_infer_kv tr_infer_get_kv(const tr_infer *c) {
    return c->kv;
}

size_t tr_infer_bytes(const tr_infer *c) {
    /* the cache and the packed weights count before they exist (the first forward) */
    return c->bytes + 2 * cache_bytes(c) + (c->packed ? c->pk_bytes : packed_bytes(c, c->mode));
}

/* Rows r0..r1 of dst ([rows, D]) = the embedding rows of their tokens. */
static void embed_rows(const tr_infer *c, float *dst, int r0, int r1) {
    for (int r = r0; r < r1; r++)
        tr_panels_row(dst + (size_t)r * c->cfg.dim, &c->embed, c->row_tok[r]);
}

/* One head's HD values into the cache at dst, as they are or rounded to BF16. */
static void cache_store(const tr_infer *c, char *dst, const float *src) {
    if (c->kv == TR_KV_BF16)
        tr_bf16_round_to((uint16_t *)dst, src, (size_t)c->cfg.head_dim);
    else
        memcpy(dst, src, (size_t)c->cfg.head_dim * sizeof(float));
}

/* After the q|k|v matmul of rows 0..R-1: RoPE on query heads [q0, q1) and key heads
 * [k0, k1) of the fused row (numbered as in it: keys from NH, values from NH + KVH), then
 * keys [k0, k1) and values [v0, v1) into the cache of layer l. */
static void rope_and_cache(tr_infer *c, int l, int R, int q0, int q1, int k0, int k1, int v0,
                           int v1) {
    const int HD = c->cfg.head_dim, NH = c->cfg.n_heads, KVH = c->cfg.n_kv_heads;
    const size_t S = (size_t)(NH + 2 * KVH) * HD;
    /* consecutive rows of one slot at consecutive positions take one call */
    for (int r = 0; r < R;) {
        int e = r + 1;
        while (e < R && c->row_slot[e] == c->row_slot[r] && c->row_pos[e] == c->row_pos[e - 1] + 1)
            e++;
        float *row = c->qkv + (size_t)r * S;
        if (q1 > q0)
            tr_infer_rope_rows(row + (size_t)q0 * HD, c->rope_cos, c->rope_sin, e - r, q1 - q0, HD,
                               (int64_t)S, c->row_pos[r]);
        if (k1 > k0)
            tr_infer_rope_rows(row + (size_t)k0 * HD, c->rope_cos, c->rope_sin, e - r, k1 - k0, HD,
                               (int64_t)S, c->row_pos[r]);
        for (int i = r; i < e; i++) {
            const float *ri = c->qkv + (size_t)i * S;
            const int slot = c->row_slot[i], pos = c->row_pos[i];
            for (int h = k0; h < k1; h++)
                cache_store(c, cache_at(c, c->kc, l, slot, h - NH, pos), ri + (size_t)h * HD);
            for (int h = v0; h < v1; h++)
                cache_store(c, cache_at(c, c->vc, l, slot, h - NH - KVH, pos), ri + (size_t)h * HD);
        }
        r = e;
    }
}

/* ---- one chunk of rows --------------------------------------------------------------- */

/* Rows 0..R-1 (tokens, slots, positions in the row_* arrays); logits of rows out_row[0..n_out)
 * go to logits[i * V] (NULL: none). */
static void forward_chunk(tr_infer *c, int R, int n_out, float *logits) {
    const tr_model *m = c->m;
    const tr_config *cfg = &c->cfg;
    const int D = cfg->dim, HD = cfg->head_dim, NH = cfg->n_heads, KVH = cfg->n_kv_heads,
              H = cfg->hidden_dim, V = cfg->vocab, L = cfg->n_layers;
    const int QD = NH * HD, KVD = KVH * HD, S = QD + 2 * KVD;
    const float eps = cfg->norm_eps;
    /* Threads: as many as set (tr_set_threads). Adaptive (the default): at least ~0.25
     * MFLOP of matmul work each (below that the barriers between phases cost more than the
     * extra core saves: stories260K at batch 1, 0.5 MFLOP a token, is still 1.2x faster on
     * two threads than on one), and one thread on an oversubscribed machine (a descheduled
     * thread stalls every barrier until it runs again). */
    int nt = tr_get_threads();
    if (nt > c->max_threads) nt = c->max_threads;
    if (c->adaptive) {
        double work = 2.0 * R * c->matmul_params;
        if (nt > work / 2.5e5) nt = (int)(work / 2.5e5);
        if (nt > 1 && machine_busy(c)) nt = 1;
    }
    if (nt < 1) nt = 1;
    for (int l = 0; l < L; l++) atomic_store(&c->att_next[l], 0);
    c->bar.count = 0;
    c->bar.sense = 0;
    c->bar.n = nt;
    const int NHT = NH + 2 * KVH; /* heads of the fused q|k|v row */

#pragma omp parallel num_threads(nt)
    {
        const int t = omp_get_thread_num(), T = omp_get_num_threads();
        float *xn = c->xn + (size_t)t * c->max_rows * D;
        float *sc = c->scores + (size_t)t * (NH / KVH) * c->max_seq;
        int a, b, r0, r1, sense = 0;
        if (T != nt) c->bar.n = T; /* (a team smaller than asked: every thread writes T) */

        /* the residual stream x: this thread's rows (first read after a barrier, in the
         * o_proj phase); the first norm: every row, privately, from the embedding itself
         * (no barrier needed before it) */
        split(R, T, t, 1, &r0, &r1);
        embed_rows(c, c->x, r0, r1);
        embed_rows(c, xn, 0, R);
        for (int l = 0; l < L; l++) {
            const tr_layer_view *w = &m->view.layers[l];
            const layer_panels *pw = &c->lw[l];
            tr_infer_rmsnorm_rows(xn, l == 0 ? xn : c->x, w->attn_norm, R, D, eps);
            if (KVH % T == 0) {
                /* this thread's kv-heads [g0, g1) and their query heads: q|k|v = norm(x)
                 * Wqkv^T (+ b), RoPE, k and v into the cache, then the attention of those
                 * heads (the cache rows they read were written by this thread or by an
                 * earlier call): one barrier less per layer */
                int g0, g1;
                split(KVH, T, t, 1, &g0, &g1);
                const int G = NH / KVH, heads[3] = {g0 * G, NH + g0, NH + KVH + g0},
                          counts[3] = {(g1 - g0) * G, g1 - g0, g1 - g0};
                for (int i = 0; i < 3 && g1 > g0; i++) {
                    int h = heads[i];
                    tr_infer_matmul(c->qkv + (size_t)h * HD, S, xn, D, R, &pw->qkv, h * HD,
                                    (h + counts[i]) * HD, w->bq ? w->bq + (size_t)h * HD : NULL, 0);
                }
                rope_and_cache(c, l, R, g0 * G, g1 * G, NH + g0, NH + g1, NH + KVH + g0,
                               NH + KVH + g1);
                for (int r = 0; r < R; r++)
                    for (int g = g0; g < g1; g++) attend(c, l, r, g, sc);
            } else {
                /* q|k|v for this thread's heads [a, b) of the fused row, RoPE, cache */
                split(NHT, T, t, 1, &a, &b);
                if (b > a) {
                    tr_infer_matmul(c->qkv + (size_t)a * HD, S, xn, D, R, &pw->qkv, a * HD, b * HD,
                                    w->bq ? w->bq + (size_t)a * HD : NULL, 0);
                    rope_and_cache(c, l, R, a, b < NH ? b : NH, a > NH ? a : NH,
                                   b < NH + KVH ? b : NH + KVH, a > NH + KVH ? a : NH + KVH, b);
                }
                barrier_wait(&c->bar, &sense);
                /* attention: one item per (row, kv-head); their costs grow with the
                 * position, so they are handed out one by one */
                for (int it; (it = atomic_fetch_add(&c->att_next[l], 1)) < R * KVH;)
                    attend(c, l, it / KVH, it % KVH, sc);
            }
            barrier_wait(&c->bar, &sense);
            /* x += att Wo^T */
            split(D, T, t, TR_PANEL, &a, &b);
            tr_infer_matmul(c->x + a, D, c->att, QD, R, &pw->wo, a, b, NULL, 1);
            barrier_wait(&c->bar, &sense);
            /* MLP: this thread's hidden units [a, b): gate and up rows, SwiGLU, into act */
            tr_infer_rmsnorm_rows(xn, c->x, w->mlp_norm, R, D, eps);
            split(H, T, t, TR_PANEL, &a, &b);
            if (b > a) {
                int n = b - a;
                /* (indexed by the range, not the thread: a team smaller than the one the
                 * context was sized for has wider ranges) */
                float *gul = c->gu + (size_t)a * 2 * c->max_rows;
                tr_infer_matmul(gul, 2 * n, xn, D, R, &pw->gate, a, b, NULL, 0);
                tr_infer_matmul(gul + n, 2 * n, xn, D, R, &pw->up, a, b, NULL, 0);
                tr_infer_swiglu_rows(c->act + a, H, gul, R, n);
            }
            barrier_wait(&c->bar, &sense);
            /* x += act Wdown^T */
            split(D, T, t, TR_PANEL, &a, &b);
            tr_infer_matmul(c->x + a, D, c->act, H, R, &pw->down, a, b, NULL, 1);
            barrier_wait(&c->bar, &sense);
        }
        if (logits && n_out > 0) {
            /* final norm of the wanted rows (private copies), then this thread's vocab slice */
            int contiguous = n_out == R;
            for (int i = 0; contiguous && i < n_out; i++) contiguous = c->out_row[i] == i;
            if (contiguous)
                tr_infer_rmsnorm_rows(xn, c->x, m->view.final_norm, R, D, eps);
            else
                for (int i = 0; i < n_out; i++)
                    tr_infer_rmsnorm_rows(xn + (size_t)i * D, c->x + (size_t)c->out_row[i] * D,
                                          m->view.final_norm, 1, D, eps);
            split(V, T, t, TR_PANEL, &a, &b);
            tr_infer_matmul(logits + a, V, xn, D, n_out, &c->lm_head, a, b, NULL, 0);
        }
    }
}

int tr_infer_forward(tr_infer *c, int n_runs, const int *slots, const int32_t *const *tokens,
                     const int *n_tokens, int all_logits, float *logits, tr_err *err) {
    if (n_runs < 0) return tr_fail(err, "infer: negative number of runs (%d)", n_runs);
    int rc = 0;
    for (int i = 0; i < n_runs; i++) {
        int s = slots[i];
        if (s < 0 || s >= c->max_slots) {
            rc = tr_fail(err, "infer: run %d: slot %d outside 0..%d", i, s, c->max_slots - 1);
            break;
        }
        if (c->mark[s]) {
            rc = tr_fail(err, "infer: run %d: slot %d appears twice in one call", i, s);
            break;
        }
        c->mark[s] = 1;
        if (n_tokens[i] < 1) {
            rc = tr_fail(err, "infer: run %d: needs at least one token, got %d", i, n_tokens[i]);
            break;
        }
        if ((int64_t)c->len[s] + n_tokens[i] > c->max_seq) {
            rc =
                tr_fail(err, "infer: run %d: slot %d holds %d positions, %d more exceed max_seq %d",
                        i, s, c->len[s], n_tokens[i], c->max_seq);
            break;
        }
        for (int j = 0; j < n_tokens[i]; j++)
            if (tokens[i][j] < 0 || tokens[i][j] >= c->cfg.vocab) {
                rc = tr_fail(err, "infer: run %d: token %d at %d outside 0..%d", i, tokens[i][j], j,
                             c->cfg.vocab - 1);
                break;
            }
        if (rc) break;
    }
    for (int i = 0; i < n_runs; i++)
        if (slots[i] >= 0 && slots[i] < c->max_slots) c->mark[slots[i]] = 0;
    if (rc) return rc;
    if (ensure_cache(c, err) != 0) return -1;
    if (!c->packed && pack_weights(c, c->mode, NULL, err) != 0) return -1;

    const int V = c->cfg.vocab;
    int R = 0, n_out = 0;
    float *dst = logits;
    for (int i = 0; i < n_runs; i++) {
        int s = slots[i];
        for (int j = 0; j < n_tokens[i]; j++) {
            c->row_tok[R] = tokens[i][j];
            c->row_slot[R] = s;
            c->row_pos[R] = c->len[s] + j;
            if (logits && (all_logits || j == n_tokens[i] - 1)) c->out_row[n_out++] = R;
            if (++R == c->max_rows) {
                forward_chunk(c, R, n_out, dst);
                if (dst) dst += (size_t)n_out * V;
                R = n_out = 0;
            }
        }
    }
    if (R > 0) forward_chunk(c, R, n_out, dst);
    for (int i = 0; i < n_runs; i++) c->len[slots[i]] += n_tokens[i];
    return 0;
}

int tr_infer_prefill(tr_infer *c, int slot, const int32_t *tokens, int n, int all_logits,
                     float *logits, tr_err *err) {
    return tr_infer_forward(c, 1, &slot, &tokens, &n, all_logits, logits, err);
}

int tr_infer_decode(tr_infer *c, int n, const int *slots, const int32_t *tokens, float *logits,
                    tr_err *err) {
    if (n <= 0) return n == 0 ? 0 : tr_fail(err, "infer: negative batch %d", n);
    /* runs of one token each, without per-call allocation: point into the tokens array */
    enum { STACK = 256 };
    const int32_t *ptrs_stack[STACK];
    int ones_stack[STACK];
    const int32_t **ptrs = ptrs_stack;
    int *ones = ones_stack;
    if (n > STACK) {
        ptrs = malloc((size_t)n * sizeof *ptrs);
        ones = malloc((size_t)n * sizeof *ones);
        if (!ptrs || !ones) {
            free(ptrs);
            free(ones);
            return tr_fail(err, "infer: out of memory for a decode batch of %d", n);
        }
    }
    for (int i = 0; i < n; i++) {
        ptrs[i] = tokens + i;
        ones[i] = 1;
    }
    int rc = tr_infer_forward(c, n, slots, ptrs, ones, 0, logits, err);
    if (ptrs != ptrs_stack) {
        free(ptrs);
        free(ones);
    }
    return rc;
}
