#include "backend.h"

#include <string.h>

#include "log.h"

#ifndef TOMOLINE_HAVE_CUDA
int tl_cuda_device_count(void) { return 0; }
#endif

const char *tl_backends_compiled(void)
{
#ifdef TOMOLINE_HAVE_CUDA
    return "cpu (FFTW3), cuda (device query only; CUDA kernels are not built yet)";
#else
    return "cpu (FFTW3)";
#endif
}

const char *tl_backend_name(tl_backend backend) { return backend == TL_BACKEND_CUDA ? "cuda" : "cpu"; }

tl_status tl_backend_resolve(const char *name, tl_backend *out, tl_error *err)
{
    *out = TL_BACKEND_CPU;
    if (!name || strcmp(name, "auto") == 0) {
#ifdef TOMOLINE_HAVE_CUDA
        if (tl_cuda_device_count() > 0)
            tl_log_info("a CUDA device is present but the CUDA kernels are not built yet; using the CPU");
#endif
        return TL_OK;
    }
    if (strcmp(name, "cpu") == 0)
        return TL_OK;
    if (strcmp(name, "cuda") == 0) {
#ifdef TOMOLINE_HAVE_CUDA
        return tl_error_set(err, TL_ERR_UNSUPPORTED,
                            "--backend cuda: the CUDA kernels are not built yet (this build only queries "
                            "devices: %d found); use --backend cpu or auto",
                            tl_cuda_device_count());
#else
        return tl_error_set(err, TL_ERR_UNSUPPORTED,
                            "--backend cuda: this build has no CUDA backend (configure with "
                            "-DTOMOLINE_CUDA=ON); use --backend cpu or auto");
#endif
    }
    return tl_error_set(err, TL_ERR_INVALID, "--backend: '%s' is not one of auto, cpu, cuda", name);
}
