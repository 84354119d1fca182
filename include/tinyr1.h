/* tinyr1 — the R1 recipe (pretrain, SFT, distillation, GRPO, evaluation, cost) in C.
 * Public API, every symbol prefixed tr_. One header per module under include/tinyr1/. */
#ifndef TINYR1_H
#define TINYR1_H

#include "tinyr1/base.h"
#include "tinyr1/batch.h"
#include "tinyr1/cost.h"
#include "tinyr1/data.h"
#include "tinyr1/dist.h"
#include "tinyr1/eval.h"
#include "tinyr1/gen.h"
#include "tinyr1/grpo.h"
#include "tinyr1/io.h"
#include "tinyr1/model.h"
#include "tinyr1/objectives.h"
#include "tinyr1/report.h"
#include "tinyr1/rewards.h"
#include "tinyr1/sft.h"
#include "tinyr1/tasks.h"
#include "tinyr1/text.h"
#include "tinyr1/train.h"
#include "tinyr1/distill.h"

#endif
