/* cor_cnn.c - placeholder until the method lands. */
#include "cor_methods.h"

tl_status tl_cor_cnn(const tl_cor_sinograms *in, double lo, double hi, tl_workers *workers, tl_cor_estimate *est,
                    tl_error *err)
{
    (void)in; (void)lo; (void)hi; (void)workers;
    est->found = 0;
    return tl_error_set(err, TL_ERR_UNSUPPORTED, "centre search: cnn is not built yet");
}
