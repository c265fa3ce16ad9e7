/* backend.h - which hardware runs the kernels.
 *
 * The backend is chosen once, when a plan is made (STYLE.md, practice 5): CPU
 * kernels use FFTW and threads; CUDA kernels (issue 7) will use cuFFT behind the
 * same plan interfaces. Asking for CUDA in a build without it is an error, never
 * a silent fallback.
 */
#ifndef TL_BACKEND_H
#define TL_BACKEND_H

#include "status.h"

typedef enum { TL_BACKEND_CPU = 0, TL_BACKEND_CUDA = 1 } tl_backend;

/* Resolve "auto", "cpu" or "cuda" to the backend that will run. "auto" picks CUDA
 * when it is compiled in, a device is present and its kernels exist; else CPU.
 * "cuda" fails with TL_ERR_UNSUPPORTED and a message saying why. */
tl_status tl_backend_resolve(const char *name, tl_backend *out, tl_error *err) TL_MUST_CHECK;
const char *tl_backend_name(tl_backend backend);

/* Backends compiled into this build, for --version: "cpu" or "cpu, cuda". */
const char *tl_backends_compiled(void);

/* Number of CUDA devices visible (0 without CUDA or without a device). */
int tl_cuda_device_count(void);

#endif
