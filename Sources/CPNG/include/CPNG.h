// PNG encoding through libpng (a maintained encoder), opened at run time with dlopen like the
// OpenCL loader: a `reg` binary starts on a machine without libpng and only its pictures are
// unavailable there. Builds against Debian's libpng-dev headers.
#ifndef REG_CPNG_H
#define REG_CPNG_H

#include <stddef.h>

// Encodes `height` rows of `width` pixels of `channels` (1 gray, 3 RGB) 8-bit samples into a PNG
// held in *out (malloc'ed; the caller frees it), its size in *out_size. Returns 0, or -1 with a
// message in `message` (libpng not found, or its error).
int regpng_encode(const unsigned char *pixels, int width, int height, int channels,
                  unsigned char **out, size_t *out_size, char *message, size_t capacity);

#endif
