/* Money model: the hardware catalogue, rental/ownership arithmetic, projections, and the
 * built-in scenarios reproducing the public figures (hand arithmetic below, from the
 * DeepSeek-V3 report, the R1 Nature supplement and DeepSeek's inference post). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static tr_hw_catalog cat;

static void load_scenario(tr_scenario_result *r, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/configs/scenarios/%s.json", TR_SOURCE_DIR, name);
    tr_err err = {{0}};
    CHECK_MSG(tr_scenario_eval_file(r, path, &cat, &err) == 0, "%s", err.msg);
}

static void test_catalog(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/configs/hardware.json", TR_SOURCE_DIR);
    tr_err err = {{0}};
    CHECK_MSG(tr_hw_catalog_load(&cat, path, &err) == 0, "%s", err.msg);
    const tr_hw *a100 = tr_hw_find(&cat, "A100"), *h100 = tr_hw_find(&cat, "h100");
    const tr_hw *h800 = tr_hw_find(&cat, "H800"), *h200 = tr_hw_find(&cat, "H200");
    CHECK(a100 && h100 && h800 && h200 && !tr_hw_find(&cat, "B200"));
    if (!(a100 && h100 && h800 && h200)) return;
    /* vendor datasheets: dense = half the "with sparsity" figure */
    CHECK(a100->peak_bf16 == 312e12 && a100->peak_fp8 == 0);
    CHECK(fabs(h100->peak_bf16 - 1978.9e12 / 2) < 1e11 &&
          fabs(h100->peak_fp8 - 3957.8e12 / 2) < 1e11);
    CHECK(h100->peak_bf16 == 989.4e12); /* whitepaper dense figure */
    CHECK(h800->peak_bf16 == h100->peak_bf16 && h800->peak_fp8 == h100->peak_fp8);
    CHECK(h200->peak_bf16 == h100->peak_bf16 && h200->memory_gb == 141);
    CHECK(h800->rental_usd_per_hour == 2.0 && h800->board_power_w == 700);
    for (int i = 0; i < cat.n; i++)
        CHECK_MSG(cat.hw[i].source_specs[0] && cat.hw[i].source_prices[0], "%s has no source",
                  cat.hw[i].name);
    CHECK(cat.cpu_core_hour_usd > 0);
    CHECK(tr_hw_peak(h100, TR_PREC_FP32) > 0);

    /* malformed catalogues name the problem */
    tr_hw_catalog bad;
    CHECK(tr_hw_catalog_parse(&bad, "{\"format\":\"x\"}", "t", &err) != 0 &&
          strstr(err.msg, "format"));
    CHECK(tr_hw_catalog_parse(&bad, "[", "t", &err) != 0);
    const char *no_src =
        "{\"format\":\"tinyr1-hardware\",\"ownership_defaults\":{\"lifetime_years\":4,"
        "\"utilization\":0.5,\"capex_overhead\":0,\"power_overhead\":0,\"pue\":1,"
        "\"electricity_usd_per_kwh\":0.1},\"hardware\":[{\"name\":\"X\",\"peak_tflops\":{}}]}";
    CHECK(tr_hw_catalog_parse(&bad, no_src, "t", &err) != 0 && strstr(err.msg, "source"));
    const char *bad_u =
        "{\"format\":\"tinyr1-hardware\",\"ownership_defaults\":{\"lifetime_years\":4,"
        "\"utilization\":1.5,\"capex_overhead\":0,\"power_overhead\":0,\"pue\":1,"
        "\"electricity_usd_per_kwh\":0.1},\"hardware\":[]}";
    CHECK(tr_hw_catalog_parse(&bad, bad_u, "t", &err) != 0 && strstr(err.msg, "utilization"));
}

static void test_arithmetic(void) {
    /* ownership of one GPU-hour, by hand: $30,000 x 1.5 over 4 years of 8,760 h at 80% use,
     * plus 0.7 kW x 1.5 x 1.3 x $0.08 */
    tr_hw h = {.purchase_usd = 30000, .board_power_w = 700};
    tr_ownership_params op = {.lifetime_years = 4,
                              .utilization = 0.8,
                              .capex_overhead = 0.5,
                              .power_overhead = 0.5,
                              .pue = 1.3,
                              .electricity_usd_per_kwh = 0.08};
    tr_ownership_cost oc;
    tr_err err = {{0}};
    CHECK(tr_ownership_per_hour(&h, &op, &oc, &err) == 0);
    double capex = 45000.0 / 35040.0;
    CHECK_CLOSE(oc.capex, capex, 1e-12, 0);
    CHECK_CLOSE(oc.idle, capex * 0.25, 1e-12, 0);
    CHECK_CLOSE(oc.power, 0.7 * 1.5 * 1.3 * 0.08, 1e-12, 0);
    CHECK_CLOSE(oc.total, capex / 0.8 + 0.1092, 1e-12, 0);
    h.purchase_usd = 0;
    CHECK(tr_ownership_per_hour(&h, &op, &oc, &err) != 0);

    /* projection: 1e21 FLOPs on an H100 at 40% of dense BF16 */
    const tr_hw *h100 = tr_hw_find(&cat, "H100");
    tr_projection pr;
    CHECK(h100 && tr_project(1e21, h100, TR_PREC_BF16, 0.4, &cat.ownership, &pr, &err) == 0);
    CHECK_CLOSE(pr.device_hours, 1e21 / (989.4e12 * 0.4) / 3600.0, 1e-9, 0);
    CHECK_CLOSE(pr.rental_usd, pr.device_hours * h100->rental_usd_per_hour, 1e-12, 0);
    CHECK(pr.ownership_usd > 0);
    const tr_hw *a100 = tr_hw_find(&cat, "A100");
    CHECK(tr_project(1e21, a100, TR_PREC_FP8, 0.4, NULL, &pr, &err) != 0 && strstr(err.msg, "fp8"));
    CHECK(tr_project(1e21, a100, TR_PREC_BF16, 1.5, NULL, &pr, &err) != 0);

    CHECK_CLOSE(tr_api_usd_per_mtok(8, 2.0, 14800), 16.0 / (14800.0 * 3600.0) * 1e6, 1e-12, 0);
    CHECK_CLOSE(tr_decode_tokens_per_second(1000e12, 0.5, 5e9), 5e14 / 1e10, 1e-12, 0);
    CHECK(tr_rental_usd(2788000, 2.0) == 5576000.0);
}

static void test_scenarios(void) {
    tr_scenario_result *r = calloc(1, sizeof *r);
    load_scenario(r, "deepseek-v3");
    /* 2,664K + 119K + 5K = 2,788K GPU-hours; x $2 = $5.576M (exact arithmetic) */
    CHECK(r->n_stages == 3);
    CHECK(r->gpu_hours == 2664000.0 + 119000.0 + 5000.0);
    CHECK(r->gpu_hours == 2788000.0);
    CHECK(r->rental_usd == 5576000.0);
    CHECK(r->stages[0].rental_usd == 5328000.0 && r->stages[1].rental_usd == 238000.0 &&
          r->stages[2].rental_usd == 10000.0);
    /* implied MFU: 6 x 37e9 x 14.8e12 FLOPs over 2.664M H800-hours at 989.4 dense TFLOP/s */
    double flops = 6.0 * 37e9 * 14.8e12;
    CHECK_CLOSE(r->stages[0].flops, flops, 1e-15, 0);
    CHECK_CLOSE(r->stages[0].mfu, flops / (2664000.0 * 3600.0 * 989.4e12), 1e-12, 0);
    CHECK_CLOSE(r->stages[0].mfu_alt, flops / (2664000.0 * 3600.0 * 1978.9e12), 1e-12, 0);
    CHECK(r->stages[0].mfu > 0.34 && r->stages[0].mfu < 0.35);
    CHECK(r->checks_failed == 0 && r->n_checks >= 2);
    /* ownership: the 2,048-GPU cluster and the $1B fleet, with every assumption recorded */
    CHECK(r->n_owners == 2);
    const tr_scen_owner *cl = &r->owners[0], *fl = &r->owners[1];
    CHECK(cl->gpus == 2048 && cl->capex_usd == 2048 * 30000.0 * 1.5);
    CHECK_CLOSE(cl->run_usd, 2788000.0 * cl->per_hour.total, 1e-12, 0);
    CHECK_CLOSE(cl->run_days, 2788000.0 / 2048 / 24, 1e-12, 0);
    CHECK(cl->op.lifetime_years == 4 && cl->op.utilization == 0.8 && cl->op.pue == 1.3);
    CHECK_CLOSE(fl->gpus, 1e9 / 45000.0, 1e-12, 0);
    CHECK(fl->capex_usd == 1e9);
    CHECK_CLOSE(fl->annual_usd, 1e9 / 4 + fl->gpus * 8760 * 0.8 * fl->per_hour.power, 1e-12, 0);
    CHECK_CLOSE(fl->run_share, 2788000.0 / (fl->gpus * 8760 * 0.8), 1e-12, 0);
    char *json = NULL;
    tr_err err = {{0}};
    CHECK(tr_scenario_to_json(r, &json, &err) == 0 && strstr(json, "\"rental_usd\":\t5576000"));
    free(json);

    load_scenario(r, "deepseek-r1-rl");
    CHECK(r->gpu_hours == 147000.0 && r->rental_usd == 294000.0 && r->checks_failed == 0);

    load_scenario(r, "api-price");
    CHECK(r->checks_failed == 0 && r->stages[0].rental_usd == 87072.0);
    CHECK(r->stages[0].gpu_hours == 226.75 * 8 * 24);
    CHECK(r->n_api == 3 && r->n_refs == 2);
    CHECK_CLOSE(r->api[0].usd_per_mtok, 8 * 2.0 / (14800 * 3600.0) * 1e6, 1e-12, 0);
    CHECK_CLOSE(r->api[2].tokens_per_second, 1978.9e12 * 0.10 / (2 * 37e9), 1e-9, 0);
    CHECK(r->refs[0].usd_per_mtok == 2.19 && r->refs[1].usd_per_mtok == 60);

    /* a projected stage, a failing expectation, and malformed scenarios */
    const char *proj = "{\"format\":\"tinyr1-scenario\",\"name\":\"p\",\"hardware\":\"H100\","
                       "\"usd_per_gpu_hour\":3,\"stages\":[{\"name\":\"s\",\"tokens\":1e12,"
                       "\"active_params\":1e9,\"mfu\":0.5}],"
                       "\"expect\":[{\"what\":\"rental_usd\",\"value\":1}]}";
    CHECK(tr_scenario_eval(r, proj, "p", &cat, &err) == 0);
    double hours = 6e21 / (989.4e12 * 0.5) / 3600.0;
    CHECK(r->stages[0].projected && fabs(r->gpu_hours - hours) < 1e-9 * hours);
    CHECK(r->checks_failed == 1 && !r->checks[0].ok);
    CHECK(tr_scenario_eval(r,
                           "{\"format\":\"tinyr1-scenario\",\"name\":\"x\",\"hardware\":\"TPU\"}",
                           "x", &cat, &err) != 0 &&
          strstr(err.msg, "hardware"));
    CHECK(tr_scenario_eval(r,
                           "{\"format\":\"tinyr1-scenario\",\"name\":\"x\",\"hardware\":\"H800\","
                           "\"stages\":[{\"name\":\"a\"}]}",
                           "x", &cat, &err) != 0 &&
          strstr(err.msg, "mfu"));
    CHECK(tr_scenario_eval(r,
                           "{\"format\":\"tinyr1-scenario\",\"name\":\"x\",\"hardware\":\"H800\","
                           "\"ownership\":[{\"name\":\"o\",\"gpus\":8,\"fleet_usd\":1}]}",
                           "x", &cat, &err) != 0);
    CHECK(tr_scenario_eval(r,
                           "{\"format\":\"tinyr1-scenario\",\"name\":\"x\",\"hardware\":\"H800\","
                           "\"expect\":[{\"what\":\"nonsense\",\"value\":1}]}",
                           "x", &cat, &err) != 0 &&
          strstr(err.msg, "nonsense"));
    free(r);
}

int main(void) {
    test_catalog();
    test_arithmetic();
    test_scenarios();
    tr_hw_catalog_free(&cat);
    return tu_finish("cost_money");
}
