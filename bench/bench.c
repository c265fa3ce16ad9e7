int tl_bench_placeholder;
