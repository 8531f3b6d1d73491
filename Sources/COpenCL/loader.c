// Run-time binding of the OpenCL entry points REG uses (see COpenCL.h for why).
#include "COpenCL.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Every entry point the project calls: return type, name, parameter list, argument list.
#define REGCL_ENTRY_POINTS(X)                                                                        \
    X(cl_int, clGetPlatformIDs, (cl_uint a, cl_platform_id *b, cl_uint *c))                         \
    X(cl_int, clGetPlatformInfo, (cl_platform_id a, cl_platform_info b, size_t c, void *d,          \
                                  size_t *e))                                                      \
    X(cl_int, clGetDeviceIDs, (cl_platform_id a, cl_device_type b, cl_uint c, cl_device_id *d,     \
                               cl_uint *e))                                                        \
    X(cl_int, clGetDeviceInfo, (cl_device_id a, cl_device_info b, size_t c, void *d, size_t *e))    \
    X(cl_context, clCreateContext, (const cl_context_properties *a, cl_uint b,                      \
                                    const cl_device_id *c,                                          \
                                    void (*d)(const char *, const void *, size_t, void *), void *e, \
                                    cl_int *f))                                                     \
    X(cl_int, clReleaseContext, (cl_context a))                                                     \
    X(cl_command_queue, clCreateCommandQueue, (cl_context a, cl_device_id b,                        \
                                               cl_command_queue_properties c, cl_int *d))           \
    X(cl_int, clReleaseCommandQueue, (cl_command_queue a))                                          \
    X(cl_program, clCreateProgramWithSource, (cl_context a, cl_uint b, const char **c,              \
                                              const size_t *d, cl_int *e))                          \
    X(cl_int, clBuildProgram, (cl_program a, cl_uint b, const cl_device_id *c, const char *d,       \
                               void (*e)(cl_program, void *), void *f))                             \
    X(cl_int, clGetProgramBuildInfo, (cl_program a, cl_device_id b, cl_program_build_info c,        \
                                      size_t d, void *e, size_t *f))                                \
    X(cl_int, clReleaseProgram, (cl_program a))                                                     \
    X(cl_kernel, clCreateKernel, (cl_program a, const char *b, cl_int *c))                          \
    X(cl_int, clReleaseKernel, (cl_kernel a))                                                       \
    X(cl_int, clSetKernelArg, (cl_kernel a, cl_uint b, size_t c, const void *d))                    \
    X(cl_int, clGetKernelWorkGroupInfo, (cl_kernel a, cl_device_id b, cl_kernel_work_group_info c,  \
                                         size_t d, void *e, size_t *f))                             \
    X(cl_mem, clCreateBuffer, (cl_context a, cl_mem_flags b, size_t c, void *d, cl_int *e))         \
    X(cl_int, clReleaseMemObject, (cl_mem a))                                                       \
    X(cl_int, clEnqueueWriteBuffer, (cl_command_queue a, cl_mem b, cl_bool c, size_t d, size_t e,   \
                                     const void *f, cl_uint g, const cl_event *h, cl_event *i))     \
    X(cl_int, clEnqueueReadBuffer, (cl_command_queue a, cl_mem b, cl_bool c, size_t d, size_t e,    \
                                    void *f, cl_uint g, const cl_event *h, cl_event *i))            \
    X(cl_int, clEnqueueCopyBuffer, (cl_command_queue a, cl_mem b, cl_mem c, size_t d, size_t e,     \
                                    size_t f, cl_uint g, const cl_event *h, cl_event *i))           \
    X(cl_int, clEnqueueFillBuffer, (cl_command_queue a, cl_mem b, const void *c, size_t d,          \
                                    size_t e, size_t f, cl_uint g, const cl_event *h, cl_event *i)) \
    X(cl_int, clEnqueueNDRangeKernel, (cl_command_queue a, cl_kernel b, cl_uint c, const size_t *d, \
                                       const size_t *e, const size_t *f, cl_uint g,                 \
                                       const cl_event *h, cl_event *i))                             \
    X(cl_int, clFinish, (cl_command_queue a))                                                       \
    X(cl_int, clWaitForEvents, (cl_uint a, const cl_event *b))                                      \
    X(cl_int, clGetEventProfilingInfo, (cl_event a, cl_profiling_info b, size_t c, void *d,         \
                                        size_t *e))                                                 \
    X(cl_int, clReleaseEvent, (cl_event a))

#define REGCL_DECLARE_POINTER(ret, name, params) static ret(*p_##name) params = NULL;
REGCL_ENTRY_POINTS(REGCL_DECLARE_POINTER)

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_status = -1;
static char load_message[512] = "libOpenCL.so.1 has not been loaded";

static void load_library(void) {
    const char *path = getenv("REG_OPENCL_LIBRARY");
    if (path == NULL || path[0] == '\0') path = "libOpenCL.so.1";
    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        const char *reason = dlerror();
        snprintf(load_message, sizeof load_message, "cannot load %s: %s", path,
                 reason ? reason : "unknown dlopen error");
        return;
    }
#define REGCL_RESOLVE(ret, name, params)                                                            \
    *(void **)(&p_##name) = dlsym(library, #name);                                                  \
    if (p_##name == NULL) {                                                                         \
        snprintf(load_message, sizeof load_message, "%s has no entry point %s", path, #name);      \
        return;                                                                                     \
    }
    REGCL_ENTRY_POINTS(REGCL_RESOLVE)
    load_status = 0;
    load_message[0] = '\0';
}

int regcl_load(char *message, size_t capacity) {
    pthread_once(&load_once, load_library);
    if (message != NULL && capacity > 0) {
        strncpy(message, load_message, capacity - 1);
        message[capacity - 1] = '\0';
    }
    return load_status;
}

#define REGCL_LOADED_OR_RETURN(value)                                                               \
    if (load_status != 0) return (value)
#define REGCL_LOADED_OR_FAIL(errcode_ret)                                                           \
    if (load_status != 0) {                                                                         \
        if (errcode_ret) *(errcode_ret) = REGCL_LIBRARY_NOT_LOADED;                                 \
        return NULL;                                                                                \
    }

cl_int regclGetPlatformIDs(cl_uint n, cl_platform_id *platforms, cl_uint *count) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clGetPlatformIDs(n, platforms, count);
}
cl_int regclGetPlatformInfo(cl_platform_id p, cl_platform_info name, size_t size, void *value,
                            size_t *size_ret) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clGetPlatformInfo(p, name, size, value, size_ret);
}
cl_int regclGetDeviceIDs(cl_platform_id p, cl_device_type type, cl_uint n, cl_device_id *devices,
                         cl_uint *count) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clGetDeviceIDs(p, type, n, devices, count);
}
cl_int regclGetDeviceInfo(cl_device_id d, cl_device_info name, size_t size, void *value,
                          size_t *size_ret) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clGetDeviceInfo(d, name, size, value, size_ret);
}
cl_context regclCreateContext(cl_device_id device, cl_int *errcode_ret) {
    REGCL_LOADED_OR_FAIL(errcode_ret);
    return p_clCreateContext(NULL, 1, &device, NULL, NULL, errcode_ret);
}
cl_int regclReleaseContext(cl_context c) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clReleaseContext(c);
}
cl_command_queue regclCreateCommandQueue(cl_context c, cl_device_id d,
                                         cl_command_queue_properties properties, cl_int *errcode_ret) {
    REGCL_LOADED_OR_FAIL(errcode_ret);
    return p_clCreateCommandQueue(c, d, properties, errcode_ret);
}
cl_int regclReleaseCommandQueue(cl_command_queue q) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clReleaseCommandQueue(q);
}
cl_program regclCreateProgramWithSource(cl_context c, const char *source, size_t length,
                                        cl_int *errcode_ret) {
    REGCL_LOADED_OR_FAIL(errcode_ret);
    return p_clCreateProgramWithSource(c, 1, &source, &length, errcode_ret);
}
cl_int regclBuildProgram(cl_program p, cl_device_id device, const char *options) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clBuildProgram(p, 1, &device, options, NULL, NULL);
}
cl_int regclGetProgramBuildInfo(cl_program p, cl_device_id d, cl_program_build_info name, size_t size,
                                void *value, size_t *size_ret) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clGetProgramBuildInfo(p, d, name, size, value, size_ret);
}
cl_int regclReleaseProgram(cl_program p) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clReleaseProgram(p);
}
cl_kernel regclCreateKernel(cl_program p, const char *name, cl_int *errcode_ret) {
    REGCL_LOADED_OR_FAIL(errcode_ret);
    return p_clCreateKernel(p, name, errcode_ret);
}
cl_int regclReleaseKernel(cl_kernel k) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clReleaseKernel(k);
}
cl_int regclSetKernelArg(cl_kernel k, cl_uint index, size_t size, const void *value) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clSetKernelArg(k, index, size, value);
}
cl_int regclGetKernelWorkGroupInfo(cl_kernel k, cl_device_id d, cl_kernel_work_group_info name,
                                   size_t size, void *value, size_t *size_ret) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clGetKernelWorkGroupInfo(k, d, name, size, value, size_ret);
}
cl_mem regclCreateBuffer(cl_context c, cl_mem_flags flags, size_t size, cl_int *errcode_ret) {
    REGCL_LOADED_OR_FAIL(errcode_ret);
    return p_clCreateBuffer(c, flags, size, NULL, errcode_ret);
}
cl_int regclReleaseMemObject(cl_mem m) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clReleaseMemObject(m);
}
cl_int regclEnqueueWriteBuffer(cl_command_queue q, cl_mem b, cl_bool blocking, size_t offset,
                               size_t size, const void *source, cl_event *event) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clEnqueueWriteBuffer(q, b, blocking, offset, size, source, 0, NULL, event);
}
cl_int regclEnqueueReadBuffer(cl_command_queue q, cl_mem b, cl_bool blocking, size_t offset,
                              size_t size, void *destination, cl_event *event) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clEnqueueReadBuffer(q, b, blocking, offset, size, destination, 0, NULL, event);
}
cl_int regclEnqueueCopyBuffer(cl_command_queue q, cl_mem source, cl_mem destination,
                              size_t source_offset, size_t destination_offset, size_t size,
                              cl_event *event) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clEnqueueCopyBuffer(q, source, destination, source_offset, destination_offset, size, 0,
                                 NULL, event);
}
cl_int regclEnqueueFillBuffer(cl_command_queue q, cl_mem b, const void *pattern, size_t pattern_size,
                              size_t offset, size_t size, cl_event *event) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clEnqueueFillBuffer(q, b, pattern, pattern_size, offset, size, 0, NULL, event);
}
cl_int regclEnqueueNDRangeKernel(cl_command_queue q, cl_kernel k, cl_uint dimensions,
                                 const size_t *global, const size_t *local, cl_event *event) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clEnqueueNDRangeKernel(q, k, dimensions, NULL, global, local, 0, NULL, event);
}
cl_int regclFinish(cl_command_queue q) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clFinish(q);
}
cl_int regclWaitForEvent(cl_event e) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clWaitForEvents(1, &e);
}
cl_int regclGetEventProfilingInfo(cl_event e, cl_profiling_info name, size_t size, void *value,
                                  size_t *size_ret) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clGetEventProfilingInfo(e, name, size, value, size_ret);
}
cl_int regclReleaseEvent(cl_event e) {
    REGCL_LOADED_OR_RETURN(REGCL_LIBRARY_NOT_LOADED);
    return p_clReleaseEvent(e);
}
