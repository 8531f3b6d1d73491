/*
 * reg.h: the C API of REG, the Refined Generalized Focal Loss (docs/math.md) on OpenCL devices
 * with a float64 CPU reference. Library: libregc.so (SwiftPM product `regc`; `swift build
 * --product regc`). API version 1, minor version 1 (float16 arrays: REG_FLOAT16 and the *_typed
 * functions). docs/python.md describes this API and the Python package on it.
 *
 * Conventions (every function):
 *
 * - Status. Every function returns an int: REG_OK (0), or REG_INVALID_ARGUMENT, REG_OUT_OF_MEMORY,
 *   REG_DEVICE_ERROR or REG_INTERNAL_ERROR. reg_version is the one exception: it returns the API
 *   version.
 * - Messages. Every function that can fail takes `char *message, size_t capacity`, a buffer the
 *   caller owns: on failure REG writes its message there (the same text as REG's Swift errors,
 *   e.g. "invalid argument det_logits[3, 1]: must be finite, got nan"), cut at a UTF-8 character
 *   boundary to fit and always NUL-terminated when capacity > 0; on success it writes "". message
 *   may be NULL (with any capacity). There is no global "last error": the message belongs to the
 *   call. REG_MESSAGE_CAPACITY is enough for every message REG writes in practice.
 * - Buffers. Arrays are passed as views: a pointer and a count of elements (not bytes), row-major,
 *   float32 (or uint8 labels), or, in the *_typed functions' reg_tensor views, float32 or IEEE
 *   float16 as the view's dtype says (REG_FLOAT32, REG_FLOAT16). A view with data == NULL and
 *   count == 0 is empty, or absent where a buffer is optional; data == NULL with count > 0 is
 *   REG_INVALID_ARGUMENT. Counts are checked against the dimensions, and a mismatch names the
 *   buffer. REG reads and writes the caller's memory only during the call and keeps no pointer
 *   after it returns. Outputs must not overlap inputs.
 * - float16 (minor version 1). Logits, detection targets and σ maps may be IEEE binary16; REG
 *   computes in float32 either way (a half widens exactly), so results meet docs/math.md §7
 *   against the reference fed the same half values. Gradients are written as float16 when their
 *   view is REG_FLOAT16, rounded to nearest even (a device writes them so and they are read
 *   straight into the caller's memory). The version 1 functions and structs are unchanged: a
 *   program written for them compiles and runs as before.
 * - Copies. reg_step reads the inputs in place and writes the gradients straight into the
 *   caller's buffers (no host copy of the batch). The single operations (reg_focal_loss_*,
 *   reg_distance_transform, reg_box_distances, reg_refine) go through REG's array API for now:
 *   they copy their inputs once into REG's arrays and copy the results into the caller's buffers.
 * - Engines. A reg_engine owns one OpenCL device (or the CPU reference): its context, compiled
 *   programs and the step's device buffers, kept between calls. It is safe to call from several
 *   threads at once: calls on one engine are serialised (one runs at a time, each gives the result
 *   it gives alone); engines share nothing, so one engine per thread or device runs in parallel.
 *   reg_engine_destroy must not race with a call on the same engine.
 * - Backends. When the device fails and the engine was created with REG_FALLBACK_REFERENCE (the
 *   default), the call is completed on the float64 CPU reference and one warning goes to standard
 *   error; every result says which backend computed it (REG_BACKEND_*).
 */
#ifndef REG_H
#define REG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header's API; reg_version returns the library's. A library of version 1
 * serves every program written for version 1. */
#define REG_API_VERSION 1
/* Additions within version 1, numbered from 0 (the first release); reg_api_minor_version returns
 * the library's. 1: REG_FLOAT16, reg_tensor, reg_tensor_mut, reg_step_typed and
 * reg_focal_loss_*_typed. A program that uses them checks reg_api_minor_version() >= 1. */
#define REG_API_MINOR_VERSION 1

/* Statuses. */
#define REG_OK 0
/* A bad argument: a NULL where a buffer is required, a count that does not match the dimensions,
 * a setting out of range, or a bad element (a non-finite logit, a target outside [0, 1], a label
 * outside 0…C and 255, …). The message names the argument and the first bad index. */
#define REG_INVALID_ARGUMENT 1
/* Not enough host or device memory for the call, found before anything was allocated; the
 * message says how many bytes were needed, where, and how to need less. */
#define REG_OUT_OF_MEMORY 2
/* The device failed (under REG_FALLBACK_ERROR), or a device request names no device present (the
 * message lists the devices found). */
#define REG_DEVICE_ERROR 3
/* Any other failure; the message says what. */
#define REG_INTERNAL_ERROR 4

/* A message buffer of this many bytes holds every message REG writes in practice. */
#define REG_MESSAGE_CAPACITY 1024

/* What computed a result. */
#define REG_BACKEND_REFERENCE 0 /* the float64 CPU reference */
#define REG_BACKEND_OPENCL 1    /* the engine's OpenCL device */

/* What an engine does when its device fails. */
#define REG_FALLBACK_REFERENCE 0 /* complete the call on the CPU reference, one warning (default) */
#define REG_FALLBACK_ERROR 1     /* return REG_DEVICE_ERROR, every time */

/* reg_task_settings.activation */
#define REG_ACTIVATION_SIGMOID 0 /* per element (multi-label); both tasks */
#define REG_ACTIVATION_SOFTMAX 1 /* over the classes of a pixel: segmentation only, classes >= 2 */

/* reg_task_settings.normalizer: M of L = sum / M (docs/math.md §5). */
#define REG_NORMALIZER_SAMPLES 0   /* samples, or non-ignored pixels */
#define REG_NORMALIZER_POSITIVES 1 /* samples with a target > 0, or pixels labelled 1…C; at least 1 */
#define REG_NORMALIZER_GIVEN 2     /* normalizer_value (finite, > 0): a data-parallel trainer's M */

/* The reduction of the single focal-loss calls. */
#define REG_REDUCTION_MEAN 0 /* sum / M, M from the normalizer */
#define REG_REDUCTION_SUM 1  /* sum */
#define REG_REDUCTION_NONE 2 /* the loss of every element into element_loss; the gradient is the sum's */

/* An engine: created by reg_engine_create, released by reg_engine_destroy. */
typedef struct reg_engine reg_engine;

/* A float32 array REG reads. */
typedef struct reg_floats {
    const float *data;
    size_t count;
} reg_floats;

/* A float32 array REG writes (every element). */
typedef struct reg_floats_mut {
    float *data;
    size_t count;
} reg_floats_mut;

/* Element types of reg_tensor and reg_tensor_mut (minor version 1). */
#define REG_FLOAT32 0 /* IEEE binary32: float */
#define REG_FLOAT16 1 /* IEEE binary16, 2 bytes: _Float16 where the compiler has it, else its uint16_t bits */

/* A float32 or float16 array REG reads (minor version 1). data points at count elements of dtype;
 * {NULL, 0, any dtype} is empty or absent. Any other dtype is REG_INVALID_ARGUMENT naming the
 * array. */
typedef struct reg_tensor {
    const void *data;
    size_t count;
    int32_t dtype; /* REG_FLOAT32 or REG_FLOAT16 */
} reg_tensor;

/* A float32 or float16 array REG writes (every element; float16 rounded to nearest even). */
typedef struct reg_tensor_mut {
    void *data;
    size_t count;
    int32_t dtype; /* REG_FLOAT32 or REG_FLOAT16 */
} reg_tensor_mut;

/* Label bytes REG reads: 0 background, 1…C class, 255 ignore. */
typedef struct reg_labels {
    const uint8_t *data;
    size_t count;
} reg_labels;

/* One task's loss settings (docs/usage.md "Settings"). reg_task_settings_init fills the defaults. */
typedef struct reg_task_settings {
    const float *alpha;       /* α_c, one per class (finite, >= 0); NULL: 1 for every class */
    size_t alpha_count;       /* how many alpha values (the classes) */
    float gamma;              /* γ >= 0 (default 2) */
    int32_t refinement;       /* nonzero: g = σ(β(d − δ)) (default 1); 0: g ≡ 1 */
    float beta;               /* β, finite (default 0.5) */
    float delta;              /* δ in pixels, finite (default 8) */
    float sigma;              /* one σ for every logit, in [0, 1e6] (default 0); a σ map wins */
    int32_t activation;       /* REG_ACTIVATION_* (default sigmoid) */
    float positive_fraction;  /* torchvision's a in [0, 1]; negative: off (default -1) */
    int32_t normalizer;       /* REG_NORMALIZER_* (default samples) */
    double normalizer_value;  /* M for REG_NORMALIZER_GIVEN; ignored otherwise */
} reg_task_settings;

/* A step's settings. reg_step_settings_init fills the defaults. */
typedef struct reg_step_settings {
    reg_task_settings detection;
    reg_task_settings segmentation;
    float lambda;              /* λ of L_total = L_det + λ·L_seg, finite (default 1) */
    int32_t validate_elements; /* nonzero: scan every element on the host first (default 1) */
    int64_t memory_budget;     /* device bytes one chunk may use; 0: half the device's memory */
} reg_step_settings;

/* A step's detection task. Row-major float32. */
typedef struct reg_detection_batch {
    reg_floats logits;  /* [samples, classes], finite */
    reg_floats targets; /* [samples, classes], in [0, 1] */
    reg_floats points;  /* [samples, 3]: rows (image, x, y), image a whole number in 0..<images */
    reg_floats boxes;   /* [M, 6]: rows (image, class 1…classes, x1, y1, x2, y2); M may be 0 */
    reg_floats sigma;   /* [samples, classes] σ map in [0, 1e6]; data NULL: none */
    size_t samples;
    size_t classes;
    size_t images;
} reg_detection_batch;

/* A step's segmentation task. */
typedef struct reg_segmentation_batch {
    reg_floats logits; /* [batch, classes, height, width] (NCHW), finite */
    reg_labels labels; /* [batch, height, width]: 0 background, 1…classes, 255 ignore */
    reg_floats sigma;  /* like the logits; data NULL: none */
    size_t batch;
    size_t classes;
    size_t height;
    size_t width;
} reg_segmentation_batch;

/* Where a step writes ∂L_total/∂… (laid out like the logits). The logits' gradient is required for
 * each task present; a σ gradient is written where the task has a σ map and a buffer is given. */
typedef struct reg_step_gradients {
    reg_floats_mut detection_logits;
    reg_floats_mut detection_sigma;
    reg_floats_mut segmentation_logits;
    reg_floats_mut segmentation_sigma;
} reg_step_gradients;

/* The step's batch and gradients with float32 or float16 arrays (minor version 1): as
 * reg_detection_batch, reg_segmentation_batch and reg_step_gradients, with reg_tensor views for the
 * logits, detection targets, σ maps and gradients (points, boxes and labels as before). Each array
 * has its own dtype, except that a task's σ gradient has the dtype of its logits' gradient (the
 * kernels write both in one type; a mismatch is REG_INVALID_ARGUMENT naming det_sigma_grad or
 * seg_sigma_grad). */
typedef struct reg_detection_batch_typed {
    reg_tensor logits;  /* [samples, classes], finite (a float16 ±inf is not) */
    reg_tensor targets; /* [samples, classes], in [0, 1] */
    reg_floats points;  /* [samples, 3]: rows (image, x, y) */
    reg_floats boxes;   /* [M, 6]: rows (image, class 1…classes, x1, y1, x2, y2) */
    reg_tensor sigma;   /* [samples, classes] σ map in [0, 1e6]; data NULL: none */
    size_t samples;
    size_t classes;
    size_t images;
} reg_detection_batch_typed;

typedef struct reg_segmentation_batch_typed {
    reg_tensor logits; /* [batch, classes, height, width] (NCHW), finite */
    reg_labels labels; /* [batch, height, width]: 0 background, 1…classes, 255 ignore */
    reg_tensor sigma;  /* like the logits; data NULL: none */
    size_t batch;
    size_t classes;
    size_t height;
    size_t width;
} reg_segmentation_batch_typed;

typedef struct reg_step_gradients_typed {
    reg_tensor_mut detection_logits;
    reg_tensor_mut detection_sigma;
    reg_tensor_mut segmentation_logits;
    reg_tensor_mut segmentation_sigma;
} reg_step_gradients_typed;

/* One task's part of a step. */
typedef struct reg_task_result {
    int32_t present;            /* 1 when the batch had this task; every field below is 0 otherwise */
    int32_t has_sigma_gradient; /* 1 when sigma_gradient holds ∂L_total/∂σ for a scalar σ > 0 */
    double loss;                /* sum / divisor (0 when the divisor is 0) */
    double sum;                 /* Σ ℓ over every element */
    int64_t count;              /* samples, or non-ignored pixels */
    int64_t positives;          /* samples with a target > 0, or pixels labelled 1…C */
    double divisor;             /* M */
    double sigma_gradient;
} reg_task_result;

typedef struct reg_step_result {
    double total; /* L_det + λ·L_seg (an absent task contributes 0) */
    reg_task_result detection;
    reg_task_result segmentation;
    int32_t backend; /* REG_BACKEND_*: what computed this step */
} reg_step_result;

/* A single focal-loss evaluation. */
typedef struct reg_focal_result {
    double loss;      /* under REG_REDUCTION_MEAN sum / divisor (0 when the divisor is 0); else sum */
    double sum;       /* Σ ℓ over every element */
    int64_t count;    /* samples, or non-ignored pixels */
    int64_t positives;
    double divisor;   /* M under the mean; 1 under sum and none */
    int32_t has_sigma_gradient; /* 1 for a scalar σ > 0: sigma_gradient is ∂L/∂σ */
    double sigma_gradient;
    int32_t backend;  /* REG_BACKEND_* */
} reg_focal_result;

/* The library's API version (REG_API_VERSION of the header it was built with); when version is
 * not NULL, *version is set to REG's version as a NUL-terminated string ("0.2.0") owned by the
 * library, valid for as long as it is loaded. */
int reg_version(const char **version);

/* The library's minor API version (REG_API_MINOR_VERSION of the header it was built with): 1 or more
 * when it has the float16 functions. */
int reg_api_minor_version(void);

/* Creates an engine. device: "auto" (a GPU, else an accelerator, else a CPU OpenCL device such as
 * PoCL, else the reference), "reference" (also "ref", "cpu": the float64 CPU reference), an index
 * ("0": the first OpenCL device), or a name substring ("pthread"); NULL or "": $REG_DEVICE, else
 * auto. fallback: REG_FALLBACK_*. On success *engine is a new engine; on failure it is NULL.
 * REG_DEVICE_ERROR when an index or name matches no device (the message lists the devices), or the
 * device cannot be set up under REG_FALLBACK_ERROR. */
int reg_engine_create(const char *device, int32_t fallback, reg_engine **engine, char *message, size_t capacity);

/* Releases an engine and its device resources. NULL is accepted. Returns REG_OK. */
int reg_engine_destroy(reg_engine *engine);

/* The engine's backend now (REG_BACKEND_*, into *backend when not NULL) and its description
 * ("OpenCL: <device> (<platform>, gpu)" or "CPU reference (float64)") into description; on failure
 * description receives the message instead. */
int reg_engine_backend(reg_engine *engine, int32_t *backend, char *description, size_t capacity);

/* The defaults: no α (1 for every class), γ = 2, refinement on with β = 0.5 and δ = 8, σ = 0,
 * sigmoid, no positive fraction, samples normaliser. REG_INVALID_ARGUMENT for NULL. */
int reg_task_settings_init(reg_task_settings *settings);

/* The defaults of both tasks, λ = 1, element validation on, no memory budget. */
int reg_step_settings_init(reg_step_settings *settings);

/* One training step: L_total = L_det + λ·L_seg and its gradients (docs/usage.md "The step").
 * detection or segmentation may be NULL (that task is absent); settings NULL: the defaults.
 * Distances (point-to-box, per-class EDT) are computed inside the step when a task's refinement is
 * on. The detection gradient is ∂L_det/∂z, the segmentation gradient λ·∂L_seg/∂z. Errors name the
 * arguments as `reg step` does: det_logits, det_targets, det_points, det_boxes, det_sigma,
 * seg_logits, seg_labels, seg_sigma, det_logits_grad, seg_logits_grad, det_sigma_grad,
 * seg_sigma_grad, det_alpha, det_gamma, …, lambda. */
int reg_step(reg_engine *engine, const reg_detection_batch *detection, const reg_segmentation_batch *segmentation,
             const reg_step_settings *settings, const reg_step_gradients *gradients, reg_step_result *result,
             char *message, size_t capacity);

/* reg_step with float32 or float16 logits, targets, σ maps and gradients (minor version 1): the
 * same step, the same argument names in messages (a bad dtype is named too, e.g. "invalid argument
 * det_logits: has dtype 7; expected REG_FLOAT32 (0) or REG_FLOAT16 (1)"). float16 arrays are read
 * in place and uploaded to a device as float16 (half the bytes); float16 gradients are written by
 * the device as float16 and read straight into the caller's buffers. */
int reg_step_typed(reg_engine *engine, const reg_detection_batch_typed *detection,
                   const reg_segmentation_batch_typed *segmentation, const reg_step_settings *settings,
                   const reg_step_gradients_typed *gradients, reg_step_result *result, char *message,
                   size_t capacity);

/* The focal loss of detection logits [samples, classes] (sigmoid) with targets in [0, 1].
 * distances: [samples, classes] distances d for g = σ(β(d − δ)), required when
 * settings->refinement is on and refused when it is off (the step computes distances itself; this
 * call takes them). sigma: a σ map like the logits, or absent (then settings->sigma, when not 0,
 * is one σ for every logit). settings NULL: the defaults with refinement off. gradient: ∂L/∂z,
 * required, samples × classes values. element_loss: required under REG_REDUCTION_NONE and refused
 * otherwise. sigma_gradient: ∂L/∂σ per element, written when there is a σ map and it is given.
 * Arguments are named logits, targets, distances, sigma, gradient, element_loss, sigma_gradient,
 * alpha, gamma, … in messages. Copies its inputs once (see Copies above). */
int reg_focal_loss_detection(reg_engine *engine, reg_floats logits, reg_floats targets, size_t samples,
                             size_t classes, reg_floats distances, reg_floats sigma,
                             const reg_task_settings *settings, int32_t reduction, reg_floats_mut gradient,
                             reg_floats_mut element_loss, reg_floats_mut sigma_gradient, reg_focal_result *result,
                             char *message, size_t capacity);

/* The focal loss of segmentation logits [batch, classes, height, width] (NCHW) with labels
 * [batch, height, width] (0 background, 1…classes, 255 ignore: no loss, gradient 0); sigmoid or
 * softmax. Otherwise as reg_focal_loss_detection, every per-element array laid out like the
 * logits. */
int reg_focal_loss_segmentation(reg_engine *engine, reg_floats logits, reg_labels labels, size_t batch,
                                size_t classes, size_t height, size_t width, reg_floats distances, reg_floats sigma,
                                const reg_task_settings *settings, int32_t reduction, reg_floats_mut gradient,
                                reg_floats_mut element_loss, reg_floats_mut sigma_gradient, reg_focal_result *result,
                                char *message, size_t capacity);

/* reg_focal_loss_detection and _segmentation with float32 or float16 logits, targets, gradient and
 * sigma_gradient (minor version 1; distances, the σ map and element_loss stay float32). float16
 * gradients are rounded to nearest even; sigma_gradient, when given, has the gradient's dtype.
 * Copies its inputs once, like the float32 calls. */
int reg_focal_loss_detection_typed(reg_engine *engine, reg_tensor logits, reg_tensor targets, size_t samples,
                                   size_t classes, reg_floats distances, reg_floats sigma,
                                   const reg_task_settings *settings, int32_t reduction, reg_tensor_mut gradient,
                                   reg_floats_mut element_loss, reg_tensor_mut sigma_gradient,
                                   reg_focal_result *result, char *message, size_t capacity);

int reg_focal_loss_segmentation_typed(reg_engine *engine, reg_tensor logits, reg_labels labels, size_t batch,
                                      size_t classes, size_t height, size_t width, reg_floats distances,
                                      reg_floats sigma, const reg_task_settings *settings, int32_t reduction,
                                      reg_tensor_mut gradient, reg_floats_mut element_loss,
                                      reg_tensor_mut sigma_gradient, reg_focal_result *result, char *message,
                                      size_t capacity);

/* The exact per-class Euclidean distance transform of label maps [batch, height, width] (0
 * background, 1…classes, 255 ignore) into distances [batch, classes, height, width]: channel k is
 * the distance to the nearest pixel of class k + 1 in the same image (0 on it, +inf over the map
 * when the image has none). spacing_y, spacing_x: a pixel's size (1, 1 for pixels; in
 * [1e-12, 1e12]); squared nonzero: squared distances. backend: REG_BACKEND_* when not NULL. */
int reg_distance_transform(reg_engine *engine, reg_labels labels, size_t batch, size_t height, size_t width,
                           size_t classes, float spacing_y, float spacing_x, int32_t squared,
                           reg_floats_mut distances, int32_t *backend, char *message, size_t capacity);

/* Distances from points [N, 3] (rows image, x, y) to the nearest box of each class in the point's
 * image, boxes [M, 6] (rows image, class 1…classes, x1, y1, x2, y2; M may be 0), into distances
 * [N, classes]: 0 inside or on a box, +inf when the image has no box of the class. Images are
 * whole numbers >= 0. */
int reg_box_distances(reg_engine *engine, reg_floats points, reg_floats boxes, size_t classes,
                      reg_floats_mut distances, int32_t *backend, char *message, size_t capacity);

/* g = σ(β(d − δ)) for every distance (+inf allowed; NaN is REG_INVALID_ARGUMENT naming the
 * element) into weights (as many values as distances). */
int reg_refine(reg_engine *engine, reg_floats distances, float beta, float delta, reg_floats_mut weights,
               int32_t *backend, char *message, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif /* REG_H */
