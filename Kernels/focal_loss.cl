// Focal loss forward + backward (docs/math.md §1–§3, §5): the loss, ∂L/∂logits and ∂L/∂σ in one pass.
// docs/focal-loss.md derives every formula used here; FocalLossReference.swift is the same math
// in float64.
//
// The routine assembles this program as common.cl + refinement.cl (for reg_refinement) + this
// file, and specialises it with build options:
//   SPATIAL       0: g = 1;  1: g read per element;  2: d read per element, g = σ(β(d − δ)) here
//   UNCERTAINTY   0: σ = 0;  1: one σ for every element, Σ ∂ℓ/∂σ accumulated per work-group;
//                 2: σ read per element, ∂L/∂σ written per element
//   ELEMENT_LOSS  1: ℓ written per element (reduction "none")
//   SOFTMAX       1: softmax over the classes of each pixel (segmentation); 0: sigmoid
//   CLASSES       C, sizing the per-pixel private arrays of the softmax kernel
//
// Each main kernel is a grid-stride loop that reads every input element once, writes the gradient
// once, and leaves one partial sum per work-group, reduced in local memory in a fixed tree order.
// finish_sums then reduces the partials in a fixed order: no atomics, so the same inputs on the
// same device with the same settings give the same bits. Sums are carried as (hi, lo) float pairs
// (two-sum compensation), which keeps them within a few float64 ulps of the exact sum of the
// float terms.

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

// ---------------------------------------------------------------------------------------------
// The binary focal term.
//
// An element's probability p enters as four accurate pieces (p, q = 1 − p, log p, log q), so that
// nothing is lost at saturation whichever side p is on. With D = p − y, computed as
// (1 − y)·p − y·q (exact for y ∈ {0, 1}), and BCE = −(y log p + (1 − y) log q):
//     ℓ = w · |D|^γ · BCE
//     t = ∂ℓ/∂η = w · sign(D) · (γ · |D|^(γ−1)·p·q · BCE + |D|^γ · |D|)      (p = σ(η))
// Where D = 0 the derivative of |D|^γ is taken as 0 (docs/math.md §1), which sign(0) = 0 gives.
// Returns (ℓ, t).
inline float2 reg_focal_binary(float p, float q, float lp, float lq, float y, float w, float gamma,
                               int gamma_n) {
    const float bce = -(y * lp + (1.0f - y) * lq);
    const float d = (1.0f - y) * p - y * q;
    const float ad = fabs(d);
    float f, fr; // |D|^γ and |D|^(γ−1)·p·q
    if (gamma_n == 0) {
        f = 1.0f;
        fr = 0.0f;
    } else if (gamma_n > 0) { // small integer γ: products only (pown goes through exp/log on some drivers)
        float power = 1.0f;
        for (int j = 1; j < gamma_n; ++j) power *= ad;
        f = power * ad;
        fr = power * p * q;
    } else if (ad == 0.0f) {
        f = 0.0f;
        fr = 0.0f;
    } else if (y == 1.0f) { // |D| = q: log |D| = log q exactly
        f = exp(gamma * lq);
        fr = f * p;
    } else if (y == 0.0f) { // |D| = p
        f = exp(gamma * lp);
        fr = f * q;
    } else { // soft target: log space, capped where |D|^(γ−1) alone would overflow (γ < 1)
        const float l = log(ad);
        f = exp(gamma * l);
        fr = exp(fmin((gamma - 1.0f) * l + lp + lq, 88.0f));
    }
    return (float2)(w * f * bce, w * sign(d) * (gamma * fr * bce + f * ad));
}

// The mean of N(s, σ²) truncated to [0, 1], for s = min(p, q) ∈ [0, ½] and σ ≥ REG_SIGMA_MIN:
//     ŝ = s + σ·λ,  λ = (φ(a) − φ(b)) / (Φ(b) − Φ(a)),  a = −s/σ,  b = (1 − s)/σ
// φ(a) − φ(b) = φ(a)·(1 − exp(−(b² − a²)/2)) with b² − a² = (1 − 2s)/σ² (expm1: no cancellation);
// Φ(b) − Φ(a) = (erf(b/√2) + erf(−a/√2))/2, a sum of two non-negative terms.
// Returns (ŝ, ∂ŝ/∂s, ∂ŝ/∂σ), with ∂ŝ/∂s = 1 + (aφ(a) − bφ(b))/Z − λ² (the truncated variance / σ²)
// and ∂ŝ/∂σ = λ + (a²φ(a) − b²φ(b))/Z − λ·(aφ(a) − bφ(b))/Z.
inline float3 reg_truncated_mean(float s, float sigma) {
    const float a = -s / sigma;
    const float b = (1.0f - s) / sigma;
    const float pa = REG_INV_SQRT_2PI * exp(-0.5f * a * a);
    const float pb = REG_INV_SQRT_2PI * exp(-0.5f * b * b);
    const float z = 0.5f * (erf(b * M_SQRT1_2_F) + erf(-a * M_SQRT1_2_F));
    const float lambda = -pa * expm1(-(1.0f - 2.0f * s) / (2.0f * sigma * sigma)) / z;
    const float first = (a * pa - b * pb) / z;
    const float second = (a * a * pa - b * b * pb) / z;
    return (float3)(s + sigma * lambda, 1.0f + first - lambda * lambda, lambda + second - lambda * first);
}

// One element: (ℓ, t = ∂ℓ/∂η, ∂ℓ/∂σ) from pp = (p, q, log p, log q). With σ the focal term uses
// p̂ = E[p | p ~ N(p, σ²) truncated to [0, 1]] (docs/math.md §3); the smaller of p̂ and 1 − p̂ is computed
// directly (so 1 − p̂ is never a subtraction from a number near 1) and the other as 1 minus it.
inline float3 reg_focal_element(float4 pp, float y, float w, float gamma, int gamma_n, float sigma) {
#if UNCERTAINTY
    if (sigma >= REG_SIGMA_MIN) {
        const bool lower = pp.x <= pp.y;
        const float3 mean = reg_truncated_mean(lower ? pp.x : pp.y, sigma);
        const float small = mean.x, large = 1.0f - mean.x;
        const float log_small = log(small), log_large = log1p(-small);
        const float2 r = lower ? reg_focal_binary(small, large, log_small, log_large, y, w, gamma, gamma_n)
                               : reg_focal_binary(large, small, log_large, log_small, y, w, gamma, gamma_n);
        const float by_p_hat = r.y / (small * large); // ∂ℓ/∂p̂ = t̂ / (p̂ q̂)
        return (float3)(r.x, by_p_hat * mean.y * (pp.x * pp.y), lower ? by_p_hat * mean.z : -by_p_hat * mean.z);
    }
#endif
    const float2 r = reg_focal_binary(pp.x, pp.y, pp.z, pp.w, y, w, gamma, gamma_n);
    return (float3)(r.x, r.y, 0.0f);
}

// (p, q, log p, log q) of p = σ(z) for any finite z: one exp, one log1p, one division.
inline float4 reg_sigmoid_parts(float z) {
    const float e = exp(-fabs(z));
    const float l = log1p(e);
    const float big = 1.0f / (1.0f + e), small = e * big;
    return z >= 0.0f ? (float4)(big, small, -l, -(z + l)) : (float4)(small, big, z - l, -l);
}

// torchvision's split weight a·y + (1 − a)(1 − y); a < 0 means no split (weight 1).
inline float reg_split_weight(float a, float y) {
    return a < 0.0f ? 1.0f : a * y + (1.0f - a) * (1.0f - y);
}

// The spatial weight g of element i and whether its input is valid.
inline float reg_spatial(__global const float *spatial, ulong i, float beta, float delta, bool *ok) {
#if SPATIAL == 1
    const float g = spatial[i];
    *ok = *ok && isfinite(g) && g >= 0.0f;
    return g;
#elif SPATIAL == 2
    const float d = spatial[i];
    *ok = *ok && !isnan(d);
    return reg_refinement(d, beta, delta);
#else
    return 1.0f;
#endif
}

// The σ of element i and whether it is valid.
inline float reg_sigma(__global const float *sigma_map, ulong i, float sigma_scalar, bool *ok) {
#if UNCERTAINTY == 2
    const float s = sigma_map[i];
    *ok = *ok && s >= 0.0f && s <= REG_SIGMA_MAX;
    return s;
#elif UNCERTAINTY == 1
    return sigma_scalar;
#else
    return 0.0f;
#endif
}

// Writes an element's outputs besides the gradient: ∂L/∂σ (per-element σ, scaled like the
// gradient) and ℓ (reduction none). r = (ℓ, t, ∂ℓ/∂σ), zero for ignored pixels.
inline void reg_store_extras(ulong i, float3 r, float scale, __global float *sigma_gradient,
                             __global float *element_loss) {
#if UNCERTAINTY == 2
    sigma_gradient[i] = r.z * scale;
#endif
#if ELEMENT_LOSS
    element_loss[i] = r.x;
#endif
}

// (non-ignored, positive) for one pixel's label: positive means a class label 1…C.
inline ulong2 reg_label_counts(uint label, uint classes) {
    const ulong kept = label != REG_IGNORE_LABEL;
    return (ulong2)(kept, kept & (label >= 1u) & (label <= classes));
}

// 1 when element i (class c of its sample) is the sample's first target > 0: each sample with a
// positive target is counted once, by one element. Positives are rare: the look-back is cheap.
inline ulong reg_first_positive(__global const float *targets, ulong i, uint c) {
    for (uint k = 1; k <= c; ++k) {
        if (targets[i - k] > 0.0f) return 0;
    }
    return 1;
}

// ---------------------------------------------------------------------------------------------
// Detection: [N, C] logits and float targets, sigmoid, one work-item per element.
__kernel void focal_detection(__global const float *logits,
                              __global const float *targets,
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
                              __global float *gradient,
                              __global float *sigma_gradient,
                              __global float *element_loss,
                              __global float4 *partial_sums,
                              __global ulong2 *partial_counts,
                              __local float4 *scratch_sums,
                              __local ulong2 *scratch_counts,
                              __global int *invalid) {
    const float scale = gradient_scale[0];
    const ulong step = get_global_size(0);
    const uint class_step = (uint)(step % classes);
    uint c = (uint)(get_global_id(0) % classes);
    float2 loss = (float2)(0.0f), dsigma = (float2)(0.0f);
    bool finite = true;
    ulong positives = 0;
    for (ulong i = get_global_id(0); i < elements; i += step) {
        float z = logits[i];
        float y = targets[i];
        if (y > 0.0f) positives += reg_first_positive(targets, i, c);
        bool ok = isfinite(z) && y >= 0.0f && y <= 1.0f;
        float w = alpha[c] * reg_split_weight(positive_fraction, y) * reg_spatial(spatial, i, beta, delta, &ok);
        float sigma = reg_sigma(sigma_map, i, sigma_scalar, &ok);
        if (!ok) { // flagged for the host, which names the element; keep the arithmetic finite
            *invalid = 1;
            z = 0.0f;
            y = 0.0f;
            w = 0.0f;
            sigma = 0.0f;
        }
        const float3 r = reg_focal_element(reg_sigmoid_parts(z), y, w, gamma, gamma_n, sigma);
        const float gz = r.y * scale;
        gradient[i] = gz;
        finite = finite && isfinite(gz) && isfinite(r.x) && isfinite(r.z * scale);
        reg_store_extras(i, r, scale, sigma_gradient, element_loss);
        loss = reg_sum_add(loss, r.x);
#if UNCERTAINTY == 1
        dsigma = reg_sum_add(dsigma, r.z);
#endif
        c += class_step;
        if (c >= classes) c -= classes;
    }
    if (!finite) invalid[1] = 1; // a float32 overflow from finite inputs: the host recomputes
    reg_group_reduce(scratch_sums, scratch_counts, (float4)(loss, dsigma), (ulong2)(0, positives));
    if (get_local_id(0) == 0) {
        partial_sums[get_group_id(0)] = scratch_sums[0];
        partial_counts[get_group_id(0)] = scratch_counts[0]; // .x stays 0: the host knows N
    }
}

// ---------------------------------------------------------------------------------------------
// Segmentation: [B, C, H, W] logits and a [B, H, W] label map, one work-item per pixel, reading
// channel k at stride H·W (neighbouring work-items read neighbouring addresses). The one-hot target
// y_k = [label = k + 1] is formed on the fly. An ignored pixel (255) gets weight 0, writes zeros and
// is not counted.
__kernel void focal_segmentation(__global const float *logits,
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
                                 __global float *gradient,
                                 __global float *sigma_gradient,
                                 __global float *element_loss,
                                 __global float4 *partial_sums,
                                 __global ulong2 *partial_counts,
                                 __local float4 *scratch_sums,
                                 __local ulong2 *scratch_counts,
                                 __global int *invalid) {
    const float scale = gradient_scale[0];
    const ulong step = get_global_size(0);
    const ulong batch_step = step / plane, offset_step = step % plane;
    ulong b = get_global_id(0) / plane, offset = get_global_id(0) % plane;
    float2 loss = (float2)(0.0f), dsigma = (float2)(0.0f);
    ulong2 count = (ulong2)(0);
    bool finite = true;
    for (ulong i = get_global_id(0); i < pixels; i += step) {
        const ulong base = b * classes * plane + offset;
        const uint label = labels[i];
        const bool keep = label != REG_IGNORE_LABEL;
        bool ok = keep ? label <= classes : true;
        count += reg_label_counts(label, classes);
#if SOFTMAX
        // p = softmax(z) with m = max z at index top, m2 = max of the others:
        //   S' = Σ_{k≠top} e^(z_k − m2) ≥ 1,  E = e^(m2 − m),  S = 1 + E·S' = Σ e^(z_k − m)
        //   log p_k = z_k − m − log S;  p_top = 1/S,  q_top = E·S'/S,  log q_top = (m2 − m) + log S' − log S
        //   q_k = 1 − p_k (≥ ½) for k ≠ top;  p_k / q_top = e^(z_k − m2) / S'
        float z[CLASSES], ex[CLASSES], t[CLASSES];
        float m = -INFINITY;
        uint top = 0;
        for (uint k = 0; k < CLASSES; ++k) {
            z[k] = logits[base + k * plane];
            ok = ok && isfinite(z[k]);
            if (z[k] > m) {
                m = z[k];
                top = k;
            }
        }
        if (!ok) {
            *invalid = 1;
            for (uint k = 0; k < CLASSES; ++k) z[k] = 0.0f;
            m = 0.0f;
            top = 0;
        }
        float m2 = -INFINITY;
        for (uint k = 0; k < CLASSES; ++k) {
            if (k != top) m2 = fmax(m2, z[k]);
        }
        float rest = 0.0f;
        for (uint k = 0; k < CLASSES; ++k) {
            ex[k] = k == top ? 0.0f : exp(z[k] - m2);
            rest += ex[k];
        }
        const float e_top = exp(m2 - m);
        const float log_s = log1p(e_top * rest), log_rest = log(rest);
        const float p_top = 1.0f / (1.0f + e_top * rest);
        float pixel_loss = 0.0f;
        for (uint k = 0; k < CLASSES; ++k) {
            const ulong e = base + k * plane;
            const float y = label == k + 1 ? 1.0f : 0.0f;
            float4 pp;
            if (k == top) {
                pp = (float4)(p_top, e_top * rest * p_top, -log_s, (m2 - m) + log_rest - log_s);
            } else {
                const float p = ex[k] * e_top * p_top;
                pp = (float4)(p, 1.0f - p, z[k] - m - log_s, log1p(-p));
            }
            bool element_ok = true;
            float w = alpha[k] * reg_split_weight(positive_fraction, y) * reg_spatial(spatial, e, beta, delta, &element_ok);
            float sigma = reg_sigma(sigma_map, e, sigma_scalar, &element_ok);
            if (!element_ok) {
                *invalid = 1;
                sigma = 0.0f;
            }
            if (!(ok && element_ok && keep)) w = 0.0f;
            const float3 r = reg_focal_element(pp, y, w, gamma, gamma_n, sigma);
            t[k] = r.y;
            pixel_loss += r.x;
            finite = finite && isfinite(r.z * scale);
            reg_store_extras(e, r, scale, sigma_gradient, element_loss);
#if UNCERTAINTY == 1
            dsigma = reg_sum_add(dsigma, r.z);
#endif
        }
        // ∂L/∂z_k = Σ_c t_c/(q_c)·(δ_ck − p_k)·… = t_k − p_k Σ_{c≠k} t_c/q_c, written with
        // Q = Σ_{c≠top} t_c/q_c (every q_c ≥ ½ there):
        //   k = top:  t_top − p_top·Q
        //   k ≠ top:  t_k/q_k − p_k·Q − t_top·(p_k/q_top)
        float sum_q = 0.0f;
        for (uint k = 0; k < CLASSES; ++k) {
            if (k != top) sum_q += t[k] / (1.0f - ex[k] * e_top * p_top);
        }
        for (uint k = 0; k < CLASSES; ++k) {
            const ulong e = base + k * plane;
            float g;
            if (k == top) {
                g = t[k] - p_top * sum_q;
            } else {
                const float p = ex[k] * e_top * p_top;
                g = t[k] / (1.0f - p) - p * sum_q - t[top] * (ex[k] / rest);
            }
            const float gz = keep ? g * scale : 0.0f;
            gradient[e] = gz;
            finite = finite && isfinite(gz);
        }
        finite = finite && isfinite(pixel_loss);
        loss = reg_sum_add(loss, pixel_loss);
#else
        for (uint k = 0; k < classes; ++k) {
            const ulong e = base + k * plane;
            float z = logits[e];
            const float y = label == k + 1 ? 1.0f : 0.0f;
            bool element_ok = isfinite(z);
            float w = alpha[k] * reg_split_weight(positive_fraction, y) * reg_spatial(spatial, e, beta, delta, &element_ok);
            float sigma = reg_sigma(sigma_map, e, sigma_scalar, &element_ok);
            if (!(ok && element_ok)) {
                *invalid = 1;
                z = 0.0f;
                sigma = 0.0f;
            }
            if (!(ok && element_ok && keep)) w = 0.0f;
            const float3 r = reg_focal_element(reg_sigmoid_parts(z), y, w, gamma, gamma_n, sigma);
            const float gz = keep ? r.y * scale : 0.0f;
            gradient[e] = gz;
            finite = finite && isfinite(gz) && isfinite(r.x) && isfinite(r.z * scale);
            reg_store_extras(e, r, scale, sigma_gradient, element_loss);
            loss = reg_sum_add(loss, r.x);
#if UNCERTAINTY == 1
            dsigma = reg_sum_add(dsigma, r.z);
#endif
        }
#endif
        offset += offset_step;
        b += batch_step;
        if (offset >= plane) {
            offset -= plane;
            b += 1;
        }
    }
    if (!finite) invalid[1] = 1; // a float32 overflow from finite inputs: the host recomputes
    reg_group_reduce(scratch_sums, scratch_counts, (float4)(loss, dsigma), count);
    if (get_local_id(0) == 0) {
        partial_sums[get_group_id(0)] = scratch_sums[0];
        partial_counts[get_group_id(0)] = scratch_counts[0];
    }
}

// ---------------------------------------------------------------------------------------------
// Normalisers known before the main pass (docs/math.md §5): the counts that the gradient's 1/M
// needs, into per-group partials that finish_sums reduces.

// Segmentation: (non-ignored pixels, pixels labelled 1…C), 1 byte per pixel read.
__kernel void count_labels(__global const uchar *labels,
                           const ulong pixels,
                           const uint classes,
                           __global float4 *partial_sums,
                           __global ulong2 *partial_counts,
                           __local float4 *scratch_sums,
                           __local ulong2 *scratch_counts) {
    ulong2 count = (ulong2)(0);
    for (ulong i = get_global_id(0); i < pixels; i += get_global_size(0)) {
        count += reg_label_counts(labels[i], classes);
    }
    reg_group_reduce(scratch_sums, scratch_counts, (float4)(0.0f), count);
    if (get_local_id(0) == 0) {
        partial_sums[get_group_id(0)] = (float4)(0.0f);
        partial_counts[get_group_id(0)] = scratch_counts[0];
    }
}

// Detection: (0, samples with at least one target > 0), one work-item per sample.
__kernel void count_positive_rows(__global const float *targets,
                                  const ulong samples,
                                  const uint classes,
                                  __global float4 *partial_sums,
                                  __global ulong2 *partial_counts,
                                  __local float4 *scratch_sums,
                                  __local ulong2 *scratch_counts) {
    ulong positives = 0;
    for (ulong n = get_global_id(0); n < samples; n += get_global_size(0)) {
        bool any = false;
        for (uint k = 0; k < classes; ++k) any = any || targets[n * classes + k] > 0.0f;
        positives += any;
    }
    reg_group_reduce(scratch_sums, scratch_counts, (float4)(0.0f), (ulong2)(0, positives));
    if (get_local_id(0) == 0) {
        partial_sums[get_group_id(0)] = (float4)(0.0f);
        partial_counts[get_group_id(0)] = scratch_counts[0];
    }
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
