// OpenCL entry points for REG, resolved at run time from libOpenCL.so.1.
//
// The package never links libOpenCL: a binary must start, and fall back to the CPU reference, on a
// machine without an OpenCL loader. Swift calls the `regcl*` wrappers below; each returns
// REGCL_LIBRARY_NOT_LOADED (or sets it through errcode_ret) until `regcl_load` has succeeded.
#ifndef REG_COPENCL_H
#define REG_COPENCL_H

// Must be defined here, in the header the module map names: a -D in cSettings does not reach
// Swift's import of the OpenCL headers.
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Returned by every wrapper while libOpenCL.so.1 is not loaded. Outside OpenCL's own code range.
#define REGCL_LIBRARY_NOT_LOADED (-9999)

/// Loads libOpenCL.so.1 (or the file named by REG_OPENCL_LIBRARY) and resolves every entry point.
/// Returns 0 on success. On failure writes a reason into `message` and returns non-zero.
/// Safe to call repeatedly and from several threads; the first outcome is kept.
int regcl_load(char *message, size_t capacity);

/// The symbolic name of an OpenCL error code ("CL_INVALID_VALUE"), or "UNKNOWN_OPENCL_ERROR".
const char *regcl_error_name(cl_int code);

cl_int regclGetPlatformIDs(cl_uint num_entries, cl_platform_id *platforms, cl_uint *num_platforms);
cl_int regclGetPlatformInfo(cl_platform_id platform, cl_platform_info name, size_t size, void *value,
                            size_t *size_ret);
cl_int regclGetDeviceIDs(cl_platform_id platform, cl_device_type type, cl_uint num_entries,
                         cl_device_id *devices, cl_uint *num_devices);
cl_int regclGetDeviceInfo(cl_device_id device, cl_device_info name, size_t size, void *value,
                          size_t *size_ret);
cl_context regclCreateContext(cl_device_id device, cl_int *errcode_ret);
cl_int regclReleaseContext(cl_context context);
cl_command_queue regclCreateCommandQueue(cl_context context, cl_device_id device,
                                         cl_command_queue_properties properties, cl_int *errcode_ret);
cl_int regclReleaseCommandQueue(cl_command_queue queue);
cl_program regclCreateProgramWithSource(cl_context context, const char *source, size_t length,
                                        cl_int *errcode_ret);
cl_int regclBuildProgram(cl_program program, cl_device_id device, const char *options);
cl_int regclGetProgramBuildInfo(cl_program program, cl_device_id device, cl_program_build_info name,
                                size_t size, void *value, size_t *size_ret);
cl_int regclReleaseProgram(cl_program program);
cl_kernel regclCreateKernel(cl_program program, const char *name, cl_int *errcode_ret);
cl_int regclReleaseKernel(cl_kernel kernel);
cl_int regclSetKernelArg(cl_kernel kernel, cl_uint index, size_t size, const void *value);
cl_int regclGetKernelWorkGroupInfo(cl_kernel kernel, cl_device_id device,
                                   cl_kernel_work_group_info name, size_t size, void *value,
                                   size_t *size_ret);
cl_mem regclCreateBuffer(cl_context context, cl_mem_flags flags, size_t size, cl_int *errcode_ret);
cl_int regclReleaseMemObject(cl_mem memory);
cl_int regclEnqueueWriteBuffer(cl_command_queue queue, cl_mem buffer, cl_bool blocking, size_t offset,
                               size_t size, const void *source, cl_event *event);
cl_int regclEnqueueReadBuffer(cl_command_queue queue, cl_mem buffer, cl_bool blocking, size_t offset,
                              size_t size, void *destination, cl_event *event);
cl_int regclEnqueueCopyBuffer(cl_command_queue queue, cl_mem source, cl_mem destination,
                              size_t source_offset, size_t destination_offset, size_t size,
                              cl_event *event);
cl_int regclEnqueueFillBuffer(cl_command_queue queue, cl_mem buffer, const void *pattern,
                              size_t pattern_size, size_t offset, size_t size, cl_event *event);
/// Launches `kernel` over `dimensions` (1…3) sizes; `local` may be NULL to let the driver choose.
cl_int regclEnqueueNDRangeKernel(cl_command_queue queue, cl_kernel kernel, cl_uint dimensions,
                                 const size_t *global, const size_t *local, cl_event *event);
cl_int regclFinish(cl_command_queue queue);
cl_int regclWaitForEvent(cl_event event);
cl_int regclGetEventProfilingInfo(cl_event event, cl_profiling_info name, size_t size, void *value,
                                  size_t *size_ret);
cl_int regclReleaseEvent(cl_event event);

#ifdef __cplusplus
}
#endif
#endif
