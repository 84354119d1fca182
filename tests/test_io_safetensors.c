/* safetensors: round trip of every dtype, a hand-written file read against the format's
 * specification, the writer's bytes against a hand-written header, dtype conversions, and
 * one test per violation the reader must refuse (with its message). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char tmpdir[64];

static void path_in_tmp(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

/* A file image: [u64 len][header][data]; hlen_override >= 0 replaces the length field. */
static uint8_t *make_image(const char *header, const void *data, size_t data_len,
                           long long hlen_override, size_t *len) {
    size_t h = strlen(header);
    *len = 8 + h + data_len;
    uint8_t *b = malloc(*len);
    uint64_t n = hlen_override >= 0 ? (uint64_t)hlen_override : h;
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(n >> (8 * i)); /* little-endian by hand */
    memcpy(b + 8, header, h);
    if (data_len) memcpy(b + 8 + h, data, data_len);
    return b;
}

/* Expects the image to be refused with a message containing every `want` substring. */
static void expect_refused(const char *what, const char *header, size_t data_len,
                           long long hlen_override, const char *want1, const char *want2) {
    uint8_t zeros[256] = {0};
    size_t len;
    uint8_t *img = make_image(header, zeros, data_len, hlen_override, &len);
    tr_safetensors *st = (tr_safetensors *)1;
    tr_err err = {{0}};
    int rc = tr_st_open_memory(&st, img, len, "bad.safetensors", &err);
    CHECK_MSG(rc == -1 && st == NULL, "%s: accepted", what);
    CHECK_MSG(strstr(err.msg, "bad.safetensors") != NULL, "%s: message lacks the file: %s", what,
              err.msg);
    CHECK_MSG(!want1 || strstr(err.msg, want1), "%s: message '%s' lacks '%s'", what, err.msg,
              want1);
    CHECK_MSG(!want2 || strstr(err.msg, want2), "%s: message '%s' lacks '%s'", what, err.msg,
              want2);
    if (rc == 0) tr_st_close(st);
    free(img);
}

static void test_violations(void) {
    const char *ok_entry = "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
    char h[512];
    /* sanity: the base case is accepted */
    snprintf(h, sizeof h, "{%s}", ok_entry);
    size_t len;
    uint8_t zeros[8] = {0};
    uint8_t *img = make_image(h, zeros, 8, -1, &len);
    tr_safetensors *st;
    tr_err err;
    CHECK(tr_st_open_memory(&st, img, len, "ok", &err) == 0);
    if (st) tr_st_close(st);
    free(img);

    expect_refused("empty header", "", 0, 0, "cannot hold a JSON object", NULL);
    {
        uint8_t four[4] = {1, 0, 0, 0};
        tr_err e2;
        CHECK(tr_st_open_memory(&st, four, 4, "bad.safetensors", &e2) == -1);
        CHECK(strstr(e2.msg, "too short") != NULL);
    }
    expect_refused("header length beyond the file", h, 8, 100000, "beyond the end of the file",
                   NULL);
    expect_refused("header length huge", h, 8, (long long)1 << 62, "beyond the end", NULL);
    expect_refused("invalid JSON", "{\"w\":{\"dtype\":\"F32\",", 8, -1, "not valid JSON", NULL);
    expect_refused("JSON not an object", "[1, 2]", 0, -1, "must be a JSON object", NULL);
    expect_refused("trailing garbage after JSON", "{} x", 0, -1, "after the header", NULL);
    expect_refused("unknown dtype",
                   "{\"w\":{\"dtype\":\"F31\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, -1,
                   "unknown dtype 'F31'", "'w'");
    expect_refused("missing dtype", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, -1,
                   "dtype", "'w'");
    expect_refused("unknown field",
                   "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8,
                   -1, "unknown field 'x'", NULL);
    expect_refused("shape / byte range mismatch",
                   "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 16, -1,
                   "needs 12", "'w'");
    expect_refused("dtype / byte range mismatch",
                   "{\"w\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,8]}}", 16, -1,
                   "needs 16", NULL);
    expect_refused("range outside the data",
                   "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8, -1,
                   "beyond the data section", "'w'");
    expect_refused("end before begin",
                   "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8, -1,
                   "end before begin", NULL);
    expect_refused("offsets not a pair",
                   "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, -1,
                   "[begin, end]", NULL);
    expect_refused("negative offset",
                   "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, -1,
                   "non-negative integers", NULL);
    expect_refused("fractional offset",
                   "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0.5,8.5]}}", 8, -1,
                   "non-negative integers", NULL);
    expect_refused("overlapping ranges",
                   "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                   16, -1, "overlap", "'a'");
    expect_refused("overlap hidden behind an empty tensor",
                   "{\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[6,14]},"
                   "\"z\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,4]},"
                   "\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}",
                   16, -1, "overlap", "'b'");
    expect_refused("negative shape",
                   "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, -1,
                   "negative", "'w'");
    expect_refused("non-integer shape",
                   "{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, -1,
                   "not an integer", NULL);
    expect_refused("overflowing shape",
                   "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
                   "\"data_offsets\":[0,8]}}",
                   8, -1, "overflows", "'w'");
    expect_refused("overflow in bytes only",
                   "{\"w\":{\"dtype\":\"F64\",\"shape\":[1099511627776,2097152],"
                   "\"data_offsets\":[0,8]}}",
                   8, -1, "overflows", NULL);
    expect_refused("too many dims",
                   "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                   "\"data_offsets\":[0,1]}}",
                   8, -1, "dimensions", NULL);
    expect_refused("metadata not an object", "{\"__metadata__\":[\"a\"]}", 0, -1, "__metadata__",
                   NULL);
    expect_refused("metadata value not a string", "{\"__metadata__\":{\"format\":1}}", 0, -1,
                   "non-string value", "'format'");
    expect_refused("metadata key twice", "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0, -1,
                   "twice", NULL);
    expect_refused("duplicate tensor names",
                   "{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                   "\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}",
                   8, -1, "'w' appears twice", NULL);
    expect_refused("duplicate __metadata__", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, -1,
                   "duplicate", NULL);
    expect_refused("entry not an object", "{\"w\":3}", 0, -1, "must be an object", NULL);
    expect_refused("empty name", "{\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
                   8, -1, "empty name", NULL);

    /* a real file whose header length runs past the end, through the mmap path */
    char p[256];
    path_in_tmp(p, sizeof p, "trunc.safetensors");
    img = make_image(h, zeros, 8, 4096, &len);
    CHECK(tr_write_file_atomic(p, img, len, &err) == 0);
    free(img);
    CHECK(tr_st_open(&st, p, &err) == -1 && st == NULL);
    CHECK_MSG(strstr(err.msg, p) && strstr(err.msg, "beyond the end"), "%s", err.msg);
    path_in_tmp(p, sizeof p, "missing.safetensors");
    CHECK(tr_st_open(&st, p, &err) == -1);
    CHECK(strstr(err.msg, "cannot open") != NULL);
}

/* A file written by hand from the specification (independent of the writer): metadata,
 * an F16 and a BF16 tensor, odd header length (unaligned data), whitespace padding. */
static void test_read_spec_file(void) {
    const char *header = "{\"__metadata__\":{\"format\":\"pt\"}, "
                         "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[6,10]},"
                         "\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]}}   ";
    /* F16: 1.0 (0x3c00), -2.0 (0xc000), 2^-24 (0x0001, smallest subnormal);
     * BF16: 1.0 (0x3f80), -0.5 (0xbf00). Little-endian bytes. */
    const uint8_t data[10] = {0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0x80, 0x3f, 0x00, 0xbf};
    size_t len;
    uint8_t *img = make_image(header, data, sizeof data, -1, &len);
    tr_safetensors *st;
    tr_err err;
    CHECK_MSG(tr_st_open_memory(&st, img, len, "spec", &err) == 0, "%s", err.msg);
    if (!st) {
        free(img);
        return;
    }
    CHECK(tr_st_count(st) == 2);
    CHECK(strcmp(tr_st_get(st, 0)->name, "b") == 0); /* header order */
    CHECK(tr_st_metadata_count(st) == 1);
    CHECK(tr_st_metadata(st, "format") && strcmp(tr_st_metadata(st, "format"), "pt") == 0);
    CHECK(tr_st_metadata(st, "absent") == NULL);
    const tr_st_tensor *th = tr_st_find(st, "h"), *tb = tr_st_find(st, "b");
    CHECK(th && tb && tr_st_find(st, "x") == NULL);
    if (th && tb) {
        CHECK(th->dtype == TR_DT_F16 && th->ndim == 1 && th->shape[0] == 3 && th->nbytes == 6);
        float out[3];
        int64_t s3 = 3, s2 = 2, s4 = 4;
        CHECK(tr_st_to_f32(st, th, out, 1, &s3, &err) == 0);
        CHECK(out[0] == 1.0f && out[1] == -2.0f && out[2] == ldexpf(1.0f, -24));
        CHECK(tr_st_to_f32(st, tb, out, 1, &s2, &err) == 0);
        CHECK(out[0] == 1.0f && out[1] == -0.5f);
        CHECK(tr_st_to_f32(st, tb, out, 1, &s4, &err) == -1);
        CHECK_MSG(strstr(err.msg, "spec") && strstr(err.msg, "'b'") && strstr(err.msg, "[2]") &&
                      strstr(err.msg, "[4]"),
                  "%s", err.msg);
    }
    tr_st_close(st);
    free(img);
}

static void test_conversions(void) {
    CHECK(tr_f16_to_f32(0x3c00) == 1.0f);
    CHECK(tr_f16_to_f32(0x7bff) == 65504.0f);          /* largest half */
    CHECK(tr_f16_to_f32(0x0400) == ldexpf(1.0f, -14)); /* smallest normal */
    CHECK(tr_f16_to_f32(0x03ff) == ldexpf(1023.0f, -24));
    CHECK(tr_f16_to_f32(0x3555) == 0.333251953125f);
    CHECK(isinf(tr_f16_to_f32(0xfc00)) && tr_f16_to_f32(0xfc00) < 0);
    CHECK(isnan(tr_f16_to_f32(0x7e00)));
    CHECK(tr_f16_to_f32(0x8000) == 0.0f && signbit(tr_f16_to_f32(0x8000)));
    /* bf16 round to nearest even: 1 + 2^-8 is halfway between 0x3f80 and 0x3f81 -> even 0x3f80;
     * 1 + 3*2^-8 halfway between 0x3f81 and 0x3f82 -> 0x3f82; just above halfway rounds up. */
    CHECK(tr_f32_to_bf16(1.0f) == 0x3f80);
    CHECK(tr_f32_to_bf16(1.0f + ldexpf(1, -8)) == 0x3f80);
    CHECK(tr_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)) == 0x3f82);
    CHECK(tr_f32_to_bf16(1.0f + ldexpf(1, -8) + ldexpf(1, -20)) == 0x3f81);
    CHECK(tr_f32_to_bf16(-2.0f) == 0xc000);
    CHECK(tr_f32_to_bf16(INFINITY) == 0x7f80);
    CHECK(tr_f32_to_bf16(3.4e38f) == 0x7f80); /* rounds past the largest bf16 -> inf */
    CHECK(isnan(tr_bf16_to_f32(tr_f32_to_bf16(NAN))));
    CHECK(tr_bf16_to_f32(0x4049) == 3.140625f);
    tr_dtype dt;
    CHECK(tr_dtype_parse("BF16", &dt) == 0 && dt == TR_DT_BF16 && tr_dtype_size(dt) == 2);
    CHECK(tr_dtype_parse("bf16", &dt) == -1);
    for (int i = 0; i < TR_DT_COUNT; i++)
        CHECK(tr_dtype_parse(tr_dtype_name((tr_dtype)i), &dt) == 0 && dt == (tr_dtype)i);
}

/* Write then read: every dtype (raw bytes), a scalar, an empty tensor, float32 sources
 * converted to BF16 / F64, metadata with characters that need escaping. */
static void test_round_trip(void) {
    char p[256];
    path_in_tmp(p, sizeof p, "rt.safetensors");
    enum { N = TR_DT_COUNT };
    uint8_t raw[N][24];
    int64_t shapes[N][2];
    tr_st_write_tensor ts[N + 4];
    char names[N][32];
    for (int i = 0; i < N; i++) {
        shapes[i][0] = 3;
        shapes[i][1] = 1;
        for (size_t k = 0; k < sizeof raw[i]; k++) raw[i][k] = (uint8_t)(i * 31 + k * 7 + 1);
        snprintf(names[i], sizeof names[i], "t.%s", tr_dtype_name((tr_dtype)i));
        ts[i] = (tr_st_write_tensor){names[i], (tr_dtype)i, 2, shapes[i], raw[i], NULL};
    }
    const float src[5] = {1.0f, -2.5f, 1.0f + 3 * ldexpf(1, -8), 1e-3f, 65504.0f};
    int64_t s5 = 5, s0 = 0;
    float scalar = 7.25f;
    ts[N + 0] = (tr_st_write_tensor){"as_bf16", TR_DT_BF16, 1, &s5, NULL, src};
    ts[N + 1] = (tr_st_write_tensor){"as_f64", TR_DT_F64, 1, &s5, NULL, src};
    ts[N + 2] = (tr_st_write_tensor){"scalar", TR_DT_F32, 0, NULL, &scalar, NULL};
    ts[N + 3] = (tr_st_write_tensor){"empty", TR_DT_F32, 1, &s0, NULL, src};
    const char *mk[2] = {"format", "note \"quoted\"\n"}, *mv[2] = {"pt", "tab\there \\ é"};
    tr_err err;
    CHECK_MSG(tr_st_write(p, ts, N + 4, mk, mv, 2, &err) == 0, "%s", err.msg);
    CHECK(access(p, F_OK) == 0);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    CHECK(access(tmp, F_OK) != 0); /* renamed away */

    /* header length: a multiple of 8 once the 8 length bytes are counted */
    size_t flen;
    char *bytes = tr_read_file(p, &flen, &err);
    CHECK(bytes != NULL);
    if (bytes) {
        uint64_t hl;
        memcpy(&hl, bytes, 8);
        CHECK((8 + hl) % 8 == 0);
        CHECK(bytes[8] == '{' && (bytes[8 + hl - 1] == ' ' || bytes[8 + hl - 1] == '}'));
        free(bytes);
    }

    tr_safetensors *st;
    CHECK_MSG(tr_st_open(&st, p, &err) == 0, "%s", err.msg);
    if (!st) return;
    CHECK(tr_st_count(st) == N + 4);
    CHECK(tr_st_metadata_count(st) == 2);
    CHECK(tr_st_metadata(st, "format") && strcmp(tr_st_metadata(st, "format"), "pt") == 0);
    const char *v = tr_st_metadata(st, "note \"quoted\"\n");
    CHECK(v && strcmp(v, "tab\there \\ é") == 0);
    for (int i = 0; i < N; i++) {
        const tr_st_tensor *t = tr_st_find(st, names[i]);
        CHECK_MSG(t != NULL, "%s missing", names[i]);
        if (!t) continue;
        CHECK(t == tr_st_get(st, i));
        CHECK(t->dtype == (tr_dtype)i && t->ndim == 2 && t->shape[0] == 3 && t->shape[1] == 1);
        CHECK(t->nbytes == 3 * tr_dtype_size((tr_dtype)i));
        CHECK(memcmp(t->data, raw[i], t->nbytes) == 0);
    }
    float out[5];
    const tr_st_tensor *t = tr_st_find(st, "as_f64");
    CHECK(t && t->dtype == TR_DT_F64 && tr_st_to_f32(st, t, out, 1, &s5, &err) == 0);
    CHECK(memcmp(out, src, sizeof src) == 0);
    t = tr_st_find(st, "as_bf16");
    CHECK(t && t->dtype == TR_DT_BF16 && tr_st_to_f32(st, t, out, 1, &s5, &err) == 0);
    CHECK(out[0] == 1.0f && out[1] == -2.5f && out[2] == 1.015625f);
    CHECK(out[3] == tr_bf16_to_f32(0x3a83)); /* 1e-3 = 0x3a83126f -> 0x3a83 */
    CHECK(out[4] == 65536.0f);               /* 65504 = 0x477fe000 rounds up to 0x4780 */
    t = tr_st_find(st, "scalar");
    CHECK(t && t->ndim == 0 && t->numel == 1 && tr_st_to_f32(st, t, out, 0, NULL, &err) == 0 &&
          out[0] == 7.25f);
    t = tr_st_find(st, "empty");
    CHECK(t && t->numel == 0 && t->nbytes == 0);
    t = tr_st_find(st, "t.I32");
    CHECK(t && tr_st_to_f32(st, t, out, 0, NULL, &err) == -1 && strstr(err.msg, "I32"));
    tr_st_close(st);

    /* the writer's exact bytes for a tiny file, against a header written by hand */
    const float two[2] = {1.0f, 2.0f};
    int64_t s2 = 2;
    tr_st_write_tensor one = {"w", TR_DT_F32, 1, &s2, two, NULL};
    const char *k1 = "format", *v1 = "pt";
    CHECK(tr_st_write(p, &one, 1, &k1, &v1, 1, &err) == 0);
    bytes = tr_read_file(p, &flen, &err);
    const char *want =
        "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2],"
        "\"data_offsets\":[0,8]}}";
    size_t wl = strlen(want), padded = (wl + 7) / 8 * 8;
    CHECK(bytes && flen == 8 + padded + 8);
    if (bytes && flen == 8 + padded + 8) {
        CHECK((uint8_t)bytes[0] == padded && bytes[1] == 0 && bytes[7] == 0);
        CHECK(memcmp(bytes + 8, want, wl) == 0);
        for (size_t i = wl; i < padded; i++) CHECK(bytes[8 + i] == ' ');
        CHECK(memcmp(bytes + 8 + padded, two, 8) == 0);
    }
    free(bytes);

    /* writer argument checks */
    tr_st_write_tensor dup[2] = {one, one};
    CHECK(tr_st_write(p, dup, 2, NULL, NULL, 0, &err) == -1 && strstr(err.msg, "twice"));
    tr_st_write_tensor bad = {"x", TR_DT_I32, 1, &s2, NULL, two};
    CHECK(tr_st_write(p, &bad, 1, NULL, NULL, 0, &err) == -1 && strstr(err.msg, "float32"));
    tr_st_write_tensor meta = {"__metadata__", TR_DT_F32, 1, &s2, two, NULL};
    CHECK(tr_st_write(p, &meta, 1, NULL, NULL, 0, &err) == -1);
    path_in_tmp(tmp, sizeof tmp, "no/such/dir/x.safetensors");
    CHECK(tr_st_write(tmp, &one, 1, NULL, NULL, 0, &err) == -1 && strstr(err.msg, "cannot create"));
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tinyr1_st_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    test_conversions();
    test_read_spec_file();
    test_violations();
    test_round_trip();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return tu_finish("test_io_safetensors");
}
