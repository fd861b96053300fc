/*
 * MKL, linked into libtorch_cpu.so, asks mkl_serv_intel_cpu_true() whether it runs on an Intel processor and, when
 * not, takes its generic kernels whatever the processor's instruction set: on an AMD EPYC with AVX-512 (session 24),
 * float32 matrix products ran at 142–174 GFLOP/s instead of the 300–375 of its AVX-512 kernels. libtorch_cpu.so
 * calls the function through its procedure linkage table, so a library loaded before it (LD_PRELOAD) that defines it
 * answers instead. The kernels still check the instruction set themselves; this only lifts the vendor test.
 */
int mkl_serv_intel_cpu_true(void)
{
    return 1;
}
