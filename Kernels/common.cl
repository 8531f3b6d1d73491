// Device helpers shared by every REG program (prepended to each kernel file at build time).
// Full-precision exp/log only: REG never builds with -cl-fast-relaxed-math, so results stay within
// the SPEC tolerances on every vendor.

#ifndef REG_COMMON_CL
#define REG_COMMON_CL

// σ(t) without overflow for any t, including ±INFINITY: exp is only taken of −|t|.
inline float reg_sigmoid(float t) {
    float e = exp(-fabs(t));
    return t >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

// softplus(t) = log(1 + e^t) without overflow; equals t to float precision for large t.
inline float reg_softplus(float t) {
    return fmax(t, 0.0f) + log1p(exp(-fabs(t)));
}

#endif
