/* test_backend.c - choosing the backend; the GPU check runs only where a GPU is. */
#include <criterion/criterion.h>
#include <string.h>

#include "backend.h"

Test(backend, auto_and_cpu_resolve_to_a_working_backend)
{
    tl_backend b;
    tl_error err = {0};
    cr_assert_eq(tl_backend_resolve("cpu", &b, &err), TL_OK);
    cr_assert_eq(b, TL_BACKEND_CPU);
    cr_assert_eq(tl_backend_resolve("auto", &b, &err), TL_OK);
    /* until the CUDA kernels exist (issue 7), auto must not pick a backend that cannot run */
    cr_assert_eq(b, TL_BACKEND_CPU);
    cr_assert_str_eq(tl_backend_name(b), "cpu");
    cr_assert_eq(tl_backend_resolve("opencl", &b, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "'opencl' is not one of auto, cpu, cuda"));
}

Test(backend, cuda_request_is_refused_with_the_reason)
{
    tl_backend b;
    tl_error err = {0};
    cr_assert_eq(tl_backend_resolve("cuda", &b, &err), TL_ERR_UNSUPPORTED);
#ifdef TOMOLINE_HAVE_CUDA
    cr_assert(strstr(err.message, "the CUDA kernels are not built yet"), "%s", err.message);
    cr_assert(strstr(tl_backends_compiled(), "cuda"));
#else
    cr_assert(strstr(err.message, "this build has no CUDA backend (configure with -DTOMOLINE_CUDA=ON)"), "%s",
              err.message);
    cr_assert_eq(tl_cuda_device_count(), 0);
    cr_assert_str_eq(tl_backends_compiled(), "cpu (FFTW3)");
#endif
}

Test(backend, gpu_device_is_visible_in_a_cuda_build)
{
#ifndef TOMOLINE_HAVE_CUDA
    cr_skip_test("needs a CUDA build (-DTOMOLINE_CUDA=ON)");
#else
    if (tl_cuda_device_count() == 0)
        cr_skip_test("no CUDA device present on this machine");
    cr_assert_gt(tl_cuda_device_count(), 0);
#endif
}
