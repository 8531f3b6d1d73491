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

// Phase 1 for CPU devices. Global size [⌈W / REG_EDT_STRIP⌉, B·C]: one work-item sweeps a strip of
// REG_EDT_STRIP columns row by row, its inner loops over contiguous columns (which LLVM
// vectorises), the previous row's values read back from the output. One work-item per column
// would walk each column alone at a stride of a whole row: one cache line and one TLB entry per
// pixel, several times slower on a CPU.
#ifndef REG_EDT_STRIP
#define REG_EDT_STRIP 256
#endif

__kernel void edt_columns_strip(__global const uchar *restrict labels,
                                __global int *restrict g,
                                const int classes,
                                const int height,
                                const int width,
                                __global int *restrict bad_label) {
    const int x0 = (int)get_global_id(0) * REG_EDT_STRIP;
    const int p = (int)get_global_id(1);
    if (x0 >= width) return;
    const int span = min(REG_EDT_STRIP, width - x0);
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

// Phase 2, direct: one work-item per row, reading and writing its row in global memory in order
// (the layout CPU devices want: each row streams through one core's cache). rows = B·C·H.
// integral: 1 when sy = sx (exact integer envelope; d² = (dx² + dy²)·scale2, scale2 = sy²).
__kernel void edt_rows(__global int *restrict data,
                       const ulong rows,
                       const int width,
                       const int integral,
                       const float sy2,
                       const float sx2,
                       const float scale2,
                       const int squared) {
    for (size_t row = get_global_id(0); row < rows; row += get_global_size(0)) {
        __global int *line = data + row * (size_t)width;
        int top = -1, vt = 0, gt = 0, zt = 0;
        for (int u = 0; u < width; ++u) {
            const int gu = line[u];
            if (gu < REG_EDT_NONE) REG_EDT_PUSH(line, u, gu);
        }
        if (top < 0) {
            for (int x = 0; x < width; ++x) line[x] = as_int(INFINITY);
            continue;
        }
        int eb = top > 0 ? line[top - 1] : 0;
        for (int x = width - 1; x >= 0; --x) {
            REG_EDT_SEEK(line, x);
            line[x] = as_int(reg_edt_value(x, vt, gt, integral, sy2, sx2, scale2, squared));
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

    int eb = top > 0 ? line[top - 1] : 0;
    const int last = ((width - 1) / REG_EDT_TILE) * REG_EDT_TILE;
    for (int x0 = last; x0 >= 0; x0 -= REG_EDT_TILE) {
        const int span = min(REG_EDT_TILE, width - x0);
        if (active) {
            for (int c = span - 1; c >= 0; --c) {
                if (top < 0) {
                    mine[c] = as_int(INFINITY);
                } else {
                    const int x = x0 + c;
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
