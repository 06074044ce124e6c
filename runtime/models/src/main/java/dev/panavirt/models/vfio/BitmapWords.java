package dev.panavirt.models.vfio;

import dev.panavirt.base.ErrnoException;

/**
 * A caller's dirty bitmap as the kernel reaches it: u64 words, word {@code i} at byte {@code 8*i} of the
 * user buffer ({@code drivers/vfio/vfio_iommu_type1.c}, {@code update_user_bitmap}, which reads one word back
 * and writes whole words). Implementations write into whatever the caller owns (a native segment, a
 * {@code long[]}) and should allocate nothing.
 */
public interface BitmapWords {

    /**
     * The word at {@code index}.
     *
     * @throws ErrnoException {@code EFAULT} if the word lies outside the caller's buffer
     */
    long read(long index) throws ErrnoException;

    /**
     * Stores {@code value} at word {@code index}.
     *
     * @throws ErrnoException {@code EFAULT} if the word lies outside the caller's buffer
     */
    void write(long index, long value) throws ErrnoException;

    /**
     * Stores {@code value} at the {@code count} words from {@code index}, as {@link #write} of each in turn (so a
     * fault leaves the words before it written). The model calls it for runs of all-clear and all-set words;
     * implementations over native memory override it with a bulk fill.
     *
     * @throws ErrnoException {@code EFAULT} at the first word outside the caller's buffer
     */
    default void fill(long index, long count, long value) throws ErrnoException {
        for (long i = 0; i < count; i++) {
            write(index + i, value);
        }
    }

    /** A bitmap over {@code words}, faulting outside it. */
    static BitmapWords of(long[] words) {
        return new BitmapWords() {
            @Override
            public long read(long index) throws ErrnoException {
                return words[check(index)];
            }

            @Override
            public void write(long index, long value) throws ErrnoException {
                words[check(index)] = value;
            }

            private int check(long index) throws ErrnoException {
                if (index < 0 || index >= words.length) {
                    throw new ErrnoException("copy_to_user", dev.panavirt.base.Errno.EFAULT,
                            "bitmap word " + index + " outside the " + words.length + "-word buffer");
                }
                return (int) index;
            }
        };
    }
}
