/* Scenario files: reported or projected runs, rental and ownership views, serving costs,
 * and the public figures each scenario must reproduce (format in docs/cost.md). */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1/cost.h"

static int num(const cJSON *o, const char *key, double *v, int required, const char *where,
               tr_err *err) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!x) return required ? tr_fail(err, "%s: field '%s' is required (a number)", where, key) : 0;
    if (!cJSON_IsNumber(x)) return tr_fail(err, "%s: field '%s' must be a number", where, key);
    *v = x->valuedouble;
    return 0;
}

static void str(const cJSON *o, const char *key, char *dst, size_t cap) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsString(x)) snprintf(dst, cap, "%s", x->valuestring);
}

static int name_of(const cJSON *o, char *dst, size_t cap, const char *where, tr_err *err) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (!cJSON_IsString(x) || !x->valuestring[0])
        return tr_fail(err, "%s: field 'name' is required (a string)", where);
    snprintf(dst, cap, "%s", x->valuestring);
    return 0;
}

static const cJSON *array(const cJSON *root, const char *key, int *n, const char *name,
                          tr_err *err) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, key);
    *n = 0;
    if (!a) return NULL;
    if (!cJSON_IsArray(a)) {
        tr_fail(err, "%s: '%s' must be an array", name, key);
        *n = -1;
        return NULL;
    }
    *n = cJSON_GetArraySize(a);
    if (*n > TR_SCEN_MAX) {
        tr_fail(err, "%s: '%s' has %d entries, at most %d supported", name, key, *n, TR_SCEN_MAX);
        *n = -1;
    }
    return a;
}

static int eval_stages(tr_scenario_result *r, const cJSON *root, const tr_hw *hw, tr_precision p,
                       const char *name, tr_err *err) {
    int n;
    const cJSON *a = array(root, "stages", &n, name, err);
    if (n < 0) return -1;
    tr_precision alt = p == TR_PREC_FP8 ? TR_PREC_BF16 : TR_PREC_FP8;
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(a, i);
        tr_scen_stage *s = &r->stages[i];
        char where[256];
        snprintf(where, sizeof where, "%s: stages[%d]", name, i);
        if (name_of(e, s->name, sizeof s->name, where, err)) return -1;
        s->active_params = r->active_params;
        double mfu = 0;
        if (num(e, "gpu_hours", &s->gpu_hours, 0, where, err) ||
            num(e, "tokens", &s->tokens, 0, where, err) ||
            num(e, "active_params", &s->active_params, 0, where, err) ||
            num(e, "flops", &s->flops, 0, where, err) || num(e, "mfu", &mfu, 0, where, err))
            return -1;
        if (s->flops == 0 && s->tokens > 0 && s->active_params > 0)
            s->flops = 6.0 * s->active_params * s->tokens;
        if (s->gpu_hours > 0) {
            if (s->flops > 0) {
                s->mfu = tr_implied_mfu(s->flops, s->gpu_hours, tr_hw_peak(hw, p));
                s->mfu_alt = tr_implied_mfu(s->flops, s->gpu_hours, tr_hw_peak(hw, alt));
            }
        } else {
            if (!(s->flops > 0) || !(mfu > 0 && mfu <= 1))
                return tr_fail(err,
                               "%s: give 'gpu_hours', or FLOPs ('flops', or 'tokens' with "
                               "'active_params') and an 'mfu' in (0, 1] to project them",
                               where);
            tr_projection pr;
            if (tr_project(s->flops, hw, p, mfu, NULL, &pr, err))
                return tr_fail_context(err, "%s", where);
            s->gpu_hours = pr.device_hours;
            s->mfu = mfu;
            s->projected = 1;
        }
        s->rental_usd = tr_rental_usd(s->gpu_hours, r->usd_per_gpu_hour);
        r->gpu_hours += s->gpu_hours;
        r->rental_usd += s->rental_usd;
    }
    r->n_stages = n;
    return 0;
}

static int eval_owners(tr_scenario_result *r, const cJSON *root, const tr_hw *hw,
                       const tr_hw_catalog *cat, const char *name, tr_err *err) {
    int n;
    const cJSON *a = array(root, "ownership", &n, name, err);
    if (n < 0) return -1;
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(a, i);
        tr_scen_owner *o = &r->owners[i];
        char where[256];
        snprintf(where, sizeof where, "%s: ownership[%d]", name, i);
        if (name_of(e, o->name, sizeof o->name, where, err)) return -1;
        o->op = cat->ownership;
        const char *keys[] = {"lifetime_years", "utilization", "capex_overhead",
                              "power_overhead", "pue",         "electricity_usd_per_kwh"};
        double *dst[] = {&o->op.lifetime_years, &o->op.utilization, &o->op.capex_overhead,
                         &o->op.power_overhead, &o->op.pue,         &o->op.electricity_usd_per_kwh};
        for (int k = 0; k < 6; k++)
            if (num(e, keys[k], dst[k], 0, where, err)) return -1;
        tr_hw h = *hw;
        if (num(e, "purchase_usd", &h.purchase_usd, 0, where, err) ||
            num(e, "gpus", &o->gpus, 0, where, err) ||
            num(e, "fleet_usd", &o->fleet_usd, 0, where, err))
            return -1;
        if ((o->gpus > 0) == (o->fleet_usd > 0))
            return tr_fail(err, "%s: give exactly one of 'gpus' (a cluster) or 'fleet_usd'", where);
        if (tr_ownership_per_hour(&h, &o->op, &o->per_hour, err))
            return tr_fail_context(err, "%s", where);
        o->purchase_usd = h.purchase_usd;
        o->board_power_w = h.board_power_w;
        if (o->fleet_usd > 0) {
            o->gpus = o->fleet_usd / o->per_hour.capex_per_gpu_usd;
            o->capex_usd = o->fleet_usd;
        } else {
            o->capex_usd = o->gpus * o->per_hour.capex_per_gpu_usd;
        }
        o->run_usd = r->gpu_hours * o->per_hour.total;
        o->run_days = r->gpu_hours / (r->run_gpus > 0 ? r->run_gpus : o->gpus) / 24.0;
        o->annual_usd = o->capex_usd / o->op.lifetime_years +
                        o->gpus * 8760.0 * o->op.utilization * o->per_hour.power;
        o->run_window_usd = o->annual_usd * o->run_days / 365.0;
        o->run_share = r->gpu_hours / (o->gpus * 8760.0 * o->op.utilization);
    }
    r->n_owners = n;
    return 0;
}

static int eval_api(tr_scenario_result *r, const cJSON *root, const tr_hw *hw,
                    const tr_hw_catalog *cat, const char *name, tr_err *err) {
    int n;
    const cJSON *a = array(root, "api", &n, name, err);
    if (n < 0) return -1;
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(a, i);
        tr_scen_api *s = &r->api[i];
        char where[256];
        snprintf(where, sizeof where, "%s: api[%d]", name, i);
        if (name_of(e, s->name, sizeof s->name, where, err)) return -1;
        s->active_params = r->active_params;
        s->gpus = 1;
        s->usd_per_gpu_hour = r->usd_per_gpu_hour;
        snprintf(s->precision, sizeof s->precision, "%s", r->precision);
        str(e, "precision", s->precision, sizeof s->precision);
        if (num(e, "active_params", &s->active_params, 0, where, err) ||
            num(e, "gpus", &s->gpus, 0, where, err) ||
            num(e, "usd_per_gpu_hour", &s->usd_per_gpu_hour, 0, where, err) ||
            num(e, "tokens_per_second", &s->tokens_per_second, 0, where, err) ||
            num(e, "mfu", &s->mfu, 0, where, err))
            return -1;
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "ownership"))) {
            tr_ownership_cost oc;
            if (tr_ownership_per_hour(hw, &cat->ownership, &oc, err))
                return tr_fail_context(err, "%s", where);
            s->usd_per_gpu_hour = oc.total;
        }
        if (!(s->tokens_per_second > 0)) {
            tr_precision p;
            if (tr_precision_parse(s->precision, &p))
                return tr_fail(err, "%s: precision must be bf16, fp8 or fp32", where);
            if (!(s->mfu > 0 && s->mfu <= 1) || !(s->active_params > 0))
                return tr_fail(err,
                               "%s: give 'tokens_per_second', or 'mfu' in (0, 1] and "
                               "'active_params'",
                               where);
            s->tokens_per_second =
                s->gpus * tr_decode_tokens_per_second(tr_hw_peak(hw, p), s->mfu, s->active_params);
        } else {
            s->mfu = 0;
        }
        s->usd_per_mtok = tr_api_usd_per_mtok(s->gpus, s->usd_per_gpu_hour, s->tokens_per_second);
    }
    r->n_api = n;
    a = array(root, "compare_usd_per_mtok", &n, name, err);
    if (n < 0) return -1;
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(a, i);
        char where[256];
        snprintf(where, sizeof where, "%s: compare_usd_per_mtok[%d]", name, i);
        if (name_of(e, r->refs[i].name, sizeof r->refs[i].name, where, err) ||
            num(e, "usd_per_mtok", &r->refs[i].usd_per_mtok, 1, where, err))
            return -1;
    }
    r->n_refs = n;
    return 0;
}

/* "gpu_hours", "rental_usd", "stage_gpu_hours:NAME", "stage_rental_usd:NAME",
 * "stage_flops:NAME", "api_usd_per_mtok:NAME". */
static int lookup_actual(const tr_scenario_result *r, const char *what, double *v) {
    if (strcmp(what, "gpu_hours") == 0) return *v = r->gpu_hours, 0;
    if (strcmp(what, "rental_usd") == 0) return *v = r->rental_usd, 0;
    const char *colon = strchr(what, ':');
    if (!colon) return -1;
    size_t k = (size_t)(colon - what);
    const char *arg = colon + 1;
    for (int i = 0; i < r->n_stages; i++) {
        if (strcmp(r->stages[i].name, arg) != 0) continue;
        if (k == 15 && strncmp(what, "stage_gpu_hours", k) == 0)
            return *v = r->stages[i].gpu_hours, 0;
        if (k == 16 && strncmp(what, "stage_rental_usd", k) == 0)
            return *v = r->stages[i].rental_usd, 0;
        if (k == 11 && strncmp(what, "stage_flops", k) == 0) return *v = r->stages[i].flops, 0;
    }
    for (int i = 0; i < r->n_api; i++)
        if (strcmp(r->api[i].name, arg) == 0 && k == 16 &&
            strncmp(what, "api_usd_per_mtok", k) == 0)
            return *v = r->api[i].usd_per_mtok, 0;
    return -1;
}

static int eval_checks(tr_scenario_result *r, const cJSON *root, const char *name, tr_err *err) {
    int n;
    const cJSON *a = array(root, "expect", &n, name, err);
    if (n < 0) return -1;
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(a, i);
        tr_scen_check *c = &r->checks[i];
        char where[256];
        snprintf(where, sizeof where, "%s: expect[%d]", name, i);
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(e, "what");
        if (!cJSON_IsString(w)) return tr_fail(err, "%s: field 'what' is required", where);
        snprintf(c->what, sizeof c->what, "%s", w->valuestring);
        if (num(e, "value", &c->expected, 1, where, err)) return -1;
        if (lookup_actual(r, c->what, &c->actual) != 0)
            return tr_fail(err,
                           "%s: unknown quantity '%s' (gpu_hours, rental_usd, "
                           "stage_gpu_hours:NAME, stage_rental_usd:NAME, stage_flops:NAME, "
                           "api_usd_per_mtok:NAME)",
                           where, c->what);
        c->ok = fabs(c->actual - c->expected) <= 1e-9 * fabs(c->expected);
        if (!c->ok) r->checks_failed++;
    }
    r->n_checks = n;
    return 0;
}

int tr_scenario_eval(tr_scenario_result *r, const char *text, const char *name,
                     const tr_hw_catalog *cat, tr_err *err) {
    memset(r, 0, sizeof *r);
    cJSON *root = cJSON_Parse(text);
    if (!root) return tr_fail(err, "%s: not valid JSON", name);
    int rc = -1;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "tinyr1-scenario") != 0) {
        tr_fail(err, "%s: field 'format' must be \"tinyr1-scenario\"", name);
        goto done;
    }
    if (name_of(root, r->name, sizeof r->name, name, err)) goto done;
    str(root, "title", r->title, sizeof r->title);
    str(root, "source", r->source, sizeof r->source);
    str(root, "hardware", r->hardware, sizeof r->hardware);
    const tr_hw *hw = tr_hw_find(cat, r->hardware);
    if (!hw) {
        tr_fail(err, "%s: field 'hardware' ('%s') must name an entry of the hardware catalogue",
                name, r->hardware);
        goto done;
    }
    snprintf(r->precision, sizeof r->precision, "bf16");
    str(root, "precision", r->precision, sizeof r->precision);
    tr_precision p;
    if (tr_precision_parse(r->precision, &p)) {
        tr_fail(err, "%s: precision must be bf16, fp8 or fp32", name);
        goto done;
    }
    r->usd_per_gpu_hour = hw->rental_usd_per_hour;
    if (num(root, "usd_per_gpu_hour", &r->usd_per_gpu_hour, 0, name, err)) goto done;
    if (num(root, "run_gpus", &r->run_gpus, 0, name, err)) goto done;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (model && (num(model, "total_params", &r->total_params, 0, name, err) ||
                  num(model, "active_params", &r->active_params, 0, name, err)))
        goto done;
    if (eval_stages(r, root, hw, p, name, err) || eval_owners(r, root, hw, cat, name, err) ||
        eval_api(r, root, hw, cat, name, err) || eval_checks(r, root, name, err))
        goto done;
    const cJSON *notes = cJSON_GetObjectItemCaseSensitive(root, "notes");
    const cJSON *nt;
    cJSON_ArrayForEach(nt, notes) {
        if (r->n_notes < 8 && cJSON_IsString(nt))
            snprintf(r->notes[r->n_notes++], sizeof r->notes[0], "%s", nt->valuestring);
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

int tr_scenario_eval_file(tr_scenario_result *r, const char *path, const tr_hw_catalog *cat,
                          tr_err *err) {
    char *text = tr_read_file(path, NULL, err);
    if (!text) return -1;
    int rc = tr_scenario_eval(r, text, path, cat, err);
    free(text);
    return rc;
}

/* ---- output ------------------------------------------------------------------------- */

/* 5576000 -> "5,576,000"; keeps `decimals` digits after the point. */
static const char *grouped(char *buf, size_t cap, double v, int decimals) {
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*f", decimals, fabs(v));
    char *dot = strchr(tmp, '.');
    size_t int_len = dot ? (size_t)(dot - tmp) : strlen(tmp);
    size_t o = 0;
    if (v < 0 && o + 1 < cap) buf[o++] = '-';
    for (size_t i = 0; i < int_len && o + 2 < cap; i++) {
        buf[o++] = tmp[i];
        size_t left = int_len - i - 1;
        if (left > 0 && left % 3 == 0) buf[o++] = ',';
    }
    if (dot)
        for (const char *s = dot; *s && o + 1 < cap; s++) buf[o++] = *s;
    buf[o] = '\0';
    return buf;
}

void tr_scenario_print(const tr_scenario_result *r, FILE *f) {
    char a[64], b[64], c[64], d[64], e[64];
    fprintf(f, "scenario %s: %s\n", r->name, r->title);
    if (r->source[0]) fprintf(f, "source: %s\n", r->source);
    fprintf(f, "hardware %s, rental $%.2f per GPU-hour, MFU stated against dense %s peak\n",
            r->hardware, r->usd_per_gpu_hour, r->precision);
    if (r->total_params > 0 || r->active_params > 0)
        fprintf(f, "model: %.4g total / %.4g active parameters\n", r->total_params,
                r->active_params);
    if (r->n_stages > 0) {
        fprintf(f, "\nRental view (GPU-hours x price)\n");
        fprintf(f, "| %-28s | %14s | %16s | %10s | %10s | %s\n", "stage", "GPU-hours", "rental $",
                "FLOPs", "MFU", "note");
        fprintf(f, "|%s|%s|%s|%s|%s|------\n", "------------------------------", "----------------",
                "------------------", "------------", "------------");
        for (int i = 0; i < r->n_stages; i++) {
            const tr_scen_stage *s = &r->stages[i];
            char fl[32] = "-", mf[32] = "-";
            if (s->flops > 0) snprintf(fl, sizeof fl, "%.4g", s->flops);
            if (s->mfu > 0) snprintf(mf, sizeof mf, "%.2f%%", 100.0 * s->mfu);
            fprintf(f, "| %-28s | %14s | %16s | %10s | %10s | %s\n", s->name,
                    grouped(a, sizeof a, s->gpu_hours, 0), grouped(b, sizeof b, s->rental_usd, 0),
                    fl, mf,
                    s->projected ? "projected from FLOPs at the given MFU"
                                 : (s->flops > 0 ? "MFU implied by 6 N_active D" : "reported"));
        }
        fprintf(f, "| %-28s | %14s | %16s | %10s | %10s |\n", "total",
                grouped(a, sizeof a, r->gpu_hours, 0), grouped(b, sizeof b, r->rental_usd, 0), "",
                "");
        for (int i = 0; i < r->n_stages; i++) {
            const tr_scen_stage *s = &r->stages[i];
            if (s->projected || !(s->flops > 0) || !(s->tokens > 0)) continue;
            fprintf(f,
                    "\nImplied MFU of '%s': FLOPs = 6 x N_active x D = 6 x %.4g x %.4g = %.4g;\n"
                    "  MFU = FLOPs / (GPU-hours x 3600 x peak) = %.2f%% of dense %s, %.2f%% of "
                    "dense %s\n"
                    "  (6ND counts matmul FLOPs of the active parameters only: attention scores, "
                    "MTP heads and recomputation are not in it, so this is a lower bound.)\n",
                    s->name, s->active_params, s->tokens, s->flops, 100.0 * s->mfu, r->precision,
                    100.0 * s->mfu_alt, strcmp(r->precision, "fp8") == 0 ? "bf16" : "fp8");
        }
    }
    for (int i = 0; i < r->n_owners; i++) {
        const tr_scen_owner *o = &r->owners[i];
        fprintf(f, "\nOwnership view: %s\n", o->name);
        fprintf(f,
                "  assumptions: %s GPUs%s, purchase $%s per GPU + %.0f%% for servers/network "
                "(= $%s per GPU), %.1f-year life, %.0f%% utilization,\n"
                "               power %.0f W x (1 + %.0f%% host) x PUE %.2f at $%.3f/kWh\n",
                grouped(a, sizeof a, o->gpus, 0),
                o->fleet_usd > 0 ? " (bought with the fleet budget)" : "",
                grouped(b, sizeof b, o->purchase_usd, 0), 100.0 * o->op.capex_overhead,
                grouped(c, sizeof c, o->per_hour.capex_per_gpu_usd, 0), o->op.lifetime_years,
                100.0 * o->op.utilization, o->board_power_w, 100.0 * o->op.power_overhead,
                o->op.pue, o->op.electricity_usd_per_kwh);
        fprintf(f, "  per used GPU-hour: capex $%.4f + idle share $%.4f + power $%.4f = $%.4f\n",
                o->per_hour.capex, o->per_hour.idle, o->per_hour.power, o->per_hour.total);
        fprintf(f, "  hardware capex $%s; cost per year (amortization + power) $%s\n",
                grouped(a, sizeof a, o->capex_usd, 0), grouped(b, sizeof b, o->annual_usd, 0));
        if (r->gpu_hours > 0)
            fprintf(f,
                    "  this run: %s GPU-hours = %.1f days on %s GPUs; owned cost $%s "
                    "(vs rental $%s);\n"
                    "            %.2f%% of one year of these GPUs' used hours; all of them for the "
                    "run's duration cost $%s\n",
                    grouped(a, sizeof a, r->gpu_hours, 0), o->run_days,
                    grouped(b, sizeof b, r->run_gpus > 0 ? r->run_gpus : o->gpus, 0),
                    grouped(c, sizeof c, o->run_usd, 0), grouped(d, sizeof d, r->rental_usd, 0),
                    100.0 * o->run_share, grouped(e, sizeof e, o->run_window_usd, 0));
    }
    if (r->n_api > 0 || r->n_refs > 0) {
        fprintf(f, "\nServing cost per million output tokens = GPUs x $/GPU-hour / (tokens/s x "
                   "3600) x 1e6\n");
        fprintf(f, "| %-44s | %9s | %5s | %9s | %12s | %10s |\n", "line", "params", "GPUs",
                "$/GPU-h", "tokens/s", "$/M tok");
        fprintf(f, "|----------------------------------------------|-----------|-------|-----------"
                   "|--------------|------------|\n");
        for (int i = 0; i < r->n_api; i++) {
            const tr_scen_api *s = &r->api[i];
            fprintf(f, "| %-44s | %9.3g | %5.0f | %9.4f | %12s | %10.4f |\n", s->name,
                    s->active_params, s->gpus, s->usd_per_gpu_hour,
                    grouped(a, sizeof a, s->tokens_per_second, 0), s->usd_per_mtok);
        }
        for (int i = 0; i < r->n_refs; i++)
            fprintf(f, "| %-44s | %9s | %5s | %9s | %12s | %10.2f |\n", r->refs[i].name, "", "", "",
                    "list price", r->refs[i].usd_per_mtok);
        for (int i = 0; i < r->n_refs && r->n_api > 0 && r->api[0].usd_per_mtok > 0; i++)
            fprintf(f, "%s: $%.2f per million = %.1fx the cost of '%s'\n", r->refs[i].name,
                    r->refs[i].usd_per_mtok, r->refs[i].usd_per_mtok / r->api[0].usd_per_mtok,
                    r->api[0].name);
    }
    if (r->n_checks > 0) {
        fprintf(f, "\nPublic figures reproduced:\n");
        for (int i = 0; i < r->n_checks; i++) {
            const tr_scen_check *k = &r->checks[i];
            if (fabs(k->expected) < 1e15)
                fprintf(f, "  [%s] %-40s expected %s, got %s\n", k->ok ? "ok" : "MISMATCH", k->what,
                        grouped(a, sizeof a, k->expected, 2), grouped(b, sizeof b, k->actual, 2));
            else
                fprintf(f, "  [%s] %-40s expected %.10g, got %.10g\n", k->ok ? "ok" : "MISMATCH",
                        k->what, k->expected, k->actual);
        }
    }
    for (int i = 0; i < r->n_notes; i++)
        fprintf(f, "%s%s\n", i == 0 ? "\nNotes:\n- " : "- ", r->notes[i]);
}

static void add_op(cJSON *o, const tr_ownership_params *op) {
    cJSON *a = cJSON_AddObjectToObject(o, "assumptions");
    cJSON_AddNumberToObject(a, "lifetime_years", op->lifetime_years);
    cJSON_AddNumberToObject(a, "utilization", op->utilization);
    cJSON_AddNumberToObject(a, "capex_overhead", op->capex_overhead);
    cJSON_AddNumberToObject(a, "power_overhead", op->power_overhead);
    cJSON_AddNumberToObject(a, "pue", op->pue);
    cJSON_AddNumberToObject(a, "electricity_usd_per_kwh", op->electricity_usd_per_kwh);
}

int tr_scenario_to_json(const tr_scenario_result *r, char **out, tr_err *err) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return tr_fail(err, "scenario json: out of memory");
    cJSON_AddStringToObject(root, "name", r->name);
    cJSON_AddStringToObject(root, "title", r->title);
    cJSON_AddStringToObject(root, "source", r->source);
    cJSON_AddStringToObject(root, "hardware", r->hardware);
    cJSON_AddStringToObject(root, "precision", r->precision);
    cJSON_AddNumberToObject(root, "usd_per_gpu_hour", r->usd_per_gpu_hour);
    cJSON_AddNumberToObject(root, "total_params", r->total_params);
    cJSON_AddNumberToObject(root, "active_params", r->active_params);
    cJSON_AddNumberToObject(root, "run_gpus", r->run_gpus);
    cJSON_AddNumberToObject(root, "gpu_hours", r->gpu_hours);
    cJSON_AddNumberToObject(root, "rental_usd", r->rental_usd);
    cJSON *st = cJSON_AddArrayToObject(root, "stages");
    for (int i = 0; i < r->n_stages; i++) {
        const tr_scen_stage *s = &r->stages[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", s->name);
        cJSON_AddNumberToObject(o, "gpu_hours", s->gpu_hours);
        cJSON_AddNumberToObject(o, "rental_usd", s->rental_usd);
        cJSON_AddNumberToObject(o, "tokens", s->tokens);
        cJSON_AddNumberToObject(o, "active_params", s->active_params);
        cJSON_AddNumberToObject(o, "flops", s->flops);
        cJSON_AddBoolToObject(o, "projected", s->projected);
        cJSON_AddNumberToObject(o, "mfu", s->mfu);
        cJSON_AddNumberToObject(o, "mfu_alt_precision", s->mfu_alt);
        cJSON_AddItemToArray(st, o);
    }
    cJSON *ow = cJSON_AddArrayToObject(root, "ownership");
    for (int i = 0; i < r->n_owners; i++) {
        const tr_scen_owner *s = &r->owners[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", s->name);
        cJSON_AddNumberToObject(o, "gpus", s->gpus);
        cJSON_AddNumberToObject(o, "fleet_usd", s->fleet_usd);
        cJSON_AddNumberToObject(o, "purchase_usd", s->purchase_usd);
        cJSON_AddNumberToObject(o, "board_power_w", s->board_power_w);
        add_op(o, &s->op);
        cJSON *ph = cJSON_AddObjectToObject(o, "usd_per_used_gpu_hour");
        cJSON_AddNumberToObject(ph, "capex", s->per_hour.capex);
        cJSON_AddNumberToObject(ph, "idle", s->per_hour.idle);
        cJSON_AddNumberToObject(ph, "power", s->per_hour.power);
        cJSON_AddNumberToObject(ph, "total", s->per_hour.total);
        cJSON_AddNumberToObject(o, "capex_usd", s->capex_usd);
        cJSON_AddNumberToObject(o, "annual_usd", s->annual_usd);
        cJSON_AddNumberToObject(o, "run_usd", s->run_usd);
        cJSON_AddNumberToObject(o, "run_days", s->run_days);
        cJSON_AddNumberToObject(o, "run_window_usd", s->run_window_usd);
        cJSON_AddNumberToObject(o, "run_share_of_year", s->run_share);
        cJSON_AddItemToArray(ow, o);
    }
    cJSON *ap = cJSON_AddArrayToObject(root, "api");
    for (int i = 0; i < r->n_api; i++) {
        const tr_scen_api *s = &r->api[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", s->name);
        cJSON_AddNumberToObject(o, "active_params", s->active_params);
        cJSON_AddNumberToObject(o, "gpus", s->gpus);
        cJSON_AddNumberToObject(o, "usd_per_gpu_hour", s->usd_per_gpu_hour);
        cJSON_AddNumberToObject(o, "tokens_per_second", s->tokens_per_second);
        cJSON_AddNumberToObject(o, "mfu", s->mfu);
        cJSON_AddNumberToObject(o, "usd_per_mtok", s->usd_per_mtok);
        cJSON_AddItemToArray(ap, o);
    }
    cJSON *rf = cJSON_AddArrayToObject(root, "compare_usd_per_mtok");
    for (int i = 0; i < r->n_refs; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", r->refs[i].name);
        cJSON_AddNumberToObject(o, "usd_per_mtok", r->refs[i].usd_per_mtok);
        cJSON_AddItemToArray(rf, o);
    }
    cJSON *ck = cJSON_AddArrayToObject(root, "checks");
    for (int i = 0; i < r->n_checks; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "what", r->checks[i].what);
        cJSON_AddNumberToObject(o, "expected", r->checks[i].expected);
        cJSON_AddNumberToObject(o, "actual", r->checks[i].actual);
        cJSON_AddBoolToObject(o, "ok", r->checks[i].ok);
        cJSON_AddItemToArray(ck, o);
    }
    cJSON_AddNumberToObject(root, "checks_failed", r->checks_failed);
    *out = cJSON_Print(root);
    cJSON_Delete(root);
    return *out ? 0 : tr_fail(err, "scenario json: out of memory");
}
