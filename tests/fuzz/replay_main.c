/* Replays a fuzz target over every file of its corpus folder (and any files named on the
 * command line), so the corpus runs as an ordinary CTest test without libFuzzer.
 * The same fuzz_*.c file links against libFuzzer when built with -DTR_FUZZ=ON (clang). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
    size_t len = 0;
    tr_err err;
    char *buf = tr_read_file(path, &len, &err);
    if (!buf) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
    free(buf);
    return 0;
}

int main(int argc, char **argv) {
    int files = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (!d) {
            bad += replay_file(argv[i]);
            files++;
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            bad += replay_file(path);
            files++;
        }
        closedir(d);
    }
    printf("replayed %d inputs: %d passed, %d failed\n", files, files - bad, bad);
    return bad ? 1 : 0;
}
