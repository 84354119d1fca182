#include "model/config_json.h"

#include <math.h>
#include <string.h>

typedef struct {
    const char *name;
    int is_float;
    size_t offset;
} field;

#define INT_FIELD(f) {#f, 0, offsetof(tr_config, f)}
#define FLOAT_FIELD(f) {#f, 1, offsetof(tr_config, f)}
static const field fields[] = {
    INT_FIELD(vocab),      INT_FIELD(dim),        INT_FIELD(n_layers),
    INT_FIELD(n_heads),    INT_FIELD(n_kv_heads), INT_FIELD(head_dim),
    INT_FIELD(hidden_dim), INT_FIELD(max_seq),    FLOAT_FIELD(rope_theta),
    FLOAT_FIELD(norm_eps), INT_FIELD(tied_embeddings), INT_FIELD(qkv_bias),
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

cJSON *tr_config_to_json(const tr_config *c) {
    cJSON *j = cJSON_CreateObject();
    for (size_t i = 0; i < N_FIELDS; i++) {
        const char *p = (const char *)c + fields[i].offset;
        double v = fields[i].is_float ? (double)*(const float *)p : (double)*(const int *)p;
        cJSON_AddNumberToObject(j, fields[i].name, v);
    }
    return j;
}

int tr_config_from_json(const cJSON *obj, tr_config *c, int require_all, const char *where,
                        tr_err *err) {
    if (!cJSON_IsObject(obj)) return tr_fail(err, "%s: model config: expected a JSON object", where);
    const cJSON *item;
    cJSON_ArrayForEach(item, obj) {
        size_t i = 0;
        while (i < N_FIELDS && strcmp(fields[i].name, item->string) != 0) i++;
        if (i == N_FIELDS)
            return tr_fail(err, "%s: model config: unknown field \"%s\"", where, item->string);
        if (!cJSON_IsNumber(item))
            return tr_fail(err, "%s: model config field \"%s\": expected a number", where,
                           item->string);
        char *p = (char *)c + fields[i].offset;
        double v = item->valuedouble;
        if (fields[i].is_float) {
            *(float *)p = (float)v;
        } else {
            if (v != floor(v) || v < -2147483648.0 || v > 2147483647.0)
                return tr_fail(err, "%s: model config field \"%s\": expected an integer, got %g",
                               where, item->string, v);
            *(int *)p = (int)v;
        }
    }
    if (require_all)
        for (size_t i = 0; i < N_FIELDS; i++)
            if (!cJSON_GetObjectItemCaseSensitive(obj, fields[i].name))
                return tr_fail(err, "%s: model config: field \"%s\" is missing", where,
                               fields[i].name);
    return 0;
}
