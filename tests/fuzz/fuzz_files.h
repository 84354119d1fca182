/* Helpers for fuzz targets whose library API takes paths: a private folder under /tmp per
 * input (mkdtemp), files written into it, everything removed afterwards; and the split of
 * one input into several files at the separator bytes 0x01 0x02. Header-only, test code. */
#ifndef TINYR1_FUZZ_FILES_H
#define TINYR1_FUZZ_FILES_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fz_dir {
    char path[64];
} fz_dir;

static inline int fz_dir_open(fz_dir *d) {
    snprintf(d->path, sizeof d->path, "/tmp/tinyr1-fuzz-XXXXXX");
    return mkdtemp(d->path) ? 0 : -1;
}

/* Writes len bytes as d/name; the full path goes to out[4096]. */
static inline int fz_dir_write(const fz_dir *d, const char *name, const void *data, size_t len,
                               char *out) {
    snprintf(out, 4096, "%s/%s", d->path, name);
    FILE *f = fopen(out, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, len, f) == len;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* Removes every file in the folder, then the folder. */
static inline void fz_dir_close(fz_dir *d) {
    DIR *dir = opendir(d->path);
    if (dir) {
        struct dirent *e;
        char p[4096];
        while ((e = readdir(dir))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(p, sizeof p, "%s/%s", d->path, e->d_name);
            unlink(p);
        }
        closedir(dir);
    }
    rmdir(d->path);
}

/* Splits data[0..size) at each 0x01 0x02 into at most max parts; returns the count (>= 1). */
static inline int fz_split(const uint8_t *data, size_t size, const uint8_t **parts, size_t *lens,
                           int max) {
    int n = 0;
    const uint8_t *p = data, *end = data + size;
    while (n < max) {
        const uint8_t *q = p;
        while (q + 1 < end && !(q[0] == 1 && q[1] == 2)) q++;
        if (q + 1 >= end || n == max - 1) q = end;
        parts[n] = p;
        lens[n++] = (size_t)(q - p);
        if (q == end) break;
        p = q + 2;
    }
    return n;
}

/* With TINYR1_FUZZ_VERBOSE set, prints what happened to the input (to see why a seed fails). */
static inline void fz_note(const char *target, const char *what) {
    if (getenv("TINYR1_FUZZ_VERBOSE")) fprintf(stderr, "%s: %s\n", target, what);
}

static inline void fz_must(int ok, const char *target, const char *what) {
    if (!ok) {
        fprintf(stderr, "%s: %s\n", target, what);
        abort();
    }
}

#endif
