/* preview.c - `tomoline preview`: an 8-bit PNG of one slice of a volume. */
#include <math.h>
#include <stdio.h>

#include "cli.h"
#include "preview.h"

static const tl_cli_command preview_command = {
    .name = "preview",
    .mask = TL_CMD_PREVIEW,
    .usage = "preview VOLUME [-o SLICE.png] [--slice K] [--axis z|y|x] [--clip-percent P] [--overwrite]",
    .summary = "Write an 8-bit PNG of one slice of a volume, with robust contrast.",
    .description =
        "VOLUME is a volume written by tomoline: a NeXus/HDF5 file (/entry/data/data [z, y, x]) or a\n"
        "directory of TIFF slices (--save-format tiff). Only the slice shown is read. The grey levels\n"
        "0 and 255 are the --clip-percent and 100 - --clip-percent percentiles of the slice's finite\n"
        "values, so a few extreme pixels cannot wash the image out; NaN is black.\n"
        "A z slice is shown with y down the rows; y and x slices have z down the rows.\n"
        "The PNG goes to -o (default: VOLUME without extension + _z0128.png, after the axis and\n"
        "slice), written as NAME.partial and renamed when complete.\n\n"
        "example:\n"
        "  tomoline preview scan_rec.nxs -o slice.png --axis y --slice 300",
    .max_positional = 1,
};

int tl_cmd_preview(int argc, char **argv)
{
    tl_config cfg;
    const char *positional[1];
    int n_positional = 0, code = 0;
    if (!tl_cli_parse(&preview_command, argc, argv, &cfg, positional, &n_positional, &code))
        return code;
    if (n_positional != 1) {
        fprintf(stderr, "tomoline: error: preview needs one VOLUME (usage: tomoline %s)\n", preview_command.usage);
        return 2;
    }
    tl_error err = {0};
    tl_preview_result res;
    if (tl_preview_volume_ex(positional[0], cfg.axis[0], cfg.slice, cfg.clip_percent,
                             cfg.out_path_name[0] ? cfg.out_path_name : NULL, (int)cfg.overwrite, &res,
                             &err) != TL_OK)
        return tl_cli_fail(&err);
    if (res.n_finite == 0)
        printf("tomoline preview: wrote %s: slice %zu of %zu along %c (%zu x %zu pixels); the slice holds no finite "
               "value, so the image is black\n",
               res.png_path, res.index, res.n_along, res.axis, res.width, res.height);
    else
        printf("tomoline preview: wrote %s: slice %zu of %zu along %c (%zu x %zu pixels); grey 0..255 = values "
               "%.6g .. %.6g (%g%% clipped at each end)\n",
               res.png_path, res.index, res.n_along, res.axis, res.width, res.height, res.lo, res.hi, cfg.clip_percent);
    return 0;
}
