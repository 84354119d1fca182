/* The attention kernels of the inference path over a cache of element type KV_T, included
 * by ops_infer.c once per type ("template by inclusion"), with
 *   KV_T       float or uint16_t (raw bfloat16 bits),
 *   KV_LD8(p)  8 consecutive elements at p as one __m256 of floats (AVX2 builds),
 *   KV_LD1(p)  the element at p as a float,
 *   KV_SUF     the suffix of the functions' names (f32, bf16).
 * Both types run the same operations on the same float values (bf16 -> f32 widening is
 * exact), so the BF16 cache gives bitwise the F32 results of the rounded keys and values. */
#define KV_FN(name) KV_CAT(name, KV_SUF)
#define KV_CAT(a, b) KV_CAT2(a, b)
#define KV_CAT2(a, b) a##_##b

/* sc[g * lds + t] = scale * q[g] . K[t] for t < n, g < G (q heads and K rows of HD floats). */
static void KV_FN(scores)(float *sc, int64_t lds, const float *q, int G, const KV_T *K, int n,
                          int HD, float scale) {
    int t = 0;
#if TR_OPSI_AVX2
    if (HD % 8 == 0) {
        const __m256 vs = _mm256_set1_ps(scale);
        for (; t + 8 <= n; t += 8) {
            /* eight keys at once (from L1 for every head after the first), each q vector
             * loaded once (per key: the same operations as the single-key loop below) */
            const KV_T *k = K + (size_t)t * HD;
            for (int g = 0; g < G; g++) {
                const float *qg = q + (size_t)g * HD;
                __m256 p[8], qv = _mm256_loadu_ps(qg);
                for (int u = 0; u < 8; u++) p[u] = _mm256_mul_ps(qv, KV_LD8(k + u * HD));
                for (int i = 8; i < HD; i += 8) {
                    qv = _mm256_loadu_ps(qg + i);
                    for (int u = 0; u < 8; u++)
                        p[u] = _mm256_fmadd_ps(qv, KV_LD8(k + u * HD + i), p[u]);
                }
                _mm256_storeu_ps(sc + g * lds + t, _mm256_mul_ps(hsum8x8(p), vs));
            }
        }
        for (; t < n; t++) {
            const KV_T *k = K + (size_t)t * HD;
            for (int g = 0; g < G; g++) {
                const float *qg = q + (size_t)g * HD;
                __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(qg), KV_LD8(k));
                for (int i = 8; i < HD; i += 8)
                    acc = _mm256_fmadd_ps(_mm256_loadu_ps(qg + i), KV_LD8(k + i), acc);
                sc[g * lds + t] = hsum8(acc) * scale;
            }
        }
        return;
    }
#endif
    for (; t < n; t++) {
        const KV_T *k = K + (size_t)t * HD;
        for (int g = 0; g < G; g++) {
            float s = 0.0f;
            for (int i = 0; i < HD; i++) s += q[(size_t)g * HD + i] * KV_LD1(k + i);
            sc[g * lds + t] = s * scale;
        }
    }
}

#if TR_OPSI_AVX2
/* Positions [t0, t1) (t0 even) of one 32-column block c0 (NV vectors) for one head:
 * acc[0] += even positions' p[t] V[t][c0 ..], acc[1] the odd ones (two chains of dependent
 * FMAs per vector, not one: latency-bound at 4 vectors). The sums live in acc between
 * blocks of positions: stored and reloaded exactly, so the order per element is that of
 * one pass over all positions. */
#define WSUM(NV)                                                                                   \
    do {                                                                                           \
        __m256 a0[NV], a1[NV];                                                                     \
        for (int i = 0; i < NV; i++) {                                                             \
            a0[i] = _mm256_loadu_ps(acc + 8 * i);                                                  \
            a1[i] = _mm256_loadu_ps(acc + 32 + 8 * i);                                             \
        }                                                                                          \
        int t = t0;                                                                                \
        for (; t + 2 <= t1; t += 2) {                                                              \
            const KV_T *v = V + (size_t)t * HD + c0;                                               \
            __m256 p0 = _mm256_broadcast_ss(p + t), p1 = _mm256_broadcast_ss(p + t + 1);           \
            for (int i = 0; i < NV; i++) {                                                         \
                a0[i] = _mm256_fmadd_ps(p0, KV_LD8(v + 8 * i), a0[i]);                             \
                a1[i] = _mm256_fmadd_ps(p1, KV_LD8(v + HD + 8 * i), a1[i]);                        \
            }                                                                                      \
        }                                                                                          \
        if (t < t1) { /* the last position of an odd n */                                          \
            __m256 p0 = _mm256_broadcast_ss(p + t);                                                \
            for (int i = 0; i < NV; i++)                                                           \
                a0[i] = _mm256_fmadd_ps(p0, KV_LD8(V + (size_t)t * HD + c0 + 8 * i), a0[i]);       \
        }                                                                                          \
        for (int i = 0; i < NV; i++) {                                                             \
            _mm256_storeu_ps(acc + 8 * i, a0[i]);                                                  \
            _mm256_storeu_ps(acc + 32 + 8 * i, a1[i]);                                             \
        }                                                                                          \
    } while (0)

static void KV_FN(wsum_block)(float *acc, const float *p, const KV_T *V, int t0, int t1, int HD,
                              int c0, int nv) {
    switch (nv) {
    case 1:
        WSUM(1);
        break;
    case 2:
        WSUM(2);
        break;
    case 3:
        WSUM(3);
        break;
    default:
        WSUM(4);
        break;
    }
}
#endif

/* o[g * HD ..] = sum_t p[g * lds + t] V[t] for t < n, g < G. Positions in blocks of 64: a
 * block's values (64 rows of a 32-column block: 8 KB) stay in L1 while up to 8 heads use
 * them. */
static void KV_FN(weighted_sum)(float *o, const float *p, int64_t lds, int G, const KV_T *V, int n,
                                int HD) {
#if TR_OPSI_AVX2
    if (HD % 8 == 0) {
        enum { TB = 64, GB = 8 }; /* TB even: every block starts at an even position */
        for (int ga = 0; ga < G; ga += GB) {
            const int gn = G - ga < GB ? G - ga : GB;
            for (int c0 = 0; c0 < HD; c0 += 32) {
                const int nv = (HD - c0) / 8 < 4 ? (HD - c0) / 8 : 4;
                float acc[GB][64] = {{0}}; /* per head: 4 even-position vectors, 4 odd ones */
                for (int t0 = 0; t0 < n; t0 += TB) {
                    int t1 = t0 + TB < n ? t0 + TB : n;
                    for (int g = 0; g < gn; g++)
                        KV_FN(wsum_block)(acc[g], p + (ga + g) * lds, V, t0, t1, HD, c0, nv);
                }
                for (int g = 0; g < gn; g++)
                    for (int i = 0; i < nv; i++)
                        _mm256_storeu_ps(o + (size_t)(ga + g) * HD + c0 + 8 * i,
                                         _mm256_add_ps(_mm256_loadu_ps(acc[g] + 8 * i),
                                                       _mm256_loadu_ps(acc[g] + 32 + 8 * i)));
            }
        }
        return;
    }
#endif
    for (int g = 0; g < G; g++) {
        float *og = o + (size_t)g * HD;
        memset(og, 0, (size_t)HD * sizeof(float));
        for (int t = 0; t < n; t++)
            for (int i = 0; i < HD; i++) og[i] += p[g * lds + t] * KV_LD1(V + (size_t)t * HD + i);
    }
}

#undef WSUM
#undef KV_FN
#undef KV_CAT
#undef KV_CAT2
