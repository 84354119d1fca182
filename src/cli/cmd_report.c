/* tinyr1 report: the charts and tables of a run (or a pipeline of runs) as report.md and a
 * self-contained report.html. */
#include <stdio.h>

#include "cli.h"

int cmd_report(int argc, char **argv) {
    const char *out = NULL, *title = NULL;
    const cli_opt opts[] = {
        {"out", CLI_STR, &out, "DIR",
         "where to write report.md, report.html and the .svg "
         "figures (default: RUN_DIR)"},
        {"title", CLI_STR, &title, "TEXT",
         "the report's title (default: \"tinyr1 run report: "
         "<folder name>\")"},
        {0},
    };
    const cli_spec spec = {
        .command = "report",
        .summary = "write report.md and report.html (charts, cost and arguments) for a run",
        .usage = "RUN_DIR",
        .opts = opts,
        .min_positional = 1,
        .max_positional = 1,
        .details = "RUN_DIR is a training command's --out folder, or a pipeline folder whose "
                   "subfolders (two levels deep) are stages. Each stage's metrics.jsonl becomes "
                   "charts (loss; reward, accuracy, response length and the GRPO diagnostics "
                   "when present; learning rate, gradient norm, throughput), its cost.json a "
                   "row of the cost table and its args.json a table of arguments. "
                   "Formats and layout: docs/report.md.",
    };
    char *pos[1];
    int npos = 0;
    int pr = cli_parse(&spec, argc, argv, pos, &npos);
    if (pr != 0) return pr > 0 ? 0 : 2;
    tr_err err = {{0}};
    if (tr_report_run(pos[0], out, title, &err) != 0) return cli_error("report", err.msg);
    const char *dir = out ? out : pos[0];
    printf("wrote %s/report.md and %s/report.html\n", dir, dir);
    return 0;
}
