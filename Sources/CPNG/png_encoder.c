// regpng_encode: libpng's write path with every entry point looked up at run time.
#include "CPNG.h"

#include <dlfcn.h>
#include <png.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    png_structp (*create_write_struct)(png_const_charp, png_voidp, png_error_ptr, png_error_ptr);
    png_infop (*create_info_struct)(png_const_structrp);
    void (*destroy_write_struct)(png_structpp, png_infopp);
    jmp_buf *(*set_longjmp_fn)(png_structrp, png_longjmp_ptr, size_t);
    void (*set_write_fn)(png_structrp, png_voidp, png_rw_ptr, png_flush_ptr);
    png_voidp (*get_io_ptr)(png_const_structrp);
    png_voidp (*get_error_ptr)(png_const_structrp);
    void (*set_IHDR)(png_const_structrp, png_inforp, png_uint_32, png_uint_32, int, int, int, int, int);
    void (*write_info)(png_structrp, png_const_inforp);
    void (*write_row)(png_structrp, png_const_bytep);
    void (*write_end)(png_structrp, png_inforp);
} png;

static char load_failure[256];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void) {
    void *library = dlopen("libpng16.so.16", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(load_failure, sizeof load_failure, "libpng16.so.16 not found (%s)", dlerror());
        return;
    }
#define SYMBOL(field, name)                                                                        \
    if (!(*(void **)&png.field = dlsym(library, name))) {                                          \
        snprintf(load_failure, sizeof load_failure, "libpng16.so.16 lacks %s", name);              \
        return;                                                                                    \
    }
    SYMBOL(create_write_struct, "png_create_write_struct")
    SYMBOL(create_info_struct, "png_create_info_struct")
    SYMBOL(destroy_write_struct, "png_destroy_write_struct")
    SYMBOL(set_longjmp_fn, "png_set_longjmp_fn")
    SYMBOL(set_write_fn, "png_set_write_fn")
    SYMBOL(get_io_ptr, "png_get_io_ptr")
    SYMBOL(get_error_ptr, "png_get_error_ptr")
    SYMBOL(set_IHDR, "png_set_IHDR")
    SYMBOL(write_info, "png_write_info")
    SYMBOL(write_row, "png_write_row")
    SYMBOL(write_end, "png_write_end")
#undef SYMBOL
}

struct sink {
    unsigned char *bytes;
    size_t size, capacity;
    int failed;
};

static void append(png_structp writer, png_bytep data, size_t length) {
    struct sink *sink = png.get_io_ptr(writer);
    if (sink->size + length > sink->capacity) {
        size_t capacity = sink->capacity ? sink->capacity : 4096;
        while (capacity < sink->size + length) capacity *= 2;
        unsigned char *grown = realloc(sink->bytes, capacity);
        if (!grown) {
            sink->failed = 1;
            return;
        }
        sink->bytes = grown;
        sink->capacity = capacity;
    }
    memcpy(sink->bytes + sink->size, data, length);
    sink->size += length;
}

static void flush(png_structp writer) { (void)writer; }

struct failure {
    char *message;
    size_t capacity;
};

// libpng's errors: keep the text, then return to the setjmp of regpng_encode.
static void on_error(png_structp writer, png_const_charp text) {
    struct failure *failure = png.get_error_ptr(writer);
    snprintf(failure->message, failure->capacity, "libpng: %s", text);
    longjmp(*png.set_longjmp_fn(writer, longjmp, sizeof(jmp_buf)), 1);
}

static void on_warning(png_structp writer, png_const_charp text) { (void)writer, (void)text; }

int regpng_encode(const unsigned char *pixels, int width, int height, int channels,
                  unsigned char **out, size_t *out_size, char *message, size_t capacity) {
    pthread_once(&load_once, load);
    if (load_failure[0]) {
        snprintf(message, capacity, "%s", load_failure);
        return -1;
    }
    if (width <= 0 || height <= 0 || (channels != 1 && channels != 3)) {
        snprintf(message, capacity, "a PNG needs a positive size and 1 or 3 channels");
        return -1;
    }
    struct failure failure = {message, capacity};
    png_structp writer = png.create_write_struct(PNG_LIBPNG_VER_STRING, &failure, on_error, on_warning);
    png_infop info = writer ? png.create_info_struct(writer) : NULL;
    if (!info) {
        snprintf(message, capacity, "libpng could not allocate its writer");
        png.destroy_write_struct(&writer, NULL);
        return -1;
    }
    struct sink sink = {0};
    // volatile: read after a longjmp back here.
    volatile int status = -1;
    if (setjmp(*png.set_longjmp_fn(writer, longjmp, sizeof(jmp_buf))) == 0) {
        png.set_write_fn(writer, &sink, append, flush);
        png.set_IHDR(writer, info, (png_uint_32)width, (png_uint_32)height, 8,
                     channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png.write_info(writer, info);
        for (int y = 0; y < height; ++y) png.write_row(writer, pixels + (size_t)y * width * channels);
        png.write_end(writer, NULL);
        status = sink.failed ? -1 : 0;
        if (sink.failed) snprintf(message, capacity, "out of memory while encoding a PNG");
    }
    png.destroy_write_struct(&writer, &info);
    if (status != 0) {
        free(sink.bytes);
        return -1;
    }
    *out = sink.bytes;
    *out_size = sink.size;
    return 0;
}
