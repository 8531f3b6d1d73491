// Focal loss forward + backward (docs/math.md §1–§3, §5): the loss, ∂L/∂logits and ∂L/∂σ in one pass.
// docs/focal-loss.md derives every formula used here; FocalLossReference.swift is the same math
// in float64.
//
// The routine assembles this program as common.cl + refinement.cl + vector.cl + this file, and
// specialises it with build options:
//   SPATIAL       0: g = 1;  1: g read per element;  2: d read per element, g = σ(β(d − δ)) here
//   UNCERTAINTY   0: σ = 0;  1: one σ for every element, Σ ∂ℓ/∂σ accumulated;
//                 2: σ read per element, ∂L/∂σ written per element
//   ELEMENT_LOSS  1: ℓ written per element (reduction "none")
//   SOFTMAX       1: softmax over the classes of each pixel (segmentation); 0: sigmoid
//   CLASSES       C, sizing the per-pixel private arrays of the softmax kernel
//   HALF_LOGITS, HALF_TARGETS, HALF_GRADIENT   float16 logits, targets, gradients (vector.cl)
// and the device's kernel variant (FocalLossRoutine's table):
//   VECTOR_WIDTH  elements per work-item, as one OpenCL vector (vector.cl)
//   ITEM_PARTIALS 0: each work-item walks the input in a grid-stride loop and the work-group
//                    reduces its sums in local memory (a fixed tree) — GPUs;
//                 1: each work-item takes `chunk` consecutive vectors and writes its own partial
//                    sums, with no barrier in the kernel — CPU devices, where a barrier splits the
//                    kernel into regions that run one work-item at a time.
// finish_sums then reduces the partials in a fixed order: no atomics, so the same inputs on the
// same device with the same settings and variant give the same bits. Sums are carried as (hi, lo)
// float pairs (two-sum compensation), which keeps them within a few float64 ulps of the exact sum
// of the float terms.

#ifndef SPATIAL
#define SPATIAL 0
#endif
#ifndef UNCERTAINTY
#define UNCERTAINTY 0
#endif
#ifndef ELEMENT_LOSS
#define ELEMENT_LOSS 0
#endif
#ifndef SOFTMAX
#define SOFTMAX 0
#endif
#ifndef CLASSES
#define CLASSES 2
#endif
#ifndef ITEM_PARTIALS
#define ITEM_PARTIALS 0
#endif
#if defined(REG_FAIL_BUILD) && REG_FAIL_BUILD == 2 && SPATIAL == 2
#error "REG_FAIL_BUILD=2: this build fails on purpose, for a fallback test"
#endif

// σ below this is treated as 0 (p̂ = p, ∂ℓ/∂σ = 0); above it p̂ ≥ 0.8σ stays a normal float.
#define REG_SIGMA_MIN 0x1p-60f
// Largest σ accepted (the host rejects larger ones; the kernel flags them in per-element maps).
#define REG_SIGMA_MAX 1e6f
#define REG_INV_SQRT_2PI 0.398942280401432678f

// ---------------------------------------------------------------------------------------------
// Compensated sums: (hi, lo) with hi + lo the running sum (Knuth's two-sum, additions only, so
// contraction into FMAs cannot change it).

inline float2 reg_sum_add(float2 acc, float x) {
    float s = acc.x + x;
    float bp = s - acc.x;
    float err = (acc.x - (s - bp)) + (x - bp);
    return (float2)(s, acc.y + err);
}

inline float2 reg_sum_merge(float2 a, float2 b) {
    float s = a.x + b.x;
    float bp = s - a.x;
    float err = (a.x - (s - bp)) + (b.x - bp);
    float lo = a.y + b.y + err;
    float hi = s + lo;
    return (float2)(hi, lo - (hi - s));
}

// The same, lane by lane: *hi + *lo per lane is that lane's running sum.
inline void reg_sum_add_v(realv *hi, realv *lo, realv x) {
    const realv s = *hi + x;
    const realv bp = s - *hi;
    *lo += (*hi - (s - bp)) + (x - bp);
    *hi = s;
}

// The lanes' (hi, lo) sums merged in lane order into one (hi, lo).
inline float2 reg_sum_lanes(realv hi, realv lo) {
#if VECTOR_WIDTH == 1
    return reg_sum_merge((float2)(0.0f), (float2)(hi, lo));
#else
    float h[VECTOR_WIDTH], l[VECTOR_WIDTH];
    REG_VSTORE(hi, 0, h);
    REG_VSTORE(lo, 0, l);
    float2 acc = (float2)(0.0f);
    for (uint j = 0; j < VECTOR_WIDTH; ++j) acc = reg_sum_merge(acc, (float2)(h[j], l[j]));
    return acc;
#endif
}

// A lane mask (1/0 scalar or −1/0 vector comparison) as per-lane counts 1/0.
inline uintv reg_ones(intv mask) {
#if VECTOR_WIDTH == 1
    return mask != 0;
#else
    return as_uintv(-mask);
#endif
}

inline ulong reg_total(uintv counts) {
#if VECTOR_WIDTH == 1
    return counts;
#else
    uint c[VECTOR_WIDTH];
    REG_VSTORE(counts, 0, c);
    ulong total = 0;
    for (uint j = 0; j < VECTOR_WIDTH; ++j) total += c[j];
    return total;
#endif
}

// Reduces every work-item's (loss hi, lo, ∂σ hi, lo) and (count, positives) to item 0 of the
// group, pairing item i with item i + ⌈width/2⌉ at each step: a fixed order for any work-group size.
inline void reg_group_reduce(__local float4 *sums, __local ulong2 *counts, float4 mine, ulong2 count) {
    const uint lid = get_local_id(0);
    sums[lid] = mine;
    counts[lid] = count;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint width = get_local_size(0); width > 1;) {
        const uint upper = (width + 1) >> 1;
        if (lid + upper < width) {
            float4 a = sums[lid], b = sums[lid + upper];
            sums[lid] = (float4)(reg_sum_merge(a.xy, b.xy), reg_sum_merge(a.zw, b.zw));
            counts[lid] += counts[lid + upper];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        width = upper;
    }
}

// Leaves this work-item's sums and counts where finish_sums reads them: its own partial
// (ITEM_PARTIALS), or its group's after the tree.
inline void reg_write_partials(__global float4 *partial_sums, __global ulong2 *partial_counts,
                               __local float4 *scratch_sums, __local ulong2 *scratch_counts,
                               float4 mine, ulong2 count) {
#if ITEM_PARTIALS
    partial_sums[get_global_id(0)] = mine;
    partial_counts[get_global_id(0)] = count;
#else
    reg_group_reduce(scratch_sums, scratch_counts, mine, count);
    if (get_local_id(0) == 0) {
        partial_sums[get_group_id(0)] = scratch_sums[0];
        partial_counts[get_group_id(0)] = scratch_counts[0];
    }
#endif
}

// ---------------------------------------------------------------------------------------------
// The binary focal term, lane by lane.
//
// An element's probability p enters as four accurate pieces (p, q = 1 − p, log p, log q), so that
// nothing is lost at saturation whichever side p is on. With D = p − y, computed as
// (1 − y)·p − y·q (exact for y ∈ {0, 1}), and BCE = −(y log p + (1 − y) log q):
//     ℓ = w · |D|^γ · BCE
//     t = ∂ℓ/∂η = w · sign(D) · (γ · |D|^(γ−1)·p·q · BCE + |D|^γ · |D|)      (p = σ(η))
// Where D = 0 the derivative of |D|^γ is taken as 0 (docs/math.md §1), which sign(0) = 0 gives.
// Returns ℓ; *t receives t.
inline realv reg_focal_binary(realv p, realv q, realv lp, realv lq, realv y, realv w, float gamma,
                              int gamma_n, realv *t) {
    const realv bce = -(y * lp + (1.0f - y) * lq);
    const realv d = (1.0f - y) * p - y * q;
    const realv ad = fabs(d);
    realv f, fr; // |D|^γ and |D|^(γ−1)·p·q
    if (gamma_n == 0) {
        f = REG_V(1.0f);
        fr = REG_V(0.0f);
    } else if (gamma_n == 2) { // the usual γ
        f = ad * ad;
        fr = ad * p * q;
    } else if (gamma_n > 0) { // integer γ ≤ 16: products only (pown goes through exp/log on some drivers)
        // |D|^(γ−1) by squaring in a fixed four steps: no data-dependent loop in the vector code.
        realv power = REG_V(1.0f), square = ad;
        for (int bit = 0; bit < 4; ++bit) {
            power = ((gamma_n - 1) >> bit) & 1 ? power * square : power;
            square *= square;
        }
        f = power * ad;
        fr = power * p * q;
    } else {
        // y = 1: |D| = q and log |D| = log q exactly; y = 0: |D| = p. Soft targets: log space,
        // capped where |D|^(γ−1) alone would overflow (γ < 1).
        const intv one = y == 1.0f, zero = y == 0.0f;
        const realv l = one ? lq : (zero ? lp : log(ad));
        f = exp(gamma * l);
        fr = one ? f * p : (zero ? f * q : exp(fmin((gamma - 1.0f) * l + lp + lq, 88.0f)));
        f = ad == 0.0f ? REG_V(0.0f) : f;
        fr = ad == 0.0f ? REG_V(0.0f) : fr;
    }
    *t = w * sign(d) * (gamma * fr * bce + f * ad);
    return w * f * bce;
}

// The mean of N(s, σ²) truncated to [0, 1], for s = min(p, q) ∈ [0, ½] and σ ≥ REG_SIGMA_MIN:
//     ŝ = s + σ·λ,  λ = (φ(a) − φ(b)) / (Φ(b) − Φ(a)),  a = −s/σ,  b = (1 − s)/σ
// φ(a) − φ(b) = φ(a)·(1 − exp(−(b² − a²)/2)) with b² − a² = (1 − 2s)/σ² (expm1: no cancellation);
// Φ(b) − Φ(a) = (erf(b/√2) + erf(−a/√2))/2, a sum of two non-negative terms.
// Returns ŝ; *by_s = ∂ŝ/∂s = 1 + (aφ(a) − bφ(b))/Z − λ² (the truncated variance / σ²) and
// *by_sigma = ∂ŝ/∂σ = λ + (a²φ(a) − b²φ(b))/Z − λ·(aφ(a) − bφ(b))/Z.
inline realv reg_truncated_mean(realv s, realv sigma, realv *by_s, realv *by_sigma) {
    const realv a = -s / sigma;
    const realv b = (1.0f - s) / sigma;
    const realv pa = REG_INV_SQRT_2PI * exp(-0.5f * a * a);
    const realv pb = REG_INV_SQRT_2PI * exp(-0.5f * b * b);
    const realv z = 0.5f * (erf(b * M_SQRT1_2_F) + erf(-a * M_SQRT1_2_F));
    const realv lambda = -pa * expm1(-(1.0f - 2.0f * s) / (2.0f * sigma * sigma)) / z;
    const realv first = (a * pa - b * pb) / z;
    const realv second = (a * a * pa - b * b * pb) / z;
    *by_s = 1.0f + first - lambda * lambda;
    *by_sigma = lambda + second - lambda * first;
    return s + sigma * lambda;
}

// One element: ℓ, with *t = ∂ℓ/∂η and *dsigma = ∂ℓ/∂σ, from (p, q, log p, log q). With σ the focal
// term uses p̂ = E[p | p ~ N(p, σ²) truncated to [0, 1]] (docs/math.md §3); the smaller of p̂ and
// 1 − p̂ is computed directly (so 1 − p̂ is never a subtraction from a number near 1) and the
// other as 1 minus it. Lanes with σ < REG_SIGMA_MIN take the plain term.
inline realv reg_focal_element(realv p, realv q, realv lp, realv lq, realv y, realv w, float gamma,
                               int gamma_n, realv sigma, realv *t, realv *dsigma) {
    realv loss = reg_focal_binary(p, q, lp, lq, y, w, gamma, gamma_n, t);
    *dsigma = REG_V(0.0f);
#if UNCERTAINTY
    const intv blurred = sigma >= REG_SIGMA_MIN;
    if (REG_ANY(blurred)) {
        const intv lower = p <= q;
        realv by_s, by_sigma, t_hat;
        const realv small = reg_truncated_mean(lower ? p : q, blurred ? sigma : REG_V(1.0f), &by_s, &by_sigma);
        const realv large = 1.0f - small;
        const realv log_small = log(small), log_large = log1p(-small);
        const realv loss_hat = reg_focal_binary(lower ? small : large, lower ? large : small,
                                                lower ? log_small : log_large, lower ? log_large : log_small,
                                                y, w, gamma, gamma_n, &t_hat);
        const realv by_p_hat = t_hat / (small * large); // ∂ℓ/∂p̂ = t̂ / (p̂ q̂)
        loss = blurred ? loss_hat : loss;
        *t = blurred ? by_p_hat * by_s * (p * q) : *t;
        *dsigma = blurred ? (lower ? by_p_hat * by_sigma : -by_p_hat * by_sigma) : REG_V(0.0f);
    }
#endif
    return loss;
}

// log(1 + e) for e ∈ [0, 1]: e + e²·R(e), R of degree 7 fitted for least maximum relative error
// on [0, 1] (3.3e-8 in exact arithmetic; ≤ 1.6 ulp as evaluated, with FMAs; tools/fit-log1p.py).
// Exactly e for e < 2⁻²⁴, subnormal e included. Eight FMAs and a multiply, no division: on CPU
// vector units it costs a fraction of the device's log1p (or log and a correction), which is
// where the detection kernel spent most of its time after the two exps.
inline realv reg_log1p_unit(realv e) {
    realv r = REG_V(5.364823621e-03f);
    r = fma(r, e, REG_V(-3.006578982e-02f));
    r = fma(r, e, REG_V(7.920452952e-02f));
    r = fma(r, e, REG_V(-1.375380158e-01f));
    r = fma(r, e, REG_V(1.915365458e-01f));
    r = fma(r, e, REG_V(-2.485716343e-01f));
    r = fma(r, e, REG_V(3.332132399e-01f));
    r = fma(r, e, REG_V(-4.999964833e-01f));
    return fma(e * r, e, e);
}

// (p, q, log p, log q) of p = σ(z) for any finite z: one exp, one division, and log(1 + e) for
// e = e^(−|z|) ∈ (0, 1] by reg_log1p_unit.
inline void reg_sigmoid_parts(realv z, realv *p, realv *q, realv *lp, realv *lq) {
    const realv e = exp(-fabs(z));
    const realv big = 1.0f / (1.0f + e), small = e * big;
    const realv l = reg_log1p_unit(e);
    const intv up = z >= 0.0f;
    *p = up ? big : small;
    *q = up ? small : big;
    *lp = up ? -l : z - l;
    *lq = up ? -(z + l) : -l;
}

// torchvision's split weight a·y + (1 − a)(1 − y); a < 0 means no split (weight 1).
inline realv reg_split_weight(float a, realv y) {
    return a < 0.0f ? REG_V(1.0f) : a * y + (1.0f - a) * (1.0f - y);
}

// g = σ(β(d − δ)) lane by lane, as refinement.cl's reg_refinement: β = 0 gives ½, d = ±∞ gives 1 or
// 0 by the signs of β and d. Written 1/(1 + e^(−t)) without a branch on the sign of t: e^(−t)
// overflows to ∞ only where σ(t) < 3e−39, and gives 0 there; t = ±∞ (an infinite d) lands on 1 or 0
// the same way.
inline realv reg_refinement_v(realv d, float beta, float delta) {
    if (beta == 0.0f) return REG_V(0.5f);
    return 1.0f / (1.0f + exp(-(beta * (d - delta))));
}

// The spatial weight g of elements [first, end) and whether each is valid (*ok narrowed).
inline realv reg_spatial(__global const float *spatial, ulong first, ulong end, float beta, float delta, intv *ok) {
#if SPATIAL == 1
    const realv g = reg_load_f32(spatial, first, end);
    *ok = *ok & isfinite(g) & (g >= 0.0f);
    return g;
#elif SPATIAL == 2
    const realv d = reg_load_f32(spatial, first, end);
    *ok = *ok & !isnan(d);
    return reg_refinement_v(isnan(d) ? REG_V(0.0f) : d, beta, delta);
#else
    return REG_V(1.0f);
#endif
}

// The σ of elements [first, end) and whether each is valid.
inline realv reg_sigma(__global const float *sigma_map, ulong first, ulong end, float sigma_scalar, intv *ok) {
#if UNCERTAINTY == 2
    const realv s = reg_load_f32(sigma_map, first, end);
    *ok = *ok & (s >= 0.0f) & (s <= REG_SIGMA_MAX);
    return s;
#elif UNCERTAINTY == 1
    return REG_V(sigma_scalar);
#else
    return REG_V(0.0f);
#endif
}

// Writes the outputs of elements [first, end) besides the gradient: ∂L/∂σ (per-element σ, scaled
// like the gradient) and ℓ (reduction none). Zero for ignored pixels.
inline void reg_store_extras(ulong first, ulong end, realv loss, realv dsigma, float scale,
                             __global gradient_t *sigma_gradient, __global float *element_loss) {
#if UNCERTAINTY == 2
    reg_store_gradient(dsigma * scale, sigma_gradient, first, end);
#endif
#if ELEMENT_LOSS
    reg_store_f32(loss, element_loss, first, end);
#endif
}

// 1 when element i (class c of its sample) is the sample's first target > 0: each sample with a
// positive target is counted once, by one element. Positives are rare: the look-back is cheap.
inline ulong reg_first_positive(__global const targets_t *targets, ulong i, uint c) {
    for (uint k = 1; k <= c; ++k) {
        if (reg_target(targets, i - k) > 0.0f) return 0;
    }
    return 1;
}

// Samples whose first positive target lies in elements [first, end): scalar, and only where a
// lane of y is positive.
inline ulong reg_positive_samples(__global const targets_t *targets, realv y, ulong first, ulong end, uint classes) {
    if (!REG_ANY(y > 0.0f)) return 0;
    ulong positives = 0;
    for (ulong i = first; i < min(first + VECTOR_WIDTH, end); ++i) {
        if (reg_target(targets, i) > 0.0f) positives += reg_first_positive(targets, i, (uint)(i % classes));
    }
    return positives;
}

// The lanes of a mask as the bits of a uint (bit j for lane j).
inline uint reg_lane_bits(intv mask) {
#if VECTOR_WIDTH == 1
    return mask != 0;
#else
    const uintv bits = as_uintv(mask) & ((uintv)(1u) << REG_LANES);
#if VECTOR_WIDTH == 16
    const uint8 eighths = bits.lo | bits.hi;
    const uint4 quarter = eighths.lo | eighths.hi;
#elif VECTOR_WIDTH == 8
    const uint4 quarter = bits.lo | bits.hi;
#else
    const uintv quarter = bits;
#endif
#if VECTOR_WIDTH >= 4
    const uint2 pair = quarter.lo | quarter.hi;
#else
    const uint2 pair = quarter;
#endif
    return pair.x | pair.y;
#endif
}

// Under item partials a work-item walks its elements in order, so it counts each sample with a
// positive target once, at its first positive target, from the lanes' bits and a carry, with no
// look-back: within a vector the samples' rows split the lanes into segments (a new one at every
// row start, and at lane 0); a segment's first positive lane counts unless the segment continues
// a row that already had a positive target (*carry, for lane 0's row when it began earlier).
//   ends    the last lane of each segment, so that every segment has a set bit in positive | ends;
//   lowest  = m & ~(m − starts) with m = positive | ends: the lowest set bit of m in each segment
//           (subtracting a segment's start bit borrows only up to that bit, never into the next
//           segment);
// the counted lanes are lowest & positive. *carry becomes whether the last lane's row has a
// positive target so far. pattern: bits 0, C, 2C, … (below 64), shifted to this vector's row starts.
inline uint reg_first_positives(realv y, uint phase, uint classes, ulong pattern, int *carry) {
    const uint lanes = (1u << VECTOR_WIDTH) - 1u;
    const uint positive = reg_lane_bits(y > 0.0f);
    const uint skip = phase == 0 ? 0u : classes - phase; // lanes before the first row start
    const uint rows = skip < VECTOR_WIDTH ? (uint)(pattern << skip) & lanes : 0u;
    const uint starts = rows | 1u;
    const uint ends = (starts >> 1) | (1u << (VECTOR_WIDTH - 1));
    const uint marks = positive | ends;
    uint counted = marks & ~(marks - starts) & positive;
    const int continued = (rows & 1u) == 0 && *carry; // lane 0's row began earlier with a positive
    if (continued) counted &= ~((ends & (0u - ends)) * 2u - 1u); // not its first segment again
    const uint last = 31u - clz(starts);
    *carry = (positive >> last) != 0 || (last == 0 && continued);
    return popcount(counted);
}

// Whether the row holding element `first` has a positive target before it (a work-item's carry
// at the start of its chunk): at most C − 1 targets, a vector at a time.
inline int reg_positive_before(__global const targets_t *targets, ulong first, uint classes) {
    int found = 0;
    for (ulong k = first - first % classes; k < first; k += VECTOR_WIDTH) {
        found |= REG_ANY(reg_load_targets(targets, k, first) > 0.0f);
    }
    return found;
}

// α arrives as a table of C rows of REG_ALPHA_LANES: row φ holds α of classes φ, φ + 1, … (mod C),
// the classes of a vector's lanes when its first element has class φ (FocalLossRoutine writes it).
#define REG_ALPHA_LANES 16

// The vectors this work-item visits: `chunk` consecutive ones (ITEM_PARTIALS), or every
// global-size-th from its id (a grid-stride loop).
#if ITEM_PARTIALS
#define REG_FOR_VECTORS(v, vectors)                                                                 \
    for (ulong v = get_global_id(0) * chunk, v##_end = min(v + chunk, (vectors)); v < v##_end; ++v)
#else
#define REG_FOR_VECTORS(v, vectors) for (ulong v = get_global_id(0); v < (vectors); v += get_global_size(0))
#endif

// ---------------------------------------------------------------------------------------------
// Detection: [N, C] logits and float targets, sigmoid; each work-item takes VECTOR_WIDTH
// consecutive elements at a time.
__kernel void focal_detection(__global const logits_t *logits,
                              __global const targets_t *targets,
                              __global const float *spatial,
                              __global const float *sigma_map,
                              __global const float *alpha,
                              const uint classes,
                              const ulong elements,
                              const float gamma,
                              const int gamma_n,
                              const float positive_fraction,
                              const float sigma_scalar,
                              const float beta,
                              const float delta,
                              __global const float *gradient_scale,
                              __global gradient_t *gradient,
                              __global gradient_t *sigma_gradient,
                              __global float *element_loss,
                              __global float4 *partial_sums,
                              __global ulong2 *partial_counts,
                              __local float4 *scratch_sums,
                              __local ulong2 *scratch_counts,
                              __global int *invalid,
                              const ulong chunk) {
    const float scale = gradient_scale[0];
    realv loss_hi = REG_V(0.0f), loss_lo = REG_V(0.0f), dsigma_hi = REG_V(0.0f), dsigma_lo = REG_V(0.0f);
    intv finite = REG_TRUE, flagged = !REG_TRUE;
    ulong positives = 0;
#if ITEM_PARTIALS
    ulong pattern = 0;
    for (uint k = 0; k < 64; k += classes) pattern |= 1ul << k;
    int carry = reg_positive_before(targets, min(get_global_id(0) * chunk * VECTOR_WIDTH, elements), classes);
#endif
    REG_FOR_VECTORS(v, (elements + VECTOR_WIDTH - 1) / VECTOR_WIDTH) {
        const ulong first = v * VECTOR_WIDTH;
        const uint phase = (uint)(first % classes); // the class of the vector's first element
        realv z = reg_load_logits(logits, first, elements);
        realv y = reg_load_targets(targets, first, elements);
#if ITEM_PARTIALS
        positives += reg_first_positives(y, phase, classes, pattern, &carry);
#else
        positives += reg_positive_samples(targets, y, first, elements, classes);
#endif
        // α of each lane's class: the classes repeat along the row-major [N, C] layout, so the
        // lanes' α is row φ = phase of the host's table.
#if VECTOR_WIDTH == 1
        const realv a = alpha[phase * REG_ALPHA_LANES];
#else
        const realv a = REG_VLOAD(0, alpha + phase * REG_ALPHA_LANES);
#endif
        const intv present = REG_LANES < (uint)min(elements - first, (ulong)VECTOR_WIDTH); // lanes past the end: weight 0
        intv ok = isfinite(z) & (y >= 0.0f) & (y <= 1.0f);
        realv w = a * reg_split_weight(positive_fraction, y) * reg_spatial(spatial, first, elements, beta, delta, &ok);
        realv sigma = reg_sigma(sigma_map, first, elements, sigma_scalar, &ok);
        // A bad element is flagged for the host, which names it; its arithmetic is kept finite.
        flagged = flagged | !ok;
        z = ok ? z : REG_V(0.0f);
        y = ok ? y : REG_V(0.0f);
        w = (ok & present) ? w : REG_V(0.0f);
        sigma = ok ? sigma : REG_V(0.0f);
        realv p, q, lp, lq, t, dsigma;
        reg_sigmoid_parts(z, &p, &q, &lp, &lq);
        const realv loss = reg_focal_element(p, q, lp, lq, y, w, gamma, gamma_n, sigma, &t, &dsigma);
        const realv gz = t * scale;
        reg_store_gradient(gz, gradient, first, elements);
        finite = finite & isfinite(gz) & isfinite(loss) & isfinite(dsigma * scale);
        reg_store_extras(first, elements, loss, dsigma, scale, sigma_gradient, element_loss);
        reg_sum_add_v(&loss_hi, &loss_lo, loss);
#if UNCERTAINTY == 1
        reg_sum_add_v(&dsigma_hi, &dsigma_lo, dsigma);
#endif
    }
    if (REG_ANY(flagged)) invalid[0] = 1;
    if (REG_ANY(!finite)) invalid[1] = 1; // a float32 overflow from finite inputs: the host recomputes
    const float4 sums = (float4)(reg_sum_lanes(loss_hi, loss_lo), reg_sum_lanes(dsigma_hi, dsigma_lo));
    // counts.x stays 0: the host knows N.
    reg_write_partials(partial_sums, partial_counts, scratch_sums, scratch_counts, sums, (ulong2)(0, positives));
}

// ---------------------------------------------------------------------------------------------
// Segmentation: [B, C, H, W] logits and a [B, H, W] label map; each work-item takes VECTOR_WIDTH
// consecutive pixels of one map at a time (a map's last vector may be partial), reading channel k
// at stride H·W. The one-hot target y_k = [label = k + 1] is formed on the fly. An ignored pixel
// (255) gets weight 0, writes zeros and is not counted.
__kernel void focal_segmentation(__global const logits_t *logits,
                                 __global const uchar *labels,
                                 __global const float *spatial,
                                 __global const float *sigma_map,
                                 __global const float *alpha,
                                 const uint classes,
                                 const ulong plane,
                                 const ulong pixels,
                                 const float gamma,
                                 const int gamma_n,
                                 const float positive_fraction,
                                 const float sigma_scalar,
                                 const float beta,
                                 const float delta,
                                 __global const float *gradient_scale,
                                 __global gradient_t *gradient,
                                 __global gradient_t *sigma_gradient,
                                 __global float *element_loss,
                                 __global float4 *partial_sums,
                                 __global ulong2 *partial_counts,
                                 __local float4 *scratch_sums,
                                 __local ulong2 *scratch_counts,
                                 __global int *invalid,
                                 const ulong chunk) {
    const float scale = gradient_scale[0];
    const ulong per_plane = (plane + VECTOR_WIDTH - 1) / VECTOR_WIDTH; // vectors per map
    realv loss_hi = REG_V(0.0f), loss_lo = REG_V(0.0f), dsigma_hi = REG_V(0.0f), dsigma_lo = REG_V(0.0f);
    uintv kept_count = (uintv)(0), positive_count = (uintv)(0);
    intv finite = REG_TRUE;
    REG_FOR_VECTORS(v, pixels / plane * per_plane) {
        const ulong b = v / per_plane, offset = (v - b * per_plane) * VECTOR_WIDTH;
        const ulong pixel = b * plane + offset, pixel_end = (b + 1) * plane;
        const ulong base = b * classes * plane + offset;
        const uintv label = reg_load_labels(labels, pixel, pixel_end);
        const intv present = REG_LANES < (uint)min(plane - offset, (ulong)VECTOR_WIDTH);
        const intv keep = present & (label != REG_IGNORE_LABEL);
        intv ok = keep ? (label <= classes) : REG_TRUE;
        kept_count += reg_ones(keep);
        positive_count += reg_ones(keep & (label >= 1u) & (label <= classes));
        realv pixel_loss = REG_V(0.0f);
#if SOFTMAX
        // p = softmax(z) with m = max z at index top, m2 = max of the others:
        //   S' = Σ_{k≠top} e^(z_k − m2) ≥ 1,  E = e^(m2 − m),  S = 1 + E·S' = Σ e^(z_k − m)
        //   log p_k = z_k − m − log S;  p_top = 1/S,  q_top = E·S'/S,  log q_top = (m2 − m) + log S' − log S
        //   q_k = 1 − p_k (≥ ½) for k ≠ top;  p_k / q_top = e^(z_k − m2) / S'
        realv z[CLASSES], ex[CLASSES], t[CLASSES];
        realv m = REG_V(-INFINITY);
        intv top = (intv)(0);
        for (uint k = 0; k < CLASSES; ++k) {
            z[k] = reg_load_logits(logits, base + k * plane, base - offset + (k + 1) * plane);
            ok = ok & isfinite(z[k]);
            const intv above = z[k] > m;
            m = above ? z[k] : m;
            top = above ? (intv)(k) : top;
        }
        if (REG_ANY(!ok)) {
            *invalid = 1;
            for (uint k = 0; k < CLASSES; ++k) z[k] = ok ? z[k] : REG_V(0.0f);
            m = ok ? m : REG_V(0.0f);
            top = ok ? top : (intv)(0);
        }
        realv m2 = REG_V(-INFINITY);
        for (uint k = 0; k < CLASSES; ++k) m2 = top == (intv)(k) ? m2 : fmax(m2, z[k]);
        realv rest = REG_V(0.0f);
        for (uint k = 0; k < CLASSES; ++k) {
            ex[k] = top == (intv)(k) ? REG_V(0.0f) : exp(z[k] - m2);
            rest += ex[k];
        }
        const realv e_top = exp(m2 - m);
        const realv log_s = log1p(e_top * rest), log_rest = log(rest);
        const realv p_top = 1.0f / (1.0f + e_top * rest);
        realv t_top = REG_V(0.0f);
        for (uint k = 0; k < CLASSES; ++k) {
            const ulong first = base + k * plane, end = base - offset + (k + 1) * plane;
            const realv y = label == k + 1 ? REG_V(1.0f) : REG_V(0.0f);
            const intv is_top = top == (intv)(k);
            const realv p_other = ex[k] * e_top * p_top;
            const realv p = is_top ? p_top : p_other;
            const realv q = is_top ? e_top * rest * p_top : 1.0f - p_other;
            const realv lp = is_top ? -log_s : z[k] - m - log_s;
            const realv lq = is_top ? (m2 - m) + log_rest - log_s : log1p(-p_other);
            intv element_ok = REG_TRUE;
            realv w = alpha[k * REG_ALPHA_LANES] * reg_split_weight(positive_fraction, y) * reg_spatial(spatial, first, end, beta, delta, &element_ok);
            realv sigma = reg_sigma(sigma_map, first, end, sigma_scalar, &element_ok);
            if (REG_ANY(!element_ok)) {
                *invalid = 1;
                sigma = element_ok ? sigma : REG_V(0.0f);
            }
            w = (ok & element_ok & keep) ? w : REG_V(0.0f);
            realv dsigma;
            const realv loss = reg_focal_element(p, q, lp, lq, y, w, gamma, gamma_n, sigma, &t[k], &dsigma);
            t_top = is_top ? t[k] : t_top;
            pixel_loss += loss;
            finite = finite & isfinite(dsigma * scale);
            reg_store_extras(first, end, loss, dsigma, scale, sigma_gradient, element_loss);
#if UNCERTAINTY == 1
            reg_sum_add_v(&dsigma_hi, &dsigma_lo, dsigma);
#endif
        }
        // ∂L/∂z_k = Σ_c t_c/(q_c)·(δ_ck − p_k)·… = t_k − p_k Σ_{c≠k} t_c/q_c, written with
        // Q = Σ_{c≠top} t_c/q_c (every q_c ≥ ½ there):
        //   k = top:  t_top − p_top·Q
        //   k ≠ top:  t_k/q_k − p_k·Q − t_top·(p_k/q_top)
        realv sum_q = REG_V(0.0f);
        for (uint k = 0; k < CLASSES; ++k) {
            sum_q += top == (intv)(k) ? REG_V(0.0f) : t[k] / (1.0f - ex[k] * e_top * p_top);
        }
        for (uint k = 0; k < CLASSES; ++k) {
            const realv p = ex[k] * e_top * p_top;
            const realv g = top == (intv)(k) ? t[k] - p_top * sum_q
                                             : t[k] / (1.0f - p) - p * sum_q - t_top * (ex[k] / rest);
            const realv gz = keep ? g * scale : REG_V(0.0f);
            reg_store_gradient(gz, gradient, base + k * plane, base - offset + (k + 1) * plane);
            finite = finite & isfinite(gz);
        }
        finite = finite & isfinite(pixel_loss);
#else
        for (uint k = 0; k < classes; ++k) {
            const ulong first = base + k * plane, end = base - offset + (k + 1) * plane;
            realv z = reg_load_logits(logits, first, end);
            const realv y = label == k + 1 ? REG_V(1.0f) : REG_V(0.0f);
            intv element_ok = isfinite(z);
            realv w = alpha[k * REG_ALPHA_LANES] * reg_split_weight(positive_fraction, y) * reg_spatial(spatial, first, end, beta, delta, &element_ok);
            realv sigma = reg_sigma(sigma_map, first, end, sigma_scalar, &element_ok);
            const intv valid = ok & element_ok;
            if (REG_ANY(!valid)) {
                *invalid = 1;
                z = valid ? z : REG_V(0.0f);
                sigma = valid ? sigma : REG_V(0.0f);
            }
            w = (valid & keep) ? w : REG_V(0.0f);
            realv p, q, lp, lq, t, dsigma;
            reg_sigmoid_parts(z, &p, &q, &lp, &lq);
            const realv loss = reg_focal_element(p, q, lp, lq, y, w, gamma, gamma_n, sigma, &t, &dsigma);
            const realv gz = keep ? t * scale : REG_V(0.0f);
            reg_store_gradient(gz, gradient, first, end);
            finite = finite & isfinite(gz) & isfinite(loss) & isfinite(dsigma * scale);
            reg_store_extras(first, end, loss, dsigma, scale, sigma_gradient, element_loss);
            pixel_loss += loss;
#if UNCERTAINTY == 1
            reg_sum_add_v(&dsigma_hi, &dsigma_lo, dsigma);
#endif
        }
#endif
        reg_sum_add_v(&loss_hi, &loss_lo, pixel_loss);
    }
    if (REG_ANY(!finite)) invalid[1] = 1; // a float32 overflow from finite inputs: the host recomputes
    const float4 sums = (float4)(reg_sum_lanes(loss_hi, loss_lo), reg_sum_lanes(dsigma_hi, dsigma_lo));
    reg_write_partials(partial_sums, partial_counts, scratch_sums, scratch_counts, sums,
                       (ulong2)(reg_total(kept_count), reg_total(positive_count)));
}

// ---------------------------------------------------------------------------------------------
// Normalisers known before the main pass (docs/math.md §5): the counts that the gradient's 1/M
// needs, into per-group partials that finish_sums reduces.

// Segmentation: (non-ignored pixels, pixels labelled 1…C), 1 byte per pixel read, VECTOR_WIDTH
// pixels at a time.
__kernel void count_labels(__global const uchar *labels,
                           const ulong pixels,
                           const uint classes,
                           __global float4 *partial_sums,
                           __global ulong2 *partial_counts,
                           __local float4 *scratch_sums,
                           __local ulong2 *scratch_counts,
                           const ulong chunk) {
    uintv kept = (uintv)(0), positive = (uintv)(0);
    REG_FOR_VECTORS(v, (pixels + VECTOR_WIDTH - 1) / VECTOR_WIDTH) {
        const ulong first = v * VECTOR_WIDTH;
        const uintv label = reg_load_labels(labels, first, pixels);
        const intv keep = (REG_LANES < (uint)min(pixels - first, (ulong)VECTOR_WIDTH)) & (label != REG_IGNORE_LABEL);
        kept += reg_ones(keep);
        positive += reg_ones(keep & (label >= 1u) & (label <= classes));
    }
    reg_write_partials(partial_sums, partial_counts, scratch_sums, scratch_counts, (float4)(0.0f),
                       (ulong2)(reg_total(kept), reg_total(positive)));
}

// Detection: (0, samples with at least one target > 0); each work-item takes whole samples, their
// C targets VECTOR_WIDTH at a time (a load may run into the next sample's targets: those lanes are
// masked, and only the buffer's last vector takes the partial load).
__kernel void count_positive_rows(__global const targets_t *targets,
                                  const ulong samples,
                                  const uint classes,
                                  __global float4 *partial_sums,
                                  __global ulong2 *partial_counts,
                                  __local float4 *scratch_sums,
                                  __local ulong2 *scratch_counts,
                                  const ulong chunk) {
    const ulong elements = samples * classes;
    ulong positives = 0;
    REG_FOR_VECTORS(n, samples) {
        intv positive = !REG_TRUE;
        for (uint k = 0; k < classes; k += VECTOR_WIDTH) {
            const realv y = reg_load_targets(targets, n * classes + k, elements);
            positive = positive | ((y > 0.0f) & (REG_LANES < classes - k));
        }
        positives += REG_ANY(positive);
    }
    reg_write_partials(partial_sums, partial_counts, scratch_sums, scratch_counts, (float4)(0.0f), (ulong2)(0, positives));
}

// One work-group: reduces `groups` partials in a fixed order (item j takes j, j + size, …, then
// the tree). Writes the (loss hi, lo, ∂σ hi, lo) sums and the (count, positives) counts, and the
// gradient's scale: `write_scale` 1 gives gradient_scale / count (0 when count = 0), 2 gives
// gradient_scale / max(positives, 1); 0 leaves scale[0] as the host wrote it.
__kernel void finish_sums(__global const float4 *partial_sums,
                          __global const ulong2 *partial_counts,
                          const uint groups,
                          __global float4 *result_sums,
                          __global ulong2 *result_count,
                          const float gradient_scale,
                          const int write_scale,
                          __global float *scale,
                          __local float4 *scratch_sums,
                          __local ulong2 *scratch_counts) {
    float4 mine = (float4)(0.0f);
    ulong2 count = (ulong2)(0);
    for (uint j = get_local_id(0); j < groups; j += get_local_size(0)) {
        const float4 s = partial_sums[j];
        mine = (float4)(reg_sum_merge(mine.xy, s.xy), reg_sum_merge(mine.zw, s.zw));
        count += partial_counts[j];
    }
    reg_group_reduce(scratch_sums, scratch_counts, mine, count);
    if (get_local_id(0) == 0) {
        const ulong2 total = scratch_counts[0];
        result_sums[0] = scratch_sums[0];
        result_count[0] = total;
        if (write_scale == 1) scale[0] = total.x > 0 ? gradient_scale / (float)total.x : 0.0f;
        if (write_scale == 2) scale[0] = gradient_scale / (float)max(total.y, (ulong)1);
    }
}
