/* tinyr1 — datasets: a JSONL reader and readers for the dataset formats tinyr1 trains and
 * evaluates on.
 *
 * JSONL: one JSON object per line (UTF-8, '\n' or "\r\n" line ends). Blank lines (only
 * spaces, tabs, '\r') are skipped and not counted as rows. A line longer than max_line
 * bytes, a line that is not valid JSON, a value that is not an object, or a line with
 * invalid UTF-8 is an error reported as
 *     FILE:LINE: what is wrong
 * (LINE counts from 1 and counts every physical line, blank ones included). In skip_bad
 * mode such lines are skipped instead and counted (tr_jsonl.n_bad); the first skipped
 * line's message is kept (tr_jsonl.first_bad) for a summary.
 *
 * Dataset formats (tr_ds_kind), detected from the first valid row's fields:
 *   TR_DS_MESSAGES   {"messages": [{"role": "system|user|assistant", "content": "..."}, ...]}
 *   TR_DS_TEXT       {"text": "..."}                                   (pretraining text)
 *   TR_DS_PC         {"prompt": "...", "completion": "..."} (+ optional "answer", "task",
 *                    "lang", "nums", "target"; what `tinyr1 data gen` writes)
 *   TR_DS_COUNTDOWN  {"nums": [int...], "target": int, "solution": "..."}  (TinyZero)
 *   TR_DS_PROBLEM    {"problem": "...", "answer": "..." | number, "solution"?: "..."}
 *                    (MATH-500, AIME 2024, AMC 2023: AMC's answer is a JSON number)
 *   TR_DS_GSM8K      {"question": "...", "answer": "worked solution ... #### N"}
 * The fields are checked in that order, so a row with both "problem" and "question"
 * (AIME, AMC) is a TR_DS_PROBLEM row. Every later row must have the fields of the
 * detected kind; extra fields are ignored.
 */
#ifndef TINYR1_DATA_H
#define TINYR1_DATA_H

#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "tinyr1/base.h"

/* ---- JSONL reader -------------------------------------------------------------- */

#define TR_JSONL_DEFAULT_MAX_LINE (4 << 20) /* 4 MiB */

typedef struct tr_jsonl {
    char path[400];  /* the name used in messages */
    FILE *fp;        /* NULL when reading from memory */
    const char *mem; /* memory source (not owned) */
    size_t mem_len, mem_pos;
    char *line;           /* current line buffer (owned), capacity max_line + 1 */
    size_t max_line;      /* longest accepted line in bytes (without the line end) */
    int skip_bad;         /* 1: skip malformed lines and count them instead of failing */
    int64_t line_no;      /* physical line number of the line last returned */
    int64_t n_rows;       /* objects returned so far */
    int64_t n_bad;        /* malformed lines skipped (skip_bad mode) */
    char first_bad[1024]; /* message of the first skipped line ("" if none) */
    int eof;
} tr_jsonl;

/* Opens a file for reading. max_line = 0 selects TR_JSONL_DEFAULT_MAX_LINE. path "-" reads
 * standard input. Returns 0, or -1 with "PATH: cannot open: reason". */
int tr_jsonl_open(tr_jsonl *r, const char *path, size_t max_line, int skip_bad, tr_err *err);
/* The same over a memory buffer (not copied: it must outlive the reader); name is used in
 * messages. NUL bytes inside a line make that line malformed. */
int tr_jsonl_open_mem(tr_jsonl *r, const char *name, const char *data, size_t len, size_t max_line,
                      int skip_bad, tr_err *err);
/* Reads the next object. Returns 1 and sets *obj (the caller frees it with cJSON_Delete)
 * when a row was read, 0 at the end of the input, -1 on a malformed line (not in skip_bad
 * mode) or a read error, with "FILE:LINE: what is wrong" in err. */
int tr_jsonl_next(tr_jsonl *r, cJSON **obj, tr_err *err);
void tr_jsonl_close(tr_jsonl *r);

/* Checks that s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
 * Returns -1 if it is, else the byte offset of the first bad sequence. */
int64_t tr_utf8_invalid_at(const char *s, size_t len);

/* ---- datasets ------------------------------------------------------------------ */

typedef enum {
    TR_DS_UNKNOWN = 0,
    TR_DS_MESSAGES,
    TR_DS_TEXT,
    TR_DS_PC,
    TR_DS_COUNTDOWN,
    TR_DS_PROBLEM,
    TR_DS_GSM8K,
} tr_ds_kind;

/* "messages", "text", "prompt-completion", "countdown", "problem", "gsm8k", "unknown". */
const char *tr_ds_kind_name(tr_ds_kind kind);
/* The kind a row's fields announce (see the top of this file); TR_DS_UNKNOWN if none. */
tr_ds_kind tr_ds_detect(const cJSON *row);

#define TR_MAX_NUMS 8

typedef struct tr_message {
    char *role; /* "system", "user", "assistant" (any non-empty string is kept) */
    char *content;
} tr_message;

/* One row, in a form common to every kind. Strings are owned by the example (NULL when the
 * kind has no such field).
 *   text        TEXT: the text
 *   prompt      PC: prompt; PROBLEM: problem; GSM8K: question; COUNTDOWN: NULL (the
 *               countdown task writes the prompt from nums and target)
 *   completion  PC: completion; PROBLEM: solution (if any); GSM8K: the worked answer
 *               (with its <<..>> annotations); COUNTDOWN: solution
 *   answer      the gold final answer as a string: PC: "answer" if present; PROBLEM:
 *               "answer" (a JSON number is printed with %.15g, so AMC's 27.0 gives "27");
 *               GSM8K: the text after the last "####", trimmed; COUNTDOWN: the target
 *   task, lang  PC only, if present
 *   messages    MESSAGES only
 *   nums/target COUNTDOWN (and PC rows that carry them) */
typedef struct tr_example {
    tr_ds_kind kind;
    int64_t line; /* physical line in the file */
    char *text, *prompt, *completion, *answer, *task, *lang;
    tr_message *messages;
    int n_messages;
    int n_nums;
    int64_t nums[TR_MAX_NUMS];
    int64_t target;
} tr_example;

/* Fills ex from one parsed row of the given kind (TR_DS_UNKNOWN: detect it). where is the
 * "FILE:LINE" prefix for messages. Returns 0, or -1 with "WHERE: what is wrong". */
int tr_example_from_json(tr_example *ex, const cJSON *row, tr_ds_kind kind, const char *where,
                         tr_err *err);
void tr_example_free(tr_example *ex);

typedef struct tr_dataset {
    tr_ds_kind kind;
    tr_example *ex;
    int64_t n, cap;
    int64_t n_bad;        /* rows skipped in skip_bad mode (bad JSON or bad fields) */
    char first_bad[1024]; /* message of the first skipped row */
} tr_dataset;

typedef struct tr_dataset_params {
    tr_ds_kind kind; /* TR_DS_UNKNOWN: detect from the first valid row */
    int skip_bad;    /* skip (and count) malformed lines and rows with wrong fields */
    size_t max_line; /* 0: TR_JSONL_DEFAULT_MAX_LINE */
    int64_t limit;   /* stop after this many rows (0: all) */
} tr_dataset_params;

tr_dataset_params tr_dataset_default_params(void);
/* Loads a whole JSONL file. An empty file (no rows) is an error. On error ds is left empty. */
int tr_dataset_load(tr_dataset *ds, const char *path, const tr_dataset_params *p, tr_err *err);
void tr_dataset_free(tr_dataset *ds);

/* The final answer of a GSM8K worked solution: the text after the last "####", trimmed
 * (commas kept; tr_answer_equiv ignores thousands separators). Returns 0, or -1 if there is
 * no "####" or nothing after it. */
int tr_gsm8k_final_answer(const char *answer, char *buf, size_t cap);

#endif
