/* tinyr1 cost: a run's cost table, scenarios (DeepSeek-V3, R1's RL, API prices), the peak. */
#include <cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

typedef struct {
    const char *run, *scenario, *hardware, *precision;
    int json, probe, list;
    double mfu, core_hour_usd, params, tps, gpus, gpu_hour_usd;
} cost_args;

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The run folders to report: DIR itself when it holds cost.json, else its subfolders that
 * do (a pipeline folder), sorted by name. */
static int find_runs(const char *dir, char ***out, int *n) {
    *out = NULL;
    *n = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/cost.json", dir);
    if (file_exists(path)) {
        *out = malloc(sizeof(char *));
        (*out)[0] = strdup(dir);
        *n = 1;
        return 0;
    }
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    int cap = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s/cost.json", dir, e->d_name);
        if (!file_exists(path)) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            *out = realloc(*out, (size_t)cap * sizeof(char *));
        }
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        (*out)[(*n)++] = strdup(path);
    }
    closedir(d);
    if (*n > 1) qsort(*out, (size_t)*n, sizeof(char *), cmp_str);
    return 0;
}

static double core_hours(const tr_cost_meter *m, double seconds) {
    return seconds * (m->threads > 0 ? m->threads : 1) / 3600.0;
}

static void print_run(const char *dir, const tr_cost_meter *m, const tr_hw_catalog *cat,
                      const cost_args *a, tr_precision prec) {
    printf("run %s: stage %s\n", dir, m->stage);
    printf("model: %.0f parameters (%.0f in matmuls); dim %d, %d layers, %d/%d heads, hidden %d, "
           "vocab %d\n",
           m->params, m->params_matmul, m->cfg.dim, m->cfg.n_layers, m->cfg.n_heads,
           m->cfg.n_kv_heads, m->cfg.hidden_dim, m->cfg.vocab);
    printf("machine: %s, %d threads, peak %.1f GFLOP/s (%s); $%.3f per core-hour\n", m->cpu,
           m->threads, m->peak_gflops, m->peak_source, a->core_hour_usd);
    printf("\n| %-9s | %10s | %12s | %11s | %9s | %7s | %10s | %9s |\n", "phase", "seconds",
           "tokens", "FLOPs", "GFLOP/s", "MFU", "core-hours", "CPU $");
    printf("|-----------|------------|--------------|-------------|-----------|---------|---------"
           "---|-----------|\n");
    for (int p = 0; p <= TR_PHASE_COUNT; p++) {
        tr_phase_stats s = p < TR_PHASE_COUNT ? m->phase[p] : tr_cost_total(m);
        if (p < TR_PHASE_COUNT && s.calls == 0) continue;
        double ch = core_hours(m, s.seconds);
        printf("| %-9s | %10.2f | %12.0f | %11.4g | %9.2f | %6.2f%% | %10.4f | %9.4f |\n",
               p < TR_PHASE_COUNT ? tr_phase_name((tr_phase)p) : "total", s.seconds, s.tokens,
               s.flops, s.seconds > 0 ? s.flops / s.seconds * 1e-9 : 0.0,
               100.0 * tr_cost_mfu(m, s.flops, s.seconds), ch, ch * a->core_hour_usd);
    }
    double wall_ch = core_hours(m, m->wall_seconds);
    printf("wall %.2f s (%.4f core-hours, $%.4f), peak RSS %.1f MB\n", m->wall_seconds, wall_ch,
           wall_ch * a->core_hour_usd, (double)m->peak_rss_bytes / 1048576.0);
    const tr_phase_stats *tr = &m->phase[TR_PHASE_TRAIN];
    if (tr->tokens > 0 && m->params > 0)
        printf("train FLOPs / 6ND = %.4f (6ND = 6 x %.0f x %.0f = %.4g; the difference is the "
               "attention term minus non-matmul parameters)\n",
               tr->flops / (6.0 * m->params * tr->tokens), m->params, tr->tokens,
               6.0 * m->params * tr->tokens);
    double total = tr_cost_total(m).flops;
    printf("\nThis run's %.4g FLOPs on other hardware at %.0f%% MFU (dense %s):\n", total,
           100.0 * a->mfu, tr_precision_name(prec));
    printf("| %-6s | %14s | %12s | %14s |\n", "GPU", "GPU-hours", "rental $", "ownership $");
    printf("|--------|----------------|--------------|----------------|\n");
    for (int i = 0; i < cat->n; i++) {
        const tr_hw *h = &cat->hw[i];
        if (strcmp(h->kind, "gpu") != 0) continue;
        tr_projection pr;
        if (tr_project(total, h, prec, a->mfu, &cat->ownership, &pr, NULL) != 0) {
            printf("| %-6s | %14s | %12s | %14s |\n", h->name, "n/a", "", "");
            continue;
        }
        printf("| %-6s | %14.6g | %12.6g | %14.6g |\n", h->name, pr.device_hours, pr.rental_usd,
               pr.ownership_usd);
    }
}

static void print_pipeline(char **dirs, int n, tr_cost_meter *ms, const cost_args *a) {
    printf("| %-24s | %9s | %9s | %9s | %9s | %11s | %8s | %8s | %8s | %9s |\n", "stage", "wall s",
           "train s", "gen s", "teacher s", "FLOPs", "GFLOP/s", "MFU", "RSS MB", "CPU $");
    printf("|--------------------------|-----------|-----------|-----------|-----------|---------"
           "----|----------|----------|----------|-----------|\n");
    double tw = 0, tf = 0, ts = 0, tusd = 0;
    for (int i = 0; i < n; i++) {
        const tr_cost_meter *m = &ms[i];
        tr_phase_stats t = tr_cost_total(m);
        const char *base = strrchr(dirs[i], '/');
        double usd = core_hours(m, m->wall_seconds) * a->core_hour_usd;
        printf("| %-24s | %9.1f | %9.1f | %9.1f | %9.1f | %11.4g | %8.2f | %7.2f%% | %8.1f | "
               "%9.4f |\n",
               base ? base + 1 : dirs[i], m->wall_seconds, m->phase[TR_PHASE_TRAIN].seconds,
               m->phase[TR_PHASE_GENERATE].seconds, m->phase[TR_PHASE_TEACHER].seconds, t.flops,
               t.seconds > 0 ? t.flops / t.seconds * 1e-9 : 0.0,
               100.0 * tr_cost_mfu(m, t.flops, t.seconds), (double)m->peak_rss_bytes / 1048576.0,
               usd);
        tw += m->wall_seconds;
        tf += t.flops;
        ts += t.seconds;
        tusd += usd;
    }
    printf("| %-24s | %9.1f | %9s | %9s | %9s | %11.4g | %8.2f | %8s | %8s | %9.4f |\n", "total",
           tw, "", "", "", tf, ts > 0 ? tf / ts * 1e-9 : 0.0, "", "", tusd);
}

static int run_report(const cost_args *a, const tr_hw_catalog *cat) {
    tr_precision prec;
    if (tr_precision_parse(a->precision, &prec) != 0)
        return cli_error("cost", "--precision must be bf16, fp8 or fp32");
    char **dirs;
    int n;
    if (find_runs(a->run, &dirs, &n) != 0 || n == 0) {
        char msg[4200];
        snprintf(msg, sizeof msg, "%s: no cost.json there nor in its subfolders", a->run);
        return cli_error("cost", msg);
    }
    tr_cost_meter *ms = calloc((size_t)n, sizeof *ms);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        char path[4200];
        tr_err err = {{0}};
        snprintf(path, sizeof path, "%s/cost.json", dirs[i]);
        if (tr_cost_meter_read(&ms[i], path, &err) != 0) rc = cli_error("cost", err.msg);
    }
    if (rc == 0 && a->json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "run", a->run);
        cJSON_AddNumberToObject(root, "core_hour_usd", a->core_hour_usd);
        cJSON_AddNumberToObject(root, "projection_mfu", a->mfu);
        cJSON_AddStringToObject(root, "projection_precision", tr_precision_name(prec));
        cJSON *arr = cJSON_AddArrayToObject(root, "stages");
        for (int i = 0; i < n; i++) {
            char *text = NULL;
            if (tr_cost_meter_to_json(&ms[i], &text, NULL) != 0) continue;
            cJSON *o = cJSON_Parse(text);
            free(text);
            cJSON_AddStringToObject(o, "dir", dirs[i]);
            double ch = core_hours(&ms[i], ms[i].wall_seconds);
            cJSON_AddNumberToObject(o, "core_hours", ch);
            cJSON_AddNumberToObject(o, "cpu_usd", ch * a->core_hour_usd);
            cJSON *pj = cJSON_AddArrayToObject(o, "projections");
            for (int k = 0; k < cat->n; k++) {
                tr_projection pr;
                if (strcmp(cat->hw[k].kind, "gpu") != 0 ||
                    tr_project(tr_cost_total(&ms[i]).flops, &cat->hw[k], prec, a->mfu,
                               &cat->ownership, &pr, NULL) != 0)
                    continue;
                cJSON *p = cJSON_CreateObject();
                cJSON_AddStringToObject(p, "hardware", cat->hw[k].name);
                cJSON_AddNumberToObject(p, "gpu_hours", pr.device_hours);
                cJSON_AddNumberToObject(p, "rental_usd", pr.rental_usd);
                cJSON_AddNumberToObject(p, "ownership_usd", pr.ownership_usd);
                cJSON_AddItemToArray(pj, p);
            }
            cJSON_AddItemToArray(arr, o);
        }
        char *out = cJSON_Print(root);
        printf("%s\n", out);
        free(out);
        cJSON_Delete(root);
    } else if (rc == 0) {
        if (n == 1)
            print_run(dirs[0], &ms[0], cat, a, prec);
        else
            print_pipeline(dirs, n, ms, a);
    }
    for (int i = 0; i < n; i++) free(dirs[i]);
    free(dirs);
    free(ms);
    return rc;
}

static const char *builtin[] = {"deepseek-v3", "deepseek-r1-rl", "api-price", NULL};

static int run_scenario(const cost_args *a, const tr_hw_catalog *cat) {
    char path[4096];
    if (file_exists(a->scenario))
        snprintf(path, sizeof path, "%s", a->scenario);
    else
        snprintf(path, sizeof path, "%s/scenarios/%s.json", tr_config_dir(), a->scenario);
    char *text = tr_read_file(path, NULL, NULL);
    if (!text) {
        char msg[4200];
        snprintf(msg, sizeof msg, "--scenario %s: neither a file nor a built-in scenario (%s)",
                 a->scenario, path);
        return cli_error("cost", msg);
    }
    /* An ad-hoc serving line from --params/--tps/--gpus/--gpu-hour-usd. */
    if (a->params > 0 || a->tps > 0) {
        cJSON *root = cJSON_Parse(text);
        cJSON *api = root ? cJSON_GetObjectItemCaseSensitive(root, "api") : NULL;
        if (root && !api) api = cJSON_AddArrayToObject(root, "api");
        if (cJSON_IsArray(api)) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", "command line");
            if (a->params > 0) cJSON_AddNumberToObject(o, "active_params", a->params);
            if (a->tps > 0)
                cJSON_AddNumberToObject(o, "tokens_per_second", a->tps);
            else
                cJSON_AddNumberToObject(o, "mfu", a->mfu);
            if (a->gpus > 0) cJSON_AddNumberToObject(o, "gpus", a->gpus);
            if (a->gpu_hour_usd > 0)
                cJSON_AddNumberToObject(o, "usd_per_gpu_hour", a->gpu_hour_usd);
            cJSON_AddItemToArray(api, o);
            free(text);
            text = cJSON_Print(root);
        }
        cJSON_Delete(root);
    }
    tr_scenario_result *res = calloc(1, sizeof *res);
    tr_err err = {{0}};
    int rc = 0;
    if (!text || !res || tr_scenario_eval(res, text, path, cat, &err) != 0) {
        rc = cli_error("cost", text && res ? err.msg : "out of memory");
    } else if (a->json) {
        char *out = NULL;
        if (tr_scenario_to_json(res, &out, &err) == 0) printf("%s\n", out);
        free(out);
    } else {
        tr_scenario_print(res, stdout);
    }
    if (rc == 0 && res->checks_failed > 0) {
        fprintf(stderr, "tinyr1 cost: %d expected figure(s) not reproduced\n", res->checks_failed);
        rc = 1;
    }
    free(text);
    free(res);
    return rc;
}

int cmd_cost(int argc, char **argv) {
    cost_args a = {.precision = "bf16", .mfu = 0.4, .core_hour_usd = -1};
    const cli_opt opts[] = {
        {"run", CLI_STR, &a.run, "DIR",
         "print the cost table of a run folder (its cost.json), or "
         "one row per stage of a pipeline folder"},
        {"scenario", CLI_STR, &a.scenario, "NAME|FILE",
         "evaluate a scenario: deepseek-v3, deepseek-r1-rl, api-price, or a JSON file"},
        {"list", CLI_FLAG, &a.list, NULL, "list the built-in scenarios"},
        {"probe", CLI_FLAG, &a.probe, NULL,
         "measure this machine's peak (sgemm) and update the cache"},
        {"json", CLI_FLAG, &a.json, NULL, "print JSON instead of tables"},
        {"hardware", CLI_STR, &a.hardware, "FILE",
         "hardware catalogue (default: configs/hardware.json)"},
        {"mfu", CLI_DOUBLE, &a.mfu, "M", "MFU for projections onto GPUs and compute-bound serving"},
        {"precision", CLI_STR, &a.precision, "P", "peak used for projections: bf16, fp8 or fp32"},
        {"core-hour-usd", CLI_DOUBLE, &a.core_hour_usd, "USD",
         "this machine's price per core-hour (-1: the catalogue's)"},
        {"params", CLI_DOUBLE, &a.params, "N",
         "api-price: active parameters of an extra serving line"},
        {"tps", CLI_DOUBLE, &a.tps, "X", "api-price: its output tokens/s (0: derive from --mfu)"},
        {"gpus", CLI_DOUBLE, &a.gpus, "G", "api-price: GPUs delivering that throughput"},
        {"gpu-hour-usd", CLI_DOUBLE, &a.gpu_hour_usd, "USD", "api-price: its price per GPU-hour"},
        {0},
    };
    const cli_spec spec = {
        .command = "cost",
        .summary = "FLOPs, time, MFU and money: a run's cost table, or a scenario "
                   "(rental vs ownership, projections, API prices)",
        .usage = "",
        .opts = opts,
        .details = "Formulas, the cost.json and scenario formats: docs/cost.md. The peak comes "
                   "from TINYR1_PEAK_GFLOPS, else the cache (~/.cache/tinyr1/peak.json), else "
                   "a probe. TINYR1_CONFIG_DIR overrides where configs/ is looked up.",
    };
    int pr = cli_parse(&spec, argc, argv, NULL, NULL);
    if (pr != 0) return pr > 0 ? 0 : 2;
    if (a.list) {
        for (int i = 0; builtin[i]; i++)
            printf("%s\t%s/scenarios/%s.json\n", builtin[i], tr_config_dir(), builtin[i]);
        return 0;
    }
    if (a.probe) {
        tr_peak p;
        tr_err err = {{0}};
        if (tr_peak_get(&p, 1, &err) != 0) return cli_error("cost", err.msg);
        printf("peak %.2f GFLOP/s on %d threads (%s), load average %.2f: %s\n", p.gflops, p.threads,
               p.cpu, p.load,
               strcmp(p.source, "probe") == 0
                   ? (p.cache_path[0] ? p.cache_path : "(no cache path)")
                   : "machine oversubscribed, figure not cached; probe again when idle");
        if (!a.run && !a.scenario) return 0;
    }
    if (!a.run == !a.scenario)
        return cli_error("cost",
                         "give exactly one of --run DIR or --scenario NAME|FILE (see --help)");
    if (!(a.mfu > 0 && a.mfu <= 1)) return cli_error("cost", "--mfu must be in (0, 1]");
    char hw_path[4096];
    snprintf(hw_path, sizeof hw_path, "%s", a.hardware ? a.hardware : "");
    if (!a.hardware) snprintf(hw_path, sizeof hw_path, "%s/hardware.json", tr_config_dir());
    tr_hw_catalog cat;
    tr_err err = {{0}};
    if (tr_hw_catalog_load(&cat, hw_path, &err) != 0) return cli_error("cost", err.msg);
    if (a.core_hour_usd < 0) a.core_hour_usd = cat.cpu_core_hour_usd;
    int rc = a.run ? run_report(&a, &cat) : run_scenario(&a, &cat);
    tr_hw_catalog_free(&cat);
    return rc;
}
