/* JSONL reading (FILE:LINE errors, skip-bad counting), dataset kinds, and batch filling
 * (expected batches written out by hand). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char tmpdir[256];

static const char *write_tmp(const char *name, const char *text, size_t len) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fwrite(text, 1, len, f);
        fclose(f);
    }
    return path;
}

/* Reads every row; returns the number of rows, -1 on error (message in err). */
static int read_all(tr_jsonl *r, tr_err *err) {
    int rows = 0;
    for (;;) {
        cJSON *o;
        int got = tr_jsonl_next(r, &o, err);
        if (got < 0) return -1;
        if (got == 0) return rows;
        cJSON_Delete(o);
        rows++;
    }
}

static void test_jsonl_errors(void) {
    /* line 1 ok, 2 blank, 3 bad JSON, 4 an array, 5 ok with CRLF, 6 trailing text, 7 bad
     * UTF-8, 8 too long (limit 64), 9 a NUL byte, 10 ok without a final newline */
    static const char text[] =
        "{\"text\": \"a\"}\n"
        "   \n"
        "{\"text\": \"b\"\n"
        "[1, 2]\n"
        "{\"text\": \"c\"}\r\n"
        "{\"text\": \"d\"} x\n"
        "{\"text\": \"\xC3\x28\"}\n"
        "{\"text\": \"0123456789012345678901234567890123456789012345678901234567890123456789\"}\n"
        "{\"text\": \"\0\"}\n"
        "{\"text\": \"e\"}";
    const char *path = write_tmp("bad.jsonl", text, sizeof text - 1);
    struct {
        int line;
        const char *what;
    } expect[] = {{3, "invalid JSON"},         {4, "expected a JSON object, got an array"},
                  {6, "extra text"},           {7, "invalid UTF-8"},
                  {8, "longer than 64 bytes"}, {9, "NUL byte"}};
    tr_jsonl r;
    tr_err err;
    /* strict: each error stops the reader; reopen and skip past it to see the next */
    CHECK(tr_jsonl_open(&r, path, 64, 0, &err) == 0);
    int seen = 0;
    for (;;) {
        cJSON *o;
        int got = tr_jsonl_next(&r, &o, &err);
        if (got == 0) break;
        if (got == 1) {
            cJSON_Delete(o);
            continue;
        }
        char want[600];
        snprintf(want, sizeof want, "%s:%d: ", path, expect[seen].line);
        CHECK_MSG(strncmp(err.msg, want, strlen(want)) == 0 && strstr(err.msg, expect[seen].what),
                  "got \"%s\", expected \"%s%s\"", err.msg, want, expect[seen].what);
        seen++;
        if (seen == 6) break;
    }
    CHECK(seen == 6);
    tr_jsonl_close(&r);
    /* skip-bad: 3 rows read (lines 1, 5, 10), 6 lines counted and the first one named */
    CHECK(tr_jsonl_open(&r, path, 64, 1, &err) == 0);
    CHECK(read_all(&r, &err) == 3);
    CHECK(r.n_bad == 6);
    CHECK(r.n_rows == 3);
    CHECK(r.line_no == 10);
    CHECK(strstr(r.first_bad, ":3: invalid JSON") != NULL);
    tr_jsonl_close(&r);
    /* the same from memory */
    CHECK(tr_jsonl_open_mem(&r, "mem", text, sizeof text - 1, 64, 1, &err) == 0);
    CHECK(read_all(&r, &err) == 3 && r.n_bad == 6);
    tr_jsonl_close(&r);
    /* a missing file */
    CHECK(tr_jsonl_open(&r, "/nonexistent/x.jsonl", 0, 0, &err) == -1 &&
          strstr(err.msg, "cannot open"));
    /* UTF-8 checker */
    CHECK(tr_utf8_invalid_at("abc", 3) == -1);
    CHECK(tr_utf8_invalid_at("\xE5\xB0\x8F", 3) == -1);     /* 小 */
    CHECK(tr_utf8_invalid_at("a\xE5\xB0", 3) == 1);         /* truncated */
    CHECK(tr_utf8_invalid_at("\xC0\xAF", 2) == 0);          /* overlong */
    CHECK(tr_utf8_invalid_at("\xED\xA0\x80", 3) == 0);      /* surrogate */
    CHECK(tr_utf8_invalid_at("\xF4\x90\x80\x80", 4) == 0);  /* > U+10FFFF */
    CHECK(tr_utf8_invalid_at("\xF0\x9F\x98\x80", 4) == -1); /* emoji */
}

static void test_kinds(void) {
    struct {
        const char *row;
        tr_ds_kind kind;
    } rows[] = {
        {"{\"text\": \"hi\"}", TR_DS_TEXT},
        {"{\"prompt\": \"p\", \"completion\": \"c\"}", TR_DS_PC},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}]}", TR_DS_MESSAGES},
        {"{\"nums\": [1, 2], \"target\": 3, \"solution\": \"s\"}", TR_DS_COUNTDOWN},
        {"{\"problem\": \"p\", \"answer\": 27.0, \"question\": \"p\"}", TR_DS_PROBLEM},
        {"{\"question\": \"q\", \"answer\": \"x\\n#### 1,000\"}", TR_DS_GSM8K},
        {"{\"foo\": 1}", TR_DS_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        cJSON *o = cJSON_Parse(rows[i].row);
        CHECK(o && tr_ds_detect(o) == rows[i].kind);
        tr_example ex;
        memset(&ex, 0, sizeof ex);
        tr_err err;
        int rc = tr_example_from_json(&ex, o, TR_DS_UNKNOWN, "f:1", &err);
        CHECK(rc == (rows[i].kind == TR_DS_UNKNOWN ? -1 : 0));
        if (rows[i].kind == TR_DS_PROBLEM) CHECK(ex.answer && strcmp(ex.answer, "27") == 0);
        if (rows[i].kind == TR_DS_GSM8K) CHECK(ex.answer && strcmp(ex.answer, "1,000") == 0);
        if (rows[i].kind == TR_DS_COUNTDOWN)
            CHECK(ex.n_nums == 2 && ex.target == 3 && strcmp(ex.answer, "3") == 0);
        if (rows[i].kind == TR_DS_MESSAGES)
            CHECK(ex.n_messages == 1 && strcmp(ex.messages[0].content, "q") == 0);
        tr_example_free(&ex);
        cJSON_Delete(o);
    }
    /* field errors name the place and the field */
    struct {
        const char *row;
        tr_ds_kind kind;
        const char *msg;
    } bad[] = {
        {"{\"question\": \"q\", \"answer\": \"no final line\"}", TR_DS_GSM8K,
         "f:7: field \"answer\" has no final \"#### N\""},
        {"{\"nums\": \"1 2\", \"target\": 3}", TR_DS_COUNTDOWN,
         "f:7: field \"nums\" must be an array"},
        {"{\"nums\": [1, 2.5], \"target\": 3}", TR_DS_COUNTDOWN,
         "f:7: field \"nums\"[1] must be an integer"},
        {"{\"prompt\": 5, \"completion\": \"c\"}", TR_DS_PC,
         "f:7: field \"prompt\" must be a string"},
        {"{\"messages\": [{\"role\": \"user\"}]}", TR_DS_MESSAGES,
         "f:7: messages[0]: missing field \"content\""},
        {"{\"text\": \"x\"}", TR_DS_GSM8K, "f:7: missing field \"question\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *o = cJSON_Parse(bad[i].row);
        tr_example ex;
        memset(&ex, 0, sizeof ex);
        tr_err err;
        CHECK(tr_example_from_json(&ex, o, bad[i].kind, "f:7", &err) == -1);
        CHECK_MSG(strstr(err.msg, bad[i].msg) != NULL, "\"%s\" lacks \"%s\"", err.msg, bad[i].msg);
        cJSON_Delete(o);
    }
}

static void test_dataset_load(void) {
    static const char text[] = "{\"question\": \"q1\", \"answer\": \"a\\n#### 5\"}\n"
                               "{\"question\": \"q2\", \"answer\": \"no hashes\"}\n"
                               "not json\n"
                               "{\"question\": \"q3\", \"answer\": \"b\\n#### -2\"}\n";
    const char *path = write_tmp("gsm.jsonl", text, sizeof text - 1);
    tr_dataset ds;
    tr_err err;
    CHECK(tr_dataset_load(&ds, path, NULL, &err) == -1);
    char want[600];
    snprintf(want, sizeof want, "%s:2: field \"answer\" has no final", path);
    CHECK_MSG(strstr(err.msg, want) != NULL, "%s", err.msg);
    tr_dataset_params p = tr_dataset_default_params();
    p.skip_bad = 1;
    CHECK(tr_dataset_load(&ds, path, &p, &err) == 0);
    CHECK(ds.n == 2 && ds.n_bad == 2 && ds.kind == TR_DS_GSM8K);
    CHECK(ds.n == 2 && ds.ex[1].line == 4 && strcmp(ds.ex[1].answer, "-2") == 0);
    CHECK(strstr(ds.first_bad, ":2:") != NULL);
    tr_dataset_free(&ds);
    p.limit = 1;
    CHECK(tr_dataset_load(&ds, path, &p, &err) == 0 && ds.n == 1);
    tr_dataset_free(&ds);
    /* a row of another kind is an error too */
    static const char mixed[] = "{\"text\": \"a\"}\n{\"prompt\": \"p\", \"completion\": \"c\"}\n";
    path = write_tmp("mixed.jsonl", mixed, sizeof mixed - 1);
    CHECK(tr_dataset_load(&ds, path, NULL, &err) == -1 &&
          strstr(err.msg, ":2: missing field \"text\""));
    /* empty */
    path = write_tmp("empty.jsonl", "\n\n", 2);
    CHECK(tr_dataset_load(&ds, path, NULL, &err) == -1 && strstr(err.msg, "no valid rows"));
}

static void test_batch_fill(void) {
    tr_batch b;
    tr_err err;
    CHECK(tr_batch_alloc(&b, 3, 6, &err) == 0);
    /* row 0: prompt [1,2,3] + completion [4,5,9]: fits (6 <= T+1) */
    const int32_t p0[] = {1, 2, 3}, c0[] = {4, 5, 9};
    /* row 1: prompt [1,2] + completion [3..9] (9 tokens > 7): truncated */
    const int32_t p1[] = {1, 2}, c1[] = {3, 4, 5, 6, 7, 8, 9};
    tr_seq seqs[2] = {{p0, 3, c0, 3}, {p1, 2, c1, 7}};
    tr_batch_fill_stats st;
    CHECK(tr_batch_fill(&b, seqs, 2, 0, TR_TRUNC_RIGHT, &st, &err) == 0);
    const int32_t tok0[] = {1, 2, 3, 4, 5, 9}, tgt0[] = {2, 3, 4, 5, 9, -1};
    const float w0[] = {0, 0, 1, 1, 1, 0};
    const int32_t tok1[] = {1, 2, 3, 4, 5, 6}, tgt1[] = {2, 3, 4, 5, 6, 7};
    const float w1[] = {0, 1, 1, 1, 1, 1};
    for (int t = 0; t < 6; t++) {
        CHECK(b.tokens[t] == tok0[t] && b.targets[t] == tgt0[t] && b.weights[t] == w0[t]);
        CHECK(b.tokens[6 + t] == tok1[t] && b.targets[6 + t] == tgt1[t] &&
              b.weights[6 + t] == w1[t]);
        CHECK(b.tokens[12 + t] == 0 && b.targets[12 + t] == -1 &&
              b.weights[12 + t] == 0); /* padding row */
    }
    CHECK(b.lengths[0] == 6 && b.lengths[1] == 6 && b.lengths[2] == 0);
    CHECK(st.n_truncated == 1 && st.n_dropped == 2 && st.n_trained == 3 + 5);
    CHECK(tr_batch_weight_sum(&b) == 8);
    /* left truncation keeps the end: the last 7 tokens [3..9], all completion */
    CHECK(tr_batch_fill(&b, seqs + 1, 1, -7, TR_TRUNC_LEFT, &st, &err) == 0);
    const int32_t tok2[] = {3, 4, 5, 6, 7, 8}, tgt2[] = {4, 5, 6, 7, 8, 9};
    for (int t = 0; t < 6; t++)
        CHECK(b.tokens[t] == tok2[t] && b.targets[t] == tgt2[t] && b.weights[t] == 1);
    CHECK(b.tokens[6] == -7 && b.lengths[1] == 0);
    /* short rows: a pad id of -7 after the real tokens; a short prompt-only example */
    const int32_t p3[] = {5, 6};
    tr_seq s3 = {p3, 2, NULL, 0};
    CHECK(tr_batch_fill(&b, &s3, 1, 99, TR_TRUNC_ERROR, NULL, &err) == 0);
    CHECK(b.tokens[0] == 5 && b.tokens[1] == 6 && b.tokens[2] == 99 && b.targets[0] == 6 &&
          b.weights[0] == 0);
    CHECK(b.targets[1] == -1 && b.lengths[0] == 2 && tr_batch_weight_sum(&b) == 0);
    /* plain ids: every target trained */
    const int32_t ids[] = {10, 11, 12};
    tr_seq s4 = {NULL, 0, ids, 3};
    CHECK(tr_batch_fill(&b, &s4, 1, 0, TR_TRUNC_ERROR, NULL, &err) == 0);
    CHECK(b.weights[0] == 1 && b.weights[1] == 1 && b.weights[2] == 0 && b.targets[1] == 12);
    /* errors */
    CHECK(tr_batch_fill(&b, seqs + 1, 1, 0, TR_TRUNC_ERROR, NULL, &err) == -1 &&
          strstr(err.msg, "more than T+1"));
    CHECK(tr_batch_fill(&b, seqs, 4, 0, TR_TRUNC_RIGHT, NULL, &err) == -1);
    tr_batch_free(&b);
    /* left truncation with part of the prompt kept: prompt [1,2,3,4] + [5,6,7], T=4 */
    CHECK(tr_batch_alloc(&b, 1, 4, &err) == 0);
    const int32_t p5[] = {1, 2, 3, 4}, c5[] = {5, 6, 7};
    tr_seq s5 = {p5, 4, c5, 3};
    CHECK(tr_batch_fill(&b, &s5, 1, 0, TR_TRUNC_LEFT, &st, &err) == 0);
    const int32_t tok5[] = {3, 4, 5, 6}, tgt5[] = {4, 5, 6, 7};
    const float w5[] = {0, 1, 1, 1};
    for (int t = 0; t < 4; t++)
        CHECK(b.tokens[t] == tok5[t] && b.targets[t] == tgt5[t] && b.weights[t] == w5[t]);
    tr_batch_free(&b);
    /* a token stream: ids 0..9, B=2, T=4 */
    int32_t stream[10];
    for (int i = 0; i < 10; i++) stream[i] = i;
    CHECK(tr_batch_alloc(&b, 2, 4, &err) == 0);
    CHECK(tr_batch_fill_stream(&b, stream, 10, 0, -1) == 8);
    for (int t = 0; t < 4; t++) {
        CHECK(b.tokens[t] == t && b.targets[t] == t + 1 && b.weights[t] == 1);
        CHECK(b.tokens[4 + t] == 4 + t && b.targets[4 + t] == 5 + t);
    }
    CHECK(tr_batch_fill_stream(&b, stream, 10, 8, -1) == 1);
    CHECK(b.tokens[0] == 8 && b.tokens[1] == 9 && b.targets[0] == 9 && b.targets[1] == -1 &&
          b.weights[1] == 0);
    CHECK(b.lengths[0] == 2 && b.lengths[1] == 0 && b.tokens[4] == -1);
    CHECK(tr_batch_fill_stream(&b, stream, 10, 9, -1) == 0);
    tr_batch_free(&b);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tinyr1_test_data_%d", (int)getpid());
    tr_err err;
    CHECK(tr_mkdirs(tmpdir, &err) == 0);
    test_jsonl_errors();
    test_kinds();
    test_dataset_load();
    test_batch_fill();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return tu_finish("test_data");
}
