/* Batched generation with continuous batching: see include/tinyr1/gen.h. */
#include <stdlib.h>
#include <string.h>

#include "tinyr1/gen.h"

const char *tr_stop_reason_name(tr_stop_reason r) {
    switch (r) {
    case TR_STOP_NONE:
        return "running";
    case TR_STOP_TOKEN:
        return "stop_token";
    case TR_STOP_STRING:
        return "stop_string";
    case TR_STOP_MAX_TOKENS:
        return "max_tokens";
    case TR_STOP_CONTEXT:
        return "context";
    case TR_STOP_CALLBACK:
        return "callback";
    }
    return "?";
}

tr_gen_params tr_gen_default_params(void) {
    tr_gen_params p;
    memset(&p, 0, sizeof p);
    p.sampler = tr_sampler_default_params();
    p.max_new_tokens = 256;
    return p;
}

void tr_gen_result_free(tr_gen_result *r) {
    if (!r) return;
    free(r->tokens);
    free(r->logprobs);
    free(r->logprobs_model);
    memset(r, 0, sizeof *r);
}

/* Per-slot state of the sequence it holds. */
#define TAIL_CAP 512
typedef struct {
    int seq;       /* request index, -1 if the slot is idle */
    int32_t *hist; /* prompt + generated tokens (for the repetition penalty) */
    int n_hist;
    char tail[TAIL_CAP]; /* the last bytes of the generated text (stop strings) */
    int n_tail;
    int follower_pending; /* admitted as a follower, its prompt not in the cache yet */
} slot_state;

/* Appends the new token's bytes to the tail and returns the index of a stop string that
 * now occurs in it (ending in the new bytes), or -1. */
static int check_stop_strings(const tr_gen_params *p, slot_state *ss, int32_t prev, int32_t tok) {
    size_t len = 0;
    const char *bytes = p->token_text(p->token_text_ctx, prev, tok, &len);
    if (!bytes) len = 0;
    if (len > TAIL_CAP / 2) { /* keep only the end of a very long piece */
        bytes += len - TAIL_CAP / 2;
        len = TAIL_CAP / 2;
    }
    if (ss->n_tail + (int)len > TAIL_CAP) {
        int drop = ss->n_tail + (int)len - TAIL_CAP;
        memmove(ss->tail, ss->tail + drop, (size_t)(ss->n_tail - drop));
        ss->n_tail -= drop;
    }
    memcpy(ss->tail + ss->n_tail, bytes, len);
    ss->n_tail += (int)len;
    for (int k = 0; k < p->n_stop_strings; k++) {
        int sl = (int)strlen(p->stop_strings[k]);
        /* occurrences that end inside the new bytes */
        int from = ss->n_tail - (int)len - sl + 1;
        if (from < 0) from = 0;
        for (int i = from; i + sl <= ss->n_tail; i++)
            if (memcmp(ss->tail + i, p->stop_strings[k], (size_t)sl) == 0) return k;
    }
    return -1;
}

static int validate(const tr_infer *ctx, const tr_gen_request *reqs, int n, const tr_gen_params *p,
                    tr_err *err) {
    if (n < 0) return tr_fail(err, "generate: negative number of requests %d", n);
    if (p->max_new_tokens <= 0)
        return tr_fail(err, "generate: max_new_tokens must be positive, got %d", p->max_new_tokens);
    if (p->n_stop_tokens < 0 || p->n_stop_tokens > TR_GEN_MAX_STOP || p->n_stop_strings < 0 ||
        p->n_stop_strings > TR_GEN_MAX_STOP)
        return tr_fail(err, "generate: at most %d stop tokens and %d stop strings", TR_GEN_MAX_STOP,
                       TR_GEN_MAX_STOP);
    if (p->n_stop_strings > 0 && !p->token_text)
        return tr_fail(err, "generate: stop strings need a token_text function (a tokenizer)");
    for (int k = 0; k < p->n_stop_strings; k++) {
        size_t sl = p->stop_strings[k] ? strlen(p->stop_strings[k]) : 0;
        if (sl == 0 || sl > TAIL_CAP / 2)
            return tr_fail(err, "generate: stop string %d must have 1..%d bytes", k, TAIL_CAP / 2);
    }
    const int V = tr_infer_model(ctx)->cfg.vocab, max_seq = tr_infer_max_seq(ctx);
    for (int i = 0; i < n; i++) {
        if (reqs[i].prompt_len < 1 || reqs[i].prompt_len > max_seq)
            return tr_fail(err, "generate: request %d: prompt of %d tokens, expected 1..%d", i,
                           reqs[i].prompt_len, max_seq);
        for (int j = 0; j < reqs[i].prompt_len; j++)
            if (reqs[i].prompt[j] < 0 || reqs[i].prompt[j] >= V)
                return tr_fail(err, "generate: request %d: token %d at %d outside 0..%d", i,
                               reqs[i].prompt[j], j, V - 1);
    }
    return 0;
}

int tr_gen_max_seq(const tr_model *m, int64_t longest_prompt, int max_new_tokens) {
    int64_t need = longest_prompt + (max_new_tokens > 0 ? max_new_tokens : 0);
    if (need > m->cfg.max_seq) need = m->cfg.max_seq;
    return need < 1 ? 1 : (int)need;
}

int tr_generate(tr_infer *ctx, const tr_gen_request *reqs, int n, const tr_gen_params *p,
                tr_gen_result *out, tr_gen_callback cb, void *cb_ctx, tr_err *err) {
    for (int i = 0; i < n; i++) memset(&out[i], 0, sizeof out[i]);
    if (validate(ctx, reqs, n, p, err) != 0) return -1;
    const int V = tr_infer_model(ctx)->cfg.vocab, S = tr_infer_max_slots(ctx),
              max_seq = tr_infer_max_seq(ctx), M = p->max_new_tokens;
    tr_sampler smp;
    if (tr_sampler_init(&smp, V, &p->sampler, err) != 0) return -1;

    int rc = 0;
    float *logits = NULL;
    slot_state *ss = NULL;
    int *live = NULL, *runs_slot = NULL, *runs_len = NULL;
    const int32_t **runs_tok = NULL;
    int32_t *feed = NULL;
    int *follow_slot = NULL, *follow_leader = NULL;
    logits = tr_calloc((size_t)S * V, sizeof(float), err);
    ss = tr_calloc((size_t)S, sizeof *ss, err);
    live = tr_calloc((size_t)S, sizeof(int), err);
    runs_slot = tr_calloc((size_t)S, sizeof(int), err);
    runs_len = tr_calloc((size_t)S, sizeof(int), err);
    runs_tok = tr_calloc((size_t)S, sizeof *runs_tok, err);
    feed = tr_calloc((size_t)S, sizeof(int32_t), err);
    follow_slot = tr_calloc((size_t)S, sizeof(int), err);
    follow_leader = tr_calloc((size_t)S, sizeof(int), err);
    if (!logits || !ss || !live || !runs_slot || !runs_len || !runs_tok || !feed || !follow_slot ||
        !follow_leader) {
        rc = -1;
        goto done;
    }
    for (int s = 0; s < S; s++) {
        ss[s].seq = -1;
        ss[s].hist = tr_calloc((size_t)max_seq + 1, sizeof(int32_t), err);
        if (!ss[s].hist) {
            rc = -1;
            goto done;
        }
    }
    for (int i = 0; i < n; i++) {
        out[i].tokens = tr_calloc((size_t)M, sizeof(int32_t), err);
        out[i].logprobs = tr_calloc((size_t)M, sizeof(float), err);
        out[i].logprobs_model = tr_calloc((size_t)M, sizeof(float), err);
        if (!out[i].tokens || !out[i].logprobs || !out[i].logprobs_model) {
            rc = -1;
            goto done;
        }
        tr_rng_seed(&out[i].rng, reqs[i].seed);
    }

    int next = 0, n_live = 0;
    while (next < n || n_live > 0) {
        /* 1. admit waiting requests into free slots. A request whose prompt another
         * occupied slot already holds (or is about to: GRPO's G samples of one prompt, eval's
         * k samples) is a follower: it copies that slot's first P-1 cache positions and
         * feeds only its last prompt token. The cache rows are computed row by row, so the
         * copy is bitwise what its own prefill would write. */
        int n_new = 0, n_follow = 0;
        while (next < n) {
            int s = tr_infer_acquire(ctx);
            if (s < 0) break;
            const tr_gen_request *rq = &reqs[next];
            int leader = -1;
            for (int x = 0; x < S && rq->prompt_len > 1 && leader < 0; x++) {
                const tr_gen_request *o = ss[x].seq >= 0 ? &reqs[ss[x].seq] : NULL;
                if (x != s && o && !ss[x].follower_pending && o->prompt_len == rq->prompt_len &&
                    (o->prompt == rq->prompt ||
                     memcmp(o->prompt, rq->prompt, sizeof(int32_t) * rq->prompt_len) == 0))
                    leader = x;
            }
            ss[s].seq = next;
            memcpy(ss[s].hist, rq->prompt, (size_t)rq->prompt_len * sizeof(int32_t));
            ss[s].n_hist = rq->prompt_len;
            ss[s].n_tail = 0;
            ss[s].follower_pending = leader >= 0;
            if (leader >= 0) {
                follow_slot[n_follow] = s;
                follow_leader[n_follow++] = leader;
            } else {
                runs_slot[n_new] = s;
                runs_tok[n_new] = rq->prompt;
                runs_len[n_new] = rq->prompt_len;
                n_new++;
            }
            next++;
        }
        if (n_new == 0 && n_follow == 0 && n_live == 0) {
            rc = tr_fail(err, "generate: no free slot in the inference context (release them "
                              "before calling)");
            goto done;
        }
        /* 2. one forward: the new prompts (their last logits) and one decode step for the
         * sequences already running, in one batch; then the followers' last prompt tokens */
        for (int i = 0; i < n_live; i++) {
            const slot_state *st = &ss[live[i]];
            feed[i] = st->hist[st->n_hist - 1];
            runs_slot[n_new + i] = live[i];
            runs_tok[n_new + i] = &feed[i];
            runs_len[n_new + i] = 1;
        }
        int n_all = n_new + n_live;
        if (n_all > 0 &&
            tr_infer_forward(ctx, n_all, runs_slot, runs_tok, runs_len, 0, logits, err) != 0) {
            rc = -1;
            goto done;
        }
        if (n_follow > 0) {
            for (int i = 0; i < n_follow; i++) {
                slot_state *st = &ss[follow_slot[i]];
                const tr_gen_request *rq = &reqs[st->seq];
                if (tr_infer_copy(ctx, follow_slot[i], follow_leader[i], rq->prompt_len - 1, err) !=
                    0) {
                    rc = -1;
                    goto done;
                }
                st->follower_pending = 0;
                runs_slot[n_all + i] = follow_slot[i];
                runs_tok[n_all + i] = rq->prompt + rq->prompt_len - 1;
                runs_len[n_all + i] = 1;
            }
            if (tr_infer_forward(ctx, n_follow, runs_slot + n_all, runs_tok + n_all,
                                 runs_len + n_all, 0, logits + (size_t)n_all * V, err) != 0) {
                rc = -1;
                goto done;
            }
            n_all += n_follow;
        }
        n_live = 0;
        /* 3. sample a token for every row; stop or keep each sequence */
        for (int i = 0; i < n_all; i++) {
            int s = runs_slot[i];
            slot_state *st = &ss[s];
            int q = st->seq;
            tr_gen_result *r = &out[q];
            tr_sample_info info;
            int32_t prev = st->hist[st->n_hist - 1];
            int32_t tok = tr_sampler_sample(&smp, logits + (size_t)i * V, st->hist, st->n_hist,
                                            &r->rng, &info);
            r->tokens[r->n] = tok;
            r->logprobs[r->n] = info.logprob;
            r->logprobs_model[r->n] = info.logprob_model;
            r->n++;
            st->hist[st->n_hist++] = tok;
            for (int k = 0; k < p->n_stop_tokens && !r->stop; k++)
                if (tok == p->stop_tokens[k]) {
                    r->stop = TR_STOP_TOKEN;
                    r->stop_index = k;
                }
            if (p->n_stop_strings > 0) {
                int k = check_stop_strings(p, st, prev, tok);
                if (k >= 0 && !r->stop) {
                    r->stop = TR_STOP_STRING;
                    r->stop_index = k;
                }
            }
            if (!r->stop && r->n >= M) r->stop = TR_STOP_MAX_TOKENS;
            /* the token must be fed to continue: it needs a free position */
            if (!r->stop && tr_infer_length(ctx, s) >= max_seq) r->stop = TR_STOP_CONTEXT;
            if (cb) {
                int v = cb(cb_ctx, q, r);
                if (v < 0) {
                    rc = tr_fail(err, "generate: aborted by the callback");
                    goto done;
                }
                if (v > 0 && !r->stop) r->stop = TR_STOP_CALLBACK;
            }
            if (r->stop) {
                tr_infer_release(ctx, s);
                st->seq = -1;
            } else {
                live[n_live++] = s;
            }
        }
    }

done:
    if (ss) {
        for (int s = 0; s < S; s++) {
            if (ss[s].seq >= 0) tr_infer_release(ctx, s);
            free(ss[s].hist);
        }
    }
    free(ss);
    free(logits);
    free(live);
    free(runs_slot);
    free(runs_len);
    free(runs_tok);
    free(feed);
    free(follow_slot);
    free(follow_leader);
    tr_sampler_free(&smp);
    return rc;
}
