/* scan_options.c - the [input] section of a configuration as tl_scan_options.
 *
 * Declared in io/scan.h; defined here because io/ does not depend on config/
 * (tl_io links tl_pipeline only), while every command that reads a scan is in cli/.
 */
#include "config.h"
#include "scan.h"

void tl_scan_options_from_config(const struct tl_config *cfg, tl_scan_options *opt)
{
    /* Empty strings mean "not given", which tl_scan_open_with() understands. */
    *opt = (tl_scan_options){
        .data_path = cfg->data_path,
        .image_key_path = cfg->image_key_path,
        .angles_path = cfg->angles_path,
        .flat_file = cfg->flat_file_name,
        .dark_file = cfg->dark_file_name,
        .start_angle = cfg->start_angle,
        .angle_step = cfg->angle_step,
    };
}
