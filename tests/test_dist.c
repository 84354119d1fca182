/* tr_dist in one process: the shares of tr_dist_range, tr_dist_gatherv as a copy, and the
 * allreduce figures of the cost meter (cost.json round trip, the ring-volume formula). The
 * collective behaviour across ranks is tested end to end by tests/cli/mpi.sh. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "testutil.h"

static void test_range(void) {
    for (int world = 1; world <= 5; world++)
        for (int64_t n = 0; n <= 23; n++) {
            int64_t next = 0, smallest = n, largest = 0;
            for (int r = 0; r < world; r++) {
                int64_t lo, hi;
                tr_dist_range(n, r, world, &lo, &hi);
                CHECK(lo == next && hi >= lo); /* contiguous, in rank order */
                next = hi;
                if (hi - lo < smallest) smallest = hi - lo;
                if (hi - lo > largest) largest = hi - lo;
            }
            CHECK(next == n);               /* they tile [0, n) */
            CHECK(largest - smallest <= 1); /* balanced */
        }
    int64_t lo, hi;
    tr_dist_range(7, 1, 2, &lo, &hi); /* 7 problems on 2 ranks: 3 + 4 */
    CHECK(lo == 3 && hi == 7);
}

static void test_single(void) {
    tr_dist d = tr_dist_single();
    tr_err err = {{0}};
    CHECK(d.rank == 0 && d.world == 1 && d.mpi == 0);
    const char msg[] = "records";
    void *out = NULL;
    size_t len = 0, counts[1] = {0};
    CHECK(tr_dist_gatherv(&d, msg, sizeof msg, &out, &len, counts, &err) == 0);
    CHECK(out && len == sizeof msg && counts[0] == sizeof msg && memcmp(out, msg, len) == 0);
    free(out);
    CHECK(tr_dist_gatherv(&d, NULL, 0, &out, &len, NULL, &err) == 0 && out && len == 0);
    free(out);
    double x[2] = {1.5, -2};
    CHECK(tr_dist_allreduce_sum_f64(&d, x, 2, &err) == 0 && x[0] == 1.5 && x[1] == -2);
}

static void test_meter(void) {
    tr_config cfg = tr_config_default(); /* V 512, D 64, 2 layers, 4 heads, untied */
    cfg.hidden_dim = 192;
    tr_cost_meter m;
    tr_cost_meter_init(&m, "pretrain", &cfg, NULL);
    /* by hand: embedding and head 2 x 512 x 64, per layer q,k,v,o 4 x 64 x 64 + MLP
     * 3 x 64 x 192 + two norms 2 x 64, final norm 64 */
    const double params = 2 * 512 * 64 + 2 * (4 * 64 * 64 + 3 * 64 * 192 + 2 * 64) + 64;
    const double S = 4 * params + 64; /* what the trainer reports per step under MPI */
    tr_cost_add_comm(&m, 2, 0.25, S);
    tr_cost_add_comm(&m, 2, 0.75, S);
    CHECK(m.comm.ranks == 2 && m.comm.steps == 2 && m.comm.seconds == 1.0 && m.comm.bytes == 2 * S);
    tr_cost_meter one;
    tr_cost_meter_init(&one, "pretrain", &cfg, NULL);
    tr_cost_add_comm(&one, 1, 0.5, 0); /* one process: nothing is allreduced */
    CHECK(one.comm.ranks == 1 && one.comm.steps == 0 && one.comm.seconds == 0);

    char dir[] = "/tmp/tinyr1_test_dist_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    tr_err err = {{0}};
    CHECK_MSG(tr_cost_meter_write(&m, dir, &err) == 0, "%s", err.msg);
    char path[600];
    snprintf(path, sizeof path, "%s/cost.json", dir);
    char *text = tr_read_file(path, NULL, &err);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    const cJSON *a = j ? cJSON_GetObjectItem(j, "allreduce") : NULL;
    CHECK(a != NULL);
    if (a) {
        CHECK(cJSON_GetObjectItem(a, "ranks")->valuedouble == 2);
        CHECK(cJSON_GetObjectItem(a, "bytes_per_step")->valuedouble == S);
        CHECK_CLOSE(cJSON_GetObjectItem(a, "seconds_per_step")->valuedouble, 0.5, 1e-12, 0);
        CHECK(cJSON_GetObjectItem(a, "gradient_bytes_per_step")->valuedouble == 4 * params);
        /* ring allreduce over N = 2: 2 (N-1)/N x 4 params = 4 params */
        CHECK_CLOSE(cJSON_GetObjectItem(a, "ring_bytes_per_rank_per_step")->valuedouble, 4 * params,
                    1e-12, 0);
    }
    cJSON_Delete(j);
    free(text);
    tr_cost_meter r;
    CHECK_MSG(tr_cost_meter_read(&r, path, &err) == 0, "%s", err.msg);
    CHECK(r.comm.ranks == 2 && r.comm.steps == 2 && r.comm.bytes == 2 * S);
    CHECK_CLOSE(r.comm.seconds, 1.0, 1e-12, 0);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    test_range();
    test_single();
    test_meter();
    return tu_finish("dist");
}
