/*
 * A C program on REG's C API (Sources/REGC/include/reg.h), linked with libregc.so. CABITests
 * compiles it with cc, runs it and compares what it prints with Engine(device: .reference).
 *
 * It makes a small batch with a fixed generator, prints the inputs, then on an engine on
 * "reference" and one on "0" (the first OpenCL device, REG_FALLBACK_ERROR) runs a step with both
 * tasks and a detection focal loss, and prints the results; then it provokes errors and prints
 * their statuses and messages. Floats are printed as C99 hexadecimal (%a), exactly. Then the same
 * with float16 (API minor version 1): the logits and targets rounded to half, reg_step_typed with
 * float16 gradients and reg_focal_loss_detection_typed, and the float16 errors; halves are printed
 * widened to float (exact).
 *
 * Usage: client [DEVICE]   (DEVICE defaults to "0")
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reg.h"

enum { N = 6, C = 3, IMAGES = 2, M = 3, B = 2, SC = 3, H = 5, W = 4 };
enum { DET = N * C, SEG = B * SC * H * W, PIXELS = B * H * W };

static float det_logits[DET], det_targets[DET], det_points[3 * N], det_boxes[6 * M];
static float seg_logits[SEG], seg_sigma[SEG];
static uint8_t seg_labels[PIXELS];
static const float det_alpha[C] = {1.0f, 2.0f, 0.5f};

static uint16_t half_det_logits[DET], half_det_targets[DET], half_seg_logits[SEG];

static uint32_t state = 12345u;

/* A whole number in 0..<n from a fixed linear congruential generator. */
static uint32_t next(uint32_t n) {
    state = state * 1664525u + 1013904223u;
    return (state >> 8) % n;
}

static void print_floats(const char *tag, const char *engine, const float *values, size_t count) {
    printf("%s %s", tag, engine);
    for (size_t i = 0; i < count; i++) printf(" %a", (double)values[i]);
    printf("\n");
}

/* The IEEE binary16 bits of value, rounded to nearest even (C11 has no half type). */
static uint16_t half_bits(float value) {
    uint32_t x;
    memcpy(&x, &value, sizeof x);
    const uint32_t sign = (x >> 16) & 0x8000u, magnitude = x & 0x7fffffffu;
    if (magnitude > 0x7f800000u) return (uint16_t)(sign | 0x7e00u); /* NaN */
    if (magnitude >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* 65520 and up round to inf */
    if (magnitude < 0x38800000u) {                                   /* below 2^-14: a subnormal half */
        if (magnitude < 0x33000000u) return (uint16_t)sign;          /* below 2^-25: 0 */
        const uint32_t exponent = magnitude >> 23, mantissa = (magnitude & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126 - exponent, rest = mantissa & ((1u << shift) - 1), tie = 1u << (shift - 1);
        uint32_t q = mantissa >> shift;
        if (rest > tie || (rest == tie && (q & 1u))) q++;
        return (uint16_t)(sign | q);
    }
    const uint32_t rebiased = magnitude - 0x38000000u, rest = rebiased & 0x1fffu;
    uint32_t q = rebiased >> 13;
    if (rest > 0x1000u || (rest == 0x1000u && (q & 1u))) q++;
    return (uint16_t)(sign | q);
}

/* The value of half bits, widened to float (exact). */
static float half_value(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
    if (exponent == 0) {
        const float v = ldexpf((float)mantissa, -24);
        return sign ? -v : v;
    }
    const uint32_t x = sign | (exponent == 31 ? 0x7f800000u : (exponent + 112) << 23) | (mantissa << 13);
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

static void print_halves(const char *tag, const char *engine, const uint16_t *values, size_t count) {
    printf("%s %s", tag, engine);
    for (size_t i = 0; i < count; i++) printf(" %a", (double)half_value(values[i]));
    printf("\n");
}

static void make_batch(void) {
    for (int i = 0; i < DET; i++) {
        det_logits[i] = ((float)next(2001) - 1000.0f) / 250.0f;
        det_targets[i] = next(4) == 0 ? 1.0f : 0.0f;
    }
    det_targets[4] = 0.25f; /* a soft target */
    for (int n = 0; n < N; n++) {
        det_points[3 * n] = (float)(n % IMAGES);
        det_points[3 * n + 1] = (float)next(64);
        det_points[3 * n + 2] = (float)next(64);
    }
    const float boxes[6 * M] = {0, 1, 4, 4, 20, 30, 0, 3, 40, 10, 50, 12, 1, 2, 8, 8, 16, 40};
    memcpy(det_boxes, boxes, sizeof boxes);
    for (int i = 0; i < SEG; i++) {
        seg_logits[i] = ((float)next(2001) - 1000.0f) / 250.0f;
        seg_sigma[i] = (float)next(100) / 1000.0f;
    }
    for (int i = 0; i < PIXELS; i++) seg_labels[i] = next(10) == 0 ? 255 : (uint8_t)next(SC + 1);
    for (int i = 0; i < DET; i++) {
        half_det_logits[i] = half_bits(det_logits[i]);
        half_det_targets[i] = half_bits(det_targets[i]);
    }
    for (int i = 0; i < SEG; i++) half_seg_logits[i] = half_bits(seg_logits[i]);
    print_floats("det_logits", "-", det_logits, DET);
    print_floats("det_targets", "-", det_targets, DET);
    print_floats("det_points", "-", det_points, 3 * N);
    print_floats("det_boxes", "-", det_boxes, 6 * M);
    print_floats("seg_logits", "-", seg_logits, SEG);
    print_floats("seg_sigma", "-", seg_sigma, SEG);
    print_halves("half_det_logits", "-", half_det_logits, DET);
    print_halves("half_det_targets", "-", half_det_targets, DET);
    print_halves("half_seg_logits", "-", half_seg_logits, SEG);
    printf("seg_labels -");
    for (int i = 0; i < PIXELS; i++) printf(" %d", seg_labels[i]);
    printf("\n");
}

/* The settings CABITests uses too: detection with α, scalar σ and the default refinement;
 * segmentation with softmax, β < 0, the positives normaliser and a σ map; λ = 0.7. */
static reg_step_settings step_settings(void) {
    reg_step_settings s;
    reg_step_settings_init(&s);
    s.detection.alpha = det_alpha;
    s.detection.alpha_count = C;
    s.detection.sigma = 0.05f;
    s.segmentation.activation = REG_ACTIVATION_SOFTMAX;
    s.segmentation.beta = -0.25f;
    s.segmentation.delta = 2.0f;
    s.segmentation.normalizer = REG_NORMALIZER_POSITIVES;
    s.lambda = 0.7f;
    return s;
}

static reg_detection_batch detection_batch(const float *logits) {
    reg_detection_batch d = {
        .logits = {logits, DET}, .targets = {det_targets, DET}, .points = {det_points, 3 * N},
        .boxes = {det_boxes, 6 * M}, .sigma = {NULL, 0}, .samples = N, .classes = C, .images = IMAGES};
    return d;
}

static reg_segmentation_batch segmentation_batch(void) {
    reg_segmentation_batch s = {
        .logits = {seg_logits, SEG}, .labels = {seg_labels, PIXELS}, .sigma = {seg_sigma, SEG},
        .batch = B, .classes = SC, .height = H, .width = W};
    return s;
}

static void print_task(const char *tag, const char *engine, const reg_task_result *t) {
    printf("%s %s %d %a %a %lld %lld %a %d %a\n", tag, engine, t->present, t->loss, t->sum, (long long)t->count,
           (long long)t->positives, t->divisor, t->has_sigma_gradient, t->sigma_gradient);
}

/* The step and a focal loss on one engine; returns 0 when every call succeeded. */
static int run(const char *device, const char *tag) {
    char message[REG_MESSAGE_CAPACITY];
    reg_engine *engine = NULL;
    int status = reg_engine_create(device, REG_FALLBACK_ERROR, &engine, message, sizeof message);
    if (status != REG_OK) {
        printf("failed %s create %d %s\n", tag, status, message);
        return 1;
    }
    int32_t backend = -1;
    char description[256];
    status = reg_engine_backend(engine, &backend, description, sizeof description);
    printf("backend %s %d %d %s\n", tag, status, backend, description);

    float det_grad[DET], seg_grad[SEG], seg_sigma_grad[SEG];
    reg_detection_batch d = detection_batch(det_logits);
    reg_segmentation_batch s = segmentation_batch();
    reg_step_settings settings = step_settings();
    reg_step_gradients g = {.detection_logits = {det_grad, DET}, .detection_sigma = {NULL, 0},
                            .segmentation_logits = {seg_grad, SEG}, .segmentation_sigma = {seg_sigma_grad, SEG}};
    reg_step_result r;
    status = reg_step(engine, &d, &s, &settings, &g, &r, message, sizeof message);
    if (status != REG_OK) {
        printf("failed %s step %d %s\n", tag, status, message);
        reg_engine_destroy(engine);
        return 1;
    }
    printf("step %s %a %d\n", tag, r.total, r.backend);
    print_task("step_det", tag, &r.detection);
    print_task("step_seg", tag, &r.segmentation);
    print_floats("det_grad", tag, det_grad, DET);
    print_floats("seg_grad", tag, seg_grad, SEG);
    print_floats("seg_sigma_grad", tag, seg_sigma_grad, SEG);

    /* The detection focal loss: α = 1, γ = 2, no refinement, mean over samples. */
    reg_task_settings focal;
    reg_task_settings_init(&focal);
    focal.refinement = 0;
    float focal_grad[DET];
    reg_focal_result f;
    reg_floats none = {NULL, 0};
    reg_floats_mut no_output = {NULL, 0};
    status = reg_focal_loss_detection(engine, (reg_floats){det_logits, DET}, (reg_floats){det_targets, DET}, N, C,
                                      none, none, &focal, REG_REDUCTION_MEAN, (reg_floats_mut){focal_grad, DET},
                                      no_output, no_output, &f, message, sizeof message);
    if (status != REG_OK) {
        printf("failed %s focal %d %s\n", tag, status, message);
        reg_engine_destroy(engine);
        return 1;
    }
    printf("focal %s %a %a %lld %lld %a %d\n", tag, f.loss, f.sum, (long long)f.count, (long long)f.positives,
           f.divisor, f.backend);
    print_floats("focal_grad", tag, focal_grad, DET);
    reg_engine_destroy(engine);
    return 0;
}

/* Errors: their statuses and messages. */
static int errors(void) {
    char message[REG_MESSAGE_CAPACITY];
    reg_engine *engine = NULL;
    if (reg_engine_create("reference", REG_FALLBACK_REFERENCE, &engine, message, sizeof message) != REG_OK) {
        printf("failed errors create %s\n", message);
        return 1;
    }
    /* A NaN logit in the step. */
    float bad[DET];
    memcpy(bad, det_logits, sizeof bad);
    bad[2 * C + 1] = NAN;
    float det_grad[DET];
    reg_detection_batch d = detection_batch(bad);
    reg_step_settings settings = step_settings();
    reg_step_gradients g = {.detection_logits = {det_grad, DET}};
    reg_step_result r;
    int status = reg_step(engine, &d, NULL, &settings, &g, &r, message, sizeof message);
    printf("error nan_step %d %s\n", status, message);

    /* A NaN logit in the focal loss. */
    reg_floats none = {NULL, 0};
    reg_floats_mut no_output = {NULL, 0};
    reg_focal_result f;
    status = reg_focal_loss_detection(engine, (reg_floats){bad, DET}, (reg_floats){det_targets, DET}, N, C, none,
                                      none, NULL, REG_REDUCTION_MEAN, (reg_floats_mut){det_grad, DET}, no_output,
                                      no_output, &f, message, sizeof message);
    printf("error nan_focal %d %s\n", status, message);

    /* A gradient buffer of the wrong size. */
    g.detection_logits.count = DET - 1;
    d = detection_batch(det_logits);
    status = reg_step(engine, &d, NULL, &settings, &g, &r, message, sizeof message);
    printf("error short_gradient %d %s\n", status, message);

    /* A NULL buffer with a count. */
    status = reg_refine(engine, (reg_floats){NULL, 4}, 0.5f, 8.0f, no_output, NULL, message, sizeof message);
    printf("error null_buffer %d %s\n", status, message);

    /* A message buffer too small for the message: cut, and NUL-terminated. */
    char small[16];
    memset(small, 'x', sizeof small);
    status = reg_step(engine, &d, NULL, &settings, &g, &r, small, sizeof small);
    printf("error truncated %d %zu\n", status, strlen(small));

    /* No such device; a NULL engine. */
    reg_engine *missing = (reg_engine *)&status;
    status = reg_engine_create("999", REG_FALLBACK_REFERENCE, &missing, message, sizeof message);
    printf("error no_device %d %d %s\n", status, missing == NULL, message);
    status = reg_refine(NULL, none, 0.5f, 8.0f, no_output, NULL, message, sizeof message);
    printf("error null_engine %d %s\n", status, message);

    /* Success clears the message. */
    strcpy(message, "stale");
    float distance = 8.0f, weight = -1.0f;
    int32_t backend = -1;
    status = reg_refine(engine, (reg_floats){&distance, 1}, 0.5f, 8.0f, (reg_floats_mut){&weight, 1}, &backend,
                        message, sizeof message);
    printf("refine - %d %d %a [%s]\n", status, backend, (double)weight, message);
    reg_engine_destroy(engine);
    return 0;
}

static reg_detection_batch_typed half_detection_batch(const uint16_t *logits) {
    reg_detection_batch_typed d = {
        .logits = {logits, DET, REG_FLOAT16}, .targets = {half_det_targets, DET, REG_FLOAT16},
        .points = {det_points, 3 * N}, .boxes = {det_boxes, 6 * M}, .sigma = {NULL, 0, REG_FLOAT32},
        .samples = N, .classes = C, .images = IMAGES};
    return d;
}

/* The step with float16 logits and targets (the segmentation σ map float32) and float16 gradients,
 * and a float16 detection focal loss; returns 0 when every call succeeded. */
static int run_half(const char *device, const char *tag) {
    char message[REG_MESSAGE_CAPACITY];
    reg_engine *engine = NULL;
    int status = reg_engine_create(device, REG_FALLBACK_ERROR, &engine, message, sizeof message);
    if (status != REG_OK) {
        printf("failed %s half create %d %s\n", tag, status, message);
        return 1;
    }
    uint16_t det_grad[DET], seg_grad[SEG], seg_sigma_grad[SEG];
    reg_detection_batch_typed d = half_detection_batch(half_det_logits);
    reg_segmentation_batch_typed s = {
        .logits = {half_seg_logits, SEG, REG_FLOAT16}, .labels = {seg_labels, PIXELS},
        .sigma = {seg_sigma, SEG, REG_FLOAT32}, .batch = B, .classes = SC, .height = H, .width = W};
    reg_step_settings settings = step_settings();
    reg_step_gradients_typed g = {
        .detection_logits = {det_grad, DET, REG_FLOAT16}, .detection_sigma = {NULL, 0, REG_FLOAT16},
        .segmentation_logits = {seg_grad, SEG, REG_FLOAT16}, .segmentation_sigma = {seg_sigma_grad, SEG, REG_FLOAT16}};
    reg_step_result r;
    status = reg_step_typed(engine, &d, &s, &settings, &g, &r, message, sizeof message);
    if (status != REG_OK) {
        printf("failed %s half step %d %s\n", tag, status, message);
        reg_engine_destroy(engine);
        return 1;
    }
    printf("half_step %s %a %d\n", tag, r.total, r.backend);
    print_task("half_step_det", tag, &r.detection);
    print_task("half_step_seg", tag, &r.segmentation);
    print_halves("half_det_grad", tag, det_grad, DET);
    print_halves("half_seg_grad", tag, seg_grad, SEG);
    print_halves("half_seg_sigma_grad", tag, seg_sigma_grad, SEG);

    /* The detection focal loss on the halves, α = 1, γ = 2, mean, float16 gradient. */
    reg_task_settings focal;
    reg_task_settings_init(&focal);
    focal.refinement = 0;
    uint16_t focal_grad[DET];
    reg_focal_result f;
    reg_floats none = {NULL, 0};
    status = reg_focal_loss_detection_typed(
        engine, (reg_tensor){half_det_logits, DET, REG_FLOAT16}, (reg_tensor){half_det_targets, DET, REG_FLOAT16}, N, C,
        none, none, &focal, REG_REDUCTION_MEAN, (reg_tensor_mut){focal_grad, DET, REG_FLOAT16}, (reg_floats_mut){NULL, 0},
        (reg_tensor_mut){NULL, 0, REG_FLOAT16}, &f, message, sizeof message);
    if (status != REG_OK) {
        printf("failed %s half focal %d %s\n", tag, status, message);
        reg_engine_destroy(engine);
        return 1;
    }
    printf("half_focal %s %a %a %lld %lld %a %d\n", tag, f.loss, f.sum, (long long)f.count, (long long)f.positives,
           f.divisor, f.backend);
    print_halves("half_focal_grad", tag, focal_grad, DET);
    reg_engine_destroy(engine);
    return 0;
}

/* The float16 errors: a bad dtype, a NaN half, a σ gradient of another dtype than its task's. */
static int half_errors(void) {
    char message[REG_MESSAGE_CAPACITY];
    reg_engine *engine = NULL;
    if (reg_engine_create("reference", REG_FALLBACK_REFERENCE, &engine, message, sizeof message) != REG_OK) {
        printf("failed half errors create %s\n", message);
        return 1;
    }
    uint16_t det_grad[DET], seg_grad[SEG];
    float seg_sigma_grad[SEG];
    reg_step_settings settings = step_settings();
    reg_step_result r;
    reg_detection_batch_typed d = half_detection_batch(half_det_logits);
    d.logits.dtype = 7;
    reg_step_gradients_typed g = {.detection_logits = {det_grad, DET, REG_FLOAT16}};
    int status = reg_step_typed(engine, &d, NULL, &settings, &g, &r, message, sizeof message);
    printf("error half_dtype %d %s\n", status, message);

    uint16_t bad[DET];
    memcpy(bad, half_det_logits, sizeof bad);
    bad[2 * C + 1] = 0x7e00u; /* NaN */
    d = half_detection_batch(bad);
    status = reg_step_typed(engine, &d, NULL, &settings, &g, &r, message, sizeof message);
    printf("error half_nan %d %s\n", status, message);

    reg_segmentation_batch_typed s = {
        .logits = {half_seg_logits, SEG, REG_FLOAT16}, .labels = {seg_labels, PIXELS},
        .sigma = {seg_sigma, SEG, REG_FLOAT32}, .batch = B, .classes = SC, .height = H, .width = W};
    reg_step_gradients_typed mixed = {.segmentation_logits = {seg_grad, SEG, REG_FLOAT16},
                                      .segmentation_sigma = {seg_sigma_grad, SEG, REG_FLOAT32}};
    status = reg_step_typed(engine, NULL, &s, &settings, &mixed, &r, message, sizeof message);
    printf("error half_sigma_grad %d %s\n", status, message);

    reg_floats none = {NULL, 0};
    reg_focal_result f;
    status = reg_focal_loss_detection_typed(
        engine, (reg_tensor){half_det_logits, DET, REG_FLOAT16}, (reg_tensor){half_det_targets, DET, REG_FLOAT16}, N, C,
        none, none, NULL, REG_REDUCTION_MEAN, (reg_tensor_mut){det_grad, DET, -1}, (reg_floats_mut){NULL, 0},
        (reg_tensor_mut){NULL, 0, REG_FLOAT32}, &f, message, sizeof message);
    printf("error half_focal_dtype %d %s\n", status, message);
    reg_engine_destroy(engine);
    return 0;
}

int main(int argc, char **argv) {
    const char *version = NULL;
    int api = reg_version(&version);
    printf("version - %d %d %s\n", api, REG_API_VERSION, version);
    printf("version_minor - %d %d\n", reg_api_minor_version(), REG_API_MINOR_VERSION);
    make_batch();
    int failed = run("reference", "reference");
    failed |= run(argc > 1 ? argv[1] : "0", "device");
    failed |= errors();
    failed |= run_half("reference", "reference");
    failed |= run_half(argc > 1 ? argv[1] : "0", "device");
    failed |= half_errors();
    return failed;
}
