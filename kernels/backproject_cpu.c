/* backproject_cpu.c - pixel-driven backprojection with linear interpolation
 * (Kak & Slaney 1988, sec. 3.3.3, eq. 65), tiled and vectorised.
 * See backproject.h for the layout of the sinograms and the output.
 *
 * Design, and why:
 *
 * - Work unit: a tile of TILE x TILE output pixels, for every slice of the slab
 *   and every angle. Threads take tiles from tl_workers one at a time (dynamic,
 *   so cheap tiles at the corners balance out). At one angle a tile reads a short
 *   span of one sinogram line (at most TILE (|cos| + |sin|) + 2 columns), so the
 *   spans of a block of ANGLE_BLOCK angles (a few KiB per slice) stay in L1
 *   while every row of the tile sweeps over them, and the sums of a tile row
 *   stay in registers across the angles of the block: the output is read and
 *   written once per block, not once per angle. This is the cache blocking of
 *   fast CPU backprojectors (Treibig, Hager, Hofmann, Hornegger and Wellein
 *   2013, "Pushing the limits for medical image reconstruction on recent
 *   standard multicore processors", IJHPCA 27(2)).
 *
 * - Per tile and block of angles, each angle is classified once from the four
 *   corners of the tile (j is monotonic in the row and in the column): MISS (the
 *   whole tile is off the detector: skipped, it would add exactly 0), INNER (all
 *   taps well inside the line: no clamping) or EDGE. The detector coordinates of
 *   a tile row are computed once per angle and used for a group of slices.
 *
 * - Three paths, chosen at run time (__builtin_cpu_supports), so one generic
 *   x86-64 build runs everywhere and uses what the CPU has:
 *     AVX-512F  16 pixels per vector; 4 slices x 2 vectors of sums
 *     AVX2       8 pixels per vector; 2 slices x 4 vectors of sums
 *     portable   one pixel at a time in C (the compiler vectorises the index
 *                maths); 8 slices share the coordinates; also every non-x86 build
 *   TOMOLINE_SIMD=generic|avx2|avx512 caps the path (tests run all three).
 *   For an INNER angle the taps of L neighbouring pixels (L lanes) come without
 *   gathers: their coordinates span (L - 1) |cos| <= L - 1 columns, so their
 *   left taps are m .. m + L - 1, m the smallest (lane 0 for cos >= 0, lane
 *   L - 1 below); two unaligned L-wide loads at m and m + 1 and two in-register
 *   permutes by j0 - m give both taps. EDGE angles gather from clamped indices.
 *
 * - Detector edges (EDGE angles) without a branch per pixel: j is clamped to
 *   [0, n_cols + 1] and the left tap to n_cols, so every tap is inside the
 *   guarded line; a pixel whose ray misses the detector then reads the zero
 *   guard with weight 0 (j < 0: 0 + 0 (q1 - 0)) or 1 (j >= n_cols + 1:
 *   q0 + 1 (0 - q0)) and adds exactly 0, as if it had been skipped.
 *
 * - Exactness: every term is computed with the same float operations in the
 *   same order as the straightforward loop,
 *       j = base + (float)c * cos,  base = -centre cos + y sin + axis + 1,
 *       out[c] += q[j0] + (j - j0) (q[j0 + 1] - q[j0]),  j0 = floor(j),
 *   and each pixel sums its angles in angle order, starting from 0 or, with
 *   accumulate, from out. So the result is bit for bit the same on every path,
 *   for every tiling and thread count, equals the previous (untiled) kernel,
 *   and angles added in several accumulate passes give exactly the sums of one
 *   pass. (No FMA on purpose: a fused multiply-add rounds differently.)
 *
 * Nothing here allocates: the per-tile tables live on the stack (about 2 KiB).
 */
#include "backproject.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define TL_BP_X86 1
#include <immintrin.h>
#else
#define TL_BP_X86 0
#endif

enum {
    TILE = 32,        /* tile side in pixels: a tile row is 4 AVX2 or 2 AVX-512 vectors; square, so
                         the span read at one angle is short for every angle */
    ANGLE_BLOCK = 32, /* angles per sweep of a tile: their line spans (for a group of slices) stay in L1 */
    MAX_GROUP = 8,    /* the most slices that share the coordinates of a sweep (the portable path's) */
};

typedef enum { PATH_GENERIC = 0, PATH_AVX2, PATH_AVX512 } bp_path;

/* Pixels per vector and slices per sweep of each path. Groups measured on Zen 5 at 1024 x 900:
 * AVX2 2 x 4 vectors beat 4 x 2 by 5-15%, AVX-512 4 x 2 beat 2 x 2 by about 10%. */
static const int path_lanes[] = {1, 8, 16};
static const size_t path_group[] = {8, 2, 4};

enum { ANGLE_INNER = 1, ANGLE_EDGE = 2 };

typedef struct {
    const tl_backproject_args *a;
    bp_path path;
    size_t slice_stride;
    size_t tiles_across;
    float centre, axis;
    float upper; /* n_cols + 1: the end of the guarded coordinate range */
    /* An angle at which every computed j of a tile lies in [0, inner_end) and |cos| <= inner_cos is
     * INNER: the left taps of L neighbours are m .. m + L - 1, with m + L <= n_cols + 1. */
    float inner_end, inner_cos;
} bp_ctx;

/* The angles of one block that reach a tile, in angle order. */
typedef struct {
    size_t count;
    size_t line[ANGLE_BLOCK];      /* offset of the line from the slice's first line: i * stride */
    float ct[ANGLE_BLOCK];         /* cos */
    float st[ANGLE_BLOCK];         /* sin */
    float mcct[ANGLE_BLOCK];       /* -centre * cos, the first term of the row base */
    int32_t min_lane[ANGLE_BLOCK]; /* lane of the smallest j among L neighbours: 0 (cos >= 0) or L - 1 */
    unsigned char kind[ANGLE_BLOCK];
} tile_angles;

/* The guarded detector coordinate of column 0 of pixel row y: j(c) = base + (float)c * cos.
 * Evaluated as -centre * cos + y * sin + axis + 1, left to right (the reference rounding). */
static inline float row_base(const bp_ctx *x, float mcct, float y, float st)
{
    return mcct + y * st + x->axis + 1.0f;
}

/* Classify angles [i0, i1) for the tile of rows [r0, r1) and columns [c0, c0 + TILE) (all the
 * lanes the vector paths compute, also past the image edge). j is monotonic in the row and in the
 * column, so its range over the tile is spanned by the four corners. */
static void classify_angles(const bp_ctx *x, size_t i0, size_t i1, size_t r0, size_t r1, size_t c0,
                            tile_angles *t)
{
    const tl_backproject_args *a = x->a;
    const float y_first = (float)r0 - x->centre, y_last = (float)(r1 - 1) - x->centre;
    const float c_first = (float)c0, c_last = (float)(c0 + TILE - 1);
    const int32_t last_lane = path_lanes[x->path] - 1;
    t->count = 0;
    for (size_t i = i0; i < i1; i++) {
        const float ct = a->cos_theta[i], st = a->sin_theta[i], mcct = -x->centre * ct;
        const float b0 = row_base(x, mcct, y_first, st), b1 = row_base(x, mcct, y_last, st);
        const float corner[4] = {b0 + c_first * ct, b0 + c_last * ct, b1 + c_first * ct, b1 + c_last * ct};
        float lo = corner[0], hi = corner[0];
        for (int k = 1; k < 4; k++) {
            lo = corner[k] < lo ? corner[k] : lo;
            hi = corner[k] > hi ? corner[k] : hi;
        }
        if (hi < 0.0f || lo >= x->upper)
            continue; /* MISS */
        size_t u = t->count++;
        t->line[u] = i * a->stride;
        t->ct[u] = ct;
        t->st[u] = st;
        t->mcct[u] = mcct;
        t->min_lane[u] = ct >= 0.0f ? 0 : last_lane;
        t->kind[u] = lo >= 0.0f && hi < x->inner_end && fabsf(ct) <= x->inner_cos ? ANGLE_INNER : ANGLE_EDGE;
    }
}

/* ---- portable path ---------------------------------------------------------------------- */

/* Add the angles of t to the tile row of `width` pixels at column c0 of pixel row y, for the
 * `group` slices whose first lines are q[g] and whose rows are o[g]. */
static void sweep_generic(const bp_ctx *x, const tile_angles *t, float y, size_t c0, size_t width,
                          const float *const *q, float *const *o, size_t group)
{
    const int n_cols = (int)x->a->n_cols;
    float cf[TILE], w[TILE];
    int j0[TILE];
    for (size_t k = 0; k < width; k++)
        cf[k] = (float)(c0 + k);
    for (size_t u = 0; u < t->count; u++) {
        const float ct = t->ct[u], base = row_base(x, t->mcct[u], y, t->st[u]);
        if (t->kind[u] == ANGLE_INNER) {
            for (size_t k = 0; k < width; k++) {
                float j = base + cf[k] * ct;
                j0[k] = (int)j;
                w[k] = j - (float)j0[k];
            }
        } else {
            for (size_t k = 0; k < width; k++) {
                float j = base + cf[k] * ct;
                j = j >= 0.0f ? (j <= x->upper ? j : x->upper) : 0.0f; /* NaN: 0, like max_ps */
                int jk = (int)j;
                j0[k] = jk > n_cols ? n_cols : jk;
                w[k] = j - (float)j0[k];
            }
        }
        for (size_t g = 0; g < group; g++) {
            const float *restrict line = q[g] + t->line[u];
            float *restrict out = o[g];
            for (size_t k = 0; k < width; k++) {
                float q0 = line[j0[k]], q1 = line[j0[k] + 1];
                out[k] += q0 + w[k] * (q1 - q0);
            }
        }
    }
}

#if TL_BP_X86
/* ---- AVX2 path: 8 pixels per vector ----------------------------------------------------- */

#define TL_TARGET_AVX2 __attribute__((target("avx2")))

/* Sweep of a tile row (4 vectors) for GROUP slices; instantiated per GROUP below. */
TL_TARGET_AVX2 static inline __attribute__((always_inline)) void
sweep_avx2_body(const bp_ctx *x, const tile_angles *t, float y, size_t c0, const float *const *q,
                float *const *o, const int GROUP)
{
    enum { VECS = TILE / 8 };
    const __m256 zero = _mm256_setzero_ps(), upper = _mm256_set1_ps(x->upper);
    const __m256i last = _mm256_set1_epi32((int)x->a->n_cols);
    /* EDGE taps: two gathers of 4 (q[j0], q[j0 + 1]) pairs (64-bit loads at float offsets); the
     * indices go in as lanes [0 1 4 5 | 2 3 6 7] so that in-lane shuffles give natural order */
    const __m256i pair_order = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
    const __m256 lane = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 cf[VECS], acc[2][VECS];
    for (int v = 0; v < VECS; v++)
        cf[v] = _mm256_add_ps(_mm256_set1_ps((float)(c0 + 8 * (size_t)v)), lane); /* exact: c < 2^24 */
    for (int g = 0; g < GROUP; g++)
        for (int v = 0; v < VECS; v++)
            acc[g][v] = _mm256_loadu_ps(o[g] + 8 * v);
    for (size_t u = 0; u < t->count; u++) {
        const __m256 vct = _mm256_set1_ps(t->ct[u]), vbase = _mm256_set1_ps(row_base(x, t->mcct[u], y, t->st[u]));
        __m256 w[VECS];
        if (t->kind[u] == ANGLE_INNER) {
            const __m256i min_lane = _mm256_set1_epi32(t->min_lane[u]);
            __m256i d[VECS];
            int m[VECS];
            for (int v = 0; v < VECS; v++) {
                __m256 j = _mm256_add_ps(vbase, _mm256_mul_ps(cf[v], vct));
                __m256i j0 = _mm256_cvttps_epi32(j); /* j >= 0: truncation is floor */
                w[v] = _mm256_sub_ps(j, _mm256_cvtepi32_ps(j0));
                __m256i mv = _mm256_permutevar8x32_epi32(j0, min_lane);
                d[v] = _mm256_sub_epi32(j0, mv);
                m[v] = _mm256_cvtsi256_si32(mv);
            }
            for (int g = 0; g < GROUP; g++) {
                const float *line = q[g] + t->line[u];
                for (int v = 0; v < VECS; v++) {
                    __m256 q0 = _mm256_permutevar8x32_ps(_mm256_loadu_ps(line + m[v]), d[v]);
                    __m256 q1 = _mm256_permutevar8x32_ps(_mm256_loadu_ps(line + m[v] + 1), d[v]);
                    acc[g][v] = _mm256_add_ps(acc[g][v], _mm256_add_ps(q0, _mm256_mul_ps(w[v], _mm256_sub_ps(q1, q0))));
                }
            }
        } else {
            __m256i pairs[VECS];
            for (int v = 0; v < VECS; v++) {
                __m256 j = _mm256_add_ps(vbase, _mm256_mul_ps(cf[v], vct));
                j = _mm256_min_ps(_mm256_max_ps(j, zero), upper);
                __m256i j0 = _mm256_min_epi32(_mm256_cvttps_epi32(j), last);
                w[v] = _mm256_sub_ps(j, _mm256_cvtepi32_ps(j0));
                pairs[v] = _mm256_permutevar8x32_epi32(j0, pair_order);
            }
            for (int g = 0; g < GROUP; g++) {
                const double *line = (const double *)(const void *)(q[g] + t->line[u]);
                for (int v = 0; v < VECS; v++) {
                    __m256 lo = _mm256_castpd_ps(_mm256_i32gather_pd(line, _mm256_castsi256_si128(pairs[v]), 4));
                    __m256 hi = _mm256_castpd_ps(_mm256_i32gather_pd(line, _mm256_extracti128_si256(pairs[v], 1), 4));
                    __m256 q0 = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
                    __m256 q1 = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
                    acc[g][v] = _mm256_add_ps(acc[g][v], _mm256_add_ps(q0, _mm256_mul_ps(w[v], _mm256_sub_ps(q1, q0))));
                }
            }
        }
    }
    for (int g = 0; g < GROUP; g++)
        for (int v = 0; v < VECS; v++)
            _mm256_storeu_ps(o[g] + 8 * v, acc[g][v]);
}

TL_TARGET_AVX2 static void sweep_avx2_1(const bp_ctx *x, const tile_angles *t, float y, size_t c0,
                                        const float *const *q, float *const *o)
{
    sweep_avx2_body(x, t, y, c0, q, o, 1);
}
TL_TARGET_AVX2 static void sweep_avx2_2(const bp_ctx *x, const tile_angles *t, float y, size_t c0,
                                        const float *const *q, float *const *o)
{
    sweep_avx2_body(x, t, y, c0, q, o, 2);
}

/* ---- AVX-512 path: 16 pixels per vector, the same steps --------------------------------- */

#define TL_TARGET_AVX512 __attribute__((target("avx512f")))

TL_TARGET_AVX512 static inline __attribute__((always_inline)) void
sweep_avx512_body(const bp_ctx *x, const tile_angles *t, float y, size_t c0, const float *const *q,
                  float *const *o, const int GROUP)
{
    enum { VECS = TILE / 16 };
    const __m512 zero = _mm512_setzero_ps(), upper = _mm512_set1_ps(x->upper);
    const __m512i last = _mm512_set1_epi32((int)x->a->n_cols);
    const __m512 lane = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512 cf[VECS], acc[4][VECS];
    for (int v = 0; v < VECS; v++)
        cf[v] = _mm512_add_ps(_mm512_set1_ps((float)(c0 + 16 * (size_t)v)), lane); /* exact: c < 2^24 */
    for (int g = 0; g < GROUP; g++)
        for (int v = 0; v < VECS; v++)
            acc[g][v] = _mm512_loadu_ps(o[g] + 16 * v);
    for (size_t u = 0; u < t->count; u++) {
        const __m512 vct = _mm512_set1_ps(t->ct[u]), vbase = _mm512_set1_ps(row_base(x, t->mcct[u], y, t->st[u]));
        __m512 w[VECS];
        if (t->kind[u] == ANGLE_INNER) {
            const __m512i min_lane = _mm512_set1_epi32(t->min_lane[u]);
            __m512i d[VECS];
            int m[VECS];
            for (int v = 0; v < VECS; v++) {
                __m512 j = _mm512_add_ps(vbase, _mm512_mul_ps(cf[v], vct));
                __m512i j0 = _mm512_cvttps_epi32(j); /* j >= 0: truncation is floor */
                w[v] = _mm512_sub_ps(j, _mm512_cvtepi32_ps(j0));
                __m512i mv = _mm512_permutexvar_epi32(min_lane, j0);
                d[v] = _mm512_sub_epi32(j0, mv);
                m[v] = _mm_cvtsi128_si32(_mm512_castsi512_si128(mv));
            }
            for (int g = 0; g < GROUP; g++) {
                const float *line = q[g] + t->line[u];
                for (int v = 0; v < VECS; v++) {
                    __m512 q0 = _mm512_permutexvar_ps(d[v], _mm512_loadu_ps(line + m[v]));
                    __m512 q1 = _mm512_permutexvar_ps(d[v], _mm512_loadu_ps(line + m[v] + 1));
                    acc[g][v] = _mm512_add_ps(acc[g][v], _mm512_add_ps(q0, _mm512_mul_ps(w[v], _mm512_sub_ps(q1, q0))));
                }
            }
        } else {
            __m512i j0[VECS];
            for (int v = 0; v < VECS; v++) {
                __m512 j = _mm512_add_ps(vbase, _mm512_mul_ps(cf[v], vct));
                j = _mm512_min_ps(_mm512_max_ps(j, zero), upper);
                j0[v] = _mm512_min_epi32(_mm512_cvttps_epi32(j), last);
                w[v] = _mm512_sub_ps(j, _mm512_cvtepi32_ps(j0[v]));
            }
            for (int g = 0; g < GROUP; g++) {
                const float *line = q[g] + t->line[u];
                for (int v = 0; v < VECS; v++) {
                    __m512 q0 = _mm512_i32gather_ps(j0[v], line, 4);
                    __m512 q1 = _mm512_i32gather_ps(j0[v], line + 1, 4);
                    acc[g][v] = _mm512_add_ps(acc[g][v], _mm512_add_ps(q0, _mm512_mul_ps(w[v], _mm512_sub_ps(q1, q0))));
                }
            }
        }
    }
    for (int g = 0; g < GROUP; g++)
        for (int v = 0; v < VECS; v++)
            _mm512_storeu_ps(o[g] + 16 * v, acc[g][v]);
}

TL_TARGET_AVX512 static void sweep_avx512_1(const bp_ctx *x, const tile_angles *t, float y, size_t c0,
                                            const float *const *q, float *const *o)
{
    sweep_avx512_body(x, t, y, c0, q, o, 1);
}
TL_TARGET_AVX512 static void sweep_avx512_2(const bp_ctx *x, const tile_angles *t, float y, size_t c0,
                                            const float *const *q, float *const *o)
{
    sweep_avx512_body(x, t, y, c0, q, o, 2);
}
TL_TARGET_AVX512 static void sweep_avx512_3(const bp_ctx *x, const tile_angles *t, float y, size_t c0,
                                            const float *const *q, float *const *o)
{
    sweep_avx512_body(x, t, y, c0, q, o, 3);
}
TL_TARGET_AVX512 static void sweep_avx512_4(const bp_ctx *x, const tile_angles *t, float y, size_t c0,
                                            const float *const *q, float *const *o)
{
    sweep_avx512_body(x, t, y, c0, q, o, 4);
}

typedef void (*sweep_fn)(const bp_ctx *, const tile_angles *, float, size_t, const float *const *,
                         float *const *);
static const sweep_fn sweeps_avx2[] = {sweep_avx2_1, sweep_avx2_2};
static const sweep_fn sweeps_avx512[] = {sweep_avx512_1, sweep_avx512_2, sweep_avx512_3, sweep_avx512_4};
#endif

/* The widest path the CPU has, capped by TOMOLINE_SIMD=generic|avx2|avx512 (other values: no cap). */
static bp_path choose_path(void)
{
    bp_path widest = PATH_GENERIC;
#if TL_BP_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        widest = PATH_AVX512;
    else if (__builtin_cpu_supports("avx2"))
        widest = PATH_AVX2;
#endif
    const char *cap = getenv("TOMOLINE_SIMD");
    if (cap && strcmp(cap, "generic") == 0)
        return PATH_GENERIC;
    if (cap && strcmp(cap, "avx2") == 0 && widest > PATH_AVX2)
        return PATH_AVX2;
    return widest;
}

/* The tile row [c0, c0 + width) of pixel row r for slices [s0, s0 + group). */
static void sweep(const bp_ctx *x, const tile_angles *t, size_t r, size_t c0, size_t width, size_t s0,
                  size_t group)
{
    const tl_backproject_args *a = x->a;
    const size_t n = a->n;
    const float *q[MAX_GROUP];
    float *o[MAX_GROUP];
    for (size_t g = 0; g < group; g++) {
        q[g] = a->sino + (s0 + g) * x->slice_stride;
        o[g] = a->out + ((s0 + g) * n + r) * n + c0;
    }
    const float y = (float)r - x->centre;
#if TL_BP_X86
    if (x->path != PATH_GENERIC) {
        /* a partial tile row (right image edge) works on a copy: the vector paths read and write
         * all TILE pixels */
        float copy[4][TILE];
        float *target[4];
        for (size_t g = 0; g < group; g++) {
            target[g] = o[g];
            if (width < TILE) {
                memset(copy[g], 0, sizeof copy[g]);
                memcpy(copy[g], o[g], width * sizeof(float));
                target[g] = copy[g];
            }
        }
        if (x->path == PATH_AVX512)
            sweeps_avx512[group - 1](x, t, y, c0, q, target);
        else
            sweeps_avx2[group - 1](x, t, y, c0, q, target);
        if (width < TILE)
            for (size_t g = 0; g < group; g++)
                memcpy(o[g], copy[g], width * sizeof(float));
        return;
    }
#endif
    sweep_generic(x, t, y, c0, width, q, o, group);
}

static void backproject_tile(const bp_ctx *x, size_t r0, size_t r1, size_t c0, size_t width)
{
    const tl_backproject_args *a = x->a;
    const size_t n = a->n, slice_group = path_group[x->path];
    tile_angles t;
    if (!a->accumulate) /* zero first, then add: 0 + term is the term, as in the reference */
        for (size_t s = 0; s < a->n_slices; s++)
            for (size_t r = r0; r < r1; r++)
                memset(a->out + (s * n + r) * n + c0, 0, width * sizeof(float));
    for (size_t i0 = 0; i0 < a->n_angles; i0 += ANGLE_BLOCK) {
        size_t i1 = i0 + ANGLE_BLOCK < a->n_angles ? i0 + ANGLE_BLOCK : a->n_angles;
        classify_angles(x, i0, i1, r0, r1, c0, &t);
        if (t.count == 0)
            continue;
        for (size_t s0 = 0; s0 < a->n_slices; s0 += slice_group) {
            size_t group = a->n_slices - s0 < slice_group ? a->n_slices - s0 : slice_group;
            for (size_t r = r0; r < r1; r++)
                sweep(x, &t, r, c0, width, s0, group);
        }
    }
}

static void backproject_tiles(void *p, size_t begin, size_t end, int thread)
{
    const bp_ctx *x = p;
    const size_t n = x->a->n;
    for (size_t k = begin; k < end; k++) {
        size_t r0 = (k / x->tiles_across) * TILE, c0 = (k % x->tiles_across) * TILE;
        backproject_tile(x, r0, r0 + TILE < n ? r0 + TILE : n, c0, c0 + TILE < n ? TILE : n - c0);
    }
}

void tl_backproject_cpu(const tl_backproject_args *args, tl_workers *workers)
{
    if (args->n == 0 || args->n_slices == 0)
        return;
    const bp_path path = choose_path();
    const int lanes = path_lanes[path];
    bp_ctx x = {
        .a = args,
        .path = path,
        .slice_stride = args->slice_stride ? args->slice_stride : args->n_angles * args->stride,
        .tiles_across = (args->n + TILE - 1) / TILE,
        .centre = 0.5f * (float)(args->n - 1),
        .axis = (float)args->axis,
        .upper = (float)args->n_cols + 1.0f,
        /* floor(j) <= n_cols + 1 - L: the L-wide loads at m and m + 1 end at n_cols + 1, the
         * guard (the portable path reads j0 and j0 + 1 only: L = 1, no clamping needed) */
        .inner_end = (float)args->n_cols + 2.0f - (float)lanes,
        /* L neighbours span (L - 1) |cos| plus the rounding of two products and two sums, below
         * 2^-23 (n + n_cols + 2); while that stays <= L - 1 their left taps differ by at most
         * L - 1 (floor(j_last) <= j_first + L - 1 < floor(j_first) + L). Margin 2x. */
        .inner_cos = lanes == 1 ? 2.0f
                                : (float)(1.0 - 4.0 * ldexp(1.0, -24) *
                                                    ((double)args->n + (double)args->n_cols + 2.0) / (lanes - 1)),
    };
    tl_workers_run(workers, x.tiles_across * ((args->n + TILE - 1) / TILE), 1, backproject_tiles, &x);
}
