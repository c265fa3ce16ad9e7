// backend_cuda.cu - CUDA device query. The CUDA kernels arrive with issue 7; until
// then a CUDA build can only report the devices it sees.
#include <cuda_runtime.h>

extern "C" int tl_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess)
        return 0;
    return n;
}
