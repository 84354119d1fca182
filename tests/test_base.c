/* Tests of the basics: RNG statistics and determinism, atomic writes, config validation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static void test_rng(void) {
    tr_rng a, b;
    tr_rng_seed(&a, 42);
    tr_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) CHECK(tr_rng_next(&a) == tr_rng_next(&b));
    /* mean and variance of uniform and normal draws (n = 200k: std error ~ 0.0007) */
    double s = 0, s2 = 0, n = 200000;
    for (int i = 0; i < n; i++) {
        double u = tr_rng_uniform(&a);
        CHECK(u >= 0 && u < 1);
        s += u;
        s2 += u * u;
    }
    CHECK_CLOSE(s / n, 0.5, 0, 0.005);
    CHECK_CLOSE(s2 / n - (s / n) * (s / n), 1.0 / 12, 0, 0.003);
    s = s2 = 0;
    for (int i = 0; i < n; i++) {
        double z = tr_rng_normal(&a);
        s += z;
        s2 += z * z;
    }
    CHECK_CLOSE(s / n, 0.0, 0, 0.01);
    CHECK_CLOSE(s2 / n, 1.0, 0, 0.02);
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++) counts[tr_rng_below(&a, 7)]++;
    for (int i = 0; i < 7; i++) CHECK(abs(counts[i] - 10000) < 500);
}

static void test_atomic_write(void) {
    char path[] = "/tmp/tinyr1_test_atomic_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    tr_err err;
    CHECK(tr_write_file_atomic(path, "hello", 5, &err) == 0);
    size_t len = 0;
    char *back = tr_read_file(path, &len, &err);
    CHECK(back && len == 5 && memcmp(back, "hello", 5) == 0);
    free(back);
    /* written in pieces: commit replaces the file; a failed or abandoned write leaves the
     * previous content and no PATH.tmp behind */
    tr_atomic_file af;
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(tr_atomic_open(&af, path, &err) == 0);
    fputs("ab", af.f);
    fputs("cd", af.f);
    CHECK(tr_atomic_commit(&af, 1, &err) == 0);
    back = tr_read_file(path, &len, &err);
    CHECK(back && len == 4 && memcmp(back, "abcd", 4) == 0);
    free(back);
    CHECK(tr_atomic_open(&af, path, &err) == 0);
    fputs("xyz", af.f);
    CHECK(tr_atomic_commit(&af, 0, &err) == -1);
    CHECK_MSG(strstr(err.msg, "write failed") && strstr(err.msg, "previous file is untouched"),
              "%s", err.msg);
    CHECK(tr_atomic_open(&af, path, &err) == 0);
    fputs("xyz", af.f);
    tr_atomic_abort(&af);
    back = tr_read_file(path, &len, &err);
    CHECK(back && len == 4 && memcmp(back, "abcd", 4) == 0);
    free(back);
    CHECK(access(tmp, F_OK) != 0);
    CHECK(tr_atomic_open(&af, "/nonexistent/dir/file", &err) == -1);
    CHECK_MSG(strstr(err.msg, "/nonexistent/dir/file.tmp: cannot create") != NULL, "%s", err.msg);
    remove(path);
    CHECK(tr_read_file("/nonexistent/file", &len, &err) == NULL);
    CHECK(strstr(err.msg, "/nonexistent/file") != NULL);
}

static void test_config(void) {
    tr_err err;
    tr_config c = tr_config_default();
    CHECK(tr_config_validate(&c, &err) == 0);
    CHECK(c.head_dim == 16);
    c.n_kv_heads = 3;
    CHECK(tr_config_validate(&c, &err) != 0);
    CHECK(strstr(err.msg, "n_kv_heads") != NULL);
    CHECK(tr_hidden_dim_llama(128, 256) == 512);  /* 8*128/3 = 341.3 -> 512 */
    CHECK(tr_hidden_dim_llama(768, 256) == 2048); /* 2048 exactly */
    CHECK(tr_hidden_dim_llama(64, 32) == 192);    /* 170.7 -> 192 */
    /* parameter count by hand: tied, no bias, V=10, D=4, L=1, NH=KVH=2, H=8 */
    tr_config t = {.vocab = 10, .dim = 4, .n_layers = 1, .n_heads = 2, .n_kv_heads = 2,
                   .hidden_dim = 8, .max_seq = 8, .rope_theta = 10000, .norm_eps = 1e-5f,
                   .tied_embeddings = 1};
    CHECK(tr_config_validate(&t, &err) == 0);
    size_t expect = 40 + 4 + 16 * 4 + 4 + 3 * 32 + 4;
    CHECK(tr_config_num_params(&t) == expect);
    tr_param_table table;
    CHECK(tr_param_table_build(&table, &t, &err) == 0);
    CHECK(table.total == expect);
    CHECK(tr_param_table_find(&table, "model.layers.0.mlp.down_proj.weight") >= 0);
    CHECK(tr_param_table_find(&table, "lm_head.weight") < 0);
    tr_param_table_free(&table);
}

int main(void) {
    test_rng();
    test_atomic_write();
    test_config();
    return tu_finish("test_base");
}
