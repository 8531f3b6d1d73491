// Exact per-class Euclidean distance transform (docs/distance-maps.md).
//
// Labels [B, H, W] (uchar: 0 background, 1…C classes, 255 ignore) → [B, C, H, W] float, channel k
// the distance of every pixel to the nearest pixel of class k + 1. Separable and linear-time:
//
//   1. edt_columns: for every (plane p = b·C + k, column x), forward and backward sweeps along y
//      give g(y, x) = |y − y'| to the nearest class pixel of the column, in integers (REG_EDT_NONE
//      when the column has none). One work-item per column: adjacent work-items read adjacent
//      bytes of a row and write adjacent ints, so every access is coalesced. CPU devices run
//      edt_columns_strip instead, the same sweeps over a strip of columns per work-item.
//   2. edt_rows: for every row (b, k, y), the lower envelope of the parabolas
//      P_q(x) = sx²(x − q)² + sy²·g(y, q)² over the columns q that have a class pixel
//      (Felzenszwalb–Huttenlocher / Meijster), then each x reads its minimum off the envelope.
//      On the integral path that walk down the envelope is one select step per x (no inner loop,
//      no data-dependent branch). On CPU devices, on the integral path, REG_EDT_LANES rows run as
//      the lanes of one vector for both steps: the envelopes are built together with breakpoints
//      compared as fractions (no division; reg_edt_build_lanes), compressed to integer starts
//      (reg_edt_compress_lanes), then walked together.
//
// Both kernels work in one buffer: edt_columns writes g as int into the output, edt_rows reads a
// row of g and overwrites it with the float result. The envelope's stack lives in place in the row
// itself (entry k sits in slot k, and k ≤ the column being read, so it never overwrites a g still
// to be read); the output is written right to left, which never overwrites an entry still needed
// (the active entry k at x has k ≤ z_k ≤ x). No scratch memory: any width fits.
//
// Exactness: with sy = sx (unit spacing included) the envelope is built with integer arithmetic
// only (exact breakpoints by floor division), so the squared distance is the exact integer
// dy² + dx², times sy² when the spacing is not 1, rounded once to float. With sy ≠ sx the
// breakpoints are computed in float, which can only swap two parabolas whose values differ by
// rounding, so the result stays within a few ulp of the exact one. Sizes up to 32768 keep every
// intermediate inside int32 (|g_u² − g_i² + u² − i²| ≤ 2·32767² < 2^31).

#define REG_EDT_NONE 0x40000000   // no class pixel in the column (larger than any real distance)


// Phase 1. Global size [⌈W⌉, B·C]; one work-item per (column x, plane p). g is the output
// buffer viewed as int. A label outside 0…C and 255 sets *bad_label (checked by the k = 0
// work-items only; every writer stores 1, so the order does not matter).
__kernel void edt_columns(__global const uchar *restrict labels,
                          __global int *restrict g,
                          const int classes,
                          const int height,
                          const int width,
                          __global int *restrict bad_label) {
    const int x = (int)get_global_id(0);
    const int p = (int)get_global_id(1);
    const int active = x < width;
    const int b = p / classes;
    const int k = p - b * classes;
    const uchar cls = (uchar)(k + 1);
    const size_t plane = (size_t)height * (size_t)width;
    const size_t stride = (size_t)width;
    __global const uchar *column = labels + (size_t)b * plane + (size_t)(active ? x : width - 1);
    __global int *out = g + (size_t)p * plane + (size_t)(active ? x : width - 1);

    int bad = 0;
    int d = REG_EDT_NONE;
    for (int y = 0; y < height; ++y) {
        const uchar l = column[(size_t)y * stride];
        bad |= (l > classes) & (l != REG_IGNORE_LABEL);
        d = (l == cls) ? 0 : min(d + 1, REG_EDT_NONE);
        if (active) out[(size_t)y * stride] = d;
    }
    int e = REG_EDT_NONE;
    for (int y = height - 1; y >= 0; --y) {
        const int f = out[(size_t)y * stride];
        e = (f == 0) ? 0 : min(e + 1, REG_EDT_NONE);
        if (active) out[(size_t)y * stride] = min(f, e);
    }
    if (bad && k == 0 && active) *bad_label = 1;
}

// Phase 1 for CPU devices. Global size [⌈W / strip⌉, B·C]: one work-item sweeps a strip of
// `strip` columns row by row, its inner loops over contiguous columns (which LLVM vectorises), the
// previous row read back from the output. One work-item per column would walk each column alone
// at a stride of a whole row: one cache line and one TLB entry per pixel, several times slower on
// a CPU. The host makes strips as wide as the parallelism allows (whole rows when there are planes
// enough for the cores): a strip narrower than the row makes each row's segment a separate
// stream, which the CPU's prefetchers follow less well.
__kernel void edt_columns_strip(__global const uchar *restrict labels,
                                __global int *restrict g,
                                const int classes,
                                const int height,
                                const int width,
                                __global int *restrict bad_label,
                                const int strip) {
    const int x0 = (int)get_global_id(0) * strip;
    const int p = (int)get_global_id(1);
    if (x0 >= width) return;
    const int span = min(strip, width - x0);
    const int b = p / classes;
    const int k = p - b * classes;
    const uchar cls = (uchar)(k + 1);
    const size_t plane = (size_t)height * (size_t)width;
    __global const uchar *in = labels + (size_t)b * plane + (size_t)x0;
    __global int *out = g + (size_t)p * plane + (size_t)x0;

    int bad = 0;
    for (int x = 0; x < span; ++x) {
        const uchar l = in[x];
        bad |= (l > classes) & (l != REG_IGNORE_LABEL);
        out[x] = (l == cls) ? 0 : REG_EDT_NONE;
    }
    for (int y = 1; y < height; ++y) {
        __global const uchar *row = in + (size_t)y * (size_t)width;
        __global int *now = out + (size_t)y * (size_t)width;
        __global const int *above = now - width;
        for (int x = 0; x < span; ++x) {
            const uchar l = row[x];
            bad |= (l > classes) & (l != REG_IGNORE_LABEL);
            now[x] = (l == cls) ? 0 : min(above[x] + 1, REG_EDT_NONE);
        }
    }
    for (int y = height - 2; y >= 0; --y) {
        __global int *now = out + (size_t)y * (size_t)width;
        __global const int *below = now + width;
        for (int x = 0; x < span; ++x) now[x] = min(now[x], below[x] + 1);
    }
    if (bad && k == 0) *bad_label = 1;
}

// The first integer x at which parabola u (column u, height gu) lies strictly below parabola i
// (i < u). Integer path (sy = sx): x > num / den with num = gu² − gi² + u² − i², den = 2(u − i),
// by exact floor division (a shift when den = 2, the common case of adjacent columns). Float path
// (sy ≠ sx): x > (u + i)/2 + sy²(gu² − gi²) / (2 sx² (u − i)), clamped before the conversion so
// that huge or infinite quotients stay well defined.
inline int reg_edt_floor_div(int num, int den) {
    if (den == 2) return num >> 1;   // arithmetic shift: the floor for negative num too
    return num >= 0 ? num / den : -((den - 1 - num) / den);
}

inline int reg_edt_start(int i, int gi, int u, int gu, int integral, float sy2, float sx2, int width) {
    const int den = 2 * (u - i);
    if (integral) return reg_edt_floor_div((gu * gu - gi * gi) + (u - i) * (u + i), den) + 1;
    float t = (sy2 * (float)(gu * gu - gi * gi)) / (sx2 * (float)den) + 0.5f * (float)(u + i);
    t = fmin(fmax(t, -2.0f), (float)width);
    return (int)floor(t) + 1;
}

// Whether parabola u hides the top entry (i, gi, starting at zi) wherever that entry was lowest,
// i.e. start(i, u) ≤ zi. On the integer path ⌊num/den⌋ + 1 ≤ zi ⟺ num < zi·den: no division
// (|zi·den| ≤ 32768 · 65534 < 2^31).
inline int reg_edt_hides(int i, int gi, int zi, int u, int gu, int integral, float sy2, float sx2, int width) {
    if (integral) return (gu * gu - gi * gi) + (u - i) * (u + i) < zi * (2 * (u - i));
    return reg_edt_start(i, gi, u, gu, integral, sy2, sx2, width) <= zi;
}

// Stack entries: column v in the high 16 bits, its height g (≤ 32767) in the low 16 bits.
#define REG_EDT_V(e) ((e) >> 16)
#define REG_EDT_G(e) ((e) & 0xffff)

// The start z of entry `top` of the stack in `line` (0 for the bottom entry), recomputed from the
// entry below it: the same arithmetic as when it was pushed, so the same value.
inline int reg_edt_entry_start(__global const int *line, int top, int entry, int integral, float sy2,
                               float sx2, int width) {
    if (top == 0) return 0;
    const int below = line[top - 1];
    return reg_edt_start(REG_EDT_V(below), REG_EDT_G(below), REG_EDT_V(entry), REG_EDT_G(entry),
                         integral, sy2, sx2, width);
}

// The squared distance (or distance) from x to the class pixel of entry (v, gv).
inline float reg_edt_value(int x, int v, int gv, int integral, float sy2, float sx2, float scale2,
                           int squared) {
    const int dx = x - v;
    float d2;
    if (integral) {
        d2 = (float)(dx * dx + gv * gv) * scale2;
    } else {
        d2 = sx2 * (float)(dx * dx) + sy2 * (float)(gv * gv);
    }
    return squared ? d2 : sqrt(d2);
}

// Pushes column u (height gu) onto the envelope held in `line`, popping the entries it hides.
// (top, vt, gt, zt): the top entry's slot, column, height and start, kept in registers.
#define REG_EDT_PUSH(line, u, gu)                                                                  \
    do {                                                                                           \
        while (top >= 0 && reg_edt_hides(vt, gt, zt, (u), (gu), integral, sy2, sx2, width)) {    \
            if (--top >= 0) {                                                                      \
                const int e_ = (line)[top];                                                        \
                vt = REG_EDT_V(e_);                                                                \
                gt = REG_EDT_G(e_);                                                                \
                zt = reg_edt_entry_start((line), top, e_, integral, sy2, sx2, width);              \
            }                                                                                      \
        }                                                                                          \
        const int w = top < 0 ? 0 : reg_edt_start(vt, gt, (u), (gu), integral, sy2, sx2, width); \
        if (w < width) {                                                                           \
            (line)[++top] = ((u) << 16) | (gu);                                                    \
            vt = (u);                                                                              \
            gt = (gu);                                                                             \
            zt = w;                                                                                \
        }                                                                                          \
    } while (0)

// Moves down the envelope until the top entry (vt, gt) covers x: while the entry below (eb, kept
// in a register) is at least as close at x (exactly "x < z_top" on the integral path, with no
// division), or the top entry's slot lies past x (which "x < z_top" implies; it keeps the in-place
// stack safe on the float path, whose breakpoints are rounded).
#define REG_EDT_SEEK(line, x)                                                                      \
    while (top > 0) {                                                                              \
        if (top <= (x)) {                                                                          \
            const int dt_ = (x) - vt, db_ = (x) - REG_EDT_V(eb), gb_ = REG_EDT_G(eb);              \
            if (integral) {                                                                        \
                if (db_ * db_ + gb_ * gb_ > dt_ * dt_ + gt * gt) break;                            \
            } else if (sx2 * (float)(db_ * db_) + sy2 * (float)(gb_ * gb_) >                       \
                       sx2 * (float)(dt_ * dt_) + sy2 * (float)(gt * gt)) {                        \
                break;                                                                             \
            }                                                                                      \
        }                                                                                          \
        --top;                                                                                     \
        vt = REG_EDT_V(eb);                                                                        \
        gt = REG_EDT_G(eb);                                                                        \
        if (top > 0) eb = (line)[top - 1];                                                         \
    }

// The walk down the envelope on the integral path: one step per x, with no inner loop and no
// data-dependent branch. Starts are strictly increasing integers from 0 (an entry that would start
// at or before the one below it is popped when the next is pushed), so moving left by one pixel
// leaves at most one entry behind: exactly when the entry below is at least as close at x, the
// test REG_EDT_SEEK makes. The step computes both candidates' d² and selects, so it gives the same
// entries and the same integers as REG_EDT_SEEK. (top, vt, gt): the top entry; (vb, gb): the entry
// below it; e2: the packed entry below that, loaded one step ahead, so that a pop does not wait for
// memory. Every slot it reads is < top ≤ z_top ≤ x: writing x and the pixels right of it never
// destroyed it.
typedef struct {
    int top, vt, gt, vb, gb, e2;
} reg_edt_walk;

// The walk of a non-empty envelope (top ≥ 0) whose top entry is (vt, gt).
inline reg_edt_walk reg_edt_walk_start(__global const int *line, int top, int vt, int gt) {
    reg_edt_walk w;
    const int eb = line[max(top - 1, 0)];
    w.top = top;
    w.vt = vt;
    w.gt = gt;
    w.vb = REG_EDT_V(eb);
    w.gb = REG_EDT_G(eb);
    w.e2 = line[max(top - 2, 0)];
    return w;
}

// Moves the walk to the entry that covers x (x decreasing by one per call) and returns the exact
// integer d² = (x − v)² + g² of that entry (≤ 2·32767² < 2^31).
inline int reg_edt_walk_step(reg_edt_walk *w, __global const int *line, int x) {
    const int dt = x - w->vt, db = x - w->vb;
    const int at = dt * dt + w->gt * w->gt, ab = db * db + w->gb * w->gb;
    const int pop = (w->top > 0) & (ab <= at);
    w->vt = pop ? w->vb : w->vt;
    w->gt = pop ? w->gb : w->gt;
    w->vb = pop ? REG_EDT_V(w->e2) : w->vb;
    w->gb = pop ? REG_EDT_G(w->e2) : w->gb;
    w->top -= pop;
    w->e2 = line[max(w->top - 2, 0)];
    return pop ? ab : at;
}

// The output of an exact integer d² on the integral path: the same two roundings as
// reg_edt_value (the product with scale2 = sy², then the square root unless squared).
inline float reg_edt_finish(int d2, float scale2, int squared) {
    const float f = (float)d2 * scale2;
    return squared ? f : sqrt(f);
}

// Builds the envelope of `line` in place: leaves (top, vt, gt, zt) on its top entry, top = -1
// when the row has no column with a class pixel.
#define REG_EDT_BUILD(line)                                                                        \
    for (int u = 0; u < width; ++u) {                                                              \
        const int gu = (line)[u];                                                                  \
        if (gu < REG_EDT_NONE) REG_EDT_PUSH((line), u, gu);                                        \
    }

// Rows a work-item of edt_rows takes at a time: 1, 2, 4, 8 or 16, the lanes of one OpenCL vector.
#ifndef REG_EDT_LANES
#define REG_EDT_LANES 16
#endif
#if REG_EDT_LANES == 16
#define REG_EDT_INTN int16
#define REG_EDT_FLOATN float16
#define REG_EDT_VLOAD vload16
#define REG_EDT_VSTORE vstore16
#define REG_EDT_TO_FLOATN convert_float16
#define REG_EDT_AS_INTN as_int16
#define REG_EDT_TO_LONGN convert_long16
#define REG_EDT_TO_INTN convert_int16
#elif REG_EDT_LANES == 8
#define REG_EDT_INTN int8
#define REG_EDT_FLOATN float8
#define REG_EDT_VLOAD vload8
#define REG_EDT_VSTORE vstore8
#define REG_EDT_TO_FLOATN convert_float8
#define REG_EDT_AS_INTN as_int8
#define REG_EDT_TO_LONGN convert_long8
#define REG_EDT_TO_INTN convert_int8
#elif REG_EDT_LANES == 4
#define REG_EDT_INTN int4
#define REG_EDT_FLOATN float4
#define REG_EDT_VLOAD vload4
#define REG_EDT_VSTORE vstore4
#define REG_EDT_TO_FLOATN convert_float4
#define REG_EDT_AS_INTN as_int4
#define REG_EDT_TO_LONGN convert_long4
#define REG_EDT_TO_INTN convert_int4
#elif REG_EDT_LANES == 2
#define REG_EDT_INTN int2
#define REG_EDT_FLOATN float2
#define REG_EDT_VLOAD vload2
#define REG_EDT_VSTORE vstore2
#define REG_EDT_TO_FLOATN convert_float2
#define REG_EDT_AS_INTN as_int2
#define REG_EDT_TO_LONGN convert_long2
#define REG_EDT_TO_INTN convert_int2
#elif REG_EDT_LANES != 1
#error "REG_EDT_LANES must be 1, 2, 4, 8 or 16"
#endif

// Pixels of each row the vector walk of edt_rows writes out at a time (one cache line of ints).
#ifndef REG_EDT_BLOCK
#define REG_EDT_BLOCK 16
#endif

// Gathers, for every lane i, the packed entry in slot slot[i] of row i (rows `width` apart from
// `first`). Every slot is ≥ 0 and below the lane's walk position (see reg_edt_walk).
#define REG_EDT_GATHER(result, first, slot)                                                        \
    do {                                                                                           \
        int at_[REG_EDT_LANES], got_[REG_EDT_LANES];                                               \
        REG_EDT_VSTORE((slot), 0, at_);                                                            \
        _Pragma("unroll") for (int i_ = 0; i_ < REG_EDT_LANES; ++i_) {                             \
            got_[i_] = (first)[(size_t)i_ * (size_t)width + (size_t)at_[i_]];                      \
        }                                                                                          \
        (result) = REG_EDT_VLOAD(0, got_);                                                         \
    } while (0)

// Stores, for every lane i, value[i] into slot slot[i] of row i (rows `width` apart from `first`).
#define REG_EDT_SCATTER(first, slot, value)                                                        \
    do {                                                                                           \
        int at_[REG_EDT_LANES], put_[REG_EDT_LANES];                                               \
        REG_EDT_VSTORE((slot), 0, at_);                                                            \
        REG_EDT_VSTORE((value), 0, put_);                                                          \
        _Pragma("unroll") for (int i_ = 0; i_ < REG_EDT_LANES; ++i_) {                             \
            (first)[(size_t)i_ * (size_t)width + (size_t)at_[i_]] = put_[i_];                      \
        }                                                                                          \
    } while (0)

#if REG_EDT_LANES > 1
// Whether any lane of a comparison result (-1 where true) is set: an OR fold then one test, so
// that the loop branch below is one branch (`any` compiled to one branch per lane pair on PoCL).
inline int reg_edt_any2(int2 p) { return (p.x | p.y) < 0; }
inline int reg_edt_any4(int4 p) { return reg_edt_any2(p.lo | p.hi); }
inline int reg_edt_any8(int8 p) { return reg_edt_any4(p.lo | p.hi); }
inline int reg_edt_any16(int16 p) { return reg_edt_any8(p.lo | p.hi); }
#define REG_EDT_ANY_(n) reg_edt_any##n
#define REG_EDT_ANY(n) REG_EDT_ANY_(n)

// a·b ≤ c·d in every lane, the products in 64 bits (each factor below 2^31 in magnitude).
#define REG_EDT_PRODUCT_LE(a, b, c, d)                                                             \
    REG_EDT_TO_INTN(REG_EDT_TO_LONGN(a) * REG_EDT_TO_LONGN(b) <= REG_EDT_TO_LONGN(c) * REG_EDT_TO_LONGN(d))

// One stack entry in every lane: column v, height g, breakpoint n / d against the entry below.
typedef struct {
    REG_EDT_INTN v, g, n, d;
} reg_edt_lanes_entry;

// `taken` in the lanes where `where` is set (-1), `kept` elsewhere.
inline reg_edt_lanes_entry reg_edt_pick(reg_edt_lanes_entry kept, reg_edt_lanes_entry taken, REG_EDT_INTN where) {
    reg_edt_lanes_entry e;
    e.v = select(kept.v, taken.v, where);
    e.g = select(kept.g, taken.g, where);
    e.n = select(kept.n, taken.n, where);
    e.d = select(kept.d, taken.d, where);
    return e;
}

// The envelopes of REG_EDT_LANES rows at once (integral path), row i in lane i, stacks in place
// as REG_EDT_BUILD keeps them. Building one row is a chain of data-dependent pushes and pops that
// a CPU mispredicts; here the rows' steps run together as vector selects, and the only branch left
// is "does some lane pop again", once per column for all the rows.
//
// Division-free: each entry carries its breakpoint against the entry below as the fraction
// s = n / d (n = g² − g_b² + v² − v_b², d = 2(v − v_b) > 0; −∞, written −1/0, for the bottom
// entry), and the top is popped when the new parabola's breakpoint against it is ≤ the top's own:
// n·d_t ≤ n_t·d, compared exactly in 64 bits. That is the envelope over the reals
// (Felzenszwalb–Huttenlocher): it can keep entries lowest on no integer x, which
// reg_edt_compress_lanes removes. A new parabola is kept only if it becomes lowest before the last
// pixel (s < width − 1, as REG_EDT_PUSH's start < width). Registers hold the top entry, the one
// below it and the one below that, so a pop gathers one entry from memory (slot top − 3) and a
// push scatters one (slot top + 1 ≤ u, the column just read, or a slot above the stack). Leaves
// each lane's top slot in tops (−1: no class pixel).
inline void reg_edt_build_lanes(__global int *base, int width, int *tops) {
    // Breakpoint −1/0: −∞, the bottom entry's.
    const reg_edt_lanes_entry none = {(REG_EDT_INTN)(0), (REG_EDT_INTN)(0), (REG_EDT_INTN)(-1), (REG_EDT_INTN)(0)};
    REG_EDT_INTN top = (REG_EDT_INTN)(-1);
    // The top entry, the one below it and the one below that (whose n and d are not kept).
    reg_edt_lanes_entry t = none, b = none, c = none;
    for (int u = 0; u < width; ++u) {
        const REG_EDT_INTN un = (REG_EDT_INTN)(u);
        REG_EDT_INTN gu;
        REG_EDT_GATHER(gu, base, un);
        const REG_EDT_INTN valid = gu < (REG_EDT_INTN)(REG_EDT_NONE);
        // A column without a class pixel leaves every stack as it is. g is REG_EDT_NONE down a
        // whole column of a plane, so the lanes' rows (one plane, or two) mostly agree, and about
        // half the columns of the benchmark's maps are skipped here for all the rows at once.
        if (!REG_EDT_ANY(REG_EDT_LANES)(valid)) continue;
        // The new parabola's breakpoint n / d against the top.
        reg_edt_lanes_entry p = {un, gu, (REG_EDT_INTN)(0), (REG_EDT_INTN)(0)};
        for (;;) {
            p.n = gu * gu - t.g * t.g + (un - t.v) * (un + t.v);
            p.d = 2 * (un - t.v);
            const REG_EDT_INTN pop = valid & (top >= 0) & REG_EDT_PRODUCT_LE(p.n, t.d, t.n, p.d);
            if (!REG_EDT_ANY(REG_EDT_LANES)(pop)) break;
            REG_EDT_INTN e;
            REG_EDT_GATHER(e, base, max(top - 3, 0));
            const reg_edt_lanes_entry below = {REG_EDT_V(e), REG_EDT_G(e), (REG_EDT_INTN)(0), (REG_EDT_INTN)(0)};
            // c moves up to b's place, with its breakpoint against the entry gathered below it.
            const REG_EDT_INTN has = top >= 3;
            c.n = select((REG_EDT_INTN)(-1), c.g * c.g - below.g * below.g + (c.v - below.v) * (c.v + below.v), has);
            c.d = select((REG_EDT_INTN)(0), 2 * (c.v - below.v), has);
            t = reg_edt_pick(t, b, pop);
            b = reg_edt_pick(b, c, pop);
            c = reg_edt_pick(c, below, pop);
            top += pop;   // comparisons are -1 where true
        }
        const REG_EDT_INTN empty = top < 0;
        // (width − 1)·d ≤ 32767 · 65534 < 2^31.
        const REG_EDT_INTN push = valid & (empty | (p.n < (width - 1) * p.d));
        REG_EDT_SCATTER(base, top + 1, (un << 16) | gu);
        p.n = select(p.n, (REG_EDT_INTN)(-1), empty);
        p.d = select(p.d, (REG_EDT_INTN)(0), empty);
        c = reg_edt_pick(c, b, push);
        b = reg_edt_pick(b, t, push);
        t = reg_edt_pick(t, p, push);
        top -= push;
    }
    REG_EDT_VSTORE(top, 0, tops);
}

// ⌊n / d⌋ in every lane, exact where it lies in [−1, width − 1) (d ≥ 2); below, some integer
// ≤ −1; above, some integer ≥ width − 1. The float quotient, clamped to [−1, width − 1] before
// its conversion, is within 0.02 of n/d there (|n/d| ≤ 2^15, OpenCL's division within 2.5 ulp, the
// conversion of n within 0.5 ulp), so its floor is off by at most one, which two integer tests
// correct ((f + 1)·d ≤ width · 65534 < 2^31). Integer division has no vector instruction.
inline REG_EDT_INTN reg_edt_floor_div_lanes(REG_EDT_INTN n, REG_EDT_INTN d, int width) {
    const REG_EDT_FLOATN q = REG_EDT_TO_FLOATN(n) / REG_EDT_TO_FLOATN(d);
    REG_EDT_INTN f = REG_EDT_TO_INTN(floor(fmin(fmax(q, -1.0f), (float)(width - 1))));
    f += f * d > n;          // comparisons are -1 where true
    f -= (f + 1) * d <= n;
    return f;
}

// Turns the lanes' envelopes over the reals (slots 0…tops[i] of row i, from
// reg_edt_build_lanes) into the ones REG_EDT_BUILD leaves: the entries lowest on at least one
// integer x, whose integer starts then increase strictly from 0. Entry k's start is
// z_k = max(⌊s_k⌋ + 1, 0) (z_0 = 0, z_{top+1} = width), s_k its breakpoint against entry k − 1,
// and entry k is kept when z_k < z_{k+1}. Dropping an entry with no integer x does not move the
// next one's integer start: its breakpoint against the entry kept below lies in [s_k, s_{k+1}], an
// interval with no integer above s_k, so it has the same floor. Every kept s_k < width − 1 (the
// build's test), so ⌊s_k⌋ is exact or, below −1, gives z_k = 0 all the same. The lanes step
// through the slots together, each until its own top; a lane that is done, or empty, writes
// only at its slot kept (one past its new top, or its own slot 0 unchanged). Entries move down only
// (slot kept ≤ k). Leaves the new tops in tops.
inline void reg_edt_compress_lanes(__global int *base, int width, int *tops) {
    const REG_EDT_INTN top = REG_EDT_VLOAD(0, tops);
    int last = -1;
    for (int j = 0; j < REG_EDT_LANES; ++j) last = max(last, tops[j]);
    REG_EDT_INTN kept = 0, start = 0, previous;
    REG_EDT_GATHER(previous, base, (REG_EDT_INTN)(0));
    for (int k = 1; k <= last + 1; ++k) {
        const REG_EDT_INTN slot = (REG_EDT_INTN)(k);
        const REG_EDT_INTN active = slot <= top + 1, inside = slot <= top;
        REG_EDT_INTN entry;
        REG_EDT_GATHER(entry, base, (REG_EDT_INTN)(min(k, width - 1)));
        const REG_EDT_INTN v = REG_EDT_V(entry), g = REG_EDT_G(entry);
        const REG_EDT_INTN vb = REG_EDT_V(previous), gb = REG_EDT_G(previous);
        const REG_EDT_INTN n = g * g - gb * gb + (v - vb) * (v + vb), d = max(2 * (v - vb), 2);
        const REG_EDT_INTN next =
            select((REG_EDT_INTN)(width), max(reg_edt_floor_div_lanes(n, d, width) + 1, 0), inside);
        REG_EDT_SCATTER(base, kept, previous);
        kept -= active & (start < next);
        start = select(start, max(start, next), active);
        previous = select(previous, entry, active);
    }
    REG_EDT_VSTORE(select(top, kept - 1, top > 0), 0, tops);
}
#endif

// Phase 2, direct: each work-item takes REG_EDT_LANES consecutive rows at a time and reads and
// writes them in global memory in order (the layout CPU devices want: the rows stream through one
// core's cache). rows = B·C·H. integral: 1 when sy = sx (exact integer envelope; d² = (dx² + dy²)
// ·scale2, scale2 = sy²). Each row's envelope is built on its own (the pushes and pops branch on
// the data). On the integral path the walks of all the rows then run together as the lanes of one
// OpenCL vector, one select step per x (reg_edt_walk_step, lane by lane): branch-free and
// vectorised. Rows of a group that is not whole, groups with a row that has no class pixel, and
// the float path take the same steps one row at a time.
__kernel void edt_rows(__global int *restrict data,
                       const ulong rows,
                       const int width,
                       const int integral,
                       const float sy2,
                       const float sx2,
                       const float scale2,
                       const int squared) {
    for (size_t first = get_global_id(0) * REG_EDT_LANES; first < rows;
         first += get_global_size(0) * REG_EDT_LANES) {
        const int count = (int)min((ulong)REG_EDT_LANES, rows - first);
        __global int *base = data + first * (size_t)width;
        int tops[REG_EDT_LANES], vts[REG_EDT_LANES], gts[REG_EDT_LANES];
        int least = 0;
#if REG_EDT_LANES > 1
        if (integral && count == REG_EDT_LANES) {
            reg_edt_build_lanes(base, width, tops);
            reg_edt_compress_lanes(base, width, tops);
            for (int j = 0; j < count; ++j) {
                const int e = base[(size_t)j * (size_t)width + (size_t)max(tops[j], 0)];
                vts[j] = REG_EDT_V(e);
                gts[j] = REG_EDT_G(e);
                least = min(least, tops[j]);
            }
        } else
#endif
        for (int j = 0; j < count; ++j) {
            __global int *line = base + (size_t)j * (size_t)width;
            int top = -1, vt = 0, gt = 0, zt = 0;
            REG_EDT_BUILD(line);
            tops[j] = top;
            vts[j] = vt;
            gts[j] = gt;
            least = min(least, top);
        }
#if REG_EDT_LANES > 1
        if (integral && count == REG_EDT_LANES && least >= 0) {
            REG_EDT_INTN top = REG_EDT_VLOAD(0, tops), vt = REG_EDT_VLOAD(0, vts), gt = REG_EDT_VLOAD(0, gts);
            REG_EDT_INTN eb, e2;
            REG_EDT_GATHER(eb, base, max(top - 1, 0));
            REG_EDT_GATHER(e2, base, max(top - 2, 0));
            REG_EDT_INTN vb = REG_EDT_V(eb), gb = REG_EDT_G(eb);
            // Right to left in blocks of REG_EDT_BLOCK pixels: the block's outputs are gathered
            // in private memory, then written one row at a time, whole cache lines. Storing each
            // step's REG_EDT_LANES values straight to their rows would put them a row pitch
            // apart, and with a power-of-two width all in one cache set, which then thrashes.
            for (int end = width; end > 0; end -= REG_EDT_BLOCK) {
                const int start = max(end - REG_EDT_BLOCK, 0);
                int block[REG_EDT_LANES * REG_EDT_BLOCK];
                for (int x = end - 1; x >= start; --x) {
                    // reg_edt_walk_step in every lane (vector comparisons are -1 where true).
                    const REG_EDT_INTN dt = (REG_EDT_INTN)(x) - vt, db = (REG_EDT_INTN)(x) - vb;
                    const REG_EDT_INTN at = dt * dt + gt * gt, ab = db * db + gb * gb;
                    const REG_EDT_INTN pop = (top > 0) & (ab <= at);
                    vt = select(vt, vb, pop);
                    gt = select(gt, gb, pop);
                    vb = select(vb, REG_EDT_V(e2), pop);
                    gb = select(gb, REG_EDT_G(e2), pop);
                    top += pop;
                    REG_EDT_GATHER(e2, base, max(top - 2, 0));
                    const REG_EDT_FLOATN f = REG_EDT_TO_FLOATN(select(at, ab, pop)) * scale2;
                    int out[REG_EDT_LANES];
                    REG_EDT_VSTORE(REG_EDT_AS_INTN(squared ? f : sqrt(f)), 0, out);
                    _Pragma("unroll") for (int i = 0; i < REG_EDT_LANES; ++i) {
                        block[i * REG_EDT_BLOCK + (x - start)] = out[i];
                    }
                }
                for (int i = 0; i < REG_EDT_LANES; ++i) {
                    __global int *line = base + (size_t)i * (size_t)width;
                    for (int c = 0; c < end - start; ++c) line[start + c] = block[i * REG_EDT_BLOCK + c];
                }
            }
            continue;
        }
#endif
        for (int j = 0; j < count; ++j) {
            __global int *line = base + (size_t)j * (size_t)width;
            int top = tops[j], vt = vts[j], gt = gts[j];
            if (top < 0) {
                for (int x = 0; x < width; ++x) line[x] = as_int(INFINITY);
            } else if (integral) {
                reg_edt_walk w = reg_edt_walk_start(line, top, vt, gt);
                for (int x = width - 1; x >= 0; --x) {
                    line[x] = as_int(reg_edt_finish(reg_edt_walk_step(&w, line, x), scale2, squared));
                }
            } else {
                int eb = top > 0 ? line[top - 1] : 0;
                for (int x = width - 1; x >= 0; --x) {
                    REG_EDT_SEEK(line, x);
                    line[x] = as_int(reg_edt_value(x, vt, gt, integral, sy2, sx2, scale2, squared));
                }
            }
        }
    }
}

// Phase 2, staged through local memory (the layout GPUs want). A work-group of R work-items owns
// R consecutive rows, one each, and moves them through a local tile of R rows × REG_EDT_TILE
// columns: the group loads a tile with consecutive work-items reading consecutive addresses of one
// row (coalesced), then each work-item consumes its own row of the tile; the output goes the same
// way in reverse, right to left. Only the envelope's stack (in place in the row) is read and
// written by its own work-item alone. Global size: R·⌈rows / R⌉, local size R; tile: R·(TILE+1) ints.
#ifndef REG_EDT_TILE
#define REG_EDT_TILE 32
#endif

__kernel void edt_rows_staged(__global int *restrict data,
                              const ulong rows,
                              const int width,
                              const int integral,
                              const float sy2,
                              const float sx2,
                              const float scale2,
                              const int squared,
                              __local int *tile) {
    const int lid = (int)get_local_id(0);
    const int group = (int)get_local_size(0);
    const size_t first = get_group_id(0) * (size_t)group;
    const size_t row = first + (size_t)lid;
    const int active = row < rows;
    const int pitch = REG_EDT_TILE + 1;   // +1: the work-items' row reads hit different banks
    __global int *line = data + (active ? row : 0) * (size_t)width;
    __local int *mine = tile + lid * pitch;
    int top = -1, vt = 0, gt = 0, zt = 0;

    for (int x0 = 0; x0 < width; x0 += REG_EDT_TILE) {
        const int span = min(REG_EDT_TILE, width - x0);
        for (int j = lid; j < group * span; j += group) {
            const int r = j / span, c = j - r * span;
            if (first + (size_t)r < rows) tile[r * pitch + c] = data[(first + r) * (size_t)width + x0 + c];
        }
        barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
        if (active) {
            for (int c = 0; c < span; ++c) {
                const int u = x0 + c, gu = mine[c];
                if (gu < REG_EDT_NONE) REG_EDT_PUSH(line, u, gu);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
    }

    // The walk: on the integral path one select step per x (no divergent inner loop across the
    // work-items of a warp); on the float path REG_EDT_SEEK.
    const int empty = top < 0;
    int eb = top > 0 ? line[top - 1] : 0;
    reg_edt_walk walk = {0, 0, 0, 0, 0, 0};
    if (active && !empty && integral) walk = reg_edt_walk_start(line, top, vt, gt);
    const int last = ((width - 1) / REG_EDT_TILE) * REG_EDT_TILE;
    for (int x0 = last; x0 >= 0; x0 -= REG_EDT_TILE) {
        const int span = min(REG_EDT_TILE, width - x0);
        if (active) {
            for (int c = span - 1; c >= 0; --c) {
                const int x = x0 + c;
                if (empty) {
                    mine[c] = as_int(INFINITY);
                } else if (integral) {
                    mine[c] = as_int(reg_edt_finish(reg_edt_walk_step(&walk, line, x), scale2, squared));
                } else {
                    REG_EDT_SEEK(line, x);
                    mine[c] = as_int(reg_edt_value(x, vt, gt, integral, sy2, sx2, scale2, squared));
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
        for (int j = lid; j < group * span; j += group) {
            const int r = j / span, c = j - r * span;
            if (first + (size_t)r < rows) data[(first + r) * (size_t)width + x0 + c] = tile[r * pitch + c];
        }
        barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
    }
}
