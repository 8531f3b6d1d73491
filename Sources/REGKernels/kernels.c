// Embeds Kernels/*.cl with C23 #embed. Add one array and one table row per kernel file.
#include "REGKernels.h"

// #embed is C23; clang accepts it in every C mode, so no -std flag (unsafe for dependents) is needed.
#pragma clang diagnostic ignored "-Wc23-extensions"

// Shared device helpers (numerically stable sigmoid and softplus), prepended to every program.
static const char common_cl[] = {
#embed "../../Kernels/common.cl"
    , 0};
static const char refinement_cl[] = {
#embed "../../Kernels/refinement.cl"
    , 0};
static const char vector_cl[] = {
#embed "../../Kernels/vector.cl"
    , 0};
static const char focal_loss_cl[] = {
#embed "../../Kernels/focal_loss.cl"
    , 0};
static const char distance_transform_cl[] = {
#embed "../../Kernels/distance_transform.cl"
    , 0};
static const char box_distance_cl[] = {
#embed "../../Kernels/box_distance.cl"
    , 0};

#define REG_KERNEL_FILE(name, array) {name, array, sizeof(array) - 1}

static const reg_kernel_file files[] = {
    REG_KERNEL_FILE("common", common_cl),
    REG_KERNEL_FILE("refinement", refinement_cl),
    REG_KERNEL_FILE("vector", vector_cl),
    REG_KERNEL_FILE("focal_loss", focal_loss_cl),
    REG_KERNEL_FILE("distance_transform", distance_transform_cl),
    REG_KERNEL_FILE("box_distance", box_distance_cl),
};

const reg_kernel_file *reg_kernel_files(size_t *count) {
    *count = sizeof files / sizeof files[0];
    return files;
}
