/* wordprob: multi-step grade-school word problems from templates, in English and Chinese.
 * Each template draws its numbers once and writes the question and the worked solution in
 * the requested language from two parallel format strings taking the same arguments in
 * the same order, so problem i is the same problem in both languages. The Chinese text
 * holds no Latin letters and the English text no Chinese characters (numbers and the
 * signs + - × ÷ = are shared). */
#include <stdio.h>
#include <string.h>

#include "tasks_internal.h"

typedef long long ll;

typedef struct wp {
    int zh, diff;
    tr_rng *rng;
    tr_sb q, cot;
    const char *n1, *n2, *n3; /* names */
    ll answer;
} wp;

/* Question and solution text, English or Chinese, same arguments. */
#define Q(EN, ZH, ...)                                                                             \
    (c->zh ? tr_sb_printf(&c->q, ZH, __VA_ARGS__) : tr_sb_printf(&c->q, EN, __VA_ARGS__))
#define S(EN, ZH, ...)                                                                             \
    (c->zh ? tr_sb_printf(&c->cot, ZH, __VA_ARGS__) : tr_sb_printf(&c->cot, EN, __VA_ARGS__))

static const char *const names_en[] = {"Tom", "Anna", "Ben",  "Lily", "Sam",
                                       "Mia", "Jack", "Emma", "Leo",  "Nora"};
static const char *const names_zh[] = {"小明", "小红", "小刚", "小丽", "小华",
                                       "小芳", "小军", "小雪", "小龙", "小燕"};
#define N_NAMES 10

/* Uniform in [lo, hi * scale(difficulty)]. */
static ll R(wp *c, ll lo, ll hi) {
    static const ll scale[] = {1, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};
    ll top = hi * scale[c->diff];
    if (top < lo) top = lo;
    return lo + (ll)tr_rng_below(c->rng, (uint64_t)(top - lo + 1));
}

/* Uniform in [lo, hi] regardless of difficulty. */
static ll U(wp *c, ll lo, ll hi) {
    return lo + (ll)tr_rng_below(c->rng, (uint64_t)(hi - lo + 1));
}

static void t_shopping(wp *c) {
    ll a = R(c, 2, 6), p = R(c, 2, 9), g = R(c, 1, 5);
    int extra = c->diff >= 3;
    ll e = extra ? R(c, 2, 5) : 0, h = extra ? R(c, 1, 3) : 0;
    ll cost = a * p + g + e * h;
    ll unit = cost <= 20 ? 20 : cost <= 50 ? 50 : cost <= 100 ? 100 : 500;
    ll m = (cost / unit + 1) * unit;
    Q("%s buys %lld notebooks at %lld dollars each and a pen for %lld dollars. ",
      "%s买了%lld本笔记本，每本%lld元，还买了一支%lld元的笔。", c->n1, a, p, g);
    if (extra)
        Q("%s also buys %lld erasers at %lld dollars each. ", "%s还买了%lld块橡皮，每块%lld元。",
          c->n1, e, h);
    if (c->zh)
        tr_sb_printf(&c->q, "%s付了%lld元。应该找回多少元？", c->n1, m);
    else
        tr_sb_printf(&c->q, "%s pays with %lld dollars. How many dollars of change does %s get?",
                     c->n1, m, c->n1);
    ll x = a * p;
    S("The notebooks cost %lld × %lld = %lld dollars. ", "笔记本一共%lld × %lld = %lld元。", a, p,
      x);
    S("Adding the pen: %lld + %lld = %lld dollars. ", "加上笔：%lld + %lld = %lld元。", x, g,
      x + g);
    ll y = x + g;
    if (extra) {
        S("The erasers cost %lld × %lld = %lld dollars, so everything costs %lld + %lld = %lld "
          "dollars. ",
          "橡皮一共%lld × %lld = %lld元，所以总共%lld + %lld = %lld元。", e, h, e * h, y, e * h,
          y + e * h);
        y += e * h;
    }
    S("The change is %lld - %lld = %lld dollars.", "找回%lld - %lld = %lld元。", m, y, m - y);
    c->answer = m - y;
}

static void t_apples(wp *c) {
    ll a = R(c, 3, 20), b = R(c, 2, 6), k = R(c, 3, 12);
    ll total = a + b * k;
    ll d = U(c, 1, total - 1);
    int extra = c->diff >= 3 && total - d > 2;
    ll e = extra ? U(c, 1, total - d - 1) : 0;
    Q("%s has %lld apples. %s buys %lld bags with %lld apples in each bag, then gives %lld apples "
      "to a friend. ",
      "%s有%lld个苹果。%s又买了%lld袋苹果，每袋%lld个，然后送给朋友%lld个。", c->n1, a, c->n1, b, k,
      d);
    if (extra) Q("Then %s eats %lld apples. ", "后来%s吃了%lld个。", c->n1, e);
    Q("How many apples does %s have now?", "%s现在有多少个苹果？", c->n1);
    S("The bags hold %lld × %lld = %lld apples. ", "这些袋子里一共有%lld × %lld = %lld个苹果。", b,
      k, b * k);
    S("With the apples from before: %lld + %lld = %lld. ", "加上原来的：%lld + %lld = %lld个。", a,
      b * k, total);
    S("After giving some away: %lld - %lld = %lld.", "送出一些后：%lld - %lld = %lld个。", total, d,
      total - d);
    if (extra)
        S(" After eating: %lld - %lld = %lld.", "吃掉一些后：%lld - %lld = %lld个。", total - d, e,
          total - d - e);
    c->answer = total - d - e;
}

static void t_train(wp *c) {
    ll v = R(c, 20, 90), t1 = U(c, 2, 6), w = R(c, 20, 90), t2 = U(c, 1, 5);
    Q("A train travels at %lld kilometers per hour for %lld hours, then at %lld kilometers per "
      "hour for %lld "
      "hours. How many kilometers does it travel in total?",
      "一列火车以每小时%lld千米的速度行驶了%lld小时，然后以每小时%lld千米的速度行驶了%"
      "lld小时。它一共行驶了多少千米？",
      v, t1, w, t2);
    S("First part: %lld × %lld = %lld kilometers. ", "第一段：%lld × %lld = %lld千米。", v, t1,
      v * t1);
    S("Second part: %lld × %lld = %lld kilometers. ", "第二段：%lld × %lld = %lld千米。", w, t2,
      w * t2);
    S("In total: %lld + %lld = %lld kilometers.", "一共：%lld + %lld = %lld千米。", v * t1, w * t2,
      v * t1 + w * t2);
    c->answer = v * t1 + w * t2;
}

static void t_cookies(wp *c) {
    ll k = R(c, 2, 6), n = R(c, 6, 15), f = U(c, 2, 8);
    ll total = k * n;
    ll r = total % f;
    if (total - r >= 2 * f && U(c, 0, 1)) r += f; /* keep a few more sometimes */
    if (r == 0) r = f;
    if (total - r <= 0) r = total % f; /* keep at least one cookie per friend */
    ll each = (total - r) / f;
    Q("%s bakes %lld trays of cookies with %lld cookies on each tray. %s keeps %lld cookies and "
      "shares the rest "
      "equally among %lld friends. How many cookies does each friend get?",
      "%s烤了%lld盘饼干，每盘%lld块。%s自己留下%lld块，其余的平均分给%"
      "lld个朋友。每个朋友分到多少块饼干？",
      c->n1, k, n, c->n1, r, f);
    S("There are %lld × %lld = %lld cookies. ", "一共有%lld × %lld = %lld块饼干。", k, n, total);
    S("After keeping some, %lld - %lld = %lld are shared. ",
      "留下一些后，要分的有%lld - %lld = %lld块。", total, r, total - r);
    S("Each friend gets %lld ÷ %lld = %lld cookies.", "每个朋友分到%lld ÷ %lld = %lld块。",
      total - r, f, each);
    c->answer = each;
}

static void t_savings(wp *c) {
    ll s = R(c, 3, 15), w = U(c, 3, 12);
    ll total = s * w;
    ll p = U(c, 1, total - 1);
    if ((total - p) % 2) p = p > 1 ? p - 1 : p + 1;
    if (p >= total) p = total - 2;
    Q("%s saves %lld dollars every week for %lld weeks, then spends %lld dollars on a game and "
      "half of the "
      "remaining money on books. How many dollars does %s have left?",
      "%s每周存%lld元，存了%lld周，然后花%lld元买了一个游戏，又用剩下的钱的一半买了书。%"
      "s还剩多少元？",
      c->n1, s, w, p, c->n1);
    S("Savings: %lld × %lld = %lld dollars. ", "一共存了%lld × %lld = %lld元。", s, w, total);
    S("After the game: %lld - %lld = %lld dollars. ", "买游戏后剩%lld - %lld = %lld元。", total, p,
      total - p);
    S("Half of it goes on books, so %lld ÷ 2 = %lld dollars are left.",
      "一半用来买书，所以还剩%lld ÷ 2 = %lld元。", total - p, (total - p) / 2);
    c->answer = (total - p) / 2;
}

static void t_fence(wp *c) {
    ll l = R(c, 5, 30), w = R(c, 3, 20), k = U(c, 2, 9);
    Q("A rectangular garden is %lld meters long and %lld meters wide. A fence goes all the way "
      "around it, and "
      "the fence costs %lld dollars per meter. How many dollars does the fence cost?",
      "一个长方形花园长%lld米，宽%lld米。四周要围上篱笆，篱笆每米%lld元。篱笆一共要多少元？", l, w,
      k);
    S("Length plus width: %lld + %lld = %lld meters. ", "长加宽：%lld + %lld = %lld米。", l, w,
      l + w);
    S("The perimeter is 2 × %lld = %lld meters. ", "周长是2 × %lld = %lld米。", l + w, 2 * (l + w));
    S("The fence costs %lld × %lld = %lld dollars.", "篱笆一共%lld × %lld = %lld元。", 2 * (l + w),
      k, 2 * (l + w) * k);
    c->answer = 2 * (l + w) * k;
}

static void t_ages(wp *c) {
    ll a = R(c, 4, 12), k = U(c, 2, 5), y = U(c, 1, 10);
    ll m = a * k;
    ll d = U(c, 1, m - 1);
    /* the word order differs between the languages, so the arguments do too */
    if (c->zh)
        tr_sb_printf(&c->q,
                     "%s今年%lld岁。%s的年龄是%s的%lld倍。%s比%s小%lld岁。%lld年后%s多少岁？",
                     c->n1, a, c->n2, c->n1, k, c->n3, c->n2, d, y, c->n3);
    else
        tr_sb_printf(&c->q,
                     "%s is %lld years old. %s is %lld times as old as %s. %s is %lld years "
                     "younger than %s. "
                     "How old will %s be in %lld years?",
                     c->n1, a, c->n2, k, c->n1, c->n3, d, c->n2, c->n3, y);
    S("%s is %lld × %lld = %lld years old. ", "%s今年%lld × %lld = %lld岁。", c->n2, a, k, m);
    S("%s is %lld - %lld = %lld years old. ", "%s今年%lld - %lld = %lld岁。", c->n3, m, d, m - d);
    S("In %lld years %s will be %lld + %lld = %lld.", "再过%lld年，%s就是%lld + %lld = %lld岁。", y,
      c->n3, m - d, y, m - d + y);
    c->answer = m - d + y;
}

static void t_buses(wp *c) {
    ll k = R(c, 2, 8), s = U(c, 18, 40), b = U(c, 20, 50);
    ll total = k * s, q = total / b, r = total % b;
    Q("A school has %lld classes with %lld students in each class. For a trip, each bus can carry "
      "at most %lld "
      "students. How many buses are needed?",
      "一所学校有%lld个班，每班%lld名学生。去春游时，每辆大巴最多坐%"
      "lld名学生。至少需要多少辆大巴？",
      k, s, b);
    S("There are %lld × %lld = %lld students. ", "一共有%lld × %lld = %lld名学生。", k, s, total);
    if (r == 0) {
        S("%lld ÷ %lld = %lld exactly, so %lld buses are enough.",
          "%lld ÷ %lld = %lld，正好坐满，所以需要%lld辆大巴。", total, b, q, q);
        c->answer = q;
    } else {
        S("%lld ÷ %lld = %lld with %lld left over, ", "%lld ÷ %lld = %lld，还余%lld名学生，", total,
          b, q, r);
        S("so one more bus is needed: %lld + 1 = %lld buses.",
          "所以还要再加一辆：%lld + 1 = %lld辆大巴。", q, q + 1);
        c->answer = q + 1;
    }
}

typedef void (*wp_template)(wp *);
static const wp_template templates[] = {t_shopping, t_apples, t_train, t_cookies,
                                        t_savings,  t_fence,  t_ages,  t_buses};
#define N_TEMPLATES ((int)(sizeof templates / sizeof templates[0]))

int tr_tk_wordprob_generate(uint64_t seed, int64_t index, int difficulty, const char *lang,
                            tr_problem *out, tr_err *err) {
    tr_rng rng;
    tr_tk_problem_rng(&rng, "wordprob", seed, index);
    wp c;
    memset(&c, 0, sizeof c);
    c.zh = strcmp(lang, "zh") == 0;
    c.diff = tr_tk_clamp(difficulty, 1, 10);
    c.rng = &rng;
    int t = (int)tr_rng_below(&rng, N_TEMPLATES);
    int i1 = (int)tr_rng_below(&rng, N_NAMES), i2 = (int)tr_rng_below(&rng, N_NAMES - 1),
        i3 = (int)tr_rng_below(&rng, N_NAMES - 2);
    if (i2 >= i1) i2++;
    int lo = i1 < i2 ? i1 : i2, hi = i1 < i2 ? i2 : i1;
    if (i3 >= lo) i3++;
    if (i3 >= hi) i3++;
    const char *const *names = c.zh ? names_zh : names_en;
    c.n1 = names[i1];
    c.n2 = names[i2];
    c.n3 = names[i3];
    templates[t](&c);
    tr_sb ans = {0};
    tr_sb_printf(&ans, "%lld", c.answer);
    memset(out, 0, sizeof *out);
    out->seed = seed;
    out->index = index;
    out->difficulty = difficulty;
    return tr_tk_problem_finish(out, "wordprob", c.zh ? "zh" : "en", tr_sb_take(&c.q),
                                tr_sb_take(&ans), tr_sb_take(&c.cot), err);
}
