/* Weak defaults for what a test kernel may leave out (a separate file, so the kernel's own wins). */
#define LAPIC_EOI ((volatile unsigned int *) 0xfee000b0u)

__attribute__((weak)) void ap_main(void)
{
    for (;;)
        asm volatile("cli; hlt");
}

__attribute__((weak)) void timer_interrupt(void)
{
    *LAPIC_EOI = 0;
}
