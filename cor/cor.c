/* placeholder, replaced by the cor module */
int tl_cor_placeholder;
