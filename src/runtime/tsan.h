/*
 * ThreadSanitizer annotations. ck's ring publishes slots with inline assembly that TSan cannot
 * see, so a message handed through a ring would look like a data race between the producer's
 * writes and the consumer's reads. The mailbox marks the hand-off explicitly instead.
 */
#ifndef FLUXBOT_RT_TSAN_H
#define FLUXBOT_RT_TSAN_H

#ifdef FLUXBOT_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
void AnnotateIgnoreWritesBegin(const char *file, int line);
void AnnotateIgnoreWritesEnd(const char *file, int line);
#define RT_TSAN_RELEASE(p) __tsan_release((void *)(p))
#define RT_TSAN_ACQUIRE(p) __tsan_acquire((void *)(p))
/* Around ck ring calls: the slot copies are ordered by ck's own (invisible) barriers; the
 * message itself is ordered by the RELEASE before enqueue / ACQUIRE after dequeue. */
#define RT_TSAN_IGNORE_BEGIN()                                                                     \
    do {                                                                                           \
        AnnotateIgnoreReadsBegin(__FILE__, __LINE__);                                              \
        AnnotateIgnoreWritesBegin(__FILE__, __LINE__);                                             \
    } while (0)
#define RT_TSAN_IGNORE_END()                                                                       \
    do {                                                                                           \
        AnnotateIgnoreWritesEnd(__FILE__, __LINE__);                                               \
        AnnotateIgnoreReadsEnd(__FILE__, __LINE__);                                                \
    } while (0)
#else
#define RT_TSAN_RELEASE(p) ((void)(p))
#define RT_TSAN_ACQUIRE(p) ((void)(p))
#define RT_TSAN_IGNORE_BEGIN() ((void)0)
#define RT_TSAN_IGNORE_END() ((void)0)
#endif

#endif
