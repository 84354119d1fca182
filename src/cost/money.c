/* The money model: hardware catalogue, rental and ownership views, projections. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tinyr1/cost.h"

#define HOURS_PER_YEAR 8760.0

const char *tr_config_dir(void) {
    const char *d = getenv("TINYR1_CONFIG_DIR");
    if (d && *d) return d;
#ifdef TR_SOURCE_DIR
    return TR_SOURCE_DIR "/configs";
#else
    return "configs";
#endif
}

const char *tr_precision_name(tr_precision p) {
    switch (p) {
    case TR_PREC_BF16:
        return "bf16";
    case TR_PREC_FP8:
        return "fp8";
    case TR_PREC_FP32:
        return "fp32";
    }
    return "?";
}

int tr_precision_parse(const char *s, tr_precision *p) {
    if (!s) return -1;
    if (strcasecmp(s, "bf16") == 0)
        *p = TR_PREC_BF16;
    else if (strcasecmp(s, "fp8") == 0)
        *p = TR_PREC_FP8;
    else if (strcasecmp(s, "fp32") == 0)
        *p = TR_PREC_FP32;
    else
        return -1;
    return 0;
}

double tr_hw_peak(const tr_hw *hw, tr_precision p) {
    switch (p) {
    case TR_PREC_BF16:
        return hw->peak_bf16;
    case TR_PREC_FP8:
        return hw->peak_fp8;
    case TR_PREC_FP32:
        return hw->peak_fp32;
    }
    return 0.0;
}

/* Optional number: returns 1 and sets *v when present; -1 when present but not a number. */
static int opt_num(const cJSON *o, const char *key, double *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!x) return 0;
    if (!cJSON_IsNumber(x)) return -1;
    *v = x->valuedouble;
    return 1;
}

static void opt_str(const cJSON *o, const char *key, char *dst, size_t cap) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsString(x)) snprintf(dst, cap, "%s", x->valuestring);
}

static int req_num(const cJSON *o, const char *key, double *v, const char *where, tr_err *err) {
    int r = opt_num(o, key, v);
    if (r == 1) return 0;
    return tr_fail(err, "%s: field '%s' %s", where, key,
                   r == 0 ? "is required (a number)" : "must be a number");
}

static int parse_ownership(const cJSON *o, tr_ownership_params *op, const char *where,
                           tr_err *err) {
    struct {
        const char *key;
        double *dst;
    } f[] = {{"lifetime_years", &op->lifetime_years},
             {"utilization", &op->utilization},
             {"capex_overhead", &op->capex_overhead},
             {"power_overhead", &op->power_overhead},
             {"pue", &op->pue},
             {"electricity_usd_per_kwh", &op->electricity_usd_per_kwh}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (opt_num(o, f[i].key, f[i].dst) < 0)
            return tr_fail(err, "%s: field '%s' must be a number", where, f[i].key);
    if (!(op->lifetime_years > 0)) return tr_fail(err, "%s: lifetime_years must be > 0", where);
    if (!(op->utilization > 0 && op->utilization <= 1))
        return tr_fail(err, "%s: utilization must be in (0, 1]", where);
    if (!(op->pue >= 1)) return tr_fail(err, "%s: pue must be >= 1", where);
    if (op->capex_overhead < 0 || op->power_overhead < 0 || op->electricity_usd_per_kwh < 0)
        return tr_fail(err, "%s: overheads and electricity price must be >= 0", where);
    return 0;
}

int tr_hw_catalog_parse(tr_hw_catalog *cat, const char *text, const char *name, tr_err *err) {
    memset(cat, 0, sizeof *cat);
    cJSON *root = cJSON_Parse(text);
    if (!root) return tr_fail(err, "%s: not valid JSON", name);
    int rc = -1;
    char where[256];
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "tinyr1-hardware") != 0) {
        tr_fail(err, "%s: field 'format' must be \"tinyr1-hardware\"", name);
        goto done;
    }
    const cJSON *own = cJSON_GetObjectItemCaseSensitive(root, "ownership_defaults");
    if (!cJSON_IsObject(own)) {
        tr_fail(err, "%s: object 'ownership_defaults' is required", name);
        goto done;
    }
    snprintf(where, sizeof where, "%s: ownership_defaults", name);
    tr_ownership_params *op = &cat->ownership;
    if (req_num(own, "lifetime_years", &op->lifetime_years, where, err) ||
        req_num(own, "utilization", &op->utilization, where, err) ||
        req_num(own, "capex_overhead", &op->capex_overhead, where, err) ||
        req_num(own, "power_overhead", &op->power_overhead, where, err) ||
        req_num(own, "pue", &op->pue, where, err) ||
        req_num(own, "electricity_usd_per_kwh", &op->electricity_usd_per_kwh, where, err) ||
        parse_ownership(own, op, where, err))
        goto done;
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(root, "cpu");
    if (cJSON_IsObject(cpu)) {
        snprintf(where, sizeof where, "%s: cpu", name);
        if (req_num(cpu, "core_hour_usd", &cat->cpu_core_hour_usd, where, err)) goto done;
        opt_str(cpu, "source", cat->cpu_source, sizeof cat->cpu_source);
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "hardware");
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0) {
        tr_fail(err, "%s: array 'hardware' is required and must not be empty", name);
        goto done;
    }
    cat->n = cJSON_GetArraySize(list);
    cat->hw = tr_calloc((size_t)cat->n, sizeof *cat->hw, err);
    if (!cat->hw) goto done;
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        tr_hw *h = &cat->hw[i];
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (!cJSON_IsString(nm) || !nm->valuestring[0]) {
            tr_fail(err, "%s: hardware[%d]: field 'name' is required (a string)", name, i);
            goto done;
        }
        snprintf(h->name, sizeof h->name, "%s", nm->valuestring);
        snprintf(h->kind, sizeof h->kind, "gpu");
        opt_str(e, "kind", h->kind, sizeof h->kind);
        snprintf(where, sizeof where, "%s: hardware '%s'", name, h->name);
        const cJSON *pk = cJSON_GetObjectItemCaseSensitive(e, "peak_tflops");
        if (!cJSON_IsObject(pk)) {
            tr_fail(err, "%s: object 'peak_tflops' is required", where);
            goto done;
        }
        if (opt_num(pk, "bf16", &h->peak_bf16) < 0 || opt_num(pk, "fp8", &h->peak_fp8) < 0 ||
            opt_num(pk, "fp32", &h->peak_fp32) < 0) {
            tr_fail(err, "%s: peak_tflops values must be numbers", where);
            goto done;
        }
        h->peak_bf16 *= 1e12;
        h->peak_fp8 *= 1e12;
        h->peak_fp32 *= 1e12;
        if (opt_num(e, "memory_gb", &h->memory_gb) < 0 ||
            opt_num(e, "mem_bw_gbs", &h->mem_bw_gbs) < 0 ||
            opt_num(e, "board_power_w", &h->board_power_w) < 0 ||
            opt_num(e, "purchase_usd", &h->purchase_usd) < 0 ||
            opt_num(e, "rental_usd_per_hour", &h->rental_usd_per_hour) < 0) {
            tr_fail(err, "%s: numeric fields must be numbers", where);
            goto done;
        }
        opt_str(e, "source_specs", h->source_specs, sizeof h->source_specs);
        opt_str(e, "source_prices", h->source_prices, sizeof h->source_prices);
        if (strcmp(h->kind, "gpu") == 0 && (!h->source_specs[0] || !h->source_prices[0])) {
            tr_fail(err, "%s: every GPU entry needs 'source_specs' and 'source_prices'", where);
            goto done;
        }
        i++;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    if (rc != 0) tr_hw_catalog_free(cat);
    return rc;
}

int tr_hw_catalog_load(tr_hw_catalog *cat, const char *path, tr_err *err) {
    char *text = tr_read_file(path, NULL, err);
    if (!text) return -1;
    int rc = tr_hw_catalog_parse(cat, text, path, err);
    free(text);
    return rc;
}

void tr_hw_catalog_free(tr_hw_catalog *cat) {
    free(cat->hw);
    memset(cat, 0, sizeof *cat);
}

const tr_hw *tr_hw_find(const tr_hw_catalog *cat, const char *name) {
    for (int i = 0; i < cat->n; i++)
        if (strcasecmp(cat->hw[i].name, name) == 0) return &cat->hw[i];
    return NULL;
}

double tr_rental_usd(double gpu_hours, double usd_per_hour) {
    return gpu_hours * usd_per_hour;
}

int tr_ownership_per_hour(const tr_hw *hw, const tr_ownership_params *op, tr_ownership_cost *out,
                          tr_err *err) {
    memset(out, 0, sizeof *out);
    if (!(hw->purchase_usd > 0)) return tr_fail(err, "%s: no purchase price", hw->name);
    if (!(op->lifetime_years > 0) || !(op->utilization > 0 && op->utilization <= 1))
        return tr_fail(err, "ownership: lifetime_years > 0 and utilization in (0, 1] expected");
    out->capex_per_gpu_usd = hw->purchase_usd * (1.0 + op->capex_overhead);
    double c = out->capex_per_gpu_usd / (op->lifetime_years * HOURS_PER_YEAR);
    out->capex = c;
    out->idle = c * (1.0 - op->utilization) / op->utilization;
    out->power = hw->board_power_w / 1000.0 * (1.0 + op->power_overhead) * op->pue *
                 op->electricity_usd_per_kwh;
    out->total = out->capex + out->idle + out->power;
    return 0;
}

int tr_project(double flops, const tr_hw *hw, tr_precision p, double mfu,
               const tr_ownership_params *op, tr_projection *out, tr_err *err) {
    memset(out, 0, sizeof *out);
    double peak = tr_hw_peak(hw, p);
    if (!(peak > 0))
        return tr_fail(err, "%s: no %s peak in the catalogue", hw->name, tr_precision_name(p));
    if (!(mfu > 0 && mfu <= 1)) return tr_fail(err, "projection: mfu must be in (0, 1]");
    out->device_hours = flops / (peak * mfu) / 3600.0;
    out->rental_usd = out->device_hours * hw->rental_usd_per_hour;
    tr_ownership_cost oc;
    if (op && hw->purchase_usd > 0 && tr_ownership_per_hour(hw, op, &oc, NULL) == 0)
        out->ownership_usd = out->device_hours * oc.total;
    return 0;
}

double tr_implied_mfu(double flops, double gpu_hours, double peak_flops) {
    if (!(gpu_hours > 0) || !(peak_flops > 0)) return 0.0;
    return flops / (gpu_hours * 3600.0 * peak_flops);
}

double tr_api_usd_per_mtok(double gpus, double usd_per_gpu_hour, double tokens_per_second) {
    if (!(tokens_per_second > 0)) return 0.0;
    return gpus * usd_per_gpu_hour / (tokens_per_second * 3600.0) * 1e6;
}

double tr_decode_tokens_per_second(double peak_flops, double mfu, double active_params) {
    if (!(active_params > 0)) return 0.0;
    return peak_flops * mfu / (2.0 * active_params);
}
