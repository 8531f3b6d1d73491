// The OpenCL C sources of Kernels/*.cl, embedded into the binary at build time, so that a release
// binary copied anywhere still finds its kernels (SwiftPM resources do not survive a move on Linux).
#ifndef REG_KERNELS_H
#define REG_KERNELS_H
#include <stddef.h>

typedef struct {
    const char *name;   ///< file name without ".cl", e.g. "refinement"
    const char *source; ///< NUL-terminated OpenCL C source
    size_t length;      ///< bytes, without the terminating NUL
} reg_kernel_file;

/// All embedded kernel files; `count` receives their number.
const reg_kernel_file *reg_kernel_files(size_t *count);

#endif
