/* tinyr1 — model files in and out: safetensors, Hugging Face folders, llama2.c .bin.
 *
 * Formats (details and every check in docs/io.md):
 *
 *   safetensors   [u64 little-endian N][N bytes of JSON header][data section]
 *                 header: {"__metadata__": {str: str}, "<name>": {"dtype": "F32",
 *                 "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ...}
 *                 offsets are relative to the start of the data section (byte 8 + N).
 *                 The reader trusts nothing: every field is checked and a violation is
 *                 refused with a message naming the file (and tensor).
 *
 *   Hugging Face  a folder with config.json (LlamaForCausalLM or Qwen2ForCausalLM) and
 *                 model.safetensors, or model.safetensors.index.json + shards.
 *
 *   llama2.c      version-0 ("legacy") .bin: 7 int32 header, float32 tensors. q/k rows are
 *                 permuted on load from llama2.c's interleaved RoPE pairs (2i, 2i+1) to the
 *                 engine's rotate-half pairs (i, i + HD/2), per head.
 *
 * Ownership: a tr_safetensors owns its mapping; tensor names and data pointers returned
 * by it stay valid until tr_st_close(). Data pointers are NOT aligned in general (the
 * format allows any header length and offset): read them with memcpy or tr_st_to_f32().
 */
#ifndef TINYR1_IO_H
#define TINYR1_IO_H

#include <stddef.h>
#include <stdint.h>

#include "tinyr1/base.h"
#include "tinyr1/model.h"
#include "tinyr1/text.h"

/* ---- dtypes -------------------------------------------------------------------- */
typedef enum tr_dtype {
    TR_DT_BOOL,
    TR_DT_U8,
    TR_DT_I8,
    TR_DT_F8_E5M2,
    TR_DT_F8_E4M3,
    TR_DT_I16,
    TR_DT_U16,
    TR_DT_F16,
    TR_DT_BF16,
    TR_DT_I32,
    TR_DT_U32,
    TR_DT_F32,
    TR_DT_F64,
    TR_DT_I64,
    TR_DT_U64,
    TR_DT_COUNT
} tr_dtype;

/* The safetensors spelling ("F32", "BF16", ...); "?" for an invalid value. */
const char *tr_dtype_name(tr_dtype dt);
/* Bytes per element (1, 2, 4 or 8); 0 for an invalid value. */
size_t tr_dtype_size(tr_dtype dt);
/* Parses a safetensors dtype name; returns 0 and sets *dt, or -1 if unknown. */
int tr_dtype_parse(const char *name, tr_dtype *dt);

/* Scalar conversions. f32 -> bf16 rounds to nearest, ties to even; NaN stays NaN. */
float tr_bf16_to_f32(uint16_t h);
uint16_t tr_f32_to_bf16(float f);
/* IEEE half (subnormals, inf, NaN included) to float, exactly. */
float tr_f16_to_f32(uint16_t h);

/* ---- safetensors reader -------------------------------------------------------- */
#define TR_ST_MAX_DIMS 8
/* Cap on the JSON header length (the format's own reference reader uses 100 MB). */
#define TR_ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)

typedef struct tr_st_tensor {
    const char *name; /* owned by the file */
    tr_dtype dtype;
    int ndim; /* 0 (a scalar) .. TR_ST_MAX_DIMS */
    int64_t shape[TR_ST_MAX_DIMS];
    int64_t numel;     /* product of shape (1 for a scalar) */
    size_t begin, end; /* byte range within the data section */
    size_t nbytes;     /* end - begin = numel * dtype size */
    const void *data;  /* start of the bytes (unaligned in general) */
} tr_st_tensor;

typedef struct tr_safetensors tr_safetensors; /* opaque */

/* Opens and validates a file: mmap read-only, or read() into memory if mmap fails.
 * On failure *out is NULL and err names the file (and tensor) and the violation. */
int tr_st_open(tr_safetensors **out, const char *path, tr_err *err);
/* Same checks on bytes already in memory (borrowed: `data` must outlive the handle).
 * `label` names the source in messages. Used by the fuzz target. */
int tr_st_open_memory(tr_safetensors **out, const void *data, size_t len, const char *label,
                      tr_err *err);
void tr_st_close(tr_safetensors *st);

/* Tensors in header order. */
int tr_st_count(const tr_safetensors *st);
const tr_st_tensor *tr_st_get(const tr_safetensors *st, int i);
/* The named tensor, or NULL. */
const tr_st_tensor *tr_st_find(const tr_safetensors *st, const char *name);
/* __metadata__: the value for key, or NULL; pairs by index (i < tr_st_metadata_count). */
const char *tr_st_metadata(const tr_safetensors *st, const char *key);
int tr_st_metadata_count(const tr_safetensors *st);
int tr_st_metadata_at(const tr_safetensors *st, int i, const char **key, const char **value);
/* The path or label given at open. */
const char *tr_st_path(const tr_safetensors *st);

/* Converts tensor t (F32, F16, BF16 or F64) to float32 into out[numel]. When shape is
 * not NULL the tensor must have exactly `ndim` dims equal to shape[]; otherwise err names
 * the file, tensor, and both shapes. F64 values beyond the float range become +-inf. */
int tr_st_to_f32(const tr_safetensors *st, const tr_st_tensor *t, float *out, int ndim,
                 const int64_t *shape, tr_err *err);

/* ---- safetensors writer -------------------------------------------------------- */
typedef struct tr_st_write_tensor {
    const char *name;
    tr_dtype dtype;       /* dtype stored in the file */
    int ndim;             /* 0 .. TR_ST_MAX_DIMS */
    const int64_t *shape; /* [ndim] */
    const void *data;     /* raw bytes already in `dtype`, numel * size bytes; or NULL and: */
    const float *f32;     /* float32 source converted on the fly (dtype F32, BF16, F64) */
} tr_st_write_tensor;

/* Writes tensors (in the given order, contiguous, no padding between them) and metadata
 * (n_meta key/value string pairs; may be 0) to path. The JSON header is padded with spaces
 * so the data section starts at an 8-byte aligned offset. Streaming and atomic: writes
 * path.tmp, fsyncs, renames over path; on failure the previous file is untouched.
 * Names must be unique and non-empty, "__metadata__" is reserved. */
int tr_st_write(const char *path, const tr_st_write_tensor *tensors, int n_tensors,
                const char *const *meta_keys, const char *const *meta_values, int n_meta,
                tr_err *err);

/* ---- Hugging Face -------------------------------------------------------------- */
/* Extra facts from config.json that tr_config has no field for. */
typedef struct tr_hf_info {
    int is_qwen2;     /* 1: Qwen2ForCausalLM, 0: LlamaForCausalLM */
    int bos_token_id; /* -1 if absent or null */
    int eos_token_id; /* -1 if absent or null (first one if a list) */
    char torch_dtype[16];
} tr_hf_info;

/* Parses config.json text (len bytes) into cfg (validated). Refuses architectures other
 * than LlamaForCausalLM / Qwen2ForCausalLM, rope_scaling other than none/"default",
 * hidden_act other than silu, Llama attention_bias / mlp_bias, Qwen2 sliding windows.
 * Defaults: num_key_value_heads = num_attention_heads, rope_theta 10000, rms_norm_eps
 * 1e-6, tie_word_embeddings false, max_position_embeddings 2048 (Llama) / 32768 (Qwen2).
 * Qwen2 always has q/k/v biases. `label` names the source in messages. info may be NULL. */
int tr_hf_parse_config(const char *json, size_t len, const char *label, tr_config *cfg,
                       tr_hf_info *info, tr_err *err);

/* Loads a Hugging Face folder: dir/config.json, then dir/model.safetensors.index.json
 * (weight_map; shards named in it must be plain file names inside dir) or
 * dir/model.safetensors. Initialises m (tr_model_init) and fills every tensor by name,
 * converting F32/F16/BF16/F64. Every expected tensor must be present with its exact
 * shape; unexpected tensors are refused except *.rotary_emb.inv_freq, and lm_head.weight
 * of a tied model (ignored). On failure m is freed (zeroed). */
int tr_load_hf(tr_model *m, const char *dir, tr_err *err);
/* The same folder for inference with BF16-resident weights (docs/hf.md): every matrix and
 * the embedding go into *bf16 (m->table.total raw bfloat16 values at the offsets of
 * m->params; BF16 tensors copied as they are, F32/F16/F64 ones rounded to nearest even),
 * norms and biases into m->params as F32. m's F32 matrices stay zero and cost no memory
 * (their pages are never touched), so m is INFERENCE-ONLY: hand both to a tr_infer with
 * tr_infer_use_bf16(ctx, *bf16, err), which packs its own copy (after which *bf16 may be
 * freed); training it or reading its matrices is meaningless. A 1.5B-parameter model
 * takes ~3.1 GB instead of 6.2 (twice that while the context packs its copy, until the
 * caller frees *bf16). Free with tr_model_free(m) and free(*bf16). Same checks and messages as
 * tr_load_hf; on failure both are freed. */
int tr_load_hf_bf16(tr_model *m, uint16_t **bf16, const char *dir, tr_err *err);
/* An inference-only model of config cfg laid out that way, without a file: F32 buffer of
 * zeros (untouched: no memory) with norms 1 and biases 0, *bf16 zeroed (the caller fills
 * it; e.g. the 1.5B-shaped benchmark). */
int tr_model_init_bf16(tr_model *m, uint16_t **bf16, const tr_config *cfg, tr_err *err);

/* Writes dir/config.json (LlamaForCausalLM, or Qwen2ForCausalLM when qkv_bias) and
 * dir/model.safetensors (F32, or BF16 rounded to nearest even when bf16 != 0), creating
 * dir. bos_id / eos_id are written as bos_token_id / eos_token_id (null when < 0). */
int tr_save_hf(const tr_model *m, const char *dir, int bf16, int bos_id, int eos_id, tr_err *err);

/* ---- llama2.c ------------------------------------------------------------------ */
/* Loads a version-0 llama2.c .bin (header: dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab (negative: unshared classifier), seq_len). Sizes are checked against
 * the file length; q/k rows permuted to rotate-half (tr_permute_rope_rows). norm_eps
 * 1e-5, rope_theta 10000, max_seq = seq_len, no biases. On failure m is freed. */
int tr_load_llama2c(tr_model *m, const char *path, tr_err *err);

/* The row permutation for one projection matrix w[n_heads*head_dim, cols]: row
 * h*HD + 2i + j (interleaved pairs) moves to row h*HD + j*HD/2 + i (rotate-half),
 * for i < HD/2, j in {0,1}. The inverse of HF convert_llama_weights_to_hf.py's permute.
 * Works in place; needs head_dim*cols floats of scratch (allocated). */
int tr_permute_rope_rows(float *w, int n_heads, int head_dim, int64_t cols, tr_err *err);

/* ---- any model ----------------------------------------------------------------- */
/* Detects the format of path: a tinyr1 checkpoint (by its magic; weights only), a run
 * folder holding checkpoint.bin, a folder with config.json (Hugging Face), a file ending
 * in .bin (llama2.c); anything else is refused with "not a model: expected ...". */
int tr_model_load(tr_model *m, const char *path, tr_err *err);

/* ---- a model with its tokenizer ---------------------------------------------------
 * Loads the model at model_path (tr_model_load) and, if tok is not NULL, its tokenizer:
 * tokenizer_path when given (tr_tokenizer_load), else the tokenizer embedded in a tinyr1
 * checkpoint, else the Hugging Face folder's tokenizer files. A llama2.c .bin has no
 * tokenizer inside: then tokenizer_path is required (the message says so). The model's
 * vocabulary must cover the tokenizer's ids. */
struct tr_tokenizer;
int tr_load_bundle(const char *model_path, const char *tokenizer_path, tr_model *m,
                   struct tr_tokenizer **tok, tr_err *err);

/* ---- export: any model -> a Hugging Face folder (src/io/export.c, docs/hf.md) ---- */
/* What a model path is (the same detection as tr_model_load). */
typedef enum tr_model_format {
    TR_FMT_HF = 0,      /* folder with config.json */
    TR_FMT_LLAMA2C = 1, /* llama2.c .bin */
    TR_FMT_TINYR1 = 2,  /* tinyr1 checkpoint.bin, or a run folder holding one */
} tr_model_format;
const char *tr_model_format_name(tr_model_format f); /* "hf", "llama2c", "tinyr1" */

typedef struct tr_export_params {
    int bf16;              /* model.safetensors in BF16 (round to nearest even), else F32 */
    const char *tokenizer; /* tokenizer to write (any path tr_tokenizer_load takes) instead of
                            * the source's; NULL: the source's (see tr_export_hf) */
    int no_tokenizer;      /* 1: write no tokenizer files at all */
} tr_export_params;
tr_export_params tr_export_default_params(void); /* F32, the source's tokenizer */

typedef struct tr_export_info {
    tr_model_format source;
    size_t n_params;
    int bos_id, eos_id;  /* written to config.json / generation_config.json; -1: null */
    int tokenizer_files; /* number of tokenizer files written (0: none) */
    char tokenizer[256]; /* one line saying what was done about the tokenizer */
} tr_export_info;

/* Writes a model and (when tok is not NULL) its tokenizer as a Hugging Face folder that
 * transformers' AutoModelForCausalLM / AutoTokenizer load unchanged:
 *   config.json, model.safetensors     tr_save_hf (F32, or BF16 when bf16)
 *   generation_config.json             {"bos_token_id", "eos_token_id"} (null when < 0)
 *   vocab.json, merges.txt,            tr_tokenizer_save_hf: byte-level BPE only (a llama2.c
 *   tokenizer_config.json              scored tokenizer has no such form and is refused)
 * The tokenizer's vocabulary must fit the model's (vocab_size <= cfg.vocab; the model may
 * have padding rows). Refuses a folder holding a file the export would not overwrite but
 * transformers would read (model.safetensors.index.json, pytorch_model.bin, and the
 * tokenizer files above when tok is NULL or tokenizer.json / tokenizer.model otherwise). */
int tr_export_hf_model(const tr_model *m, const tr_tokenizer *tok, const char *dir, int bf16,
                       int bos_id, int eos_id, tr_err *err);

/* Exports the model at model_path (a tinyr1 checkpoint or run folder, a llama2.c .bin, or
 * a Hugging Face folder) to dir, as tr_export_hf_model does. The tokenizer, unless
 * p->tokenizer or p->no_tokenizer says otherwise:
 *   tinyr1 checkpoint  the tokenizer embedded in it (tr_checkpoint_info.tokenizer), written
 *                      as vocab.json + merges.txt + tokenizer_config.json; none if the
 *                      checkpoint has none (byte ids)
 *   Hugging Face       the source folder's tokenizer files and generation_config.json,
 *                      copied byte for byte (dir must then differ from model_path)
 *   llama2.c           none (its tokenizer.bin is SentencePiece-style, not byte-level BPE)
 * bos/eos: the tokenizer's; else the source config.json's; else llama2.c's 1 and 2; else
 * none. info (may be NULL) says what was done. */
int tr_export_hf(const char *model_path, const char *dir, const tr_export_params *p,
                 tr_export_info *info, tr_err *err);

#endif
